"""pinkopy (PyPI), driven for real: its session logs in (JSON, mode 4), lists a client's
jobs, reads job details with {"JobManager_JobDetailRequest": {"@jobId": "N"}} and the VMs
of a Virtual Server backup, lists clients and subclients, and logs out. It treats any
answer but HTTP 200 as an error."""

from __future__ import annotations

import json

import pytest
import requests
from pinkopy import CommvaultSession
from pinkopy.exceptions import PinkopyError

from tests.compat.conftest import PASSWORD, Wire, busiest_client, json_login
from tests.e2e.conftest import Server

ROOT = "/SearchSvc/CVWebService.svc/"


@pytest.fixture
def session(compat_server: Server) -> CommvaultSession:
    # Keywords: pinkopy passes its positional arguments on to its sub-sessions one place off.
    return CommvaultSession(
        service=compat_server.url + ROOT, user="admin", pw=PASSWORD, use_cache=False
    )


def test_jobs_of_a_client_sorted_by_subclient(session: CommvaultSession, wire: Wire) -> None:
    client_id = str(busiest_client(wire, json_login(wire)))
    jobs = session.get_jobs(client_id)
    assert jobs
    names = [job["jobSummary"]["subclient"]["subclientName"] for job in jobs]
    assert names == sorted(names)
    last = session.get_jobs(client_id, job_filter="Backup", last=3)
    assert len(last) == 3 and all(j["jobSummary"]["jobType"] == "Backup" for j in last)


def test_job_details_in_the_wrapped_json_form(session: CommvaultSession, wire: Wire) -> None:
    details = session.get_job_details("4")
    assert {"generalInfo", "detailInfo", "progressInfo"} <= set(details)
    # The JSON form itself is answered (pinkopy would fall back to XML and hide it).
    token = json_login(wire, ROOT)
    body = json.dumps({"JobManager_JobDetailRequest": {"@jobId": "4"}}).encode()
    headers = {"Authtoken": token, "Accept": "application/json", "Content-type": "application/json"}
    answer = wire.send("POST", ROOT + "JobDetails", headers, body)
    assert answer.status == 200 and answer.json()["job"]["jobDetail"]["generalInfo"]


def test_the_vms_of_a_virtual_server_backup(session: CommvaultSession, wire: Wire) -> None:
    token = json_login(wire, ROOT)
    listed = wire.send(
        "GET",
        ROOT + "Job?jobFilter=Backup&completedJobLookupTime=31536000000&limit=10000",
        {"Authtoken": token, "Accept": "application/json"},
    ).json()
    vsa = [
        j["jobSummary"]["jobId"]
        for j in listed["jobs"]
        if j["jobSummary"]["appTypeName"] == "Virtual Server"
    ]
    assert vsa, "the demo has Virtual Server backups"
    vms = session.get_job_vmstatus(session.get_job_details(str(vsa[0])))
    assert vms and all(isinstance(vm["vmName"], str) for vm in vms)


def test_logout(session: CommvaultSession) -> None:
    assert session.logout() is None


def test_clients_and_their_subclients(session: CommvaultSession) -> None:
    clients = session.get_clients()
    assert clients
    first = clients[0]["client"]["clientEntity"]
    found = session.get_client(str(first["clientId"]))
    assert found["client"]["clientEntity"]["clientName"] == first["clientName"]
    properties = session.get_client_properties(str(first["clientId"]))
    assert properties
    with_subclients = next(
        c for c in clients if session_subclients(session, c["client"]["clientEntity"]["clientId"])
    )
    assert with_subclients


def session_subclients(session: CommvaultSession, client_id: int) -> list[object]:
    try:
        found: list[object] = session.get_subclients(str(client_id))
    except (PinkopyError, requests.HTTPError):  # its own "404" for a client without any
        return []
    return found
