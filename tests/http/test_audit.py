"""The audit log records job actions (done, refused or forbidden) and ingest writes with
the account, the client address and the time."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from cvjobs.model import OPERATOR, VIEWER
from cvjobs.service.audit import ACTIONS, MAX_DETAIL
from cvjobs.service.control import MAX_JOBS_PER_OPERATION
from tests.catalogues import Catalogue
from tests.conftest import API, CLOCK_START, FakeClock, done
from tests.http.test_scopes import Tenant

pytestmark = pytest.mark.postgres_too

V1 = "/cvjobs/v1/"


def rows(catalogue: Catalogue) -> list[tuple[object, ...]]:
    return catalogue.sql(
        "SELECT time, user_name, address, action, job_id, outcome FROM audit ORDER BY id"
    )


def test_job_actions_are_audited_done_or_not(
    client: TestClient, catalogue: Catalogue, clock: FakeClock
) -> None:
    operator = Tenant(catalogue, OPERATOR, "op")
    running = Tenant.first(catalogue, f"client_id = {operator.client_id} AND status = 'Running'")
    clock.advance(10)
    client.post(API + f"Job/{running}/action/suspend", headers=operator.json)
    client.post(API + f"Job/{operator.other}/action/kill", headers=operator.json)
    viewer = Tenant(catalogue, VIEWER, "reader")
    client.post(API + f"Job/{running}/action/kill", headers=viewer.json)
    logged = rows(catalogue)
    assert (CLOCK_START + 10, "op", "testclient", "job.suspend", running, "ok") in logged
    assert ("op", "job.kill", operator.other, "refused") in [
        (r[1], r[3], r[4], r[5]) for r in logged
    ]
    assert ("reader", "job.kill", running, "forbidden") in [
        (r[1], r[3], r[4], r[5]) for r in logged
    ]


def test_ingest_writes_are_audited(client: TestClient, catalogue: Catalogue) -> None:
    operator = Tenant(catalogue, OPERATOR, "feeder")
    record = {
        "jobId": 910001,
        "status": "Running",
        "jobType": "Backup",
        "subclient": {"clientId": operator.client_id},
    }
    assert client.post(V1 + "jobs", json=record, headers=operator.json).status_code == 200
    patched = client.patch(V1 + "jobs/910001", json={"percentComplete": 50}, headers=operator.json)
    assert patched.status_code == 200
    event = {"jobId": 910001, "description": "note"}
    assert client.post(V1 + "events", json=event, headers=operator.json).status_code == 200
    actions = [(r[1], r[3], r[4]) for r in rows(catalogue)]
    assert ("feeder", "ingest.jobs", 910001) in actions
    assert ("feeder", "ingest.update", 910001) in actions
    assert ("feeder", "ingest.events", 0) in actions


def test_refused_ingest_is_audited(client: TestClient, catalogue: Catalogue) -> None:
    viewer = Tenant(catalogue, VIEWER, "peeker")
    operator = Tenant(catalogue, OPERATOR, "feeder")
    other_client = catalogue.scalar(f"SELECT client_id FROM jobs WHERE id = {operator.other}")
    theirs = {"jobId": 920001, "status": "Running", "jobType": "Backup"}
    theirs["subclient"] = {"clientId": other_client}
    assert client.post(V1 + "jobs", json=theirs, headers=viewer.json).status_code == 403
    assert client.post(V1 + "jobs", json=theirs, headers=operator.json).status_code == 403
    event = {"description": "x"}
    assert client.post(V1 + "events", json=event, headers=viewer.json).status_code == 403
    logged = [(r[1], r[3], r[5]) for r in rows(catalogue)]
    assert ("peeker", "ingest.jobs", "forbidden") in logged
    assert ("feeder", "ingest.jobs", "forbidden") in logged
    assert ("peeker", "ingest.events", "forbidden") in logged


def multi(client: TestClient, headers: dict[str, str], ids: list[int], op: str = "kill") -> Any:
    body = {"jobOpReq": {"operationType": op, "jobs": [{"jobId": i} for i in ids]}}
    return client.post(API + "Jobs/MultiJobOperation", json=body, headers=headers)


def test_one_operation_on_many_jobs_is_one_bounded_entry(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    """A batch of the largest size, refused for most of its jobs, writes one audit row of
    bounded size (it wrote a row per id, each with the whole refusal text: 131 MB for
    2,000 ids), and its answer is bounded too."""
    finished = [r[0] for r in catalogue.sql("SELECT id FROM jobs WHERE end_time > 0 ORDER BY id")]
    ids = (finished * (MAX_JOBS_PER_OPERATION // len(finished) + 1))[:MAX_JOBS_PER_OPERATION]
    before = catalogue.scalar("SELECT count(*) FROM audit")
    response = multi(client, auth_json, ids)
    assert response.status_code == 200
    message = response.json()["errors"][0]["errList"][0]["errLogMessage"]
    assert "more jobs refuse it" in message and len(message) < 2000
    assert catalogue.scalar("SELECT count(*) FROM audit") == before + 1
    (detail,) = catalogue.sql("SELECT detail FROM audit ORDER BY id DESC LIMIT 1")[0]
    assert detail.startswith(f"{len(ids)} job(s): {ids[0]}, ") and len(detail) <= MAX_DETAIL


def test_a_batch_over_the_maximum_is_400_and_writes_nothing(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    running = [r[0] for r in catalogue.sql("SELECT id FROM jobs WHERE status = 'Running'")]
    before = catalogue.sql("SELECT id, status FROM jobs ORDER BY id")
    audited = catalogue.scalar("SELECT count(*) FROM audit")
    response = multi(client, auth_json, running * (MAX_JOBS_PER_OPERATION // len(running) + 1))
    assert response.status_code == 400
    assert f"at most {MAX_JOBS_PER_OPERATION} jobs" in response.json()["errorMessage"]
    assert catalogue.sql("SELECT id, status FROM jobs ORDER BY id") == before
    assert catalogue.scalar("SELECT count(*) FROM audit") == audited


def test_a_viewers_refused_batch_writes_one_row(client: TestClient, catalogue: Catalogue) -> None:
    viewer = Tenant(catalogue, VIEWER, "reader")
    ids = [r[0] for r in catalogue.sql("SELECT id FROM jobs ORDER BY id LIMIT 500")]
    before = catalogue.scalar("SELECT count(*) FROM audit")
    assert multi(client, viewer.json, ids).status_code == 403
    assert catalogue.scalar("SELECT count(*) FROM audit") == before + 1
    assert rows(catalogue)[-1][1:] == ("reader", "testclient", "job.kill", 0, "forbidden")


def test_a_batch_that_is_done_is_one_entry_naming_its_jobs(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    running = [r[0] for r in catalogue.sql("SELECT id FROM jobs WHERE status = 'Running'")][:3]
    assert done(multi(client, auth_json, running, "suspend").json())
    (entry,) = catalogue.sql("SELECT action, job_id, outcome, detail FROM audit")
    listed = ", ".join(map(str, running))
    assert entry == ("job.suspend", 0, "ok", f"{len(running)} job(s): {listed}")


def test_every_action_written_is_one_the_audit_command_knows(
    client: TestClient, catalogue: Catalogue, clock: FakeClock
) -> None:
    operator = Tenant(catalogue, OPERATOR, "op")
    running = Tenant.first(catalogue, f"client_id = {operator.client_id} AND status = 'Running'")
    for action in ("suspend", "resume", "kill", "Resubmit"):
        client.post(API + f"Job/{running}/action/{action}", headers=operator.json)
    mine = {"clientId": operator.client_id, "subclientId": 0}
    record = {"jobId": 990100, "status": "Running", "jobType": "Backup", "subclient": mine}
    client.post(V1 + "jobs", json=record, headers=operator.json)
    client.patch(V1 + "jobs/990100", json={"percentComplete": 5}, headers=operator.json)
    client.post(V1 + "events", json={"jobId": 990100, "description": "x"}, headers=operator.json)
    for _ in range(6):
        client.post(API + "Login", json={"username": "op", "password": "d3Jvbmc="})
    written = {row[0] for row in catalogue.sql("SELECT DISTINCT action FROM audit")}
    assert {"job.kill", "ingest.jobs", "ingest.update", "login", "lockout"} <= written
    assert written <= set(ACTIONS)
