"""`GET /cvjobs/v1/changes`: the change log after a cursor, as one JSON answer (optionally
waiting for news: `wait`) or, with `Accept: text/event-stream`, as server-sent events
that go on as changes happen and resume from `Last-Event-ID`.

An event stream costs the server a task and a few buffers: at most MAX_STREAMS per process
(then 503 with Retry-After), each ended after STREAM_SECONDS (an EventSource reconnects
by itself, from the last id it saw), and cut off when its client stops reading for
STALL_SECONDS or hangs up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import orjson
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from cvjobs import model, parse
from cvjobs.errors import CvjobsError, TryLater
from cvjobs.http import operations as ops
from cvjobs.http import queries
from cvjobs.http.admission import hangup
from cvjobs.http.dispatch import Context, Route, single_query
from cvjobs.model import Change
from cvjobs.service.changes import ChangeFeed

log = logging.getLogger("cvjobs.http")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_WAIT = 60
MAX_STREAMS = 256
STREAM_SECONDS = 600.0
STALL_SECONDS = 5.0
KEEPALIVE_SECONDS = 15.0
RETRY_MS = 2000  # an EventSource's pause before it reconnects
EVENT_STREAM = "text/event-stream"
_streams = asyncio.BoundedSemaphore(MAX_STREAMS)  # per process; made before any loop runs


def change_json(c: Change) -> dict[str, object]:
    return {
        "seq": c.seq,
        "jobId": c.job_id,
        "clientId": c.client_id,
        "kind": c.kind,
        "oldStatus": c.old_status,
        "newStatus": c.new_status,
        "time": c.time,
    }


def _number(ctx: Context, name: str, high: int, low: int = 0) -> int | None:
    raw = single_query(ctx, name)
    return None if raw is None else queries.whole(raw, name, low=low, high=high)


def _wants_stream(ctx: Context) -> bool:
    return EVENT_STREAM in ctx.request.headers.get("accept", "").lower()


async def changes(ctx: Context) -> Response:
    feed = ctx.services.changes
    limit = _number(ctx, "limit", MAX_LIMIT, low=1) or DEFAULT_LIMIT
    after = _number(ctx, "after", parse.MAX_INT)
    if _wants_stream(ctx):
        resumed = ctx.request.headers.get("last-event-id")
        if resumed is not None and resumed.strip():
            after = queries.whole(resumed.strip(), "Last-Event-ID", low=0)
        if after is None:  # from now on
            after = await feed.head()
        await feed.read(after, 1, ctx.scope)  # a cursor the log lost is 410 before streaming
        return EventStream(feed, after, ctx.scope)
    wait = _number(ctx, "wait", MAX_WAIT) or 0
    if after is None:  # from the oldest record kept
        after = await feed.oldest_cursor()
    page = await feed.read(after, limit, ctx.scope, wait=wait)
    body = {
        "changes": [change_json(c) for c in page.changes],
        "next": page.next_cursor(limit),
        "head": page.head,
    }
    return ctx.respond("", body)


class EventStream(Response):
    """The change log after `after` as server-sent events: `id:` the sequence number,
    `event: change`, `data:` the record as JSON; a comment every KEEPALIVE_SECONDS."""

    def __init__(self, feed: ChangeFeed, after: int, scope: model.Scope) -> None:
        if _streams.locked():
            raise TryLater(f"{MAX_STREAMS} event streams are open already", retry_after=5)
        self.status_code = 200
        self.media_type = EVENT_STREAM
        self.background = None
        self.init_headers({"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        self._feed, self._after, self._scope = feed, after, scope

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.ensure_future(hangup(receive))
        try:
            async with _streams, asyncio.timeout(STREAM_SECONDS):
                await send(
                    {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
                )
                async for chunk in self._events():
                    if gone.done():
                        raise ClientDisconnect()
                    try:
                        async with asyncio.timeout(STALL_SECONDS):
                            await send(
                                {"type": "http.response.body", "body": chunk, "more_body": True}
                            )
                    except TimeoutError:
                        log.info("%s: the client stopped reading events: cut off", scope["path"])
                        return
            await _end(send)
        except TimeoutError:  # the stream's time is up: the client reconnects
            await _end(send)
        except (OSError, ClientDisconnect):
            log.debug("%s: the event stream's client hung up", scope["path"])
        except CvjobsError as exc:  # the catalogue failed mid-stream: the client reconnects
            log.warning("%s: event stream ended: %s", scope["path"], exc.message)
            await _end(send)
        finally:
            gone.cancel()

    async def _events(self) -> AsyncIterator[bytes]:
        """The stream's parts: its retry pause, then records, or a keep-alive when none
        came within KEEPALIVE_SECONDS."""
        yield f"retry: {RETRY_MS}\n\n".encode()
        while True:
            page = await self._feed.read(
                self._after, DEFAULT_LIMIT, self._scope, wait=KEEPALIVE_SECONDS
            )
            for c in page.changes:
                yield b"id: %d\nevent: change\ndata: %s\n\n" % (c.seq, orjson.dumps(change_json(c)))
            if not page.changes:
                yield b": keep-alive\n\n"
            self._after = page.next_cursor(DEFAULT_LIMIT)


ROUTES: list[Route] = [
    Route("GET", "changes", changes, native=True, doc=ops.CHANGES),
]


async def _end(send: Send) -> None:
    """The end of a stream's body, if its client is still there to be told."""
    with contextlib.suppress(OSError, ClientDisconnect):
        await send({"type": "http.response.body", "body": b"", "more_body": False})
