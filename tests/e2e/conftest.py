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


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("e2e")
    log = workdir / "server.log"
    srv = Server("127.0.0.1", free_port(), workdir / "cvjobs.db", log, PASSWORD)
    env = {**os.environ, "CVJOBS_ADMIN_PASSWORD": PASSWORD, "CVJOBS_DEMO_JOBS": "300"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cvjobs",
                "serve",
                "--demo",
                "--db",
                str(srv.db),
                "--host",
                srv.host,
                "--port",
                str(srv.port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        wait_until_up(srv.url, process, log)
        yield srv
    finally:
        process.terminate()
        code = process.wait(timeout=30)
        assert code == 0, f"cvjobs exited with {code} on SIGTERM:\n{log.read_text()}"
