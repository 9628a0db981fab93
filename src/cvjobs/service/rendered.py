"""Rendered answers kept: of finished jobs, for a short while (`RenderCache`: GET Job/{id}
and AdvancedDetails, JobService.rendered_job and rendered_advanced), and of job list
pages and active jobs' AdvancedDetails, while the catalogue is unchanged (`KeptAnswers`).

A finished job does not change in the normal course of things, so GET Job/{id} of one,
or its AdvancedDetails, can answer bytes already rendered: no query, no render. Job
control and the engine move only active jobs, which are never kept; the one write that
may change a finished job, a report (IngestService), forgets it in this process at once.
A change made by another process (an import, another worker's ingest) shows within
TTL_SECONDS.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Final

from cvjobs.model import Job

TTL_SECONDS: Final = 30
# Bodies kept at most, in bytes: about 8,000 jobs in both formats. Bounded by size, not
# count, because it is most of what a server holds beyond the interpreter.
MAX_BYTES: Final = 16 << 20


class RenderCache:
    """(job, body) by (job id, variant): a format, or an AdvancedDetails request in one;
    the job is kept so that who may see it can be checked on every hit."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self._entries: dict[tuple[int, str], tuple[int, Job, bytes]] = {}
        self._bytes = 0
        self._max_bytes = max_bytes
        self._variants: set[str] = set()  # the variants of what was kept

    def get(self, job_id: int, variant: str, now: int) -> tuple[Job, bytes] | None:
        entry = self._entries.get((job_id, variant))
        if entry is None or not 0 <= now - entry[0] < TTL_SECONDS:
            return None
        return entry[1], entry[2]

    def put(self, job: Job, variant: str, now: int, body: bytes) -> None:
        # A copy of exactly its length: orjson's bytes keep the whole buffer they were
        # written into (32 KiB for a 2 KiB job), which made the cache's memory 16 times
        # what it counted.
        body = bytes(memoryview(body))
        if self._bytes + len(body) > self._max_bytes:
            self.clear()  # crude, but O(1) a request and it keeps the bound
        old = self._entries.get((job.job_id, variant))
        self._bytes += len(body) - (len(old[2]) if old else 0)
        self._entries[(job.job_id, variant)] = (now, job, body)
        self._variants.add(variant)

    def forget(self, job_ids: Iterable[int]) -> None:
        """Drop what is kept of these jobs, in every format."""
        for job_id in job_ids:
            for variant in self._variants:
                entry = self._entries.pop((job_id, variant), None)
                if entry is not None:
                    self._bytes -= len(entry[2])

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0


# Answers kept at most, in bytes (a page of 100 jobs is about 250 KB of JSON), and the
# largest answer kept.
KEPT_BYTES: Final = 32 << 20
KEPT_MAX: Final = 2 << 20


class KeptAnswers:
    """Answers by what they answer (a list's query and format; a job's AdvancedDetails
    request), each with the catalogue version it was read at: asked again of an unchanged
    catalogue, the same bytes without a query. Exact, whoever writes, on every backend
    (see Database.version); an answer that depends on the time keeps it in its key
    (JobQuery.now). The oldest go first when it is full."""

    def __init__(self, max_bytes: int = KEPT_BYTES, max_answer: int = KEPT_MAX) -> None:
        self._entries: dict[Hashable, tuple[Hashable, bytes]] = {}
        self._bytes = 0
        self._max_bytes = max_bytes
        self._max_answer = max_answer

    def get(self, key: Hashable, version: Hashable) -> bytes | None:
        entry = self._entries.get(key)
        return entry[1] if entry is not None and entry[0] == version else None

    def put(self, key: Hashable, version: Hashable, body: bytes) -> None:
        if len(body) > self._max_answer:
            return
        body = bytes(memoryview(body))  # exactly its length (see RenderCache.put)
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old[1])
        while self._entries and self._bytes + len(body) > self._max_bytes:
            _, dropped = self._entries.pop(next(iter(self._entries)))
            self._bytes -= len(dropped)
        self._entries[key] = (version, body)
        self._bytes += len(body)
