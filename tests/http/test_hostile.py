"""Hostile input: entity expansion, oversized bodies (declared or streamed), absurd numbers.
Each is refused in the client's format, fast, and changes nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from cvjobs.app import create_app
from cvjobs.config import Settings
from tests.catalogues import Catalogue
from tests.conftest import API, FakeClock

V1 = "/cvjobs/v1/"
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10 if n > 1 else "&lol;" * 10}">'
        for n in range(1, 10)
    )
    + ']><JobManager_JobDetailRequest jobId="&lol9;"/>'
)


@pytest.mark.parametrize("route", ["JobDetails", "Jobs", "Login"])
def test_billion_laughs_is_refused_at_once(
    client: TestClient, auth_json: dict[str, str], route: str
) -> None:
    started = time.perf_counter()
    response = client.post(
        API + route,
        content=BILLION_LAUGHS,
        headers={**auth_json, "Content-type": "application/xml"},
    )
    assert time.perf_counter() - started < 1.0
    assert response.status_code == 400
    assert response.json()["errorCode"] == 1


@pytest.fixture
def small_ingest(catalogue: Catalogue, clock: FakeClock) -> Iterator[TestClient]:
    settings = Settings(db=catalogue.url, max_ingest_body_mib=1, max_body_kib=4)
    with TestClient(create_app(settings, clock=clock, run_engine=False)) as client:
        yield client


def jobs_body(count: int, start: int = 800_000) -> dict[str, object]:
    return {
        "jobs": [
            {"jobId": start + n, "status": "Completed", "jobType": "Backup", "jobEndTime": 1}
            for n in range(count)
        ]
    }


def test_ingest_takes_bodies_up_to_its_own_limit(
    small_ingest: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    # About 600 KiB: far over the vendor routes' 4 KiB here, under the ingest's 1 MiB.
    response = small_ingest.post(V1 + "jobs", json=jobs_body(8000), headers=auth_json)
    assert response.status_code == 200, response.text[:200]
    assert catalogue.scalar("SELECT count(*) FROM jobs WHERE id >= 800000") == 8000


@pytest.mark.parametrize("declared", [True, False])
def test_a_body_over_the_limit_is_413_and_writes_nothing(
    small_ingest: TestClient, catalogue: Catalogue, auth_json: dict[str, str], declared: bool
) -> None:
    import orjson

    body = orjson.dumps(jobs_body(15000))  # about 1.1 MiB
    assert len(body) > 1024 * 1024

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    response = small_ingest.post(
        V1 + "jobs",
        content=body if declared else chunks(),
        headers={**auth_json, "Content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["errorCode"] == 413
    assert catalogue.scalar("SELECT count(*) FROM jobs WHERE id >= 800000") == 0
    small = small_ingest.post(
        API + "JobDetails",
        content=b'{"jobId": 4, "pad": "' + b"x" * 5000 + b'"}',
        headers={**auth_json, "Content-type": "application/json"},
    )
    assert small.status_code == 413  # the vendor routes keep their own, smaller limit


@pytest.mark.parametrize(
    "path",
    [
        "Job?limit=99999999999999999999999999",
        "Job?offset=-1",
        "Job?offset=1e3",
        "Job?clientId=0x10",
        "Job?completedJobLookupTime=%EF%BC%91",  # a full-width digit one
        "Job/1e3",
        "Job/%EF%BC%94",
        "Job/4/AdvancedDetails?infoType=99999999999999999999999",
        "Events?limit=10001",
        "Events?fromTime=-1",
        "Events/0",
    ],
)
def test_absurd_numbers_are_400(client: TestClient, auth_json: dict[str, str], path: str) -> None:
    response = client.get(API + path, headers=auth_json)
    assert response.status_code == 400, response.text
    assert response.json()["errorCode"] == 1
