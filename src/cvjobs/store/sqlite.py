"""The SQLite store: one connection per process, used directly on the event loop.

A primary-key read through the stdlib driver costs about 10 µs, far less than a hop to a
thread pool, so the async methods call sqlite3 synchronously and never await in between:
each method is atomic with respect to the others on the same loop. WAL mode lets other
processes (the CLI, a second server) read while this one writes.
"""

from __future__ import annotations

import functools
import inspect
import sqlite3
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import orjson

from cvjobs import vocab
from cvjobs.errors import StaleUpdate, StoreError
from cvjobs.model import (
    Account,
    Event,
    EventQuery,
    Job,
    JobQuery,
    JobRecord,
    JsonObject,
    PolicyCopy,
    Ref,
    StoragePolicy,
)
from cvjobs.store.base import JobChange, StoredAccount, StoredSession
from cvjobs.store.sqlite_schema import LATEST, MIGRATIONS
from cvjobs.store.sqlite_sql import (
    EVENT_COLUMNS,
    MUTABLE_COLUMNS,
    REPLACE_JOB,
    SELECT_JOB,
    SORT_COLUMNS,
    UPSERT_JOB,
    EntityWriter,
    in_list,
    job_filter,
    job_from_row,
    job_params,
    ref,
    statements,
)

_T = TypeVar("_T")


class _Undo(Exception):
    """Raised inside a transaction to roll it back without an error."""


