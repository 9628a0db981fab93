"""HTTP benchmark: cvjobs against the framework floor, measured in the same run.

Builds a demo catalogue, starts a real cvjobs server and a floor server (bench/floor_app.py)
on loopback, and drives each scenario with a keep-alive asyncio load generator (bounded in
time and count). Prints requests/s, p50 and p99 per scenario and the ratio of each to the
floor. Absolute numbers depend on the machine; the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
PASSWORD = "bench-password-1"


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        return statistics.quantiles(self.latencies, n=100)[int(q) - 1] * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(args: list[str], port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{args} did not start")


async def one_connection(
    port: int, requests: list[bytes], until: float, latencies: list[float], limit: int
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = 0
    try:
        while time.perf_counter() < until and done < limit:
            request = requests[done % len(requests)]
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"unexpected answer: {head[:60]!r} {body[:80]!r}")
            latencies.append(time.perf_counter() - started)
            done += 1
    finally:
        writer.close()
    return done


async def load(port: int, requests: list[bytes], seconds: float, connections: int) -> Result:
    latencies: list[float] = []
    started = time.perf_counter()
    until = started + seconds
    counts = await asyncio.gather(
        *(one_connection(port, requests, until, latencies, 1_000_000) for _ in range(connections))
    )
    return Result("", sum(counts), time.perf_counter() - started, latencies)


def get(path: str, token: str, accept: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthtoken: {token}\r\nAccept: {accept}\r\n\r\n"
    ).encode()


def post(path: str, token: str, body: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthtoken: {token}\r\n"
        f"Accept: application/json\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000, help="demo catalogue size")
    parser.add_argument("--seconds", type=float, default=5.0, help="per scenario")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cvjobs-bench-"))
    db = work / "bench.db"
    subprocess.run(
        [sys.executable, "-m", "cvjobs", "demo", "--jobs", str(args.jobs), "--db", str(db)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    port = free_port()
    server = start(
        [
            sys.executable,
            "-m",
            "cvjobs",
            "serve",
            "--db",
            str(db),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        port,
        {"CVJOBS_ADMIN_PASSWORD": PASSWORD},
    )
    floor_proc = None
    try:
        base = f"http://127.0.0.1:{port}/commandcenter/api/"
        login = urllib.request.Request(
            base + "Login",
            method="POST",
            data=json.dumps(
                {"username": "admin", "password": base64.b64encode(PASSWORD.encode()).decode()}
            ).encode(),
            headers={"Accept": "application/json", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(login) as response:
            token = json.load(response)["token"]
        api = "/commandcenter/api/"
        rng = random.Random(1)
        ids = [rng.randint(1, args.jobs) for _ in range(1000)]
        scenarios = {
            "job 4, JSON": [get(api + "Job/4", token, "application/json")],
            "job 4, XML": [get(api + "Job/4", token, "application/xml")],
            "random job, JSON": [get(api + f"Job/{i}", token, "application/json") for i in ids],
            "AdvancedDetails 16": [
                get(api + "Job/1452/AdvancedDetails?infoType=16", token, "application/json")
            ],
            "POST JobDetails": [post(api + "JobDetails", token, '{"jobId": 4}')],
            "GET Job list, 100": [
                get(api + "Job?jobCategory=Finished&limit=100", token, "application/json")
            ],
            "POST Jobs, cvpysdk": [
                post(
                    api + "Jobs",
                    token,
                    json.dumps(
                        {
                            "category": 2,
                            "pagingConfig": {
                                "sortDirection": 1,
                                "offset": 0,
                                "sortField": "jobId",
                                "limit": 20,
                            },
                            "jobFilter": {
                                "completedJobLookupTime": 86400 * 7,
                                "showAgedJobs": False,
                            },
                        }
                    ),
                )
            ],
        }
        with urllib.request.urlopen(
            urllib.request.Request(
                base + "Job/4", headers={"Authtoken": token, "Accept": "application/json"}
            )
        ) as r:
            (work / "floor.json").write_bytes(r.read())
        floor_port = free_port()
        floor_proc = start(
            [sys.executable, str(HERE / "floor_app.py"), str(floor_port)],
            floor_port,
            {"FLOOR_BODY": str(work / "floor.json")},
        )
        floor = asyncio.run(
            load(floor_port, [get("/x", token, "application/json")], args.seconds, args.connections)
        )
        results = [
            (name, asyncio.run(load(port, reqs, args.seconds, args.connections)))
            for name, reqs in scenarios.items()
        ]
    finally:
        server.terminate()
        if floor_proc:
            floor_proc.terminate()
    print(
        f"catalogue: {args.jobs} demo jobs (SQLite); load: asyncio keep-alive client, "
        f"{args.connections} connections, {args.seconds:.0f}s per scenario, one server worker"
    )
    print(f"{'scenario':<22}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'vs floor':>10}")
    print(
        f"{'framework floor':<22}{floor.rate:>10.0f}{floor.pct(50):>9.2f}{floor.pct(99):>9.2f}"
        f"{'1.00':>10}"
    )
    for name, r in results:
        print(
            f"{name:<22}{r.rate:>10.0f}{r.pct(50):>9.2f}{r.pct(99):>9.2f}"
            f"{r.rate / floor.rate:>10.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
