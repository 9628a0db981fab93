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
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from cvjobs.service.auth import MAX_WAITING_PER_ADDRESS
from loads import Request, Result, asyncio_client, wrk
from processes import checkout, free_port, fresh_database, rss_mb, started
from scenarios import API, LATENCY_ALONE, LOAD_TEST, PASSWORD, advanced_jobs, scenarios

HERE = Path(__file__).parent


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


@dataclass
class Side:
    """One server measured: this tree's, or a git revision's (`--compare`)."""

    name: str
    code: Path | None  # the revision's src/, first on PYTHONPATH; None: this tree
    results: dict[str, Result] = field(default_factory=dict)
    build_seconds: float = 0.0
    memory: float = 0.0
    port: int = 0
    token: str = ""
    asked: dict[str, list[Request]] = field(default_factory=dict)  # its scenarios

    @property
    def key(self) -> str:
        return "this" if self.code is None else "compare"


@contextmanager
def serving(args: argparse.Namespace, work: Path, side: Side) -> Iterator[int]:
    """A demo catalogue built with the side's code, served by it until the block ends;
    yields the server's pid, with the side's port, token and scenarios set."""
    code = {"PYTHONPATH": str(side.code)} if side.code else {}
    db = fresh_database(args, work, side.key)
    started_at = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "cvjobs", "demo", "--jobs", str(args.jobs), "--db", db],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, **code},
    )
    side.build_seconds = time.perf_counter() - started_at
    side.port = port = free_port()
    env = {
        **code,
        "CVJOBS_ADMIN_PASSWORD": PASSWORD,
        "CVJOBS_DB": db,
        "CVJOBS_PORT": str(port),
        "CVJOBS_LOG_LEVEL": "warning",
        "CVJOBS_WORKERS": str(args.workers),
    }
    command = [sys.executable, "-m", "cvjobs", "serve", "--server", args.server]
    command += ["--workers", str(args.workers)]
    with started(command, port, "cvjobs", env, work / f"server-{side.key}.log") as server:
        base = f"http://127.0.0.1:{port}{API}"
        password = base64.b64encode(PASSWORD.encode()).decode()
        login = api("POST", base, "Login", body={"username": "admin", "password": password})
        side.token = token = json.loads(login)["token"]
        (work / "job4.json").write_bytes(api("GET", base, "Job/4", token))

        def newest(job_type: str) -> int | None:
            found = json.loads(api("GET", base, f"Job?jobFilter={quote(job_type)}&limit=1", token))
            jobs = found.get("jobs") or []
            return int(jobs[0]["jobSummary"]["jobId"]) if jobs else None

        side.asked = scenarios(args.jobs, advanced_jobs(newest))
        yield server.pid


