"""Roles and scopes on every route (issue 5): a job outside an account's scope answers
exactly like a job that does not exist; viewers read, operators act and ingest within
their scope, administrators see everything whatever their scope says."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from cvjobs.model import ADMIN, OPERATOR, VIEWER, Scope
from cvjobs.service.auth import token_hash
from cvjobs.store import open_store
from tests.catalogues import Catalogue
from tests.conftest import ADMIN_TOKEN, API, CLOCK_START, done
from tests.http.test_job_list import cvpysdk_body

V1 = "/cvjobs/v1/"
ABSENT = 987654321


def account_token(db: Catalogue, name: str, role: str, scope: Scope) -> str:
    """A live session of a new account with this role and scope (no argon2 paid)."""

    async def make() -> str:
        store = await open_store(db.url)
        try:
            account = await store.create_account(name, "!unusable", role=role)
            await store.set_scope(account.account_id, scope)
            token = "QSDK " + secrets.token_hex(32)
            await store.create_session(token_hash(token), account.account_id, CLOCK_START, 1800)
            return token
        finally:
            await store.close()

    return asyncio.run(make())


class Tenant:
    """An account limited to one client, and the jobs it may and may not see."""

    def __init__(self, db: Catalogue, role: str, name: str = "tenant") -> None:
        # The client of the first running job: it has finished jobs and events too.
        self.client_id = int(
            db.scalar("SELECT client_id FROM jobs WHERE status = 'Running' ORDER BY id LIMIT 1")
        )
        self.mine = self.first(db, f"client_id = {self.client_id}")
        self.other = self.first(db, f"client_id <> {self.client_id} AND end_time > 0 AND id > 100")
        self.token = account_token(db, name, role, Scope(False, frozenset({self.client_id})))
        self.json = {"Authtoken": self.token, "Accept": "application/json"}
        self.xml = {"Authtoken": self.token, "Accept": "application/xml"}

    @staticmethod
    def first(db: Catalogue, where: str) -> int:
        return int(db.scalar(f"SELECT min(id) FROM jobs WHERE {where}"))


def same_as_absent(get: Callable[[int], Any], hidden: int, absent: int = ABSENT) -> tuple[str, str]:
    """The answers for a hidden and an absent id, with the ids blanked out."""
    a, b = get(hidden), get(absent)
    assert a.status_code == b.status_code
    return (
        re.sub(rf"\b{hidden}\b", "N", a.text),
        re.sub(rf"\b{absent}\b", "N", b.text),
    )


@pytest.fixture(params=[OPERATOR, VIEWER])
def tenant(client: TestClient, catalogue: Catalogue, request: pytest.FixtureRequest) -> Tenant:
    """A scoped account of each role that has a scope (an admin sees everything)."""
    return Tenant(catalogue, request.param)


@pytest.mark.parametrize("headers", ["json", "xml"])
def test_get_job_of_another_tenant_answers_like_no_job(
    client: TestClient, tenant: Tenant, headers: str
) -> None:
    h = getattr(tenant, headers)
    hidden, absent = same_as_absent(lambda i: client.get(API + f"Job/{i}", headers=h), tenant.other)
    assert hidden == absent
    assert str(tenant.mine) in client.get(API + f"Job/{tenant.mine}", headers=h).text


def test_a_cached_rendering_is_not_shown_out_of_scope(
    client: TestClient, tenant: Tenant, auth_json: dict[str, str]
) -> None:
    seen = client.get(API + f"Job/{tenant.other}", headers=auth_json).json()
    assert seen["totalRecordsWithoutPaging"] == 1  # now cached for everyone
    hidden = client.get(API + f"Job/{tenant.other}", headers=tenant.json).json()
    assert hidden["totalRecordsWithoutPaging"] == 0 and not hidden.get("jobs")


def test_an_out_of_scope_job_takes_the_path_of_an_absent_one(
    client: TestClient, tenant: Tenant, auth_json: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The render cache answers a job an account may see without a read; for a job out of
    its scope it reads the catalogue like for an absent id, so timing tells them apart no
    more than the bodies do (issue 9)."""
    assert isinstance(client.app, Starlette)
    store = client.app.state.services.jobs._store  # the catalogue's reads, counted
    reads: list[int] = []
    real = store.get_job

    async def counted(job_id: int) -> Any:
        reads.append(job_id)
        return await real(job_id)

    monkeypatch.setattr(store, "get_job", counted)
    for headers in (auth_json, tenant.json):
        client.get(API + f"Job/{tenant.other}", headers=headers)  # now cached for everyone
    reads.clear()
    client.get(API + f"Job/{tenant.other}", headers=auth_json)
    assert reads == []  # a hit
    client.get(API + f"Job/{tenant.other}", headers=tenant.json)
    client.get(API + f"Job/{ABSENT}", headers=tenant.json)
    assert reads == [tenant.other, ABSENT]


