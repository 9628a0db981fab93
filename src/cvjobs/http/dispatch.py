"""Routing: the three API roots, case-insensitive paths, the auth guard, bounded bodies.

Every route is served under `/commandcenter/api/`, `/webconsole/api/` and
`/SearchSvc/CVWebService.svc/`, matched without regard to case (clients send both
`action/kill` and `Action/Kill`). The bare root answers 200 because cvpysdk probes it
before logging in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from cvjobs.documents import DocumentError, read_object
from cvjobs.errors import (
    BadRequest,
    ClientGone,
    CvjobsError,
    MethodNotAllowed,
    PayloadTooLarge,
    RequestTimeout,
    RouteNotFound,
)
from cvjobs.http.access_log import remember_account
from cvjobs.http.admission import Turn
from cvjobs.http.errors import error_response, unexpected_response
from cvjobs.http.negotiation import choose
from cvjobs.http.request_metrics import RequestMetrics, added, remember_route
from cvjobs.model import EVERYTHING, Account, Scope
from cvjobs.render import JSON, Format, metrics
from cvjobs.render.prometheus import CONTENT_TYPE
from cvjobs.service.auth import AuthService
from cvjobs.service.changes import ChangeFeed
from cvjobs.service.clients import ClientService
from cvjobs.service.control import JobControl
from cvjobs.service.events import EventService
from cvjobs.service.ingest import IngestService
from cvjobs.service.jobs import JobService
from cvjobs.service.metrics import MetricsService
from cvjobs.service.webhooks import WebhookService

ROOTS = ("commandcenter/api", "webconsole/api", "searchsvc/cvwebservice.svc")
# cvjobs' own routes (the ingest API) live apart from the vendor's and speak JSON only.
NATIVE_ROOT = "cvjobs/v1"
# Heavy requests (the lists) that run at once per worker; the rest wait without using the
# event loop, so a cheap request is never queued behind them (cvjobs.http.admission).
HEAVY_AT_ONCE = 8
# Pages of more jobs than this are answered one at a time per worker, rendered in parts.
BIG_PAGE = 1000
log = logging.getLogger("cvjobs.http")


@dataclass(frozen=True, slots=True)
class CommCell:
    """What GET CommServ tells about this server."""

    name: str
    guid: str
    host: str
    service_pack: int = 40


METRICS_PATH = "/metrics"


@dataclass(frozen=True, slots=True)
class Services:
    auth: AuthService
    jobs: JobService
    control: JobControl
    events: EventService
    ingest: IngestService
    clients: ClientService
    commcell: CommCell
    changes: ChangeFeed
    metrics: MetricsService
    webhooks: WebhookService
    clock: Callable[[], float]
    # One big page (over BIG_PAGE jobs) at a time: four of them at once would otherwise
    # stall every other request behind their reads for seconds.
    big_pages: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))

    def now(self) -> int:
        return int(self.clock())


@dataclass(slots=True)
class Context:
    request: Request
    fmt: Format
    services: Services
    params: dict[str, str]
    account: Account | None = None
    body: bytes = b""
    turn: Turn | None = None  # a heavy route's place in the queue

    @property
    def address(self) -> str:
        """The client's address, as the connection shows it (a proxy's, behind one)."""
        client = self.request.client
        return client.host if client else ""

    @property
    def scope(self) -> Scope:
        """What the logged-in account may see."""
        assert self.account is not None, "an authenticated route"
        return self.account.sees

    def respond(self, root: str, body: dict[str, object], status: int = 200) -> Response:
        return Response(self.fmt.render(root, body), status, media_type=self.fmt.media_type)

    def body_object(self) -> dict[str, Any]:
        """The request body as an object (JSON or XML; an empty body is {}), or BadRequest."""
        return request_object(self.body, self.request.headers.get("content-type", ""))


# Request children that are lists even when an XML body has only one of them.
REQUEST_LIST_KEYS = frozenset({"clientList", "jobTypeList", "statusList", "jobs", "events"})


def request_object(raw: bytes, content_type: str) -> dict[str, Any]:
    try:
        _, body = read_object(raw, content_type, REQUEST_LIST_KEYS)
    except DocumentError as exc:
        raise BadRequest(f"unreadable request body: {exc}") from None
    return body


# Query strings read into their parameters, by the raw string: parsing one (Starlette's
# QueryParams) was a third of an AdvancedDetails answer's own time, and pollers send the
# same few again and again. Short ones only, a bounded number.
_QUERIES: dict[bytes, tuple[tuple[str, str], ...]] = {}
_QUERIES_KEPT = 4096
_QUERY_KEPT_BYTES = 256


def query_items(request: Request) -> tuple[tuple[str, str], ...]:
    """The query's (name, value) pairs, as given."""
    raw: bytes = request.scope["query_string"]
    items = _QUERIES.get(raw)
    if items is None:
        items = tuple(request.query_params.multi_items())
        if len(raw) <= _QUERY_KEPT_BYTES:
            if len(_QUERIES) >= _QUERIES_KEPT:
                _QUERIES.clear()
            _QUERIES[raw] = items
    return items


