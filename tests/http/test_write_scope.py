"""Writes stay inside the writer's scope, names included (issue 9): an operator may create
or rename only entities of clients it may write; naming another client's entity with a
new name, or a storage policy or job user at all, is a 403 that writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from cvjobs.model import OPERATOR, Scope
from tests.catalogues import Catalogue
from tests.http.test_scopes import V1, Tenant, account_token

pytestmark = pytest.mark.postgres_too

ENTITY_TABLES = (
    "clients",
    "app_types",
    "instances",
    "backupsets",
    "subclients",
    "storage_policies",
    "job_users",
    "client_groups",
    "client_group_members",
)


def snapshot(db: Catalogue) -> list[Any]:
    return [db.sql(f"SELECT * FROM {table} ORDER BY 1, 2") for table in ENTITY_TABLES] + [
        db.sql("SELECT id, client_id, subclient_id, dest_client_id FROM jobs ORDER BY id")
    ]


def summary(db: Catalogue, job_id: int) -> dict[str, Any]:
    """A job as ingest takes it, with every entity named as stored."""
    (row,) = db.sql(
        "SELECT j.client_id, c.name, j.app_id, j.instance_id, i.name, j.backupset_id, b.name,"
        " j.subclient_id, s.name, j.storage_policy_id, sp.name, j.user_id, u.name"
        " FROM jobs j JOIN clients c ON c.id = j.client_id"
        " LEFT JOIN instances i ON i.id = j.instance_id"
        " LEFT JOIN backupsets b ON b.id = j.backupset_id"
        " LEFT JOIN subclients s ON s.id = j.subclient_id"
        " LEFT JOIN storage_policies sp ON sp.id = j.storage_policy_id"
        " LEFT JOIN job_users u ON u.id = j.user_id WHERE j.id = ?",
        (job_id,),
    )
    client_id, client, app, inst_id, inst, bs_id, bs, sc_id, sc, sp_id, sp, user_id, user = row
    return {
        "jobId": 900100,
        "status": "Running",
        "jobType": "Backup",
        "subclient": {
            "clientId": client_id,
            "clientName": client,
            "applicationId": app,
            "instanceId": inst_id or 0,
            "instanceName": inst or "",
            "backupsetId": bs_id or 0,
            "backupsetName": bs or "",
            "subclientId": sc_id or 0,
            "subclientName": sc or "",
        },
        "storagePolicy": {"storagePolicyId": sp_id or 0, "storagePolicyName": sp or ""},
        "userName": {"userId": user_id or 0, "userName": user or ""},
    }


@pytest.fixture
def operator(client: TestClient, catalogue: Catalogue) -> Tenant:
    return Tenant(catalogue, OPERATOR, "op")


def other_client(db: Catalogue, tenant: Tenant) -> tuple[int, str]:
    (row,) = db.sql(
        "SELECT c.id, c.name FROM jobs j JOIN clients c ON c.id = j.client_id WHERE j.id = ?",
        (tenant.other,),
    )
    return int(row[0]), str(row[1])


def post(client: TestClient, tenant: Tenant, record: dict[str, Any]) -> Any:
    return client.post(V1 + "jobs", json=record, headers=tenant.json)


def test_a_new_name_for_another_clients_destination_is_refused(
    client: TestClient, catalogue: Catalogue, operator: Tenant
) -> None:
    before = snapshot(catalogue)
    other_id, other_name = other_client(catalogue, operator)
    record = summary(catalogue, operator.mine)
    record["destinationClient"] = {"clientId": other_id, "clientName": "PWNED"}
    response = post(client, operator, record)
    assert response.status_code == 403, response.text
    message = response.json()["errorMessage"]
    assert f"client {other_id}" in message and "nothing was written" in message
    assert snapshot(catalogue) == before
    # The same client named as it is stored (or by id alone) is no rename: written.
    record["destinationClient"] = {"clientId": other_id, "clientName": other_name}
    assert post(client, operator, record).status_code == 200
    record["destinationClient"] = {"clientId": other_id}
    assert post(client, operator, {**record, "jobId": 900101}).status_code == 200
    assert catalogue.scalar("SELECT name FROM clients WHERE id = ?", (other_id,)) == other_name


def test_the_same_rename_through_a_patch_of_its_own_job_is_refused(
    client: TestClient, catalogue: Catalogue, operator: Tenant
) -> None:
    other_id, _ = other_client(catalogue, operator)
    before = snapshot(catalogue)
    response = client.patch(
        V1 + f"jobs/{operator.mine}",
        json={"destinationClient": {"clientId": other_id, "clientName": "PWNED"}},
        headers=operator.json,
    )
    assert response.status_code == 403, response.text
    assert snapshot(catalogue) == before


@pytest.mark.parametrize("kind", ["subclient", "backupset", "instance"])
def test_another_clients_subclient_backupset_or_instance_is_not_renamed(
    client: TestClient, catalogue: Catalogue, operator: Tenant, kind: str
) -> None:
    theirs = summary(catalogue, operator.other)["subclient"]
    record = summary(catalogue, operator.mine)
    record["subclient"][f"{kind}Id"] = theirs[f"{kind}Id"]
    record["subclient"][f"{kind}Name"] = "PWNED"
    before = snapshot(catalogue)
    response = post(client, operator, record)
    assert response.status_code == 403, response.text
    assert snapshot(catalogue) == before


def test_its_own_clients_entities_may_be_created_and_renamed(
    client: TestClient, catalogue: Catalogue, operator: Tenant
) -> None:
    record = summary(catalogue, operator.mine)
    subclient_id = record["subclient"]["subclientId"]
    record["subclient"]["subclientName"] = "renamed by its owner"
    assert post(client, operator, record).status_code == 200
    assert (
        catalogue.scalar("SELECT name FROM subclients WHERE id = ?", (subclient_id,))
        == "renamed by its owner"
    )
    new = {**record, "jobId": 900102}
    new["subclient"] = {**record["subclient"], "subclientId": 88001, "subclientName": "fresh"}
    assert post(client, operator, new).status_code == 200
    assert catalogue.scalar("SELECT name FROM subclients WHERE id = 88001") == "fresh"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("storagePolicy", {"storagePolicyName": "PWNED"}),  # renamed
        ("storagePolicy", {"storagePolicyId": 88002, "storagePolicyName": "new"}),  # created
        ("userName", {"userName": "PWNED"}),
        ("userName", {"userId": 88003, "userName": "new"}),
    ],
)
def test_storage_policies_and_job_users_are_for_administrators(
    client: TestClient,
    catalogue: Catalogue,
    operator: Tenant,
    auth_json: dict[str, str],
    field: str,
    value: dict[str, Any],
) -> None:
    record = summary(catalogue, operator.mine)
    record[field] = {**record[field], **value}
    before = snapshot(catalogue)
    # Even an operator that may write every client may not.
    everywhere = account_token(catalogue, "op-all", OPERATOR, Scope())
    for headers in (operator.json, {"Authtoken": everywhere, "Accept": "application/json"}):
        response = client.post(V1 + "jobs", json=record, headers=headers)
        assert response.status_code == 403, response.text
        assert snapshot(catalogue) == before
    assert client.post(V1 + "jobs", json=record, headers=auth_json).status_code == 200
    assert snapshot(catalogue) != before


def test_an_operator_of_every_client_may_rename_clients_but_not_regroup_them(
    client: TestClient, catalogue: Catalogue, operator: Tenant
) -> None:
    token = account_token(catalogue, "op-all", OPERATOR, Scope())
    other_id, _ = other_client(catalogue, operator)
    members = catalogue.sql("SELECT * FROM client_group_members ORDER BY 1, 2")
    record = summary(catalogue, operator.other)
    record["subclient"]["clientName"] = "renamed"
    record["clientGroups"] = [{"clientGroupId": 999, "clientGroupName": "mine now"}]
    headers = {"Authtoken": token, "Accept": "application/json"}
    assert client.post(V1 + "jobs", json=record, headers=headers).status_code == 200
    assert catalogue.scalar("SELECT name FROM clients WHERE id = ?", (other_id,)) == "renamed"
    assert catalogue.sql("SELECT * FROM client_group_members ORDER BY 1, 2") == members


def test_a_refused_rename_is_audited(
    client: TestClient, catalogue: Catalogue, operator: Tenant
) -> None:
    other_id, _ = other_client(catalogue, operator)
    record = summary(catalogue, operator.mine)
    record["destinationClient"] = {"clientId": other_id, "clientName": "PWNED"}
    assert post(client, operator, record).status_code == 403
    rows = catalogue.sql("SELECT user_name, action, outcome FROM audit WHERE user_name = 'op'")
    assert rows == [("op", "ingest.jobs", "forbidden")]


@pytest.mark.parametrize("key", ["xmlns", "xmlns:evil", "xml:lang", "XmlThing"])
def test_a_section_key_xml_reserves_is_400_and_writes_nothing(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str], key: str
) -> None:
    """`xmlns` as a section key moved the AdvancedDetails answer into another namespace
    (issue 9); names XML reserves are refused on the way in, even from an administrator."""
    record = summary(catalogue, 4)
    body = {"jobSummary": record, "advancedDetails": {"bkpInfo": {"exchDbInfo": {key: "x"}}}}
    before = snapshot(catalogue)
    response = client.post(V1 + "jobs", json=body, headers=auth_json)
    assert response.status_code == 400
    assert "bkpInfo" in response.json()["errorMessage"]
    assert snapshot(catalogue) == before
