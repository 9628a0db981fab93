"""Job catalogue backends behind one interface (`cvjobs.store.base.Store`)."""

from __future__ import annotations

from cvjobs.store.base import Store
from cvjobs.store.sqlite import SqliteStore


def open_store(url: str, *, busy_seconds: float = 30.0) -> Store:
    """A store for `url`: a file path, `sqlite:///path` or `:memory:`. `busy_seconds` is
    how long a write may wait for another process's lock."""
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    return SqliteStore(path, busy_seconds=busy_seconds)
