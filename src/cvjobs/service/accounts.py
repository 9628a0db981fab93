"""Account and access-token management, for administrators (`cvjobs user`, `cvjobs
token`). Every change is written to the audit log under the name of whoever made it."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import Protocol

from cvjobs.errors import BadRequest, Forbidden
from cvjobs.model import ROLES, Account, AuditEntry, Scope
from cvjobs.service.auth import (
    ACCESS_TOKEN_PREFIX,
    AuthService,
    access_token_hash,
    check_password,
)
from cvjobs.store.protocols import AccountStore, AuditStore, EntityLookups
from cvjobs.store.values import StoredAccount, StoredToken

MAX_TOKEN_SECONDS = 3650 * 86400


def require_operator(account: Account) -> None:
    """Job actions and ingest writes are for operators and administrators."""
    if not account.may_act:
        raise Forbidden(
            f"{account.name} is a {account.role}: only operators and administrators may change jobs"
        )


class AccountsCatalogue(AccountStore, AuditStore, EntityLookups, Protocol):
    """What account and token management reads and writes."""


class AccountService:
    def __init__(
        self, store: AccountsCatalogue, auth: AuthService, *, clock: Callable[[], float], actor: str
    ) -> None:
        self._store = store
        self._auth = auth
        self._clock = clock
        self._actor = actor  # who is making the changes, for the audit log

    def _now(self) -> int:
        return int(self._clock())

    async def _audit(self, action: str, detail: str) -> None:
        await self._store.add_audit(
            [AuditEntry(self._now(), self._actor, "local", action, detail=detail)]
        )

    async def must_be_new(self, name: str) -> None:
        if await self._store.get_account(name.strip()) is not None:
            raise BadRequest(f"there is already an account {name.strip()!r}")

    async def must_exist(self, name: str) -> None:
        await self._account(name)

    async def _account(self, name: str) -> StoredAccount:
        stored = await self._store.get_account(name.strip())
        if stored is None:
            raise BadRequest(f"there is no account {name!r}")
        return stored

    async def add(
        self,
        name: str,
        password: str,
        role: str,
        *,
        everything: bool = False,
        clients: Sequence[str] = (),
        groups: Sequence[str] = (),
    ) -> Account:
        """A new account, with its scope in the same write. As the vendor does, an account
        that is not an administrator sees nothing until it is given clients or groups (or
        every client, `everything`)."""
        scope = await self._scope(everything, clients, groups)
        account = await self._auth.create_account(name, password, role=role, scope=scope)
        await self._audit("user.add", f"{account.name} ({role}): {_listed(scope)}")
        return account

    async def users(self) -> list[StoredAccount]:
        return await self._store.accounts()

    async def set_password(self, name: str, password: str) -> None:
        stored = await self._account(name)
        password_hash = await self._auth.hash_password(check_password(password))
        await self._store.update_account(stored.account.account_id, password_hash=password_hash)
        await self._audit("user.passwd", stored.account.name)

    async def set_disabled(self, name: str, disabled: bool) -> int:
        """Disable or enable; returns the seconds the account stays locked out (0: none),
        which enabling does not lift."""
        stored = await self._account(name)
        await self._store.update_account(stored.account.account_id, disabled=disabled)
        await self._audit("user.disable" if disabled else "user.enable", stored.account.name)
        return max(0, stored.locked_until - self._now())

    async def unlock(self, name: str) -> bool:
        """Lift a lock-out and forget the failed logins; False if it was not locked."""
        stored = await self._account(name)
        await self._store.update_account(stored.account.account_id, unlock=True)
        await self._audit("user.unlock", stored.account.name)
        return stored.locked_until > self._now()

    async def set_role(self, name: str, role: str) -> None:
        if role not in ROLES:
            raise BadRequest(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
        stored = await self._account(name)
        await self._store.update_account(stored.account.account_id, role=role)
        await self._audit("user.role", f"{stored.account.name}: {role}")

    async def set_scope(
        self, name: str, *, everything: bool, clients: Sequence[str], groups: Sequence[str]
    ) -> Scope:
        """Everything, or the clients and client groups named (by name or id)."""
        stored = await self._account(name)
        scope = await self._scope(everything, clients, groups)
        await self._store.set_scope(stored.account.account_id, scope)
        await self._audit("user.scope", f"{stored.account.name}: {_listed(scope)}")
        return scope

    async def _scope(
        self, everything: bool, clients: Sequence[str], groups: Sequence[str]
    ) -> Scope:
        if everything and (clients or groups):
            raise BadRequest("a scope is either all clients or a list, not both")
        return Scope(
            everything=everything,
            clients=await self._ids("clients", clients),
            groups=await self._ids("client_groups", groups),
        )

    async def _ids(self, table: str, words: Sequence[str]) -> frozenset[int]:
        words = [w.strip() for w in words if w.strip()]
        named = await self._store.entity_ids(table, [w for w in words if not w.isdigit()])
        ids = set()
        for word in words:
            if word.isdigit():
                ids.add(int(word))
            elif word.lower() in named:
                ids.add(named[word.lower()])
            else:
                what = "client" if table == "clients" else "client group"
                raise BadRequest(f"there is no {what} named {word!r} in the catalogue")
        return frozenset(ids)

    async def create_token(self, user: str, seconds: int, label: str) -> tuple[str, int]:
        """A new access token for `user`: (the token, shown once; its id)."""
        if not 60 <= seconds <= MAX_TOKEN_SECONDS:
            raise BadRequest("a token lives from one minute to ten years")
        stored = await self._account(user)
        token = ACCESS_TOKEN_PREFIX + secrets.token_hex(32)
        now = self._now()
        token_id = await self._store.create_access_token(
            access_token_hash(token), stored.account.account_id, label, now, now + seconds
        )
        await self._audit("token.create", f"token {token_id} for {stored.account.name}")
        return token, token_id

    async def tokens(self) -> list[StoredToken]:
        return await self._store.access_tokens()

    async def revoke_token(self, token_id: int) -> None:
        if not await self._store.revoke_access_token(token_id, self._now()):
            raise BadRequest(f"there is no live token {token_id}")
        await self._audit("token.revoke", f"token {token_id}")


def _listed(scope: Scope) -> str:
    if scope.everything:
        return "all"
    return f"clients {sorted(scope.clients)}, groups {sorted(scope.groups)}"