def test_a_kept_list_or_advanced_details_is_not_shown_out_of_scope(
    client: TestClient, tenant: Tenant, auth_json: dict[str, str]
) -> None:
    """The admin's answers, kept for an unchanged catalogue, are not anyone else's."""
    url = API + "Job?completedJobLookupTime=1000000000&limit=50"
    everyone = client.get(url, headers=auth_json).json()
    assert client.get(url, headers=auth_json).json() == everyone  # kept
    mine = client.get(url, headers=tenant.json).json()
    assert mine["totalRecordsWithoutPaging"] < everyone["totalRecordsWithoutPaging"]
    assert {j["jobSummary"]["subclient"]["clientId"] for j in mine["jobs"]} == {tenant.client_id}
    advanced = API + f"Job/{tenant.other}/AdvancedDetails"
    assert client.get(advanced, headers=auth_json).status_code == 200
    hidden, absent = same_as_absent(
        lambda i: client.get(API + f"Job/{i}/AdvancedDetails", headers=tenant.json),
        tenant.other,
    )
    assert hidden == absent


@pytest.mark.postgres_too
def test_lists_and_totals_leave_other_tenants_out(
    client: TestClient, catalogue: Catalogue, tenant: Tenant
) -> None:
    expected = catalogue.scalar(f"SELECT count(*) FROM jobs WHERE client_id = {tenant.client_id}")
    listed = client.get(
        API + "Job?completedJobLookupTime=1000000000&limit=10000", headers=tenant.json
    ).json()
    assert listed["totalRecordsWithoutPaging"] == len(listed["jobs"]) == expected
    assert {j["jobSummary"]["subclient"]["clientId"] for j in listed["jobs"]} == {tenant.client_id}
    posted = client.post(
        API + "Jobs",
        json=cvpysdk_body(
            pagingConfig={"limit": 10000}, jobFilter={"completedJobLookupTime": 10**8}
        ),
        headers=tenant.json,
    ).json()
    assert posted["totalRecordsWithoutPaging"] == len(posted["jobs"]) <= expected
    assert {j["jobSummary"]["subclient"]["clientId"] for j in posted["jobs"]} <= {tenant.client_id}
    # Asking for another tenant's client by name or id finds nothing.
    other_client = catalogue.scalar(f"SELECT client_id FROM jobs WHERE id = {tenant.other}")
    filtered = client.get(API + f"Job?clientId={other_client}", headers=tenant.json).json()
    assert filtered["totalRecordsWithoutPaging"] == 0


