"""A big answer sent as it is rendered: a page of up to 10,000 jobs (13 MB of XML).

Rendered whole, such a page sat in memory until its client had read all of it, however
slowly it read, one copy per client; and it was rendered to the end for a client that had
already gone. Sent in parts, each part is rendered only once the one before has been
handed to the server, so a slow client slows its own page down and holds one part, and a
client that hangs up stops the rendering at the next part. What the page holds while it
is sent (the big-page slot) is let go when it ends, however it ends. The slot bounds the
memory big pages take, one at a time, but a client that stops reading would hold it, and
every other big page would wait: a part that the server cannot hand on within
STALL_SECONDS, or a page not sent within SEND_SECONDS, is cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from cvjobs.http.admission import hangup

log = logging.getLogger("cvjobs.http")

# 13 MB at 220 KB/s; on loopback such a page is sent in a few hundred milliseconds. A part
# (PART_JOBS jobs, up to 330 KB of XML) waits no longer than STALL_SECONDS to be sent.
SEND_SECONDS = 60.0
STALL_SECONDS = 5.0


class Stalled(Exception):
    """A part waited STALL_SECONDS to be sent: its client is not reading."""


class PartsResponse(Response):
    """200 with `parts` as its body (no Content-Length: chunked), `held` closed at the
    end. The bytes are those of the parts joined."""

    def __init__(
        self, parts: Iterator[bytes], media_type: str, held: contextlib.AsyncExitStack
    ) -> None:
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers()
        self._parts = parts
        self._held = held
        self._sent = 0  # bytes of the body sent so far

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Some servers (uvicorn) drop what is sent to a client that has gone without
        # saying so: its hang-up is heard on `receive`.
        gone = asyncio.ensure_future(hangup(receive))
        try:
            async with self._held, asyncio.timeout(SEND_SECONDS):
                await self._send_all(send, gone)
        except Stalled:
            log.info(
                "%s: the client stopped reading for %g s after %d bytes: cut off",
                *(scope["path"], STALL_SECONDS, self._sent),
            )
        except TimeoutError:  # before OSError, of which it is one
            log.info(
                "%s: the client read %d bytes, not the whole page, in %g s: cut off",
                *(scope["path"], self._sent, SEND_SECONDS),
            )
        except (OSError, ClientDisconnect):  # a server that says so
            log.debug("%s: the client hung up after %d bytes", scope["path"], self._sent)
        finally:
            gone.cancel()

    async def _send_all(self, send: Send, gone: asyncio.Future[None]) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        for part in self._parts:
            if gone.done():
                raise ClientDisconnect()
            try:
                async with asyncio.timeout(STALL_SECONDS):
                    await send({"type": "http.response.body", "body": part, "more_body": True})
            except TimeoutError:
                raise Stalled() from None
            self._sent += len(part)
            await asyncio.sleep(0)  # the loop's other requests between parts
        await send({"type": "http.response.body", "body": b"", "more_body": False})
