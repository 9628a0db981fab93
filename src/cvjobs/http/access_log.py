"""The access log: one line per request, written when the answer has been sent: method,
path, status, bytes of the body, milliseconds, the account that asked (once
authenticated) and a request id. The id is the client's `X-Request-Id` when it sends a
plain one (letters, digits, `.`, `_`, `-`, at most 64), else a new one; either way the
answer carries it back in `X-Request-Id`, so a client's complaint can be found in the log.

Lines look like the other `cvjobs.*` log lines (cvjobs.logs), text or JSON, but are made
and written here without the logging module, which cost about 45 us a request (40 % of
the by-id throughput of one worker; this way, with the middleware, about 12 us):
formatted with f-strings, buffered, and written every second (or every
`FLUSH_LINES` lines) in writes of whole lines of at most PIPE_BUF bytes, so that the
lines of several workers sharing one standard error never interleave.

Nothing secret is logged: tokens travel in headers, which are not logged; passwords in
bodies, which are not logged; and in the query, the value of any parameter whose name
looks like a secret (token, password, secret, key, auth...) is written as ***. Control
characters of a path or name are escaped, so no request can forge a log line.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import secrets
import select
import time
from typing import Any, TextIO
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cvjobs.http.request_metrics import RequestMetrics
from cvjobs.logs import shown

REQUEST_ID = b"x-request-id"
_PLAIN_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
_SECRET = re.compile(r"token|passw|secret|key|auth|session|cookie|sig", re.IGNORECASE)
MAX_QUERY = 300  # characters of a query kept in the log
FLUSH_SECONDS = 1.0
FLUSH_LINES = 200
PIPE_BUF = getattr(select, "PIPE_BUF", 512)


class _Ids:
    """New request ids: a random prefix of this process (made again in a forked worker)
    and a count, 16 hex digits in all: unique across workers and restarts in practice,
    with no random draw per request."""

    def __init__(self) -> None:
        self._pid = -1
        self._prefix = ""
        self._numbers = itertools.count()

    def new(self) -> str:
        if os.getpid() != self._pid:
            self._pid, self._prefix = os.getpid(), secrets.token_hex(4)
        return f"{self._prefix}{next(self._numbers):08x}"


_IDS = _Ids()


def account_of(scope: Scope) -> str:
    """The account name the dispatcher left in the request's state, or ''."""
    state: dict[str, Any] = scope.get("state", {})
    return str(state.get("account", ""))


def remember_account(scope: Scope, name: str) -> None:
    scope.setdefault("state", {})["account"] = name


def logged_query(query: bytes) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    kept = urlencode([(k, "***" if _SECRET.search(k) else v) for k, v in pairs], safe="*,:")
    return kept if len(kept) <= MAX_QUERY else kept[: MAX_QUERY - 3] + "..."


class AccessWriter:
    """Access lines to `stream`, in `fmt` ("text" or "json"), buffered (see the module)."""

    def __init__(self, stream: TextIO, fmt: str) -> None:
        self._stream = stream
        self._json = fmt == "json"
        self._lines: list[str] = []
        self._second = -1
        self._stamp = ""
        self._timer: asyncio.TimerHandle | None = None

    def add(self, fields: dict[str, Any]) -> None:
        self._lines.append(self._line(fields))
        if len(self._lines) >= FLUSH_LINES:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._timer = loop.call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        lines, self._lines = self._lines, []
        if not lines:
            return
        try:
            fd = self._stream.fileno()
        except (AttributeError, OSError, ValueError):
            self._stream.write("".join(lines))
            return
        self._stream.flush()
        chunk: list[bytes] = []
        size = 0
        for line in (line.encode() for line in lines):
            if chunk and size + len(line) > PIPE_BUF:
                os.write(fd, b"".join(chunk))
                chunk, size = [], 0
            chunk.append(line)
            size += len(line)
        os.write(fd, b"".join(chunk))

    def _line(self, fields: dict[str, Any]) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            if self._json:
                self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            else:
                self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        millis = int((now - second) * 1000)
        if self._json:
            entry = {
                "time": f"{self._stamp}.{millis:03d}Z",
                "level": "info",
                "logger": "cvjobs.access",
                "message": "request",
                **fields,
            }
            return orjson.dumps(entry).decode() + "\n"
        # Only the path and the account name come from the client as text.
        f = fields
        return (
            f"{self._stamp},{millis:03d} INFO cvjobs.access: request method={f['method']}"
            f" path={shown(f['path'])} status={f['status']} bytes={f['bytes']} ms={f['ms']}"
            f" account={shown(f['account']) or '-'} request_id={f['request_id']}\n"
        )


class AccessLog:
    """ASGI middleware around the whole app. Without a writer it only hands out and
    echoes request ids (a log level above info)."""

    def __init__(
        self,
        app: ASGIApp,
        writer: AccessWriter | None = None,
        requests: RequestMetrics | None = None,
    ) -> None:
        self.app = app
        self.writer = writer
        self.requests = requests  # counted for /metrics (http/request_metrics.py)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            try:
                await self.app(scope, receive, send)
            finally:
                if self.writer is not None:
                    self.writer.flush()  # the lifespan is over: the server is stopping
            return
        started = time.perf_counter()
        request_id = ""
        for name, value in scope["headers"]:
            if name == REQUEST_ID:
                request_id = value.decode() if _PLAIN_ID.fullmatch(value) else ""
                break
        request_id = request_id or _IDS.new()
        status, sent = 0, 0

        async def counting(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            elif message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", ()) if h[0] != REQUEST_ID]
                headers.append((REQUEST_ID, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            seconds = time.perf_counter() - started
            if self.requests is not None:
                self.requests.observe(scope, status, seconds)
            if self.writer is not None:
                query = logged_query(scope.get("query_string", b""))
                self.writer.add(
                    {
                        "method": scope["method"],
                        "path": scope["path"] + ("?" + query if query else ""),
                        "status": status,
                        "bytes": sent,
                        "ms": round(seconds * 1000, 1),
                        "account": account_of(scope),
                        "request_id": request_id,
                    }
                )
