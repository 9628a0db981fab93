"""Hostile input: entity expansion, oversized bodies (declared or streamed), absurd numbers,
bodies that trickle or stop, clients that hang up. Each is refused in the client's format,
fast, and changes nothing; none logs a traceback. (tests/e2e/test_slow_clients.py does
the same against real servers, with real sockets.)"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect
from starlette.testclient import TestClient
from starlette.types import Message, Scope

from cvjobs.app import create_app
from cvjobs.config import Settings
from cvjobs.http import routes
from cvjobs.http.errors import unexpected_response
from cvjobs.render import JSON, lists
from tests.catalogues import Catalogue
from tests.conftest import API, JSON_HEADERS, FakeClock

V1 = "/cvjobs/v1/"
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10 if n > 1 else "&lol;" * 10}">'
        for n in range(1, 10)
    )
    + ']><JobManager_JobDetailRequest jobId="&lol9;"/>'
)


@pytest.mark.parametrize("route", ["JobDetails", "Jobs", "Login"])
def test_billion_laughs_is_refused_at_once(
    client: TestClient, auth_json: dict[str, str], route: str
) -> None:
    started = time.perf_counter()
    response = client.post(
        API + route,
        content=BILLION_LAUGHS,
        headers={**auth_json, "Content-type": "application/xml"},
    )
    assert time.perf_counter() - started < 1.0
    assert response.status_code == 400
    assert response.json()["errorCode"] == 1


@pytest.fixture
def small_ingest(catalogue: Catalogue, clock: FakeClock) -> Iterator[TestClient]:
    settings = Settings(db=catalogue.url, max_ingest_body_mib=1, max_body_kib=4)
    with TestClient(create_app(settings, clock=clock, run_engine=False)) as client:
        yield client


def jobs_body(count: int, start: int = 800_000) -> dict[str, object]:
    return {
        "jobs": [
            {"jobId": start + n, "status": "Completed", "jobType": "Backup", "jobEndTime": 1}
            for n in range(count)
        ]
    }


@pytest.mark.slow  # sends bodies of megabytes on purpose
def test_ingest_takes_bodies_up_to_its_own_limit(
    small_ingest: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    # About 600 KiB: far over the vendor routes' 4 KiB here, under the ingest's 1 MiB.
    response = small_ingest.post(V1 + "jobs", json=jobs_body(8000), headers=auth_json)
    assert response.status_code == 200, response.text[:200]
    assert catalogue.scalar("SELECT count(*) FROM jobs WHERE id >= 800000") == 8000


@pytest.mark.parametrize("declared", [True, False])
def test_a_body_over_the_limit_is_413_and_writes_nothing(
    small_ingest: TestClient, catalogue: Catalogue, auth_json: dict[str, str], declared: bool
) -> None:
    import orjson

    body = orjson.dumps(jobs_body(15000))  # about 1.1 MiB
    assert len(body) > 1024 * 1024

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    response = small_ingest.post(
        V1 + "jobs",
        content=body if declared else chunks(),
        headers={**auth_json, "Content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["errorCode"] == 413
    assert catalogue.scalar("SELECT count(*) FROM jobs WHERE id >= 800000") == 0
    small = small_ingest.post(
        API + "JobDetails",
        content=b'{"jobId": 4, "pad": "' + b"x" * 5000 + b'"}',
        headers={**auth_json, "Content-type": "application/json"},
    )
    assert small.status_code == 413  # the vendor routes keep their own, smaller limit


@pytest.mark.parametrize(
    "path",
    [
        "Job?limit=99999999999999999999999999",
        "Job?offset=-1",
        "Job?offset=1e3",
        "Job?clientId=0x10",
        "Job?completedJobLookupTime=%EF%BC%91",  # a full-width digit one
        "Job/1e3",
        "Job/%EF%BC%94",
        "Job/4/AdvancedDetails?infoType=99999999999999999999999",
        "Events?limit=10001",
        "Events?fromTime=-1",
        "Events/0",
    ],
)
def test_absurd_numbers_are_400(client: TestClient, auth_json: dict[str, str], path: str) -> None:
    response = client.get(API + path, headers=auth_json)
    assert response.status_code == 400, response.text
    assert response.json()["errorCode"] == 1


# -- slow, abandoned and malformed clients ----------------------------------------------


@pytest.fixture
def impatient(catalogue: Catalogue, clock: FakeClock) -> Iterator[TestClient]:
    """An app with one-second body and queue deadlines."""
    settings = Settings(db=catalogue.url, body_timeout_seconds=1, queue_seconds=1)
    with TestClient(create_app(settings, clock=clock, run_engine=False)) as client:
        yield client


Answer = tuple[int, dict[str, str], bytes]


def http_scope(app: Starlette, method: str, path: str, headers: dict[str, str]) -> Scope:
    """The ASGI scope a server on 127.0.0.1:8400 would pass for this request."""
    path_only, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path_only,
        "raw_path": path_only.encode(),
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8400),
        "app": app,
    }


async def call(
    app: Starlette,
    method: str,
    path: str,
    headers: dict[str, str],
    messages: list[Message],
    every: float = 0.0,
) -> Answer:
    """One request through the app as the server would pass it: the client sends
    `messages`, each `every` seconds after the one before, and then nothing more, without
    hanging up. (status, headers, body)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            if every:
                await asyncio.sleep(every)
            return pending.pop(0)
        await asyncio.Event().wait()  # the client neither sends nor leaves
        raise AssertionError("unreachable")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(http_scope(app, method, path, headers), receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    head = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], head, body


