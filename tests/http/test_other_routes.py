"""GET Events, GET CommServ, GET Job/{id}/TaskDetails (wire contract §9)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.catalogues import Catalogue
from tests.conftest import API


def add_events(catalogue: Catalogue) -> None:
    rows = [
        (4, 2, 1000, 0, "19:105", "JobManager", "job 4 completed"),
        (4, 2, 2000, 6, "19:106", "JobManager", "job 4 went wrong"),
        (1452, 7, 3000, 3, "19:107", "JobManager", "job 1452 minor"),
        (None, 7, 4000, 9, "7:75", "ClientManager", "critical client problem"),
    ]
    catalogue.sql("DELETE FROM events")  # only these, not the demo's history
    for row in rows:
        catalogue.sql(
            "INSERT INTO events (job_id, client_id, time, severity, event_code, subsystem,"
            " description) VALUES (?, ?, ?, ?, ?, ?, ?)",
            row,
        )


def events(client: TestClient, headers: dict[str, str], query: str) -> list[dict[str, Any]]:
    response = client.get(API + "Events" + query, headers=headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["commservEvents"]
    return found


@pytest.mark.parametrize(
    ("query", "descriptions"),
    [
        ("", ["critical client problem", "job 1452 minor", "job 4 went wrong", "job 4 completed"]),
        ("?jobId=4", ["job 4 went wrong", "job 4 completed"]),
        ("?clientId=7", ["critical client problem", "job 1452 minor"]),
        ("?fromTime=2000&toTime=3000", ["job 1452 minor", "job 4 went wrong"]),
        ("?showInfo=false&showCritical=false", ["job 1452 minor", "job 4 went wrong"]),
        ("?showMinor=false&showMajor=false&jobId=4", ["job 4 completed"]),
        ("?jobId=999", []),
    ],
)
def test_event_filters(
    client: TestClient,
    catalogue: Catalogue,
    auth_json: dict[str, str],
    query: str,
    descriptions: list[str],
) -> None:
    add_events(catalogue)
    assert [e["description"] for e in events(client, auth_json, query)] == descriptions


def test_event_shape_and_by_id(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    add_events(catalogue)
    first = events(client, auth_json, "?jobId=1452")[0]
    assert set(first) == {
        "id",
        "jobId",
        "severity",
        "eventCode",
        "eventCodeString",
        "subsystem",
        "description",
        "timeSource",
        "acknowledge",
        "type",
        "clientEntity",
    }
    assert first["clientEntity"] == {
        "clientId": 7,
        "clientName": "EXCH001",
        "displayName": "EXCH001",
    }
    assert first["eventCode"] == str((19 << 24) | 107)
    by_id = client.get(API + f"Events/{first['id']}", headers=auth_json).json()["commservEvents"]
    assert by_id == [first]


@pytest.mark.parametrize("query", ["?jobId=x", "?fromTime=-1", "?showInfo=perhaps", "?limit=0"])
def test_bad_event_queries(client: TestClient, auth_json: dict[str, str], query: str) -> None:
    assert client.get(API + "Events" + query, headers=auth_json).status_code == 400


def test_commserv(client: TestClient, auth_json: dict[str, str]) -> None:
    body = client.get(API + "CommServ", headers=auth_json).json()
    assert body["commcell"]["commCellName"] == "cvjobs"
    assert isinstance(body["commcell"]["commCellId"], int) and body["commcell"]["csGUID"]
    assert isinstance(body["csVersionInfo"], str)
    for key in ("hostName", "currentSPVersion", "timeZone", "releaseName"):
        assert key in body
    assert body["csTimeZone"]["TimeZoneName"]


def test_task_details(client: TestClient, auth_json: dict[str, str]) -> None:
    info = client.get(API + "Job/4/TaskDetails", headers=auth_json).json()["taskInfo"]
    assert info["associations"][0]["clientName"] == "WINTER"
    assert info["subTasks"][0]["options"]["backupOpts"]["backupLevel"] == "INCREMANTAL"
    missing = client.get(API + "Job/999999/TaskDetails", headers=auth_json).json()
    assert missing["error"]["errList"][0]["errorCode"] == 2
