"""The catalogue's schema versions both backends share, and `migrate`, which brings a
catalogue up to the latest version. Versions 1 and 2, whose column types differ, are in
sqlite_schema.py and postgres_schema.py; from version 3 on they are written once here.
SERIAL stands for each backend's generated integer key (see serial_ids)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from cvjobs import vocab
from cvjobs.errors import StoreError
from cvjobs.store.driver import Connection
from cvjobs.store.filters import ACTIVE_LITERALS

Migrations = Sequence[tuple[int, str]]
ACTIVE_INDEX = f"CREATE INDEX jobs_active ON jobs (id) WHERE status IN ({ACTIVE_LITERALS})"
MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations"
    " (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
)
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
    # reporters do not use. Every allocation locks the one row (store/jobs.create_job), so
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


def serial_ids(migrations: Migrations, column: str) -> tuple[tuple[int, str], ...]:
    """The shared migrations with SERIAL spelled as the backend's generated key column."""
    return tuple((version, script.replace(SERIAL, column)) for version, script in migrations)


async def migrate(
    conn: Connection, migrations: Migrations, split: Callable[[str], Iterable[str]], where: str
) -> int:
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
