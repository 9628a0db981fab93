"""Slow, abandoned and malformed clients against real servers (granian and uvicorn), with
raw sockets on 127.0.0.1: they cost the server nothing a fresh client would notice.

Each server starts with a soft open-file limit of 256 (with which 300 sockets took the
server down before it raised its own: granian's extension raises it when imported, uvicorn
relies on `cvjobs serve`), 10,000 jobs and 2-second header and body timeouts. Latencies
are printed (run with -s to see them), never asserted beyond generous bounds: the machine
is shared.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
import pytest
from bench.hostile import API, LOOPBACK, Trickle, hang_up_flood, login, timed_get

from cvjobs.http.access_log import FLUSH_SECONDS
from tests.e2e.conftest import Server, running_server

BODY_TIMEOUT = 2
HEADER_TIMEOUT = 2
SERVER_FILE_LIMIT = 256


@contextlib.contextmanager
def soft_file_limit(limit: int) -> Iterator[None]:
    """This process's soft open-file limit lowered to `limit` (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, soft), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@dataclass(frozen=True)
class Slow:
    srv: Server
    token: str
    name: str  # granian or uvicorn

    @property
    def port(self) -> int:
        return self.srv.port


@pytest.fixture(scope="module", params=["granian", "uvicorn"])
def slow(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Slow]:
    workdir = tmp_path_factory.mktemp(f"slow-{request.param}")
    with contextlib.ExitStack() as stack:
        with soft_file_limit(SERVER_FILE_LIMIT):
            srv = stack.enter_context(
                running_server(
                    workdir,
                    "--server",
                    request.param,
                    "--body-timeout-seconds",
                    str(BODY_TIMEOUT),
                    "--header-timeout-seconds",
                    str(HEADER_TIMEOUT),
                    "--no-engine",
                    env={"CVJOBS_DEMO_JOBS": "10000"},
                )
            )
        yield Slow(srv, login(srv.port, srv.password), request.param)


def log_size(srv: Server) -> int:
    return srv.log.stat().st_size


def log_since(srv: Server, offset: int) -> str:
    with srv.log.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def besides_access(logged: str) -> list[str]:
    """The lines of `logged` that are not the access log's one line per request."""
    return [line for line in logged.splitlines() if "cvjobs.access" not in line]


def exchange(port: int, raw: bytes, timeout: float = 10) -> bytes:
    """Send `raw`, read until the server closes or `timeout` passes."""
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
        sock.sendall(raw)
        answer = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and is_complete(answer):
                    break
        return answer


def is_complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def body_of(answer: bytes) -> bytes:
    return answer.partition(b"\r\n\r\n")[2]


def test_a_bad_chunk_size_is_400_and_no_traceback(slow: Slow) -> None:
    srv, token = slow.srv, slow.token
    before = log_size(srv)
    answer = exchange(
        srv.port,
        (
            f"POST {API}JobDetails HTTP/1.1\r\nHost: {LOOPBACK}\r\nAuthtoken: {token}\r\n"
            "Accept: application/json\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
        ).encode(),
    )
    assert status_of(answer) == 400, answer[:300]
    if slow.name == "granian":  # uvicorn answers a parse error itself, in text
        assert orjson.loads(body_of(answer))["errorCode"] == 1
    time.sleep(0.2)  # let the server write whatever it would log
    logged = log_since(srv, before)
    assert "Traceback" not in logged and "status=500" not in logged, logged
    assert len(besides_access(logged)) <= 1, logged


def test_hang_ups_mid_body_leave_at_most_a_line_each(slow: Slow) -> None:
    srv, token = slow.srv, slow.token
    # The access log is written every second: what came before is written out first, and
    # this test's lines are waited for, so that the lines between are exactly its own.
    time.sleep(FLUSH_SECONDS + 0.2)
    before = log_size(srv)
    for n in range(50):
        route = "Login" if n % 2 else "JobDetails"  # unauthenticated and not
        with socket.create_connection((LOOPBACK, srv.port), timeout=10) as sock:
            sock.sendall(
                (
                    f"POST {API}{route} HTTP/1.1\r\nHost: {LOOPBACK}\r\nAuthtoken: {token}\r\n"
                    'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"job'
                ).encode()
            )
    status, _ = timed_get(srv.port, token)
    assert status == 200
    time.sleep(FLUSH_SECONDS + 0.2)
    logged = log_since(srv, before)
    assert "Traceback" not in logged, logged[:2000]
    assert len(besides_access(logged)) <= 50, logged[:2000]
    assert len(logged.splitlines()) - len(besides_access(logged)) <= 51  # one per request


