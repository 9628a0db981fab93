"""Account management against a store double of what it asks (AccountsCatalogue): scopes
named by client and group names or ids, roles, the audit of every change, token
lifetimes. The commands' output is tests/commands/test_accounts.py's."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

import pytest

from cvjobs.errors import BadRequest, Forbidden
from cvjobs.model import (
    EVERYTHING,
    OPERATOR,
    VIEWER,
    Account,
    AuditEntry,
    Scope,
)
from cvjobs.service.accounts import AccountService, require_operator
from cvjobs.service.auth import AuthService
from cvjobs.store.values import (
    ENTITY_KINDS,
    LoginAttempt,
    LoginRules,
    LoginVerdict,
    StoredAccount,
    StoredEntity,
    StoredSession,
    StoredToken,
)
from tests.conftest import CHEAP_HASHER
from tests.service.doubles import AuditLog

NOW = 1_000_000
CLIENTS = {"winter": 3, "summer": 4}
GROUPS = {"servers": 9}


@dataclass
class Catalogue(AuditLog):
    """Accounts by lower-cased name, tokens by id, and what was audited."""

    accounts_by_name: dict[str, StoredAccount] = field(default_factory=dict)
    tokens_by_id: dict[int, StoredToken] = field(default_factory=dict)
    audits: list[AuditEntry] = field(default_factory=list)

    async def accounts(self) -> list[StoredAccount]:
        return list(self.accounts_by_name.values())

    async def count_accounts(self) -> int:
        return len(self.accounts_by_name)

    async def create_account(
        self, name: str, password_hash: str, *, role: str, scope: Scope = EVERYTHING
    ) -> Account:
        account = Account(len(self.accounts_by_name) + 1, name, role, scope=scope)
        self.accounts_by_name[name.lower()] = StoredAccount(account, password_hash)
        return account

    async def get_account(self, name: str) -> StoredAccount | None:
        return self.accounts_by_name.get(name.lower())

    async def update_account(
        self,
        account_id: int,
        *,
        password_hash: str | None = None,
        role: str | None = None,
        disabled: bool | None = None,
        unlock: bool = False,
    ) -> None:
        for key, stored in self.accounts_by_name.items():
            if stored.account.account_id == account_id:
                account = replace(
                    stored.account,
                    role=role or stored.account.role,
                    disabled=stored.account.disabled if disabled is None else disabled,
                )
                self.accounts_by_name[key] = replace(
                    stored, account=account, password_hash=password_hash or stored.password_hash
                )

    async def set_scope(self, account_id: int, scope: Scope) -> None:
        for key, stored in self.accounts_by_name.items():
            if stored.account.account_id == account_id:
                account = replace(stored.account, scope=scope)
                self.accounts_by_name[key] = replace(stored, account=account)

    async def peek_login(
        self, name: str, address: str, now: int, rules: LoginRules
    ) -> LoginVerdict:
        raise NotImplementedError  # logins are tests/service/test_auth.py's

    async def judge_login(self, attempt: LoginAttempt, rules: LoginRules) -> LoginVerdict:
        raise NotImplementedError

    async def purge_logins(self, now: int, rules: LoginRules) -> int:
        return 0

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
        owner = next(
            s.account for s in self.accounts_by_name.values() if s.account.account_id == account_id
        )
        token_id = len(self.tokens_by_id) + 1
        self.tokens_by_id[token_id] = StoredToken(
            owner, token_id, name, now, expires_at, revoked_at, last_used, token_hash
        )
        return token_id

    async def get_access_token(self, token_hash: str) -> StoredToken | None:
        return next((t for t in self.tokens_by_id.values() if t.token_hash == token_hash), None)

    async def access_tokens(self) -> list[StoredToken]:
        return list(self.tokens_by_id.values())

    async def touch_access_token(self, token_id: int, now: int) -> None: ...

    async def revoke_access_token(self, token_id: int, now: int) -> bool:
        token = self.tokens_by_id.get(token_id)
        if token is None or token.revoked_at:
            return False
        self.tokens_by_id[token_id] = replace(token, revoked_at=now)
        return True

    async def create_session(
        self,
        token_hash: bytes,
        account_id: int,
        now: int,
        idle_seconds: int,
        audit: Sequence[AuditEntry] = (),
    ) -> None: ...

    async def get_session(self, token_hash: bytes) -> StoredSession | None:
        return None

    async def touch_session(self, token_hash: bytes, now: int) -> None: ...

    async def delete_session(self, token_hash: bytes) -> bool:
        return False

    async def delete_sessions_idle_since(self, now: int) -> int:
        return 0

    async def client_groups_of(self, client_ids: Collection[int]) -> dict[int, frozenset[int]]:
        return {i: frozenset() for i in client_ids}

    async def stored_entities(
        self, wanted: Mapping[str, Collection[int]]
    ) -> dict[str, dict[int, StoredEntity]]:
        return {kind: {} for kind in ENTITY_KINDS}

    async def entity_ids(self, table: str, names: Collection[str]) -> dict[str, int]:
        known = CLIENTS if table == "clients" else GROUPS
        return {n.lower(): known[n.lower()] for n in names if n.lower() in known}

    async def entity_names(self, table: str, ids: Collection[int]) -> dict[int, str]:
        return {}


def service(store: Catalogue) -> AccountService:
    auth = AuthService(store, clock=lambda: float(NOW), idle_seconds=1800, hasher=CHEAP_HASHER)
    return AccountService(store, auth, clock=lambda: float(NOW), actor="root")


def test_a_new_account_gets_its_scope_by_names_and_ids_and_is_audited() -> None:
    store = Catalogue()
    made = asyncio.run(
        service(store).add(
            "alice", "pass-word-1", OPERATOR, clients=["Winter", "12"], groups=["servers"]
        )
    )
    assert made.scope == Scope(everything=False, clients=frozenset({3, 12}), groups=frozenset({9}))
    stored = store.accounts_by_name["alice"]
    assert stored.password_hash.startswith("$argon2id$")
    assert [(a.user, a.action, a.detail) for a in store.audits] == [
        ("root", "user.add", "alice (operator): clients [3, 12], groups [9]")
    ]


def test_an_account_sees_nothing_until_scoped() -> None:
    made = asyncio.run(service(Catalogue()).add("bob", "pass-word-1", VIEWER))
    assert made.scope == Scope(everything=False)


@pytest.mark.parametrize(
    ("everything", "clients", "groups", "says"),
    [
        (False, ["autumn"], [], "no client named 'autumn'"),
        (False, [], ["desktops"], "no client group named 'desktops'"),
        (True, ["winter"], [], "either all clients or a list"),
    ],
)
def test_a_scope_naming_what_is_not_there_is_refused_and_nothing_written(
    everything: bool, clients: list[str], groups: list[str], says: str
) -> None:
    store = Catalogue()
    add = service(store).add(
        "carol", "pass-word-1", VIEWER, everything=everything, clients=clients, groups=groups
    )
    with pytest.raises(BadRequest, match=says):
        asyncio.run(add)
    assert store.accounts_by_name == {} and store.audits == []


def test_roles_and_accounts_are_checked_before_anything_changes() -> None:
    store = Catalogue()
    accounts = service(store)
    asyncio.run(accounts.add("dave", "pass-word-1", VIEWER))
    with pytest.raises(BadRequest, match="unknown role 'boss'"):
        asyncio.run(accounts.set_role("dave", "boss"))
    with pytest.raises(BadRequest, match="there is no account 'erin'"):
        asyncio.run(accounts.set_role("erin", OPERATOR))
    asyncio.run(accounts.set_role("DAVE", OPERATOR))
    assert store.accounts_by_name["dave"].account.role == OPERATOR
    assert [a.action for a in store.audits] == ["user.add", "user.role"]


def test_tokens_live_one_minute_to_ten_years_and_are_revoked_once() -> None:
    store = Catalogue()
    accounts = service(store)
    asyncio.run(accounts.add("fay", "pass-word-1", VIEWER))
    with pytest.raises(BadRequest, match="one minute to ten years"):
        asyncio.run(accounts.create_token("fay", 59, "ci"))
    token, token_id = asyncio.run(accounts.create_token("fay", 3600, "ci"))
    assert token.startswith("cvat_") and store.tokens_by_id[token_id].expires_at == NOW + 3600
    assert token not in store.tokens_by_id[token_id].token_hash  # only a hash is kept
    asyncio.run(accounts.revoke_token(token_id))
    with pytest.raises(BadRequest, match=f"no live token {token_id}"):
        asyncio.run(accounts.revoke_token(token_id))


def test_only_operators_and_administrators_may_change_jobs() -> None:
    require_operator(Account(1, "op", OPERATOR))
    with pytest.raises(Forbidden, match="viewer: only operators and administrators"):
        require_operator(Account(2, "v", VIEWER))
