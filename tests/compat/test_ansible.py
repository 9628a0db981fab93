"""The legacy Ansible module (Commvault/ansible, library/commvault.py), step for step: it
has no HTTP of its own but drives cvpysdk, so each task here makes exactly the cvpysdk
calls the module makes. A task logs in (by password, or with the token the login task
registered), builds its objects in `create_object` (commcell.clients, client_groups and
job_controller first, then client -> agent -> instances/backupsets -> subclient, the job,
the client group), then reads an attribute or calls a method and returns it."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from cvpysdk.commcell import Commcell
from cvpysdk.job import Job

from tests.compat.conftest import PASSWORD
from tests.e2e.conftest import Server


def login(entity: dict[str, str]) -> Commcell:
    """The module's login(): a token if the task has one, else the password."""
    if entity.get("authtoken"):
        return Commcell(entity["webconsole_hostname"], authtoken=entity["authtoken"])
    return Commcell(
        webconsole_hostname=entity["webconsole_hostname"],
        commcell_username=entity["commcell_username"],
        commcell_password=entity["commcell_password"],
    )


def create_object(commcell: Commcell, entity: dict[str, str]) -> dict[str, Any]:
    """The module's create_object(), with its globals as a dict."""
    made: dict[str, Any] = {
        "commcell": commcell,
        "clients": commcell.clients,
        "clientgroups": commcell.client_groups,
        "jobs": commcell.job_controller,
    }
    if "client" in entity:
        made["client"] = made["clients"].get(entity["client"])
        made["agents"] = made["client"].agents
        if "agent" in entity:
            made["agent"] = made["agents"].get(entity["agent"])
            made["instances"] = made["agent"].instances
            made["backupsets"] = made["agent"].backupsets
            if "instance" in entity:
                made["instance"] = made["instances"].get(entity["instance"])
            if "backupset" in entity:
                made["backupset"] = made["backupsets"].get(entity["backupset"])
                made["subclients"] = made["backupset"].subclients
                if "subclient" in entity:
                    made["subclient"] = made["subclients"].get(entity["subclient"])
    if "job_id" in entity:
        made["job"] = made["jobs"].get(entity["job_id"])
    if "clientgroup" in entity:
        made["clientgroup"] = made["clientgroups"].get(entity["clientgroup"])
    return made


def task(
    registered: dict[str, str], entity: dict[str, str], entity_type: str, operation: str
) -> Any:
    """One task of a playbook: its output as the module returns it."""
    made = create_object(login(registered), entity)
    target = made.get(entity_type)
    if target is None or not hasattr(target, operation):
        target = made[entity_type + "s"]
    attribute = getattr(target, operation)
    output = attribute() if callable(attribute) else attribute
    if isinstance(output, Job):
        return output.job_id
    return output if type(output).__module__ == "builtins" else str(output)


@pytest.fixture(scope="module")
def registered(compat_server: Server) -> dict[str, str]:
    """What the playbook's Login task registers."""
    commcell = login(
        {
            "webconsole_hostname": compat_server.address,
            "commcell_username": "admin",
            "commcell_password": PASSWORD,
        }
    )
    return {"authtoken": commcell.auth_token, "webconsole_hostname": commcell.webconsole_hostname}


def test_login_registers_a_token_that_later_tasks_use(registered: dict[str, str]) -> None:
    assert registered["authtoken"].startswith("QSDK ")
    assert task(registered, {}, "commcell", "commserv_name")


def test_a_finished_jobs_wait_for_completion_and_status(
    registered: dict[str, str], compat_server: Server
) -> None:
    entity = {"job_id": "4"}
    assert task(registered, entity, "job", "wait_for_completion") is True
    assert task(registered, entity, "job", "status") == "Completed"
    assert task(registered, entity, "job", "job_type") == "Backup"
    assert task(registered, entity, "job", "client_name") == "WINTER"


def test_the_backup_tasks_entities_down_to_the_subclient(
    registered: dict[str, str], compat_server: Server
) -> None:
    # The README's backup and restore examples name these entities.
    entity = {
        "client": "WINTER",
        "agent": "file system",
        "backupset": "defaultbackupset",
        "subclient": "default",
    }
    made = create_object(login(registered), entity)
    with sqlite3.connect(f"file:{compat_server.db}?mode=ro", uri=True) as db:
        (stored,) = db.execute(
            "SELECT s.id FROM subclients s JOIN backupsets b ON b.id = s.backupset_id"
            " JOIN clients c ON c.id = b.client_id WHERE c.name = 'WINTER' AND s.name = 'default'"
        ).fetchone()
    assert made["subclient"].subclient_id == str(stored)
    assert task(registered, entity, "subclient", "subclient_name") == "default"
    assert task(registered, entity, "backupset", "backupset_name") == "defaultbackupset"


def test_a_client_group_task(registered: dict[str, str]) -> None:
    groups = create_object(login(registered), {})["clientgroups"].all_clientgroups
    name = next(iter(groups))
    assert task(registered, {"clientgroup": name}, "clientgroup", "clientgroup_name") == name
    clients = task(registered, {"clientgroup": name}, "clientgroup", "associated_clients")
    assert isinstance(clients, list) and clients