def single_query(ctx: Context, name: str) -> str | None:
    """A query parameter named in any casing, given at most once."""
    wanted = name.lower()
    values = [v for k, v in query_items(ctx.request) if k.lower() == wanted]
    if len(values) > 1:
        raise BadRequest(f"{name} is given {len(values)} times")
    return values[0] if values else None


Handler = Callable[[Context], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: str
    handler: Handler
    auth: bool = True
    native: bool = False
    # Costly to answer (the lists): dropped when the client has gone, or has waited past
    # the queue deadline, before the handler starts (cvjobs.http.admission).
    heavy: bool = False
    # A heavy route's answer already kept (a list page asked again), or None: tried
    # before the request queues, since answering it costs no more than a job by id.
    kept: Callable[[Context], Awaitable[Response | None]] | None = None
    # Its OpenAPI operation (cvjobs.http.operations): what /openapi.json says of it.
    doc: dict[str, Any] = field(kw_only=True, compare=False, repr=False)
    segments: tuple[str, ...] = field(init=False)
    label: str = field(init=False)  # its `route` label in /metrics

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(self.pattern.lower().split("/")))
        object.__setattr__(self, "label", (NATIVE_ROOT + "/" if self.native else "") + self.pattern)

    def match(self, parts: list[str]) -> dict[str, str] | None:
        if len(parts) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for want, got in zip(self.segments, parts, strict=True):
            if want.startswith("{"):
                params[want[1:-1]] = got
            elif want != got.lower():
                return None
        return params


# Every root is two segments; the second of the pair says whether it is cvjobs' own.
_ROOT_HEADS = {tuple(root.split("/")): root == NATIVE_ROOT for root in (*ROOTS, NATIVE_ROOT)}


def split_path(path: str) -> tuple[bool, list[str]] | None:
    """(native, the segments after the root): [] for a root itself, None outside the
    roots. Empty segments (`//Login` from a base URL with a trailing slash) are dropped."""
    parts = [p for p in path.split("/") if p]
    native = _ROOT_HEADS.get((parts[0].lower(), parts[1].lower())) if len(parts) > 1 else None
    return None if native is None else (native, parts[2:])


