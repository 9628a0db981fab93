"""The benchmark harness: cvjobs on loopback against baselines measured in the same run.

It builds a demo catalogue (SQLite or PostgreSQL), starts cvjobs (uvicorn or granian, one or
more workers), a framework floor (the same stack answering one pre-rendered body:
bench/floor_app.py) and a machine floor (nginx serving the same bytes as a static file),
drives every scenario with a load generator, and prints requests/s, p50 and p99 with the
ratio of each scenario to both floors. The load generator is wrk when it is installed
(bench/run installs it), else a keep-alive asyncio client; the table says which. It also
times bulk import and reports the server's memory. Absolute numbers depend on the machine;
the ratios are what to compare between runs.

`--load-test` is the soak instead: 1,000 concurrent keep-alive connections for 30 s on the
by-id and list routes, which must answer every request (any socket error, timeout or
non-200 fails the run), with the latencies that many clients see.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import base64
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AnyStr

import orjson

from cvjobs.service.auth import MAX_WAITING_PER_ADDRESS

HERE = Path(__file__).parent
PASSWORD = "bench-password-1"
API = "/commandcenter/api/"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    accept: str = "application/json"
    body: str = ""


@dataclass
class Result:
    rate: float
    p50_ms: float
    p99_ms: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


@contextmanager
def started(
    args: list[str],
    port: int,
    what: str,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    out = log.open("wb") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        args, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT
    )
    try:
        wait_for_port(port, process, what)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


# -- load generators -----------------------------------------------------------------


def _search(pattern: AnyStr, text: AnyStr) -> re.Match[AnyStr]:
    """re.search, where no match means a tool's output is not what the harness reads."""
    found = re.search(pattern, text)
    if found is None:
        raise RuntimeError(f"no {pattern!r} in {text[:2000]!r}")
    return found


