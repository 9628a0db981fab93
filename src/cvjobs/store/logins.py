"""Verdicts on logins, shared by every worker through the catalogue: login_guards holds
one row per lower-cased user name that failed and per client address that failed (schema
v6); a verdict locks its rows, so concurrent logins of a name are judged one at a time.
`LoginTables` is a mixin of `SqlStore`, needing only its `Database`."""

from __future__ import annotations

from cvjobs.store.audit import write_audit
from cvjobs.store.driver import Connection, Database
from cvjobs.store.values import (
    DISABLED,
    FAILED,
    LOCKED,
    LOCKOUT,
    OK,
    OPEN,
    THROTTLED,
    LoginAttempt,
    LoginRules,
    LoginVerdict,
)

# Locks a login guard's row, made if missing (an upsert that changes nothing locks the row
# on PostgreSQL, where a plain SELECT would read without waiting); its values as they are.
LOCK_GUARD = (
    "INSERT INTO login_guards (subject, last_failure) VALUES (?, ?)"
    " ON CONFLICT (subject) DO UPDATE SET failures = login_guards.failures"
    " RETURNING failures, locked_until, last_failure"
)


def name_subject(name: str) -> str:
    return "name:" + name.strip().lower()


def address_subject(address: str) -> str:
    return "address:" + address


async def _throttle_wait(conn: Connection, address: str, now: int, rules: LoginRules) -> int:
    """Seconds until `address` may log in again: 0 unless it has `address_failures`
    failures within the window, then until the oldest of the latest that many is out."""
    row = await conn.fetchone(
        "SELECT time FROM login_failures WHERE address = ? AND time > ?"
        " ORDER BY time DESC LIMIT 1 OFFSET ?",
        (address, now - rules.address_window, rules.address_failures - 1),
    )
    return 0 if row is None else max(1, rules.address_window - (now - int(row[0])))


class LoginTables:
    """The login verdicts of a SQL store."""

    _db: Database

    async def peek_login(
        self, name: str, address: str, now: int, rules: LoginRules
    ) -> LoginVerdict:
        async with self._db.reading() as conn:
            wait = await _throttle_wait(conn, address, now, rules)
            if wait:
                return LoginVerdict(THROTTLED, wait)
            row = await conn.fetchone(
                "SELECT locked_until FROM login_guards WHERE subject = ?", (name_subject(name),)
            )
        if row is not None and row[0] > now:
            return LoginVerdict(LOCKED, row[0] - now)
        return LoginVerdict(OPEN)

    async def judge_login(self, attempt: LoginAttempt, rules: LoginRules) -> LoginVerdict:
        now, subject = attempt.now, name_subject(attempt.name)
        # Account 0 matches no row: an unknown name runs the same statements as a real one.
        account_id = attempt.account_id or 0
        async with self._db.transaction() as conn:
            # Locks the name's row until the end of the transaction (PostgreSQL: a row
            # lock, and the values as last committed; SQLite: the write lock already
            # serialises every judgement).
            row = await conn.fetchone(LOCK_GUARD, (subject, 0))
            assert row is not None
            failures, locked_until, last_failure = (int(v) for v in row)
            if not attempt.password_ok:
                # The address's row too (after the name's: one order, no deadlock), so
                # its failures are counted one at a time across workers.
                await conn.fetchone(LOCK_GUARD, (address_subject(attempt.address), now))
            wait = await _throttle_wait(conn, attempt.address, now, rules)
            if wait:
                return LoginVerdict(THROTTLED, wait)
            if locked_until > now:
                return LoginVerdict(LOCKED, locked_until - now)
            if attempt.password_ok:
                disabled = await conn.fetchone(
                    "SELECT disabled FROM accounts WHERE id = ?", (account_id,)
                )
                if disabled is None or disabled[0]:
                    return LoginVerdict(DISABLED)
                await conn.execute("DELETE FROM login_guards WHERE subject = ?", (subject,))
                await conn.execute(
                    "UPDATE accounts SET failed_logins = 0, locked_until = 0"
                    " WHERE id = ? AND (failed_logins <> 0 OR locked_until <> 0)",
                    (account_id,),
                )
                await write_audit(conn, attempt.audit)
                await conn.execute(
                    "INSERT INTO sessions (token_hash, account_id, created_at, last_used,"
                    " idle_seconds) VALUES (?, ?, ?, ?, ?)",
                    (attempt.token_hash, account_id, now, now, attempt.idle_seconds),
                )
                return LoginVerdict(OK)
            await conn.execute(
                "INSERT INTO login_failures (address, time) VALUES (?, ?)", (attempt.address, now)
            )
            in_a_row = (failures if now - last_failure < rules.forget_seconds else 0) + 1
            verdict = LoginVerdict(FAILED)
            if in_a_row >= rules.lock_after:
                in_a_row, locked_until = 0, now + rules.lock_seconds
                verdict = LoginVerdict(LOCKOUT, rules.lock_seconds)
            await conn.execute(
                "UPDATE login_guards SET failures = ?, locked_until = ?, last_failure = ?"
                " WHERE subject = ?",
                (in_a_row, locked_until, now, subject),
            )
            # What `cvjobs user list` shows of a real account.
            await conn.execute(
                "UPDATE accounts SET failed_logins = ?, locked_until = ? WHERE id = ?",
                (in_a_row, locked_until, account_id),
            )
            return verdict

    async def purge_logins(self, now: int, rules: LoginRules) -> int:
        async with self._db.transaction() as conn:
            gone = await conn.execute(
                "DELETE FROM login_failures WHERE time <= ?", (now - rules.address_window,)
            )
            return gone + await conn.execute(
                "DELETE FROM login_guards WHERE locked_until <= ? AND last_failure <= ?",
                (now, now - max(rules.forget_seconds, rules.address_window)),
            )
