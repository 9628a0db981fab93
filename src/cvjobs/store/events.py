"""The events table: the rows of `Event`s and the event reads (GET Events, the export of
`cvjobs copy`). Events are written in the transactions of the job writes that make them;
`EventTables` is a mixin of `SqlStore`, needing only its `Database`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from cvjobs.model import AuditEntry, Event, EventQuery
from cvjobs.store.audit import write_audit
from cvjobs.store.driver import Database
from cvjobs.store.filters import CURRENT_CLIENT, event_filter
from cvjobs.store.rows import ref

_COLUMNS = (
    "id", "job_id", "client_id", "time", "severity", "event_code", "subsystem",
    "description", "user_name", "from_status", "to_status", "acknowledged",
)  # fmt: skip
INSERT_EVENT = (
    f"INSERT INTO events ({', '.join(_COLUMNS[1:])})"
    f" VALUES ({', '.join('?' * (len(_COLUMNS) - 1))})"
)
# An event's client is read as its current client (see filters.CURRENT_CLIENT).
_SELECT = (
    "SELECT "
    + ", ".join(CURRENT_CLIENT if c == "client_id" else f"e.{c}" for c in _COLUMNS)
    + f", c.name FROM events e LEFT JOIN jobs j ON j.id = e.job_id"
    f" LEFT JOIN clients c ON c.id = {CURRENT_CLIENT}"
)


def event_params(e: Event) -> tuple[Any, ...]:
    """The values of INSERT_EVENT."""
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


def _event(r: Sequence[Any]) -> Event:
    return Event(
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


class EventTables:
    """The event reads and writes of a SQL store."""

    _db: Database

    async def add_events(self, events: Iterable[Event], audit: Sequence[AuditEntry] = ()) -> None:
        async with self._db.transaction() as conn:
            await write_audit(conn, audit)
            await conn.executemany(INSERT_EVENT, [event_params(e) for e in events])

    async def list_events(self, query: EventQuery) -> list[Event]:
        where = event_filter(query)
        return await self._events(
            where.sql + " ORDER BY e.id DESC LIMIT ?", [*where.params, query.limit]
        )

    async def export_events(self, after_id: int, limit: int) -> list[Event]:
        return await self._events(" WHERE e.id > ? ORDER BY e.id LIMIT ?", [after_id, limit])

    async def _events(self, tail: str, params: Sequence[Any]) -> list[Event]:
        async with self._db.reading() as conn:
            rows = await conn.fetchall(_SELECT + tail, params)
        return [_event(r) for r in rows]