def asgi(
    client: TestClient,
    method: str,
    path: str,
    headers: dict[str, str],
    messages: list[Message],
    before: Callable[[Starlette], Awaitable[None]] | None = None,
    every: float = 0.0,
) -> Answer:
    """`call` on the app's own loop; `before` runs first on the same loop."""

    async def run() -> Answer:
        app = client.app
        assert isinstance(app, Starlette)
        if before is not None:
            await before(app)
        return await call(app, method, path, headers, messages, every)

    assert client.portal is not None  # the client is open: its app's loop runs
    return client.portal.call(run)


def part(body: bytes, more: bool) -> Message:
    return {"type": "http.request", "body": body, "more_body": more}


HANG_UP: Message = {"type": "http.disconnect"}


@pytest.mark.slow  # waits out a deadline on purpose
def test_a_body_that_stops_arriving_is_408_and_closes(
    impatient: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"Content-Type": "application/json", "Content-Length": "100", **JSON_HEADERS}
    status, head, body = asgi(impatient, "POST", API + "Login", headers, [part(b'{"us', True)])
    assert status == 408
    assert orjson.loads(body)["errorCode"] == 408
    assert head["connection"] == "close"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.slow  # waits out a deadline on purpose
def test_a_body_that_trickles_is_cut_off_at_the_deadline(impatient: TestClient) -> None:
    # A byte every 50 ms: each one arrives in time, the whole (20 s of them) never does.
    drip = [part(b" ", n < 399) for n in range(400)]  # without the deadline: a 400
    headers = {"Content-Type": "application/json", "Content-Length": "400"}
    status, _, body = asgi(impatient, "POST", API + "Login", headers, drip, every=0.05)
    assert status == 408
    assert b'errorCode="408"' in body  # no Accept: XML


@pytest.mark.parametrize(("route", "authed"), [("Login", False), ("JobDetails", True)])
def test_a_hang_up_mid_body_is_400_and_at_most_a_debug_line(
    client: TestClient,
    token: str,
    caplog: pytest.LogCaptureFixture,
    route: str,
    authed: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = {"Content-Type": "application/json", "Content-Length": "100", **JSON_HEADERS}
    if authed:
        headers["Authtoken"] = token
    status, _, body = asgi(client, "POST", API + route, headers, [part(b"{", True), HANG_UP])
    assert status == 400
    assert orjson.loads(body)["errorCode"] == 1
    ours = [r for r in caplog.records if r.name.startswith("cvjobs")]
    assert len(ours) <= 1 and all(r.levelno == logging.DEBUG for r in ours), ours
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]


def test_a_disconnect_outside_the_body_read_is_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    response = unexpected_response(ClientDisconnect(), JSON, "POST /x")
    assert response.status_code == 400
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]


