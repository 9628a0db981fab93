"""The access log (issue 11): one info line per request with method, path, status, bytes,
duration, account and request id; the id echoed in X-Request-Id; no secret logged."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cvjobs.app import create_app
from cvjobs.config import Settings
from cvjobs.http import access_log
from cvjobs.http.access_log import AccessWriter, logged_query
from tests.catalogues import Catalogue
from tests.conftest import ADMIN_PASSWORD, ADMIN_TOKEN, API, FakeClock, b64


class Logged:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def entries(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.lines()]


@pytest.fixture
def logged(monkeypatch: pytest.MonkeyPatch) -> Logged:
    monkeypatch.setattr(access_log, "FLUSH_LINES", 1)  # every line at once
    return Logged()


@pytest.fixture
def client(catalogue: Catalogue, clock: FakeClock, logged: Logged) -> Iterator[TestClient]:
    settings = Settings(db=catalogue.url, log_format="json")
    app = create_app(settings, clock=clock, run_engine=False, access_log=logged.stream)
    with TestClient(app) as test_client:
        yield test_client


def test_one_line_per_request_with_its_fields(client: TestClient, logged: Logged) -> None:
    answer = client.get(API + "Job/4", headers={"Authtoken": ADMIN_TOKEN})
    client.get(API + "Job/abc", headers={"Authtoken": ADMIN_TOKEN})
    client.get(API + "Job/4")
    first, bad, anonymous = logged.entries()
    assert first == {
        "time": first["time"],
        "level": "info",
        "logger": "cvjobs.access",
        "message": "request",
        "method": "GET",
        "path": "/commandcenter/api/Job/4",
        "status": 200,
        "bytes": len(answer.content),
        "ms": first["ms"],
        "account": "admin",
        "request_id": answer.headers["x-request-id"],
    }
    assert isinstance(first["ms"], float) and len(str(first["request_id"])) == 16
    assert (bad["status"], bad["account"]) == (400, "admin")
    assert (anonymous["status"], anonymous["account"]) == (401, "")


def test_a_plain_request_id_of_the_client_is_kept_and_echoed(
    client: TestClient, logged: Logged
) -> None:
    kept = client.get(API, headers={"X-Request-Id": "ticket-4711.a_b"})
    replaced = client.get(API, headers={"X-Request-Id": "two words\r\nX-Evil: 1"})
    assert kept.headers["x-request-id"] == "ticket-4711.a_b"
    assert replaced.headers["x-request-id"] != "two words" and "x-evil" not in replaced.headers
    ids = [r["request_id"] for r in logged.entries()]
    assert ids == ["ticket-4711.a_b", replaced.headers["x-request-id"]]


def test_no_token_or_password_reaches_the_log(client: TestClient, logged: Logged) -> None:
    body = {"username": "admin", "password": b64(ADMIN_PASSWORD)}
    token = client.post(API + "Login", json=body, headers={"Accept": "application/json"})
    secret = token.json()["token"].split()[-1]
    client.get(API + f"Job?limit=1&authtoken={secret}&password=x", headers={"Authtoken": secret})
    client.get(API + "Job/4", headers={"Cookie2": ADMIN_TOKEN})
    text = logged.stream.getvalue()
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


def test_text_lines_escape_what_the_client_sent() -> None:
    stream = io.StringIO()
    writer = AccessWriter(stream, "text")
    fields = {"method": "GET", "path": "/a\nb\x1b[31m", "status": 404, "bytes": 9}
    writer.add({**fields, "ms": 0.5, "account": "", "request_id": "r1"})
    writer.add({**fields, "ms": 0.5, "account": "eve\nINFO forged", "request_id": "r2"})
    writer.flush()
    first, second = stream.getvalue().splitlines()
    assert first.endswith(
        "INFO cvjobs.access: request method=GET path=/a\\nb\\x1b[31m status=404 bytes=9"
        " ms=0.5 account=- request_id=r1"
    )
    assert "account=eve\\nINFO forged request_id=r2" in second


def test_many_lines_are_written_whole_and_in_order(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with path.open("w") as stream:
        writer = AccessWriter(stream, "json")
        for n in range(50):
            writer.add({"path": "/" + "x" * 300, "n": n})
        writer.flush()
    lines = path.read_text().splitlines()
    assert [json.loads(line)["n"] for line in lines] == list(range(50))
