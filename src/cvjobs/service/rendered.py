"""Rendered answers of finished jobs, kept for a short while (JobService.rendered_job).

A finished job does not change in the normal course of things, so GET Job/{id} of one can
answer bytes already rendered: no query, no render. Job control and the engine move only
active jobs, which are never kept; the one write that may change a finished job, a
report (IngestService), forgets it in this process at once. A change made by another
process (an import, another worker's ingest) shows within TTL_SECONDS.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from cvjobs.model import Job

TTL_SECONDS: Final = 30
# Bodies kept at most, in bytes: about 8,000 jobs in both formats. Bounded by size, not
# count, because it is most of what a server holds beyond the interpreter.
MAX_BYTES: Final = 16 << 20


class RenderCache:
    """(job, body) by (job id, format); the job is kept so that who may see it can be
    checked on every hit."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self._entries: dict[tuple[int, str], tuple[int, Job, bytes]] = {}
        self._bytes = 0
        self._max_bytes = max_bytes
        self._formats: set[str] = set()  # the formats of what was kept

    def get(self, job_id: int, fmt: str, now: int) -> tuple[Job, bytes] | None:
        entry = self._entries.get((job_id, fmt))
        if entry is None or not 0 <= now - entry[0] < TTL_SECONDS:
            return None
        return entry[1], entry[2]

    def put(self, job: Job, fmt: str, now: int, body: bytes) -> None:
        # A copy of exactly its length: orjson's bytes keep the whole buffer they were
        # written into (32 KiB for a 2 KiB job), which made the cache's memory 16 times
        # what it counted.
        body = bytes(memoryview(body))
        if self._bytes + len(body) > self._max_bytes:
            self.clear()  # crude, but O(1) a request and it keeps the bound
        old = self._entries.get((job.job_id, fmt))
        self._bytes += len(body) - (len(old[2]) if old else 0)
        self._entries[(job.job_id, fmt)] = (now, job, body)
        self._formats.add(fmt)

    def forget(self, job_ids: Iterable[int]) -> None:
        """Drop what is kept of these jobs, in every format."""
        for job_id in job_ids:
            for fmt in self._formats:
                entry = self._entries.pop((job_id, fmt), None)
                if entry is not None:
                    self._bytes -= len(entry[2])

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0
