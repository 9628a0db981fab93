"""Rendered answers of finished jobs, kept for a short while.

A finished job does not change in the normal course of things, so GET Job/{id} of one can
answer bytes already rendered: no query, no render. Writes through this process (ingest)
empty the cache at once; a change made by another process (an import, another worker's
ingest) shows within TTL_SECONDS.
"""

from __future__ import annotations

from typing import Final

TTL_SECONDS: Final = 30
MAX_ENTRIES: Final = 50_000


class RenderCache:
    def __init__(self) -> None:
        self._entries: dict[tuple[int, str], tuple[int, bytes]] = {}

    def get(self, job_id: int, fmt: str, now: int) -> bytes | None:
        entry = self._entries.get((job_id, fmt))
        if entry is None or not 0 <= now - entry[0] < TTL_SECONDS:
            return None
        return entry[1]

    def put(self, job_id: int, fmt: str, now: int, body: bytes) -> None:
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[(job_id, fmt)] = (now, body)

    def clear(self) -> None:
        self._entries.clear()
