"""Webhooks and their deliveries (schema v13): the durable outbox of service/webhooks.py.

A hook's deliveries are made from the change log (store/changes.py), which every write
appends to in its own transaction: the deliveries for the records after a hook's cursor
and the cursor's move past them are written in one transaction, compare-and-set on the
cursor, so a crash loses none and two makers cannot both make them. A delivery then stays
until it is delivered, or failed after its last attempt. `WebhookTables` is a mixin of
`SqlStore`.

Schema v14 adds what a hook may change later: a message template (render/webhooks.py)
and the secret it signed with before its last rotation, still signed with until
`old_secret_until`, so receivers can move to the new secret without losing a message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cvjobs.model import Delivery, Webhook
from cvjobs.store.driver import Connection, Database
from cvjobs.store.filters import Where

_HOOK_COLUMNS = (
    "id, url, events, clients, secret, enabled, disabled_reason, cursor_seq, created_at,"
    " template, old_secret, old_secret_until"
)
_DELIVERY_COLUMNS = (
    "id, hook_id, event, job_id, body, state, attempts, next_at, last_status, last_error,"
    " latency_ms, created_at"
)


def migration(serial: str) -> str:
    """Schema v13, with the backend's generated key column spelled `serial`."""
    return (
        "CREATE TABLE webhooks (\n"
        f"    id              {serial},\n"
        "    url             TEXT NOT NULL,\n"
        "    events          TEXT NOT NULL,\n"
        "    clients         TEXT NOT NULL DEFAULT '',\n"
        "    secret          TEXT NOT NULL,\n"
        "    enabled         INTEGER NOT NULL DEFAULT 1,\n"
        "    disabled_reason TEXT NOT NULL DEFAULT '',\n"
        "    cursor_seq      BIGINT NOT NULL,\n"
        "    created_at      BIGINT NOT NULL\n"
        ");\n"
        "CREATE TABLE webhook_deliveries (\n"
        f"    id           {serial},\n"
        "    hook_id      BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,\n"
        "    event        TEXT NOT NULL,\n"
        "    job_id       BIGINT NOT NULL DEFAULT 0,\n"
        "    body         TEXT NOT NULL,\n"
        "    state        TEXT NOT NULL DEFAULT 'pending',\n"
        "    attempts     INTEGER NOT NULL DEFAULT 0,\n"
        "    next_at      BIGINT NOT NULL,\n"
        "    last_status  INTEGER NOT NULL DEFAULT 0,\n"
        "    last_error   TEXT NOT NULL DEFAULT '',\n"
        "    latency_ms   INTEGER NOT NULL DEFAULT 0,\n"
        "    created_at   BIGINT NOT NULL\n"
        ");\n"
        "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_at);\n"
        "CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (hook_id, id);\n"
        "CREATE INDEX webhook_deliveries_made ON webhook_deliveries (created_at);\n"
    )


# v14: a hook's template and, while a rotation lasts, its previous secret.
ROTATION_MIGRATION = (
    "ALTER TABLE webhooks ADD COLUMN template TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE webhooks ADD COLUMN old_secret TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE webhooks ADD COLUMN old_secret_until BIGINT NOT NULL DEFAULT 0;\n"
)


async def insert_deliveries(conn: Connection, deliveries: Sequence[Delivery]) -> None:
    """Write new deliveries, pending, in the caller's transaction."""
    await conn.executemany(
        "INSERT INTO webhook_deliveries (hook_id, event, job_id, body, state, next_at,"
        " created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
        [(d.hook_id, d.event, d.job_id, d.body, d.next_at, d.created_at) for d in deliveries],
    )


def _hook(r: Sequence[Any]) -> Webhook:
    return Webhook(
        hook_id=r[0],
        url=r[1],
        events=tuple(e for e in r[2].split(",") if e),
        clients=tuple(int(c) for c in r[3].split(",") if c),
        secret=r[4],
        enabled=bool(r[5]),
        disabled_reason=r[6],
        cursor=r[7],
        created_at=r[8],
        template=r[9],
        old_secret=r[10],
        old_secret_until=r[11],
    )


def _delivery(r: Sequence[Any]) -> Delivery:
    return Delivery(*r)


