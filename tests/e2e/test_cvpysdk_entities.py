"""cvpysdk's entity objects (issue 10) against a real cvjobs process: commcell.clients,
client groups and storage policies, built from GET Client, ClientGroup and
StoragePolicy."""

from __future__ import annotations

import sqlite3

import pytest
from cvpysdk.commcell import Commcell

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


def rows(server: Server, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{server.db}?mode=ro", uri=True) as db:
        return db.execute(query).fetchall()


@pytest.fixture(scope="module")
def commcell(server: Server) -> Commcell:
    return Commcell(server.address, "admin", server.password)


def test_all_clients(commcell: Commcell, server: Server) -> None:
    stored = {str(name).lower(): str(i) for i, name in rows(server, "SELECT id, name FROM clients")}
    clients = commcell.clients.all_clients
    assert {name: c["id"] for name, c in clients.items()} == stored
    assert all(c["hostname"] and c["displayName"] for c in clients.values())


def test_get_a_client(commcell: Commcell, server: Server) -> None:
    client = commcell.clients.get("WINTER")
    assert client.client_id == str(
        rows(server, "SELECT id FROM clients WHERE name = 'WINTER'")[0][0]
    )
    assert client.client_hostname == "WINTER"
    assert client.timezone
    assert client.is_backup_enabled is True
    assert client.service_pack


def test_client_groups(commcell: Commcell, server: Server) -> None:
    stored = {str(n).lower(): str(i) for i, n in rows(server, "SELECT id, name FROM client_groups")}
    groups = commcell.client_groups.all_clientgroups
    assert groups == stored
    name = next(iter(stored))
    group = commcell.client_groups.get(name)
    members = rows(
        server,
        "SELECT c.name FROM clients c JOIN client_group_members m ON m.client_id = c.id"
        f" WHERE m.group_id = {stored[name]}",
    )
    assert sorted(group.associated_clients) == sorted(str(m[0]) for m in members)


def test_storage_policies(commcell: Commcell, server: Server) -> None:
    stored = {
        str(n).lower(): str(i) for i, n in rows(server, "SELECT id, name FROM storage_policies")
    }
    assert commcell.storage_policies.all_storage_policies == stored


def test_client_agent_backupset_subclient(commcell: Commcell, server: Server) -> None:
    """cvpysdk walks a client down to a subclient with Agent?clientId=, Backupset?clientId=,
    Backupset/{id}, Subclient?clientId= and Subclient/{id}."""
    client = commcell.clients.get("WINTER")
    assert "file system" in client.agents.all_agents
    agent = client.agents.get("file system")
    assert agent.agent_id == "33"
    backupset = agent.backupsets.get("defaultbackupset")
    assert backupset.is_default_backupset
    subclients = backupset.subclients.all_subclients
    (stored,) = rows(
        server,
        "SELECT s.id FROM subclients s JOIN backupsets b ON b.id = s.backupset_id"
        " JOIN clients c ON c.id = b.client_id WHERE c.name = 'WINTER' AND s.name = 'default'",
    )
    assert subclients["default"]["id"] == str(stored[0])
    subclient = backupset.subclients.get("default")
    assert subclient.subclient_id == str(stored[0])
