"""No lost data: a server killed with SIGKILL in the middle of a stream of ingest batches
and job actions keeps every write it acknowledged and nothing half-written; a server sent
SIGTERM finishes the requests in flight and exits 0."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.catalogues import Catalogue
from tests.e2e.conftest import PASSWORD, Server, free_port, wait_until_up

pytestmark = pytest.mark.postgres_too

V1 = "/cvjobs/v1/"
API = "/commandcenter/api/"
BATCH = 20


@contextmanager
def server_group(
    workdir: Path, db: str, log_name: str
) -> Iterator[tuple[Server, subprocess.Popen[bytes]]]:
    """`cvjobs serve` in a process group of its own, so that SIGKILL reaches its workers."""
    log = workdir / log_name
    srv = Server("127.0.0.1", free_port(), Path(db), log, PASSWORD)
    env = {**os.environ, "CVJOBS_ADMIN_PASSWORD": PASSWORD, "CVJOBS_DEMO_JOBS": "50"}
    with log.open("wb") as out:
        command = ["serve", "--demo", "--no-engine", "--db", db, "--host", srv.host]
        process = subprocess.Popen(
            [sys.executable, "-m", "cvjobs", *command, "--port", str(srv.port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        wait_until_up(srv.url, process, log)
        yield srv, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def call(
    srv: Server,
    method: str,
    path: str,
    body: Any = None,
    token: str = "",
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, Any]:
    """One request, on `conn` if given (and left open), else on a connection of its own."""
    own = conn is None
    conn = conn or http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    try:
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if token:
            headers["Authtoken"] = token
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        content = response.read()
        return response.status, json.loads(content) if content.startswith(b"{") else content
    finally:
        if own:
            conn.close()


def login(srv: Server) -> str:
    password = base64.b64encode(PASSWORD.encode()).decode()
    status, body = call(srv, "POST", API + "Login", {"username": "admin", "password": password})
    assert status == 200, body
    return str(body["token"])


def batch(first: int) -> list[dict[str, Any]]:
    return [
        {
            "jobId": first + n,
            "status": "Running",
            "jobType": "Backup",
            "percentComplete": n,
            "subclient": {"clientId": 1, "clientName": "crash-test"},
        }
        for n in range(BATCH)
    ]


def test_sigkill_loses_no_acknowledged_write(empty_catalogue: Catalogue, tmp_path: Path) -> None:
    db = empty_catalogue.url
    with server_group(tmp_path, db, "first.log") as (srv, process):
        token = login(srv)
        targets = list(range(700_000, 700_200))
        for start in range(0, len(targets), 100):  # jobs to kill later, acknowledged first
            chunk = [job for first in targets[start : start + 100 : BATCH] for job in batch(first)]
            status, _ = call(srv, "POST", V1 + "jobs", {"jobs": chunk}, token)
            assert status == 200
        acked_batches: list[int] = []
        sent_batches: list[int] = []
        acked_kills: list[int] = []
        sent_kills: list[int] = []
        stop = threading.Event()

        def ingest() -> None:
            first = 800_000
            while not stop.is_set():
                sent_batches.append(first)
                try:
                    status, _ = call(srv, "POST", V1 + "jobs", {"jobs": batch(first)}, token)
                except OSError:
                    return
                if status == 200:
                    acked_batches.append(first)
                first += BATCH

        def kill() -> None:
            for job_id in targets:
                if stop.is_set():
                    return
                sent_kills.append(job_id)
                try:
                    status, body = call(srv, "POST", API + f"Job/{job_id}/action/kill", token=token)
                except OSError:
                    return
                if status == 200 and body.get("errorCode") == 0 and "errors" in body:
                    acked_kills.append(job_id)

        threads = [threading.Thread(target=ingest), threading.Thread(target=kill)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        os.killpg(process.pid, signal.SIGKILL)  # mid-stream, no warning
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        process.wait(timeout=30)
    assert len(acked_batches) >= 3 and len(acked_kills) >= 3, "the stream barely started"

    with server_group(tmp_path, db, "second.log") as (srv, _), ExitStack() as stack:
        token = login(srv)
        kept = http.client.HTTPConnection(srv.host, srv.port, timeout=10)  # one, kept alive
        stack.callback(kept.close)

        def job(job_id: int) -> dict[str, Any] | None:
            status, body = call(srv, "GET", API + f"Job/{job_id}", token=token, conn=kept)
            assert status == 200
            jobs = body.get("jobs") or []
            return jobs[0]["jobSummary"] if jobs else None

        for first in sent_batches:
            found = [job(first + n) for n in range(BATCH)]
            present = [j for j in found if j is not None]
            if first in acked_batches:
                assert len(present) == BATCH, f"acknowledged batch {first} lost jobs"
                assert [j["percentComplete"] for j in present] == list(range(BATCH))
            else:  # in flight when the server died: all of it or none of it
                assert len(present) in (0, BATCH), f"batch {first} is half-written"
        for job_id in sent_kills:
            found_job = job(job_id)
            assert found_job is not None
            if job_id in acked_kills:
                assert found_job["status"] == "Killed", f"acknowledged kill of {job_id} lost"
        for job_id in acked_kills:  # each change came with its event
            status, events = call(srv, "GET", API + f"Events?jobId={job_id}", token=token)
            descriptions = [e["description"] for e in events["commservEvents"]]
            assert any("to [Killed]" in d for d in descriptions), job_id
        # ...and its change log record, written in the same transaction: one record per
        # job written, none for what was not.
        records, cursor = [], 0
        while True:
            status, page = call(srv, "GET", V1 + f"changes?after={cursor}&limit=1000", token=token)
            assert status == 200, page
            records += page["changes"]
            if not page["changes"]:
                break
            cursor = page["next"]
        seqs = [r["seq"] for r in records]
        assert seqs == sorted(set(seqs))
        created = [r["jobId"] for r in records if r["kind"] == "created"]
        stored = [
            first + n for first in sent_batches for n in range(BATCH) if job(first + n) is not None
        ]
        assert sorted(j for j in created if j >= 800_000) == stored
        killed = {r["jobId"] for r in records if r["newStatus"] == "Killed"}
        assert set(acked_kills) <= killed
        assert killed <= set(sent_kills)


def test_sigterm_finishes_requests_in_flight_and_exits_0(tmp_path: Path) -> None:
    with server_group(tmp_path, str(tmp_path / "cvjobs.db"), "server.log") as (srv, process):
        results: list[tuple[int, Any]] = []

        def slow_login() -> None:  # argon2: a tenth of a second each, two at a time
            password = base64.b64encode(PASSWORD.encode()).decode()
            body = {"username": "admin", "password": password}
            results.append(call(srv, "POST", API + "Login", body))

        threads = [threading.Thread(target=slow_login) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.05)  # the logins are in flight
        process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(timeout=30)
        assert process.wait(timeout=30) == 0
        assert len(results) == 4
        assert all(status == 200 and "token" in body for status, body in results)
