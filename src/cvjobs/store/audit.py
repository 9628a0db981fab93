"""The audit log's table: entries are written in the transaction of what they record
(`write_audit`, used by every write that audits), read newest first, exported oldest first.
`AuditTables` is a mixin of `SqlStore`, needing only its `Database`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cvjobs.model import AuditEntry, AuditQuery
from cvjobs.store.driver import Connection, Database
from cvjobs.store.filters import audit_filter

_COLUMNS = "id, time, user_name, address, action, job_id, outcome, detail"
_INSERT = (
    "INSERT INTO audit (time, user_name, address, action, job_id, outcome, detail)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _entry(r: Sequence[Any]) -> AuditEntry:
    return AuditEntry(r[1], r[2], r[3], r[4], r[5], r[6], r[7], entry_id=r[0])


async def write_audit(conn: Connection, entries: Sequence[AuditEntry]) -> None:
    """Audit entries, written in the transaction of what they record."""
    await conn.executemany(
        _INSERT,
        [(e.time, e.user, e.address, e.action, e.job_id, e.outcome, e.detail) for e in entries],
    )


class AuditTables:
    """The audit log of a SQL store."""

    _db: Database

    async def add_audit(self, entries: Sequence[AuditEntry]) -> None:
        async with self._db.transaction() as conn:
            await write_audit(conn, entries)

    async def audit(self, query: AuditQuery) -> list[AuditEntry]:
        where = audit_filter(query)
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                f"SELECT {_COLUMNS} FROM audit{where.sql} ORDER BY time DESC, id DESC LIMIT ?",
                (*where.params, query.limit),
            )
        return [_entry(r) for r in rows]

    async def export_audit(self, after_id: int, limit: int) -> list[AuditEntry]:
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                f"SELECT {_COLUMNS} FROM audit WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
            )
        return [_entry(r) for r in rows]
