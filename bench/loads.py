"""The load generators of the bench: wrk (one thread, a Lua script cycling through the
requests) where it is installed, else a keep-alive asyncio client; both answer a
`Result` and fail on any socket error, timeout or non-2xx answer."""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import AnyStr


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
