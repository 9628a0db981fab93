"""A read that requests asking at once share: one query for many callers, still exact.

PostgreSQL's catalogue version (its current snapshot) is a round trip to the server, and
every list request asks for it before it may answer a kept page: at 32 requests in flight
that was 32 round trips for one answer. Callers that ask while no read is on its way join
the next one; that read is sent only once the one on its way has come back, and a caller
never joins a read already sent, so what it gets was read after it asked (a commit it
came after is seen).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Gathered(Generic[T]):
    """`read()`, shared by the callers that ask for it while the read before is on its
    way; one read on its way at a time."""

    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read
        self._next: asyncio.Future[T] | None = None  # the read callers may still join
        self._one_at_a_time = asyncio.Lock()
        self._reading: set[asyncio.Task[None]] = set()

    async def __call__(self) -> T:
        joined = self._next
        if joined is None:
            joined = self._next = asyncio.get_running_loop().create_future()
            # An error nobody waits for any longer (they were cancelled) is not reported.
            joined.add_done_callback(lambda f: f.cancelled() or f.exception())
            task = asyncio.ensure_future(self._send(joined))
            self._reading.add(task)
            task.add_done_callback(self._reading.discard)
        # A caller that is cancelled leaves the read to the others.
        return await asyncio.shield(joined)

    async def _send(self, joined: asyncio.Future[T]) -> None:
        async with self._one_at_a_time:
            self._next = None  # from here on, callers wait for the read after this one
            try:
                joined.set_result(await self._read())
            except asyncio.CancelledError:  # the loop is closing
                joined.cancel()
                raise
            except Exception as exc:  # noqa: BLE001 - handed to every caller
                joined.set_exception(exc)
