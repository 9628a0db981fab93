"""One real cvjobs server process for the end-to-end tests: real sockets, real SQLite
file, started the way a user starts it (`python -m cvjobs serve --demo`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSWORD = "e2e-admin-password"


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    db: Path
    log: Path
    password: str

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"cvjobs exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/commandcenter/api/", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"cvjobs did not come up:\n{log.read_text()}")


@contextmanager
def running_server(
    workdir: Path, *args: str, env: dict[str, str] | None = None, db: str | None = None
) -> Iterator[Server]:
    """`python -m cvjobs serve --demo` on a free port until the block ends; it must then
    stop cleanly (exit 0) on SIGTERM."""
    log = workdir / "server.log"
    srv = Server("127.0.0.1", free_port(), Path(db) if db else workdir / "cvjobs.db", log, PASSWORD)
    environment = {
        **os.environ,
        "CVJOBS_ADMIN_PASSWORD": PASSWORD,
        "CVJOBS_DEMO_JOBS": "300",
        **(env or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cvjobs",
                "serve",
                "--demo",
                "--db",
                db or str(srv.db),
                "--host",
                srv.host,
                "--port",
                str(srv.port),
                *args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    try:
        wait_until_up(srv.url, process, log)
        yield srv
    finally:
        process.terminate()
        code = process.wait(timeout=30)
        assert code == 0, f"cvjobs exited with {code} on SIGTERM:\n{log.read_text()}"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The shared server: demo catalogue, engine in real time, no scheduled new jobs."""
    with running_server(tmp_path_factory.mktemp("e2e"), "--demo-job-interval", "0") as srv:
        yield srv


@pytest.fixture(scope="session")
def fast_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose engine runs 1000 times faster than real time: jobs finish in
    seconds, so clients that wait for completion can be tested."""
    workdir = tmp_path_factory.mktemp("e2e-fast")
    with running_server(workdir, "--engine-speed", "1000", "--demo-job-interval", "0") as srv:
        yield srv