def _unit_ms(text: str) -> float:
    number, unit = _search(r"\A([\d.]+)(us|ms|s)\Z", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    port: int,
    requests: list[Request],
    token: str,
    seconds: float,
    connections: int,
    workdir: Path,
    timeout_seconds: float = 10.0,
) -> Result:
    """wrk with a Lua script that cycles through the requests. Socket errors, timeouts and
    answers other than 2xx fail the run: a rate measured with errors means nothing."""
    lines = ["local requests = {}"]
    for i, r in enumerate(requests, 1):
        # wrk.format sends only the headers given: HTTP/1.1 needs Host (nginx insists).
        headers = f'{{["Host"] = "127.0.0.1", ["Authtoken"] = "{token}", ["Accept"] = "{r.accept}"'
        if r.body:
            headers += ', ["Content-Type"] = "application/json"'
        headers += "}"
        lines.append(
            f"requests[{i}] = wrk.format({json.dumps(r.method)}, {json.dumps(r.path)},"
            f" {headers}, {json.dumps(r.body) if r.body else 'nil'})"
        )
    lines += [
        "local n = 0",
        "request = function()",
        "  n = n % #requests + 1",
        "  return requests[n]",
        "end",
    ]
    script = workdir / "requests.lua"
    script.write_text("\n".join(lines) + "\n")
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(seconds, 1):.0f}s",
            f"--timeout={timeout_seconds:.0f}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rate = float(_search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if socket_errors:
        raise RuntimeError(f"wrk saw socket errors ({socket_errors.group(1)}):\n{out}")
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        first = requests[0]
        probe = urllib.request.Request(
            f"http://127.0.0.1:{port}{first.path}",
            method=first.method,
            data=first.body.encode() or None,
            headers={
                "Authtoken": token,
                "Accept": first.accept,
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(probe, timeout=10) as response:
                answer = f"{response.status} {response.read()[:200]!r}"
        except urllib.error.HTTPError as exc:
            answer = f"{exc.code} {exc.read()[:200]!r}"
        raise RuntimeError(f"errors under load on {first.method} {first.path}: {answer}")
    p50 = _unit_ms(_search(r"\s50%\s+([\d.]+\w+)", out).group(1))
    p99 = _unit_ms(_search(r"\s99%\s+([\d.]+\w+)", out).group(1))
    return Result(rate, p50, p99)


async def _one_connection(port: int, raw: list[bytes], until: float, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = 0
    try:
        while time.perf_counter() < until:
            started_at = time.perf_counter()
            writer.write(raw[done % len(raw)])
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(_search(rb"(?i)content-length:\s*(\d+)", head).group(1))
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"unexpected answer: {head[:80]!r}")
            latencies.append(time.perf_counter() - started_at)
            done += 1
    finally:
        writer.close()
    return done


def asyncio_client(
    port: int,
    requests: list[Request],
    token: str,
    seconds: float,
    connections: int,
    workdir: Path,
    timeout_seconds: float = 10.0,
) -> Result:
    """Any connection error or non-200 answer fails the run (`timeout_seconds` is wrk's)."""
    raw = []
    for r in requests:
        head = (
            f"{r.method} {r.path} HTTP/1.1\r\nHost: bench\r\nAuthtoken: {token}\r\n"
            f"Accept: {r.accept}\r\n"
        )
        if r.body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(r.body)}\r\n"
        raw.append((head + "\r\n" + r.body).encode())

    async def run() -> Result:
        latencies: list[float] = []
        start = time.perf_counter()
        counts = await asyncio.gather(
            *(_one_connection(port, raw, start + seconds, latencies) for _ in range(connections))
        )
        q = statistics.quantiles(latencies, n=100)
        return Result(sum(counts) / (time.perf_counter() - start), q[49] * 1000, q[98] * 1000)

    return asyncio.run(run())


# -- the run -------------------------------------------------------------------------


def api(method: str, base: str, path: str, token: str | None = None, body: object = None) -> bytes:
    request = urllib.request.Request(
        base + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Accept": "application/json",
            "Content-Type": "application/json",
            **({"Authtoken": token} if token else {}),
        },
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer: bytes = response.read()
    return answer


DRAIN_SECONDS = 1.0
DRAIN_PER_CONNECTION = 0.05  # a list page in flight per connection, about 16 ms each
LOGIN_DRAIN_SECONDS = 8.0
LATENCY_ALONE = ("list page of 100 (client 9, finished)", "POST Jobs as cvpysdk")


def scenarios(jobs: int) -> dict[str, list[Request]]:
    rng = random.Random(1)
    ids = [rng.randint(1, jobs) for _ in range(500)]
    post_jobs = json.dumps(
        {
            "scope": 1,
            "category": 2,
            "pagingConfig": {"sortDirection": 1, "offset": 0, "sortField": "jobId", "limit": 20},
            "jobFilter": {
                "completedJobLookupTime": 86400,
                "showAgedJobs": False,
                "hideAdminJobs": False,
                "clientList": [],
                "jobTypeList": [],
            },
        }
    )
    return {
        "job by id, JSON": [Request("GET", API + "Job/4")],
        "job by id, XML": [Request("GET", API + "Job/4", "application/xml")],
        "random job by id, JSON": [Request("GET", API + f"Job/{i}") for i in ids],
        "AdvancedDetails 16": [Request("GET", API + "Job/1452/AdvancedDetails?infoType=16")],
        "list page of 100 (client 9, finished)": [
            Request("GET", API + "Job?clientId=9&jobCategory=Finished&limit=100")
        ],
        # A different page each request (32 clients, 16 pages each): what no kept page
        # answers, so each costs the count, the page's rows and their render.
        "list page of 100, 512 different pages": [
            Request("GET", API + f"Job?clientId={c}&jobCategory=Finished&limit=100&offset={o}")
            for o in range(0, 1600, 100)
            for c in range(1, 33)
        ],
        "unfiltered list (admin, defaults)": [Request("GET", API + "Job")],
        "total only (limit 0), client 9 finished": [
            Request("GET", API + "Job?clientId=9&jobCategory=Finished&limit=0")
        ],
        "total only, 512 different filters": [
            Request(
                "GET",
                API + f"Job?clientId={c}&completedJobLookupTime={d * 86400}&limit=0",
            )
            for d in range(1, 17)
            for c in range(1, 33)
        ],
        "POST Jobs as cvpysdk": [Request("POST", API + "Jobs", body=post_jobs)],
        f"login, {MAX_WAITING_PER_ADDRESS} connections": [
            Request(
                "POST",
                API + "Login",
                body=json.dumps(
                    {"username": "admin", "password": base64.b64encode(PASSWORD.encode()).decode()}
                ),
            )
        ],
    }


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (workers), in MB."""
    total = 0
    pids = [pid] + [
        int(p)
        for p in subprocess.run(
            ["pgrep", "-P", str(pid)], capture_output=True, text=True
        ).stdout.split()
    ]
    for p in pids:
        status = Path(f"/proc/{p}/status")
        if status.exists():
            match = re.search(r"VmRSS:\s+(\d+) kB", status.read_text())
            total += int(match.group(1)) if match else 0
    return total / 1024


def time_import(db: str, jobs: int, workdir: Path) -> float:
    """Jobs per second of `cvjobs import` of an NDJSON file of `jobs` demo jobs."""
    from cvjobs import demo
    from cvjobs.summaries import summary_of

    path = workdir / "import.ndjson"
    with path.open("wb") as out:
        for record in demo.records(jobs, 7, int(time.time())):
            out.write(orjson.dumps(summary_of(record.job)) + b"\n")
    started_at = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "cvjobs", "import", "--db", db, str(path)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return (jobs + 1) / (time.perf_counter() - started_at)


def fresh_database(args: argparse.Namespace, workdir: Path, name: str) -> str:
    if args.backend == "sqlite":
        return str(workdir / f"{name}.db")
    import asyncpg

    database = f"cvjobs_bench_{os.getpid()}_{name}"

    async def create() -> None:
        conn = await asyncpg.connect(args.pg)
        await conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {database}")
        await conn.close()

    asyncio.run(create())
    if not _CREATED:
        atexit.register(_drop_created, args.pg)
    _CREATED.append(database)
    server: str = args.pg  # the PostgreSQL URL, of any database on the server
    return server.rsplit("/", 1)[0] + "/" + database


_CREATED: list[str] = []


def _drop_created(admin_url: str) -> None:
    """The bench's PostgreSQL databases go when the run ends, however it ends."""
    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            for database in _CREATED:
                await conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        finally:
            await conn.close()

    asyncio.run(drop())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="catalogue size (10000)")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--pg",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="a PostgreSQL database to create the bench databases from",
    )
    parser.add_argument("--server", choices=["granian", "uvicorn"], default="granian")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5.0, help="per scenario (5)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", action="append", help="run only scenarios containing this")
    parser.add_argument(
        "--import-jobs",
        type=int,
        default=200_000,
        help="jobs in the bulk import scenario (200000; 0 to skip)",
    )
    parser.add_argument("--client", choices=["auto", "wrk", "asyncio"], default="auto")
    parser.add_argument(
        "--load-test",
        action="store_true",
        help="instead of the scenarios: 1,000 connections for 30 s on the by-id and list"
        " routes, zero errors allowed (--connections and --seconds change that)",
    )
    args = parser.parse_args()
    if args.load_test:
        if args.connections == 32:
            args.connections = 1000
        if args.seconds == 5.0:
            args.seconds = 30.0
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
    load = wrk if use_wrk else asyncio_client
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )

    work = Path(tempfile.mkdtemp(prefix="cvjobs-bench-"))
    db = fresh_database(args, work, "catalogue")
    started_at = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "cvjobs", "demo", "--jobs", str(args.jobs), "--db", db],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    build_seconds = time.perf_counter() - started_at
    port = free_port()
    env = {
        "CVJOBS_ADMIN_PASSWORD": PASSWORD,
        "CVJOBS_DB": db,
        "CVJOBS_PORT": str(port),
        "CVJOBS_LOG_LEVEL": "warning",
        "CVJOBS_WORKERS": str(args.workers),
    }
    command = [
        sys.executable,
        "-m",
        "cvjobs",
        "serve",
        "--server",
        args.server,
        "--workers",
        str(args.workers),
    ]
    results: dict[str, Result] = {}
    with started(command, port, "cvjobs", env, work / "server.log") as server:
        base = f"http://127.0.0.1:{port}{API}"
        token = json.loads(
            api(
                "POST",
                base,
                "Login",
                body={
                    "username": "admin",
                    "password": base64.b64encode(PASSWORD.encode()).decode(),
                },
            )
        )["token"]
        body = api("GET", base, "Job/4", token)
        (work / "job4.json").write_bytes(body)
        if args.load_test:
            return load_test(args, load, port, token, work, build_seconds, server.pid)
        # Unmeasured: a fresh server process answers its first thousands of requests
        # slower (allocation, caches), which made whichever scenario ran first look worse.
        warm = min(1.0, args.seconds)
        load(
            port,
            scenarios(args.jobs)["random job by id, JSON"],
            token,
            warm,
            args.connections,
            work,
        )
        for name, requests in scenarios(args.jobs).items():
            if args.only and not any(word in name for word in args.only):
                continue
            connections = args.connections
            if name.startswith("login"):
                # One address may have this many logins waiting for a hash; more are
                # turned away with 503 on purpose (docs/security.md), which is not load.
                connections = min(connections, MAX_WAITING_PER_ADDRESS)
            results[name] = load(port, requests, token, args.seconds, connections, work)
            # The server is still answering what the last run left in flight (32 list
            # pages take half a second): let it drain before the next scenario.
            time.sleep(min(DRAIN_SECONDS, args.connections * DRAIN_PER_CONNECTION))
            if name in LATENCY_ALONE:
                # The latency one client sees, without 31 others queued ahead of it.
                results[name + ", 1 connection"] = load(
                    port, requests, token, args.seconds, 1, work
                )
        # At rest: the login scenario leaves logins queued, each hashing with 64 MiB
        # (argon2id, two at a time), which is working memory, not what the server keeps.
        time.sleep(min(LOGIN_DRAIN_SECONDS, args.connections * 0.25))
        memory = rss_mb(server.pid)

    floors: dict[str, Result] = {}
    floor_port = free_port()
    with started(
        [sys.executable, str(HERE / "floor_app.py"), str(floor_port), args.server],
        floor_port,
        "framework floor",
        {"FLOOR_BODY": str(work / "job4.json")},
    ):
        constant = [Request("GET", "/x")]
        load(floor_port, constant, token, 1, args.connections, work)  # warm-up, as above
        floors["framework"] = load(
            floor_port, constant, token, args.seconds, args.connections, work
        )
    if nginx:
        nginx_port = free_port()
        # nginx's workers run as an unprivileged user: the file must be readable to them.
        (work / "static").mkdir()
        shutil.copy(work / "job4.json", work / "static" / "x")
        for path, mode in ((work, 0o755), (work / "static", 0o755), (work / "static" / "x", 0o644)):
            path.chmod(mode)
        conf = work / "nginx.conf"
        conf.write_text(
            "worker_processes 1; daemon off; pid " + str(work / "nginx.pid") + ";\n"
            "error_log " + str(work / "nginx.err") + ";\n"
            "events { worker_connections 1024; }\n"
            "http { access_log off; default_type application/json; keepalive_requests 100000;\n"
            "  server { listen 127.0.0.1:"
            + str(nginx_port)
            + "; root "
            + str(work / "static")
            + "; } }\n"
        )
        with started([nginx, "-c", str(conf), "-p", str(work)], nginx_port, "nginx"):
            floors["nginx"] = load(
                nginx_port, [Request("GET", "/x")], token, args.seconds, args.connections, work
            )

    import_rate = 0.0
    if args.import_jobs:
        import_rate = time_import(fresh_database(args, work, "import"), args.import_jobs, work)

    generator = "wrk (1 thread)" if use_wrk else "asyncio keep-alive client"
    print(
        f"cvjobs bench: {args.jobs} demo jobs on {args.backend} (built in {build_seconds:.0f}s),"
        f" {args.server} with {args.workers} worker(s); load: {generator},"
        f" {args.connections} connections, {args.seconds:g}s per scenario"
    )
    header = f"{'scenario':<52}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'vs framework':>14}"
    header += f"{'vs nginx':>10}" if "nginx" in floors else ""
    print(header)
    for name, floor in floors.items():
        print(f"{name + ' floor':<52}{floor.rate:>10.0f}{floor.p50_ms:>9.2f}{floor.p99_ms:>9.2f}")
    for name, r in results.items():
        line = (
            f"{name:<52}{r.rate:>10.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}"
            f"{r.rate / floors['framework'].rate:>14.2f}"
        )
        if "nginx" in floors:
            line += f"{r.rate / floors['nginx'].rate:>10.2f}"
        print(line)
    if import_rate:
        print(f"bulk import (cvjobs import, NDJSON): {import_rate:,.0f} jobs/s")
    print(f"server memory at rest after the scenarios (RSS, all processes): {memory:.0f} MB")
    return 0