@pytest.mark.parametrize(
    "route",
    [
        lambda c, h, i: c.post(API + "JobDetails", json={"jobId": i}, headers=h),
        lambda c, h, i: c.get(API + f"Job/{i}/AdvancedDetails?infoType=1", headers=h),
        lambda c, h, i: c.get(API + f"Job/{i}/AdvancedDetails", headers=h),
        lambda c, h, i: c.get(API + f"Job/{i}/TaskDetails", headers=h),
        lambda c, h, i: c.get(API + f"Events?jobId={i}", headers=h),
        lambda c, h, i: c.post(API + f"Job/{i}/action/kill", headers=h),
        lambda c, h, i: c.post(API + f"Job/{i}/action/Resubmit", headers=h),
        lambda c, h, i: c.post(
            API + "Jobs/MultiJobOperation",
            json={"jobOpReq": {"operationType": "kill", "jobs": [{"jobId": i}]}},
            headers=h,
        ),
        lambda c, h, i: c.patch(V1 + f"jobs/{i}", json={"percentComplete": 5}, headers=h),
        lambda c, h, i: c.post(V1 + "events", json={"jobId": i, "description": "x"}, headers=h),
    ],
    ids=[
        "JobDetails",
        "AdvancedDetails 1",
        "AdvancedDetails",
        "TaskDetails",
        "Events",
        "kill",
        "resubmit",
        "MultiJobOperation",
        "ingest PATCH",
        "ingest event",
    ],
)
def test_every_route_answers_an_out_of_scope_job_like_an_absent_one(
    client: TestClient, catalogue: Catalogue, tenant: Tenant, route: Any
) -> None:
    before = catalogue.sql("SELECT * FROM jobs ORDER BY id")
    events_before = catalogue.scalar("SELECT count(*) FROM events")
    hidden, absent = same_as_absent(lambda i: route(client, tenant.json, i), tenant.other)
    assert hidden == absent
    assert catalogue.sql("SELECT * FROM jobs ORDER BY id") == before
    assert catalogue.scalar("SELECT count(*) FROM events") == events_before


@pytest.mark.postgres_too
def test_events_of_other_tenants_are_left_out(
    client: TestClient, catalogue: Catalogue, tenant: Tenant
) -> None:
    events = client.get(API + "Events?limit=10000", headers=tenant.json).json()["commservEvents"]
    assert events and {e["clientEntity"]["clientId"] for e in events} == {tenant.client_id}
    other_event = catalogue.scalar(
        f"SELECT min(id) FROM events WHERE client_id <> {tenant.client_id}"
    )
    hidden, absent = same_as_absent(
        lambda i: client.get(API + f"Events/{i}", headers=tenant.json), other_event
    )
    assert hidden == absent


@pytest.mark.postgres_too
def test_a_batch_action_touching_another_tenant_changes_nothing(
    client: TestClient, catalogue: Catalogue
) -> None:
    tenant = Tenant(catalogue, OPERATOR, "op")
    mine = Tenant.first(catalogue, f"client_id = {tenant.client_id} AND status = 'Running'")
    other = Tenant.first(catalogue, f"client_id <> {tenant.client_id} AND status = 'Running'")
    before = catalogue.sql("SELECT id, status FROM jobs ORDER BY id")
    response = client.post(
        API + "Jobs/MultiJobOperation",
        json={"jobOpReq": {"operationType": "kill", "jobs": [{"jobId": mine}, {"jobId": other}]}},
        headers=tenant.json,
    )
    assert f"No job exists with the job ID {other}" in response.text
    assert catalogue.sql("SELECT id, status FROM jobs ORDER BY id") == before
    # The same action on its own job alone is done.
    response = client.post(API + f"Job/{mine}/action/kill", headers=tenant.json)
    assert done(response.json())


