"""The jobs of a SQL store: reads by id, lists, the engine's active jobs, writes (upserts
through the bulk writer, compare-and-set replacements, new jobs under allocated ids), the
jobs' sections and storage policies, and the export of `cvjobs copy`. `JobTables` is a
mixin of `SqlStore`, needing only its `Database` and the dialect's job read."""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import replace

import orjson

from cvjobs.errors import StoreError
from cvjobs.model import (
    AuditEntry,
    Event,
    Job,
    JobQuery,
    JobRecord,
    JsonObject,
    PolicyCopy,
    Ref,
    StoragePolicy,
)
from cvjobs.ranges import RANGES
from cvjobs.store import counts
from cvjobs.store.audit import write_audit
from cvjobs.store.batches import (
    BATCH,
    OWN,
    Batch,
    EntityWriter,
    job_states,
    prepare_batches,
    write_batches,
)
from cvjobs.store.driver import Connection, Database, Undo
from cvjobs.store.events import INSERT_EVENT, event_params
from cvjobs.store.filters import IS_ACTIVE, SORT_COLUMNS, in_list, job_filter
from cvjobs.store.rows import (
    INSERT_JOB,
    REPLACE_JOB,
    SECTION_COLUMNS,
    UPSERT_SECTION,
    job_from_row,
    job_params,
    mutable_params,
)
from cvjobs.store.values import JobChange, JobState

JOB_ID_MAX = RANGES["jobId"][1]
_SCAN = 1000  # ids read at a time when looking for a gap
WALK_FROM = 20_000  # matches from which a page may be found by walking the jobs


async def allocate_job_id(conn: Connection, first_id: int) -> int:
    """The id for a job this server creates: at or above `first_id` and every id given
    before, and above every id already stored from there up, or when the range's top id is
    taken (a reporter wrote it), the first gap. Updating the sequence row first locks it
    on PostgreSQL, so concurrent allocations take turns (SQLite's BEGIN IMMEDIATE already
    serialises writers)."""
    row = await conn.fetchone(
        "UPDATE job_id_sequence SET next_id = next_id WHERE id = 1 RETURNING next_id"
    )
    if row is None:
        raise StoreError("the catalogue has lost its job id sequence (job_id_sequence)")
    start = max(int(row[0]), first_id)
    top = await conn.fetchone(
        "SELECT max(id) FROM jobs WHERE id >= ? AND id <= ?", (start, JOB_ID_MAX)
    )
    above = start if top is None or top[0] is None else int(top[0]) + 1
    job_id = above if above <= JOB_ID_MAX else await _first_gap(conn, start)
    if job_id is None:
        raise StoreError(f"no job id is left from {start} to {JOB_ID_MAX}; lower --job-id-base")
    await conn.execute("UPDATE job_id_sequence SET next_id = ? WHERE id = 1", (job_id + 1,))
    return job_id


async def _first_gap(conn: Connection, start: int) -> int | None:
    """The lowest unused id from `start` to JOB_ID_MAX, or None."""
    candidate = start
    while True:
        rows = await conn.fetchall(
            "SELECT id FROM jobs WHERE id >= ? AND id <= ? ORDER BY id LIMIT ?",
            (candidate, JOB_ID_MAX, _SCAN),
        )
        for (taken,) in rows:
            if taken != candidate:
                return candidate
            candidate += 1
        if len(rows) < _SCAN:
            return candidate if candidate <= JOB_ID_MAX else None


def walk_pays(total: int, jobs: int, reach: int) -> bool:
    """Whether a page in id order, ending `reach` matches in, is found sooner by walking
    the `jobs` from one end than from an index of the filter's columns. The index finds
    every match, then sorts them: `total` rows. The walk stops at the page's last match,
    after about reach x jobs / total rows if the matches are spread alike. SQLite's
    planner took the index for the unfiltered list (most jobs match): 392 ms at three
    million jobs, and 3.5 s at ten, where the walk takes 0.05 ms."""
    return reach * jobs <= total * total