@pytest.mark.parametrize("path", ["Job?limit=5000", "Job", "Events"])
def test_a_list_whose_client_has_gone_is_not_worked_on(
    client: TestClient, token: str, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    calls: list[object] = []

    async def count_calls(app: Starlette) -> None:
        services = app.state.services

        async def find(*args: object) -> object:
            calls.append(args)
            raise AssertionError("a list for a client that has gone was read")

        monkeypatch.setattr(services.jobs, "find", find)
        monkeypatch.setattr(services.events, "find", find)

    headers = {"Authtoken": token, **JSON_HEADERS}
    status, _, _ = asgi(
        client, "GET", API + path, headers, [part(b"", False), HANG_UP], count_calls
    )
    assert status == 400 and calls == []
    monkeypatch.undo()
    # The same list for a client that stays is answered.
    assert client.get(API + path, headers=headers).status_code == 200


@pytest.mark.slow  # waits out a deadline on purpose
def test_a_big_page_that_waited_past_the_queue_deadline_is_503(
    impatient: TestClient, token: str
) -> None:
    async def take_the_big_page_slot(app: Starlette) -> None:
        await app.state.services.big_pages.acquire()  # another big page, for ever

    headers = {"Authtoken": token, "limit": "5000", **JSON_HEADERS}
    status, _, body = asgi(
        impatient, "GET", API + "Job", headers, [part(b"", False)], take_the_big_page_slot
    )
    assert status == 503
    assert orjson.loads(body)["errorCode"] == 503
    # A small page does not wait for the big-page slot.
    small = impatient.get(API + "Job?jobFilter=", headers={**headers, "limit": "20"})
    assert small.status_code == 200 and small.json()["jobs"]


@pytest.mark.parametrize("accept", ["application/json", "application/xml"])
def test_a_big_page_rendered_in_parts_is_the_same_bytes(
    client: TestClient, token: str, monkeypatch: pytest.MonkeyPatch, accept: str
) -> None:
    monkeypatch.setattr(routes, "PART_JOBS", 7)  # 300 jobs: 43 parts, the last short
    headers = {"Authtoken": token, "Accept": accept}
    whole = client.get(API + "Job?jobFilter=", headers={**headers, "limit": "1000"})
    parts = client.get(API + "Job?jobFilter=", headers={**headers, "limit": "10000"})
    assert whole.status_code == parts.status_code == 200
    assert len(whole.content) > 10000
    assert parts.content == whole.content
    assert parts.headers["content-type"] == whole.headers["content-type"]
    posted = client.post(API + "Jobs", json={"pagingConfig": {"limit": 10000}}, headers=headers)
    assert posted.status_code == 200


def test_a_big_page_lets_other_requests_in_while_it_renders(
    client: TestClient, catalogue: Catalogue, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if catalogue.backend != "sqlite":
        pytest.skip("SQLite reads on the loop; a PostgreSQL read lets others in anyway")
    monkeypatch.setattr(routes, "PART_JOBS", 1)  # a part a job
    produced: list[int] = []  # parts rendered so far, as each request finished
    rendering = lists.job_list_parts

    async def both() -> None:
        app = client.app
        assert isinstance(app, Starlette)
        headers = {"Authtoken": token, **JSON_HEADERS}
        started = asyncio.Event()
        count = 0

        def counted(*args: Any) -> Iterator[bytes]:
            nonlocal count
            for piece in rendering(*args):
                count += 1
                started.set()
                yield piece

        monkeypatch.setattr(lists, "job_list_parts", counted)

        async def request(path: str, extra: dict[str, str]) -> None:
            status, _, _ = await call(app, "GET", API + path, {**headers, **extra}, [])
            assert status == 200
            produced.append(count)

        big = asyncio.ensure_future(request("Job?jobFilter=", {"limit": "10000"}))
        await started.wait()  # the big page is being rendered
        await request("Job/4", {})
        await big

    assert client.portal is not None
    client.portal.call(both)
    at_job_4, in_all = produced
    # Rendered in one piece, the big page would have held the loop until it was done.
    assert at_job_4 < in_all and in_all > 3  # the head, a part a job, the tail
