"""The change feed: the change log read after a cursor, at once or waiting for news
(`GET /cvjobs/v1/changes`, long-poll and server-sent events), and its retention.

A reader that waits does not poll the catalogue itself: one `HeadWatch` per process reads
the log's head every POLL_SECONDS while anyone waits, and wakes them all when it moves.
A cursor the log no longer holds (pruned past it) or never held (beyond its head) is
`CursorGone`, so the client knows to resync from GET Job instead of missing changes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from cvjobs.errors import CursorGone, StoreError
from cvjobs.model import EVERYTHING, ChangePage, Scope
from cvjobs.store.protocols import ChangeLog

log = logging.getLogger("cvjobs.changes")

POLL_SECONDS = 0.25
DAY = 86_400


class HeadWatch:
    """The change log's head, read for the waiters in one task while there are any."""

    def __init__(self, store: ChangeLog, every: float = POLL_SECONDS) -> None:
        self._store = store
        self._every = every
        self._head = -1
        self._moved = asyncio.Event()
        self._waiting = 0
        self._task: asyncio.Task[None] | None = None

    async def wait_past(self, head: int, seconds: float) -> bool:
        """True once the head is past `head`; False if `seconds` went first."""
        self._waiting += 1
        if self._task is None:
            self._task = asyncio.create_task(self._watch())
        try:
            async with asyncio.timeout(seconds):
                while self._head <= head:
                    await self._moved.wait()
            return True
        except TimeoutError:
            return False
        finally:
            self._waiting -= 1

    async def _watch(self) -> None:
        try:
            while self._waiting:
                try:
                    head = await self._store.change_head()
                except StoreError as exc:
                    log.warning("reading the change log's head: %s", exc)
                    head = self._head
                if head != self._head:
                    self._head = head
                    moved, self._moved = self._moved, asyncio.Event()
                    moved.set()
                await asyncio.sleep(self._every)
        finally:
            self._task = None


class ChangeFeed:
    def __init__(
        self,
        store: ChangeLog,
        *,
        retention_days: int = 7,
        clock: Callable[[], float] = time.time,
        watch: HeadWatch | None = None,
    ) -> None:
        self._store = store
        self._retention = retention_days * DAY
        self._clock = clock
        self._watch = watch or HeadWatch(store)

    async def read(self, after: int, limit: int, scope: Scope, wait: float = 0) -> ChangePage:
        """The records after `after` that `scope` sees, at most `limit`; if there are
        none, waits up to `wait` seconds for some."""
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            page = await self._store.changes_after(after, limit, scope)
            if page.changes or page.lost(after):
                break
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0 or not await self._watch.wait_past(page.head, left):
                break
        if page.lost(after):
            raise CursorGone(
                f"the change log holds no records right after {after}: it holds"
                f" {page.pruned_through + 1} to {page.head}; read the jobs again (GET Job)"
                f" and follow the log from {page.head}",
                oldest=page.pruned_through + 1,
                head=page.head,
            )
        return page

    async def head(self) -> int:
        """The cursor of "from now on"."""
        return await self._store.change_head()

    async def oldest_cursor(self) -> int:
        """The cursor of "from the oldest record kept"."""
        return (await self._store.changes_after(0, 1, EVERYTHING)).pruned_through

    async def prune(self) -> None:
        """Drop the records older than the retention (the server runs it every minute)."""
        gone = await self._store.prune_changes(int(self._clock() - self._retention))
        if gone:
            log.info("pruned %d change log records older than the retention", gone)
