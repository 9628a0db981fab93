"""Test catalogues on both backends. Each test gets a fresh catalogue: a copy of a SQLite
file, or a PostgreSQL schema filled from a template schema (three times faster than a
database made from a template database). Runs never see each other's data: each works in
its own PostgreSQL database, named after the run and dropped after it.

PostgreSQL is found at CVJOBS_TEST_PG (default postgresql://postgres@127.0.0.1:5432/test).
If it cannot be reached, CI fails loudly; elsewhere its tests are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from cvjobs.store import open_store
from cvjobs.store.postgres import dollar
from cvjobs.store.postgres_schema import MIGRATIONS, statements
from cvjobs.store.protocols import Store
from cvjobs.store.schema import MIGRATIONS_TABLE

PG_ADMIN = os.environ.get("CVJOBS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
RUN = f"cvjobs_t{os.getpid()}_{secrets.token_hex(3)}"


# In the order their rows can be copied (what a row refers to comes first).
TABLES = (
    "schema_migrations", "app_types", "clients", "client_groups", "client_group_members",
    "instances", "backupsets", "subclients", "storage_policies", "storage_policy_copies",
    "job_users", "jobs", "job_sections", "accounts", "sessions", "events", "engine_jobs",
)  # fmt: skip


def pg_url(database: str, schema: str | None = None) -> str:
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + database
    return f"{url}?search_path={schema}" if schema else url


async def _in_run(*statements_: str) -> None:
    """Statements on the run's own database."""
    conn = await asyncpg.connect(pg_url(RUN))
    try:
        for statement in statements_:
            await conn.execute(statement)
    finally:
        await conn.close()


def _schema_script(schema: str) -> str:
    """One script that makes `schema` a copy of the template: every migration's
    statements, then the template's rows. Sent as one simple query, it costs one round
    trip instead of a hundred (a third of a second per test, over a thousand tests)."""
    parts = [f"CREATE SCHEMA {schema}", f"SET LOCAL search_path = {schema}", MIGRATIONS_TABLE]
    for _version, script in MIGRATIONS:
        parts.extend(statements(script))
    parts += [f"INSERT INTO {schema}.{table} SELECT * FROM tpl.{table}" for table in TABLES]
    parts += [
        f"SELECT setval(pg_get_serial_sequence('{schema}.{table}', 'id'),"
        f" coalesce((SELECT max(id) FROM {schema}.{table}), 0) + 1, false)"
        for table in ("accounts", "events")
    ]
    return ";\n".join(parts)


async def _copy_schema(schema: str) -> None:
    """A new schema with the current schema version and the template's rows."""
    conn = await asyncpg.connect(pg_url(RUN))
    try:
        async with conn.transaction():
            await conn.execute(_schema_script(schema))
    finally:
        await conn.close()