@pytest.mark.parametrize("every", [1.0, None], ids=["a-byte-a-second", "silent"])
def test_500_trickling_sockets_leave_a_fresh_get_answered(slow: Slow, every: float | None) -> None:
    srv, token = slow.srv, slow.token
    with Trickle(srv.port, 500, every).running() as trickle:
        time.sleep(1.5)  # the server has taken them all in, and they have dripped
        status, seconds = timed_get(srv.port, token, timeout=10)
        print(
            f"\n{slow.name}: GET Job/4 while 500 sockets trickle ({every=}):"
            f" {seconds * 1000:.0f} ms; {trickle.closed} closed by the server so far"
        )
    assert status == 200


def test_a_trickled_body_is_cut_off_after_the_body_timeout(slow: Slow) -> None:
    srv = slow.srv
    with socket.create_connection((LOOPBACK, srv.port), timeout=10) as sock:
        sock.sendall(
            (
                f"POST {API}Login HTTP/1.1\r\nHost: {LOOPBACK}\r\nAccept: application/json\r\n"
                'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"us'
            ).encode()
        )
        sock.settimeout(0.5)
        started = time.monotonic()
        answer = b""
        # A byte every half second would take 500 s to finish the body; 40 tries is 20 s.
        for _ in range(40):
            try:
                sock.send(b" ")
                if chunk := sock.recv(65536):
                    answer += chunk
                    continue
                break  # closed by the server
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        print(f"\n{slow.name}: trickle cut off after {time.monotonic() - started:.1f} s")
    assert status_of(answer) == 408, answer[:300]
    assert orjson.loads(body_of(answer))["errorCode"] == 408


def test_a_flood_of_abandoned_big_lists_is_dropped(slow: Slow) -> None:
    srv, token = slow.srv, slow.token
    before = log_size(srv)
    # Each asks for 10,000 jobs in XML (13 MB, about a second of work) and hangs up.
    hang_up_flood(srv.port, token, 300)
    status, seconds = timed_get(srv.port, token, timeout=30)
    print(f"\n{slow.name}: GET Job/4 after 300 abandoned big lists: {seconds * 1000:.0f} ms")
    assert status == 200
    # The lists are still served to clients that wait for them.
    status, _ = timed_get(srv.port, token, "Job?jobFilter=", timeout=30)
    assert status == 200
    assert "Traceback" not in log_since(srv, before)


def test_big_pages_left_half_read_cost_no_more_than_a_few_lines_and_free_their_slot(
    slow: Slow,
) -> None:
    srv, token = slow.srv, slow.token
    before = log_size(srv)
    request = (
        f"GET {API}Job?jobFilter=&completedJobLookupTime=2000000000 HTTP/1.1\r\n"
        f"Host: {LOOPBACK}\r\nAuthtoken: {token}\r\nAccept: application/xml\r\n"
        "limit: 10000\r\n\r\n"
    ).encode()
    for _ in range(5):  # each reads the head and a little of 13 MB, and hangs up
        with socket.create_connection((LOOPBACK, srv.port), timeout=10) as sock:
            sock.sendall(request)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    # Had a page kept the one big-page slot, this one would wait for it and be a 503.
    status, seconds = timed_get(srv.port, token, "Job?jobFilter=&limit=5000", timeout=30)
    print(f"\n{slow.name}: a big page after 5 left half read: {seconds * 1000:.0f} ms")
    assert status == 200
    time.sleep(0.2)  # let the server write whatever it would log
    logged = log_since(srv, before)
    assert "Traceback" not in logged and "ASGI callable" not in logged, logged[:2000]
    # granian may say at info that it wrote to a closed connection, for a part or two sent
    # before the hang-up was heard (seen under load only); nothing else, and never a line
    # for each of a page's 40 parts.
    said = [line for line in besides_access(logged) if "DEBUG" not in line]
    assert all("ASGI transport error" in line for line in said), logged[:2000]
    assert len(said) <= 3 * 5, logged[:2000]


@pytest.mark.parametrize(
    "first", [f"GET {API} HTTP/1.1\r\nHo".encode(), b""], ids=["trickled-headers", "silent"]
)
def test_a_connection_without_headers_is_closed_after_the_header_timeout(
    slow: Slow, first: bytes
) -> None:
    closed = False
    with socket.create_connection((LOOPBACK, slow.port), timeout=10) as sock:
        sock.sendall(first)
        sock.settimeout(0.5)
        started = time.monotonic()
        for _ in range(16):  # a header byte every half second, for 8 s at most
            try:
                if first:
                    sock.send(b"s")
                if sock.recv(65536) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
        print(f"\n{slow.name}: closed={closed} after {time.monotonic() - started:.1f} s")
    assert closed
