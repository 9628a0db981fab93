"""Admission of heavy requests (the job and event lists): their turn, and their client.

A list can cost the event loop hundreds of milliseconds, and a flood of list requests from
clients that then hang up used to keep the server working for them long after they left
(a by-id read waited over a minute behind them). So a heavy request:

- first gives the loop one turn, so that the requests that arrived with it are all seen
  (arrival noted, connection watched) before any of them works;
- is dropped (`ClientGone`, a 400 nobody reads) if its client has hung up by the time its
  handler would start, and its handler is cancelled if the client hangs up while it runs
  (the heavy routes only read, so cancelling them leaves nothing half done);
- is refused (`TryLater`, 503 with Retry-After) if it waited longer than the queue
  deadline for its turn, so a backlog drains in at most that time instead of growing.

Cheap routes (a job by id, a login) are not watched: they cost less than the watching.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from starlette.types import Receive

from cvjobs.errors import ClientGone, TryLater

log = logging.getLogger("cvjobs.http")
A = TypeVar("A")
T = TypeVar("T")


async def hangup(receive: Receive) -> None:
    """Returns when the client has disconnected; call it only once the body has been read
    (or for a request whose body is not read). Waits forever on a server that never
    reports a disconnect."""
    finals = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        if not message.get("more_body", False):
            finals += 1
            if finals > 1:  # a server that repeats the end of the body: do not spin on it
                await asyncio.Event().wait()


class Turn:
    """One heavy request's place in the queue. `deadline` is loop time by which its
    handler must have started (and any slot it waits for been granted)."""

    def __init__(
        self,
        receive: Receive,
        queue_seconds: float,
        where: str,
        running: asyncio.Semaphore | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self.deadline = self._loop.time() + queue_seconds
        self._queue_seconds = queue_seconds
        self._receive = receive
        self._where = where
        # Heavy handlers that may run at once in this worker. The rest wait for a place
        # without taking turns of the event loop, so a cheap request that arrives behind a
        # thousand lists is answered at once, and a waiting list whose client leaves is
        # dropped without being worked on.
        self._running = running

    async def run(self, handler: Callable[[A], Awaitable[T]], arg: A) -> T:
        """`handler(arg)`, unless the client has gone or the deadline has passed by the
        time it would start; cancelled if the client hangs up while it runs."""
        gone = asyncio.ensure_future(hangup(self._receive))
        task: asyncio.Future[T] | None = None
        held = None
        try:
            await asyncio.sleep(0)  # the requests queued with this one note their arrival
            if gone.done():
                raise self._gone("before its turn")
            self._check_deadline()
            if self._running is not None:
                await self._place(self._running, gone)
                held = self._running
            task = asyncio.ensure_future(handler(arg))
            await asyncio.wait((task, gone), return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                raise self._gone("while it was being answered")
            return task.result()
        finally:
            gone.cancel()
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if held is not None:
                held.release()

    async def _place(self, running: asyncio.Semaphore, gone: asyncio.Future[None]) -> None:
        """One of `running`'s places, waited for until the deadline or the client goes."""
        acquired = asyncio.ensure_future(running.acquire())
        try:
            await asyncio.wait(
                (acquired, gone),
                timeout=max(self.deadline - self._loop.time(), 0),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            if not acquired.done():
                acquired.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await acquired
        holding = acquired.done() and not acquired.cancelled()
        if holding and not gone.done():
            return
        if holding:
            running.release()
        if gone.done():
            raise self._gone("while it waited for its turn")
        raise self._overloaded()

    @contextlib.asynccontextmanager
    async def slot(self, slots: asyncio.Semaphore) -> AsyncIterator[None]:
        """Hold one of `slots`, waited for no later than the deadline (then TryLater)."""
        try:
            async with asyncio.timeout_at(self.deadline):
                await slots.acquire()
        except TimeoutError:
            raise self._overloaded() from None
        try:
            yield
        finally:
            slots.release()

    def _check_deadline(self) -> None:
        if self._loop.time() > self.deadline:
            raise self._overloaded()

    def _overloaded(self) -> TryLater:
        log.info("%s waited over %s s for its turn: 503", self._where, self._queue_seconds)
        return TryLater(
            f"the server is busy: the request waited over {self._queue_seconds:g} s for"
            " its turn; try again",
            retry_after=1,
        )

    def _gone(self, when: str) -> ClientGone:
        log.debug("%s: the client hung up %s; dropped", self._where, when)
        return ClientGone("the client closed the connection")
