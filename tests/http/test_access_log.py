"""The access log (issue 11): one info line per request with method, path, status, bytes,
duration, account and request id; the id echoed in X-Request-Id; no secret logged."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from starlette.testclient import TestClient

from cvjobs.http.access_log import logged_query
from cvjobs.logs import FIELDS, JsonFormatter, TextFormatter
from tests.conftest import ADMIN_PASSWORD, ADMIN_TOKEN, API, b64

pytestmark = pytest.mark.backends("sqlite")


def requests_logged(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [getattr(r, FIELDS) for r in caplog.records if r.name == "cvjobs.access"]


def test_one_line_per_request_with_its_fields(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "cvjobs")
    answer = client.get(API + "Job/4", headers={"Authtoken": ADMIN_TOKEN})
    client.get(API + "Job/abc", headers={"Authtoken": ADMIN_TOKEN})
    client.get(API + "Job/4")
    first, bad, anonymous = requests_logged(caplog)
    assert first == {
        "method": "GET",
        "path": "/commandcenter/api/Job/4",
        "status": 200,
        "bytes": len(answer.content),
        "ms": first["ms"],
        "account": "admin",
        "request_id": answer.headers["x-request-id"],
    }
    assert first["ms"] >= 0 and len(first["request_id"]) == 16
    assert (bad["status"], bad["account"]) == (400, "admin")
    assert (anonymous["status"], anonymous["account"]) == (401, "")


def test_a_plain_request_id_of_the_client_is_kept_and_echoed(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "cvjobs")
    kept = client.get(API, headers={"X-Request-Id": "ticket-4711.a_b"})
    replaced = client.get(API, headers={"X-Request-Id": "two words\r\nX-Evil: 1"})
    assert kept.headers["x-request-id"] == "ticket-4711.a_b"
    assert replaced.headers["x-request-id"] != "two words" and "x-evil" not in replaced.headers
    ids = [r["request_id"] for r in requests_logged(caplog)]
    assert ids == ["ticket-4711.a_b", replaced.headers["x-request-id"]]


def test_no_token_or_password_reaches_the_log(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "cvjobs")
    body = {"username": "admin", "password": b64(ADMIN_PASSWORD)}
    token = client.post(API + "Login", json=body, headers={"Accept": "application/json"})
    secret = token.json()["token"].split()[-1]
    client.get(API + f"Job?limit=1&authtoken={secret}&password=x", headers={"Authtoken": secret})
    client.get(API + "Job/4", headers={"Cookie2": ADMIN_TOKEN})
    text = "\n".join(
        f(r) for r in caplog.records for f in (TextFormatter().format, JsonFormatter().format)
    )
    for needle in (secret, ADMIN_TOKEN.split()[-1], ADMIN_PASSWORD, b64(ADMIN_PASSWORD)):
        assert needle not in text
    assert "authtoken=***&password=***" in text


@pytest.mark.parametrize(
    ("query", "logged"),
    [
        (b"", ""),
        (b"limit=5&offset=10", "limit=5&offset=10"),
        (
            b"Token=abc&api_key=k&sessionId=s&clientId=2",
            "Token=***&api_key=***&sessionId=***&clientId=2",
        ),
        (b"x=" + b"a" * 400, "x=" + "a" * 295 + "..."),
    ],
)
def test_the_query_is_logged_without_secrets(query: bytes, logged: str) -> None:
    assert logged_query(query) == logged


def test_json_lines_carry_the_fields_and_text_lines_escape_them() -> None:
    record = logging.LogRecord("cvjobs.access", logging.INFO, __file__, 1, "request", None, None)
    setattr(record, FIELDS, {"path": "/a\nb", "status": 404, "account": ""})
    entry = json.loads(JsonFormatter().format(record))
    assert (entry["message"], entry["path"], entry["status"], entry["level"]) == (
        "request",
        "/a\nb",
        404,
        "info",
    )
    line = TextFormatter().format(record)
    assert "\n" not in line and line.endswith("request path=/a\\nb status=404 account=-")
