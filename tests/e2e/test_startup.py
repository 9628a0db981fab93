"""Starting a server (issue 11): one server per port, on both HTTP servers, unless sharing
is asked for; a start-up that cannot listen is one line on stderr, exit status 1, and
prints, creates and asks nothing before it (no banner, no admin password, no catalogue)."""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CVJOBS
from tests.e2e.conftest import PASSWORD, Server, running_server

pytestmark = pytest.mark.e2e

SERVERS = ["granian", "uvicorn"]


def start(db: Path, port: int, *options: str, host: str = "127.0.0.1") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(CVJOBS), "serve", "--db", str(db), "--host", host, "--port", str(port), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def refused(process: subprocess.Popen[str]) -> tuple[str, str]:
    """Its stdout and stderr, once it has exited with status 1."""
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1, (process.returncode, out, err)
    return out, err


def login(port: int) -> str:
    """A token of the admin, whom only the first server's catalogue knows (one hash)."""
    body = json.dumps(
        {"username": "admin", "password": base64.b64encode(PASSWORD.encode()).decode()}
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/commandcenter/api/Login",
        body.encode(),
        {"Content-Type": "application/json", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        token: str = json.load(answer)["token"]
    return token


def who_am_i_status(port: int, token: str) -> int:
    """200 from the server whose catalogue holds the token's session; 401 from another."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/commandcenter/api/WhoAmI",
        b"",
        {"Authtoken": token, "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


@pytest.fixture(params=SERVERS)
def first(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A running server of each kind, with the admin password the tests know."""
    with running_server(
        tmp_path_factory.mktemp("first"), "--no-engine", "--server", request.param
    ) as srv:
        yield srv


@pytest.mark.parametrize("second", SERVERS)
def test_a_port_in_use_is_one_line_and_status_1(first: Server, second: str, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    out, err = refused(start(other, first.port, "--server", second))
    assert out == ""  # no banner, no password
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert f"port {first.port} is already in use" in err and "--reuse-port" in err
    assert not other.exists()
    # Every request still reaches the first server (none the kernel gave a second one).
    token = login(first.port)
    assert [who_am_i_status(first.port, token) for _ in range(20)] == [200] * 20


def test_sharing_a_port_on_purpose(tmp_path: Path) -> None:
    with running_server(tmp_path, "--no-engine", "--reuse-port") as srv:
        second = start(tmp_path / "other.db", srv.port, "--reuse-port", "--demo")
        try:
            # The second one's catalogue does not know the first one's token: 401. It
            # listens once it has made its demo catalogue; until then only the first answers.
            token = login(srv.port)
            seen: set[int] = set()
            deadline = time.monotonic() + 60
            while seen != {200, 401} and time.monotonic() < deadline:
                with contextlib.suppress(urllib.error.URLError, OSError):
                    seen.add(who_am_i_status(srv.port, token))
                time.sleep(0.01)
            assert seen == {200, 401}, "the kernel splits connections between the two"
        finally:
            second.terminate()
            second.communicate(timeout=30)


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("192.0.2.1", "Cannot assign requested address"),  # TEST-NET-1: not this machine's
        ("no-such-host.invalid", "unknown host"),
    ],
)
@pytest.mark.parametrize("server", SERVERS)
def test_a_host_it_cannot_listen_on_creates_and_shows_nothing(
    tmp_path: Path, host: str, reason: str, server: str
) -> None:
    db = tmp_path / "new.db"
    out, err = refused(start(db, 8400, "--server", server, "--demo", host=host))
    assert out == ""
    assert err.startswith(f"cvjobs serve: cannot listen on {host}:8400: ")
    assert reason in err and err.count("\n") == 1
    assert "password" not in err and not db.exists()
