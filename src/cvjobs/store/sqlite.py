"""The SQLite backend: one connection per process, used directly on the event loop.

A primary-key read through the stdlib driver costs about 10 µs, far less than a hop to a
thread pool, so the connection's async methods call sqlite3 synchronously and never
suspend: each store method runs to its end before any other on the same loop. WAL mode
lets other processes (the CLI, more workers) read while one writes.

The one wait is for another process's write lock (an import, another worker). SQLite's
own busy handler would sleep in the calling thread, which is the event loop: every read
would wait behind one write. So the connection never busy-waits; a write transaction
tries to begin, and while the lock is taken it sleeps on the loop and tries again, until
its `busy_seconds` have passed.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Hashable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from cvjobs.errors import NoCatalogue, StoreError
from cvjobs.store.driver import Dialect, Row, Undo
from cvjobs.store.schema import migrate
from cvjobs.store.sql_store import SqlStore
from cvjobs.store.sqlite_schema import MIGRATIONS

DIALECT = Dialect(
    name="sqlite",
    group_pairs="json_group_array(json_array(g.id, g.name))",
    greatest="max",
    # Foreign keys are not checked in write transactions (see transaction), so indexes
    # and the count triggers.
    job_structure="SELECT 'DROP ' || upper(type) || ' ' || name, sql FROM sqlite_master"
    " WHERE type IN ('index', 'trigger') AND tbl_name = 'jobs' AND sql IS NOT NULL"
    " ORDER BY type, name",
    # AUTOINCREMENT's own record of the last number given (store/changes.py).
    change_state="SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'job_changes'),"
    " 0), pruned_through FROM job_change_state",
    jobs_in_id_order="jobs j NOT INDEXED",
)


BUSY_POLL_SECONDS = 0.05


def _busy(exc: sqlite3.Error) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


@contextmanager
def driver_errors(failed: str = "the catalogue failed") -> Iterator[None]:
    """The one place sqlite3's errors become StoreError: every statement, the raw
    BEGIN/COMMIT/ROLLBACK and PRAGMA calls included, runs inside it. A busy catalogue
    says so; any other error is `failed: what sqlite3 said`."""
    try:
        yield
    except sqlite3.Error as exc:
        if _busy(exc):
            raise StoreError(
                "the catalogue is busy (another process is writing to it); try again"
            ) from exc
        raise StoreError(f"{failed}: {exc}") from exc


def statements(script: str) -> Iterator[str]:
    """Split a migration script into statements (sqlite3 runs one per execute, and
    executescript would commit the migration's transaction halfway)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip():
        raise StoreError("a migration script ends in the middle of a statement")


class SqliteConnection:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with driver_errors():
            return self._db.execute(sql, params).rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with driver_errors():
            self._db.executemany(sql, rows)

    async def upsert_many(
        self, sql: str, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        await self.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with driver_errors():
            return self._db.execute(sql, params).fetchall()

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        with driver_errors():
            row: Row | None = self._db.execute(sql, params).fetchone()
            return row


class SqliteDatabase:
    dialect = DIALECT

    def __init__(
        self, path: str, busy_seconds: float, background_checkpoints: bool = False
    ) -> None:
        self.path = path
        self._busy_seconds = busy_seconds
        self._background_checkpoints = background_checkpoints and path != ":memory:"
        with driver_errors(f"cannot open the SQLite catalogue {path}"):
            self._db = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=busy_seconds
            )
            self._db.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode loses nothing on a process crash (only on power loss).
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            # Helper threads for big sorts: building the job indexes after a bulk load of
            # a million jobs takes 4.8 s instead of 6.3 on two cores.
            self._db.execute(f"PRAGMA threads = {min(os.cpu_count() or 1, 4)}")
            # ANALYZE reads a sample of each index, as SQLite advises: after a bulk load of
            # 300,000 jobs 0.33 s less, and the plans the tests check are unchanged.
            self._db.execute("PRAGMA analysis_limit = 2000")
            if self._background_checkpoints:
                # A checkpoint writes the WAL back into the file and syncs it: hundreds of
                # milliseconds on a big catalogue. A server does that in a thread (see
                # maintain), not in whichever request's commit crosses the threshold.
                self._db.execute("PRAGMA wal_autocheckpoint = 0")
            # Set up under the busy timeout above; from now on no statement waits in this
            # thread (see _begin).
            self._db.execute("PRAGMA busy_timeout = 0")
        self._conn = SqliteConnection(self._db)
        self._lead: int | None = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteConnection]:
        # Foreign keys are not checked inside write transactions: bulk loads cost twice as
        # much with them, and the store writes every entity before what refers to it.
        with driver_errors():
            self._db.execute("PRAGMA foreign_keys = OFF")
        try:
            await self._begin()
            try:
                yield self._conn
            except Undo:
                self._rollback()
            except BaseException:
                self._rollback()
                raise
            else:
                try:
                    with driver_errors():
                        self._db.execute("COMMIT")
                except StoreError:
                    self._rollback()
                    raise
        finally:
            with driver_errors():
                self._db.execute("PRAGMA foreign_keys = ON")

    def _rollback(self) -> None:
        with driver_errors():
            self._db.execute("ROLLBACK")

    async def _begin(self) -> None:
        """BEGIN IMMEDIATE, waiting for another process's write lock on the event loop
        (short sleeps, doubling to BUSY_POLL_SECONDS) rather than in SQLite's busy handler,
        which would stop every other request meanwhile."""
        deadline = time.monotonic() + self._busy_seconds
        pause = 0.001
        while True:
            with driver_errors():
                try:
                    self._db.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if not _busy(exc) or time.monotonic() >= deadline:
                        raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, BUSY_POLL_SECONDS)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[SqliteConnection]:
        yield self._conn

    async def committed(self) -> None:
        while self._db.in_transaction:  # noqa: ASYNC110 - sqlite3 tells no end of one
            await asyncio.sleep(0.001)

    async def version(self) -> Hashable:
        # data_version moves when another connection commits; this connection's own
        # writes move total_changes (rolled back ones too: a needless change, no harm).
        # Inside this connection's open transaction reads see what is not committed yet:
        # no version then, nothing to keep.
        if self._db.in_transaction:
            return object()
        with driver_errors():
            row = self._db.execute("PRAGMA data_version").fetchone()
        return (row[0], self._db.total_changes)

    async def try_lead(self) -> bool:
        # An exclusive lock on a file beside the catalogue; the kernel drops it when the
        # process dies, however it dies.
        if self._lead is not None:
            return True
        if self.path == ":memory:":
            self._lead = -1
            return True
        fd = os.open(self.path + ".engine-lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lead = fd
        return True

    async def maintain(self) -> None:
        if self._background_checkpoints:
            await asyncio.to_thread(self._checkpoint)

    def _checkpoint(self) -> None:
        # Its own connection: sqlite3 connections are not to be shared across threads
        # mid-statement, and PASSIVE never waits for the server's readers or writer.
        conn = sqlite3.connect(self.path, timeout=0.5)
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            pass  # busy now: the next round does it
        finally:
            conn.close()

    async def close(self) -> None:
        if self._lead is not None and self._lead >= 0:
            os.close(self._lead)
        self._lead = None
        self._db.close()


def _must_exist(path: str) -> None:
    if path != ":memory:" and not Path(path).is_file():
        raise NoCatalogue(f"there is no catalogue at {Path(path).resolve()}")


class SqliteStore(SqlStore):
    """A job catalogue in one SQLite file (or ":memory:"); make one with `open`."""

    path: str

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        busy_seconds: float = 30.0,
        for_server: bool = False,
        create: bool = True,
    ) -> SqliteStore:
        """`busy_seconds`: how long a write waits for another process's write lock
        before giving up with StoreError; keep it short in a server, whose requests all
        wait meanwhile. `for_server`: checkpoints are left to `maintain`, run in a thread,
        instead of falling on a request. Without `create`, a file that does not exist is
        NoCatalogue, not a new catalogue."""
        if not create:
            _must_exist(str(path))
        db = SqliteDatabase(str(path), busy_seconds, background_checkpoints=for_server)
        try:
            async with db.transaction() as conn:
                found = await migrate(conn, MIGRATIONS, statements, str(path))
        except BaseException:
            await db.close()
            raise
        store = cls(db, created=found == 0)
        store.path = str(path)
        return store

    @property
    def connection(self) -> sqlite3.Connection:
        """The driver connection, for tests that inspect the file."""
        return self._db._db  # type: ignore[attr-defined, no-any-return]
