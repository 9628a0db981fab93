"""The ingest API under /cvjobs/v1/: upserts one or many, progress updates, events; stale
updates refused with 409; batches all or nothing; administrators only."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from cvjobs import ranges
from tests.catalogues import Catalogue
from tests.conftest import API, VIEWER_PASSWORD, login

pytestmark = pytest.mark.postgres_too

V1 = "/cvjobs/v1/"


def job(job_id: int, **changes: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "jobId": job_id,
        "status": "Running",
        "jobType": "Backup",
        "backupLevel": 1,
        "percentComplete": 10,
        "jobStartTime": 1_764_000_000,
        "lastUpdateTime": 1_764_000_100,
        "subclient": {
            "clientId": 501,
            "clientName": "ingested-client",
            "applicationId": 33,
            "appName": "File System",
            "subclientId": 901,
            "subclientName": "default",
        },
    }
    summary.update(changes)
    return summary


def count(catalogue: Catalogue, table: str = "jobs") -> int:
    return int(catalogue.scalar(f"SELECT count(*) FROM {table}"))


def get_summary(client: TestClient, token: str, job_id: int) -> dict[str, Any]:
    body = client.get(
        API + f"Job/{job_id}", headers={"Authtoken": token, "Accept": "application/json"}
    ).json()
    result: dict[str, Any] = body["jobs"][0]["jobSummary"]
    return result


def test_one_job(client: TestClient, token: str) -> None:
    response = client.post(V1 + "jobs", json=job(700001), headers={"Authtoken": token})
    assert response.status_code == 200
    assert response.json() == {"written": 1, "jobIds": [700001]}
    summary = get_summary(client, token, 700001)
    assert summary["subclient"]["clientName"] == "ingested-client"
    assert summary["status"] == "Running"


def test_batch_with_sections(client: TestClient, token: str) -> None:
    batch = {
        "jobs": [
            {
                "jobSummary": job(700002, status="Completed", jobEndTime=1_764_000_200),
                "jobDetail": {"attemptsInfo": [{"phaseName": "Backup", "status": "Completed"}]},
                "advancedDetails": {"jobRetention": {"storagePolicyRetentionInfoList": []}},
            },
            job(700003),
        ]
    }
    response = client.post(V1 + "jobs", json=batch, headers={"Authtoken": token})
    assert response.json() == {"written": 2, "jobIds": [700002, 700003]}
    headers = {"Authtoken": token, "Accept": "application/json"}
    detail = client.post(API + "JobDetails", json={"jobId": 700002}, headers=headers).json()
    assert detail["job"]["jobDetail"]["attemptsInfo"] == [
        {"phaseName": "Backup", "status": "Completed"}
    ]
    advanced = client.get(API + "Job/700002/AdvancedDetails?infoType=1", headers=headers).json()
    assert advanced == {"jobRetention": {"storagePolicyRetentionInfoList": []}}
    # The finished job's answer is kept a while; a report of it forgets it at once.
    retention = {"storagePolicyRetentionInfoList": [{"storagePolicyName": "SP-Gold"}]}
    batch["jobs"][0]["advancedDetails"] = {"jobRetention": retention}
    batch["jobs"][0]["jobSummary"]["lastUpdateTime"] = 1_764_000_300
    assert client.post(V1 + "jobs", json=batch, headers={"Authtoken": token}).status_code == 200
    advanced = client.get(API + "Job/700002/AdvancedDetails?infoType=1", headers=headers).json()
    assert advanced == {"jobRetention": retention}


@pytest.mark.parametrize(
    ("batch", "words"),
    [
        (
            {"jobs": [job(700010), job(700011, status="Dreaming")]},
            "jobs[1] (jobId 700011): field 'status'",
        ),
        ({"jobs": [job(700010), job(700010)]}, "more than once"),
        ({"jobs": []}, "non-empty list"),
        (
            {"jobs": [job(700010), {"jobSummary": job(700012), "advancedDetails": {"nope": {}}}]},
            "unknown advancedDetails",
        ),
        ({"jobs": [job(700010), "x"]}, "expected an object"),
    ],
)
def test_a_bad_batch_writes_nothing(
    client: TestClient, catalogue: Catalogue, token: str, batch: dict[str, Any], words: str
) -> None:
    before = count(catalogue), count(catalogue, "events")
    response = client.post(V1 + "jobs", json=batch, headers={"Authtoken": token})
    assert response.status_code == 400
    assert words in response.json()["errorMessage"]
    assert (count(catalogue), count(catalogue, "events")) == before


def test_a_stale_update_is_409_and_changes_nothing(
    client: TestClient, catalogue: Catalogue, token: str
) -> None:
    client.post(V1 + "jobs", json=job(700020, lastUpdateTime=2000), headers={"Authtoken": token})
    before = get_summary(client, token, 700020)
    stale = {"jobs": [job(700021), job(700020, lastUpdateTime=1999, status="Failed")]}
    response = client.post(V1 + "jobs", json=stale, headers={"Authtoken": token})
    assert response.status_code == 409
    assert response.json()["errorCode"] == 409
    assert get_summary(client, token, 700020) == before
    headers = {"Authtoken": token, "Accept": "application/json"}
    assert client.get(API + "Job/700021", headers=headers).json()["totalRecordsWithoutPaging"] == 0


def test_progress_update(client: TestClient, token: str) -> None:
    client.post(V1 + "jobs", json=job(700030, lastUpdateTime=2000), headers={"Authtoken": token})
    response = client.patch(
        V1 + "jobs/700030",
        json={"percentComplete": 55.5, "currentPhaseName": "Backup", "lastUpdateTime": 2100},
        headers={"Authtoken": token},
    )
    assert response.status_code == 200
    assert response.json()["jobSummary"]["percentComplete"] == 55.5
    summary = get_summary(client, token, 700030)
    assert summary["currentPhaseName"] == "Backup" and summary["lastUpdateTime"] == 2100
    assert summary["subclient"]["clientName"] == "ingested-client"  # the rest is kept
    stale = client.patch(
        V1 + "jobs/700030",
        json={"percentComplete": 60, "lastUpdateTime": 2099},
        headers={"Authtoken": token},
    )
    assert stale.status_code == 409
    assert get_summary(client, token, 700030)["percentComplete"] == 55.5


def test_status_change_by_update_is_an_event(client: TestClient, token: str) -> None:
    client.post(V1 + "jobs", json=job(700040, lastUpdateTime=2000), headers={"Authtoken": token})
    client.patch(
        V1 + "jobs/700040",
        json={
            "status": "Completed",
            "lastUpdateTime": 2001,
            "percentComplete": 100,
            "jobEndTime": 2001,
        },
        headers={"Authtoken": token},
    )
    events = client.get(
        API + "Events?jobId=700040", headers={"Authtoken": token, "Accept": "application/json"}
    ).json()
    descriptions = [e["description"] for e in events["commservEvents"]]
    assert "from [Running] to [Completed] by user [admin]: ingested" in descriptions[0]
    assert "was started by user [admin]: ingested" in descriptions[1]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("jobs/999999", {"percentComplete": 5}, 404),
        ("jobs/4", {"jobId": 5}, 400),
        ("jobs/4", {"percentComplete": 500}, 400),
        ("jobs/abc", {}, 400),
    ],
)
def test_bad_updates(
    client: TestClient, token: str, path: str, body: dict[str, Any], status: int
) -> None:
    assert client.patch(V1 + path, json=body, headers={"Authtoken": token}).status_code == status


def test_events(client: TestClient, catalogue: Catalogue, token: str) -> None:
    body = {
        "events": [
            {
                "jobId": 4,
                "severity": 6,
                "eventCode": "19:1327",
                "description": "media problem",
                "timeSource": 5000,
            },
            {"clientId": 7, "description": "client note"},
        ]
    }
    response = client.post(V1 + "events", json=body, headers={"Authtoken": token})
    assert response.json() == {"written": 2}
    events = client.get(
        API + "Events?jobId=4", headers={"Authtoken": token, "Accept": "application/json"}
    ).json()
    event = events["commservEvents"][0]
    assert event["description"] == "media problem" and event["severity"] == 6
    assert event["eventCodeString"] == "19:1327" and event["timeSource"] == 5000
    assert event["clientEntity"]["clientName"] == "WINTER"


@pytest.mark.parametrize(
    "event",
    [
        {"description": ""},
        {"description": "x", "severity": 4},
        {"description": "x", "jobId": 99999999},
        {"description": "x", "time": -1},
        "text",
    ],
)
def test_bad_events_write_nothing(
    client: TestClient, catalogue: Catalogue, token: str, event: Any
) -> None:
    before = count(catalogue, "events")
    body = {"events": [{"description": "fine"}, event]}
    assert client.post(V1 + "events", json=body, headers={"Authtoken": token}).status_code == 400
    assert count(catalogue, "events") == before


def test_viewers_may_not_ingest(client: TestClient, catalogue: Catalogue) -> None:
    token = login(client, "viewer", VIEWER_PASSWORD)
    before = count(catalogue)
    for method, path, body in [
        ("POST", "jobs", job(700050)),
        ("PATCH", "jobs/4", {"percentComplete": 1}),
        ("POST", "events", {"description": "x"}),
    ]:
        response = client.request(method, V1 + path, json=body, headers={"Authtoken": token})
        assert response.status_code == 403, path
        assert "only operators and administrators" in response.json()["errorMessage"]
    assert count(catalogue) == before


def test_ingest_needs_a_token_and_is_json(client: TestClient) -> None:
    response = client.post(V1 + "jobs", json=job(700060), headers={"Accept": "application/xml"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")


def test_ingest_routes_are_not_under_the_vendor_roots(client: TestClient, token: str) -> None:
    assert client.post(API + "jobs/x", json={}, headers={"Authtoken": token}).status_code == 404
    assert client.get("/cvjobs/v1/Job/4", headers={"Authtoken": token}).status_code == 404


def nested(levels: int) -> dict[str, Any]:
    body: dict[str, Any] = {"a": 1}
    for _ in range(levels):
        body = {"a": body}
    return body


@pytest.mark.parametrize(
    "section",
    [{'bad key"><evil x="1': 1}, {"1num": {"a": 1}}, {"ok": [{"not ok": 1}]}, nested(40)],
)
def test_sections_must_render_in_xml(
    client: TestClient, catalogue: Catalogue, token: str, section: dict[str, Any]
) -> None:
    body = {"jobSummary": job(700070), "advancedDetails": {"jobRetention": section}}
    response = client.post(V1 + "jobs", json=body, headers={"Authtoken": token})
    assert response.status_code == 400
    assert "jobRetention" in response.json()["errorMessage"]


def test_huge_numbers_are_400_not_500(client: TestClient, token: str) -> None:
    for body in (
        {"events": [{"description": "x", "jobId": 2**63}]},
        {"events": [{"description": "x", "timeSource": 2**64}]},
    ):
        assert (
            client.post(V1 + "events", json=body, headers={"Authtoken": token}).status_code == 400
        )
    response = client.post(V1 + "jobs", json=job(2**63), headers={"Authtoken": token})
    assert response.status_code == 400


def test_patch_wrapped_with_sections(client: TestClient, token: str) -> None:
    client.post(V1 + "jobs", json=job(700080, lastUpdateTime=2000), headers={"Authtoken": token})
    body = {
        "jobSummary": {"status": "Failed", "lastUpdateTime": 2001, "jobEndTime": 2001},
        "jobDetail": {"attemptsInfo": [{"phaseName": "Scan", "status": "Failed"}]},
    }
    response = client.patch(V1 + "jobs/700080", json=body, headers={"Authtoken": token})
    assert response.status_code == 200
    assert get_summary(client, token, 700080)["status"] == "Failed"
    headers = {"Authtoken": token, "Accept": "application/json"}
    detail = client.post(API + "JobDetails", json={"jobId": 700080}, headers=headers).json()
    assert detail["job"]["jobDetail"]["attemptsInfo"][0]["status"] == "Failed"


def test_patch_with_unknown_fields_is_400(client: TestClient, token: str) -> None:
    response = client.patch(V1 + "jobs/4", json={"percentComplet": 5}, headers={"Authtoken": token})
    assert response.status_code == 400
    assert "percentComplet" in response.json()["errorMessage"]


def with_number(summary: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """`summary` with the field `key` of RANGES ("subclient.clientId") set to `value`."""
    parent, _, name = key.rpartition(".")
    if parent == "clientGroups":
        summary[parent] = [{"clientGroupId": value, "clientGroupName": "g"}]
    elif parent:
        summary[parent] = {**summary.get(parent, {}), name: value}
    else:
        summary[name] = value
    return summary


# A field of each class of range, just outside it; the first is the elapsed time that
# once made every engine step fail.
OUT_OF_RANGE = [
    ("jobElapsedTime", 2**63 - 1),
    ("jobId", ranges.EXACT_MAX + 1),
    ("subclient.clientId", ranges.EXACT_MAX + 1),
    ("destinationClient.clientId", -1),
    ("clientGroups.clientGroupId", 0),
    ("jobStartTime", ranges.TIME_MAX + 1),
    ("lastUpdateTime", -1),
    ("sizeOfMediaOnDisk", ranges.EXACT_MAX + 1),
    ("totalNumOfFiles", 2**62),
    ("percentSavings", 100.5),
    ("jobSubmitErrorCode", ranges.INT32_MIN - 1),
    ("isPreemptable", ranges.INT32_MAX + 1),
]


@pytest.mark.parametrize(("key", "value"), OUT_OF_RANGE)
def test_a_number_out_of_range_is_400_naming_it_and_writes_nothing(
    client: TestClient, catalogue: Catalogue, token: str, key: str, value: Any
) -> None:
    before = count(catalogue), count(catalogue, "events")
    bad = with_number(job(700101), key, value)
    response = client.post(
        V1 + "jobs", json={"jobs": [job(700100), bad]}, headers={"Authtoken": token}
    )
    assert response.status_code == 400
    message = response.json()["errorMessage"]
    assert "jobs[1]" in message and f"field '{key.rpartition('.')[2]}'" in message, message
    assert (count(catalogue), count(catalogue, "events")) == before


@pytest.mark.parametrize(("key", "value"), [k for k in OUT_OF_RANGE if k[0] != "jobId"])
def test_a_patch_out_of_range_is_400_and_changes_nothing(
    client: TestClient, token: str, key: str, value: Any
) -> None:
    client.post(V1 + "jobs", json=job(700110), headers={"Authtoken": token})
    before = get_summary(client, token, 700110)
    body = with_number({"lastUpdateTime": 1_764_000_200}, key, value)
    response = client.patch(V1 + "jobs/700110", json=body, headers={"Authtoken": token})
    assert response.status_code == 400
    assert f"field '{key.rpartition('.')[2]}'" in response.json()["errorMessage"]
    assert get_summary(client, token, 700110) == before


def test_every_number_at_the_top_of_its_range_comes_back_exactly(
    client: TestClient, token: str
) -> None:
    sent = job(ranges.EXACT_MAX)
    for key, (_, high) in ranges.RANGES.items():
        if key != "jobId":
            with_number(sent, key, high)
    response = client.post(V1 + "jobs", json=sent, headers={"Authtoken": token})
    assert response.status_code == 200, response.text
    summary = get_summary(client, token, ranges.EXACT_MAX)
    for key, (_, high) in ranges.RANGES.items():
        parent, _, name = key.rpartition(".")
        holder = summary[parent] if parent else summary
        got = holder[0][name] if isinstance(holder, list) else holder[name]
        assert got == high, key


def test_a_vm_job_carries_its_parent_and_vm_status(client: TestClient, token: str) -> None:
    """VSA (Virtual Server) jobs: a VM's job names its parent job (vsaParentJobID), and a
    backup's JobDetails lists its VMs in clientStatusInfo.vmStatus, which cvpysdk's
    Job.get_vm_list and pinkopy's get_job_vmstatus read (issue 10)."""
    vm = {"vmName": "web-01", "Status": 0, "BackupStartTime": 1_764_000_000, "Size": 2**35}
    body = {
        "jobSummary": job(700100, vsaParentJobID=700099),
        "jobDetail": {"clientStatusInfo": {"vmStatus": [vm]}},
    }
    headers = {"Authtoken": token, "Accept": "application/json"}
    assert client.post(V1 + "jobs", json=body, headers=headers).status_code == 200
    summary = client.get(API + "Job/700100", headers=headers).json()["jobs"][0]["jobSummary"]
    assert summary["vsaParentJobID"] == 700099
    details = client.post(API + "JobDetails", json={"jobId": 700100}, headers=headers).json()
    assert details["job"]["jobDetail"]["clientStatusInfo"]["vmStatus"] == [vm]
    xml = client.get(API + "Job/700100", headers={"Authtoken": token}).text
    assert 'vsaParentJobID="700099"' in xml
    # A job of no VSA backup shows no vsaParentJobID, as before.
    assert client.post(V1 + "jobs", json=job(700101), headers=headers).status_code == 200
    plain = client.get(API + "Job/700101", headers=headers).json()["jobs"][0]["jobSummary"]
    assert "vsaParentJobID" not in plain
    patched = client.patch(V1 + "jobs/700101", json={"vsaParentJobID": 700099}, headers=headers)
    assert patched.json()["jobSummary"]["vsaParentJobID"] == 700099


