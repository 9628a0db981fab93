"""The PostgreSQL backend: asyncpg with a connection pool, for catalogues that outgrow one
file or serve many workers. The SQL is the store's shared SQL with `?` placeholders turned
into PostgreSQL's `$n`; migrations run under an advisory lock, so workers starting together
migrate once."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import AsyncIterator, Hashable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg

from cvjobs.errors import NoCatalogue, StoreError
from cvjobs.store import redacted
from cvjobs.store.driver import Connection, Dialect, Row, Undo
from cvjobs.store.gathered import Gathered
from cvjobs.store.postgres_schema import MIGRATIONS, statements
from cvjobs.store.schema import migrate
from cvjobs.store.sql_store import SqlStore

DIALECT = Dialect(
    name="postgresql",
    group_pairs="json_agg(json_build_array(g.id, g.name) ORDER BY g.id)",
    greatest="GREATEST",
    # Foreign keys cost a trigger per key per row (8 a job): checked once, in one join, when
    # they are added back.
    job_structure="SELECT 'ALTER TABLE jobs DROP CONSTRAINT ' || conname,"
    " 'ALTER TABLE jobs ADD CONSTRAINT ' || conname || ' ' || pg_get_constraintdef(oid)"
    " FROM pg_constraint WHERE conrelid = 'jobs'::regclass AND contype = 'f'"
    " UNION ALL SELECT 'DROP INDEX ' || indexname, indexdef FROM pg_indexes"
    " WHERE schemaname = current_schema() AND tablename = 'jobs' AND indexname <> 'jobs_pkey'"
    " UNION ALL SELECT 'DROP TRIGGER ' || tgname || ' ON jobs', pg_get_triggerdef(oid)"
    " FROM pg_trigger WHERE tgrelid = 'jobs'::regclass AND NOT tgisinternal",
    # Numbered records only: cvjobs_sequence_changes() moves the head (store/changes.py).
    change_state="SELECT head, pruned_through FROM job_change_state",
    # PostgreSQL's planner, with real statistics, walks the primary key itself.
    jobs_in_id_order="jobs j",
)
_MIGRATION_LOCK = 7_227_000
_ENGINE_LOCK = 7_227_002
# InternalClientError: asyncpg's own, e.g. a connection whose server session was ended
# (pg_terminate_backend) found in a state it did not expect.
_DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
)
COPY_FROM = 500  # rows; fewer go row by row
_VALUES = re.compile(r"VALUES \([?, ]+\)")


@functools.lru_cache(maxsize=512)
def dollar(sql: str) -> str:
    """`?` placeholders as `$1, $2, ...` (no `?` appears in the store's SQL otherwise)."""
    counter = iter(range(1, 100_000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


@contextmanager
def driver_errors(failed: str = "the catalogue failed") -> Iterator[None]:
    """The one place asyncpg's errors (and the socket's) become StoreError: every
    statement, transaction and pool call runs inside it."""
    try:
        yield
    except _DRIVER_ERRORS as exc:
        raise StoreError(f"{failed}: {exc}") from exc


class PostgresConnection:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with driver_errors():
            status: str = await self._conn.execute(dollar(sql), *params)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = [tuple(row) for row in rows]
        if not batch:
            return
        with driver_errors():
            await self._conn.executemany(dollar(sql), batch)

    async def upsert_many(
        self, sql: str, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        if len(rows) < COPY_FROM:
            await self.executemany(sql, rows)
            return
        # COPY the rows into a temporary table, then one INSERT ... SELECT with the
        # statement's own ON CONFLICT clause: several times faster than row by row.
        staging = f"staging_{table}"
        from_staging = _VALUES.sub(f"SELECT {', '.join(columns)} FROM {staging}", sql, count=1)
        with driver_errors():
            await self._conn.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {staging}"
                f" (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            await self._conn.execute(f"TRUNCATE {staging}")
            await self._conn.copy_records_to_table(staging, records=rows, columns=list(columns))
            await self._conn.execute(from_staging)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with driver_errors():
            rows: list[Row] = await self._conn.fetch(dollar(sql), *params)
            return rows

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        with driver_errors():
            row: Row | None = await self._conn.fetchrow(dollar(sql), *params)
            return row


class PooledConnection(asyncpg.Connection):  # type: ignore[misc]
    """A pool connection given back without asyncpg's reset query (unlock every advisory
    lock, close cursors, UNLISTEN, RESET ALL): a round trip on every release, that is on
    every read, for session state this server never leaves on a pooled connection (the
    engine's lock lives on a connection it keeps, and is let go before that goes back).
    An open transaction is still rolled back, by asyncpg itself."""

    def get_reset_query(self) -> str:
        return ""


class PostgresDatabase:
    dialect = DIALECT

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._lead: asyncpg.Connection | None = None
        self._versions: asyncpg.Connection | None = None
        self._snapshot = Gathered(self._read_snapshot)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresConnection]:
        with driver_errors():
            async with self._pool.acquire() as conn:
                tx = conn.transaction()
                await tx.start()
                try:
                    yield PostgresConnection(conn)
                except Undo:
                    await tx.rollback()
                except BaseException:
                    await tx.rollback()
                    raise
                else:
                    await tx.commit()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[PostgresConnection]:
        with driver_errors():
            async with self._pool.acquire() as conn:
                yield PostgresConnection(conn)

    async def version(self) -> Hashable:
        # Two equal snapshots see the same rows: no transaction has committed between
        # them (in this database, whatever its schema; any commit counts). Requests that
        # ask together share one read of it (store/gathered.py).
        return await self._snapshot()

    async def _read_snapshot(self) -> Hashable:
        # One read at a time (Gathered), on a connection kept for it: the pool's acquire
        # and release cost as much as the read. One that fails goes back to the pool.
        with driver_errors():
            if self._versions is None:
                self._versions = await self._pool.acquire()
            try:
                snapshot: str = await self._versions.fetchval("SELECT pg_current_snapshot()::text")
            except BaseException:
                await self._let_go_of_versions()
                raise
        return snapshot

    async def _let_go_of_versions(self) -> None:
        conn, self._versions = self._versions, None
        if conn is not None:
            with contextlib.suppress(*_DRIVER_ERRORS):
                await self._pool.release(conn)

    async def try_lead(self) -> bool:
        # A session-level advisory lock on a connection kept for the purpose; PostgreSQL
        # drops it when that connection ends, however the process ends.
        if self._lead is not None:
            return True
        with driver_errors():
            conn = await self._pool.acquire()
            if await conn.fetchval(f"SELECT pg_try_advisory_lock({_ENGINE_LOCK})"):
                self._lead = conn
                return True
            await self._pool.release(conn)
        return False

    async def committed(self) -> None:
        pass  # every reader has a connection of its own

    async def maintain(self) -> None:
        pass  # PostgreSQL's own background writer and autovacuum do this

    async def close(self) -> None:
        await self._let_go_of_versions()
        if self._lead is not None:
            with contextlib.suppress(*_DRIVER_ERRORS):
                await self._lead.execute(f"SELECT pg_advisory_unlock({_ENGINE_LOCK})")
            await self._pool.release(self._lead)
            self._lead = None
        await self._pool.close()


class PostgresStore(SqlStore):
    """A job catalogue in a PostgreSQL database; make one with `open`."""

    @classmethod
    async def open(
        cls, url: str, *, max_connections: int = 10, create: bool = True
    ) -> PostgresStore:
        """Without `create`, a database (or search_path schema) that holds no cvjobs
        catalogue yet is NoCatalogue, not a new catalogue."""
        where = redacted(url)
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=max_connections,
                command_timeout=60,
                connection_class=PooledConnection,
                # Every query of a catalogue is short, but some are estimated dear (a
                # subquery per subclient): PostgreSQL's JIT then compiled the /metrics
                # read for 115-245 ms before running it for 5.
                server_settings={"jit": "off"},
            )
        except (*_DRIVER_ERRORS, ValueError) as exc:
            raise StoreError(f"cannot open the PostgreSQL catalogue {where}: {exc}") from exc
        db = PostgresDatabase(pool)
        try:
            async with db.transaction() as conn:
                await conn.execute(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
                await _check_schema(conn, url, where, create)
                found = await migrate(conn, MIGRATIONS, statements, where)
        except BaseException:
            await db.close()
            raise
        return cls(db, created=found == 0)


async def _check_schema(conn: Connection, url: str, where: str, create: bool) -> None:
    """The catalogue's schema must exist (a search_path naming a missing schema would
    otherwise fail at the first CREATE TABLE with "no schema has been selected")."""
    row = await conn.fetchone("SELECT current_schema(), to_regclass('schema_migrations')")
    assert row is not None
    if row[0] is None:
        path = parse_qs(urlsplit(url).query).get("search_path", ["(default)"])[0]
        raise StoreError(
            f"the schema {path!r} in search_path does not exist in {where}; create it"
            f" (CREATE SCHEMA {path}) or fix the URL"
        )
    if row[1] is None and not create:
        raise NoCatalogue(f"there is no cvjobs catalogue in {where} (schema {row[0]})")
