"""GET Job/{jobId} over raw HTTP (wire contract §4) in both formats."""

from __future__ import annotations

from xml.etree.ElementTree import fromstring

import pytest
from starlette.testclient import TestClient

from tests.catalogues import Catalogue
from tests.conftest import API, FakeClock, first_job_id

# id parsing, rendering and the cache around one store read:
# the same on both backends (tests/conftest.py).

SUMMARY_FIELDS = {
    "jobId",
    "status",
    "localizedStatus",
    "statusColor",
    "jobType",
    "localizedOperationName",
    "appTypeName",
    "backupLevel",
    "backupLevelName",
    "localizedBackupLevelName",
    "backupSetName",
    "subclientName",
    "destClientName",
    "currentPhaseName",
    "pendingReason",
    "pendingReasonErrorCode",
    "percentComplete",
    "percentSavings",
    "sizeOfApplication",
    "sizeOfMediaOnDisk",
    "totalNumOfFiles",
    "totalFailedFiles",
    "totalFailedFolders",
    "jobStartTime",
    "jobEndTime",
    "lastUpdateTime",
    "jobElapsedTime",
    "isAged",
    "isVisible",
    "jobSubmitErrorCode",
    "isPreemptable",
    "userName",
    "subclient",
    "destinationClient",
    "storagePolicy",
    "clientGroups",
}
SUBCLIENT_FIELDS = {
    "clientName",
    "clientId",
    "appName",
    "applicationId",
    "instanceName",
    "instanceId",
    "backupsetName",
    "backupsetId",
    "subclientName",
    "subclientId",
}


def test_json_has_every_field_with_json_types(
    client: TestClient, auth_json: dict[str, str]
) -> None:
    response = client.get(API + "Job/4", headers=auth_json)
    assert response.status_code == 200
    body = response.json()
    assert body["totalRecordsWithoutPaging"] == 1
    summary = body["jobs"][0]["jobSummary"]
    assert set(summary) == SUMMARY_FIELDS
    assert set(summary["subclient"]) == SUBCLIENT_FIELDS
    assert summary["isVisible"] is True and summary["isAged"] is False
    assert summary["backupLevel"] == 2 and summary["backupLevelName"] == "Incremental"
    assert summary["percentComplete"] == 100
    assert summary["userName"] == {"userName": "admin", "userId": 1}
    assert summary["clientGroups"] == [
        {"clientGroupId": 1, "clientGroupName": "Windows Servers"},
        {"clientGroupId": 5, "clientGroupName": "Infrastructure"},
    ]


def test_xml_spells_scalars_the_vendor_way(client: TestClient, auth_xml: dict[str, str]) -> None:
    root = fromstring(client.get(API + "Job/4", headers=auth_xml).content)
    assert root.tag == "JobManager_JobListResponse"
    summary = root.find("jobs/jobSummary")
    assert summary is not None
    assert summary.attrib["backupLevel"] == "INCREMANTAL"  # sic, as the vendor prints it
    assert summary.attrib["percentComplete"] == "100.000000"
    assert summary.attrib["isVisible"] == "true"
    user_name = summary.find("userName")
    assert user_name is not None and user_name.attrib == {"userName": "admin", "userId": "1"}
    assert len(summary.findall("clientGroups")) == 2
    scalars = SUMMARY_FIELDS - {
        "userName",
        "subclient",
        "destinationClient",
        "storagePolicy",
        "clientGroups",
    }
    assert scalars <= set(summary.attrib)


def test_active_job_has_no_end_time(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    job_id = first_job_id(catalogue, "status = 'Suspended'")
    summary = client.get(API + f"Job/{job_id}", headers=auth_json).json()["jobs"][0]["jobSummary"]
    assert summary["jobEndTime"] == 0
    assert summary["statusColor"] == "orange"
    assert summary["pendingReason"] == "Backup job has been suspended by user admin."
    assert 0 < summary["percentComplete"] < 100


def test_job_without_subclient_still_has_every_field(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    catalogue.sql("INSERT INTO jobs (id, status, job_type) VALUES (900001, 'Completed', 'Admin')")
    summary = client.get(API + "Job/900001", headers=auth_json).json()["jobs"][0]["jobSummary"]
    assert set(summary) == SUMMARY_FIELDS
    assert summary["subclient"] == dict.fromkeys(SUBCLIENT_FIELDS, 0) | {
        k: "" for k in SUBCLIENT_FIELDS if k.endswith("Name")
    }
    assert summary["userName"] == {"userName": "", "userId": 0}


def test_unknown_job_is_200_with_zero_total(
    client: TestClient, auth_json: dict[str, str], auth_xml: dict[str, str]
) -> None:
    response = client.get(API + "Job/987654321", headers=auth_json)
    assert response.status_code == 200
    assert response.json() == {"totalRecordsWithoutPaging": 0, "jobs": []}
    root = fromstring(client.get(API + "Job/987654321", headers=auth_xml).content)
    assert root.tag == "JobManager_JobListResponse"
    assert root.attrib == {"totalRecordsWithoutPaging": "0"}
    assert list(root) == []


@pytest.mark.parametrize(
    "job_id", ["abc", "-4", "0", "4.0", "1e3", "%20", "99999999999999999999", "４"]
)
def test_bad_job_id_is_400(
    client: TestClient, auth_json: dict[str, str], auth_xml: dict[str, str], job_id: str
) -> None:
    response = client.get(API + f"Job/{job_id}", headers=auth_json)
    assert response.status_code == 400
    assert response.json()["errorCode"] == 1
    assert "job id" in response.json()["errorMessage"]
    response = client.get(API + f"Job/{job_id}", headers=auth_xml)
    assert response.status_code == 400
    assert fromstring(response.content).tag == "CVGui_GenericResp"


def test_bad_job_id_needs_a_token_first(client: TestClient) -> None:
    assert client.get(API + "Job/abc").status_code == 401


def test_finished_jobs_are_served_from_a_short_cache(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str], clock: FakeClock
) -> None:
    def status() -> str:
        body = client.get(API + "Job/4", headers=auth_json).json()
        return str(body["jobs"][0]["jobSummary"]["pendingReason"])

    assert status() == ""
    # another process changes the finished job: seen once the cached answer is 30 s old
    catalogue.sql("UPDATE jobs SET pending_reason = 'changed elsewhere' WHERE id = 4")
    assert status() == ""
    clock.advance(31)
    assert status() == "changed elsewhere"
    # a change through this server's ingest API is seen at once
    patch = {"pendingReason": "changed here", "lastUpdateTime": 1423087500}
    assert client.patch("/cvjobs/v1/jobs/4", json=patch, headers=auth_json).status_code == 200
    assert status() == "changed here"


def test_active_jobs_are_never_cached(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    job_id = first_job_id(catalogue, "status = 'Running'")
    client.get(API + f"Job/{job_id}", headers=auth_json)
    catalogue.sql("UPDATE jobs SET percent_complete = 77 WHERE id = ?", (job_id,))
    body = client.get(API + f"Job/{job_id}", headers=auth_json).json()
    assert body["jobs"][0]["jobSummary"]["percentComplete"] == 77
