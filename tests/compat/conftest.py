"""The compatibility suite: the exact requests of each public client family of the vendor's
job API, replayed against a real cvjobs server, with the fields each client reads asserted
present and of the right type (issue 10). Where the client is a Python package on PyPI
(cvpysdk, pinkopy), the client itself is driven."""

from __future__ import annotations

import base64
import http.client
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, fromstring

import pytest

# PASSWORD is re-exported: the compat tests log in with it.
from tests.e2e.conftest import PASSWORD as PASSWORD
from tests.e2e.conftest import Server, running_server


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def xml(self) -> Element:
        return fromstring(self.body)


@dataclass(frozen=True)
class Wire:
    """Requests sent as a client sends them: the method, path, headers and body given,
    and nothing else but Host and Content-Length."""

    server: Server

    def send(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Answer:
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=30)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            if body or method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            response = conn.getresponse()
            return Answer(
                response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
            )
        finally:
            conn.close()


@pytest.fixture(scope="session")
def compat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A demo server without the engine, so the jobs stay as they are between requests."""
    workdir = tmp_path_factory.mktemp("compat")
    # 3,000 jobs: the newest 1,500 ran within the last year, where clients look.
    with running_server(
        workdir, "--no-engine", "--demo-job-interval", "0", env={"CVJOBS_DEMO_JOBS": "3000"}
    ) as srv:
        yield srv


@pytest.fixture(scope="session")
def wire(compat_server: Server) -> Wire:
    return Wire(compat_server)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def xml_login(wire: Wire, root: str, body: str, headers: dict[str, str] | None = None) -> str:
    """The token of an XML Login, from the answer's root `token` attribute."""
    answer = wire.send("POST", root + "Login", headers or {}, body.encode())
    assert answer.status == 200, answer.body
    element = answer.xml()
    assert element.tag == "DM2ContentIndexing_CheckCredentialResp"
    assert element.find("errList") is None
    return element.attrib["token"]


def json_login(wire: Wire, root: str = "/webconsole/api/") -> str:
    body = json.dumps({"username": "admin", "password": b64(PASSWORD)}).encode()
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    answer = wire.send("POST", root + "Login", headers, body)
    assert answer.status == 200
    token: str = answer.json()["token"]
    return token


def busiest_client(wire: Wire, token: str) -> int:
    """The client with the most backup jobs in the last year."""
    answer = wire.send(
        "GET", "/webconsole/api/Job?limit=10000", {"Accept": "application/json", "Authtoken": token}
    )
    counts = Counter(j["jobSummary"]["subclient"]["clientId"] for j in answer.json()["jobs"])
    return int(counts.most_common(1)[0][0])


_NEXT_ID = iter(range(700_000, 800_000))


def running_job(wire: Wire, token: str) -> int:
    """A new Running backup job of the demo's first client, written through the ingest
    API, for a test to act on."""
    job_id = next(_NEXT_ID)
    record = {
        "jobId": job_id,
        "status": "Running",
        "jobType": "Backup",
        "backupLevel": 2,
        "subclient": {"clientId": 2, "subclientId": 2, "subclientName": "default"},
    }
    headers = {"Authtoken": token, "Content-Type": "application/json"}
    answer = wire.send("POST", "/cvjobs/v1/jobs", headers, json.dumps(record).encode())
    assert answer.status == 200, answer.body
    return job_id
