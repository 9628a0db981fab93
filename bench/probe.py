"""What the security figures are measured with: a plain HTTP client that can speak from
any loopback address (so the address throttle of one area does not fall on the next),
the tally of attempts per area, and real cvjobs servers started as a user starts them.
Used by bench/security.py; everything stays on 127.0.0.0/8."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from processes import free_port, wait_for_port
from scenarios import PASSWORD

API = "/commandcenter/api/"
V1 = "/cvjobs/v1/"
ABSENT = 987_654_321


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Client:
    """Requests to one server, from one loopback address."""

    port: int
    source: str = "127.0.0.1"
    token: str = ""

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        accept: str = "application/json",
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> Answer:
        if isinstance(body, (dict, list)):
            data: bytes | None = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
        sent = {"Accept": accept, "Content-Type": content_type, **(headers or {})}
        if token is None:
            token = self.token
        if token:
            sent["Authtoken"] = token
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=timeout, source_address=(self.source, 0)
        )
        started = time.perf_counter()
        try:
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            content = response.read()
            return Answer(
                response.status,
                content,
                {k.lower(): v for k, v in response.getheaders()},
                time.perf_counter() - started,
            )
        finally:
            conn.close()

    def login(self, user: str, password: str) -> Answer:
        encoded = base64.b64encode(password.encode()).decode()
        return self.call("POST", API + "Login", {"username": user, "password": encoded}, token="")

    def token_for(self, user: str, password: str) -> str:
        answer = self.login(user, password)
        token = answer.json().get("token") if answer.status == 200 else None
        if not token:
            raise RuntimeError(f"cannot log in as {user}: {answer.status} {answer.body[:200]!r}")
        return str(token)

    def raw(self, data: bytes, timeout: float = 10) -> bytes:
        """Bytes as sent, the answer as read until the server closes or goes quiet."""
        with socket.create_connection(
            ("127.0.0.1", self.port), timeout=timeout, source_address=(self.source, 0)
        ) as s:
            s.sendall(data)
            chunks = []
            try:
                while chunk := s.recv(65536):
                    chunks.append(chunk)
                    s.settimeout(0.5)  # the answer has begun: the rest comes at once
            except (TimeoutError, ConnectionResetError):
                pass
            return b"".join(chunks)


@dataclass
class Area:
    attempts: int = 0
    as_documented: int = 0
    failures: list[str] = field(default_factory=list)


class Tally:
    """Attempts per area, and those that did not behave as documented (each named)."""

    def __init__(self) -> None:
        self.areas: dict[str, Area] = {}
        self.figures: list[tuple[str, str]] = []

    def check(self, area: str, what: str, ok: bool, detail: str = "") -> bool:
        tally = self.areas.setdefault(area, Area())
        tally.attempts += 1
        if ok:
            tally.as_documented += 1
        else:
            tally.failures.append(f"{what}: {detail}"[:300])
        return ok

    def figure(self, what: str, value: str) -> None:
        self.figures.append((what, value))
        print(f"  {what}: {value}", flush=True)

    @property
    def all_as_documented(self) -> bool:
        return all(a.attempts == a.as_documented for a in self.areas.values())

    def report(self) -> str:
        lines = [
            "| area | attempts | behaved as documented |",
            "|---|---:|---:|",
            *(f"| {name} | {a.attempts} | {a.as_documented} |" for name, a in self.areas.items()),
            "",
            "| figure | measured |",
            "|---|---|",
            *(f"| {what} | {value} |" for what, value in self.figures),
        ]
        for name, a in self.areas.items():
            lines += [f"- {name}: {failure}" for failure in a.failures]
        return "\n".join(lines)


def cvjobs(*args: str, stdin: str = "", db: str) -> str:
    """The `cvjobs` command on a catalogue, as an administrator runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "cvjobs", *args, "--db", db],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"cvjobs {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


@dataclass
class Running:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, source: str = "127.0.0.1", token: str = "") -> Client:
        return Client(self.port, source, token)

    def kill(self) -> None:
        """SIGKILL to the whole process group (the server and its workers), no warning."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@contextmanager
def serving(
    db: str, log: Path, *options: str, env: dict[str, str] | None = None
) -> Iterator[Running]:
    """`cvjobs serve --db DB` in a process group of its own on a free port; stopped with
    SIGTERM at the end (SIGKILL if it does not stop)."""
    port = free_port()
    environment = {
        **os.environ,
        "CVJOBS_ADMIN_PASSWORD": PASSWORD,
        "CVJOBS_LOG_LEVEL": "info",
        **(env or {}),
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cvjobs", "serve", "--db", db, "--port", str(port), *options],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,
        )
    try:
        wait_for_port(port, process, "cvjobs")
        yield Running(port, process, log)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