class WebhookTables:
    _db: Database

    async def add_webhook(self, hook: Webhook) -> int:
        async with self._db.transaction() as conn:
            row = await conn.fetchone(
                "INSERT INTO webhooks (url, events, clients, secret, enabled, disabled_reason,"
                " cursor_seq, created_at, template) VALUES (?, ?, ?, ?, 1, '', ?, ?, ?)"
                " RETURNING id",
                [
                    hook.url,
                    ",".join(hook.events),
                    ",".join(map(str, hook.clients)),
                    hook.secret,
                    hook.cursor,
                    hook.created_at,
                    hook.template,
                ],
            )
        assert row is not None
        return int(row[0])

    async def webhooks(self) -> list[Webhook]:
        async with self._db.reading() as conn:
            rows = await conn.fetchall(f"SELECT {_HOOK_COLUMNS} FROM webhooks ORDER BY id")
        return [_hook(r) for r in rows]

    async def webhook(self, hook_id: int) -> Webhook | None:
        async with self._db.reading() as conn:
            row = await conn.fetchone(
                f"SELECT {_HOOK_COLUMNS} FROM webhooks WHERE id = ?", [hook_id]
            )
        return None if row is None else _hook(row)

    async def remove_webhook(self, hook_id: int) -> bool:
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM webhook_deliveries WHERE hook_id = ?", [hook_id])
            await conn.execute("DELETE FROM overdue_told WHERE hook_id = ?", [hook_id])
            return await conn.execute("DELETE FROM webhooks WHERE id = ?", [hook_id]) > 0

    async def disable_webhook(self, hook_id: int, reason: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE webhooks SET enabled = 0, disabled_reason = ? WHERE id = ?",
                [reason, hook_id],
            )

    async def enable_webhook(self, hook_id: int, cursor: int) -> bool:
        """Enable a hook again, told of changes after `cursor` (not those it missed)."""
        async with self._db.transaction() as conn:
            return (
                await conn.execute(
                    "UPDATE webhooks SET enabled = 1, disabled_reason = '', cursor_seq = ?"
                    " WHERE id = ?",
                    [cursor, hook_id],
                )
                > 0
            )

    async def rotate_secret(self, hook_id: int, secret: str, old_until: int) -> bool:
        """Sign with `secret` from now on, and with the one it replaces until
        `old_until` too."""
        async with self._db.transaction() as conn:
            return (
                await conn.execute(
                    "UPDATE webhooks SET old_secret = secret, secret = ?, old_secret_until = ?"
                    " WHERE id = ?",
                    [secret, old_until, hook_id],
                )
                > 0
            )

    async def set_template(self, hook_id: int, template: str) -> bool:
        async with self._db.transaction() as conn:
            return (
                await conn.execute(
                    "UPDATE webhooks SET template = ? WHERE id = ?", [template, hook_id]
                )
                > 0
            )

    async def enqueue_deliveries(
        self, hook_id: int, expected_cursor: int, cursor: int, deliveries: Sequence[Delivery]
    ) -> bool:
        """Write `deliveries` and move the hook's cursor from `expected_cursor` to
        `cursor`, in one transaction; False (nothing written) if the cursor had moved."""
        async with self._db.transaction() as conn:
            moved = await conn.execute(
                "UPDATE webhooks SET cursor_seq = ? WHERE id = ? AND cursor_seq = ?",
                [cursor, hook_id, expected_cursor],
            )
            if moved == 0:
                return False
            await insert_deliveries(conn, deliveries)
        return True

    async def due_deliveries(self, now: int, limit: int) -> list[Delivery]:
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries"
                " WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?",
                [now, limit],
            )
        return [_delivery(r) for r in rows]

    async def record_attempt(self, delivery: Delivery) -> None:
        """Store a delivery's state after an attempt (its attempts, next_at, outcome)."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE webhook_deliveries SET state = ?, attempts = ?, next_at = ?,"
                " last_status = ?, last_error = ?, latency_ms = ? WHERE id = ?",
                [
                    delivery.state,
                    delivery.attempts,
                    delivery.next_at,
                    delivery.last_status,
                    delivery.last_error[:500],
                    delivery.latency_ms,
                    delivery.delivery_id,
                ],
            )

    async def deliveries(self, hook_id: int | None, limit: int) -> list[Delivery]:
        """Newest first; of one hook, or of all."""
        where = Where()
        where.equal("hook_id", hook_id)
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries{where.sql}"
                " ORDER BY id DESC LIMIT ?",
                [*where.params, limit],
            )
        return [_delivery(r) for r in rows]

    async def delivery_counts(self) -> list[tuple[int, bool, str, int]]:
        """(hook id, enabled, state, deliveries kept) of every hook and state."""
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                "SELECT w.id, w.enabled, d.state, count(d.id) FROM webhooks w"
                " LEFT JOIN webhook_deliveries d ON d.hook_id = w.id"
                " GROUP BY w.id, w.enabled, d.state ORDER BY 1, 3"
            )
        return [(int(r[0]), bool(r[1]), r[2] or "", int(r[3])) for r in rows]

    async def prune_deliveries(self, before: int) -> int:
        """Forget deliveries delivered or failed before `before` (UNIX seconds)."""
        async with self._db.transaction() as conn:
            return await conn.execute(
                "DELETE FROM webhook_deliveries WHERE created_at < ?"
                " AND state IN ('delivered', 'failed')",
                [before],
            )

    async def replay_delivery(self, delivery_id: int, now: int, hook_id: int | None = None) -> bool:
        """Send a delivery (of `hook_id`, if given) again, whatever its state, from its
        first attempt."""
        where = Where()
        where.equal("id", delivery_id)
        where.equal("hook_id", hook_id)
        async with self._db.transaction() as conn:
            return (
                await conn.execute(
                    "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_at = ?"
                    + where.sql,
                    [now, *where.params],
                )
                > 0
            )
