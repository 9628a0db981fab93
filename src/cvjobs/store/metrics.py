"""What `/metrics` reads: job counts by key from the kept counts (store/counts.py), and
each subclient's last job of each selector (any finished, successful, successful full),
found by walking the subclient's index backward from its newest job: a few index probes a
subclient, never a scan of the jobs. `MetricTables` is a mixin of `SqlStore`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cvjobs.model import LastJob, Scope
from cvjobs.store.driver import Database
from cvjobs.store.filters import ACTIVE_LITERALS, SUCCESSFUL_LITERALS, Where

# The selectors and the condition each puts on the subclient's jobs, newest first. The
# status is wrapped in an expression so that no planner takes the status index instead of
# the subclient's (walked back from its newest job, stopping at the first match): SQLite
# did, and a scrape of a million demo jobs took 1.5 s instead of 4 ms. The backup level
# is not (no index has it): wrapped, PostgreSQL guessed that almost no job matches both
# and read all of each subclient's jobs to sort them, 2.4 s a scrape.
_STATUS = "(j.status || '')"
SELECTORS = {
    "last": f"{_STATUS} NOT IN ({ACTIVE_LITERALS})",
    "last_successful": f"{_STATUS} IN ({SUCCESSFUL_LITERALS})",
    "last_successful_full": f"{_STATUS} IN ({SUCCESSFUL_LITERALS}) AND j.backup_level = 1",
}
_LAST = (
    "SELECT s.id, s.name, "
    + ", ".join(
        f"(SELECT j.id FROM jobs j WHERE j.subclient_id = s.id AND {condition}"
        " ORDER BY j.id DESC LIMIT 1)"
        for condition in SELECTORS.values()
    )
    + " FROM subclients s"
)
_JOBS = (
    "SELECT j.id, coalesce(j.client_id, 0), coalesce(c.name, ''), j.status, j.end_time,"
    " j.elapsed_time, j.size_of_application, j.size_of_media_on_disk, j.total_num_of_files,"
    " j.total_failed_files FROM jobs j LEFT JOIN clients c ON c.id = j.client_id"
)


class MetricTables:
    _db: Database

    async def job_count_rows(self, scope: Scope) -> list[tuple[int, str, str, str, int]]:
        """(client id, client name, job type, status, jobs) of every key with jobs."""
        where = Where()
        where.scoped("t.client_id", scope)
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                "SELECT t.client_id, coalesce(c.name, ''), t.job_type, t.status, sum(t.n)"
                f" FROM job_totals t LEFT JOIN clients c ON c.id = t.client_id{where.sql}"
                " GROUP BY t.client_id, c.name, t.job_type, t.status HAVING sum(t.n) > 0"
                " ORDER BY 1, 3, 4",
                where.params,
            )
        return [(int(r[0]), r[1], r[2], r[3], int(r[4])) for r in rows]

    async def duration_rows(self, scope: Scope) -> list[tuple[str, str, int, int, int]]:
        """(job type, status, bucket, jobs, seconds) of finished jobs in `scope`
        (store/durations.py's buckets)."""
        where = Where()
        where.scoped("client_id", scope)
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                "SELECT job_type, status, bucket, sum(n), sum(seconds)"
                f" FROM job_duration_counts{where.sql} GROUP BY 1, 2, 3 HAVING sum(n) > 0"
                " ORDER BY 1, 2, 3",
                where.params,
            )
        return [(r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in rows]

    async def last_jobs(self, scope: Scope) -> list[LastJob]:
        """Each subclient's last job of each selector that has one, within `scope`."""
        async with self._db.reading() as conn:
            found = await conn.fetchall(_LAST)
            wanted = sorted({job_id for row in found for job_id in row[2:] if job_id})
            jobs: dict[int, Sequence[Any]] = {}
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                where = Where()
                where.among("j.id", chunk)
                where.scoped("j.client_id", scope)
                for r in await conn.fetchall(_JOBS + where.sql, where.params):
                    jobs[r[0]] = r
        return [
            LastJob(
                selector=selector,
                subclient=row[1],
                subclient_id=row[0],
                client=r[2],
                client_id=r[1],
                status=r[3],
                end_time=r[4],
                duration=r[5],
                application_bytes=r[6],
                media_bytes=r[7],
                files=r[8],
                failed_files=r[9],
            )
            for row in found
            for selector, job_id in zip(SELECTORS, row[2:], strict=True)
            if job_id in jobs
            for r in (jobs[job_id],)
        ]
