"""What the auth service read from the catalogue (sessions, access tokens), trusted for a
few seconds so that every request of a client does not read its session again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

# A session read from the catalogue is trusted this long without reading it again: a
# logout or renewal made through another worker reaches this one within that time.
SESSION_CACHE_SECONDS = 5
SESSION_CACHE_SIZE = 10_000

K = TypeVar("K")
V = TypeVar("V")


class ReadCache(Generic[K, V]):
    """What was read from the catalogue, trusted for SESSION_CACHE_SECONDS; bounded (a
    full cache is emptied, not grown)."""

    def __init__(self) -> None:
        self._entries: dict[K, tuple[int, V]] = {}

    async def get(self, key: K, now: int, read: Callable[[K], Awaitable[V | None]]) -> V | None:
        cached = self._entries.get(key)
        if cached is not None and 0 <= now - cached[0] < SESSION_CACHE_SECONDS:
            return cached[1]
        found = await read(key)
        if found is None:
            self._entries.pop(key, None)
        else:
            self.put(key, now, found)
        return found

    def put(self, key: K, now: int, value: V) -> None:
        if len(self._entries) >= SESSION_CACHE_SIZE:
            self._entries.clear()
        self._entries[key] = (now, value)

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)
