"""/cvjobs/v1/webhooks: the admin API of `cvjobs webhook`. Administrators only (anyone
else is 403 and changes nothing), secrets shown once, bad input a 400 that writes
nothing."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from cvjobs.model import OPERATOR, VIEWER
from tests.catalogues import Catalogue
from tests.http.test_scopes import Tenant

pytestmark = pytest.mark.postgres_too

HOOKS = "/cvjobs/v1/webhooks"
URL = "http://127.0.0.1:9/hook"  # never reached: these tests run no outbox


@pytest.fixture(params=[OPERATOR, VIEWER])
def someone(client: TestClient, catalogue: Catalogue, request: pytest.FixtureRequest) -> Tenant:
    """An operator or a viewer scoped to one client."""
    return Tenant(catalogue, request.param)


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def add(client: TestClient, headers: dict[str, str], **extra: Any) -> Any:
    body = {"url": URL, "events": ["job.failed"], **extra}
    return client.post(HOOKS, json=body, headers=headers)


def test_an_administrator_manages_a_webhook_from_start_to_end(
    client: TestClient, auth_json: dict[str, str]
) -> None:
    made = ok(add(client, auth_json, clients=[2, 2]))
    hook, secret = made["webhook"], made["secret"]
    assert secret.startswith("whsec_") and hook["clients"] == [2] and hook["enabled"]
    one = f"{HOOKS}/{hook['id']}"
    listed = client.get(HOOKS, headers=auth_json)
    assert ok(listed)["webhooks"] == [hook] and secret not in listed.text
    assert ok(client.get(one, headers=auth_json))["webhook"] == hook
    templated = ok(
        client.put(one + "/template", json={"template": '{"text": "x"}'}, headers=auth_json)
    )
    assert templated["webhook"]["template"] == '{"text": "x"}'
    rotated = ok(client.post(one + "/rotate", json={"keepOldHours": 1}, headers=auth_json))
    assert rotated["secret"] != secret and rotated["webhook"]["oldSecretUntil"] > 0
    assert ok(client.post(one + "/test", headers=auth_json)) == {"queued": hook["id"]}
    [delivery] = ok(client.get(one + "/deliveries", headers=auth_json))["deliveries"]
    assert delivery["event"] == "webhook.test" and delivery["state"] == "pending"
    assert delivery["message"]["data"] == {"webhookId": hook["id"]}
    replay = f"{one}/deliveries/{delivery['id']}/replay"
    assert ok(client.post(replay, headers=auth_json)) == {"queued": delivery["id"]}
    assert (
        client.post(
            f"{HOOKS}/{hook['id'] + 1}/deliveries/{delivery['id']}/replay", headers=auth_json
        ).status_code
        == 404
    )  # not that hook's
    assert ok(client.post(one + "/enable", headers=auth_json))["webhook"]["enabled"]
    assert ok(client.delete(one, headers=auth_json)) == {"removed": hook["id"]}
    gone = client.get(one, headers=auth_json)
    assert (
        gone.status_code == 404
        and gone.json()["errorMessage"] == f"there is no webhook {hook['id']}"
    )
    assert ok(client.get(HOOKS, headers=auth_json))["webhooks"] == []


def test_nobody_but_an_administrator_may_see_or_touch_webhooks(
    client: TestClient, auth_json: dict[str, str], someone: Tenant, catalogue: Catalogue
) -> None:
    hook = ok(add(client, auth_json))["webhook"]
    one = f"{HOOKS}/{hook['id']}"
    headers = someone.json
    for response in (
        client.get(HOOKS, headers=headers),
        add(client, headers),
        client.get(one, headers=headers),
        client.delete(one, headers=headers),
        client.post(one + "/enable", headers=headers),
        client.post(one + "/rotate", json={}, headers=headers),
        client.put(one + "/template", json={"template": ""}, headers=headers),
        client.post(one + "/test", headers=headers),
        client.get(one + "/deliveries", headers=headers),
        client.post(one + "/deliveries/1/replay", headers=headers),
        client.get(f"{HOOKS}/99", headers=headers),  # absent or not: the same 403
    ):
        assert response.status_code == 403, response.text
        assert "only administrators manage webhooks" in response.json()["errorMessage"]
    assert ok(client.get(HOOKS, headers=auth_json))["webhooks"] == [hook]
    assert catalogue.scalar("SELECT count(*) FROM webhook_deliveries") == 0
    assert client.get(HOOKS).status_code == 401


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"events": ["job.failed"]}, "a webhook URL is http"),
        ({"url": URL}, "events is a list"),
        ({"url": URL, "events": "job.failed"}, "events is a list"),
        ({"url": URL, "events": ["job.failed"], "clients": ["2"]}, "clients is a list"),
        ({"url": URL, "events": ["job.failed"], "clients": [True]}, "clients is a list"),
        ({"url": URL, "events": ["job.failed"], "clients": [2**63]}, "clients is a list"),
        ({"url": URL, "events": ["job.failed"], "secret": 5}, "secret is a string"),
        ({"url": URL, "events": ["job.failed"], "template": "{% if %}"}, "does not compile"),
        ({"url": URL, "events": ["job.failed"], "template": "x" * 20_000}, "at most 16384"),
        ({"url": URL, "events": ["job.failed"], "admin": True}, "unknown keys admin"),
        ({"url": "javascript:alert(1)", "events": ["job.failed"]}, "http:// or https://"),
        ({"url": URL, "events": ["job.nope"]}, "unknown events job.nope"),
    ],
)
def test_a_bad_webhook_is_a_400_that_writes_nothing(
    client: TestClient, auth_json: dict[str, str], body: dict[str, Any], message: str
) -> None:
    response = client.post(HOOKS, json=body, headers=auth_json)
    assert response.status_code == 400 and message in response.json()["errorMessage"]
    assert ok(client.get(HOOKS, headers=auth_json))["webhooks"] == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/0", None),
        ("GET", "/abc", None),
        ("GET", "/99999999999999999999999", None),
        ("POST", "/{id}/rotate", {"keepOldHours": "1"}),
        ("POST", "/{id}/rotate", {"keepOldHours": 10_000}),
        ("POST", "/{id}/rotate", {"secret": "plain"}),
        ("POST", "/{id}/rotate", {"other": 1}),
        ("PUT", "/{id}/template", {"template": 1}),
        ("PUT", "/{id}/template", {"template": "{{"}),
        ("GET", "/{id}/deliveries?limit=0", None),
        ("GET", "/{id}/deliveries?limit=1&limit=2", None),
        ("POST", "/{id}/deliveries/x/replay", None),
    ],
)
def test_bad_input_to_a_webhook_is_a_400_that_changes_nothing(
    client: TestClient, auth_json: dict[str, str], method: str, path: str, body: Any
) -> None:
    hook = ok(add(client, auth_json))["webhook"]
    url = HOOKS + path.replace("{id}", str(hook["id"]))
    response = client.request(method, url, json=body, headers=auth_json)
    assert response.status_code == 400, response.text
    assert response.json()["errorMessage"]
    assert ok(client.get(HOOKS, headers=auth_json))["webhooks"] == [hook]


def test_a_body_that_is_not_an_object_is_a_400(
    client: TestClient, auth_json: dict[str, str]
) -> None:
    for raw in (b"[1]", b"{", b'"x"'):
        response = client.post(
            HOOKS, content=raw, headers={**auth_json, "Content-Type": "application/json"}
        )
        assert response.status_code == 400, raw
