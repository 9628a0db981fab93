"""The access log: one line per request at info level, written when the answer has been
sent: method, path, status, bytes of the body, milliseconds, the account that asked (once
authenticated) and a request id. The id is the client's `X-Request-Id` when it sends a
plain one (letters, digits, `.`, `_`, `-`, at most 64), else a new one; either way the
answer carries it back in `X-Request-Id`, so a client's complaint can be found in the log.

Nothing secret is logged: tokens travel in headers, which are not logged; passwords in
bodies, which are not logged; and in the query, the value of any parameter whose name
looks like a secret (token, password, secret, key, auth...) is written as ***. Control
characters of a path are escaped by the formatter (cvjobs.logs), so no request can forge a
log line.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cvjobs.logs import FIELDS

log = logging.getLogger("cvjobs.access")
REQUEST_ID = "x-request-id"
_PLAIN_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
_SECRET = re.compile(r"token|passw|secret|key|auth|session|cookie|sig", re.IGNORECASE)
MAX_QUERY = 300  # characters of a query kept in the log


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
    shown = urlencode([(k, "***" if _SECRET.search(k) else v) for k, v in pairs], safe="*,:")
    return shown if len(shown) <= MAX_QUERY else shown[: MAX_QUERY - 3] + "..."


class AccessLog:
    """ASGI middleware around the whole app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = dict(scope["headers"]).get(REQUEST_ID.encode(), b"")
        request_id = given.decode() if _PLAIN_ID.fullmatch(given) else secrets.token_hex(8)
        status, sent = 0, 0

        async def counting(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0] != REQUEST_ID.encode()]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id.encode())]}
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            if log.isEnabledFor(logging.INFO):
                query = logged_query(scope.get("query_string", b""))
                fields = {
                    "method": scope["method"],
                    "path": scope["path"] + ("?" + query if query else ""),
                    "status": status,
                    "bytes": sent,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                    "account": account_of(scope),
                    "request_id": request_id,
                }
                log.info("request", extra={FIELDS: fields})
