"""The audit log records job actions (done, refused or forbidden) and ingest writes with
the account, the client address and the time."""

from __future__ import annotations

from starlette.testclient import TestClient

from cvjobs.model import OPERATOR, VIEWER
from tests.catalogues import Catalogue
from tests.conftest import API, CLOCK_START, FakeClock
from tests.http.test_scopes import Tenant

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
    theirs["subclient"] = {"clientId": other_client}  # type: ignore[assignment]
    assert client.post(V1 + "jobs", json=theirs, headers=viewer.json).status_code == 403
    assert client.post(V1 + "jobs", json=theirs, headers=operator.json).status_code == 403
    event = {"description": "x"}
    assert client.post(V1 + "events", json=event, headers=viewer.json).status_code == 403
    logged = [(r[1], r[3], r[5]) for r in rows(catalogue)]
    assert ("peeker", "ingest.jobs", "forbidden") in logged
    assert ("feeder", "ingest.jobs", "forbidden") in logged
    assert ("peeker", "ingest.events", "forbidden") in logged
