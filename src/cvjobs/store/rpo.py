"""Recovery point objectives (schema v15): an RPO per client group (0: the server's
default, --rpo-hours) and, per webhook, the clients the outbox has told it are overdue,
so each hook hears of each overdue spell once (service/rpo.py has the rules). `RpoTables`
is a mixin of `SqlStore`.

A client's freshness is read from the jobs_client_end index (client, end time, status,
job type): its last successful backup by walking the client's entries back from the
newest, its first finished backup by walking them forward; a few index probes a client,
not a scan of its jobs (a client whose backups all failed is walked whole, once a check).
"""

from __future__ import annotations

from collections.abc import Collection

from cvjobs import vocab
from cvjobs.model import EVERYTHING, Delivery, Freshness, Scope
from cvjobs.store.driver import Database
from cvjobs.store.filters import SUCCESSFUL_LITERALS, Where, in_list, literals
from cvjobs.store.webhooks import insert_deliveries

MIGRATION = (
    "ALTER TABLE client_groups ADD COLUMN rpo_seconds BIGINT NOT NULL DEFAULT 0;\n"
    "CREATE TABLE overdue_told (\n"
    "    hook_id   BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,\n"
    "    client_id BIGINT NOT NULL,\n"
    "    since     BIGINT NOT NULL,\n"
    "    PRIMARY KEY (hook_id, client_id)\n"
    ");\n"
)

_BACKUPS = literals(vocab.BACKUP_JOB_TYPES)
_LAST_OK = (
    "SELECT j.{column} FROM jobs j WHERE j.client_id = c.id AND j.end_time > 0"
    f" AND j.status IN ({SUCCESSFUL_LITERALS}) AND j.job_type IN ({_BACKUPS})"
    " ORDER BY j.end_time DESC LIMIT 1"
)
_FRESHNESS = (
    "SELECT c.id, c.name,"
    " (SELECT min(g.rpo_seconds) FROM client_group_members m"
    "  JOIN client_groups g ON g.id = m.group_id"
    "  WHERE m.client_id = c.id AND g.rpo_seconds > 0),"
    f" ({_LAST_OK.format(column='id')}), ({_LAST_OK.format(column='end_time')}),"
    " (SELECT j.end_time FROM jobs j WHERE j.client_id = c.id AND j.end_time > 0"
    f"  AND j.job_type IN ({_BACKUPS}) ORDER BY j.end_time LIMIT 1)"
    " FROM clients c"
)


class RpoTables:
    _db: Database

    async def client_freshness(self, scope: Scope = EVERYTHING) -> list[Freshness]:
        """Every client in `scope` that has a finished backup: its RPO and its backups'
        ends."""
        where = Where()
        where.scoped("c.id", scope)
        async with self._db.reading() as conn:
            rows = await conn.fetchall(f"{_FRESHNESS}{where.sql} ORDER BY c.id", where.params)
        return [
            Freshness(int(r[0]), r[1], int(r[2] or 0), int(r[3] or 0), int(r[4] or 0), int(r[5]))
            for r in rows
            if r[5]
        ]

    async def group_rpos(self) -> list[tuple[int, str, int]]:
        """(group id, name, RPO seconds or 0) of every client group."""
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                "SELECT id, name, rpo_seconds FROM client_groups ORDER BY id"
            )
        return [(int(r[0]), r[1], int(r[2])) for r in rows]

    async def set_group_rpo(self, group_id: int, seconds: int) -> bool:
        async with self._db.transaction() as conn:
            return (
                await conn.execute(
                    "UPDATE client_groups SET rpo_seconds = ? WHERE id = ?", [seconds, group_id]
                )
                > 0
            )

    async def overdue_told(self) -> set[tuple[int, int]]:
        """(hook id, client id) of each hook told a client is overdue, in its spell."""
        async with self._db.reading() as conn:
            rows = await conn.fetchall("SELECT hook_id, client_id FROM overdue_told")
        return {(int(r[0]), int(r[1])) for r in rows}

    async def mark_overdue(self, client_id: int, since: int, delivery: Delivery) -> bool:
        """Record that the delivery's hook is told the client is overdue since `since`,
        and write the delivery, in one transaction; False (nothing written) if it was
        told already."""
        async with self._db.transaction() as conn:
            added = await conn.execute(
                "INSERT INTO overdue_told (hook_id, client_id, since) VALUES (?, ?, ?)"
                " ON CONFLICT (hook_id, client_id) DO NOTHING",
                [delivery.hook_id, client_id, since],
            )
            if added == 0:
                return False
            await insert_deliveries(conn, [delivery])
        return True

    async def clear_overdue(self, still_overdue: Collection[int]) -> int:
        """End the spells of the clients not `still_overdue` (they have backed up since,
        or gone); how many hooks' records went."""
        sql = "DELETE FROM overdue_told"
        if still_overdue:
            sql += f" WHERE NOT {in_list('client_id', still_overdue)}"
        async with self._db.transaction() as conn:
            return await conn.execute(sql, sorted(still_overdue))
