"""Job catalogue backends behind one interface (`cvjobs.store.values.Store`)."""

from __future__ import annotations

import re

from cvjobs.store.protocols import Store
from cvjobs.store.sqlite import SqliteStore

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def redacted(url: str) -> str:
    """A catalogue URL fit to print: any password replaced by ***."""
    return re.sub(r"//([^:@/]*):[^@/]*@", r"//\1:***@", url)


def sqlite_path(url: str) -> str:
    """The file a SQLite `--db` names: a plain path as given (relative to the working
    directory), `sqlite:///abs/path` as the absolute /abs/path, `:memory:` as itself.
    ValueError for any other URL scheme."""
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite://")
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise ValueError(
            f"unsupported URL scheme {scheme!r} in --db {scheme}://...: use a SQLite file"
            " path, sqlite:///absolute/path or postgresql://user@host:port/dbname"
        )
    return url


async def open_store(
    url: str, *, busy_seconds: float = 30.0, for_server: bool = False, create: bool = True
) -> Store:
    """A store for `url`: `postgresql://...` for PostgreSQL; a file path, `sqlite:///path`
    or `:memory:` for SQLite. `busy_seconds` is how long a SQLite write may wait for
    another process's lock; `for_server` stores expect `maintain()` every few seconds.
    Without `create`, a catalogue that does not exist yet is NoCatalogue (naming where it
    was looked for) instead of a new, empty one; `Store.created` tells which it was."""
    if url.startswith(POSTGRES_SCHEMES):
        from cvjobs.store.postgres import PostgresStore

        return await PostgresStore.open(url, create=create)
    return await SqliteStore.open(
        sqlite_path(url), busy_seconds=busy_seconds, for_server=for_server, create=create
    )