class Dispatcher:
    def __init__(
        self,
        routes: list[Route],
        services: Services,
        *,
        max_body: int,
        max_ingest_body: int,
        body_seconds: float,
        queue_seconds: float,
        metrics_open: bool = False,
        requests: RequestMetrics | None = None,
    ) -> None:
        self._metrics_open = metrics_open
        self._requests = requests or RequestMetrics()
        self._max_body = {False: max_body, True: max_ingest_body}  # by Route.native
        self._body_seconds = body_seconds
        self._queue_seconds = queue_seconds
        self._heavy = asyncio.Semaphore(HEAVY_AT_ONCE)
        # Routes by (native, segment count): a request tries the few that can match.
        self._routes: dict[tuple[bool, int], list[Route]] = {}
        for route in routes:
            self._routes.setdefault((route.native, len(route.segments)), []).append(route)
        self._services = services

    async def __call__(self, request: Request) -> Response:
        fmt = JSON
        path: str = request.scope["path"]
        try:
            if path == METRICS_PATH:
                return await self._metrics(request)
            found = split_path(path)
            if found is None or not found[0]:  # cvjobs' own API is JSON only
                fmt = choose(request.headers.get("accept"))
            return await self._dispatch(request, path, found, fmt)
        except CvjobsError as exc:
            return error_response(exc, fmt)
        except Exception as exc:  # noqa: BLE001 - the one place that answers for bugs
            return unexpected_response(exc, fmt, f"{request.method} {path}")

    async def _metrics(self, request: Request) -> Response:
        """/metrics (service/metrics.py) for a token's account and its scope, or for
        anyone with --metrics-open."""
        remember_route(request.scope, "metrics")
        if request.method not in ("GET", "HEAD"):
            raise MethodNotAllowed(f"{request.method} is not allowed on {METRICS_PATH}; use GET")
        scope = EVERYTHING
        if not self._metrics_open:
            account = await self._services.auth.authenticate(token_of(request))
            remember_account(request.scope, account.name)
            scope = account.sees
        snapshot = await self._services.metrics.snapshot(scope)
        requests = []
        if scope.everything:  # the server's own: not any one tenant's business
            others = await asyncio.to_thread(self._requests.others)
            requests = added([*self._requests.own(), *others])
        body = metrics.exposition(snapshot, requests)
        return Response(body, headers={"Content-Type": CONTENT_TYPE})

    async def _dispatch(
        self, request: Request, path: str, found: tuple[bool, list[str]] | None, fmt: Format
    ) -> Response:
        if found is None:
            raise RouteNotFound(f"no such resource: {path}")
        native, parts = found
        if not parts:
            remember_route(request.scope, "root")
            if request.method in ("GET", "HEAD"):
                return Response(b"", 200, media_type="text/plain")
            raise MethodNotAllowed(f"{request.method} is not allowed on the API root")
        allowed: list[str] = []
        for route in self._routes.get((native, len(parts)), ()):
            params = route.match(parts)
            if params is None:
                continue
            if route.method != request.method:
                allowed.append(route.method)
                continue
            remember_route(request.scope, route.label)
            ctx = Context(request, fmt, self._services, params)
            if route.auth:
                ctx.account = await self._services.auth.authenticate(token_of(request))
                remember_account(request.scope, ctx.account.name)  # for the access log
            if request.method in ("POST", "PUT", "PATCH"):
                ctx.body = await read_body(
                    request, self._max_body[route.native], self._body_seconds
                )
            if route.heavy:
                if route.kept is not None and (answer := await route.kept(ctx)) is not None:
                    return answer
                turn = ctx.turn = Turn(request.receive, self._queue_seconds, path, self._heavy)
                return await turn.run(route.handler, ctx)
            return await route.handler(ctx)
        if allowed:
            raise MethodNotAllowed(
                f"{request.method} is not allowed here; use {' or '.join(sorted(set(allowed)))}"
            )
        raise RouteNotFound(f"no such resource: {path}")


def token_of(request: Request) -> str | None:
    """The token from `Authtoken` (QSDK, Bearer or SAML), `Cookie2` (what clients of the
    old web-service root send after an XML Login: the Morpheus plugin, a Jobs-to-SQL
    exporter) or `Authorization: Bearer`."""
    token = request.headers.get("authtoken") or request.headers.get("cookie2")
    if token:
        return token
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def read_body(request: Request, limit: int, seconds: float) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit` bytes, and with
    408 if the whole of it has not arrived within `seconds` (a deadline on the whole read,
    so a body trickled a byte at a time cannot hold the request, and its connection,
    forever). A client that hangs up mid-body, or sends framing the server cannot read
    (granian reports a malformed chunk as a disconnect), is ClientGone: a 400 and one
    debug line, no traceback."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"request body over {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        log.info(
            "%s %s: the body did not arrive within %g s (%d bytes did): 408",
            request.method,
            request.scope["path"],
            seconds,
            size,
        )
        raise RequestTimeout(
            f"the request body did not arrive within {seconds:g} seconds"
        ) from None
    except ClientDisconnect:
        log.debug(
            "%s %s: the body ended after %d bytes (client gone or malformed framing)",
            request.method,
            request.scope["path"],
            size,
        )
        raise ClientGone("the request body ended early or its framing is malformed") from None
    return b"".join(chunks)
