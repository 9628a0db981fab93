"""Hostile clients against a running cvjobs, and what a well-behaved client sees meanwhile.

Sockets that trickle a request body (or send a few bytes and nothing more), floods of list
requests from clients that hang up at once, and a timed `GET Job/4` from a fresh client.
tests/e2e/test_slow_clients.py uses these; scripts reuse them for figures, e.g.

    python bench/hostile.py --url http://127.0.0.1:8400 --password "$PASSWORD" --trickle 500
    python bench/hostile.py --url ... --password ... --flood 300

prints how long the fresh `GET Job/4` took. Loopback only: the address must be 127.0.0.1.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import resource
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

API = "/commandcenter/api/"
LOOPBACK = "127.0.0.1"


def raise_file_limit(need: int) -> None:
    """Let this process hold `need` sockets (and some files), as far as the hard limit
    allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need + 64
    if soft != resource.RLIM_INFINITY and soft < want:
        top = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (top, hard))


def _connection(port: int, timeout: float) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)


def login(port: int, password: str, user: str = "admin") -> str:
    """A token for `user`."""
    conn = _connection(port, 30)
    try:
        secret = base64.b64encode(password.encode()).decode()
        conn.request(
            "POST",
            API + "Login",
            json.dumps({"username": user, "password": secret}),
            {"Accept": "application/json", "Content-Type": "application/json"},
        )
        token: str = json.loads(conn.getresponse().read())["token"]
        return token
    finally:
        conn.close()


def timed_get(port: int, token: str, path: str = "Job/4", timeout: float = 60) -> tuple[int, float]:
    """(status, seconds) of one `GET <path>` on a fresh connection."""
    started = time.perf_counter()
    conn = _connection(port, timeout)
    try:
        conn.request("GET", API + path, headers={"Authtoken": token, "Accept": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    finally:
        conn.close()


@dataclass
class Trickle:
    """`count` connections that each send the headers of a `POST Login` promising a body of
    `length` bytes, a few bytes of it, and then one byte every `every` seconds (or, with
    `every` None, nothing more). `closed` counts those the server has closed."""

    port: int
    count: int
    every: float | None = 1.0
    length: int = 1000
    sockets: list[socket.socket] = field(default_factory=list)
    closed: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def open(self) -> None:
        raise_file_limit(self.count + 16)
        head = (
            f"POST {API}Login HTTP/1.1\r\nHost: {LOOPBACK}\r\nContent-Type: application/json\r\n"
            f'Content-Length: {self.length}\r\n\r\n{{"us'
        ).encode()
        for _ in range(self.count):
            sock = socket.create_connection((LOOPBACK, self.port), timeout=10)
            sock.sendall(head)
            sock.setblocking(False)
            self.sockets.append(sock)

    def _drip(self) -> None:
        alive = list(self.sockets)
        while alive and not self._stop.wait(self.every or 0.5):
            still = []
            for sock in alive:
                try:
                    if sock.recv(65536, socket.MSG_PEEK) == b"":
                        raise ConnectionResetError  # the server closed it
                except BlockingIOError:
                    pass  # nothing from the server: still waiting for our body
                except OSError:
                    self.closed += 1
                    continue
                if self.every is not None:
                    try:
                        sock.send(b" ")
                    except BlockingIOError:
                        pass
                    except OSError:
                        self.closed += 1
                        continue
                still.append(sock)
            alive = still

    @contextlib.contextmanager
    def running(self) -> Iterator[Trickle]:
        self.open()
        dripper = threading.Thread(target=self._drip, daemon=True)
        dripper.start()
        try:
            yield self
        finally:
            self._stop.set()
            dripper.join(timeout=10)
            for sock in self.sockets:
                sock.close()


def hang_up_flood(port: int, token: str, count: int, path: str = "Job", limit: int = 10000) -> None:
    """`count` connections that each send `GET <path>` for a page of `limit` jobs (XML)
    and close at once, without reading the answer."""
    raise_file_limit(count + 16)
    request = (
        f"GET {API}{path} HTTP/1.1\r\nHost: {LOOPBACK}\r\nAuthtoken: {token}\r\n"
        f"Accept: application/xml\r\nlimit: {limit}\r\n\r\n"
    ).encode()
    for _ in range(count):
        with socket.create_connection((LOOPBACK, port), timeout=10) as sock:
            sock.sendall(request)


def trickle_probe(port: int, token: str, count: int, every: float | None = 1.0) -> float:
    """Seconds a fresh `GET Job/4` takes while `count` sockets trickle their bodies."""
    with Trickle(port, count, every).running():
        time.sleep(1.0)  # let the server take them all in
        status, seconds = timed_get(port, token)
    if status != 200:
        raise RuntimeError(f"GET Job/4 answered {status}")
    return seconds


def flood_probe(port: int, token: str, count: int) -> float:
    """Seconds a fresh `GET Job/4` takes right after `count` clients asked for a page of
    10,000 jobs and hung up."""
    hang_up_flood(port, token, count)
    status, seconds = timed_get(port, token)
    if status != 200:
        raise RuntimeError(f"GET Job/4 answered {status}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=f"http://{LOOPBACK}:8400")
    parser.add_argument("--password", required=True, help="the admin password")
    parser.add_argument("--trickle", type=int, default=0, help="sockets trickling a body")
    parser.add_argument("--silent", action="store_true", help="trickling sockets send nothing")
    parser.add_argument("--flood", type=int, default=0, help="list requests that hang up")
    args = parser.parse_args()
    url = urlsplit(args.url)
    if url.hostname != LOOPBACK or url.port is None:
        parser.error(f"--url must be http://{LOOPBACK}:<port>")
    token = login(url.port, args.password)
    if args.trickle:
        seconds = trickle_probe(url.port, token, args.trickle, None if args.silent else 1.0)
        print(f"GET Job/4 while {args.trickle} sockets trickle: {seconds * 1000:.0f} ms")
    if args.flood:
        seconds = flood_probe(url.port, token, args.flood)
        print(f"GET Job/4 after {args.flood} hung-up list requests: {seconds * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
