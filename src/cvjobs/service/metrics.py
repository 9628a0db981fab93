"""`/metrics`: what the catalogue's metrics are made of, read within the scope of the
account that scrapes (render/metrics.py writes them in Prometheus' format).

Everything is read from what is kept ahead (the job counts, the durations, the change
log's head) or found by a few index probes per subclient (store/metrics.py), so a scrape
at a million jobs costs milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable

from cvjobs.model import MetricsSnapshot, Scope
from cvjobs.service.rpo import RpoService
from cvjobs.store.protocols import ChangeLog, MetricReads


class MetricsService:
    def __init__(
        self, store: MetricReads, log: ChangeLog, rpo: RpoService, clock: Callable[[], float]
    ) -> None:
        self._store = store
        self._log = log
        self._rpo = rpo
        self._clock = clock  # the jobs' clock, against which RPOs are judged

    async def snapshot(self, scope: Scope) -> MetricsSnapshot:
        return MetricsSnapshot(
            counts=await self._store.job_count_rows(scope),
            durations=await self._store.duration_rows(scope),
            last=await self._store.last_jobs(scope),
            head=await self._log.change_head(),
            webhooks=await self._store.delivery_counts() if scope.everything else [],
            rpo=await self._rpo.clients(int(self._clock()), scope),
        )
