"""The SQL both backends share, written with `?` placeholders, and the mapping between
rows and domain objects: column lists, the one-query job read, list filters, and the
entity writer that upserts what jobs refer to."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import orjson

from cvjobs import vocab
from cvjobs.model import Event, Job, JobQuery, JobRecord, Ref, Scope
from cvjobs.store.database import Connection, Dialect

JOB_COLUMNS = (
    "id, status, job_type, client_id, app_id, instance_id, backupset_id, subclient_id,"
    " dest_client_id, storage_policy_id, user_id, backup_level, current_phase, pending_reason,"
    " pending_reason_error_code, percent_complete, percent_savings, size_of_application,"
    " size_of_media_on_disk, total_num_of_files, total_failed_files, total_failed_folders,"
    " start_time, end_time, last_update_time, elapsed_time, is_aged, is_visible,"
    " submit_error_code, is_preemptable, auto_resume_at, vsa_parent_job_id"
)
JOB_COLUMN_NAMES = [c.strip() for c in JOB_COLUMNS.split(",")]
# A new job, never a replacement: an id taken meanwhile is an error, not an overwrite.
INSERT_JOB = f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES ({', '.join('?' * len(JOB_COLUMN_NAMES))})"
UPSERT_JOB = (
    INSERT_JOB
    + " ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in JOB_COLUMN_NAMES[1:])
)

# What job control and the engine change on a job; its identity and entities stay.
MUTABLE_COLUMNS = (
    "status", "current_phase", "pending_reason", "pending_reason_error_code",
    "percent_complete", "percent_savings", "size_of_application", "size_of_media_on_disk",
    "total_num_of_files", "total_failed_files", "total_failed_folders", "start_time",
    "end_time", "last_update_time", "elapsed_time", "is_aged", "is_visible",
    "submit_error_code", "auto_resume_at",
)  # fmt: skip
REPLACE_JOB = (
    "UPDATE jobs SET "
    + ", ".join(f"{c} = ?" for c in MUTABLE_COLUMNS)
    + " WHERE id = ? AND status = ?"
)
SORT_COLUMNS = {
    "jobId": "j.id",
    "jobStartTime": "j.start_time",
    "jobEndTime": "j.end_time",
    "lastUpdateTime": "j.last_update_time",
    "status": "j.status",
    "clientName": "c.name",
}
EVENT_COLUMNS = (
    "id, job_id, client_id, time, severity, event_code, subsystem, description, user_name,"
    " from_status, to_status, acknowledged"
)


# The active statuses spelled out as literals, not parameters: the partial index
# jobs_active (migration 3) applies only to a query that repeats its condition, and with
# it the planner knows the active jobs are few (a parameterised IN looked like half the
# table to SQLite, which then scanned a million rows).
ACTIVE_LITERALS = ", ".join("'" + s.replace("'", "''") + "'" for s in sorted(vocab.ACTIVE_STATUSES))
ACTIVE_INDEX = f"CREATE INDEX jobs_active ON jobs (id) WHERE status IN ({ACTIVE_LITERALS})"
IS_ACTIVE = f"j.status IN ({ACTIVE_LITERALS})"

# Schema versions spelled the same on both backends (sqlite_schema.py and
# postgres_schema.py hold versions 1 and 2, whose column types differ). SERIAL stands for
# each backend's generated integer key (see serial_ids).
SERIAL = "$SERIAL$"
SHARED_MIGRATIONS: tuple[tuple[int, str], ...] = (
    # v3: a partial index of the active jobs, which are few however big the catalogue:
    # the engine reads them every second and job lists filter on them.
    # (ANALYZE of the jobs table only: a bare ANALYZE on PostgreSQL walks every table of
    # every schema in the database, other applications' included.)
    (3, ACTIVE_INDEX + ";\nANALYZE jobs;\n"),
    # v4: exact totals of filtered lists counted from an index alone. A list by client or
    # by job type, finished within a lookup time, reads client_id/job_type, end_time,
    # status (and job_type): with them in one index, counting 41,000 of a million jobs
    # takes 9 ms instead of 90.
    (
        4,
        "CREATE INDEX jobs_client_end ON jobs (client_id, end_time, status, job_type);\n"
        "CREATE INDEX jobs_type_end ON jobs (job_type, end_time, status);\n"
        "ANALYZE jobs;\n",
    ),
    # v5: who may see and do what. An account has a role and a scope (all clients, or the
    # clients and client groups listed in account_scopes); failed logins lock it for a
    # while; long-lived access tokens are kept as the hex SHA-256 of their secret; the
    # audit log records logins, token changes, job actions and ingest writes.
    (
        5,
        "ALTER TABLE accounts ADD COLUMN role TEXT NOT NULL DEFAULT 'viewer';\n"
        "UPDATE accounts SET role = 'admin' WHERE is_admin <> 0;\n"
        "ALTER TABLE accounts ADD COLUMN scope_all INTEGER NOT NULL DEFAULT 1;\n"
        "ALTER TABLE accounts ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;\n"
        "ALTER TABLE accounts ADD COLUMN locked_until BIGINT NOT NULL DEFAULT 0;\n"
        "CREATE TABLE account_scopes (\n"
        "    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,\n"
        "    kind       TEXT NOT NULL CHECK (kind IN ('client', 'group')),\n"
        "    entity_id  BIGINT NOT NULL,\n"
        "    PRIMARY KEY (account_id, kind, entity_id)\n"
        ");\n"
        "CREATE TABLE access_tokens (\n"
        f"    id         {SERIAL},\n"
        "    token_hash TEXT NOT NULL UNIQUE,\n"
        "    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,\n"
        "    name       TEXT NOT NULL DEFAULT '',\n"
        "    created_at BIGINT NOT NULL,\n"
        "    expires_at BIGINT NOT NULL,\n"
        "    revoked_at BIGINT NOT NULL DEFAULT 0,\n"
        "    last_used  BIGINT NOT NULL DEFAULT 0\n"
        ");\n"
        "CREATE TABLE audit (\n"
        f"    id        {SERIAL},\n"
        "    time      BIGINT NOT NULL,\n"
        "    user_name TEXT NOT NULL DEFAULT '',\n"
        "    address   TEXT NOT NULL DEFAULT '',\n"
        "    action    TEXT NOT NULL,\n"
        "    job_id    BIGINT NOT NULL DEFAULT 0,\n"
        "    outcome   TEXT NOT NULL DEFAULT 'ok',\n"
        "    detail    TEXT NOT NULL DEFAULT ''\n"
        ");\n"
        "CREATE INDEX audit_time ON audit (time, id);\n"
        "CREATE INDEX audit_job ON audit (job_id, id);\n",
    ),
    # v6: what decides a login, shared by every worker. login_guards holds one row per
    # lower-cased user name that failed (real or not: an unknown name locks like an
    # account) and per client address that failed; a login's verdict locks its rows, so
    # concurrent logins are judged one after another. login_failures holds the times of
    # each address's recent failures, for the throttle. Both are purged as they age.
    (
        6,
        "CREATE TABLE login_guards (\n"
        "    subject      TEXT PRIMARY KEY,\n"
        "    failures     INTEGER NOT NULL DEFAULT 0,\n"
        "    locked_until BIGINT NOT NULL DEFAULT 0,\n"
        "    last_failure BIGINT NOT NULL DEFAULT 0\n"
        ");\n"
        "CREATE TABLE login_failures (\n"
        "    address TEXT NOT NULL,\n"
        "    time    BIGINT NOT NULL\n"
        ");\n"
        "CREATE INDEX login_failures_address ON login_failures (address, time);\n"
        "CREATE INDEX login_failures_time ON login_failures (time);\n",
    ),
    # v7: where the ids of jobs this server creates (Resubmit, the demo engine's new jobs)
    # come from: upward from next_id, within the range --job-id-base starts, which
    # reporters do not use. Every allocation locks the one row (sql_store.create_job), so
    # workers take turns. 0: nothing allocated yet, so the first allocation starts above
    # whatever the catalogue already holds in the range.
    (
        7,
        "CREATE TABLE job_id_sequence (\n"
        "    id      INTEGER PRIMARY KEY CHECK (id = 1),\n"
        "    next_id BIGINT NOT NULL\n"
        ");\n"
        "INSERT INTO job_id_sequence (id, next_id) VALUES (1, 0);\n",
    ),
    # v8: a VM's job under a Virtual Server backup names its parent job (vsaParentJobID).
    (8, "ALTER TABLE jobs ADD COLUMN vsa_parent_job_id BIGINT NOT NULL DEFAULT 0;\n"),
    # v9: the jobs the job engine moves: those it started, resubmitted jobs and the demo's.
    # Every other job belongs to whoever reports it (ingest, import) and stays as reported;
    # a report of an engine job takes it over. Jobs of older catalogues are reporters'.
    (9, "CREATE TABLE engine_jobs (job_id BIGINT PRIMARY KEY);\n"),
)


def serial_ids(migrations: tuple[tuple[int, str], ...], column: str) -> tuple[tuple[int, str], ...]:
    """The shared migrations with SERIAL spelled as the backend's generated key column."""
    return tuple((version, script.replace(SERIAL, column)) for version, script in migrations)


