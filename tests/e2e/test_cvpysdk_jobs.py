"""cvpysdk's job lists and job control against a real cvjobs process (wire contract §5, §8,
§9). cvpysdk waits with time.sleep between polls; the tests shorten those sleeps."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import urllib.request

import pytest
from cvpysdk.commcell import Commcell
from cvpysdk.exception import SDKException
from cvpysdk.job import Job

from tests.conftest import done
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e
_real_sleep = time.sleep


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cvpysdk.job.time.sleep", lambda seconds: _real_sleep(min(seconds, 0.2)))


@pytest.fixture(scope="module")
def commcell(server: Server) -> Commcell:
    return Commcell(server.address, "admin", server.password)


def rows(server: Server, sql: str) -> list[tuple[int, ...]]:
    with sqlite3.connect(f"file:{server.db}?mode=ro", uri=True) as db:
        return list(db.execute(sql))


def test_all_jobs_with_lookup_and_paging(commcell: Commcell, server: Server) -> None:
    day = commcell.job_controller.all_jobs(lookup_time=24 * 400, limit=10000)
    assert day and all(isinstance(job_id, int) for job_id in day)
    page = commcell.job_controller.all_jobs(lookup_time=24 * 400, limit=5)
    assert list(page) == sorted(day, reverse=True)[:5]
    second = commcell.job_controller.all_jobs(lookup_time=24 * 400, limit=5, offset=5)
    assert list(second) == sorted(day, reverse=True)[5:10]
    one = next(iter(page.values()))
    assert {"status", "job_type", "client_name", "percent_complete"} <= set(one)


def test_job_filter(commcell: Commcell) -> None:
    restores = commcell.job_controller.all_jobs(
        lookup_time=24 * 400, job_filter="Restore", limit=10000
    )
    assert restores and {j["job_type"] for j in restores.values()} == {"Restore"}
    mixed = commcell.job_controller.all_jobs(
        lookup_time=24 * 400, job_filter="Restore,Aux Copy", limit=10000
    )
    assert {j["job_type"] for j in mixed.values()} == {"Restore", "Aux Copy"}


def test_active_and_finished_jobs(commcell: Commcell, server: Server) -> None:
    active = commcell.job_controller.active_jobs(limit=10000)
    assert active
    assert all(not s["status"].lower().startswith("completed") for s in active.values())
    finished = commcell.job_controller.finished_jobs(
        lookup_time=24 * 30, limit=10000, job_summary="full"
    )
    cutoff = time.time() - 30 * 86400 - 60
    assert finished and all(s["jobEndTime"] >= cutoff for s in finished.values())
    assert all(s["jobEndTime"] > 0 for s in finished.values())


def fresh_job(commcell: Commcell) -> Job:
    """A new running job: a resubmission of the seed's finished job 4."""
    return commcell.job_controller.get(4).resubmit()


def test_pause_resume_kill(commcell: Commcell) -> None:
    job = fresh_job(commcell)
    assert job.status == "Running"
    job.pause(wait_for_job_to_pause=True)
    assert job.status == "Suspended"
    job.resume(wait_for_job_to_resume=True)
    assert job.status == "Running"
    job.kill(wait_for_job_to_kill=True)
    assert job.status == "Killed"
    assert job.is_finished
    with pytest.raises(SDKException, match="already Killed"):
        job.kill()


def test_resubmit(commcell: Commcell) -> None:
    original = commcell.job_controller.get(4)
    new = original.resubmit(start_suspended=True)
    assert new.job_id != original.job_id
    assert new.status == "Suspended"
    assert new.client_name == "WINTER" and new.job_type == "Backup"
    new.kill(wait_for_job_to_kill=True)


def test_get_events(commcell: Commcell) -> None:
    job = fresh_job(commcell)
    job.pause(wait_for_job_to_pause=True)
    descriptions = [e["description"] for e in job.get_events()]
    assert any("to [Suspended]" in d for d in descriptions)
    assert any("by user [admin]: suspend" in d for d in descriptions)
    job.kill(wait_for_job_to_kill=True)


def test_concurrent_kills_exactly_one_wins(commcell: Commcell, server: Server) -> None:
    job = fresh_job(commcell)
    token = commcell.auth_token
    results: list[bytes] = []
    barrier = threading.Barrier(8)

    def kill() -> None:
        request = urllib.request.Request(
            f"{server.url}/commandcenter/api/Job/{job.job_id}/action/kill",
            method="POST",
            headers={"Authtoken": token, "Accept": "application/json"},
        )
        barrier.wait()
        with urllib.request.urlopen(request, timeout=10) as response:
            results.append(response.read())

    threads = [threading.Thread(target=kill) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(done(json.loads(body)) for body in results) == 1
    assert len(results) == 8


@pytest.fixture(scope="module")
def fast_commcell(fast_server: Server) -> Commcell:
    return Commcell(fast_server.address, "admin", fast_server.password)


def test_wait_for_completion(fast_commcell: Commcell) -> None:
    job = fast_commcell.job_controller.get(4).resubmit()
    finished_ok = job.wait_for_completion()
    assert job.is_finished
    assert finished_ok == (job.status.lower() not in ("failed", "killed", "failed to start"))
    assert job.summary["percentComplete"] == 100 or job.status == "Failed"
    assert job.summary["jobEndTime"] > 0


def test_a_scoped_viewer_sees_only_its_clients_through_cvpysdk(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Accounts made with the CLI, used by cvpysdk: a viewer limited to one client lists
    only that client's jobs, gets other jobs as missing, and cannot act."""
    import subprocess
    import sys

    # The client of the newest finished job: it has jobs within any lookup time.
    ((mine, client_id, client_name),) = rows(
        server,
        "SELECT j.id, j.client_id, c.name FROM jobs j JOIN clients c ON c.id = j.client_id"
        " WHERE j.end_time > 0 ORDER BY j.end_time DESC LIMIT 1",
    )
    cli = [sys.executable, "-m", "cvjobs", "user"]
    db = ["--db", str(server.db)]
    subprocess.run(
        [*cli, "add", "tenant", "--role", "viewer", *db],
        input="tenant-password\n",
        text=True,
        check=True,
    )
    subprocess.run([*cli, "scope", "tenant", "--clients", str(client_id), *db], check=True)
    viewer = Commcell(server.address, "tenant", "tenant-password")
    listed = viewer.job_controller.all_jobs(lookup_time=24 * 400, limit=10000)
    expected = rows(server, f"SELECT id FROM jobs WHERE client_id = {client_id}")
    assert listed and set(listed) <= {job_id for (job_id,) in expected}
    assert {job["client_name"] for job in listed.values()} == {client_name}
    assert str(viewer.job_controller.get(mine).job_id) == str(mine)  # cvpysdk keeps text
    (other,) = rows(server, f"SELECT min(id) FROM jobs WHERE client_id <> {client_id}")[0]
    # cvpysdk sleeps and retries while the total is 0 (as for any missing job).
    monkeypatch.setattr("cvpysdk.job.time.sleep", lambda _seconds: None)
    with pytest.raises(SDKException, match="No job exists"):
        viewer.job_controller.get(other)
    with pytest.raises(SDKException):
        Job(viewer, mine).kill(wait_for_job_to_kill=False)
