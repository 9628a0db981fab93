"""Long-lived access tokens: accepted as `Authorization: Bearer` and `Authtoken: Bearer`,
stored only as a hash, refused once revoked, expired or their account disabled, and acting
with their account's role and scope."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from starlette.testclient import TestClient

from cvjobs.model import Scope
from cvjobs.service.accounts import AccountService
from cvjobs.service.auth import AuthService
from cvjobs.service.read_cache import SESSION_CACHE_SECONDS
from cvjobs.store import open_store
from tests.catalogues import Catalogue
from tests.conftest import API, CLOCK_START, FakeClock

pytestmark = pytest.mark.postgres_too

T = TypeVar("T")


def with_accounts(db: Catalogue, use: Callable[[AccountService], Awaitable[T]]) -> T:
    async def run() -> T:
        store = await open_store(db.url)
        try:
            auth = AuthService(store, clock=time.time, idle_seconds=1800)
            return await use(AccountService(store, auth, clock=lambda: CLOCK_START, actor="t"))
        finally:
            await store.close()

    return asyncio.run(run())


def make_token(db: Catalogue, user: str = "viewer", seconds: int = 90 * 86400) -> str:
    token, _ = with_accounts(db, lambda s: s.create_token(user, seconds, "ci"))
    return token


def get_job(client: TestClient, headers: dict[str, str]) -> Any:
    return client.get(API + "Job/4", headers={"Accept": "application/json", **headers})


def test_a_token_is_accepted_in_both_headers(client: TestClient, catalogue: Catalogue) -> None:
    token = make_token(catalogue)
    for headers in (
        {"Authorization": f"Bearer {token}"},
        {"Authtoken": f"Bearer {token}"},
        {"Authtoken": token},
    ):
        response = get_job(client, headers)
        assert response.status_code == 200, headers
        assert response.json()["totalRecordsWithoutPaging"] == 1
    who = client.post(API + "WhoAmI", headers={"Authorization": f"Bearer {token}"})
    assert 'userName="viewer"' in who.text


def test_only_the_hash_is_stored(catalogue: Catalogue) -> None:
    token = make_token(catalogue)
    stored = catalogue.sql("SELECT token_hash FROM access_tokens")
    assert stored == [(hashlib.sha256(token.encode()).hexdigest(),)]
    assert token not in str(catalogue.sql("SELECT * FROM access_tokens"))


def test_a_revoked_token_is_refused(
    client: TestClient, catalogue: Catalogue, clock: FakeClock
) -> None:
    token = make_token(catalogue)
    assert get_job(client, {"Authorization": f"Bearer {token}"}).status_code == 200
    with_accounts(catalogue, lambda s: s.revoke_token(1))
    clock.advance(SESSION_CACHE_SECONDS)  # a running server learns of it this late at most
    response = get_job(client, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "revoked" in response.json()["errorMessage"]


def test_an_expired_token_is_refused(
    client: TestClient, catalogue: Catalogue, clock: FakeClock
) -> None:
    token = make_token(catalogue, seconds=3600)  # made at CLOCK_START, where the clock is
    clock.advance(3599)
    assert get_job(client, {"Authorization": f"Bearer {token}"}).status_code == 200
    clock.advance(1)
    response = get_job(client, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and "expired" in response.json()["errorMessage"]


def test_a_disabled_accounts_token_is_refused(
    client: TestClient, catalogue: Catalogue, clock: FakeClock
) -> None:
    token = make_token(catalogue)
    with_accounts(catalogue, lambda s: s.set_disabled("viewer", True))
    response = get_job(client, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_an_unknown_token_is_refused(client: TestClient) -> None:
    response = get_job(client, {"Authorization": "Bearer cvat_" + "0" * 64})
    assert response.status_code == 401


def test_a_token_acts_within_its_accounts_scope(client: TestClient, catalogue: Catalogue) -> None:
    with_accounts(
        catalogue, lambda s: s.set_scope("viewer", everything=False, clients=["1"], groups=[])
    )
    token = make_token(catalogue)
    job_client = catalogue.scalar("SELECT client_id FROM jobs WHERE id = 4")
    assert job_client != 1
    assert (
        get_job(client, {"Authorization": f"Bearer {token}"}).json()["totalRecordsWithoutPaging"]
        == 0
    )
    response = client.post(API + "Job/4/action/kill", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403  # a viewer, whatever the job


def test_renew_and_logout_are_for_login_sessions_only(
    client: TestClient, catalogue: Catalogue
) -> None:
    token = make_token(catalogue)
    renewed = client.post(
        API + "RenewLoginToken", json={"sessionId": token}, headers={"Accept": "application/json"}
    )
    assert "token" not in renewed.json()
    logout = client.post(API + "Logout", headers={"Authtoken": token})
    assert logout.text == "Invalid authorization token provided."
    assert get_job(client, {"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_scope_names_clients_and_groups(catalogue: Catalogue) -> None:
    name, client_id = catalogue.sql("SELECT name, id FROM clients ORDER BY id LIMIT 1")[0]
    group, group_id = catalogue.sql("SELECT name, id FROM client_groups ORDER BY id LIMIT 1")[0]
    scope = with_accounts(
        catalogue,
        lambda s: s.set_scope(
            "viewer", everything=False, clients=[name.upper(), "424242"], groups=[group]
        ),
    )
    assert scope == Scope(False, frozenset({client_id, 424242}), frozenset({group_id}))