def in_list(column: str, values: Collection[Any]) -> str:
    return f"{column} IN ({', '.join('?' * len(values))})"


def job_filter(q: JobQuery) -> tuple[str, list[Any]]:
    """The WHERE clause of a job list, on indexed columns only."""
    where: list[str] = []
    params: list[Any] = []
    for column, values in (
        ("j.job_type", q.job_types),
        ("j.status", q.statuses),
        ("j.client_id", q.client_ids),
    ):
        if values is not None:
            where.append(in_list(column, values) if values else "1 = 0")
            params.extend(sorted(values))
    for column, value in (
        ("j.subclient_id", q.subclient_id),
        ("j.backupset_id", q.backupset_id),
        ("j.instance_id", q.instance_id),
        ("j.app_id", q.app_id),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if q.backup_levels is not None:
        where.append(in_list("j.backup_level", q.backup_levels) if q.backup_levels else "1 = 0")
        params.extend(sorted(q.backup_levels))
    if q.anomalous_only:
        where.append("1 = 0")  # no job is flagged anomalous here
    if q.category == "active":
        where.append(IS_ACTIVE)
    else:
        recent = "j.end_time >= ?" if q.lookup_seconds is not None else "1 = 1"
        recent_params = [q.now - q.lookup_seconds] if q.lookup_seconds is not None else []
        if q.category == "finished":
            where.append(f"NOT {IS_ACTIVE} AND {recent}")
            params.extend(recent_params)
        elif q.lookup_seconds is not None:
            where.append(f"({IS_ACTIVE} OR {recent})")
            params.extend(recent_params)
    if not q.show_aged:
        where.append("j.is_aged = 0")
    if not q.scope.everything:
        clause, scope_params = scope_filter("j.client_id", q.scope)
        where.append(clause)
        params.extend(scope_params)
    return (" WHERE " + " AND ".join(where) if where else ""), params


def scope_filter(column: str, scope: Scope) -> tuple[str, list[Any]]:
    """The condition on a client id column that keeps the rows `scope` allows: the
    clients it lists and the members of the client groups it lists."""
    parts: list[str] = []
    params: list[Any] = []
    if scope.clients:
        parts.append(in_list(column, scope.clients))
        params.extend(sorted(scope.clients))
    if scope.groups:
        members = "SELECT client_id FROM client_group_members WHERE " + in_list(
            "group_id", scope.groups
        )
        parts.append(f"{column} IN ({members})")
        params.extend(sorted(scope.groups))
    return ("(" + " OR ".join(parts) + ")" if parts else "1 = 0"), params


def select_job(dialect: Dialect) -> str:
    """One indexed query per job read: the job row, the names of its entities, and its
    client's groups folded into one JSON column. Append a WHERE clause on `j`."""
    return f"""
SELECT j.id, j.status, j.job_type,
       j.client_id, c.name, j.app_id, a.name, j.instance_id, i.name,
       j.backupset_id, b.name, j.subclient_id, s.name, j.dest_client_id, dc.name,
       j.storage_policy_id, sp.name, j.user_id, u.name,
       (SELECT {dialect.group_pairs}
          FROM client_group_members m JOIN client_groups g ON g.id = m.group_id
         WHERE m.client_id = j.client_id),
       j.backup_level, j.current_phase, j.pending_reason, j.pending_reason_error_code,
       j.percent_complete, j.percent_savings, j.size_of_application, j.size_of_media_on_disk,
       j.total_num_of_files, j.total_failed_files, j.total_failed_folders,
       j.start_time, j.end_time, j.last_update_time, j.elapsed_time,
       j.is_aged, j.is_visible, j.submit_error_code, j.is_preemptable, j.auto_resume_at,
       j.vsa_parent_job_id
  FROM jobs j
  LEFT JOIN clients c ON c.id = j.client_id
  LEFT JOIN app_types a ON a.id = j.app_id
  LEFT JOIN instances i ON i.id = j.instance_id
  LEFT JOIN backupsets b ON b.id = j.backupset_id
  LEFT JOIN subclients s ON s.id = j.subclient_id
  LEFT JOIN clients dc ON dc.id = j.dest_client_id
  LEFT JOIN storage_policies sp ON sp.id = j.storage_policy_id
  LEFT JOIN job_users u ON u.id = j.user_id
"""


def ref(entity_id: int | None, name: str | None) -> Ref:
    return Ref(entity_id or 0, name or "") if entity_id else Ref()


def job_from_row(r: Sequence[Any]) -> Job:
    groups = tuple(Ref(g[0], g[1]) for g in orjson.loads(r[19])) if r[19] else ()
    return Job(
        job_id=r[0],
        status=r[1],
        job_type=r[2],
        client=ref(r[3], r[4]),
        app=ref(r[5], r[6]),
        instance=ref(r[7], r[8]),
        backupset=ref(r[9], r[10]),
        subclient=ref(r[11], r[12]),
        dest_client=ref(r[13], r[14]),
        storage_policy=ref(r[15], r[16]),
        user=ref(r[17], r[18]),
        client_groups=groups,
        backup_level=r[20],
        current_phase=r[21],
        pending_reason=r[22],
        pending_reason_error_code=r[23],
        percent_complete=r[24],
        percent_savings=r[25],
        size_of_application=r[26],
        size_of_media_on_disk=r[27],
        total_num_of_files=r[28],
        total_failed_files=r[29],
        total_failed_folders=r[30],
        start_time=r[31],
        end_time=r[32],
        last_update_time=r[33],
        elapsed_time=r[34],
        is_aged=bool(r[35]),
        is_visible=bool(r[36]),
        submit_error_code=r[37],
        is_preemptable=r[38],
        auto_resume_at=r[39],
        vsa_parent_job_id=r[40],
    )


def nullable(ref: Ref) -> int | None:
    return ref.id or None


def job_params(job: Job) -> tuple[Any, ...]:
    return (
        job.job_id,
        job.status,
        job.job_type,
        nullable(job.client),
        nullable(job.app),
        nullable(job.instance),
        nullable(job.backupset),
        nullable(job.subclient),
        nullable(job.dest_client),
        nullable(job.storage_policy),
        nullable(job.user),
        job.backup_level,
        job.current_phase,
        job.pending_reason,
        job.pending_reason_error_code,
        job.percent_complete,
        job.percent_savings,
        job.size_of_application,
        job.size_of_media_on_disk,
        job.total_num_of_files,
        job.total_failed_files,
        job.total_failed_folders,
        job.start_time,
        job.end_time,
        job.last_update_time,
        job.elapsed_time,
        int(job.is_aged),
        int(job.is_visible),
        job.submit_error_code,
        job.is_preemptable,
        job.auto_resume_at,
        job.vsa_parent_job_id,
    )


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
class Prepared:
    """Job records turned into the rows one flush writes. Preparing is pure and the
    result pickles cheaply (plain tuples), so a bulk import prepares in worker processes
    while the store writes."""

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


def prepare(records: Iterable[JobRecord]) -> Prepared:
    batch = Prepared()
    for record in records:
        batch.add(record)
    return batch


BATCH = 10_000  # records prepared and written together


def prepare_batches(records: Iterable[JobRecord], size: int) -> Iterator[Prepared]:
    """Records prepared `size` at a time, as they are taken."""
    iterator = iter(records)
    while chunk := list(islice(iterator, size)):
        yield prepare(chunk)


INSERT_EVENT = (
    "INSERT INTO events (job_id, client_id, time, severity, event_code, subsystem,"
    " description, user_name, from_status, to_status, acknowledged)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SECTION_COLUMNS = ("job_id", "name", "body")
UPSERT_SECTION = (
    "INSERT INTO job_sections (job_id, name, body) VALUES (?, ?, ?)"
    " ON CONFLICT (job_id, name) DO UPDATE SET body = excluded.body"
)


def event_params(e: Event) -> tuple[Any, ...]:
    return (
        e.job_id or None,
        e.client.id or None,
        e.time,
        e.severity,
        e.code,
        e.subsystem,
        e.description,
        e.user,
        e.from_status,
        e.to_status,
        int(e.acknowledged),
    )
