"""The real server over raw sockets: what non-Python clients send."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from xml.etree.ElementTree import fromstring

import pytest

from tests.e2e.conftest import Server, free_port, running_server, wait_until_up

pytestmark = pytest.mark.e2e


def request(
    server: Server, method: str, path: str, body: bytes = b"", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request(
            method, path, body=body, headers={k.replace("_", "-"): v for k, v in headers.items()}
        )
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def xml_login(server: Server) -> str:
    password = base64.b64encode(server.password.encode()).decode()
    body = f'<DM2ContentIndexing_CheckCredentialReq username="admin" password="{password}"/>'
    status, headers, content = request(
        server,
        "POST",
        "/SearchSvc/CVWebService.svc/Login",
        body.encode(),
        Content_type="application/xml",
        Accept="application/xml",
    )
    assert status == 200 and headers["content-type"].startswith("application/xml")
    return fromstring(content).attrib["token"]


def test_startup_banner(server: Server) -> None:
    text = server.log.read_text()
    assert f"listening on {server.url}" in text
    for root in ("commandcenter/api/", "webconsole/api/", "SearchSvc/CVWebService.svc/"):
        assert f"{server.url}/{root}" in text
    assert "created account admin with the password in CVJOBS_ADMIN_PASSWORD" in text
    assert f"log in: POST {server.url}/commandcenter/api/Login" in text


def test_xml_client_over_the_wire(server: Server) -> None:
    token = xml_login(server)
    status, _, content = request(
        server, "GET", "/SEARCHSVC/cvwebservice.svc/job/4", Authtoken=token
    )
    assert status == 200
    summary = fromstring(content).find("jobs/jobSummary")
    assert summary is not None and summary.attrib["backupLevel"] == "INCREMANTAL"
    status, _, content = request(
        server,
        "POST",
        "/webconsole/api/WhoAmI",
        Authtoken=token,
        Content_type="application/xml",
        Content_Length="0",
    )
    assert status == 200 and b'userName="admin"' in content
    status, _, content = request(
        server,
        "POST",
        "/webconsole/api/logout",
        Authtoken=token,
        Content_type="application/xml",
        Content_Length="0",
    )
    assert content == b"User logged out"


def test_tls_probe_does_not_hang_the_server(server: Server) -> None:
    # cvpysdk tries https first on the same port; the server must shrug it off at once.
    with socket.create_connection((server.host, server.port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64)
        s.settimeout(5)
        with contextlib.suppress(ConnectionResetError):
            s.recv(1024)
    status, _, _ = request(server, "GET", "/commandcenter/api/")
    assert status == 200


def raw_exchange(server: Server, request_bytes: bytes) -> bytes:
    """What the server answers to raw bytes before closing, or b"" if it only closes."""
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            s.sendall(request_bytes)
        chunks = []
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


@pytest.mark.parametrize(
    "headers",
    [
        b"X-Big: " + b"a" * (1024 * 1024) + b"\r\n",  # one huge header
        b"".join(b"X-%d: v\r\n" % n for n in range(2000)),  # very many headers
    ],
    ids=["huge header", "many headers"],
)
def test_oversized_headers_are_refused_and_the_server_carries_on(
    server: Server, headers: bytes
) -> None:
    answer = raw_exchange(
        server, b"GET /commandcenter/api/ HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n"
    )
    status_line = answer.split(b"\r\n", 1)[0]
    # Refused with a 4xx, or the connection closed unanswered; never served, never a 5xx.
    assert answer == b"" or re.match(rb"HTTP/1\.1 4\d\d", status_line), status_line
    status, _, _ = request(server, "GET", "/commandcenter/api/")
    assert status == 200


def test_errors_are_never_tracebacks(server: Server) -> None:
    for method, path, body in [
        ("GET", "/commandcenter/api/Job/abc", b""),
        ("POST", "/commandcenter/api/Login", b"{broken"),
        ("GET", "/commandcenter/api/Job/4/AdvancedDetails?infoType=64", b""),
        ("DELETE", "/commandcenter/api/Job/4", b""),
    ]:
        status, _, content = request(
            server, method, path, body, Accept="application/json", Content_type="application/json"
        )
        assert status in (400, 401, 405), (path, status)
        assert "Traceback" not in content.decode()
        assert "errorCode" in json.loads(content)


def test_first_start_prints_a_generated_admin_password(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "first.log"
    env = {k: v for k, v in os.environ.items() if k != "CVJOBS_ADMIN_PASSWORD"}
    db = tmp_path / "first.db"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cvjobs", "serve", "--db", str(db), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        srv = Server("127.0.0.1", port, db, log, "")
        wait_until_up(srv.url, process, log)
        match = re.search(r"created account admin with password: (\S+)", log.read_text())
        assert match, log.read_text()
        password = base64.b64encode(match.group(1).encode()).decode()
        status, _, content = request(
            srv,
            "POST",
            "/commandcenter/api/Login",
            json.dumps({"username": "admin", "password": password}).encode(),
            Accept="application/json",
            Content_type="application/json",
        )
        assert status == 200 and json.loads(content)["token"].startswith("QSDK ")
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0


def test_passwords_and_tokens_never_reach_the_log(server: Server) -> None:
    token = xml_login(server)
    encoded = base64.b64encode(server.password.encode()).decode()
    wrong = base64.b64encode(b"not-the-password-123").decode()
    request(
        server,
        "POST",
        "/commandcenter/api/Login",
        b'{"username": "admin", "password": "' + wrong.encode() + b'"}',
        Content_type="application/json",
    )
    request(server, "GET", "/commandcenter/api/Job/abc", Authtoken=token)
    request(server, "GET", "/commandcenter/api/Job/4", Authtoken=token + "x")
    text = server.log.read_text()
    secret = token.split()[-1]
    for needle in (server.password, encoded, wrong, "not-the-password-123", secret):
        assert needle not in text


def test_a_reported_job_stays_as_reported_beside_a_fast_engine(fast_server: Server) -> None:
    """Issue 11: the engine (here 1000 times faster than real time) moves the demo's jobs,
    never one written through the ingest API; an action on that one settles at once."""
    token = xml_login(fast_server)
    record = {
        "jobId": 880001,
        "status": "Running",
        "jobType": "Backup",
        "backupLevel": 2,
        "currentPhaseName": "Backup",
        "percentComplete": 40,
        "subclient": {"clientId": 2, "subclientId": 2},
    }
    headers = {"Authtoken": token, "Content_type": "application/json", "Accept": "application/json"}
    status, _, _ = request(
        fast_server, "POST", "/cvjobs/v1/jobs", json.dumps(record).encode(), **headers
    )
    assert status == 200

    def summary() -> dict[str, object]:
        _, _, body = request(fast_server, "GET", "/commandcenter/api/Job/880001", b"", **headers)
        found: dict[str, object] = json.loads(body)["jobs"][0]["jobSummary"]
        return found

    before = summary()
    time.sleep(3)  # 3,000 engine seconds: a demo job runs through several phases meanwhile
    assert summary() == before
    assert (before["currentPhaseName"], before["percentComplete"]) == ("Backup", 40)
    request(fast_server, "POST", "/commandcenter/api/Job/880001/action/kill", b"", **headers)
    assert summary()["status"] == "Killed"


def test_an_admin_password_for_an_existing_catalogue_is_said_to_be_ignored(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "c.db")
    for run, password in enumerate(("first-password-1", "second-password-2")):
        env = {"CVJOBS_ADMIN_PASSWORD": password}
        with running_server(tmp_path, "--no-engine", env=env, db=db) as srv:
            text = srv.log.read_text()
        if run == 0:
            assert "created account admin with the password in CVJOBS_ADMIN_PASSWORD" in text
            assert "ignored" not in text
        else:
            assert "CVJOBS_ADMIN_PASSWORD was ignored" in text


def test_the_access_log_in_json_lines(tmp_path: Path) -> None:
    with running_server(tmp_path, "--no-engine", "--log-format", "json") as srv:
        token = xml_login(srv)
        status, headers, body = request(
            srv, "GET", "/commandcenter/api/Job/4", Authtoken=token, X_Request_Id="case-1"
        )
        assert status == 200 and headers["x-request-id"] == "case-1"
        request(srv, "GET", "/commandcenter/api/Job/4?token=" + token.split()[-1])
        # Access lines are written every second while the server runs...
        deadline = time.monotonic() + 5
        while '"case-1"' not in srv.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert '"case-1"' in srv.log.read_text()
    # ...and the rest when it stops.
    lines = [json.loads(line) for line in srv.log.read_text().splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "cvjobs.access"]
    login, job, anonymous = access[-3:]
    assert login["path"] == "/SearchSvc/CVWebService.svc/Login" and login["status"] == 200
    assert job == {
        **job,
        "method": "GET",
        "path": "/commandcenter/api/Job/4",
        "status": 200,
        "bytes": len(body),
        "account": "admin",
        "request_id": "case-1",
        "level": "info",
    }
    assert anonymous["path"] == "/commandcenter/api/Job/4?token=***" and anonymous["status"] == 401
    assert token.split()[-1] not in srv.log.read_text()