@pytest.mark.parametrize(
    "op",
    [
        {"operationType": 0},
        {"operationType": "2"},
        {"operationType": "JOB_SUSPEND_AUTORESUME", "autoResumeInSec": 60},
        {"operationType": "JOB_FORCE_RELEASE"},
    ],
    ids=["suspend-by-number", "kill-by-number", "suspend-autoresume", "force-release"],
)
def test_every_operation_type_answers_an_out_of_scope_job_like_an_absent_one(
    client: TestClient, catalogue: Catalogue, op: dict[str, Any]
) -> None:
    """The operation types of issue 10 go through the same scope as kill (issue 9)."""
    tenant = Tenant(catalogue, OPERATOR, "op")
    other = Tenant.first(catalogue, f"client_id <> {tenant.client_id} AND status = 'Running'")
    before = catalogue.sql("SELECT id, status, auto_resume_at FROM jobs ORDER BY id")

    def multi(job_id: int) -> Any:
        body = {"jobOpReq": {**op, "jobs": [{"jobId": job_id}]}}
        return client.post(API + "Jobs/MultiJobOperation", json=body, headers=tenant.json)

    hidden, absent = same_as_absent(multi, other)
    assert hidden == absent
    assert catalogue.sql("SELECT id, status, auto_resume_at FROM jobs ORDER BY id") == before


@pytest.mark.postgres_too
def test_ingest_of_another_tenants_job_writes_nothing(
    client: TestClient, catalogue: Catalogue
) -> None:
    tenant = Tenant(catalogue, OPERATOR, "op")
    other_client = int(catalogue.scalar(f"SELECT client_id FROM jobs WHERE id = {tenant.other}"))
    mine = {"jobId": 900001, "status": "Running", "jobType": "Backup"}
    mine["subclient"] = {"clientId": tenant.client_id}
    theirs = {**mine, "jobId": 900002, "subclient": {"clientId": other_client}}
    overwrite = {**mine, "jobId": tenant.other}  # another tenant's job, moved to this client
    count = catalogue.scalar("SELECT count(*) FROM jobs")
    for batch in ([mine, theirs], [overwrite]):
        response = client.post(V1 + "jobs", json={"jobs": batch}, headers=tenant.json)
        assert response.status_code == 403, response.text
        assert "nothing was written" in response.json()["errorMessage"]
        assert catalogue.scalar("SELECT count(*) FROM jobs") == count
    response = client.post(V1 + "jobs", json={"jobs": [mine]}, headers=tenant.json)
    assert response.status_code == 200, response.text
    assert catalogue.scalar("SELECT client_id FROM jobs WHERE id = 900001") == tenant.client_id


def test_an_operator_cannot_move_clients_between_groups(
    client: TestClient, catalogue: Catalogue
) -> None:
    tenant = Tenant(catalogue, OPERATOR, "op")
    members = catalogue.sql("SELECT * FROM client_group_members ORDER BY 1, 2")
    record = {
        "jobId": 900003,
        "status": "Running",
        "jobType": "Backup",
        "subclient": {"clientId": tenant.client_id},
        "clientGroups": [{"clientGroupId": 999, "clientGroupName": "mine now"}],
    }
    assert client.post(V1 + "jobs", json=record, headers=tenant.json).status_code == 200
    assert catalogue.sql("SELECT * FROM client_group_members ORDER BY 1, 2") == members


@pytest.mark.postgres_too
def test_a_group_scope_sees_the_groups_clients(client: TestClient, catalogue: Catalogue) -> None:
    group, member = catalogue.sql(
        "SELECT group_id, client_id FROM client_group_members ORDER BY 1, 2 LIMIT 1"
    )[0]
    outsider = catalogue.scalar(
        "SELECT min(id) FROM jobs WHERE client_id NOT IN"
        f" (SELECT client_id FROM client_group_members WHERE group_id = {group})"
    )
    inside = catalogue.scalar(f"SELECT min(id) FROM jobs WHERE client_id = {member}")
    token = account_token(catalogue, "grouped", VIEWER, Scope(False, groups=frozenset({group})))
    h = {"Authtoken": token, "Accept": "application/json"}
    assert client.get(API + f"Job/{inside}", headers=h).json()["totalRecordsWithoutPaging"] == 1
    assert client.get(API + f"Job/{outsider}", headers=h).json()["totalRecordsWithoutPaging"] == 0


