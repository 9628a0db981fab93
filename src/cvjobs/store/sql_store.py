"""The job catalogue in SQL, the same on every backend: `SqlStore` implements the `Store`
protocol over a `Database` (sqlite.py, postgres.py), whose connections take the shared SQL
of `cvjobs.store.sql` and differ only where the dialect says so."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson

from cvjobs import vocab
from cvjobs.errors import StaleUpdate, StoreError
from cvjobs.model import (
    ADMIN,
    EVERYTHING,
    Account,
    AuditEntry,
    AuditQuery,
    Event,
    EventQuery,
    Job,
    JobQuery,
    JobRecord,
    JsonObject,
    PolicyCopy,
    Ref,
    Scope,
    StoragePolicy,
)
from cvjobs.ranges import RANGES
from cvjobs.store.base import (
    DISABLED,
    ENTITY_KINDS,
    FAILED,
    LOCKED,
    LOCKOUT,
    OK,
    OPEN,
    THROTTLED,
    JobChange,
    JobState,
    LoginAttempt,
    LoginRules,
    LoginVerdict,
    StoredAccount,
    StoredEntity,
    StoredSession,
    StoredToken,
)
from cvjobs.store.database import Connection, Database, Undo
from cvjobs.store.entity_reads import EntityReads
from cvjobs.store.sql import (
    BATCH,
    EVENT_COLUMNS,
    INSERT_EVENT,
    INSERT_JOB,
    IS_ACTIVE,
    JOB_COLUMN_NAMES,
    MUTABLE_COLUMNS,
    REPLACE_JOB,
    SECTION_COLUMNS,
    SORT_COLUMNS,
    UPSERT_JOB,
    UPSERT_SECTION,
    EntityWriter,
    Prepared,
    event_params,
    in_list,
    job_filter,
    job_from_row,
    job_params,
    prepare_batches,
    ref,
    scope_filter,
    select_job,
)

# A first batch this big into an empty catalogue builds the job indexes at the end.
DEFER_FROM = 1_000
ANALYZE_AFTER = 10_000
Migrations = Sequence[tuple[int, str]]


_OWN = "INSERT INTO engine_jobs (job_id) VALUES (?) ON CONFLICT (job_id) DO NOTHING"


async def _set_owner(conn: Connection, batch: Prepared, for_engine: bool) -> None:
    """Jobs written for the engine (the demo's) are its to move, if active; any other
    write is a report, and the reporter takes the job over."""
    if for_engine:
        active = [(row[0],) for row in batch.jobs if vocab.is_active(row[1])]
        await conn.executemany(_OWN, active)
    else:
        job_ids = batch.job_ids
        for start in range(0, len(job_ids), 500):
            part = job_ids[start : start + 500]
            await conn.execute(f"DELETE FROM engine_jobs WHERE {in_list('job_id', part)}", part)


MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations"
    " (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
)


async def migrate(conn: Connection, migrations: Migrations, split: Any, where: str) -> int:
    """Apply the migrations newer than the catalogue's version, in the caller's
    transaction; refuse a catalogue from a newer cvjobs. `split` turns a script into
    statements. Returns the version found (0: the catalogue is new)."""
    latest = migrations[-1][0]
    await conn.execute(MIGRATIONS_TABLE)
    row = await conn.fetchone("SELECT max(version) FROM schema_migrations")
    current = (row[0] if row else 0) or 0
    if current > latest:
        raise StoreError(
            f"the catalogue {where} has schema version {current}, newer than this cvjobs"
            f" understands ({latest}); upgrade cvjobs or use another --db"
        )
    for version, script in migrations:
        if version > current:
            for statement in split(script):
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                (version, int(time.time())),
            )
    await conn.executemany(
        "INSERT INTO app_types (id, name) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
        list(vocab.APP_TYPES.items()),
    )
    return int(current)


JOB_ID_MAX = RANGES["jobId"][1]
_SCAN = 1000  # ids read at a time when looking for a gap


async def _allocate_job_id(conn: Connection, first_id: int) -> int:
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


async def _job_states(conn: Connection, job_ids: Sequence[int]) -> dict[int, JobState]:
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


class SqlStore(EntityReads):
    """A job catalogue in a SQL database (the entity reads of the entity routes are in
    `EntityReads`)."""

    def __init__(self, db: Database, *, created: bool = False) -> None:
        self._db = db
        self._select_job = select_job(db.dialect)
        self.created = created

    async def close(self) -> None:
        await self._db.close()

    async def try_lead(self) -> bool:
        return await self._db.try_lead()

    async def maintain(self) -> None:
        await self._db.maintain()

    # -- jobs --------------------------------------------------------------------------

    async def get_job(self, job_id: int) -> Job | None:
        async with self._db.reading() as conn:
            row = await conn.fetchone(self._select_job + " WHERE j.id = ?", (job_id,))
        return job_from_row(row) if row else None

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
        stale_check: list[Job] | None = None
        if require_newer:
            records = list(records)
            stale_check = [r.job for r in records]
        return await self._load(prepare_batches(records, BATCH), stale_check, audit, for_engine)

    async def load(self, batches: Iterable[Prepared]) -> int:
        return await self._load(batches, None, (), False)

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
            await conn.executemany(_OWN, [(i,) for i in ids])

    async def _load(
        self,
        batches: Iterable[Prepared],
        stale_check: list[Job] | None,
        audit: Sequence[AuditEntry],
        for_engine: bool,
    ) -> int:
        count = 0
        async with self._db.transaction() as conn:
            if stale_check:
                await self._check_newer(conn, stale_check)
            await _audit(conn, audit)
            entities = EntityWriter()
            deferred: list[str] | None = None
            for batch in batches:
                if deferred is None and len(batch.jobs) >= DEFER_FROM:
                    deferred = await self._defer_structure_if_empty(conn)
                entities.absorb(batch.entities)
                await entities.flush(conn)
                if batch.jobs:
                    await conn.upsert_many(UPSERT_JOB, "jobs", JOB_COLUMN_NAMES, batch.jobs)
                    await _set_owner(conn, batch, for_engine)
                if batch.sections:
                    await conn.upsert_many(
                        UPSERT_SECTION, "job_sections", SECTION_COLUMNS, batch.sections
                    )
                await conn.executemany(INSERT_EVENT, batch.events)
                count += len(batch.jobs)
            for create in deferred or ():
                await conn.execute(create)
        if count >= ANALYZE_AFTER:
            # Fresh statistics after a bulk load: without them the planner walks the
            # is_aged index for "finished in the last day", 600 ms instead of 1 ms at 1M.
            async with self._db.transaction() as conn:
                await conn.execute("ANALYZE jobs")
        return count

    async def _defer_structure_if_empty(self, conn: Connection) -> list[str]:
        """A big load into an empty catalogue builds the job indexes (and checks foreign
        keys) once at the end instead of row by row, inside the same transaction: on
        SQLite twice as fast, on PostgreSQL five times. Returns the statements to run then."""
        if await conn.fetchone("SELECT 1 FROM jobs LIMIT 1") is not None:
            return []
        structure = await conn.fetchall(self._db.dialect.job_structure)
        for drop, _ in structure:
            await conn.execute(drop)
        return [create for _, create in reversed(structure)]

    @staticmethod
    async def _check_newer(conn: Connection, jobs: list[Job]) -> None:
        """StaleUpdate if any stored job was updated after the record that replaces it."""
        stored = await _job_states(conn, [job.job_id for job in jobs])
        for job in jobs:
            if job.job_id in stored and stored[job.job_id][1] > job.last_update_time:
                raise StaleUpdate(
                    f"job {job.job_id} was last updated at {stored[job.job_id][1]}, after"
                    f" this update's lastUpdateTime {job.last_update_time}; nothing was changed"
                )

    async def job_states(self, job_ids: Sequence[int]) -> dict[int, JobState]:
        async with self._db.reading() as conn:
            return await _job_states(conn, job_ids)

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
        where, params = job_filter(query)
        async with self._db.reading() as conn:
            row = await conn.fetchone(f"SELECT count(*) FROM jobs j{where}", params)
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
            ids = [
                r[0]
                for r in await conn.fetchall(
                    f"SELECT j.id FROM jobs j{join}{where}{order} LIMIT ? OFFSET ?",
                    [*params, query.limit, query.offset],
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
            await _audit(conn, audit)  # undone with the rest if a change is refused
            for change in changes:
                values = [
                    int(v) if isinstance(v, bool) else v
                    for v in (getattr(change.job, c) for c in MUTABLE_COLUMNS)
                ]
                changed = await conn.execute(
                    REPLACE_JOB, [*values, change.job.job_id, change.expect_status]
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
            await _audit(conn, audit)
            created = replace(job, job_id=await _allocate_job_id(conn, first_id))
            entities = EntityWriter()
            entities.add(created, set_groups=False)
            await entities.flush(conn)
            await conn.execute(INSERT_JOB, job_params(created))
            await conn.execute(_OWN, (created.job_id,))  # the engine moves what cvjobs makes
            await conn.executemany(
                INSERT_EVENT, [event_params(replace(e, job_id=created.job_id)) for e in events]
            )
        return created

    async def add_events(self, events: Iterable[Event], audit: Sequence[AuditEntry] = ()) -> None:
        async with self._db.transaction() as conn:
            await _audit(conn, audit)
            await conn.executemany(INSERT_EVENT, [event_params(e) for e in events])

    async def list_events(self, query: EventQuery) -> list[Event]:
        where: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("e.id = ?", query.event_id),
            ("e.job_id = ?", query.job_id),
            ("e.time >= ?", query.from_time),
            ("e.time <= ?", query.to_time),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        if query.severities is not None:
            where.append(in_list("e.severity", query.severities) if query.severities else "1 = 0")
            params.extend(sorted(query.severities))
        client_id = query.client_id
        if client_id is not None:
            clause, more = _of_current_client(lambda column: (f"{column} = ?", [client_id]))
            where.append(clause)
            params.extend(more)
        if not query.scope.everything:
            scope = query.scope
            clause, more = _of_current_client(lambda column: scope_filter(column, scope))
            where.append(clause)
            params.extend(more)
        condition = " WHERE " + " AND ".join(where) if where else ""
        return await self._events(condition + " ORDER BY e.id DESC LIMIT ?", [*params, query.limit])

    async def list_events_after(self, after_id: int, limit: int) -> list[Event]:
        return await self._events(" WHERE e.id > ? ORDER BY e.id LIMIT ?", [after_id, limit])

    async def _events(self, tail: str, params: Sequence[Any]) -> list[Event]:
        columns = [
            CURRENT_CLIENT if c.strip() == "client_id" else f"e.{c.strip()}"
            for c in EVENT_COLUMNS.split(",")
        ]
        sql = (
            f"SELECT {', '.join(columns)}, c.name FROM events e"
            f" LEFT JOIN jobs j ON j.id = e.job_id LEFT JOIN clients c ON c.id = {CURRENT_CLIENT}"
            + tail
        )
        async with self._db.reading() as conn:
            rows = await conn.fetchall(sql, params)
        return [
            Event(
                event_id=r[0],
                job_id=r[1] or 0,
                client=ref(r[2], r[12]),
                time=r[3],
                severity=r[4],
                code=r[5],
                subsystem=r[6],
                description=r[7],
                user=r[8],
                from_status=r[9],
                to_status=r[10],
                acknowledged=bool(r[11]),
            )
            for r in rows
        ]

    # -- export ------------------------------------------------------------------------

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

    async def export_events(self, after_id: int, limit: int) -> list[Event]:
        return await self.list_events_after(after_id, limit)

    async def storage_policies(self) -> list[StoragePolicy]:
        async with self._db.reading() as conn:
            ids = [r[0] for r in await conn.fetchall("SELECT id FROM storage_policies ORDER BY id")]
        found = [await self.get_storage_policy(i) for i in ids]
        return [p for p in found if p is not None]

    async def accounts(self) -> list[StoredAccount]:
        async with self._db.reading() as conn:
            rows = await conn.fetchall(f"SELECT {ACCOUNT_COLUMNS} FROM accounts a ORDER BY a.id")
            return [await _stored_account(conn, row) for row in rows]

    # -- accounts and sessions -----------------------------------------------------------

    async def count_accounts(self) -> int:
        async with self._db.reading() as conn:
            row = await conn.fetchone("SELECT count(*) FROM accounts")
        return int(row[0]) if row else 0

    async def create_account(
        self, name: str, password_hash: str, *, role: str, scope: Scope = EVERYTHING
    ) -> Account:
        async with self._db.transaction() as conn:
            if await conn.fetchone("SELECT 1 FROM accounts WHERE lower(name) = lower(?)", (name,)):
                raise StoreError(f"an account named {name!r} exists already")
            row = await conn.fetchone(
                "INSERT INTO accounts (name, password_hash, is_admin, role, created_at)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (name, password_hash, int(role == ADMIN), role, int(time.time())),
            )
            assert row is not None
            await _write_scope(conn, int(row[0]), scope)
        return Account(account_id=int(row[0]), name=name, role=role, scope=scope)

    async def get_account(self, name: str) -> StoredAccount | None:
        async with self._db.reading() as conn:
            row = await conn.fetchone(
                f"SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE lower(a.name) = lower(?)",
                (name,),
            )
            return None if row is None else await _stored_account(conn, row)

    async def update_account(
        self,
        account_id: int,
        *,
        password_hash: str | None = None,
        role: str | None = None,
        disabled: bool | None = None,
        unlock: bool = False,
    ) -> None:
        changes: list[tuple[str, Any]] = []
        unlock = unlock or password_hash is not None
        if password_hash is not None:
            changes.append(("password_hash", password_hash))
        if unlock:
            changes += [("failed_logins", 0), ("locked_until", 0)]
        if role is not None:
            changes += [("role", role), ("is_admin", int(role == ADMIN))]
        if disabled is not None:
            changes.append(("disabled", int(disabled)))
        if not changes:
            return
        async with self._db.transaction() as conn:
            await conn.execute(
                f"UPDATE accounts SET {', '.join(f'{c} = ?' for c, _ in changes)} WHERE id = ?",
                (*(v for _, v in changes), account_id),
            )
            if disabled or password_hash is not None:
                # A disabled account or a changed password ends every open login.
                await conn.execute("DELETE FROM sessions WHERE account_id = ?", (account_id,))
            if unlock:
                # The lock-out itself (see judge_login).
                row = await conn.fetchone("SELECT name FROM accounts WHERE id = ?", (account_id,))
                if row is not None:
                    await conn.execute(
                        "DELETE FROM login_guards WHERE subject = ?", (_name_subject(row[0]),)
                    )

    async def client_groups_of(self, client_ids: Collection[int]) -> dict[int, frozenset[int]]:
        ids = tuple(sorted(set(client_ids)))
        if not ids:
            return {}
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                "SELECT client_id, group_id FROM client_group_members WHERE "
                + in_list("client_id", ids),
                ids,
            )
        groups: dict[int, set[int]] = {client_id: set() for client_id in ids}
        for client_id, group_id in rows:
            groups[client_id].add(group_id)
        return {client_id: frozenset(g) for client_id, g in groups.items()}

    async def stored_entities(
        self, wanted: Mapping[str, Collection[int]]
    ) -> dict[str, dict[int, StoredEntity]]:
        found: dict[str, dict[int, StoredEntity]] = {kind: {} for kind in ENTITY_KINDS}
        async with self._db.reading() as conn:
            for kind, ids in wanted.items():
                rows: dict[int, StoredEntity] = found[kind]
                chosen = sorted(set(ids) - {0})
                for start in range(0, len(chosen), 1000):
                    chunk = tuple(chosen[start : start + 1000])
                    for entity_id, name, owner, parent in await conn.fetchall(
                        _ENTITY_FACTS[kind] + in_list(_ENTITY_ID[kind], chunk), chunk
                    ):
                        old = rows.get(entity_id)
                        owners = frozenset([owner] if owner else ())
                        if old is not None:  # an instance used by several backup sets
                            owners |= old.owners
                        rows[entity_id] = StoredEntity(name or "", owners, parent or 0)
        return found

    async def set_scope(self, account_id: int, scope: Scope) -> None:
        async with self._db.transaction() as conn:
            await _write_scope(conn, account_id, scope)

    async def entity_ids(self, table: str, names: Collection[str]) -> dict[str, int]:
        """Ids of the clients or client groups with these names (any casing)."""
        if table not in ("clients", "client_groups") or not names:
            return {}
        lowered = frozenset(n.lower() for n in names)
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                f"SELECT lower(name), min(id) FROM {table}"
                f" WHERE {in_list('lower(name)', lowered)} GROUP BY lower(name)",
                tuple(lowered),
            )
        return {row[0]: int(row[1]) for row in rows}

    async def entity_names(self, table: str, ids: Collection[int]) -> dict[int, str]:
        if table not in ("clients", "client_groups") or not ids:
            return {}
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                f"SELECT id, name FROM {table} WHERE {in_list('id', ids)}", tuple(sorted(ids))
            )
        return {int(row[0]): row[1] for row in rows}

    async def peek_login(
        self, name: str, address: str, now: int, rules: LoginRules
    ) -> LoginVerdict:
        async with self._db.reading() as conn:
            wait = await _throttle_wait(conn, address, now, rules)
            if wait:
                return LoginVerdict(THROTTLED, wait)
            row = await conn.fetchone(
                "SELECT locked_until FROM login_guards WHERE subject = ?", (_name_subject(name),)
            )
        if row is not None and row[0] > now:
            return LoginVerdict(LOCKED, row[0] - now)
        return LoginVerdict(OPEN)

    async def judge_login(self, attempt: LoginAttempt, rules: LoginRules) -> LoginVerdict:
        now, subject = attempt.now, _name_subject(attempt.name)
        # Account 0 matches no row: an unknown name runs the same statements as a real one.
        account_id = attempt.account_id or 0
        async with self._db.transaction() as conn:
            # Locks the name's row until the end of the transaction (PostgreSQL: a row
            # lock, and the values as last committed; SQLite: the write lock already
            # serialises every judgement).
            row = await conn.fetchone(LOCK_GUARD, (subject, 0))
            assert row is not None
            failures, locked_until, last_failure = (int(v) for v in row)
            if not attempt.password_ok:
                # The address's row too (after the name's: one order, no deadlock), so
                # its failures are counted one at a time across workers.
                await conn.fetchone(LOCK_GUARD, (_address_subject(attempt.address), now))
            wait = await _throttle_wait(conn, attempt.address, now, rules)
            if wait:
                return LoginVerdict(THROTTLED, wait)
            if locked_until > now:
                return LoginVerdict(LOCKED, locked_until - now)
            if attempt.password_ok:
                disabled = await conn.fetchone(
                    "SELECT disabled FROM accounts WHERE id = ?", (account_id,)
                )
                if disabled is None or disabled[0]:
                    return LoginVerdict(DISABLED)
                await conn.execute("DELETE FROM login_guards WHERE subject = ?", (subject,))
                await conn.execute(
                    "UPDATE accounts SET failed_logins = 0, locked_until = 0"
                    " WHERE id = ? AND (failed_logins <> 0 OR locked_until <> 0)",
                    (account_id,),
                )
                await _audit(conn, attempt.audit)
                await conn.execute(
                    "INSERT INTO sessions (token_hash, account_id, created_at, last_used,"
                    " idle_seconds) VALUES (?, ?, ?, ?, ?)",
                    (attempt.token_hash, account_id, now, now, attempt.idle_seconds),
                )
                return LoginVerdict(OK)
            await conn.execute(
                "INSERT INTO login_failures (address, time) VALUES (?, ?)", (attempt.address, now)
            )
            in_a_row = (failures if now - last_failure < rules.forget_seconds else 0) + 1
            verdict = LoginVerdict(FAILED)
            if in_a_row >= rules.lock_after:
                in_a_row, locked_until = 0, now + rules.lock_seconds
                verdict = LoginVerdict(LOCKOUT, rules.lock_seconds)
            await conn.execute(
                "UPDATE login_guards SET failures = ?, locked_until = ?, last_failure = ?"
                " WHERE subject = ?",
                (in_a_row, locked_until, now, subject),
            )
            # What `cvjobs user list` shows of a real account.
            await conn.execute(
                "UPDATE accounts SET failed_logins = ?, locked_until = ? WHERE id = ?",
                (in_a_row, locked_until, account_id),
            )
            return verdict

    async def purge_logins(self, now: int, rules: LoginRules) -> int:
        async with self._db.transaction() as conn:
            gone = await conn.execute(
                "DELETE FROM login_failures WHERE time <= ?", (now - rules.address_window,)
            )
            return gone + await conn.execute(
                "DELETE FROM login_guards WHERE locked_until <= ? AND last_failure <= ?",
                (now, now - max(rules.forget_seconds, rules.address_window)),
            )

    async def create_session(
        self,
        token_hash: bytes,
        account_id: int,
        now: int,
        idle_seconds: int,
        audit: Sequence[AuditEntry] = (),
    ) -> None:
        async with self._db.transaction() as conn:
            await _audit(conn, audit)
            await conn.execute(
                "INSERT INTO sessions (token_hash, account_id, created_at, last_used,"
                " idle_seconds) VALUES (?, ?, ?, ?, ?)",
                (token_hash, account_id, now, now, idle_seconds),
            )

    async def get_session(self, token_hash: bytes) -> StoredSession | None:
        async with self._db.reading() as conn:
            row = await conn.fetchone(
                f"SELECT {ACCOUNT_COLUMNS}, s.created_at, s.last_used, s.idle_seconds"
                " FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = ?",
                (token_hash,),
            )
            if row is None:
                return None
            stored = await _stored_account(conn, row)
        n = len(ACCOUNT_FIELDS)
        return StoredSession(stored.account, row[n], row[n + 1], row[n + 2])

    async def touch_session(self, token_hash: bytes, now: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                f"UPDATE sessions SET last_used = {self._db.dialect.greatest}(last_used, ?)"
                " WHERE token_hash = ?",
                (now, token_hash),
            )

    async def delete_session(self, token_hash: bytes) -> bool:
        async with self._db.transaction() as conn:
            return (
                await conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,)) > 0
            )

    async def delete_sessions_idle_since(self, now: int) -> int:
        async with self._db.transaction() as conn:
            return await conn.execute(
                "DELETE FROM sessions WHERE last_used + idle_seconds < ?", (now,)
            )

    # -- access tokens -------------------------------------------------------------------

    async def create_access_token(
        self,
        token_hash: str,
        account_id: int,
        name: str,
        now: int,
        expires_at: int,
        *,
        revoked_at: int = 0,
        last_used: int = 0,
    ) -> int:
        async with self._db.transaction() as conn:
            row = await conn.fetchone(
                "INSERT INTO access_tokens (token_hash, account_id, name, created_at, expires_at,"
                " revoked_at, last_used) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (token_hash, account_id, name, now, expires_at, revoked_at, last_used),
            )
        assert row is not None
        return int(row[0])

    async def get_access_token(self, token_hash: str) -> StoredToken | None:
        async with self._db.reading() as conn:
            row = await conn.fetchone(
                f"SELECT {ACCOUNT_COLUMNS}, {TOKEN_COLUMNS} FROM access_tokens t"
                " JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = ?",
                (token_hash,),
            )
            if row is None:
                return None
            stored = await _stored_account(conn, row)
        return StoredToken(stored.account, *row[len(ACCOUNT_FIELDS) :])

    async def access_tokens(self) -> list[StoredToken]:
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                f"SELECT {ACCOUNT_COLUMNS}, {TOKEN_COLUMNS} FROM access_tokens t"
                " JOIN accounts a ON a.id = t.account_id ORDER BY t.id"
            )
            return [
                StoredToken((await _stored_account(conn, r)).account, *r[len(ACCOUNT_FIELDS) :])
                for r in rows
            ]

    async def touch_access_token(self, token_id: int, now: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE access_tokens SET last_used = ? WHERE id = ? AND last_used < ?",
                (now, token_id, now),
            )

    async def revoke_access_token(self, token_id: int, now: int) -> bool:
        async with self._db.transaction() as conn:
            changed = await conn.execute(
                "UPDATE access_tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0",
                (now, token_id),
            )
        return changed > 0

    # -- audit ---------------------------------------------------------------------------

    async def add_audit(self, entries: Sequence[AuditEntry]) -> None:
        async with self._db.transaction() as conn:
            await _audit(conn, entries)

    async def audit(self, query: AuditQuery) -> list[AuditEntry]:
        where, params = ["1 = 1"], []
        for column, value in (
            ("lower(user_name)", query.user.lower() if query.user else None),
            ("action", query.action),
            ("job_id", query.job_id),
        ):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        where.append("time >= ?")
        params.append(query.since)
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                f"SELECT {AUDIT_COLUMNS} FROM audit"
                f" WHERE {' AND '.join(where)} ORDER BY time DESC, id DESC LIMIT ?",
                (*params, query.limit),
            )
        return [_audit_entry(r) for r in rows]

    async def export_audit(self, after_id: int, limit: int) -> list[AuditEntry]:
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                f"SELECT {AUDIT_COLUMNS} FROM audit WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            )
        return [_audit_entry(r) for r in rows]


# An event's client is its job's, as the job is now (a job moved to another client takes
# its events along, for scopes too), or its own when it has no job (or the job is gone).
CURRENT_CLIENT = "coalesce(j.client_id, e.client_id)"


def _of_current_client(condition: Callable[[str], tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
    """`condition` on an event's current client. The first two terms let the indexes on
    events.client_id and events.job_id find the candidates; the last one decides."""
    stored, first = condition("e.client_id")
    by_job, second = condition("jc.client_id")
    current, third = condition(CURRENT_CLIENT)
    return (
        f"(({stored}) OR e.job_id IN (SELECT jc.id FROM jobs jc WHERE {by_job})) AND ({current})",
        [*first, *second, *third],
    )


# (id, name, owning client, parent) of each kind of entity, for stored_entities. Clients
# own themselves; backup sets belong to their client, subclients to their backup set's, and
# instances to the clients of the backup sets in them; the rest are shared.
_ENTITY_FACTS = {
    "clients": "SELECT id, name, id, 0 FROM clients WHERE ",
    "app_types": "SELECT id, name, NULL, 0 FROM app_types WHERE ",
    "storage_policies": "SELECT id, name, NULL, 0 FROM storage_policies WHERE ",
    "job_users": "SELECT id, name, NULL, 0 FROM job_users WHERE ",
    "backupsets": "SELECT id, name, client_id, client_id FROM backupsets WHERE ",
    "subclients": "SELECT s.id, s.name, b.client_id, s.backupset_id FROM subclients s"
    " LEFT JOIN backupsets b ON b.id = s.backupset_id WHERE ",
    "instances": "SELECT i.id, i.name, b.client_id, 0 FROM instances i"
    " LEFT JOIN backupsets b ON b.instance_id = i.id WHERE ",
}
_ENTITY_ID = {**dict.fromkeys(_ENTITY_FACTS, "id"), "subclients": "s.id", "instances": "i.id"}

ACCOUNT_FIELDS = (
    "id",
    "name",
    "role",
    "disabled",
    "scope_all",
    "password_hash",
    "failed_logins",
    "locked_until",
)
ACCOUNT_COLUMNS = ", ".join(f"a.{c}" for c in ACCOUNT_FIELDS)
TOKEN_COLUMNS = "t.id, t.name, t.created_at, t.expires_at, t.revoked_at, t.last_used, t.token_hash"


AUDIT_COLUMNS = "id, time, user_name, address, action, job_id, outcome, detail"


def _audit_entry(r: Sequence[Any]) -> AuditEntry:
    return AuditEntry(r[1], r[2], r[3], r[4], r[5], r[6], r[7], entry_id=r[0])


async def _audit(conn: Connection, entries: Sequence[AuditEntry]) -> None:
    """Audit entries, written in the transaction of what they record."""
    await conn.executemany(
        "INSERT INTO audit (time, user_name, address, action, job_id, outcome, detail)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(e.time, e.user, e.address, e.action, e.job_id, e.outcome, e.detail) for e in entries],
    )


async def _write_scope(conn: Connection, account_id: int, scope: Scope) -> None:
    await conn.execute(
        "UPDATE accounts SET scope_all = ? WHERE id = ?", (int(scope.everything), account_id)
    )
    await conn.execute("DELETE FROM account_scopes WHERE account_id = ?", (account_id,))
    await conn.executemany(
        "INSERT INTO account_scopes (account_id, kind, entity_id) VALUES (?, ?, ?)",
        [(account_id, "client", i) for i in sorted(scope.clients)]
        + [(account_id, "group", i) for i in sorted(scope.groups)],
    )


async def _stored_account(conn: Connection, row: Sequence[Any]) -> StoredAccount:
    """An account from the ACCOUNT_COLUMNS at the start of `row`, with its scope."""
    account_id, name, role, disabled, scope_all, password_hash, failed, locked_until = row[:8]
    scope = EVERYTHING
    if not scope_all:
        entries = await conn.fetchall(
            "SELECT kind, entity_id FROM account_scopes WHERE account_id = ?", (account_id,)
        )
        scope = Scope(
            everything=False,
            clients=frozenset(int(i) for kind, i in entries if kind == "client"),
            groups=frozenset(int(i) for kind, i in entries if kind == "group"),
        )
    account = Account(int(account_id), name, role, bool(disabled), scope)
    return StoredAccount(account, password_hash, int(failed), int(locked_until))


# Locks a login guard's row, made if missing (an upsert that changes nothing locks the row
# on PostgreSQL, where a plain SELECT would read without waiting); its values as they are.
LOCK_GUARD = (
    "INSERT INTO login_guards (subject, last_failure) VALUES (?, ?)"
    " ON CONFLICT (subject) DO UPDATE SET failures = login_guards.failures"
    " RETURNING failures, locked_until, last_failure"
)


def _name_subject(name: str) -> str:
    return "name:" + name.strip().lower()


def _address_subject(address: str) -> str:
    return "address:" + address


async def _throttle_wait(conn: Connection, address: str, now: int, rules: LoginRules) -> int:
    """Seconds until `address` may log in again: 0 unless it has `address_failures`
    failures within the window, then until the oldest of the latest that many is out."""
    row = await conn.fetchone(
        "SELECT time FROM login_failures WHERE address = ? AND time > ?"
        " ORDER BY time DESC LIMIT 1 OFFSET ?",
        (address, now - rules.address_window, rules.address_failures - 1),
    )
    return 0 if row is None else max(1, rules.address_window - (now - int(row[0])))
