"""GET Job/{id}/AdvancedDetails (the seed; wire contract §7)."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import fromstring

import pytest
from starlette.testclient import TestClient

from tests.catalogues import Catalogue
from tests.conftest import API, first_job_id

# infoType parsing and rendering come after the store read:
# the same on both backends (tests/conftest.py).

AUX_COPY = "job_type = 'Aux Copy'"
REF_COPY = "job_type = 'Reference Copy'"
SQL_BACKUP = "job_type = 'Backup' AND app_id = 81"
RESTORE = "job_type = 'Restore'"


def advanced(
    client: TestClient, headers: dict[str, str], job_id: int, info: object = None
) -> dict[str, Any]:
    query = "" if info is None else f"?infoType={info}"
    response = client.get(API + f"Job/{job_id}/AdvancedDetails{query}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_retention_of_a_backup_job(client: TestClient, auth_json: dict[str, str]) -> None:
    body = advanced(client, auth_json, 4, 1)
    policies = body["jobRetention"]["storagePolicyRetentionInfoList"]
    assert policies[0]["storagePolicyName"] == "SP-Disk-30d"
    copies = policies[0]["copyRetentionInfoList"]
    assert [c["retentionDays"] for c in copies] == [30, 90]
    assert copies[0]["retainUntil"] == 1423087495 + 30 * 86400


def test_reference_copy_info(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    body = advanced(client, auth_json, first_job_id(catalogue, REF_COPY), 2)
    assert set(body) == {"refCopyInfo"}
    assert body["refCopyInfo"]["totalItems"] > 0


@pytest.mark.parametrize(("info", "key"), [(4, "dashCopyInfo"), (8, "adminInfo")])
def test_aux_copy_sections(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str], info: int, key: str
) -> None:
    body = advanced(client, auth_json, first_job_id(catalogue, AUX_COPY), info)
    assert set(body) == {key}
    assert body[key]["isScalableResourceAllocation"] is True


def test_sql_server_backup_info(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    body = advanced(client, auth_json, first_job_id(catalogue, SQL_BACKUP), 16)
    info = body["bkpInfo"]["sqlDbInfo"]
    assert info["SourceDatabaseCounters"]["TotalDBs"] == len(info["SourceDatabaseStats"])


def test_or_of_types_returns_every_section(client: TestClient, auth_json: dict[str, str]) -> None:
    assert set(advanced(client, auth_json, 1452, 17)) == {"jobRetention", "bkpInfo"}
    aux = advanced(client, auth_json, 1452, 1)
    assert set(aux) == {"jobRetention"}


def test_aux_copy_or(client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]) -> None:
    job_id = first_job_id(catalogue, AUX_COPY)
    assert set(advanced(client, auth_json, job_id, 12)) == {"dashCopyInfo", "adminInfo"}


def test_missing_info_type_answers_every_applicable_section(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    assert set(advanced(client, auth_json, 1452)) == {"jobRetention", "bkpInfo"}
    assert set(advanced(client, auth_json, 4)) == {"jobRetention"}
    aux = first_job_id(catalogue, AUX_COPY)
    assert set(advanced(client, auth_json, aux)) == {"dashCopyInfo", "adminInfo"}


def test_missing_info_type_with_nothing_applicable(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    body = advanced(client, auth_json, first_job_id(catalogue, RESTORE))
    assert body["errorCode"] == 2
    assert "no advanced details" in str(body["errorMessage"])


@pytest.mark.parametrize(
    ("where", "info", "words"),
    [
        (RESTORE, 1, "only for backup jobs"),
        ("id = 4", 16, "Exchange Database and SQL Server"),
        ("id = 4", 2, "only for reference copy jobs"),
        ("id = 4", 4, "auxiliary copy"),
        ("id = 4", 8, "auxiliary copy"),
        ("id = 4", 17, "File System Backup"),
        (AUX_COPY, 1, "only for backup jobs"),
    ],
)
def test_type_that_does_not_apply(
    client: TestClient,
    catalogue: Catalogue,
    auth_json: dict[str, str],
    where: str,
    info: int,
    words: str,
) -> None:
    body = advanced(client, auth_json, first_job_id(catalogue, where), info)
    assert body["errorCode"] == 2
    assert words in str(body["errorMessage"])


def test_applicable_but_not_recorded(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    job_id = first_job_id(catalogue, SQL_BACKUP)
    catalogue.sql("DELETE FROM job_sections WHERE job_id = ?", (job_id,))
    body = advanced(client, auth_json, job_id, 16)
    assert body == {
        "errorCode": 2,
        "errorMessage": f"no backup information has been recorded for job {job_id}",
    }


def test_unknown_job(
    client: TestClient, auth_json: dict[str, str], auth_xml: dict[str, str]
) -> None:
    body = advanced(client, auth_json, 123456789, 1)
    assert body == {"errorCode": 2, "errorMessage": "No job exists with the job ID 123456789"}
    root = fromstring(
        client.get(API + "Job/123456789/AdvancedDetails?infoType=1", headers=auth_xml).content
    )
    assert root.tag == "CVGui_GenericResp"
    assert root.attrib["errorCode"] == "2"


@pytest.mark.parametrize(
    "info",
    [
        "0",
        "32",
        "33",
        "-1",
        "-16",
        "abc",
        "1.5",
        "",
        "0x10",
        " 1",
        "1,2",
        "99999999999999999999999",
    ],
)
def test_bad_info_type_is_400(client: TestClient, auth_json: dict[str, str], info: str) -> None:
    response = client.get(
        API + "Job/4/AdvancedDetails", params={"infoType": info}, headers=auth_json
    )
    assert response.status_code == 400
    assert response.json()["errorCode"] == 1
    assert "infoType" in response.json()["errorMessage"]


def test_repeated_info_type_is_400(client: TestClient, auth_json: dict[str, str]) -> None:
    response = client.get(API + "Job/4/AdvancedDetails?infoType=1&infoType=16", headers=auth_json)
    assert response.status_code == 400


def test_xml_error_for_bad_info_type(client: TestClient, auth_xml: dict[str, str]) -> None:
    response = client.get(API + "Job/4/AdvancedDetails?infoType=64", headers=auth_xml)
    assert response.status_code == 400
    assert fromstring(response.content).attrib["errorCode"] == "1"


def test_xml_lists_are_repeated_elements(
    client: TestClient, catalogue: Catalogue, auth_xml: dict[str, str]
) -> None:
    job_id = first_job_id(catalogue, AUX_COPY)
    root = fromstring(
        client.get(API + f"Job/{job_id}/AdvancedDetails?infoType=4", headers=auth_xml).content
    )
    assert root.tag == "JobManager_AdvanceJobDetailsResp"
    assert len(root.findall("dashCopyInfo/copyJobStats")) == 3
    dash_copy = root.find("dashCopyInfo")
    assert dash_copy is not None and dash_copy.attrib["isScalableResourceAllocation"] == "true"
