"""Job control over HTTP (wire contract §8): actions, refusals that change nothing,
pending states settled by the engine, auto-resume, resubmit, MultiJobOperation, events."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import fromstring

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from cvjobs import ranges, vocab
from cvjobs.app import create_app
from cvjobs.config import Settings
from cvjobs.model import ADMIN, Account
from cvjobs.service.control import JobControl
from cvjobs.service.engine import JobEngine
from cvjobs.service.lifecycle import ACTIONS, RESUBMIT, decide
from cvjobs.store import open_store
from cvjobs.store.rows import COLUMN_NAMES
from tests.catalogues import Catalogue
from tests.conftest import API, CLOCK_START, FakeClock, done, first_job_id

RUNNING = "status = 'Running'"
BASE = Settings().job_id_base  # where the server's own job ids start


def engine(client: TestClient) -> JobEngine:
    assert isinstance(client.app, Starlette)
    found: JobEngine = client.app.state.engine
    return found


def step(client: TestClient) -> None:
    assert client.portal is not None  # the client is open: its app's loop runs
    client.portal.call(engine(client).step)


def act(
    client: TestClient, headers: dict[str, str], job_id: int, action: str, query: str = ""
) -> Any:
    response = client.post(
        API + f"Job/{job_id}/action/{action}{query}",
        headers={**headers, "Content-type": "application/xml", "Content-Length": "0"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def summary(client: TestClient, headers: dict[str, str], job_id: int) -> dict[str, Any]:
    body = client.get(API + f"Job/{job_id}", headers=headers).json()
    result: dict[str, Any] = body["jobs"][0]["jobSummary"]
    return result


def snapshot(catalogue: Catalogue, job_id: int) -> tuple[Any, ...]:
    job = catalogue.sql("SELECT * FROM jobs WHERE id = ?", (job_id,))
    events = catalogue.scalar("SELECT count(*) FROM events")
    jobs = catalogue.scalar("SELECT count(*) FROM jobs")
    return job, events, jobs


def test_suspend_passes_through_suspend_pending(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    job_id = first_job_id(catalogue, RUNNING)
    assert done(act(client, auth_json, job_id, "pause"))
    assert summary(client, auth_json, job_id)["status"] == "Suspend Pending"
    step(client)
    after = summary(client, auth_json, job_id)
    assert after["status"] == "Suspended"
    assert after["pendingReason"] == "Backup job has been suspended by user admin."


@pytest.mark.postgres_too
def test_resume_and_kill(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str], clock: FakeClock
) -> None:
    job_id = first_job_id(catalogue, "status = 'Suspended'")
    assert done(act(client, auth_json, job_id, "Resume"))
    assert summary(client, auth_json, job_id)["status"] == "Running"
    assert done(act(client, auth_json, job_id, "KILL"))
    assert summary(client, auth_json, job_id)["status"] == "Kill Pending"
    clock.advance(1)
    step(client)
    killed = summary(client, auth_json, job_id)
    assert killed["status"] == "Killed"
    assert killed["jobEndTime"] == int(clock.now)


@pytest.mark.parametrize(
    "path", ["action/suspend", "Action/Pause", "ACTION/pause", "action/JOB_SUSPEND"]
)
def test_action_spellings(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str], path: str
) -> None:
    job_id = first_job_id(catalogue, RUNNING)
    response = client.post(API + f"Job/{job_id}/{path}", headers=auth_json)
    assert done(response.json())


def test_xml_answers(client: TestClient, catalogue: Catalogue, auth_xml: dict[str, str]) -> None:
    job_id = first_job_id(catalogue, RUNNING)
    ok = fromstring(client.post(API + f"Job/{job_id}/action/kill", headers=auth_xml).content)
    assert ok.tag == "JobManager_PerformJobOperationResp" and ok.attrib.get("errorCode", "0") == "0"
    refused = fromstring(client.post(API + "Job/4/action/kill", headers=auth_xml).content)
    assert refused.tag == "JobManager_PerformJobOperationResp"
    err = refused.find("errors/errList")
    assert err is not None and err.attrib["errorCode"] == "2"
    assert err.attrib["errLogMessage"] == "job 4 is already Completed"


def set_status(catalogue: Catalogue, job_id: int, status: str) -> None:
    end_time = "0" if vocab.is_active(status) else "end_time"
    catalogue.sql(
        f"UPDATE jobs SET status = ?, end_time = {end_time} WHERE id = ?", (status, job_id)
    )


REFUSED = [
    (status, action)
    for status in vocab.STATUSES
    for action in ACTIONS
    if not decide(0, status, action).allowed
]


@pytest.mark.parametrize(("status", "action"), REFUSED)
def test_every_refused_transition_changes_nothing(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str], status: str, action: str
) -> None:
    job_id = first_job_id(catalogue, RUNNING)
    set_status(catalogue, job_id, status)
    before = snapshot(catalogue, job_id)
    body = act(client, auth_json, job_id, action)
    errors = body["errors"][0]["errList"][0]
    assert errors["errorCode"] == 2
    assert errors["errLogMessage"] == decide(job_id, status, action).refusal
    assert snapshot(catalogue, job_id) == before


def test_unknown_job_and_bad_requests(client: TestClient, auth_json: dict[str, str]) -> None:
    body = act(client, auth_json, 99999999, "kill")
    assert (
        body["errors"][0]["errList"][0]["errLogMessage"] == "No job exists with the job ID 99999999"
    )
    assert client.post(API + "Job/abc/action/kill", headers=auth_json).status_code == 400
    response = client.post(API + "Job/4/action/explode", headers=auth_json)
    assert response.status_code == 400 and "unknown job action" in response.json()["errorMessage"]
    response = client.post(API + "Job/4/action/pause?autoResumeInSec=soon", headers=auth_json)
    assert response.status_code == 400


def test_auto_resume(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str], clock: FakeClock
) -> None:
    job_id = first_job_id(catalogue, RUNNING)
    act(client, auth_json, job_id, "pause", "?autoResumeInSec=60")
    step(client)
    assert summary(client, auth_json, job_id)["status"] == "Suspended"
    clock.advance(59)
    step(client)
    assert summary(client, auth_json, job_id)["status"] == "Suspended"
    clock.advance(2)
    step(client)
    assert summary(client, auth_json, job_id)["status"] == "Running"


@pytest.mark.postgres_too
@pytest.mark.parametrize(
    ("query", "status"), [("", "Running"), ("?startInSuspendedState=true", "Suspended")]
)
def test_resubmit_makes_a_new_job(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str], query: str, status: str
) -> None:
    body = act(client, auth_json, 4, "Resubmit", query)
    assert body == {"jobIds": [str(BASE)]}  # the first id of the server's own range
    new = summary(client, auth_json, BASE)
    old = summary(client, auth_json, 4)
    assert new["status"] == status
    assert new["subclient"] == old["subclient"] and new["jobType"] == old["jobType"]
    assert new["percentComplete"] == 0 and new["jobEndTime"] == 0
    assert old["status"] == "Completed"


def ingest(client: TestClient, headers: dict[str, str], job_id: int) -> None:
    """A finished job written by a reporter, with the id it chose."""
    record = {
        "jobId": job_id,
        "status": "Completed",
        "jobType": "Backup",
        "jobStartTime": 1_764_000_000,
        "jobEndTime": 1_764_000_100,
        "lastUpdateTime": 1_764_000_100,
        "subclient": {"clientId": 501, "clientName": "reported", "subclientId": 901},
    }
    response = client.post("/cvjobs/v1/jobs", json=record, headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.postgres_too
def test_resubmitted_ids_never_take_a_reporters_next_id(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    """Issue 11: new ids were max + 1, exactly a reporter's next sequential id, so its next
    ingest collided with a job the server had made (409)."""
    ingest(client, auth_json, 900001)
    assert act(client, auth_json, 900001, "Resubmit") == {"jobIds": [str(BASE)]}
    made = summary(client, auth_json, BASE)
    ingest(client, auth_json, 900002)  # the reporter's next id: its own
    assert summary(client, auth_json, 900002)["subclient"]["clientName"] == "reported"
    assert summary(client, auth_json, BASE) == made
    assert act(client, auth_json, 4, "Resubmit") == {"jobIds": [str(BASE + 1)]}


@pytest.mark.postgres_too
@pytest.mark.parametrize("top", [ranges.EXACT_MAX, 2**63 - 1])
def test_resubmit_of_a_job_with_the_largest_id_works(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str], top: int
) -> None:
    """The regression: with a job id of 2^63 - 1, max + 1 overflowed and every Resubmit
    answered 500. 2^53 - 1 is the largest id ingest takes; 2^63 - 1 is what an older
    catalogue may hold, copied straight in here."""
    if top == ranges.EXACT_MAX:
        ingest(client, auth_json, top)
    else:
        others = ", ".join(COLUMN_NAMES[1:])
        copy = f"INSERT INTO jobs (id, {others}) SELECT ?, {others} FROM jobs WHERE id = 4"
        catalogue.sql(copy, (top,))
    assert act(client, auth_json, top, "Resubmit") == {"jobIds": [str(BASE)]}
    assert act(client, auth_json, top, "Resubmit") == {"jobIds": [str(BASE + 1)]}
    assert summary(client, auth_json, BASE + 1)["status"] == "Running"


@pytest.mark.postgres_too
def test_an_id_ingested_in_the_servers_range_is_not_given_again(
    client: TestClient, auth_json: dict[str, str]
) -> None:
    ingest(client, auth_json, BASE)  # allowed: a mirror of another cvjobs holds such ids
    assert act(client, auth_json, 4, "Resubmit") == {"jobIds": [str(BASE + 1)]}
    assert summary(client, auth_json, BASE)["subclient"]["clientName"] == "reported"


@pytest.mark.postgres_too
def test_concurrent_resubmits_get_distinct_ids(catalogue: Catalogue) -> None:
    async def resubmit_together() -> list[list[int]]:
        store = await open_store(catalogue.url)
        try:
            control = JobControl(
                store, clock=lambda: CLOCK_START, engine_settles=True, job_id_base=BASE
            )
            admin = Account(1, "admin", ADMIN)
            return await asyncio.gather(*(control.act(4, RESUBMIT, admin) for _ in range(8)))
        finally:
            await store.close()

    ids = sorted(job_id for [job_id] in asyncio.run(resubmit_together()))
    assert ids == list(range(BASE, BASE + 8))
    assert catalogue.scalar("SELECT count(*) FROM jobs WHERE id >= ?", (BASE,)) == 8


def test_resubmit_of_an_active_job_is_refused(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    job_id = first_job_id(catalogue, RUNNING)
    body = act(client, auth_json, job_id, "resubmit")
    assert (
        "only finished jobs can be resubmitted" in body["errors"][0]["errList"][0]["errLogMessage"]
    )


def multi(client: TestClient, headers: dict[str, str], operation: str, ids: list[int]) -> Any:
    body = {"jobOpReq": {"operationType": operation, "jobs": [{"jobId": i} for i in ids]}}
    response = client.post(API + "Jobs/MultiJobOperation", json=body, headers=headers)
    assert response.status_code == 200
    return response.json()


@pytest.mark.postgres_too
def test_multi_job_operation(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    running = [r[0] for r in catalogue.sql("SELECT id FROM jobs WHERE status = 'Running' LIMIT 2")]
    assert len(running) == 2
    before = [snapshot(catalogue, i) for i in (*running, 4)]
    refused = multi(client, auth_json, "JOB_KILL", [*running, 4])
    assert "job 4 is already Completed" in refused["errors"][0]["errList"][0]["errLogMessage"]
    assert [snapshot(catalogue, i) for i in (*running, 4)] == before
    assert done(multi(client, auth_json, "JOB_KILL", running))
    assert {summary(client, auth_json, i)["status"] for i in running} == {"Kill Pending"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"jobOpReq": {"operationType": "JOB_KILL"}},
        {"jobOpReq": {"operationType": "FLY", "jobs": [{"jobId": 4}]}},
        {"jobOpReq": {"operationType": "JOB_KILL", "jobs": [{"id": 4}]}},
    ],
)
def test_multi_job_operation_bad_bodies(
    client: TestClient, auth_json: dict[str, str], body: dict[str, Any]
) -> None:
    assert (
        client.post(API + "Jobs/MultiJobOperation", json=body, headers=auth_json).status_code == 400
    )


@pytest.mark.postgres_too
def test_every_change_is_an_event(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    job_id = first_job_id(catalogue, RUNNING)
    act(client, auth_json, job_id, "pause")
    step(client)
    events = client.get(API + f"Events?jobId={job_id}", headers=auth_json).json()["commservEvents"]
    moves = [(e["description"]) for e in events]
    assert len(events) == 2
    assert "from [Suspend Pending] to [Suspended]" in moves[0]
    assert "from [Running] to [Suspend Pending] by user [admin]: suspend" in moves[1]
    assert events[1]["clientEntity"]["clientId"] > 0
    assert events[0]["eventCodeString"] == "19:101"
    assert events[0]["eventCode"] == str((19 << 24) | 101)


@pytest.fixture
def no_engine_client(catalogue: Catalogue, clock: FakeClock) -> Iterator[TestClient]:
    app = create_app(Settings(db=str(catalogue), engine=False), clock=clock)
    with TestClient(app) as test_client:
        yield test_client


def test_without_an_engine_actions_settle_at_once(
    no_engine_client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    job_id = first_job_id(catalogue, RUNNING)
    act(no_engine_client, auth_json, job_id, "pause")
    assert summary(no_engine_client, auth_json, job_id)["status"] == "Suspended"
    act(no_engine_client, auth_json, job_id, "kill")
    assert summary(no_engine_client, auth_json, job_id)["status"] == "Killed"


@pytest.mark.postgres_too
def test_a_locked_catalogue_is_503_and_changes_nothing(
    catalogue: Catalogue,
    clock: FakeClock,
    auth_json: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if catalogue.backend != "sqlite":
        pytest.skip("a whole-catalogue write lock is SQLite's; PostgreSQL locks rows")
    monkeypatch.setattr("cvjobs.app.SERVER_BUSY_SECONDS", 0.1)
    job_id = first_job_id(catalogue, RUNNING)
    app = create_app(Settings(db=str(catalogue)), clock=clock, run_engine=False)
    with TestClient(app) as client:
        other = sqlite3.connect(catalogue.url, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process is writing, for a long time
        try:
            before = snapshot(catalogue, job_id)
            response = client.post(API + f"Job/{job_id}/action/kill", headers=auth_json)
            assert response.status_code == 503
            assert "busy" in response.json()["errorMessage"]
            # reads go on meanwhile
            assert client.get(API + f"Job/{job_id}", headers=auth_json).status_code == 200
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert snapshot(catalogue, job_id) == before
        assert done(act(client, auth_json, job_id, "kill"))


def test_a_done_action_in_xml_is_the_vendors_empty_answer_byte_for_byte(
    client: TestClient, catalogue: Catalogue, auth_xml: dict[str, str]
) -> None:
    """A PHP client (duhow/Commvault-PHP) compares the body of a done action with
    `<JobManager_PerformJobOperationResp />` and calls anything else a failure (issue 10)."""
    job_id = first_job_id(catalogue, RUNNING)
    headers = {**auth_xml, "Content-Length": "0"}
    response = client.post(API + f"Job/{job_id}/action/kill", headers=headers)
    assert response.status_code == 200
    assert response.content == b"<JobManager_PerformJobOperationResp />"
    refused = client.post(API + f"Job/{job_id}/action/kill", headers=headers)
    root = fromstring(refused.content)
    err = root.find("errors/errList")
    assert err is not None and err.attrib["errorCode"] == "2"


def test_a_done_action_in_json_carries_the_errors_list_with_code_0(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    """The PowerShell SDK reports "not submitted" unless `errors` is there; cvpysdk reads
    errors[0].errList[0].errorCode when it is (issue 10)."""
    job_id = first_job_id(catalogue, RUNNING)
    body = act(client, auth_json, job_id, "pause")
    assert body == {
        "errorCode": 0,
        "errors": [
            {"errList": [{"errorCode": 0, "errLogMessage": f"Job [{job_id}]: suspend accepted."}]}
        ],
    }


@pytest.mark.parametrize(
    ("operation", "status"),
    [
        (0, "Suspend"),
        ("0", "Suspend"),
        ("JOB_SUSPEND", "Suspend"),
        (2, "Kill"),
        ("job_kill", "Kill"),
    ],
)
def test_multi_job_operation_takes_the_vendors_numbers_and_names(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str], operation: Any, status: str
) -> None:
    """The official MCP server sends operationType 0 for a suspend (issue 10)."""
    job_id = first_job_id(catalogue, RUNNING)
    body = {"message": 1, "jobOpReq": {"operationType": operation, "jobs": [{"jobId": job_id}]}}
    response = client.post(API + "Jobs/MultiJobOperation", json=body, headers=auth_json)
    assert done(response.json()), response.text
    assert summary(client, auth_json, job_id)["status"].startswith(status)


def test_suspend_with_autoresume_resumes_after_its_delay(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str], clock: FakeClock
) -> None:
    job_id = first_job_id(catalogue, RUNNING)
    op: dict[str, object] = {"operationType": "JOB_SUSPEND_AUTORESUME", "jobs": [{"jobId": job_id}]}
    missing = client.post(API + "Jobs/MultiJobOperation", json={"jobOpReq": op}, headers=auth_json)
    assert missing.status_code == 400 and "autoResumeInSec" in missing.text
    op["autoResumeInSec"] = 600
    assert done(multi_raw(client, auth_json, op))
    step(client)
    assert summary(client, auth_json, job_id)["status"] == "Suspended"
    clock.advance(601)
    step(client)
    assert summary(client, auth_json, job_id)["status"] == "Running"


def multi_raw(client: TestClient, headers: dict[str, str], op: dict[str, Any]) -> Any:
    response = client.post(API + "Jobs/MultiJobOperation", json={"jobOpReq": op}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_force_release_is_refused_in_the_vendors_shape_and_changes_nothing(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    job_id = first_job_id(catalogue, RUNNING)
    before = snapshot(catalogue, job_id)
    for operation in ("JOB_FORCE_RELEASE", 3):
        op = {"operationType": operation, "jobs": [{"jobId": job_id}]}
        (error,) = multi_raw(client, auth_json, op)["errors"][0]["errList"]
        assert error["errorCode"] == 2 and "no meaning in cvjobs" in error["errLogMessage"]
    assert snapshot(catalogue, job_id) == before


@pytest.mark.parametrize("operation", ["JOB_EXPLODE", 9, -1, True, 0.5, None, {"a": 1}])
def test_an_unknown_operation_type_is_400(
    client: TestClient, auth_json: dict[str, str], operation: Any
) -> None:
    op = {"operationType": operation, "jobs": [{"jobId": 4}]}
    response = client.post(API + "Jobs/MultiJobOperation", json={"jobOpReq": op}, headers=auth_json)
    assert response.status_code == 400
    assert "unknown operationType" in response.json()["errorMessage"]
