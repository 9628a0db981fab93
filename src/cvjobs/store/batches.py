"""The bulk writer: job records turned into the rows one flush writes (`Batch`, pure, so a
bulk import prepares batches in worker processes), the `EntityWriter` that writes what the
jobs name once per flush, and `write_batches`, which writes any number of batches in one
transaction, building the job indexes once at the end of a big load into an empty
catalogue."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import orjson

from cvjobs import vocab
from cvjobs.errors import StaleUpdate
from cvjobs.model import AuditEntry, Job, JobRecord
from cvjobs.store import changes, counts, durations
from cvjobs.store.audit import write_audit
from cvjobs.store.driver import Connection, Database
from cvjobs.store.events import INSERT_EVENT, event_params
from cvjobs.store.filters import in_list
from cvjobs.store.rows import (
    COLUMN_NAMES,
    SECTION_COLUMNS,
    UPSERT_JOB,
    UPSERT_SECTION,
    job_params,
)
from cvjobs.store.values import JobState

# A first batch this big into an empty catalogue builds the job indexes at the end.
DEFER_FROM = 1_000
ANALYZE_AFTER = 10_000
# The engine moves this job (engine_jobs, schema v9).
OWN = "INSERT INTO engine_jobs (job_id) VALUES (?) ON CONFLICT (job_id) DO NOTHING"


def keep_name(table: str) -> str:
    """A record that names an entity by id alone (name "") does not blank the stored
    name; a new name renames it (a mirror follows renames)."""
    return f"CASE WHEN excluded.name = '' THEN {table}.name ELSE excluded.name END"


Pair = tuple[int, str]  # an entity as (id, name)
NAMED_TABLES = (
    "clients",
    "app_types",
    "instances",
    "storage_policies",
    "job_users",
    "client_groups",
)


def _merged(old: tuple[Any, ...] | None, new: tuple[Any, ...]) -> tuple[Any, ...]:
    """Two writes of one row as the upsert applies them in turn: a None column (or an
    empty name, always last) keeps what was there."""
    if old is None:
        return new
    *columns, name = (n if n is not None else o for n, o in zip(new, old, strict=True))
    return (*columns, name or old[-1])


class EntityWriter:
    """The entities jobs refer to, collected while jobs are read and written once per
    flush, a statement per table: a million jobs on thirty clients cost thirty client
    rows, not a million writes. Rows already written and unchanged are not written again."""

    def __init__(self) -> None:
        self._named: dict[str, dict[int, str]] = {table: {} for table in NAMED_TABLES}
        self._backupsets: dict[int, tuple[Any, ...]] = {}
        self._subclients: dict[int, tuple[Any, ...]] = {}
        self._members: dict[int, tuple[Pair, ...]] = {}
        self._written: dict[tuple[str, int], Any] = {}

    def _name(self, table: str, entity: Pair) -> None:
        entity_id, name = entity
        if entity_id:
            rows = self._named[table]
            if name or entity_id not in rows:
                rows[entity_id] = name

    @staticmethod
    def _merge(rows: dict[int, tuple[Any, ...]], key: int, row: tuple[Any, ...]) -> None:
        old = rows.get(key)
        if old != row:
            rows[key] = _merged(old, row)

    def add(self, job: Job, set_groups: bool) -> None:
        self.add_entities(
            (job.client.id, job.client.name),
            (job.dest_client.id, job.dest_client.name),
            (job.app.id, job.app.name),
            (job.instance.id, job.instance.name),
            (job.storage_policy.id, job.storage_policy.name),
            (job.user.id, job.user.name),
            (job.backupset.id, job.backupset.name),
            (job.subclient.id, job.subclient.name),
            tuple((g.id, g.name) for g in job.client_groups) if set_groups else None,
        )

    def add_entities(
        self,
        client: Pair,
        dest: Pair,
        app: Pair,
        instance: Pair,
        storage_policy: Pair,
        user: Pair,
        backupset: Pair,
        subclient: Pair,
        groups: tuple[Pair, ...] | None,
    ) -> None:
        """A job's entities as (id, name) pairs (id 0: none); `groups` None when the
        record does not say which groups its client is in."""
        self._name("clients", client)
        self._name("clients", dest)
        self._name("app_types", app)
        self._name("instances", instance)
        self._name("storage_policies", storage_policy)
        self._name("job_users", user)
        if backupset[0]:
            row = (client[0] or None, app[0] or None, instance[0] or None, backupset[1])
            self._merge(self._backupsets, backupset[0], row)
        if subclient[0]:
            self._merge(self._subclients, subclient[0], (backupset[0] or None, subclient[1]))
        if groups is not None and client[0]:
            self._members[client[0]] = groups
            for group in groups:
                self._name("client_groups", group)

    def absorb(self, other: EntityWriter) -> None:
        """Take what another writer collected (in another process, say) as if its jobs
        had been added here, in order."""
        for table, rows in other._named.items():
            for key, name in rows.items():
                self._name(table, (key, name))
        for key, row in other._backupsets.items():
            self._merge(self._backupsets, key, row)
        for key, row in other._subclients.items():
            self._merge(self._subclients, key, row)
        self._members.update(other._members)

    def _fresh(self, table: str, rows: dict[int, Any]) -> list[tuple[int, Any]]:
        """The (key, row) pairs of `rows` that differ from what this writer wrote before;
        `rows` is emptied."""
        fresh = []
        for key, row in rows.items():
            if self._written.get((table, key)) != row:
                self._written[table, key] = row
                fresh.append((key, row))
        rows.clear()
        return fresh

    async def flush(self, conn: Connection) -> None:
        """Write what was collected; entities come before the jobs that refer to them."""
        for table in NAMED_TABLES:
            await conn.executemany(
                f"INSERT INTO {table} (id, name) VALUES (?, ?)"
                f" ON CONFLICT (id) DO UPDATE SET name = {keep_name(table)}",
                self._fresh(table, self._named[table]),
            )
        await conn.executemany(
            "INSERT INTO backupsets (id, client_id, app_id, instance_id, name)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
            " client_id = coalesce(excluded.client_id, backupsets.client_id),"
            " app_id = coalesce(excluded.app_id, backupsets.app_id),"
            " instance_id = coalesce(excluded.instance_id, backupsets.instance_id),"
            f" name = {keep_name('backupsets')}",
            [(key, *row) for key, row in self._fresh("backupsets", self._backupsets)],
        )
        await conn.executemany(
            "INSERT INTO subclients (id, backupset_id, name) VALUES (?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET"
            " backupset_id = coalesce(excluded.backupset_id, subclients.backupset_id),"
            f" name = {keep_name('subclients')}",
            [(key, *row) for key, row in self._fresh("subclients", self._subclients)],
        )
        members = self._fresh("client_group_members", self._members)
        await conn.executemany(
            "DELETE FROM client_group_members WHERE client_id = ?",
            [(client_id,) for client_id, _ in members],
        )
        await conn.executemany(
            "INSERT INTO client_group_members (client_id, group_id) VALUES (?, ?)"
            " ON CONFLICT DO NOTHING",
            [(client_id, group[0]) for client_id, groups in members for group in groups],
        )


@dataclass(slots=True)
class Batch:
    """Job records turned into the rows one flush writes: jobs rows in the order of
    `cvjobs.store.rows.COLUMNS`, sections, events, and the entities the jobs name.
    Preparing is pure and the result pickles cheaply (plain tuples), so a bulk import
    prepares in worker processes while the store writes."""

    jobs: list[tuple[Any, ...]] = field(default_factory=list)
    sections: list[tuple[int, str, str]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    entities: EntityWriter = field(default_factory=EntityWriter)

    @property
    def job_ids(self) -> list[int]:
        return [row[0] for row in self.jobs]

    def add(self, record: JobRecord) -> None:
        job = record.job
        self.entities.add(job, record.set_client_groups)
        self.jobs.append(job_params(job))
        self.sections.extend(
            (job.job_id, name, orjson.dumps(body).decode())
            for name, body in record.sections.items()
        )
        self.events.extend(event_params(e) for e in record.events)


def prepare(records: Iterable[JobRecord]) -> Batch:
    batch = Batch()
    for record in records:
        batch.add(record)
    return batch


BATCH = 10_000  # records prepared and written together


def prepare_batches(records: Iterable[JobRecord], size: int) -> Iterator[Batch]:
    """Records prepared `size` at a time, as they are taken."""
    iterator = iter(records)
    while chunk := list(islice(iterator, size)):
        yield prepare(chunk)


async def write_batches(
    db: Database,
    batches: Iterable[Batch],
    *,
    stale_check: Sequence[Job] = (),
    audit: Sequence[AuditEntry] = (),
    for_engine: bool = False,
) -> int:
    """Write the batches in one transaction, with `audit` entries; StaleUpdate (nothing
    written) if a job of `stale_check` is older than the stored one. Returns how many
    jobs were written."""
    count = 0
    async with db.transaction() as conn:
        if stale_check:
            await _check_newer(conn, stale_check)
        await write_audit(conn, audit)
        entities = EntityWriter()
        deferred: list[str] | None = None
        for batch in batches:
            if deferred is None and len(batch.jobs) >= DEFER_FROM:
                deferred = await _defer_structure_if_empty(db, conn)
            entities.absorb(batch.entities)
            await entities.flush(conn)
            if batch.jobs:
                await conn.upsert_many(UPSERT_JOB, "jobs", COLUMN_NAMES, batch.jobs)
                # An empty catalogue has no engine jobs to take over.
                await _set_owner(conn, batch, for_engine, taken_over=not deferred)
            if batch.sections:
                await conn.upsert_many(
                    UPSERT_SECTION, "job_sections", SECTION_COLUMNS, batch.sections
                )
            await conn.executemany(INSERT_EVENT, batch.events)
            count += len(batch.jobs)
        for create in deferred or ():
            await conn.execute(create)
    if count >= ANALYZE_AFTER:
        # Fresh statistics after a bulk load: without them the planner walks the is_aged
        # index for "finished in the last day", 600 ms instead of 1 ms at 1M.
        async with db.transaction() as conn:
            await conn.execute("ANALYZE jobs")
    return count


async def _set_owner(conn: Connection, batch: Batch, for_engine: bool, taken_over: bool) -> None:
    """Jobs written for the engine (the demo's) are its to move, if active; any other
    write is a report, and the reporter takes the job over (`taken_over`: if the engine
    may have any)."""
    if for_engine:
        active = [(row[0],) for row in batch.jobs if vocab.is_active(row[1])]
        await conn.executemany(OWN, active)
    elif taken_over:
        job_ids = batch.job_ids
        for start in range(0, len(job_ids), 500):
            part = job_ids[start : start + 500]
            await conn.execute(f"DELETE FROM engine_jobs WHERE {in_list('job_id', part)}", part)


async def _defer_structure_if_empty(db: Database, conn: Connection) -> list[str]:
    """A big load into an empty catalogue builds the job indexes (and checks foreign keys,
    and counts the jobs) once at the end instead of row by row, inside the same
    transaction: on SQLite twice as fast, on PostgreSQL five times. The engine then owns
    no job, so the load need not take any over, and every job loaded is logged as
    created in one statement. Returns the statements to run then."""
    if await conn.fetchone("SELECT 1 FROM jobs LIMIT 1") is not None:
        return []
    await conn.execute("DELETE FROM engine_jobs")  # left by deleted jobs, if any
    structure = await conn.fetchall(db.dialect.job_structure)
    for drop, _ in structure:
        await conn.execute(drop)
    return [
        *counts.REBUILD,
        *durations.REBUILD,
        *changes.log_all(db.dialect.name),
        *(create for _, create in reversed(structure)),
    ]


async def job_states(conn: Connection, job_ids: Sequence[int]) -> dict[int, JobState]:
    """The states of those of the jobs that exist, one query per thousand."""
    states: dict[int, JobState] = {}
    for start in range(0, len(job_ids), 1000):
        chunk = tuple(job_ids[start : start + 1000])
        for row in await conn.fetchall(
            "SELECT id, status, last_update_time, client_id FROM jobs WHERE "
            + in_list("id", chunk),
            chunk,
        ):
            states[row[0]] = JobState(row[1], row[2], row[3] or 0)
    return states


async def _check_newer(conn: Connection, jobs: Sequence[Job]) -> None:
    """StaleUpdate if any stored job was updated after the record that replaces it."""
    stored = await job_states(conn, [job.job_id for job in jobs])
    for job in jobs:
        if job.job_id in stored and stored[job.job_id][1] > job.last_update_time:
            raise StaleUpdate(
                f"job {job.job_id} was last updated at {stored[job.job_id][1]}, after"
                f" this update's lastUpdateTime {job.last_update_time}; nothing was changed"
            )