def _translating(cls: type[_T]) -> type[_T]:
    """Every public coroutine of the class turns driver errors into StoreError, so nothing
    above the store sees sqlite3."""
    for name, member in list(vars(cls).items()):
        if name.startswith("_") or not inspect.iscoroutinefunction(member):
            continue

        def wrap(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            @functools.wraps(method)
            async def translated(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await method(*args, **kwargs)
                except sqlite3.OperationalError as exc:
                    if "locked" in str(exc) or "busy" in str(exc):
                        raise StoreError(
                            "the catalogue is busy (another process is writing to it); try again"
                        ) from exc
                    raise StoreError(f"the catalogue failed: {exc}") from exc
                except sqlite3.DatabaseError as exc:
                    raise StoreError(f"the catalogue failed: {exc}") from exc

            return translated

        setattr(cls, name, wrap(member))
    return cls


@_translating
class SqliteStore:
    """A job catalogue in one SQLite file (or ":memory:"). `busy_seconds` is how long a
    write waits for another process's write lock before giving up with StoreError; keep
    it short in a server, whose requests all wait meanwhile."""

    def __init__(self, path: str | Path, *, busy_seconds: float = 30.0) -> None:
        self.path = str(path)
        try:
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=busy_seconds
            )
            self._db.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode loses nothing on a process crash (only on power loss).
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the SQLite catalogue {self.path}: {exc}") from exc

    # -- plumbing ----------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN ... COMMIT; an exception rolls back (and `_Undo` ends there quietly)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except _Undo:
            self._db.execute("ROLLBACK")
            return
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._transaction() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"
            )
            current = db.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] or 0
            if current > LATEST:
                raise StoreError(
                    f"the catalogue {self.path} has schema version {current}, newer than this"
                    f" cvjobs understands ({LATEST}); upgrade cvjobs or use another --db"
                )
            for version, script in MIGRATIONS:
                if version > current:
                    for statement in statements(script):
                        db.execute(statement)
                    db.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                        (version, int(time.time())),
                    )
            db.executemany(
                "INSERT OR IGNORE INTO app_types (id, name) VALUES (?, ?)",
                vocab.APP_TYPES.items(),
            )

    async def close(self) -> None:
        self._db.close()

    # -- jobs --------------------------------------------------------------------------

    async def get_job(self, job_id: int) -> Job | None:
        row = self._db.execute(SELECT_JOB + " WHERE j.id = ?", (job_id,)).fetchone()
        return job_from_row(row) if row else None

    async def get_sections(self, job_id: int, names: Collection[str]) -> dict[str, JsonObject]:
        if not names:
            return {}
        marks = ", ".join("?" * len(names))
        rows = self._db.execute(
            f"SELECT name, body FROM job_sections WHERE job_id = ? AND name IN ({marks})",
            (job_id, *names),
        )
        return {name: orjson.loads(body) for name, body in rows}

    async def upsert_jobs(
        self, records: Iterable[JobRecord], *, require_newer: bool = False
    ) -> int:
        # Foreign keys are not checked row by row here (that more than doubles the cost of
        # a bulk load): every entity a job refers to is written just before it, in the
        # same transaction, by EntityWriter.
        self._db.execute("PRAGMA foreign_keys = OFF")
        try:
            return self._upsert_jobs(records, require_newer)
        finally:
            self._db.execute("PRAGMA foreign_keys = ON")

    def _upsert_jobs(self, records: Iterable[JobRecord], require_newer: bool) -> int:
        count = 0
        with self._transaction() as db:
            entities = EntityWriter(db)
            jobs: list[tuple[Any, ...]] = []
            sections: list[tuple[int, str, str]] = []
            events: list[Event] = []
            for record in records:
                if require_newer:
                    self._check_newer(db, record.job)
                entities.job(record.job, record.set_client_groups)
                jobs.append(job_params(record.job))
                sections.extend(
                    (record.job.job_id, name, orjson.dumps(body).decode())
                    for name, body in record.sections.items()
                )
                events.extend(record.events)
                count += 1
                if len(jobs) >= 10_000:
                    self._flush(db, jobs, sections)
            self._flush(db, jobs, sections)
            self._insert_events(db, events)
        return count

    @staticmethod
    def _check_newer(db: sqlite3.Connection, job: Job) -> None:
        row = db.execute("SELECT last_update_time FROM jobs WHERE id = ?", (job.job_id,)).fetchone()
        if row is not None and row[0] > job.last_update_time:
            raise StaleUpdate(
                f"job {job.job_id} was last updated at {row[0]}, after this update's"
                f" lastUpdateTime {job.last_update_time}; nothing was changed"
            )

    @staticmethod
    def _flush(
        db: sqlite3.Connection, jobs: list[tuple[Any, ...]], sections: list[tuple[int, str, str]]
    ) -> None:
        db.executemany(UPSERT_JOB, jobs)
        db.executemany(
            "INSERT INTO job_sections (job_id, name, body) VALUES (?, ?, ?)"
            " ON CONFLICT (job_id, name) DO UPDATE SET body = excluded.body",
            sections,
        )
        jobs.clear()
        sections.clear()

    async def put_sections(self, job_id: int, sections: dict[str, JsonObject]) -> bool:
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is None:
                return False
            self._flush(
                db,
                [],
                [(job_id, name, orjson.dumps(body).decode()) for name, body in sections.items()],
            )
        return True

    async def count_jobs(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM jobs").fetchone()[0])

    async def put_storage_policies(self, policies: Iterable[StoragePolicy]) -> None:
        with self._transaction() as db:
            for sp in policies:
                db.execute(
                    "INSERT INTO storage_policies (id, name) VALUES (?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                    (sp.policy.id, sp.policy.name),
                )
                db.execute("DELETE FROM storage_policy_copies WHERE policy_id = ?", (sp.policy.id,))
                db.executemany(
                    "INSERT INTO storage_policy_copies"
                    " (id, policy_id, name, retention_days, is_default) VALUES (?, ?, ?, ?, ?)",
                    [
                        (c.copy_id, sp.policy.id, c.name, c.retention_days, int(c.is_default))
                        for c in sp.copies
                    ],
                )

    async def get_storage_policy(self, policy_id: int) -> StoragePolicy | None:
        row = self._db.execute(
            "SELECT name FROM storage_policies WHERE id = ?", (policy_id,)
        ).fetchone()
        if row is None:
            return None
        copies = self._db.execute(
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
        total = int(self._db.execute(f"SELECT count(*) FROM jobs j{where}", params).fetchone()[0])
        if query.limit == 0 or query.offset >= total:
            return total, []
        # The page's ids first, from the jobs table (and clients, to sort by name) alone;
        # only then the joins for those rows. Joining before the sort would build every
        # matching row, a million of them in a big catalogue, to keep a hundred.
        direction = "DESC" if query.descending else "ASC"
        column = SORT_COLUMNS[query.sort_field]
        order = f" ORDER BY {column} {direction}" + (
            f", j.id {direction}" if column != "j.id" else ""
        )
        join = " LEFT JOIN clients c ON c.id = j.client_id" if column.startswith("c.") else ""
        ids = [
            row[0]
            for row in self._db.execute(
                f"SELECT j.id FROM jobs j{join}{where}{order} LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset],
            )
        ]
        rows = self._db.execute(
            SELECT_JOB + f" WHERE j.id IN ({', '.join('?' * len(ids))})", ids
        ).fetchall()
        by_id = {row[0]: job_from_row(row) for row in rows}
        return total, [by_id[i] for i in ids]

    async def active_jobs(self) -> list[Job]:
        marks = ", ".join("?" * len(vocab.ACTIVE_STATUSES))
        rows = self._db.execute(
            SELECT_JOB + f" WHERE j.status IN ({marks}) ORDER BY j.id",
            sorted(vocab.ACTIVE_STATUSES),
        ).fetchall()
        return [job_from_row(r) for r in rows]

    async def replace_jobs(self, changes: Sequence[JobChange], *, all_or_nothing: bool) -> int:
        written = 0
        with self._transaction() as db:
            for change in changes:
                values = [
                    int(v) if isinstance(v, bool) else v
                    for v in (getattr(change.job, c) for c in MUTABLE_COLUMNS)
                ]
                cursor = db.execute(REPLACE_JOB, [*values, change.job.job_id, change.expect_status])
                if cursor.rowcount == 0:
                    if all_or_nothing:
                        written = 0
                        raise _Undo
                    continue
                self._insert_events(db, change.events)
                written += 1
        return written

    async def create_job(self, job: Job, events: Iterable[Event]) -> Job:
        with self._transaction() as db:
            next_id = int(db.execute("SELECT coalesce(max(id), 0) + 1 FROM jobs").fetchone()[0])
            created = replace(job, job_id=next_id)
            EntityWriter(db).job(created, set_groups=False)
            db.execute(UPSERT_JOB, job_params(created))
            self._insert_events(db, (replace(e, job_id=next_id) for e in events))
        return created

    @staticmethod
    def _insert_events(db: sqlite3.Connection, events: Iterable[Event]) -> None:
        db.executemany(
            "INSERT INTO events (job_id, client_id, time, severity, event_code, subsystem,"
            " description, user_name, from_status, to_status, acknowledged)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
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
                for e in events
            ],
        )

    async def add_events(self, events: Iterable[Event]) -> None:
        with self._transaction() as db:
            self._insert_events(db, events)

    async def list_events(self, query: EventQuery) -> list[Event]:
        where: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("e.id = ?", query.event_id),
            ("e.job_id = ?", query.job_id),
            ("e.client_id = ?", query.client_id),
            ("e.time >= ?", query.from_time),
            ("e.time <= ?", query.to_time),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        if query.severities is not None:
            where.append(in_list("e.severity", query.severities) if query.severities else "0")
            params.extend(sorted(query.severities))
        sql = (
            "SELECT "
            + ", ".join(f"e.{c.strip()}" for c in EVENT_COLUMNS.split(","))
            + ", c.name FROM events e LEFT JOIN clients c ON c.id = e.client_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY e.id DESC LIMIT ?"
        )
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
            for r in self._db.execute(sql, [*params, query.limit])
        ]

    # -- accounts and sessions -----------------------------------------------------------

    async def count_accounts(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM accounts").fetchone()[0])

    async def create_account(self, name: str, password_hash: str, *, is_admin: bool) -> Account:
        try:
            cursor = self._db.execute(
                "INSERT INTO accounts (name, password_hash, is_admin, created_at)"
                " VALUES (?, ?, ?, ?)",
                (name, password_hash, int(is_admin), int(time.time())),
            )
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"an account named {name!r} exists already") from exc
        return Account(account_id=int(cursor.lastrowid or 0), name=name, is_admin=is_admin)

    async def get_account(self, name: str) -> StoredAccount | None:
        row = self._db.execute(
            "SELECT id, name, is_admin, disabled, password_hash FROM accounts WHERE name = ?",
            (name,),
        ).fetchone()
        if row is None:
            return None
        account = Account(row[0], row[1], is_admin=bool(row[2]), disabled=bool(row[3]))
        return StoredAccount(account, row[4])

    async def create_session(
        self, token_hash: bytes, account_id: int, now: int, idle_seconds: int
    ) -> None:
        self._db.execute(
            "INSERT INTO sessions (token_hash, account_id, created_at, last_used, idle_seconds)"
            " VALUES (?, ?, ?, ?, ?)",
            (token_hash, account_id, now, now, idle_seconds),
        )

    async def get_session(self, token_hash: bytes) -> StoredSession | None:
        row = self._db.execute(
            "SELECT a.id, a.name, a.is_admin, a.disabled, s.created_at, s.last_used,"
            " s.idle_seconds FROM sessions s JOIN accounts a ON a.id = s.account_id"
            " WHERE s.token_hash = ?",
            (token_hash,),
        ).fetchone()
        if row is None:
            return None
        account = Account(row[0], row[1], is_admin=bool(row[2]), disabled=bool(row[3]))
        return StoredSession(account, created_at=row[4], last_used=row[5], idle_seconds=row[6])

    async def touch_session(self, token_hash: bytes, now: int) -> None:
        self._db.execute(
            "UPDATE sessions SET last_used = max(last_used, ?) WHERE token_hash = ?",
            (now, token_hash),
        )

    async def delete_session(self, token_hash: bytes) -> bool:
        cursor = self._db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
        return cursor.rowcount > 0

    async def delete_sessions_idle_since(self, now: int) -> int:
        cursor = self._db.execute("DELETE FROM sessions WHERE last_used + idle_seconds < ?", (now,))
        return cursor.rowcount
