"""The change feed against a real server: server-sent events that follow the writes and
resume from Last-Event-ID, a long poll that returns when a change is written, and clients
that hang up costing nothing."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_crash import login

pytestmark = pytest.mark.e2e

CHANGES = "/cvjobs/v1/changes"


def events(srv: Server, token: str, jobs: set[int], **headers: str) -> list[dict[str, Any]]:
    """The events of a stream (read as an EventSource would, with their ids) until one of
    each of `jobs` has come (the engine's changes come between)."""
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
    try:
        conn.request(
            "GET", CHANGES, headers={"Authtoken": token, "Accept": "text/event-stream", **headers}
        )
        response = conn.getresponse()
        assert response.status == 200, response.read()
        assert response.getheader("content-type", "").startswith("text/event-stream")
        found: list[dict[str, Any]] = []
        fields: dict[str, str] = {}
        while not jobs <= {e["jobId"] for e in found}:
            line = response.readline().decode().rstrip("\n")
            if line == "":
                if "data" in fields:
                    found.append({"id": int(fields["id"]), **json.loads(fields["data"])})
                    assert fields["event"] == "change"
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value
        return found
    finally:
        conn.close()


def get(srv: Server, token: str, **params: Any) -> tuple[int, Any]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=90)
    try:
        conn.request("GET", f"{CHANGES}?{query}", headers={"Authtoken": token})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def ingest(srv: Server, token: str, job_ids: range) -> None:
    """Reported jobs, one request each, a little apart (from another thread)."""
    for job_id in job_ids:
        time.sleep(0.1)
        body = json.dumps({"jobId": job_id, "status": "Running", "jobType": "Backup"})
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
        try:
            conn.request("POST", "/cvjobs/v1/jobs", body, {"Authtoken": token})
            assert conn.getresponse().status == 200
        finally:
            conn.close()


def test_an_event_stream_follows_the_writes_and_resumes_where_it_stopped(server: Server) -> None:
    token = login(server)
    writer = threading.Thread(target=ingest, args=(server, token, range(880_001, 880_006)))
    writer.start()
    first = events(server, token, {880_001, 880_002})  # from now on
    ours = [(e["jobId"], e["kind"]) for e in first if e["jobId"] > 880_000]
    assert ours == [(880_001, "created"), (880_002, "created")]
    ids = [e["id"] for e in first]
    assert ids == [e["seq"] for e in first] == list(range(ids[0], ids[0] + len(ids)))
    resumed = events(server, token, {880_005}, **{"Last-Event-ID": str(ids[-1])})
    writer.join()
    assert [e["jobId"] for e in resumed if e["jobId"] > 880_000] == [880_003, 880_004, 880_005]
    assert resumed[0]["id"] == ids[-1] + 1  # nothing missed, nothing twice
    _, page = get(server, token, after=ids[-1], limit=len(resumed))
    assert [c["seq"] for c in page["changes"]] == [e["id"] for e in resumed]


def test_a_long_poll_returns_with_the_next_change(server: Server) -> None:
    token = login(server)
    _, page = get(server, token, limit=1)
    writer = threading.Thread(target=ingest, args=(server, token, range(880_101, 880_102)))
    started = time.monotonic()
    writer.start()
    seen: list[int] = []
    while 880_101 not in seen and time.monotonic() - started < 60:
        status, page = get(server, token, after=page["next"], wait=30)
        assert status == 200 and page["changes"], page  # (the engine's, or ours)
        seen += [c["jobId"] for c in page["changes"]]
    writer.join()
    assert 880_101 in seen
    assert time.monotonic() - started < 20  # not the whole wait


def test_a_pruned_cursor_is_410_on_the_stream_too(server: Server) -> None:
    token = login(server)
    _, now = get(server, token, limit=1)
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request(
            "GET",
            CHANGES,
            headers={
                "Authtoken": token,
                "Accept": "text/event-stream",
                "Last-Event-ID": str(now["head"] + 1000),
            },
        )
        response = conn.getresponse()
        assert response.status == 410
        assert json.loads(response.read())["head"] >= now["head"]
    finally:
        conn.close()


def test_streams_left_or_hung_up_leave_no_trace_in_the_log(server: Server) -> None:
    token = login(server)
    request = (
        f"GET {CHANGES} HTTP/1.1\r\nHost: x\r\nAuthtoken: {token}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    ).encode()
    for _ in range(5):
        with socket.create_connection((server.host, server.port), timeout=5) as s:
            s.sendall(request)
            assert s.recv(200).startswith(b"HTTP/1.1 200")
    status, _ = get(server, token, limit=1)
    assert status == 200
    time.sleep(1.2)  # the access log is written every second
    assert "Traceback" not in server.log.read_text()