class JobTables:
    """The job reads and writes of a SQL store."""

    _db: Database
    _select_job: str  # rows.select_job in the database's dialect

    async def get_job(self, job_id: int) -> Job | None:
        async with self._db.reading() as conn:
            row = await conn.fetchone(self._select_job + " WHERE j.id = ?", (job_id,))
        return job_from_row(row) if row else None

    async def get_jobs(self, job_ids: Collection[int]) -> dict[int, Job]:
        """Those of the jobs that exist, by id, a query per thousand."""
        found: dict[int, Job] = {}
        wanted = sorted(set(job_ids))
        async with self._db.reading() as conn:
            for start in range(0, len(wanted), 1000):
                chunk = wanted[start : start + 1000]
                for row in await conn.fetchall(
                    self._select_job + " WHERE " + in_list("j.id", chunk), chunk
                ):
                    job = job_from_row(row)
                    found[job.job_id] = job
        return found

    async def catalogue_version(self) -> Hashable:
        return await self._db.version()

    async def get_sections(self, job_id: int, names: Collection[str]) -> dict[str, JsonObject]:
        if not names:
            return {}
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                "SELECT name, body FROM job_sections WHERE job_id = ? AND "
                + in_list("name", frozenset(names)),
                (job_id, *sorted(names)),
            )
        return {row[0]: orjson.loads(row[1]) for row in rows}

    async def upsert_jobs(
        self,
        records: Iterable[JobRecord],
        *,
        require_newer: bool = False,
        audit: Sequence[AuditEntry] = (),
        for_engine: bool = False,
    ) -> int:
        stale_check: list[Job] = []
        if require_newer:
            records = list(records)
            stale_check = [r.job for r in records]
        return await write_batches(
            self._db,
            prepare_batches(records, BATCH),
            stale_check=stale_check,
            audit=audit,
            for_engine=for_engine,
        )

    async def load(self, batches: Iterable[Batch]) -> int:
        return await write_batches(self._db, batches)

    async def engine_jobs(self, job_ids: Collection[int] | None = None) -> set[int]:
        async with self._db.reading() as conn:
            if job_ids is None:
                rows = await conn.fetchall("SELECT job_id FROM engine_jobs")
            elif not job_ids:
                return set()
            else:
                ids = tuple(sorted(set(job_ids)))
                rows = await conn.fetchall(
                    f"SELECT job_id FROM engine_jobs WHERE {in_list('job_id', ids)}", ids
                )
        return {int(row[0]) for row in rows}

    async def give_to_engine(self, job_ids: Collection[int]) -> None:
        ids = sorted(set(job_ids))
        async with self._db.transaction() as conn:
            await conn.executemany(OWN, [(i,) for i in ids])

    async def job_states(self, job_ids: Sequence[int]) -> dict[int, JobState]:
        async with self._db.reading() as conn:
            return await job_states(conn, job_ids)

    async def put_sections(self, job_id: int, sections: dict[str, JsonObject]) -> bool:
        async with self._db.transaction() as conn:
            if await conn.fetchone("SELECT 1 FROM jobs WHERE id = ?", (job_id,)) is None:
                return False
            rows = [(job_id, name, orjson.dumps(body).decode()) for name, body in sections.items()]
            await conn.upsert_many(UPSERT_SECTION, "job_sections", SECTION_COLUMNS, rows)
        return True

    async def count_jobs(self) -> int:
        async with self._db.reading() as conn:
            row = await conn.fetchone("SELECT count(*) FROM jobs")
        return int(row[0]) if row else 0

    async def put_storage_policies(self, policies: Iterable[StoragePolicy]) -> None:
        async with self._db.transaction() as conn:
            for sp in policies:
                await conn.execute(
                    "INSERT INTO storage_policies (id, name) VALUES (?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                    (sp.policy.id, sp.policy.name),
                )
                await conn.execute(
                    "DELETE FROM storage_policy_copies WHERE policy_id = ?", (sp.policy.id,)
                )
                await conn.executemany(
                    "INSERT INTO storage_policy_copies"
                    " (id, policy_id, name, retention_days, is_default) VALUES (?, ?, ?, ?, ?)",
                    [
                        (c.copy_id, sp.policy.id, c.name, c.retention_days, int(c.is_default))
                        for c in sp.copies
                    ],
                )

    async def get_storage_policy(self, policy_id: int) -> StoragePolicy | None:
        async with self._db.reading() as conn:
            row = await conn.fetchone(
                "SELECT name FROM storage_policies WHERE id = ?", (policy_id,)
            )
            if row is None:
                return None
            copies = await conn.fetchall(
                "SELECT id, name, retention_days, is_default FROM storage_policy_copies"
                " WHERE policy_id = ? ORDER BY id",
                (policy_id,),
            )
        return StoragePolicy(
            Ref(policy_id, row[0]),
            tuple(PolicyCopy(c[0], c[1], c[2], bool(c[3])) for c in copies),
        )

    async def list_jobs(self, query: JobQuery) -> tuple[int, list[Job]]:
        where = job_filter(query)
        async with self._db.reading() as conn:
            if counts.covers(query):
                total = await counts.kept_total(conn, query)
            else:
                row = await conn.fetchone(f"SELECT count(*) FROM jobs j{where.sql}", where.params)
                total = int(row[0]) if row else 0
            if query.limit == 0 or query.offset >= total:
                return total, []
            # The page's ids first, from the jobs table (and clients, to sort by name)
            # alone; only then the joins for those rows. Joining before the sort would
            # build every matching row, a million in a big catalogue, to keep a hundred.
            direction = "DESC" if query.descending else "ASC"
            column = SORT_COLUMNS[query.sort_field]
            order = f" ORDER BY {column} {direction}" + (
                f", j.id {direction}" if column != "j.id" else ""
            )
            join = " LEFT JOIN clients c ON c.id = j.client_id" if column.startswith("c.") else ""
            table = "jobs j"
            if column == "j.id" and total >= WALK_FROM:
                reach = query.offset + query.limit
                if walk_pays(total, await counts.all_jobs(conn), reach):
                    table = self._db.dialect.jobs_in_id_order
            ids = [
                r[0]
                for r in await conn.fetchall(
                    f"SELECT j.id FROM {table}{join}{where.sql}{order} LIMIT ? OFFSET ?",
                    [*where.params, query.limit, query.offset],
                )
            ]
            rows = await conn.fetchall(
                self._select_job + " WHERE " + in_list("j.id", tuple(ids)), ids
            )
        by_id = {r[0]: job_from_row(r) for r in rows}
        return total, [by_id[i] for i in ids]

    async def active_jobs(self) -> list[Job]:
        # No ORDER BY: SQLite would rather walk the whole table in id order than sort a
        # few hundred rows (510 ms at a million jobs, every engine step).
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                self._select_job
                + " WHERE "
                + IS_ACTIVE
                + " AND j.id IN (SELECT job_id FROM engine_jobs)"
            )
        return sorted((job_from_row(r) for r in rows), key=lambda job: job.job_id)

    async def replace_jobs(
        self,
        changes: Sequence[JobChange],
        *,
        all_or_nothing: bool,
        audit: Sequence[AuditEntry] = (),
    ) -> int:
        written = 0
        async with self._db.transaction() as conn:
            await write_audit(conn, audit)  # undone with the rest if a change is refused
            for change in changes:
                changed = await conn.execute(
                    REPLACE_JOB,
                    (*mutable_params(change.job), change.job.job_id, change.expect_status),
                )
                if changed == 0:
                    if all_or_nothing:
                        written = 0
                        raise Undo
                    continue
                await conn.executemany(INSERT_EVENT, [event_params(e) for e in change.events])
                written += 1
        return written

    async def create_job(
        self,
        job: Job,
        events: Iterable[Event],
        audit: Sequence[AuditEntry] = (),
        *,
        first_id: int,
    ) -> Job:
        async with self._db.transaction() as conn:
            await write_audit(conn, audit)
            created = replace(job, job_id=await allocate_job_id(conn, first_id))
            entities = EntityWriter()
            entities.add(created, set_groups=False)
            await entities.flush(conn)
            await conn.execute(INSERT_JOB, job_params(created))
            await conn.execute(OWN, (created.job_id,))  # the engine moves what cvjobs makes
            await conn.executemany(
                INSERT_EVENT, [event_params(replace(e, job_id=created.job_id)) for e in events]
            )
        return created

    async def export_jobs(self, after_id: int, limit: int) -> list[JobRecord]:
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                self._select_job + " WHERE j.id > ? ORDER BY j.id LIMIT ?", (after_id, limit)
            )
            if not rows:
                return []
            sections = await conn.fetchall(
                "SELECT job_id, name, body FROM job_sections WHERE job_id > ? AND job_id <= ?",
                (after_id, rows[-1][0]),
            )
        by_job: dict[int, dict[str, JsonObject]] = {}
        for job_id, name, body in sections:
            by_job.setdefault(job_id, {})[name] = orjson.loads(body)
        return [
            JobRecord(job, by_job.get(job.job_id, {}))
            for job in (job_from_row(row) for row in rows)
        ]

    async def storage_policies(self) -> list[StoragePolicy]:
        async with self._db.reading() as conn:
            ids = [r[0] for r in await conn.fetchall("SELECT id FROM storage_policies ORDER BY id")]
        found = [await self.get_storage_policy(i) for i in ids]
        return [p for p in found if p is not None]
