"""uvicorn's httptools protocol with the header deadline uvicorn lacks.

uvicorn closes a kept-alive connection that stays idle, but not one that sends its
headers a byte at a time, nor one that connects and sends nothing: either holds a
connection (one of --max-connections) for as long as the client likes. Here a request's
headers must be complete within `header_seconds` of the connection's start or of the end
of the previous response, or the connection is closed. (granian has this built in:
`header_read_timeout`.)
"""

from __future__ import annotations

import asyncio
import os
from typing import ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Worker processes import this afresh: they read the setting from the environment that
# `cvjobs serve` passes them; a single-process server sets the class attribute.
_ENV = "CVJOBS_HEADER_TIMEOUT_SECONDS"


class HeaderDeadlineProtocol(HttpToolsProtocol):
    header_seconds: ClassVar[float] = float(os.environ.get(_ENV, "30"))
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The next request's headers (or the rest of a body nobody read) get a deadline
        # too; uvicorn's keep-alive timer alone is reset by every byte that arrives.
        if not self.transport.is_closing():
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_seconds, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()
