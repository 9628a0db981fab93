"""The accounts of a SQL store and what logs them in: accounts with their roles and scopes,
login sessions and long-lived access tokens (both kept by a hash of their secret).
`AccountTables` is a mixin of `SqlStore`, needing only its `Database`; the verdicts on
logins are in logins.py."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from cvjobs.errors import AccountExists
from cvjobs.model import ADMIN, EVERYTHING, Account, AuditEntry, Scope
from cvjobs.store.audit import write_audit
from cvjobs.store.driver import Connection, Database
from cvjobs.store.logins import name_subject
from cvjobs.store.values import StoredAccount, StoredSession, StoredToken

ACCOUNT_FIELDS = (
    "id",
    "name",
    "role",
    "disabled",
    "scope_all",
    "password_hash",
    "failed_logins",
    "locked_until",
)
ACCOUNT_COLUMNS = ", ".join(f"a.{c}" for c in ACCOUNT_FIELDS)
TOKEN_COLUMNS = "t.id, t.name, t.created_at, t.expires_at, t.revoked_at, t.last_used, t.token_hash"


class AccountTables:
    """The accounts, sessions and access tokens of a SQL store."""

    _db: Database

    async def accounts(self) -> list[StoredAccount]:
        async with self._db.reading() as conn:
            rows = await conn.fetchall(f"SELECT {ACCOUNT_COLUMNS} FROM accounts a ORDER BY a.id")
            return [await stored_account(conn, row) for row in rows]

    async def count_accounts(self) -> int:
        async with self._db.reading() as conn:
            row = await conn.fetchone("SELECT count(*) FROM accounts")
        return int(row[0]) if row else 0

    async def create_account(
        self, name: str, password_hash: str, *, role: str, scope: Scope = EVERYTHING
    ) -> Account:
        async with self._db.transaction() as conn:
            if await conn.fetchone("SELECT 1 FROM accounts WHERE lower(name) = lower(?)", (name,)):
                raise AccountExists(f"an account named {name!r} exists already")
            row = await conn.fetchone(
                "INSERT INTO accounts (name, password_hash, is_admin, role, created_at)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (name, password_hash, int(role == ADMIN), role, int(time.time())),
            )
            assert row is not None
            await write_scope(conn, int(row[0]), scope)
        return Account(account_id=int(row[0]), name=name, role=role, scope=scope)

    async def get_account(self, name: str) -> StoredAccount | None:
        async with self._db.reading() as conn:
            row = await conn.fetchone(
                f"SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE lower(a.name) = lower(?)",
                (name,),
            )
            return None if row is None else await stored_account(conn, row)

    async def update_account(
        self,
        account_id: int,
        *,
        password_hash: str | None = None,
        role: str | None = None,
        disabled: bool | None = None,
        unlock: bool = False,
    ) -> None:
        changes: list[tuple[str, Any]] = []
        unlock = unlock or password_hash is not None
        if password_hash is not None:
            changes.append(("password_hash", password_hash))
        if unlock:
            changes += [("failed_logins", 0), ("locked_until", 0)]
        if role is not None:
            changes += [("role", role), ("is_admin", int(role == ADMIN))]
        if disabled is not None:
            changes.append(("disabled", int(disabled)))
        if not changes:
            return
        async with self._db.transaction() as conn:
            await conn.execute(
                f"UPDATE accounts SET {', '.join(f'{c} = ?' for c, _ in changes)} WHERE id = ?",
                (*(v for _, v in changes), account_id),
            )
            if disabled or password_hash is not None:
                # A disabled account or a changed password ends every open login.
                await conn.execute("DELETE FROM sessions WHERE account_id = ?", (account_id,))
            if unlock:
                # The lock-out itself (see judge_login).
                row = await conn.fetchone("SELECT name FROM accounts WHERE id = ?", (account_id,))
                if row is not None:
                    await conn.execute(
                        "DELETE FROM login_guards WHERE subject = ?", (name_subject(row[0]),)
                    )

    async def set_scope(self, account_id: int, scope: Scope) -> None:
        async with self._db.transaction() as conn:
            await write_scope(conn, account_id, scope)

    async def create_session(
        self,
        token_hash: bytes,
        account_id: int,
        now: int,
        idle_seconds: int,
        audit: Sequence[AuditEntry] = (),
    ) -> None:
        async with self._db.transaction() as conn:
            await write_audit(conn, audit)
            await conn.execute(
                "INSERT INTO sessions (token_hash, account_id, created_at, last_used,"
                " idle_seconds) VALUES (?, ?, ?, ?, ?)",
                (token_hash, account_id, now, now, idle_seconds),
            )

    async def get_session(self, token_hash: bytes) -> StoredSession | None:
        async with self._db.reading() as conn:
            row = await conn.fetchone(
                f"SELECT {ACCOUNT_COLUMNS}, s.created_at, s.last_used, s.idle_seconds"
                " FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = ?",
                (token_hash,),
            )
            if row is None:
                return None
            stored = await stored_account(conn, row)
        n = len(ACCOUNT_FIELDS)
        return StoredSession(stored.account, row[n], row[n + 1], row[n + 2])

    async def touch_session(self, token_hash: bytes, now: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                f"UPDATE sessions SET last_used = {self._db.dialect.greatest}(last_used, ?)"
                " WHERE token_hash = ?",
                (now, token_hash),
            )

    async def delete_session(self, token_hash: bytes) -> bool:
        async with self._db.transaction() as conn:
            return (
                await conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,)) > 0
            )

    async def delete_sessions_idle_since(self, now: int) -> int:
        async with self._db.transaction() as conn:
            return await conn.execute(
                "DELETE FROM sessions WHERE last_used + idle_seconds < ?", (now,)
            )

    # -- access tokens -------------------------------------------------------------------

    async def create_access_token(
        self,
        token_hash: str,
        account_id: int,
        name: str,
        now: int,
        expires_at: int,
        *,
        revoked_at: int = 0,
        last_used: int = 0,
    ) -> int:
        async with self._db.transaction() as conn:
            row = await conn.fetchone(
                "INSERT INTO access_tokens (token_hash, account_id, name, created_at, expires_at,"
                " revoked_at, last_used) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (token_hash, account_id, name, now, expires_at, revoked_at, last_used),
            )
        assert row is not None
        return int(row[0])

    async def get_access_token(self, token_hash: str) -> StoredToken | None:
        async with self._db.reading() as conn:
            row = await conn.fetchone(
                f"SELECT {ACCOUNT_COLUMNS}, {TOKEN_COLUMNS} FROM access_tokens t"
                " JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = ?",
                (token_hash,),
            )
            if row is None:
                return None
            stored = await stored_account(conn, row)
        return StoredToken(stored.account, *row[len(ACCOUNT_FIELDS) :])

    async def access_tokens(self) -> list[StoredToken]:
        async with self._db.reading() as conn:
            rows = await conn.fetchall(
                f"SELECT {ACCOUNT_COLUMNS}, {TOKEN_COLUMNS} FROM access_tokens t"
                " JOIN accounts a ON a.id = t.account_id ORDER BY t.id"
            )
            return [
                StoredToken((await stored_account(conn, r)).account, *r[len(ACCOUNT_FIELDS) :])
                for r in rows
            ]

    async def touch_access_token(self, token_id: int, now: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE access_tokens SET last_used = ? WHERE id = ? AND last_used < ?",
                (now, token_id, now),
            )

    async def revoke_access_token(self, token_id: int, now: int) -> bool:
        async with self._db.transaction() as conn:
            changed = await conn.execute(
                "UPDATE access_tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0",
                (now, token_id),
            )
        return changed > 0


async def write_scope(conn: Connection, account_id: int, scope: Scope) -> None:
    await conn.execute(
        "UPDATE accounts SET scope_all = ? WHERE id = ?", (int(scope.everything), account_id)
    )
    await conn.execute("DELETE FROM account_scopes WHERE account_id = ?", (account_id,))
    await conn.executemany(
        "INSERT INTO account_scopes (account_id, kind, entity_id) VALUES (?, ?, ?)",
        [(account_id, "client", i) for i in sorted(scope.clients)]
        + [(account_id, "group", i) for i in sorted(scope.groups)],
    )


async def stored_account(conn: Connection, row: Sequence[Any]) -> StoredAccount:
    """An account from the ACCOUNT_COLUMNS at the start of `row`, with its scope."""
    account_id, name, role, disabled, scope_all, password_hash, failed, locked_until = row[:8]
    scope = EVERYTHING
    if not scope_all:
        entries = await conn.fetchall(
            "SELECT kind, entity_id FROM account_scopes WHERE account_id = ?", (account_id,)
        )
        scope = Scope(
            everything=False,
            clients=frozenset(int(i) for kind, i in entries if kind == "client"),
            groups=frozenset(int(i) for kind, i in entries if kind == "group"),
        )
    account = Account(int(account_id), name, role, bool(disabled), scope)
    return StoredAccount(account, password_hash, int(failed), int(locked_until))
