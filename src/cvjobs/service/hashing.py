"""The queue in front of password hashing: a few hashes at a time, a bounded wait that is
fair between client addresses, and no hash for a client that has hung up.

argon2 takes a core and 64 MiB for a tenth of a second, so logins take turns. A turn is
granted round-robin over the addresses that wait (first come, first served within an
address), so one address that floods the queue delays another address's login by about
one hash, not by its whole flood. At most `max_waiting` logins wait, at most
`per_address` of them from one address; past that a login is refused at once with
TryLater (503 and Retry-After). A login whose client hangs up while it waits leaves the
queue (ClientGone) and costs nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from cvjobs.errors import ClientGone, TryLater

# About how long one hash takes, to tell a refused client when to come back.
HASH_SECONDS = 0.1
# How long a login that finds a free place waits for news that its client has gone.
PRESENCE_SECONDS = 0.005

Gone = Callable[[], Awaitable[object]]
"""Makes an awaitable that finishes when the client has hung up."""
T = TypeVar("T")


class HashQueue:
    def __init__(self, at_once: int, max_waiting: int, per_address: int) -> None:
        self._free = at_once
        self._at_once = at_once
        self._max_waiting = max_waiting
        self._per_address = per_address
        # address -> its waiters in arrival order; the address first in line is served
        # next, then goes to the back if it still has waiters.
        self._waiting: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()
        self._count = 0

    @property
    def waiting(self) -> int:
        return self._count

    @contextlib.asynccontextmanager
    async def turn(
        self, address: str, gone: Gone | None = None, *, bounded: bool = True
    ) -> AsyncIterator[None]:
        """Hold one of the hashing places for the block. Waits its turn; TryLater if the
        queue (or this address's share of it) is full and `bounded`; ClientGone if `gone`
        finishes first."""
        await self._acquire(address, gone, bounded)
        try:
            yield
        finally:
            self._release()

    async def run(
        self, work: Callable[[], T], address: str, gone: Gone | None = None, *, bounded: bool = True
    ) -> T:
        """`work()` in a thread once it has a place (see `turn`). The place is held until
        `work` returns, even if the caller is cancelled meanwhile (a server may cancel a
        request whose client hung up; the thread cannot be stopped, and freeing its place
        early would let more hashes run at once than the queue allows)."""
        await self._acquire(address, gone, bounded)
        try:
            running = asyncio.ensure_future(asyncio.to_thread(work))
        except BaseException:
            self._release()
            raise
        running.add_done_callback(self._finished)
        return await asyncio.shield(running)

    def _finished(self, running: asyncio.Future[Any]) -> None:
        self._release()
        if not running.cancelled():
            running.exception()  # retrieved here too: its caller may have gone

    async def _acquire(self, address: str, gone: Gone | None, bounded: bool) -> None:
        watcher = asyncio.ensure_future(gone()) if gone is not None else None
        try:
            for last in (False, True):
                if self._free > 0 and not self._count:
                    self._free -= 1
                    if watcher is not None:
                        await self._still_there(watcher)
                    return
                if not (bounded and self._full(address)):
                    break
                if last:
                    retry = math.ceil((self._count + 1) * HASH_SECONDS / max(1, self._at_once))
                    raise TryLater("too many logins are waiting; try again shortly", retry)
                # Logins whose clients have just hung up leave the line as soon as the
                # server tells them so: let that news in before turning this one away.
                await asyncio.sleep(PRESENCE_SECONDS)
            await self._wait(address, watcher)
        finally:
            if watcher is not None:
                watcher.cancel()
                if watcher.done() and not watcher.cancelled():
                    watcher.exception()  # a watcher that failed counts as a hang-up

    def _full(self, address: str) -> bool:
        mine = len(self._waiting.get(address, ()))
        return self._count >= self._max_waiting or mine >= self._per_address

    async def _still_there(self, watcher: asyncio.Future[object]) -> None:
        """With a place taken at once: the server may not have told of a hang-up yet (it
        takes granian a millisecond or so), so give it PRESENCE_SECONDS to."""
        try:
            await asyncio.wait((watcher,), timeout=PRESENCE_SECONDS)
        except BaseException:
            self._release()
            raise
        if watcher.done():
            self._release()
            raise ClientGone("the client hung up before its login was hashed")

    async def _wait(self, address: str, watcher: asyncio.Future[object] | None) -> None:
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(address, deque()).append(granted)
        self._count += 1
        try:
            if watcher is None:
                await granted
                return
            await asyncio.wait((granted, watcher), return_when=asyncio.FIRST_COMPLETED)
            if not granted.done():
                raise ClientGone("the client hung up while its login waited")
        except BaseException:
            # Hung up or cancelled: leave the line, or pass on a turn given meanwhile.
            if granted.done() and not granted.cancelled():
                self._release()
            else:
                granted.cancel()
                self._forget(address, granted)
            raise

    def _forget(self, address: str, granted: asyncio.Future[None]) -> None:
        waiters = self._waiting.get(address)
        if waiters is not None and granted in waiters:
            waiters.remove(granted)
            self._count -= 1
            if not waiters:
                del self._waiting[address]

    def _release(self) -> None:
        """Give the place to the next waiter in round-robin order, or free it."""
        while self._waiting:
            address, waiters = self._waiting.popitem(last=False)
            granted = waiters.popleft()
            self._count -= 1
            if waiters:
                self._waiting[address] = waiters  # to the back of the line of addresses
            if not granted.done():
                granted.set_result(None)
                return
        self._free += 1
