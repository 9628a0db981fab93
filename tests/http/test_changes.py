"""GET /cvjobs/v1/changes: the change log after a cursor, scoped like every read; bad
input is a 400 that changes nothing; a cursor the log no longer holds is 410."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from cvjobs.errors import StoreError
from cvjobs.http.change_routes import EventStream
from cvjobs.model import VIEWER, Change, ChangePage, Job, JobRecord, Ref, Scope
from cvjobs.service.changes import ChangeFeed, HeadWatch
from cvjobs.store import open_store
from tests.catalogues import Catalogue
from tests.http.test_ingest import job
from tests.http.test_scopes import Tenant

pytestmark = pytest.mark.postgres_too

CHANGES = "/cvjobs/v1/changes"


def running_record(job_id: int) -> JobRecord:
    return JobRecord(Job(job_id=job_id, status="Running", job_type="Backup", client=Ref(2, "c2")))


def read(client: TestClient, token: str, **params: Any) -> Any:
    response = client.get(CHANGES, params=params, headers={"Authtoken": token})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_reader_follows_what_ingest_writes(client: TestClient, token: str) -> None:
    head = read(client, token, limit=1)["head"]
    assert head > 0  # the demo's jobs were logged as they were loaded
    ingest = {"Authtoken": token}
    assert client.post("/cvjobs/v1/jobs", json=job(7001), headers=ingest).status_code == 200
    finished = job(7001, status="Completed", percentComplete=100, lastUpdateTime=1_764_000_200)
    assert client.post("/cvjobs/v1/jobs", json=finished, headers=ingest).status_code == 200
    page = read(client, token, after=head)
    assert [(c["jobId"], c["kind"], c["oldStatus"], c["newStatus"]) for c in page["changes"]] == [
        (7001, "created", "", "Running"),
        (7001, "finished", "Running", "Completed"),
    ]
    assert page["changes"][0]["clientId"] == 501 and page["changes"][0]["seq"] == head + 1
    assert page["next"] == page["head"] == head + 2
    assert read(client, token, after=page["next"])["changes"] == []


def test_without_a_cursor_the_log_is_read_from_its_oldest_record(
    client: TestClient, token: str
) -> None:
    page = read(client, token, limit=3)
    assert [c["seq"] for c in page["changes"]] == [1, 2, 3] and page["next"] == 3
    assert [c["seq"] for c in read(client, token, after=3, limit=2)["changes"]] == [4, 5]


def test_a_scoped_reader_sees_only_its_clients_changes(
    client: TestClient, catalogue: Catalogue
) -> None:
    tenant = Tenant(catalogue, VIEWER)
    everything = read(client, tenant.token, limit=1000)
    assert everything["changes"], "the tenant's client has jobs"
    assert {c["clientId"] for c in everything["changes"]} == {tenant.client_id}
    mine = catalogue.scalar(
        f"SELECT count(*) FROM job_changes WHERE client_id = {tenant.client_id}"
    )
    assert len(everything["changes"]) == min(mine, 1000)
    # Nothing of its own after the last one: the cursor moves on to the head all the same.
    last = everything["changes"][-1]["seq"]
    after = read(client, tenant.token, after=last)
    if after["changes"] == []:
        assert after["next"] == after["head"]


def test_an_out_of_scope_change_looks_like_no_change(
    client: TestClient, catalogue: Catalogue, token: str
) -> None:
    tenant = Tenant(catalogue, VIEWER)
    head = read(client, token, limit=1)["head"]
    other = {"Authtoken": token}
    assert client.post("/cvjobs/v1/jobs", json=job(7002), headers=other).status_code == 200
    page = read(client, tenant.token, after=head)
    assert page == {"changes": [], "next": head + 1, "head": head + 1}


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"after": "-1"}, "after"),
        ({"after": "x"}, "after"),
        ({"after": "1e3"}, "after"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"wait": "61"}, "wait"),
        ({"after": ["1", "2"]}, "after is given 2 times"),
    ],
)
def test_bad_parameters_are_400_and_say_which(
    client: TestClient, token: str, params: dict[str, Any], words: str
) -> None:
    response = client.get(CHANGES, params=params, headers={"Authtoken": token})
    assert response.status_code == 400
    assert words in response.json()["errorMessage"]


def test_a_cursor_pruned_past_or_beyond_the_head_is_410_with_where_to_resume(
    client: TestClient, token: str, catalogue: Catalogue
) -> None:
    head = read(client, token, limit=1)["head"]
    catalogue.sql("UPDATE job_changes SET time = 1000 WHERE seq <= 10")

    async def prune() -> None:
        store = await open_store(catalogue.url)
        try:
            await ChangeFeed(store, retention_days=1).prune()
        finally:
            await store.close()

    asyncio.run(prune())
    for cursor in (0, 9, head + 1):
        response = client.get(CHANGES, params={"after": cursor}, headers={"Authtoken": token})
        assert response.status_code == 410, cursor
        assert response.json() | {"errorMessage": ""} == {
            "errorCode": 410,
            "errorMessage": "",
            "oldest": 11,
            "head": head,
        }
    assert [c["seq"] for c in read(client, token, after=10, limit=1)["changes"]] == [11]
    assert read(client, token, limit=1)["changes"][0]["seq"] == 11  # from the oldest kept


def test_the_change_feed_needs_a_login(client: TestClient) -> None:
    assert client.get(CHANGES).status_code == 401


def test_a_long_poll_returns_as_soon_as_a_change_is_written(catalogue: Catalogue) -> None:
    async def scenario() -> tuple[list[int], float]:
        store = await open_store(catalogue.url)
        try:
            feed = ChangeFeed(store, watch=HeadWatch(store, every=0.05))
            head = await store.change_head()

            async def write_later() -> None:
                await asyncio.sleep(0.3)
                await store.upsert_jobs([running_record(7003)])

            started = time.monotonic()
            writer = asyncio.create_task(write_later())
            page = await feed.read(head, 10, Scope(), wait=20)
            await writer
            return [c.job_id for c in page.changes], time.monotonic() - started
        finally:
            await store.close()

    found, took = asyncio.run(scenario())
    assert found == [7003] and took < 10  # not the whole wait


def test_a_long_poll_with_nothing_new_returns_empty_after_its_wait(catalogue: Catalogue) -> None:
    async def scenario() -> int:
        store = await open_store(catalogue.url)
        try:
            feed = ChangeFeed(store, watch=HeadWatch(store, every=0.05))
            page = await feed.read(await store.change_head(), 10, Scope(), wait=0.3)
            return len(page.changes)
        finally:
            await store.close()

    assert asyncio.run(scenario()) == 0


class FailingFeed:
    """A feed whose catalogue fails after its first page."""

    def __init__(self) -> None:
        self.reads = 0

    async def read(self, after: int, limit: int, scope: Scope, wait: float = 0) -> ChangePage:
        self.reads += 1
        if self.reads > 1:
            raise StoreError("the catalogue went away")
        change = Change(after + 1, 5, 2, "created", "", "Running", 100)
        return ChangePage(head=after + 1, pruned_through=0, changes=[change])


def test_a_stream_whose_catalogue_fails_ends_with_one_line_and_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        await asyncio.Event().wait()  # the client stays

    stream = EventStream(FailingFeed(), 7, Scope())  # type: ignore[arg-type]
    asyncio.run(stream({"type": "http", "path": CHANGES}, receive, send))
    body = b"".join(m.get("body", b"") for m in sent)
    assert sent[0]["status"] == 200 and sent[-1] == {
        "type": "http.response.body",
        "body": b"",
        "more_body": False,
    }
    assert b"id: 8\nevent: change\n" in body
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        "/cvjobs/v1/changes: event stream ended: the catalogue went away"
    ]


@pytest.mark.parametrize("last", ["abc", "-3", "1.5", "99999999999999999999999"])
def test_a_bad_last_event_id_is_400_before_any_stream(
    client: TestClient, token: str, last: str
) -> None:
    headers = {"Authtoken": token, "Accept": "text/event-stream", "Last-Event-ID": last}
    response = client.get(CHANGES, headers=headers)
    assert response.status_code == 400
    assert "Last-Event-ID" in response.json()["errorMessage"]
