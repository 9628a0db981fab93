"""What the SQL store needs of a database driver: connections that run SQL written with
`?` placeholders, transactions, and the few places where SQLite and PostgreSQL spell SQL
differently. Each backend module (sqlite.py, postgres.py) provides one; driver errors are
turned into StoreError inside it, so nothing above sees sqlite3 or asyncpg."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

Row = Sequence[Any]


class Connection(Protocol):
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    async def upsert_many(
        self, sql: str, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        """Run an `INSERT INTO table (columns) VALUES (?, ...) ON CONFLICT ...` statement
        for many rows; a backend may load them in bulk first (PostgreSQL: COPY)."""
        ...

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...


class Database(Protocol):
    dialect: Dialect

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """A connection inside a transaction: committed when the block ends, rolled back
        if it raises (Undo ends the block quietly after rolling back)."""
        ...

    def reading(self) -> AbstractAsyncContextManager[Connection]:
        """A connection for reads outside a transaction."""
        ...

    async def committed(self) -> None:
        """Returns once `reading` would see only what is committed: SQLite's one
        connection reads what its own open transaction wrote, so this waits for that
        to end (PostgreSQL's readers have their own connections)."""
        ...

    async def try_lead(self) -> bool:
        """True if this process is, or has now become, the one that runs the job engine
        on this catalogue. Leadership ends with the process (or its connection), so when
        the leader dies another process takes over at its next try."""
        ...

    async def version(self) -> Hashable:
        """A value that differs after any write is committed to the catalogue, by this
        process or another, so that equal values mean equal contents (unequal values may
        still mean equal contents: it may change for writes elsewhere)."""
        ...

    async def maintain(self) -> None:
        """Housekeeping a server runs every few seconds (SQLite: write the WAL back into
        the database file, off the event loop)."""
        ...

    async def close(self) -> None: ...


class Undo(Exception):
    """Raised inside a transaction to roll it back without an error."""


@dataclass(frozen=True, slots=True)
class Dialect:
    """The spellings that differ between backends."""

    name: str
    # A JSON array of [id, name] pairs of a client's groups, from g (client_groups) and m
    # (client_group_members) rows.
    group_pairs: str
    # The larger of two values.
    greatest: str
    # (drop, create) statements of what a bulk load into an empty jobs table builds once
    # at the end instead of row by row: its secondary indexes, checked constraints and the
    # triggers that keep its counts (store/counts.py, rebuilt then).
    job_structure: str
    # The change log's head (the last sequence number given) and the highest pruned.
    change_state: str
    # The jobs table read in id order, its indexes left aside: how a page of a filter
    # that most jobs match is found (store/jobs.py list_jobs).
    jobs_in_id_order: str
