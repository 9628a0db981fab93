"""Webhooks end to end: `cvjobs webhook add` beside a running server, a failed job
reported through the ingest API, and the signed message at a real receiver; a server
killed mid-delivery sends it again after its restart, once."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook as Verifier

from tests.e2e.test_crash import V1, call, login, server_group

pytestmark = pytest.mark.e2e


class Received:
    def __init__(self) -> None:
        self.messages: list[tuple[dict[str, str], bytes]] = []
        self.stall = threading.Event()  # set: hold each answer for a while
        self.arrived = threading.Event()


@contextmanager
def receiver() -> Iterator[tuple[str, Received]]:
    got = Received()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.messages.append(({k.lower(): v for k, v in self.headers.items()}, body))
            got.arrived.set()
            if got.stall.is_set():
                time.sleep(4)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/cvjobs", got
    finally:
        server.shutdown()
        server.server_close()


def cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cvjobs", "webhook", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def failed_job(job_id: int) -> dict[str, Any]:
    return {"jobId": job_id, "status": "Failed", "jobType": "Backup", "pendingReason": "no media"}


def wait_for(condition: Any, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "waited too long"
        time.sleep(0.1)


def test_a_failed_job_reaches_the_endpoint_signed(tmp_path: Path) -> None:
    db = str(tmp_path / "cvjobs.db")
    with receiver() as (url, got), server_group(tmp_path, db, "server.log") as (srv, _):
        added = cli("add", url, "--events", "job.failed", "--db", db)
        secret = added.split("secret (shown once, to verify signatures): ", 1)[1].split()[0]
        assert url in cli("list", "--db", db) and secret not in cli("list", "--db", db)
        token = login(srv)
        status, _ = call(srv, "POST", V1 + "jobs", failed_job(990_001), token)
        assert status == 200
        wait_for(lambda: len(got.messages) == 1)
        headers, body = got.messages[0]
        message = Verifier(secret).verify(body, headers)
        assert message["type"] == "job.failed"
        assert message["data"]["jobSummary"]["jobId"] == 990_001
        assert message["data"]["jobSummary"]["pendingReason"] == "no media"
        wait_for(lambda: "delivered" in cli("deliveries", "--db", db))


def test_a_server_killed_mid_delivery_sends_it_again_once(tmp_path: Path) -> None:
    db = str(tmp_path / "cvjobs.db")
    with receiver() as (url, got):
        with server_group(tmp_path, db, "first.log") as (srv, process):
            cli("add", url, "--events", "job.failed", "--db", db)
            got.stall.set()  # the answer is held: the server is killed while it waits
            status, _ = call(srv, "POST", V1 + "jobs", failed_job(990_002), login(srv))
            assert status == 200
            assert got.arrived.wait(20)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        got.stall.clear()
        first_id = got.messages[0][0]["webhook-id"]
        with server_group(tmp_path, db, "second.log"):
            wait_for(lambda: len(got.messages) >= 2)
            time.sleep(2.5)  # two more rounds of the outbox: nothing more comes
        ids = [headers["webhook-id"] for headers, _ in got.messages]
        assert ids == [first_id, first_id]
        assert json.loads(got.messages[1][1])["data"]["jobSummary"]["jobId"] == 990_002


def test_a_chat_template_and_a_rotation_from_the_command_line(tmp_path: Path) -> None:
    db = str(tmp_path / "cvjobs.db")
    template = tmp_path / "slack.j2"
    template.write_text(
        '{"text": {{ ("Job %s failed: %s" | format(job.jobId, job.status)) | tojson }}}'
    )
    with receiver() as (url, got), server_group(tmp_path, db, "server.log") as (srv, _):
        added = cli("add", url, "--events", "job.failed", "--template", str(template), "--db", db)
        hook_id = added.split(":", 1)[0].removeprefix("webhook ")
        old = added.split("signatures): ", 1)[1].split()[0]
        assert "\ttemplated" in cli("list", "--db", db)
        rotated = cli("rotate", hook_id, "--keep-old-hours", "1", "--db", db)
        new = rotated.split("signatures): ", 1)[1].split()[0]
        assert "and with the old one too until" in rotated and new != old
        status, _ = call(srv, "POST", V1 + "jobs", failed_job(990_003), login(srv))
        assert status == 200
        wait_for(lambda: len(got.messages) == 1)
        headers, body = got.messages[0]
        assert json.loads(body) == {"text": "Job 990003 failed: Failed"}
        for secret in (old, new):
            Verifier(secret).verify(body, headers)
        assert "standard messages" in cli("template", hook_id, "--db", db)
        assert "\ttemplated" not in cli("list", "--db", db)
        wrong = subprocess.run(
            [sys.executable, "-m", "cvjobs", "webhook", "enable", "999", "--db", db],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert wrong.returncode != 0 and "there is no webhook 999" in wrong.stderr
        assert "Traceback" not in wrong.stderr


def stale_backup(job_id: int, ended: int) -> dict[str, Any]:
    """A Completed backup of a client of its own, stale-01, that ended at `ended`."""
    return {
        "jobId": job_id,
        "status": "Completed",
        "jobType": "Backup",
        "backupLevel": 1,
        "percentComplete": 100,
        "jobStartTime": ended - 600,
        "jobEndTime": ended,
        "lastUpdateTime": ended,
        "subclient": {
            "clientId": 7001,
            "clientName": "stale-01",
            "applicationId": 33,
            "appName": "File System",
            "subclientId": 7002,
            "subclientName": "default",
        },
    }


def test_a_client_past_its_rpo_is_told_once_across_restarts(tmp_path: Path) -> None:
    db = str(tmp_path / "cvjobs.db")
    with server_group(tmp_path, db, "first.log") as (srv, _):
        backup = stale_backup(990_010, int(time.time()) - 30 * 3600)
        assert call(srv, "POST", V1 + "jobs", backup, login(srv))[0] == 200
    overdue = subprocess.run(
        [sys.executable, "-m", "cvjobs", "rpo", "overdue", "--db", db],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert any("\tstale-01\tRPO 24 h\t" in line for line in overdue)
    with receiver() as (url, got):

        def told() -> dict[str, Any]:
            """Each message by its webhook-id: one sent as the server was killed, before
            it recorded the answer, comes again with the same id (at least once)."""
            return {h["webhook-id"]: json.loads(body)["data"] for h, body in got.messages}

        cli("add", url, "--events", "job.overdue", "--db", db)
        with server_group(tmp_path, db, "second.log"):  # checks as it starts
            wait_for(lambda: len(told()) == len(overdue))
        [stale] = [d for d in told().values() if d["client"]["clientName"] == "stale-01"]
        assert stale["lastSuccessfulJob"]["jobId"] == 990_010 and stale["rpoSeconds"] == 86_400
        with server_group(tmp_path, db, "third.log"):  # killed and started again
            time.sleep(2.5)
        assert len(told()) == len(overdue)  # each client told once
        assert sorted(d["client"]["clientName"] for d in told().values()) == sorted(
            line.split("\t")[1] for line in overdue
        )
