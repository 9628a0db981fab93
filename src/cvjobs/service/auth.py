"""Logins and tokens.

Passwords are kept as argon2id hashes. A login token is 256 random bits shown as
`QSDK <hex>`; only its SHA-256 is stored. A long-lived access token (`cvjobs token
create`) is `cvat_<hex>`, also stored as its SHA-256, and lives until it expires or is
revoked. A token expires after its idle timeout (30
minutes, or the Login's `timeout`) without use. RenewLoginToken swaps a token for a new
one even after it expired from inactivity, because cvpysdk renews only once it has been
answered 401 with the old token (seen in cvpysdk 11.44, cvpysdk.py `_renew_login_token`);
that is allowed within `renew_seconds` of the token's last use, and never after Logout.

Failed logins lock a user name after LOCK_AFTER_FAILURES in a row (failures more than
FORGET_SECONDS apart do not add up), for LOCK_SECONDS; a name that is no account locks the
same way, with the same answer, so the answer never tells whether a name exists. A client
address with ADDRESS_FAILURES failures within ADDRESS_WINDOW_SECONDS is refused until the
oldest of them is that old. Both are kept in the catalogue, so they hold across workers,
and decided after the password hash, in the transaction that opens the session
(`Store.judge_login`): a login that waited for its hash while the lock fell is refused.
Password hashes wait in a bounded queue, fair between addresses, that a client leaves by
hanging up (`cvjobs.service.hashing`). Logins, failures and lock-outs go to the audit log.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import replace
from typing import NoReturn, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cvjobs.errors import (
    AccountLocked,
    BadRequest,
    LoginFailed,
    NotAuthenticated,
    RenewFailed,
    StoreError,
)
from cvjobs.model import ADMIN, EVERYTHING, ROLES, Account, AuditEntry, Scope, Session
from cvjobs.service.hashing import Gone, HashQueue
from cvjobs.service.read_cache import SESSION_CACHE_SIZE, ReadCache
from cvjobs.store.protocols import AccountStore, AuditStore
from cvjobs.store.values import (
    DISABLED,
    LOCKED,
    LOCKOUT,
    OK,
    OPEN,
    THROTTLED,
    LoginAttempt,
    LoginRules,
    StoredSession,
    StoredToken,
)

TOKEN_SCHEMES = ("QSDK", "BEARER", "SAML")  # compared in upper case
MAX_LOGIN_TIMEOUT_MINUTES = 7 * 24 * 60
# How long before an idle session's last_used is written again: sliding expiry at this
# granularity instead of a database write on every request.
TOUCH_INTERVAL_SECONDS = 30
HASHING_AT_ONCE = 2
# Logins waiting for a hash, in all and from one client address; more are answered 503.
MAX_WAITING_LOGINS = 64
MAX_WAITING_PER_ADDRESS = 16
LOCK_AFTER_FAILURES = 5
LOCK_SECONDS = 15 * 60
ADDRESS_FAILURES = 20
ADDRESS_WINDOW_SECONDS = 5 * 60
FORGET_SECONDS = 24 * 3600
ACCESS_TOKEN_PREFIX = "cvat_"


class AuthCatalogue(AccountStore, AuditStore, Protocol):
    """What logins, sessions and tokens read and write."""


def new_login_token() -> str:
    """`QSDK ` and 545 lowercase hex digits, the length of the vendor's tokens: a PHP client
    (duhow/Commvault-PHP, App.php) saves one by appending "0" and reading it as bytes, which
    needs an odd number of digits. 2,180 random bits."""
    return "QSDK " + secrets.token_hex(273)[:545]


def token_hash(token: str) -> bytes:
    """The stored form of a token: SHA-256 of its secret part, scheme stripped."""
    return _secret_hash(token_secret(token))


def _secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def access_token_hash(secret: str) -> str:
    """The stored form of an access token: hex SHA-256 of its secret (scheme stripped)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def token_secret(token: str) -> str:
    token = token.strip()
    scheme, _, rest = token.partition(" ")
    if rest and scheme.upper() in TOKEN_SCHEMES:
        token = rest.strip()
    return token.lower()


def decode_password(encoded: str) -> str | None:
    """The wire password is Base64 of the UTF-8 plaintext; None when it is not, which is
    a wrong password like any other (the vendor answers errList 1116, not an error)."""
    try:
        return base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def login_rules() -> LoginRules:
    """The lock-out and throttle rules, as this module's constants say now."""
    return LoginRules(
        lock_after=LOCK_AFTER_FAILURES,
        lock_seconds=LOCK_SECONDS,
        address_failures=ADDRESS_FAILURES,
        address_window=ADDRESS_WINDOW_SECONDS,
        forget_seconds=FORGET_SECONDS,
    )


