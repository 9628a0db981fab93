"""The processes and catalogues the bench scripts start: free ports, servers waited for
and stopped, the bench's PostgreSQL databases (dropped when the run ends), another
revision's code (`--compare`), resident memory."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).parent


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


def checkout(revision: str, into: Path) -> Path:
    """The src/ of a git revision of this repository, exported under `into`."""
    into.mkdir()
    repository = HERE.parent
    archive = subprocess.run(
        ["git", "-C", str(repository), "archive", "--format=tar", revision, "src"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"
