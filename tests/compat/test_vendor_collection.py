"""The vendor's own request collection ("Commvault Rest API - Public", Job Operations) and
the official MCP server (Commvault/commvault-mcp-server, src/tools/job_tools.py)."""

from __future__ import annotations

import json
from typing import Any

from tests.compat.conftest import Wire, busiest_client, json_login, running_job

ROOT = "/webconsole/api/"
MCP = "/commandcenter/api/"


def sent(token: str) -> dict[str, str]:
    return {"Accept": "application/json", "Authtoken": token, "Content-Type": "application/json"}


def post(wire: Wire, path: str, token: str, body: object) -> dict[str, Any]:
    answer = wire.send("POST", path, sent(token), json.dumps(body).encode())
    assert answer.status == 200, answer.body
    found: dict[str, Any] = answer.json()
    return found


def test_the_collections_post_jobs_example(wire: Wire) -> None:
    token = json_login(wire)
    client_id = busiest_client(wire, token)
    body = {
        "pagingConfig": {
            "sortDirection": 1,
            "offset": 0,
            "sortField": "jobStartTime",
            "limit": 100,
        },
        "jobFilter": {
            "completedJobLookupTime": 31536000000,
            "showAgedJobs": True,
            "backupLevel": ["FULL"],
            "statusList": [
                "Completed",
                "Completed w/ one or more errors",
                "Completed w/ one or more warnings",
            ],
            "jobTypeList": [4],
            "entity": {"clientId": client_id},
        },
    }
    found = post(wire, ROOT + "Jobs", token, body)
    jobs = [j["jobSummary"] for j in found["jobs"]]
    assert jobs, "the demo's busiest client has Full backups"
    assert {j["subclient"]["clientId"] for j in jobs} == {client_id}
    assert {j["backupLevelName"] for j in jobs} == {"Full"}
    assert {j["jobType"] for j in jobs} == {"Backup"}


def test_anomalous_jobs_and_events(wire: Wire) -> None:
    token = json_login(wire)
    body = {
        "scope": 1,
        "category": 1,
        "jobFilter": {"completedJobLookupTime": 86400, "showAnomalous": True},
    }
    assert post(wire, ROOT + "jobs", token, body) == {"totalRecordsWithoutPaging": 0, "jobs": []}
    events = wire.send(
        "GET",
        ROOT + "Events?showInfo=false&showMinor=false&showMajor=false",
        {**sent(token), "paginginfo": "0,100"},
    )
    assert events.status == 200 and "commservEvents" in events.json()


def test_the_collections_multi_job_operation(wire: Wire) -> None:
    token = json_login(wire)
    first, second = running_job(wire, token), running_job(wire, token)
    body = {
        "operationDescription": "Test Job suspend",
        "message": 1,
        "jobOpReq": {
            "operationType": "JOB_SUSPEND",
            "jobs": [{"isVisible": True, "jobId": first}, {"jobId": second}],
        },
    }
    answer = post(wire, ROOT + "Jobs/MultiJobOperation", token, body)
    assert answer["errorCode"] == 0
    for job_id in (first, second):
        summary = wire.send("GET", ROOT + f"Job/{job_id}", sent(token)).json()["jobs"][0][
            "jobSummary"
        ]
        assert summary["status"] == "Suspended"


def test_the_mcp_servers_job_tools(wire: Wire) -> None:
    token = json_login(wire, MCP)
    job_id = running_job(wire, token)
    suspend = {
        "message": 1,
        "jobOpReq": {"operationType": 0, "jobs": [{"jobId": job_id}]},
        "operationDescription": "",
    }
    post(wire, MCP + "Jobs/MultiJobOperation", token, suspend)
    for path in (f"Job/{job_id}/Action/Resume", f"Job/{job_id}/Action/Kill"):
        answer = wire.send("POST", MCP + path, sent(token), b"{}")
        assert answer.status == 200 and isinstance(answer.json(), dict)
    detail = wire.send("GET", MCP + f"Job/{job_id}", sent(token)).json()
    summary = detail["jobs"][0]["jobSummary"]
    assert summary["status"] == "Killed"
    assert isinstance(summary["destinationClient"], dict) and isinstance(
        summary["storagePolicy"], dict
    )
    listed = wire.send(
        "GET",
        MCP + "Job?jobCategory=All&completedJobLookupTime=86400&limit=50&offset=0",
        sent(token),
    ).json()
    assert isinstance(listed["totalRecordsWithoutPaging"], int) and "jobs" in listed
    failed = post(
        wire,
        MCP + "Jobs",
        token,
        {
            "category": 0,
            "pagingConfig": {"offset": 0, "limit": 50},
            "jobFilter": {
                "completedJobLookupTime": 86400,
                "showAgedJobs": False,
                "statusList": ["Failed"],
            },
        },
    )
    assert "totalRecordsWithoutPaging" in failed
    for path in (f"Job/{job_id}/taskdetails", f"Job/{job_id}/advanceddetails?infoType=1"):
        assert wire.send("GET", MCP + path, sent(token)).status == 200