def check_password(password: str) -> str:
    if len(password) < 8:
        raise BadRequest("a password needs at least 8 characters")
    if len(password) > 1024:
        raise BadRequest("a password may have at most 1024 characters")
    return password


class AuthService:
    def __init__(
        self,
        store: AuthCatalogue,
        *,
        clock: Callable[[], float],
        idle_seconds: int,
        renew_seconds: int = 24 * 3600,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._idle_seconds = idle_seconds
        self._renew_seconds = renew_seconds
        self._hasher = hasher or PasswordHasher()
        # argon2 takes 64 MiB and a core for a tenth of a second: a flood of logins waits
        # its turn (or is refused) instead of taking all memory and every core.
        self._hashing = HashQueue(HASHING_AT_ONCE, MAX_WAITING_LOGINS, MAX_WAITING_PER_ADDRESS)
        # token hash -> the session or access token as read
        self._sessions: ReadCache[bytes, StoredSession] = ReadCache()
        self._tokens: ReadCache[str, StoredToken] = ReadCache()
        # A login token as sent -> its hash: the same header arrives on every request.
        self._keys: dict[str, bytes] = {}
        # Verified against when the user does not exist, so a wrong name costs as much
        # time as a wrong password and names cannot be probed by timing. Made on first
        # need: hashing is deliberately slow and most apps never need it.
        self._dummy_hash: asyncio.Future[str] | None = None

    def _now(self) -> int:
        return int(self._clock())

    @property
    def waiting_logins(self) -> int:
        """Logins waiting for their password hash."""
        return self._hashing.waiting

    async def hash_password(self, password: str) -> str:
        # Accounts are made by administrators: they wait their turn but are never refused.
        return await self._hashing.run(lambda: self._hasher.hash(password), "", bounded=False)

    async def _verify(
        self, password_hash: str, password: str, address: str, gone: Gone | None
    ) -> bool:
        def verify() -> bool:
            try:
                return self._hasher.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False

        return await self._hashing.run(verify, address, gone)

    async def _dummy(self) -> str:
        # One hash, however many logins of unknown names arrive before it is made (each
        # making its own would be a hash per login that no hang-up or queue bound stops).
        if self._dummy_hash is None or (
            self._dummy_hash.done() and self._dummy_hash.exception() is not None
        ):
            self._dummy_hash = asyncio.ensure_future(self.hash_password(secrets.token_hex(16)))
        return await asyncio.shield(self._dummy_hash)

    async def create_account(
        self, name: str, password: str, *, role: str, scope: Scope = EVERYTHING
    ) -> Account:
        if not name.strip() or len(name.strip()) > 128:
            raise BadRequest("an account needs a name of 1 to 128 characters")
        if role not in ROLES:
            raise BadRequest(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
        return await self._store.create_account(
            name.strip(), await self.hash_password(check_password(password)), role=role, scope=scope
        )

    async def ensure_admin(self, password: str) -> str | None:
        """Create the `admin` account if there is no account at all. Returns the password
        when it was generated here (so the caller can show it once), else None."""
        if await self._store.count_accounts():
            return None
        generated = None
        if not password:
            password = generated = secrets.token_urlsafe(12)
        await self.create_account("admin", password, role=ADMIN)
        return generated

    async def login(
        self,
        username: str,
        encoded_password: str,
        timeout_minutes: int | None = None,
        address: str = "",
        gone: Gone | None = None,
    ) -> Session:
        """A new session, or LoginFailed (AccountLocked) saying why not; TryLater when too
        many logins wait for a hash, ClientGone if `gone` finishes while this one waits."""
        password = decode_password(encoded_password)
        if timeout_minutes is not None and not 1 <= timeout_minutes <= MAX_LOGIN_TIMEOUT_MINUTES:
            raise BadRequest(f"timeout must be between 1 and {MAX_LOGIN_TIMEOUT_MINUTES} minutes")
        name, rules = username.strip(), login_rules()
        # Refused whatever the password: spare the hash (and its place in the queue).
        early = await self._store.peek_login(name, address, self._now(), rules)
        if early.outcome != OPEN:
            await self._refuse(name, address, early.outcome, early.wait)
        stored = await self._store.get_account(name) if name else None
        hashed = stored.password_hash if stored else await self._dummy()
        # A password that is not Base64 matches nothing; it costs a hash all the same.
        ok = await self._verify(hashed, password or "", address, gone) and password is not None
        # The verdict, on the lock state as it is now that the hash is done.
        now = self._now()
        token = new_login_token()
        account = stored.account if stored else None
        idle = timeout_minutes * 60 if timeout_minutes else self._idle_seconds
        attempt = LoginAttempt(
            name,
            address,
            now,
            account.account_id if account else None,
            ok and account is not None,
            token_hash(token),
            idle,
            (AuditEntry(now, account.name if account else name, address, "login"),),
        )
        verdict = await self._store.judge_login(attempt, rules)
        if verdict.outcome != OK:
            await self._refuse(name, address, verdict.outcome, verdict.wait)
        assert account is not None
        return Session(account=account, token=token)

    async def _refuse(self, name: str, address: str, outcome: str, wait: int) -> NoReturn:
        """Audit a refused login and raise what its answer says. A locked name answers
        the same whether or not it is an account."""
        error: LoginFailed
        audit_outcome, more = outcome, []
        if outcome == THROTTLED:
            error = LoginFailed(f"Too many failed logins from {address}; try again in {wait} s")
        elif outcome in (LOCKED, LOCKOUT):
            error = AccountLocked(wait)
            if outcome == LOCKOUT:
                audit_outcome = "failed"
                more.append(
                    AuditEntry(self._now(), name, address, "lockout", detail=f"locked for {wait} s")
                )
        elif outcome == DISABLED:
            error = LoginFailed("User account is disabled")
        else:
            error = LoginFailed("Invalid Username or Password")
        entry = AuditEntry(
            self._now(), name, address, "login", outcome=audit_outcome, detail=error.message
        )
        with contextlib.suppress(StoreError):
            await self._store.add_audit([entry, *more])
        raise error

    async def _open_session(
        self, account: Account, idle_seconds: int, *audit: AuditEntry
    ) -> Session:
        """A new session, and its audit entry in the same transaction."""
        token = new_login_token()
        now = self._now()
        await self._store.create_session(
            token_hash(token), account.account_id, now, idle_seconds, audit
        )
        return Session(account=account, token=token)

    async def authenticate(self, token: str | None) -> Account:
        """The account behind a live token; NotAuthenticated for a missing, unknown,
        expired or disabled one. Slides the token's expiry forward."""
        key = self._keys.get(token) if token else None
        if key is None:
            secret = token_secret(token) if token else ""
            if not token or not secret:
                raise NotAuthenticated("Access denied: no authentication token was sent")
            if secret.startswith(ACCESS_TOKEN_PREFIX):
                return await self._access_token(secret, self._now())
            key = _secret_hash(secret)
            if len(self._keys) >= SESSION_CACHE_SIZE:
                self._keys.clear()
            self._keys[token] = key
        now = self._now()
        session = await self._sessions.get(key, now, self._store.get_session)
        if session is None:
            raise NotAuthenticated("Access denied: the authentication token is not valid")
        if now > session.last_used + session.idle_seconds:
            raise NotAuthenticated("Access denied: the authentication token has expired")
        if session.account.disabled:
            raise NotAuthenticated("Access denied: the account is disabled")
        if now - session.last_used >= TOUCH_INTERVAL_SECONDS:
            # Sliding the expiry is not worth failing a read for: if the catalogue is busy,
            # the next request slides it.
            with contextlib.suppress(StoreError):
                await self._store.touch_session(key, now)
                self._sessions.put(key, now, replace(session, last_used=now))
        return session.account

    async def _access_token(self, secret: str, now: int) -> Account:
        key = access_token_hash(secret)
        stored = await self._tokens.get(key, now, self._store.get_access_token)
        if stored is None:
            raise NotAuthenticated("Access denied: the access token is not valid")
        if stored.revoked_at:
            raise NotAuthenticated("Access denied: the access token was revoked")
        if now >= stored.expires_at:
            raise NotAuthenticated("Access denied: the access token has expired")
        if stored.account.disabled:
            raise NotAuthenticated("Access denied: the account is disabled")
        if now - stored.last_used >= TOUCH_INTERVAL_SECONDS:
            with contextlib.suppress(StoreError):
                await self._store.touch_access_token(stored.token_id, now)
                self._tokens.put(key, now, replace(stored, last_used=now))
        return stored.account

    async def renew(self, token: str | None) -> Session:
        if not token or not token_secret(token):
            raise RenewFailed("sessionId is required")
        key = token_hash(token)
        self._sessions.forget(key)
        session = await self._store.get_session(key)
        now = self._now()
        if session is None or session.account.disabled:
            raise RenewFailed("Invalid authorization token provided.")
        if now > session.last_used + session.idle_seconds + self._renew_seconds:
            await self._store.delete_session(key)
            raise RenewFailed("The session is too old to renew; log in again.")
        await self._store.delete_session(key)
        return await self._open_session(session.account, session.idle_seconds)

    async def logout(self, token: str | None) -> bool:
        if not token or not token_secret(token):
            return False
        self._sessions.forget(token_hash(token))
        return await self._store.delete_session(token_hash(token))

    async def purge(self) -> int:
        """Forget sessions that can no longer be used or renewed, and failed logins that
        no longer count."""
        now = self._now()
        gone = await self._store.delete_sessions_idle_since(now - self._renew_seconds)
        return gone + await self._store.purge_logins(now, login_rules())
