"""Failed logins: the account locks after five in a row and Login says so
(`isAccountLocked`, `remainingLockTime`), an address that keeps failing is throttled, and
every login, failure and lock-out is in the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import fromstring

import pytest
from starlette.testclient import TestClient

from cvjobs.app import create_app
from cvjobs.config import Settings
from cvjobs.service import auth
from tests.catalogues import Catalogue
from tests.conftest import API, JSON_HEADERS, VIEWER_PASSWORD, FakeClock, b64

pytestmark = pytest.mark.postgres_too


def attempt(client: TestClient, password: str, user: str = "viewer") -> Any:
    response = client.post(
        API + "Login", json={"username": user, "password": b64(password)}, headers=JSON_HEADERS
    )
    assert response.status_code == 200
    return response.json()


def audit(catalogue: Catalogue) -> list[tuple[str, str, str, str]]:
    return [
        tuple(row)
        for row in catalogue.sql(
            "SELECT user_name, address, action, outcome FROM audit ORDER BY id"
        )
    ]


def test_five_failures_lock_the_account_for_a_while(
    client: TestClient, catalogue: Catalogue, clock: FakeClock
) -> None:
    for _ in range(auth.LOCK_AFTER_FAILURES - 1):
        answer = attempt(client, "wrong password")
        assert answer["errList"][0]["errLogMessage"] == "Invalid Username or Password"
        assert "isAccountLocked" not in answer
    answer = attempt(client, "wrong password")
    assert answer["isAccountLocked"] is True
    assert answer["remainingLockTime"] == auth.LOCK_SECONDS
    assert "token" not in answer
    # Locked: the right password is refused too, and the answer counts down.
    clock.advance(60)
    answer = attempt(client, VIEWER_PASSWORD)
    assert answer["isAccountLocked"] is True
    assert answer["remainingLockTime"] == auth.LOCK_SECONDS - 60
    clock.advance(auth.LOCK_SECONDS - 60)
    assert "token" in attempt(client, VIEWER_PASSWORD)
    actions = [(action, outcome) for _, _, action, outcome in audit(catalogue)]
    assert actions.count(("login", "failed")) == auth.LOCK_AFTER_FAILURES
    assert ("lockout", "ok") in actions and ("login", "locked") in actions
    assert actions[-1] == ("login", "ok")
    assert {address for _, address, _, _ in audit(catalogue)} == {"testclient"}


def test_a_successful_login_starts_the_count_again(client: TestClient) -> None:
    for _ in range(auth.LOCK_AFTER_FAILURES - 1):
        attempt(client, "wrong password")
    assert "token" in attempt(client, VIEWER_PASSWORD)
    for _ in range(auth.LOCK_AFTER_FAILURES - 1):
        assert "isAccountLocked" not in attempt(client, "wrong password")


def test_the_lock_shows_in_xml(client: TestClient) -> None:
    for _ in range(auth.LOCK_AFTER_FAILURES):
        attempt(client, "wrong password")
    response = client.post(
        API + "Login",
        content=f'<DM2ContentIndexing_CheckCredentialReq username="viewer" password="{b64("x")}"/>',
        headers={"Accept": "application/xml", "Content-type": "application/xml"},
    )
    root = fromstring(response.text)
    assert root.tag == "DM2ContentIndexing_CheckCredentialResp"
    assert root.get("isAccountLocked") == "true"
    assert int(root.get("remainingLockTime", "0")) == auth.LOCK_SECONDS
    assert root.find("errList") is not None


@pytest.fixture
def strict_client(
    catalogue: Catalogue, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setattr(auth, "ADDRESS_FAILURES", 3)
    app = create_app(Settings(db=catalogue.url), clock=clock, run_engine=False)
    with TestClient(app) as client:
        yield client


def test_an_address_that_keeps_failing_is_throttled(
    strict_client: TestClient, catalogue: Catalogue, clock: FakeClock
) -> None:
    for n in range(3):  # unknown users: no account to lock, so the address is what counts
        assert "isAccountLocked" not in attempt(strict_client, "x", user=f"nobody{n}")
    answer = attempt(strict_client, VIEWER_PASSWORD)
    assert "Too many failed logins from testclient" in answer["errList"][0]["errLogMessage"]
    assert ("viewer", "testclient", "login", "throttled") in audit(catalogue)
    clock.advance(auth.ADDRESS_WINDOW_SECONDS)
    assert "token" in attempt(strict_client, VIEWER_PASSWORD)


def test_the_throttle_holds_across_workers(
    catalogue: Catalogue, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two apps on one catalogue, as two worker processes are: their failures add up."""
    monkeypatch.setattr(auth, "ADDRESS_FAILURES", 3)
    apps = [create_app(Settings(db=catalogue.url), clock=clock, run_engine=False) for _ in "ab"]
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        attempt(first, "x", user="nobody1")
        attempt(second, "x", user="nobody2")
        attempt(first, "x", user="nobody3")
        answer = attempt(second, VIEWER_PASSWORD)
    assert "Too many failed logins from testclient" in answer["errList"][0]["errLogMessage"]


def test_an_unknown_name_locks_exactly_like_an_account(client: TestClient) -> None:
    """The answers for `viewer` and for a name that is no account are the same, body for
    body, through the lock-out and after it, in JSON and XML."""

    def answers(user: str) -> list[Any]:
        found: list[Any] = [attempt(client, "wrong password", user) for _ in range(5)]
        found.append(attempt(client, VIEWER_PASSWORD, user.upper()))
        found.append(xml_attempt(client, user))
        return found

    real, unknown = answers("viewer"), answers("nosuchuser")
    assert real == unknown
    assert real[-2]["isAccountLocked"] is True
    assert "isAccountLocked" not in real[3]


def xml_attempt(client: TestClient, user: str) -> str:
    response = client.post(
        API + "Login",
        content=f'<DM2ContentIndexing_CheckCredentialReq username="{user}" password="{b64("x")}"/>',
        headers={"Accept": "application/xml", "Content-type": "application/xml"},
    )
    return response.text


def test_a_full_login_queue_answers_503_with_retry_after(
    catalogue: Catalogue, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No hashing place and no waiting place: every login finds the queue full.
    monkeypatch.setattr(auth, "HASHING_AT_ONCE", 0)
    monkeypatch.setattr(auth, "MAX_WAITING_LOGINS", 0)
    app = create_app(Settings(db=catalogue.url), clock=clock, run_engine=False)
    body = {"username": "viewer", "password": b64(VIEWER_PASSWORD)}
    with TestClient(app) as client:
        as_json = client.post(API + "Login", json=body, headers=JSON_HEADERS)
        as_xml = client.post(API + "Login", json=body, headers={"Accept": "application/xml"})
    assert as_json.status_code == as_xml.status_code == 503
    assert int(as_json.headers["retry-after"]) >= 1
    assert as_xml.headers["retry-after"] == as_json.headers["retry-after"]
    assert as_json.json()["errorCode"] == 503
    assert fromstring(as_xml.text).get("errorCode") == "503"
    assert catalogue.scalar("SELECT count(*) FROM audit WHERE outcome = 'failed'") == 0
