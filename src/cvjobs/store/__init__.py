"""Job catalogue backends behind one interface (`cvjobs.store.base.Store`)."""

from __future__ import annotations

from cvjobs.store.base import Store
from cvjobs.store.sqlite import SqliteStore


async def open_store(url: str, *, busy_seconds: float = 30.0, for_server: bool = False) -> Store:
    """A store for `url`: `postgresql://...` for PostgreSQL; a file path, `sqlite:///path`
    or `:memory:` for SQLite. `busy_seconds` is how long a SQLite write may wait for
    another process's lock; `for_server` stores expect `maintain()` every few seconds."""
    if url.startswith(("postgresql://", "postgres://")):
        from cvjobs.store.postgres import PostgresStore

        return await PostgresStore.open(url)
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    return await SqliteStore.open(path, busy_seconds=busy_seconds, for_server=for_server)
