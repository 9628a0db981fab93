"""POST JobDetails (wire contract §6)."""

from __future__ import annotations

from xml.etree.ElementTree import fromstring

import pytest
from starlette.testclient import TestClient

from tests.catalogues import Catalogue
from tests.conftest import API, first_job_id

# body parsing and rendering around one store read:
# the same on both backends (tests/conftest.py).


def test_json_body(client: TestClient, auth_json: dict[str, str]) -> None:
    response = client.post(
        API + "JobDetails", json={"jobId": 4, "showAttempt": True}, headers=auth_json
    )
    assert response.status_code == 200
    detail = response.json()["job"]["jobDetail"]
    general = detail["generalInfo"]
    assert general["jobId"] == 4 and general["operationType"] == "Backup"
    assert general["jobStartedFrom"] in ("Scheduled", "Interactive")
    assert general["subclient"]["clientName"] == "WINTER"
    assert detail["detailInfo"]["endTime"] == 1423087495
    assert detail["detailInfo"]["savingsPercent"] == "0.00"
    progress = detail["progressInfo"]
    assert progress["state"] == "Completed" and progress["percentComplete"] == 100
    assert [a["phaseName"] for a in detail["attemptsInfo"]] == ["Scan", "Backup", "Archive Index"]
    assert detail["clientStatusInfo"] == {"vmStatus": []}


def test_job_id_as_string(client: TestClient, auth_json: dict[str, str]) -> None:
    response = client.post(API + "JobDetails", json={"jobId": "1452"}, headers=auth_json)
    assert response.json()["job"]["jobDetail"]["generalInfo"]["jobId"] == 1452


def test_xml_body_and_answer(client: TestClient, auth_xml: dict[str, str]) -> None:
    response = client.post(
        API + "jobdetails",
        content='<JobManager_JobDetailRequest jobId="4" showAttempt="true"/>',
        headers={**auth_xml, "Content-type": "application/xml"},
    )
    root = fromstring(response.content)
    assert root.tag == "JobManager_JobDetailResponse"
    general = root.find("job/jobDetail/generalInfo")
    assert general is not None and general.attrib["jobId"] == "4"
    assert len(root.findall("job/jobDetail/attemptsInfo")) == 3


def test_unrecorded_extras_are_not_available(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    # The demo keeps extras for the newest jobs only, like a CommServe that prunes details;
    # a job without them shows -999 ("not available") where the vendor does.
    catalogue.sql("DELETE FROM job_sections WHERE job_id = 4")
    detail = client.post(API + "JobDetails", json={"jobId": 4}, headers=auth_json).json()["job"][
        "jobDetail"
    ]
    assert detail["detailInfo"]["compressedBytes"] == -999
    assert detail["attemptsInfo"] == []
    assert detail["progressInfo"]["state"] == "Completed"


def test_live_values_win_over_stored_extras(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    job_id = first_job_id(catalogue, "status = 'Running'")
    detail = client.post(API + "JobDetails", json={"jobId": job_id}, headers=auth_json).json()[
        "job"
    ]["jobDetail"]
    assert detail["progressInfo"]["state"] == "Running"
    assert detail["detailInfo"]["endTime"] == 0


def test_unknown_job(
    client: TestClient, auth_json: dict[str, str], auth_xml: dict[str, str]
) -> None:
    response = client.post(API + "JobDetails", json={"jobId": 999999}, headers=auth_json)
    assert response.status_code == 200
    assert response.json() == {
        "error": {
            "errList": [{"errorCode": 2, "errLogMessage": "No job exists with the job ID 999999"}]
        }
    }
    response = client.post(
        API + "JobDetails",
        content='<JobManager_JobDetailRequest jobId="999999"/>',
        headers={**auth_xml, "Content-type": "application/xml"},
    )
    root = fromstring(response.content)
    err = root.find("error/errList")
    assert err is not None and err.attrib["errorCode"] == "2"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{}",
        b'{"jobId": "x"}',
        b'{"jobId": -1}',
        b'{"jobId": true}',
        b"[1]",
        b"{nope",
        b'{"jobId": 1.5}',
    ],
)
def test_bad_bodies_are_400(client: TestClient, auth_json: dict[str, str], body: bytes) -> None:
    response = client.post(
        API + "JobDetails", content=body, headers={**auth_json, "Content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errorCode"] == 1


def test_xxe_is_refused(client: TestClient, auth_json: dict[str, str]) -> None:
    body = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<JobManager_JobDetailRequest jobId="&x;"/>'
    )
    response = client.post(
        API + "JobDetails", content=body, headers={**auth_json, "Content-type": "application/xml"}
    )
    assert response.status_code == 400
    assert "refused" in response.json()["errorMessage"]
