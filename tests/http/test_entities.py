"""The read-only entity routes (issue 10): GET Client, Client/{id}, GetId, ClientGroup,
ClientGroup/{id}, Subclient, Backupset, Instance, StoragePolicy, V2/StoragePolicy and
StoragePolicy/{id}, in JSON and XML, with the fields each client reads, scoped like jobs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from cvjobs.model import OPERATOR, VIEWER, Scope
from tests.catalogues import Catalogue
from tests.conftest import API
from tests.http.test_scopes import Tenant, account_token

V1 = "/cvjobs/v1/"
ABSENT = 987654321


def get(client: TestClient, path: str, headers: dict[str, str]) -> Any:
    answer = client.get(API + path, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def get_xml(client: TestClient, path: str, headers: dict[str, str]) -> ET.Element:
    answer = client.get(API + path, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/xml")
    return ET.fromstring(answer.content)


def first_client(catalogue: Catalogue) -> tuple[int, str]:
    """A client with subclients, and its name."""
    row = catalogue.scalar(
        "SELECT min(b.client_id) FROM subclients s JOIN backupsets b ON b.id = s.backupset_id"
    )
    return int(row), str(catalogue.scalar("SELECT name FROM clients WHERE id = ?", (row,)))


# -- clients --------------------------------------------------------------------------


@pytest.mark.postgres_too
def test_client_list_has_what_cvpysdk_and_powershell_read(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    body = get(client, "Client", auth_json)
    items = body["clientProperties"]
    assert len(items) == catalogue.scalar("SELECT count(*) FROM clients")
    for item in items:
        entity = item["client"]["clientEntity"]
        assert type(entity["clientId"]) is int
        for key in ("clientName", "hostName", "displayName", "clientGUID"):
            assert type(entity[key]) is str and entity[key]
        assert type(entity["_type_"]) is int
        assert type(item["client"]["cvdPort"]) is int
        assert type(item["client"]["displayName"]) is str
        for group in item["clientGroups"]:
            assert type(group["clientGroupId"]) is int and type(group["clientGroupName"]) is str
    # hidden clients: the same list (the catalogue hides none); names match in any casing
    assert get(client, "Client?hiddenClients=true", auth_json) == body
    assert get(client, "Client?PseudoClientType=VSPseudo", auth_json) == {"VSPseudoClientsList": []}
    assert get(client, "VSAClientAndClientGroupList", auth_json) == {"clients": []}


def test_client_list_in_xml(client: TestClient, auth_xml: dict[str, str]) -> None:
    root = get_xml(client, "Client", auth_xml)
    assert root.tag == "App_GetClientPropertiesResponse"
    entities = list(root.iter("clientEntity"))  # the Jobs-to-SQL exporter's iter()
    assert entities and all(int(e.get("clientId", "")) > 0 for e in entities)
    first = root.find("clientProperties/client")
    assert first is not None and first.get("cvdPort") == "8400"


def test_client_detail_has_what_cvpysdk_requires(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    client_id, name = first_client(catalogue)
    props = get(client, f"Client/{client_id}", auth_json)["clientProperties"][0]
    c = props["client"]
    assert c["clientEntity"]["clientId"] == client_id and c["clientEntity"]["clientName"] == name
    for key in ("Type", "SubType"):
        assert type(c["osInfo"][key]) is str
    for key in ("ProcessorType", "OSName"):
        assert type(c["osInfo"]["OsDisplayInfo"][key]) is str
    assert type(c["cvdPort"]) is int
    assert type(c["clientEntity"]["hostName"]) is str
    assert type(c["TimeZone"]["TimeZoneName"]) is str
    assert re.fullmatch(r"ServicePack:\d+", c["versionInfo"]["version"])
    assert type(c["versionInfo"]["GalaxyRelease"]["ReleaseString"]) is str
    activity = props["clientProps"]["activityControl"]
    for key in ("EnableDataRecovery", "EnableDataManagement", "EnableOnlineContentIndex"):
        assert type(activity[key]) is bool
    options = props["clientProps"]["clientActivityControl"]["activityControlOptions"]
    assert {o["activityType"] for o in options} == {1, 2, 16}
    assert all(type(o["enableActivityType"]) is bool for o in options)
    assert type(props["clientProps"]["EnableSnapBackups"]) is bool
    # by name, as the PHP library asks (quotes and parentheses as is), in any casing
    by_name = get(client, f"Client/byName(clientName='{name.upper()}')", auth_json)
    assert by_name["clientProperties"][0] == props


def test_client_detail_in_xml(
    client: TestClient, catalogue: Catalogue, auth_xml: dict[str, str]
) -> None:
    client_id, name = first_client(catalogue)
    root = get_xml(client, f"Client/{client_id}", auth_xml)
    entity = root.find("clientProperties/client/clientEntity")
    assert entity is not None and entity.get("clientId") == str(client_id)
    assert entity.get("hostName") == name
    version = root.find("clientProperties/client/versionInfo")
    assert version is not None and version.get("version", "").startswith("ServicePack:")
    assert root.find("clientProperties/client/versionInfo/GalaxyRelease") is not None
    group = root.find("clientProperties/clientGroups")
    assert group is not None and group.get("clientGroupId")


@pytest.mark.parametrize("path", [f"Client/{ABSENT}", "Client/byName(clientName='nobody')"])
def test_an_absent_client_is_the_generic_error(
    client: TestClient, auth_json: dict[str, str], path: str
) -> None:
    body = get(client, path, auth_json)
    assert "clientProperties" not in body
    assert body["errorCode"] == 2 and body["errorMessage"]


# -- GetId ----------------------------------------------------------------------------


def test_get_id_answers_the_ids_of_the_named_entities(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    client_id, name = first_client(catalogue)
    sub = get(client, f"Subclient?clientId={client_id}", auth_json)["subClientProperties"][0]
    entity = sub["subClientEntity"]
    assert get(client, f"GetId?clientName={name}", auth_json) == {
        "clientId": client_id,
        "clientName": name,
    }
    # cvpysdk's spelling (lower-case clientname, %20) and the PowerShell SDK's (+)
    query = (
        f"clientname={name.upper()}&agent={entity['appName'].replace(' ', '%20')}"
        f"&backupset={entity['backupsetName']}&subclient={entity['subclientName']}"
        f"&instanceName={entity['instanceName']}"
    )
    found = get(client, "GetId?" + query, auth_json)
    assert found["clientId"] == client_id
    assert found["applicationId"] == entity["applicationId"]
    assert found["instanceId"] == entity["instanceId"]
    assert found["backupsetId"] == entity["backupsetId"]
    assert found["subclientId"] == entity["subclientId"]
    for key in ("appName", "instanceName", "backupsetName", "subclientName"):
        assert found[key] == entity[key]
    plus = get(
        client, f"GetId?clientName={name}&agent={entity['appName'].replace(' ', '+')}", auth_json
    )
    assert plus["applicationId"] == entity["applicationId"]


def test_get_id_of_an_unknown_name_is_minus_32000(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str], auth_xml: dict[str, str]
) -> None:
    assert get(client, "GetId?clientName=no+such+client", auth_json) == {"clientId": -32000}
    root = get_xml(client, "GetId?clientName=nobody", auth_xml)
    assert root.get("clientId") == "-32000"
    _, name = first_client(catalogue)
    found = get(client, f"GetId?clientName={name}&agent=No+Such+Agent", auth_json)
    assert found["applicationId"] == -32000 and found["clientId"] > 0


# -- client groups --------------------------------------------------------------------


@pytest.mark.postgres_too
def test_client_groups(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str], auth_xml: dict[str, str]
) -> None:
    groups = get(client, "ClientGroup", auth_json)["groups"]
    assert len(groups) == catalogue.scalar("SELECT count(*) FROM client_groups")
    for group in groups:
        assert type(group["Id"]) is int and group["id"] == group["Id"]
        assert type(group["name"]) is str
        assert group["clientGroup"]["clientGroupName"] == group["name"]
    group_id = groups[0]["Id"]
    detail = get(client, f"ClientGroup/{group_id}", auth_json)["clientGroupDetail"]
    assert detail["clientGroup"] == {
        "clientGroupId": group_id,
        "clientGroupName": groups[0]["name"],
    }
    assert detail["isSmartClientGroup"] is False and detail["description"] == ""
    members = catalogue.scalar(
        "SELECT count(*) FROM client_group_members WHERE group_id = ?", (group_id,)
    )
    assert len(detail["associatedClients"]) == members
    for member in detail["associatedClients"]:
        assert type(member["clientId"]) is int
        assert type(member["clientName"]) is str and type(member["hostName"]) is str
    # XML as the PHP library and a Zabbix discovery read it
    listed = get_xml(client, "ClientGroup", auth_xml)
    assert [g.get("Id") for g in listed.findall("groups")] == [str(g["Id"]) for g in groups]
    root = get_xml(client, f"ClientGroup/{group_id}", auth_xml)
    assert root.tag == "App_PerformClientGroupResp"
    found = root.findall("clientGroupDetail/associatedClients")
    assert len(found) == members and all(m.get("hostName") and m.get("clientId") for m in found)


def test_groups_is_present_when_there_are_none(client: TestClient, catalogue: Catalogue) -> None:
    # An account whose scope holds no client and no group sees no group.
    token = account_token(catalogue, "nobody", VIEWER, Scope(False, frozenset({ABSENT})))
    headers = {"Authtoken": token, "Accept": "application/json"}
    assert get(client, "ClientGroup", headers) == {"groups": []}
    assert get(client, "Client", headers) == {"clientProperties": []}


def test_an_absent_group_is_the_generic_error(
    client: TestClient, auth_json: dict[str, str], auth_xml: dict[str, str]
) -> None:
    body = get(client, f"ClientGroup/{ABSENT}", auth_json)
    assert body["errorCode"] == 2 and "clientGroupDetail" not in body
    root = get_xml(client, f"ClientGroup/{ABSENT}", auth_xml)
    assert root.get("errorCode") == "2" and root.get("errorMessage")  # what the PHP library tests


# -- subclients, backup sets, instances -----------------------------------------------


@pytest.mark.postgres_too
def test_subclients_backupsets_instances(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    client_id, name = first_client(catalogue)
    subs = get(client, f"Subclient?clientId={client_id}&propertyLevel=AllProperties", auth_json)[
        "subClientProperties"
    ]
    expected = catalogue.scalar(
        "SELECT count(*) FROM subclients s JOIN backupsets b ON b.id = s.backupset_id"
        " WHERE b.client_id = ?",
        (client_id,),
    )
    assert len(subs) == expected > 0
    for sub in subs:
        e = sub["subClientEntity"]
        assert e["clientId"] == client_id and e["clientName"] == name
        for key in ("subclientId", "applicationId", "backupsetId", "instanceId", "_type_"):
            assert type(e[key]) is int
        for key in ("subclientName", "appName", "backupsetName", "instanceName", "subclientGUID"):
            assert type(e[key]) is str
        assert type(sub["commonProperties"]["isDefaultSubclient"]) is bool
    one = subs[0]["subClientEntity"]
    # cvpysdk's filters: applicationId with backupsetId or instanceId
    narrowed = get(
        client,
        f"Subclient?clientId={client_id}&applicationId={one['applicationId']}"
        f"&backupsetId={one['backupsetId']}&propertyLevel=20",
        auth_json,
    )["subClientProperties"]
    assert narrowed and all(
        s["subClientEntity"]["backupsetId"] == one["backupsetId"] for s in narrowed
    )
    assert get(client, f"Subclient?clientId={client_id}&applicationId={ABSENT}", auth_json) == {
        "subClientProperties": []
    }
    sets = get(client, f"Backupset?clientId={client_id}&propertyLevel=10", auth_json)
    for item in sets["backupsetProperties"]:
        e = item["backupSetEntity"]
        assert type(e["backupsetId"]) is int and type(e["backupsetName"]) is str
        assert type(e["appName"]) is str and type(e["instanceName"]) is str
        assert type(item["commonBackupSet"]["isDefaultBackupSet"]) is bool
    assert one["backupsetId"] in {
        i["backupSetEntity"]["backupsetId"] for i in sets["backupsetProperties"]
    }
    instances = get(client, f"Instance?clientId={client_id}", auth_json)["instanceProperties"]
    assert instances
    for item in instances:
        i = item["instance"]
        assert type(i["instanceId"]) is int
        assert type(i["instanceName"]) is str and type(i["appName"]) is str


def test_agents_and_one_backupset_and_subclient(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str], auth_xml: dict[str, str]
) -> None:
    client_id, name = first_client(catalogue)
    agents = get(client, f"Agent?clientId={client_id}", auth_json)["agentProperties"]
    apps = catalogue.sql(
        "SELECT DISTINCT app_id FROM backupsets WHERE client_id = ? AND app_id IS NOT NULL",
        (client_id,),
    )
    assert sorted(a["idaEntity"]["applicationId"] for a in agents) == sorted(r[0] for r in apps)
    for agent in agents:
        assert type(agent["idaEntity"]["appName"]) is str
        assert agent["idaEntity"]["clientName"] == name
        options = agent["idaActivityControl"]["activityControlOptions"]
        assert all(type(o["enableActivityType"]) is bool for o in options)
    app_id = agents[0]["idaEntity"]["applicationId"]
    one = get(
        client, f"Agent?clientId={client_id}&applicationId={app_id}&propertyLevel=30", auth_json
    )
    assert [a["idaEntity"]["applicationId"] for a in one["agentProperties"]] == [app_id]

    sub = get(client, f"Subclient?clientId={client_id}", auth_json)["subClientProperties"][0]
    entity = sub["subClientEntity"]
    detail = get(client, f"Subclient/{entity['subclientId']}", auth_json)
    (item,) = detail["subClientProperties"]
    assert item["subClientEntity"] == entity
    policy = item["commonProperties"]["storageDevice"]["dataBackupStoragePolicy"]
    assert type(policy["storagePolicyId"]) is int and type(policy["storagePolicyName"]) is str
    newest = catalogue.sql(
        "SELECT storage_policy_id FROM jobs WHERE subclient_id = ?"
        " AND storage_policy_id IS NOT NULL ORDER BY id DESC LIMIT 1",
        (entity["subclientId"],),
    )
    assert policy["storagePolicyId"] == (newest[0][0] if newest else 0)

    backupset = get(client, f"Backupset/{entity['backupsetId']}", auth_json)
    (props,) = backupset["backupsetProperties"]
    assert props["backupSetEntity"]["backupsetName"] == entity["backupsetName"]
    assert type(props["commonBackupSet"]["isDefaultBackupSet"]) is bool
    assert props["planEntity"] == {}
    root = get_xml(client, f"Subclient/{entity['subclientId']}", auth_xml)
    assert root.find("subClientProperties/commonProperties/storageDevice") is not None
    assert get(client, "Schedules?clientId=1&apptypeId=33", auth_json) == {"taskDetail": []}
    for path in (f"Subclient/{ABSENT}", f"Backupset/{ABSENT}"):
        assert get(client, path, auth_json)["errorCode"] == 2


def test_subclients_in_xml_as_zabbix_reads_them(
    client: TestClient, catalogue: Catalogue, auth_xml: dict[str, str]
) -> None:
    client_id, _ = first_client(catalogue)
    # the discovery's base URL ends in a slash: ROOT//Subclient
    root = get_xml(client, f"/Subclient?clientId={client_id}", auth_xml)
    assert root.tag == "App_GetSubClientPropertiesResponse"
    found = [e for e in root.findall("subClientProperties/*") if e.tag == "subClientEntity"]
    assert found and all(e.get("appName") and e.get("subclientName") for e in found)
    sets = get_xml(client, f"Backupset?clientId={client_id}", auth_xml)
    assert sets.find("backupsetProperties/backupSetEntity") is not None
    instances = get_xml(client, f"Instance?clientId={client_id}", auth_xml)
    assert instances.find("instanceProperties/instance") is not None


def test_an_unknown_client_has_no_subclients(client: TestClient, auth_json: dict[str, str]) -> None:
    assert get(client, f"Subclient?clientId={ABSENT}", auth_json) == {"subClientProperties": []}
    assert get(client, f"Backupset?clientId={ABSENT}", auth_json) == {"backupsetProperties": []}
    assert get(client, f"Instance?clientId={ABSENT}", auth_json) == {"instanceProperties": []}


# -- storage policies -----------------------------------------------------------------


@pytest.mark.postgres_too
def test_storage_policies(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str], auth_xml: dict[str, str]
) -> None:
    flat = get(client, "StoragePolicy?getAll=TRUE", auth_json)["policies"]
    assert len(flat) == catalogue.scalar("SELECT count(*) FROM storage_policies") > 0
    for p in flat:
        assert type(p["storagePolicyName"]) is str and type(p["storagePolicyId"]) is int
    nested = get(client, "V2/StoragePolicy", auth_json)["policies"]
    assert [p["storagePolicy"] for p in nested] == flat
    policy_id = flat[0]["storagePolicyId"]
    detail = get(client, f"StoragePolicy/{policy_id}", auth_json)
    assert detail["storagePolicy"] == flat[0]
    copies = catalogue.scalar(
        "SELECT count(*) FROM storage_policy_copies WHERE policy_id = ?", (policy_id,)
    )
    assert len(detail["copy"]) == copies
    for c in detail["copy"]:
        assert type(c["StoragePolicyCopy"]["copyId"]) is int
        assert type(c["StoragePolicyCopy"]["copyName"]) is str
        assert type(c["retentionRules"]["retainBackupDataForDays"]) is int
    root = get_xml(client, "StoragePolicy", auth_xml)
    assert [p.get("storagePolicyId") for p in root.findall("policies")] == [
        str(p["storagePolicyId"]) for p in flat
    ]
    assert get(client, f"StoragePolicy/{ABSENT}", auth_json)["errorCode"] == 2


def test_storage_policies_are_not_scoped(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    tenant = Tenant(catalogue, VIEWER)
    assert get(client, "StoragePolicy", tenant.json) == get(client, "StoragePolicy", auth_json)


# -- scopes ---------------------------------------------------------------------------


@pytest.fixture(params=[OPERATOR, VIEWER])
def tenant(catalogue: Catalogue, request: pytest.FixtureRequest) -> Tenant:
    return Tenant(catalogue, request.param)


def other_client(catalogue: Catalogue, tenant: Tenant) -> int:
    """A client with subclients that the tenant does not see (in no group with it)."""
    return int(
        catalogue.scalar(
            "SELECT min(b.client_id) FROM subclients s JOIN backupsets b ON b.id = s.backupset_id"
            f" WHERE b.client_id <> {tenant.client_id}"
        )
    )


def same(client: TestClient, headers: dict[str, str], path: str, hidden: int) -> None:
    """The answers for a hidden and an absent id are the same but for the id (which
    only an error message names)."""
    a = client.get(API + path.format(hidden), headers=headers)
    b = client.get(API + path.format(ABSENT), headers=headers)
    assert a.status_code == b.status_code
    assert a.text.replace(f"ID {hidden}", "ID N") == b.text.replace(f"ID {ABSENT}", "ID N")


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    "path",
    [
        "Client/{}",
        "Subclient?clientId={}",
        "Backupset?clientId={}",
        "Instance?clientId={}",
        "Agent?clientId={}",
    ],
)
def test_an_out_of_scope_client_looks_absent(
    client: TestClient,
    catalogue: Catalogue,
    tenant: Tenant,
    auth_json: dict[str, str],
    path: str,
    fmt: str,
) -> None:
    hidden = other_client(catalogue, tenant)
    seen = client.get(API + path.format(hidden), headers=auth_json).text
    assert seen != client.get(API + path.format(ABSENT), headers=auth_json).text.replace(
        str(ABSENT), str(hidden)
    )  # the admin does see it
    same(client, getattr(tenant, fmt), path, hidden)


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(("path", "table"), [("Subclient/{}", "s"), ("Backupset/{}", "b")])
def test_an_out_of_scope_subclient_or_backupset_looks_absent(
    client: TestClient, catalogue: Catalogue, tenant: Tenant, fmt: str, path: str, table: str
) -> None:
    hidden = catalogue.scalar(
        f"SELECT max({table}.id) FROM subclients s JOIN backupsets b ON b.id = s.backupset_id"
        f" WHERE b.client_id <> {tenant.client_id}"
    )
    same(client, getattr(tenant, fmt), path, int(hidden))


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_out_of_scope_client_by_name_looks_absent(
    client: TestClient, catalogue: Catalogue, tenant: Tenant, fmt: str
) -> None:
    hidden = other_client(catalogue, tenant)
    name = catalogue.scalar("SELECT name FROM clients WHERE id = ?", (hidden,))
    headers = getattr(tenant, fmt)
    for path in ("GetId?clientName={}", "Client/byName(clientName='{}')"):
        a = client.get(API + path.format(name), headers=headers)
        b = client.get(API + path.format("nobody"), headers=headers)
        assert a.status_code == b.status_code
        assert a.text.replace(name, "N") == b.text.replace("nobody", "N")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_out_of_scope_group_looks_absent(
    client: TestClient, catalogue: Catalogue, tenant: Tenant, fmt: str
) -> None:
    hidden = catalogue.scalar(
        "SELECT min(id) FROM client_groups WHERE id NOT IN"
        f" (SELECT group_id FROM client_group_members WHERE client_id = {tenant.client_id})"
    )
    same(client, getattr(tenant, fmt), "ClientGroup/{}", int(hidden))


@pytest.mark.postgres_too
def test_lists_leave_out_of_scope_clients_out(
    client: TestClient, catalogue: Catalogue, tenant: Tenant
) -> None:
    listed = get(client, "Client", tenant.json)["clientProperties"]
    assert [c["client"]["clientEntity"]["clientId"] for c in listed] == [tenant.client_id]
    mine = {
        int(r[0])
        for r in catalogue.sql(
            f"SELECT group_id FROM client_group_members WHERE client_id = {tenant.client_id}"
        )
    }
    groups = get(client, "ClientGroup", tenant.json)["groups"]
    assert groups
    for group in groups:
        detail = get(client, f"ClientGroup/{group['Id']}", tenant.json)["clientGroupDetail"]
        assert [m["clientId"] for m in detail["associatedClients"]] == [tenant.client_id]
    assert {g["Id"] for g in groups} == mine


@pytest.mark.postgres_too
def test_a_group_in_the_scope_shows_all_its_members(
    client: TestClient, catalogue: Catalogue
) -> None:
    group_id = int(catalogue.scalar("SELECT min(group_id) FROM client_group_members"))
    token = account_token(
        catalogue, "group-viewer", VIEWER, Scope(False, groups=frozenset({group_id}))
    )
    headers = {"Authtoken": token, "Accept": "application/json"}
    members = catalogue.scalar(
        "SELECT count(*) FROM client_group_members WHERE group_id = ?", (group_id,)
    )
    detail = get(client, f"ClientGroup/{group_id}", headers)["clientGroupDetail"]
    assert len(detail["associatedClients"]) == members
    assert len(get(client, "Client", headers)["clientProperties"]) == members


def test_an_out_of_scope_client_takes_the_path_of_an_absent_one(
    client: TestClient, catalogue: Catalogue, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same store reads for a hidden client as for an absent one, so timing tells
    them apart no more than the bodies do."""
    assert isinstance(client.app, Starlette)
    store = client.app.state.services.clients._store
    reads: list[str] = []
    names = ("clients", "client_groups", "backupsets_of", "subclients_of", "backupset", "subclient")
    for name in names:
        real = getattr(store, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            reads.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(store, name, counted)
    hidden = other_client(catalogue, tenant)
    for path in (
        "Client/{}",
        "Subclient?clientId={}",
        "Backupset?clientId={}",
        "Agent?clientId={}",
    ):
        reads.clear()
        client.get(API + path.format(hidden), headers=tenant.json)
        seen = list(reads)
        reads.clear()
        client.get(API + path.format(ABSENT), headers=tenant.json)
        assert seen == reads, path
    (row,) = catalogue.sql(
        "SELECT s.id, b.id FROM subclients s JOIN backupsets b ON b.id = s.backupset_id"
        f" WHERE b.client_id = {hidden} ORDER BY s.id LIMIT 1"
    )
    for path, entity in (("Subclient/{}", row[0]), ("Backupset/{}", row[1])):
        reads.clear()
        client.get(API + path.format(entity), headers=tenant.json)
        seen = list(reads)
        reads.clear()
        client.get(API + path.format(ABSENT), headers=tenant.json)
        assert seen == reads == [path.split("/")[0].lower(), "clients"], path


# -- hostile input --------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "Client/abc",
        "Client/0",
        "Client/-1",
        "Client/99999999999999999999999999",
        "Client/1.5",
        "Client/byName(clientName='" + "x" * 2000 + "')",
        "Client/byName(clientName='a%00b')",
        "Client?PseudoClientType=Other",
        "Client?hiddenclients=maybe",
        "ClientGroup/x",
        "ClientGroup/0",
        "ClientGroup/18446744073709551616",
        "Subclient",
        "Subclient?clientId=",
        "Subclient?clientId=abc",
        "Subclient?clientId=1&clientId=2",
        "Subclient?clientId=1&applicationId=-3",
        "Subclient?clientId=1&backupsetId=9e9",
        "Backupset?clientId=0",
        "Instance?clientId=x",
        "Agent",
        "Agent?clientId=1&applicationId=x",
        "Subclient/0",
        "Subclient/abc",
        "Backupset/-4",
        "GetId",
        "GetId?agent=File+System",
        "GetId?clientName=a%00b",
        "GetId?clientName=a&clientname=b",
        "StoragePolicy/0",
        "StoragePolicy/abc",
        "StoragePolicy/99999999999999999999",
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_hostile_input_is_a_400_in_the_clients_format(
    client: TestClient, auth_json: dict[str, str], auth_xml: dict[str, str], path: str, fmt: str
) -> None:
    answer = client.get(API + path, headers=auth_json if fmt == "json" else auth_xml)
    assert answer.status_code == 400, answer.text
    if fmt == "json":
        assert answer.json()["errorCode"] == 1
    else:
        assert ET.fromstring(answer.content).get("errorCode") == "1"


def test_unknown_parameters_are_ignored(client: TestClient, auth_json: dict[str, str]) -> None:
    """As the vendor does: cvpysdk sends propertyLevel, excludeHidden, getAll along."""
    assert get(client, "Client?whatever=1&x=%00", auth_json)["clientProperties"]
    assert get(client, "StoragePolicy?getAll=TRUE&junk=1", auth_json)["policies"]


def test_entity_routes_need_a_token(client: TestClient) -> None:
    for path in (
        "Client",
        "ClientGroup",
        "Subclient?clientId=1",
        "StoragePolicy",
        "GetId?clientName=a",
    ):
        assert client.get(API + path, headers={"Accept": "application/json"}).status_code == 401


# -- ingest -----------------------------------------------------------------------------


@pytest.mark.postgres_too
def test_an_ingested_job_with_new_entities_makes_them_appear(
    client: TestClient, auth_json: dict[str, str]
) -> None:
    record = {
        "jobId": 900001,
        "status": "Running",
        "jobType": "Backup",
        "backupLevel": 1,
        "jobStartTime": 1764000000,
        "lastUpdateTime": 1764000000,
        "subclient": {
            "clientId": 4242,
            "clientName": "brand-new",
            "applicationId": 33,
            "appName": "File System",
            "instanceId": 1,
            "instanceName": "DefaultInstanceName",
            "backupsetId": 4343,
            "backupsetName": "defaultBackupSet",
            "subclientId": 4444,
            "subclientName": "fresh",
        },
        "clientGroups": [{"clientGroupId": 4545, "clientGroupName": "New Group"}],
    }
    assert "brand-new" not in client.get(API + "Client", headers=auth_json).text
    answer = client.post(V1 + "jobs", json=record, headers=auth_json)
    assert answer.status_code == 200, answer.text
    listed = get(client, "Client", auth_json)["clientProperties"]
    assert "brand-new" in {c["client"]["clientEntity"]["clientName"] for c in listed}
    detail = get(client, "Client/4242", auth_json)["clientProperties"][0]
    assert detail["clientGroups"] == [{"clientGroupId": 4545, "clientGroupName": "New Group"}]
    subs = get(client, "Subclient?clientId=4242", auth_json)["subClientProperties"]
    assert [s["subClientEntity"]["subclientName"] for s in subs] == ["fresh"]
    assert (
        get(client, "GetId?clientName=brand-new&subclient=fresh", auth_json)["subclientId"] == 4444
    )
    group = get(client, "ClientGroup/4545", auth_json)["clientGroupDetail"]
    assert [m["clientName"] for m in group["associatedClients"]] == ["brand-new"]
    backupsets = get(client, "Backupset?clientId=4242", auth_json)["backupsetProperties"]
    assert [b["backupSetEntity"]["backupsetId"] for b in backupsets] == [4343]


def test_get_id_decodes_plus_as_space(client: TestClient, auth_json: dict[str, str]) -> None:
    """The PowerShell SDK's UrlEncode spells a space `+`; cvpysdk sends `%20`."""
    record = {
        "jobId": 900002,
        "status": "Completed",
        "jobType": "Backup",
        "jobStartTime": 1764000000,
        "jobEndTime": 1764000100,
        "lastUpdateTime": 1764000100,
        "subclient": {
            "clientId": 4646,
            "clientName": "web server 01",
            "applicationId": 33,
            "appName": "File System",
            "backupsetId": 4747,
            "backupsetName": "defaultBackupSet",
            "subclientId": 4848,
            "subclientName": "my data",
        },
    }
    assert client.post(V1 + "jobs", json=record, headers=auth_json).status_code == 200
    for spelled in ("web+server+01", "web%20server%2001", "WEB+Server+01"):
        found = get(client, f"GetId?clientName={spelled}&subclient=my+data", auth_json)
        assert found == {
            "clientId": 4646,
            "clientName": "web server 01",
            "subclientId": 4848,
            "subclientName": "my data",
        }
