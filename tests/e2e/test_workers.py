"""`cvjobs serve --workers 2`: any worker accepts any token, the engine runs in exactly one
worker, and when that worker dies another takes the engine over."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.catalogues import RUN, Catalogue, admin_sql, pg_url, postgres_problem
from tests.e2e.conftest import PASSWORD, Server, running_server

pytestmark = pytest.mark.e2e


def call(server: Server, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"{server.url}/commandcenter/api/{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Accept": "application/json",
            "Content-Type": "application/json",
            **({"Authtoken": token} if token else {}),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def login(server: Server) -> str:
    body = {"username": "admin", "password": base64.b64encode(PASSWORD.encode()).decode()}
    token: str = call(server, "POST", "Login", body=body)["token"]
    return token


def wait_for(condition: Callable[[], object], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def lock_holders(lock_file: Path) -> list[int]:
    """The pids holding a flock on the file, from /proc/locks."""
    inode = os.stat(lock_file).st_ino
    holders = []
    for line in Path("/proc/locks").read_text().splitlines():
        parts = line.split()
        if "FLOCK" in parts and parts[-3].split(":")[-1] == str(inode):
            holders.append(int(parts[4]))
    return holders


def engine_settles(server: Server, token: str) -> bool:
    """Whether the engine is alive: a fresh job's pause settles to Suspended."""
    new_id = int(call(server, "POST", "Job/4/action/Resubmit", token)["jobIds"][0])
    call(server, "POST", f"Job/{new_id}/action/pause", token)

    def suspended() -> bool:
        status: str = call(server, "GET", f"Job/{new_id}", token)["jobs"][0]["jobSummary"]["status"]
        return status == "Suspended"

    return wait_for(suspended)


def requests_counted(server: Server, token: str, route: str) -> float:
    """What /metrics (of whichever worker answers) says the workers answered on `route`
    with GET and 200."""
    request = urllib.request.Request(f"{server.url}/metrics", headers={"Authtoken": token})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            wanted = {"route": route, "method": "GET", "status": "200"}
            if sample.name == "cvjobs_http_requests_total" and sample.labels == wanted:
                return float(sample.value)
    return 0.0


def test_two_workers_on_sqlite(tmp_path: Path) -> None:
    with running_server(tmp_path, "--workers", "2", "--demo-job-interval", "0") as server:
        token = login(server)
        for _ in range(50):  # spread over both workers by the kernel
            assert call(server, "GET", "Job/4", token)["totalRecordsWithoutPaging"] == 1
        # Each worker counted its own; a scrape of either adds the other's (saved each
        # second): the total, whichever answers, once both have saved.
        assert wait_for(
            lambda: all(requests_counted(server, token, "Job/{job_id}") == 50 for _ in range(6))
        )
        lock = Path(str(server.db) + ".engine-lock")
        assert wait_for(lambda: lock.exists() and len(lock_holders(lock)) == 1)
        assert engine_settles(server, token)
        (leader,) = lock_holders(lock)
        os.kill(leader, signal.SIGKILL)
        # uvicorn starts a new worker; one of the living ones takes the engine over
        assert wait_for(lambda: lock_holders(lock) not in ([], [leader]), 30)
        assert engine_settles(server, token)


def test_two_workers_on_postgres(tmp_path: Path) -> None:
    problem = postgres_problem()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    database = f"{RUN}_workers"

    asyncio.run(admin_sql(f"CREATE DATABASE {database}"))
    catalogue = Catalogue("postgres", pg_url(database))
    try:
        with running_server(
            tmp_path, "--workers", "2", "--demo-job-interval", "0", db=catalogue.url
        ) as server:
            token = login(server)
            for _ in range(50):
                assert call(server, "GET", "Job/1452", token)["totalRecordsWithoutPaging"] == 1
            holders = (
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 7227002"
            )
            assert wait_for(lambda: catalogue.scalar(holders) == 1)
            assert engine_settles(server, token)
            assert catalogue.scalar(holders) == 1
    finally:
        asyncio.run(admin_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