def run_scenarios(args: argparse.Namespace, load: Any, work: Path, sides: list[Side]) -> None:
    """Every scenario on each side in turn (so that the machine's drift between the
    first scenario and the last weighs on both alike), into side.results."""

    def on(side: Side, requests: list[Request], seconds: float, connections: int) -> Result:
        result: Result = load(side.port, requests, side.token, seconds, connections, work)
        # The server is still answering what the run left in flight (32 list pages
        # take half a second): let it drain before the next run.
        time.sleep(min(DRAIN_SECONDS, connections * DRAIN_PER_CONNECTION))
        return result

    for side in sides:
        # Unmeasured: a fresh server process answers its first thousands of requests
        # slower (allocation, caches), which made whichever scenario ran first look worse.
        on(side, side.asked["random job by id, JSON"], min(1.0, args.seconds), args.connections)
    for name in sides[0].asked:
        if args.only and not any(word in name for word in args.only):
            continue
        connections = args.connections
        if name.startswith("login"):
            # One address may have this many logins waiting for a hash; more are
            # turned away with 503 on purpose (docs/security.md), which is not load.
            connections = min(connections, MAX_WAITING_PER_ADDRESS)
        for side in sides:
            if name not in side.asked:
                continue
            side.results[name] = on(side, side.asked[name], args.seconds, connections)
            if name in LATENCY_ALONE:
                # The latency one client sees, without 31 others queued ahead of it.
                alone = on(side, side.asked[name], args.seconds, 1)
                side.results[name + ", 1 connection"] = alone
    # At rest: the login scenario leaves logins queued, each hashing with 64 MiB
    # (argon2id, two at a time), which is working memory, not what the server keeps.
    time.sleep(min(LOGIN_DRAIN_SECONDS, args.connections * 0.25))


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
        "--compare",
        metavar="REV",
        help="also measure the server of git revision REV (its own catalogue, the same"
        " scenarios) in the same run, and print the two side by side with their ratio",
    )
    parser.add_argument(
        "--load-test",
        action="store_true",
        help="instead of the scenarios: 1,000 connections for 30 s on the by-id and list"
        " routes, zero errors allowed (--connections and --seconds change that)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the work directory (catalogues, server logs) instead of removing it",
    )
    args = parser.parse_args()
    if args.load_test and args.compare:
        parser.error("--compare measures the scenarios, not --load-test")
    if args.load_test:
        if args.connections == 32:
            args.connections = 1000
        if args.seconds == 5.0:
            args.seconds = 30.0
    # The catalogues (5.6 GB at ten million jobs) go with the run unless --keep.
    work = Path(tempfile.mkdtemp(prefix="cvjobs-bench-"))
    print(f"work directory: {work}", flush=True)
    try:
        return bench(args, work)
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def bench(args: argparse.Namespace, work: Path) -> int:
    """The run: the servers, their scenarios, the floors, the import, the tables."""
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
    load = wrk if use_wrk else asyncio_client
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    sides = [Side("this tree", None)]
    if args.compare:
        sides.append(Side(args.compare, checkout(args.compare, work / "compare")))
    with ExitStack() as stack:
        pids = [stack.enter_context(serving(args, work, side)) for side in sides]
        this = sides[0]
        if args.load_test:
            return load_test(args, load, this.port, this.token, work, this.build_seconds, pids[0])
        run_scenarios(args, load, work, sides)
        for side, pid in zip(sides, pids, strict=True):
            side.memory = rss_mb(pid)
    token = this.token

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
        f"cvjobs bench: {args.jobs} demo jobs on {args.backend}"
        f" (built in {this.build_seconds:.0f}s),"
        f" {args.server} with {args.workers} worker(s); load: {generator},"
        f" {args.connections} connections, {args.seconds:g}s per scenario"
    )
    header = f"{'scenario':<52}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'vs framework':>14}"
    header += f"{'vs nginx':>10}" if "nginx" in floors else ""
    print(header)
    for name, floor in floors.items():
        print(f"{name + ' floor':<52}{floor.rate:>10.0f}{floor.p50_ms:>9.2f}{floor.p99_ms:>9.2f}")
    for name, r in this.results.items():
        line = (
            f"{name:<52}{r.rate:>10.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}"
            f"{r.rate / floors['framework'].rate:>14.2f}"
        )
        if "nginx" in floors:
            line += f"{r.rate / floors['nginx'].rate:>10.2f}"
        print(line)
    if import_rate:
        print(f"bulk import (cvjobs import, NDJSON): {import_rate:,.0f} jobs/s")
    print(f"server memory at rest after the scenarios (RSS, all processes): {this.memory:.0f} MB")
    if len(sides) > 1:
        compare(this, sides[1])
    return 0


def compare(this: Side, other: Side) -> None:
    """This tree's figures beside another revision's, measured in the same run."""
    print(f"\nthis tree beside {other.name} (same run; req/s ratio over 1 is this tree faster)")
    print(
        f"{'scenario':<52}{'req/s':>10}{'p99 ms':>9}{other.name[:10]:>11}{'p99 ms':>9}{'ratio':>8}"
    )
    for name, r in this.results.items():
        o = other.results.get(name)
        if o is None:
            print(f"{name:<52}{r.rate:>10.0f}{r.p99_ms:>9.2f}{'(none)':>11}")
            continue
        print(
            f"{name:<52}{r.rate:>10.0f}{r.p99_ms:>9.2f}{o.rate:>11.0f}{o.p99_ms:>9.2f}"
            f"{r.rate / o.rate:>8.2f}"
        )
    print(f"memory at rest: {this.memory:.0f} MB beside {other.memory:.0f} MB")


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