def test_the_demos_virtual_server_backups_list_their_vms(
    client: TestClient, catalogue: Catalogue, token: str
) -> None:
    job_id = catalogue.scalar(
        "SELECT max(j.id) FROM jobs j JOIN job_sections s ON s.job_id = j.id"
        " WHERE j.app_id = 106 AND j.job_type = 'Backup' AND s.name = 'jobDetail'"
        " AND j.vsa_parent_job_id = 0 AND j.id + 1 IN (SELECT id FROM jobs"
        " WHERE vsa_parent_job_id = j.id)"
    )
    headers = {"Authtoken": token, "Accept": "application/json"}

    def vms_of(job_id: int) -> list[dict[str, Any]]:
        answer = client.post(API + "JobDetails", json={"jobId": job_id}, headers=headers).json()
        vms: list[dict[str, Any]] = answer["job"]["jobDetail"]["clientStatusInfo"]["vmStatus"]
        return vms

    vms = vms_of(job_id)
    assert len(vms) >= 2
    assert all(isinstance(v["vmName"], str) and isinstance(v["Size"], int) for v in vms)
    # Each VM's own job names the backup as its parent and lists that one VM.
    for vm in vms:
        child = client.get(API + f"Job/{vm['jobID']}", headers=headers).json()
        assert child["jobs"][0]["jobSummary"]["vsaParentJobID"] == job_id
        assert [v["vmName"] for v in vms_of(vm["jobID"])] == [vm["vmName"]]