def test_viewers_read_but_may_not_act_or_ingest(client: TestClient, catalogue: Catalogue) -> None:
    viewer = Tenant(catalogue, VIEWER, "reader")
    assert client.get(API + f"Job/{viewer.mine}", headers=viewer.json).status_code == 200
    before = catalogue.sql("SELECT id, status FROM jobs ORDER BY id")
    for response in (
        client.post(API + f"Job/{viewer.mine}/action/kill", headers=viewer.json),
        client.post(API + f"Job/{viewer.other}/action/kill", headers=viewer.json),
        client.post(V1 + "jobs", json={"jobId": 5, "status": "Failed"}, headers=viewer.json),
    ):
        assert response.status_code == 403
        assert "only operators and administrators" in response.json()["errorMessage"]
    assert catalogue.sql("SELECT id, status FROM jobs ORDER BY id") == before


def test_an_admin_sees_everything_whatever_its_scope(
    client: TestClient, catalogue: Catalogue
) -> None:
    token = account_token(catalogue, "boss", ADMIN, Scope(False, frozenset({1})))
    other = Tenant.first(catalogue, "client_id <> 1")
    body = client.get(API + f"Job/{other}", headers={"Authtoken": token}).text
    assert f'jobId="{other}"' in body


def test_an_empty_scope_sees_nothing(client: TestClient, catalogue: Catalogue) -> None:
    token = account_token(catalogue, "nobody", VIEWER, Scope(False))
    h = {"Authtoken": token, "Accept": "application/json"}
    assert client.get(API + "Job", headers=h).json()["totalRecordsWithoutPaging"] == 0
    assert client.get(API + "Events", headers=h).json()["commservEvents"] == []


def test_the_admin_token_still_sees_all(client: TestClient) -> None:
    body = client.get(API + "Job?limit=1", headers={"Authtoken": ADMIN_TOKEN}).text
    assert "totalRecordsWithoutPaging" in body


@pytest.mark.postgres_too
def test_events_follow_their_job_to_another_client(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    """A job moved to another client takes its events along: an account that no longer
    sees the job no longer sees them, by job, by client or by event id (issue 9)."""
    old = Tenant(catalogue, VIEWER, "old-owner")
    job_id, event_id = catalogue.sql(
        f"SELECT e.job_id, max(e.id) FROM events e JOIN jobs j ON j.id = e.job_id"
        f" WHERE j.client_id = {old.client_id} GROUP BY e.job_id ORDER BY e.job_id LIMIT 1"
    )[0]
    new_client = int(catalogue.scalar(f"SELECT client_id FROM jobs WHERE id = {old.other}"))
    moved = client.patch(
        V1 + f"jobs/{job_id}", json={"subclient": {"clientId": new_client}}, headers=auth_json
    )
    assert moved.status_code == 200, moved.text
    new = Tenant(catalogue, VIEWER, "new-owner")  # scoped to the first running job's client
    token = account_token(catalogue, "mover", VIEWER, Scope(False, frozenset({new_client})))
    new.json = {"Authtoken": token, "Accept": "application/json"}

    def events(tenant: Tenant, query: str) -> list[Any]:
        answer = client.get(API + f"Events?{query}", headers=tenant.json).json()
        found: list[Any] = answer["commservEvents"]
        return found

    assert (
        client.get(API + f"Job/{job_id}", headers=old.json).json()["totalRecordsWithoutPaging"] == 0
    )
    assert events(old, f"jobId={job_id}") == []
    assert all(e["jobId"] != job_id for e in events(old, f"clientId={old.client_id}"))
    assert events(old, f"jobId={job_id}") == events(old, f"jobId={ABSENT}")
    assert client.get(API + f"Events/{event_id}", headers=old.json).json()["commservEvents"] == []
    seen = events(new, f"jobId={job_id}")
    assert seen and {e["clientEntity"]["clientId"] for e in seen} == {new_client}
    assert {e["jobId"] for e in events(new, f"clientId={new_client}")} >= {job_id}