async def admin_sql(statement: str) -> None:
    """A statement on the PostgreSQL server's admin database (CVJOBS_TEST_PG)."""
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used, or None."""
    try:
        asyncio.run(admin_sql("SELECT 1"))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return f"PostgreSQL is not reachable at {PG_ADMIN}: {exc}"
    return None


@dataclass
class Catalogue:
    """One test's catalogue: `url` goes to Settings(db=...) or open_store; `sql` runs raw
    SQL (with ? placeholders) on it, committed, and returns the rows."""

    backend: str
    url: str

    def __str__(self) -> str:
        return self.url

    def sql(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.backend == "sqlite":
            with sqlite3.connect(self.url) as db:
                return db.execute(query, params).fetchall()

        async def run() -> list[tuple[Any, ...]]:
            conn = await asyncpg.connect(self.url)
            try:
                if query.lstrip().upper().startswith(("SELECT", "EXPLAIN")):
                    return [tuple(r) for r in await conn.fetch(dollar(query), *params)]
                await conn.execute(dollar(query), *params)
                return []
            finally:
                await conn.close()

        return asyncio.run(run())

    def undo_rpo(self) -> None:
        """Take the catalogue back from schema v15 (RPOs, overdue clients) to v14."""
        self.sql("DROP TABLE overdue_told")
        self.sql("ALTER TABLE client_groups DROP COLUMN rpo_seconds")
        self.sql("DELETE FROM schema_migrations WHERE version >= 15")

    def undo_rotation(self) -> None:
        """Take the catalogue back from schema v14 (webhook templates, rotation) to v13."""
        self.undo_rpo()
        for column in ("template", "old_secret", "old_secret_until"):
            self.sql(f"ALTER TABLE webhooks DROP COLUMN {column}")
        self.sql("DELETE FROM schema_migrations WHERE version >= 14")

    def undo_webhooks(self) -> None:
        """Take the catalogue back from schema v13 (webhooks) to v12."""
        self.undo_rotation()
        self.sql("DROP TABLE webhook_deliveries")
        self.sql("DROP TABLE webhooks")
        self.sql("DELETE FROM schema_migrations WHERE version >= 13")

    def undo_durations(self) -> None:
        """Take the catalogue back from schema v12 (kept durations) to v11."""
        self.undo_webhooks()
        if self.backend == "sqlite":
            for trigger in ("jobs_timed_in", "jobs_timed_out", "jobs_timed_moved"):
                self.sql(f"DROP TRIGGER {trigger}")
        else:
            self.sql("DROP FUNCTION cvjobs_time_jobs CASCADE")
        self.sql("DROP TABLE job_duration_counts")
        self.sql("DELETE FROM schema_migrations WHERE version >= 12")

    def undo_changes(self) -> None:
        """Take the catalogue back from schema v11 (the change log) to v10."""
        self.undo_durations()
        if self.backend == "sqlite":
            for trigger in ("jobs_logged_in", "jobs_logged_out", "jobs_logged_changed"):
                self.sql(f"DROP TRIGGER {trigger}")
        else:
            self.sql("DROP FUNCTION cvjobs_log_jobs CASCADE")
            self.sql("DROP FUNCTION cvjobs_sequence_changes")
        self.sql("DROP TABLE job_changes")
        self.sql("DROP TABLE job_change_state")
        self.sql("DELETE FROM schema_migrations WHERE version >= 11")

    def undo_counts(self) -> None:
        """Take the catalogue back from schema v10 (the kept job counts) to v9."""
        self.undo_changes()
        if self.backend == "sqlite":
            for trigger in ("jobs_counted_in", "jobs_counted_out", "jobs_counted_moved"):
                self.sql(f"DROP TRIGGER {trigger}")
        else:
            self.sql("DROP FUNCTION cvjobs_count_jobs CASCADE")
        self.sql("DROP TABLE job_totals")
        self.sql("DROP TABLE job_day_counts")
        self.sql("DELETE FROM schema_migrations WHERE version >= 10")

    def scalar(self, query: str, params: Sequence[Any] = ()) -> Any:
        return self.sql(query, params)[0][0]

    def drop(self) -> None:
        if self.backend == "postgres":
            schema = self.url.rsplit("search_path=", 1)[1]
            asyncio.run(_in_run(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


class Templates:
    """A filled catalogue per backend, made once per run, copied for each test."""

    def __init__(self, workdir: Path, fill: Callable[[Store], Awaitable[None]]) -> None:
        self._workdir = workdir
        self._fill = fill
        self._made: dict[str, str] = {}
        self._count = 0

    def _template(self, backend: str) -> str:
        if backend not in self._made:
            if backend == "sqlite":
                url = str(self._workdir / "template.db")
            else:
                asyncio.run(admin_sql(f"CREATE DATABASE {RUN}"))
                # The run's own database: a commit need not wait for its WAL to reach the
                # disk (what a killed cvjobs committed is kept either way; only a crash of
                # PostgreSQL itself could lose the last commits of a test).
                asyncio.run(admin_sql(f"ALTER DATABASE {RUN} SET synchronous_commit = off"))
                asyncio.run(_in_run("CREATE SCHEMA tpl"))
                url = pg_url(RUN, "tpl")

            async def build() -> None:
                store = await open_store(url)
                try:
                    await self._fill(store)
                finally:
                    await store.close()

            asyncio.run(build())
            self._made[backend] = url
        return self._made[backend]

    def _schema(self) -> str:
        self._count += 1
        return f"t{self._count}"

    def fresh(self, backend: str, tmp_path: Path) -> Catalogue:
        template = self._template(backend)
        if backend == "sqlite":
            path = tmp_path / "cvjobs.db"
            shutil.copy(template, path)
            return Catalogue("sqlite", str(path))
        schema = self._schema()
        asyncio.run(_copy_schema(schema))
        return Catalogue("postgres", pg_url(RUN, schema))

    def empty(self, backend: str, tmp_path: Path, name: str = "empty") -> Catalogue:
        """A catalogue with nothing in it (not even a schema yet)."""
        if backend == "sqlite":
            return Catalogue("sqlite", str(tmp_path / f"{name}.db"))
        self._template(backend)  # makes the run's database
        schema = self._schema()
        asyncio.run(_in_run(f"CREATE SCHEMA {schema}"))
        return Catalogue("postgres", pg_url(RUN, schema))

    def close(self) -> None:
        if "postgres" in self._made:
            asyncio.run(admin_sql(f"DROP DATABASE IF EXISTS {RUN} WITH (FORCE)"))