LOAD_TEST = ("random job by id, JSON", "list page of 100 (client 9, finished)")


def load_test(
    args: argparse.Namespace,
    load: Any,
    port: int,
    token: str,
    work: Path,
    build_seconds: float,
    server_pid: int,
) -> int:
    """Many connections at once for a long while: every request must be answered."""
    print(
        f"cvjobs load test: {args.jobs} demo jobs on {args.backend} (built in"
        f" {build_seconds:.0f}s), {args.server} with {args.workers} worker(s);"
        f" {args.connections} keep-alive connections, {args.seconds:g}s per route"
    )
    print(f"{'route':<52}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    all_scenarios = scenarios(args.jobs)
    for n, name in enumerate(LOAD_TEST):
        if n:
            time.sleep(DRAIN_SECONDS * 3)  # what the last route left queued drains first
        # Errors of any kind raise, so a printed line means none. The timeout is long:
        # with this many clients queued, latency is the queue, and waiting is not failing.
        r = load(port, all_scenarios[name], token, args.seconds, args.connections, work, 120.0)
        print(f"{name:<52}{r.rate:>10.0f}{r.p50_ms:>10.1f}{r.p99_ms:>10.1f}{0:>8}")
    print(f"server memory (RSS, all processes): {rss_mb(server_pid):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
