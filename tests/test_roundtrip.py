"""Names of any kind survive the trip in and out unchanged: quotes, angle brackets,
ampersands, white space, any Unicode XML can carry, written by the ingest API or by
`cvjobs import` (NDJSON or a vendor XML document), read back as JSON and as XML parsed by a
standard parser. Text XML cannot carry is refused on the way in, and nothing is written.
Property tests (Hypothesis) with a bounded number of examples."""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import fromstring
from xml.sax.saxutils import quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from cvjobs import parse
from cvjobs.app import create_app
from cvjobs.cli import main
from cvjobs.config import Settings
from tests.conftest import ADMIN_TOKEN, API, CLOCK_START, FakeClock, open_session

V1 = "/cvjobs/v1/"
TRICKY = ['"', "'", "<", ">", "&", "&amp;", "]]>", "\t", "\n", "\r", "\r\n", " ", "\u00a0"]
TRICKY += ["\u2028", "\x7f", "\x85", "😀", "é", "ﬁ", "\u200b", "\\", "%s", "{}", "\U0010fffd"]
xml_text = st.lists(
    st.one_of(
        st.characters(codec="utf-8").filter(lambda c: parse.xml_problem(c) is None),
        st.sampled_from(TRICKY),
    ),
    max_size=20,
).map("".join)
NAMES = {  # where each name sits in a jobSummary, and its id beside it
    ("subclient", "clientName"): ("subclient", "clientId"),
    ("subclient", "subclientName"): ("subclient", "subclientId"),
    ("subclient", "backupsetName"): ("subclient", "backupsetId"),
    ("subclient", "instanceName"): ("subclient", "instanceId"),
    ("subclient", "appName"): ("subclient", "applicationId"),
    ("storagePolicy", "storagePolicyName"): ("storagePolicy", "storagePolicyId"),
    ("userName", "userName"): ("userName", "userId"),
}
TEXTS = ("pendingReason", "currentPhaseName", "pendingReasonErrorCode", "jobType")


def summary(job_id: int, names: list[str], texts: list[str]) -> dict[str, Any]:
    record: dict[str, Any] = {"jobId": job_id, "status": "Running"}
    for n, ((parent, key), (_, id_key)) in enumerate(NAMES.items()):
        record.setdefault(parent, {})[key] = names[n]
        # Each name under its own id, so names never rename another job's entity.
        record[parent][id_key] = job_id * 10 + n
    for key, text in zip(TEXTS, texts, strict=True):
        record[key] = text
    if not record["jobType"].strip():
        record["jobType"] = "Backup"
    return record


def check_both_formats(client: TestClient, sent: dict[str, Any]) -> None:
    headers = {"Authtoken": ADMIN_TOKEN}
    job_id = sent["jobId"]
    got = client.get(API + f"Job/{job_id}", headers={**headers, "Accept": "application/json"})
    summary_json = got.json()["jobs"][0]["jobSummary"]
    xml = client.get(API + f"Job/{job_id}", headers={**headers, "Accept": "application/xml"})
    element = fromstring(xml.content).find("jobs/jobSummary")
    assert element is not None
    for parent, key in NAMES:
        assert summary_json[parent][key] == sent[parent][key]
        child = element.find(parent)
        assert child is not None and child.get(key) == sent[parent][key]
    for key in TEXTS[:-1]:  # jobType is stored by its canonical name when it is a known one
        assert summary_json[key] == sent[key]
        assert element.get(key) == sent[key]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("roundtrip") / "cvjobs.db")
    open_session(path)
    return path


@pytest.fixture(scope="module")
def app_client(db: str) -> Iterator[TestClient]:
    app = create_app(Settings(db=db), clock=FakeClock(CLOCK_START), run_engine=False)
    with TestClient(app) as client:
        yield client


_ids = iter(range(1_000_000, 2_000_000))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    names=st.lists(xml_text, min_size=7, max_size=7),
    texts=st.lists(xml_text, min_size=4, max_size=4),
)
def test_ingested_names_come_back_unchanged(
    app_client: TestClient, names: list[str], texts: list[str]
) -> None:
    sent = summary(next(_ids), names, texts)
    response = app_client.post(V1 + "jobs", json=sent, headers={"Authtoken": ADMIN_TOKEN})
    assert response.status_code == 200, response.text
    check_both_formats(app_client, sent)


# Every character XML 1.0 cannot carry that UTF-8 can (drawn from, not filtered for:
# filtering all characters for these few failed Hypothesis' health check now and then).
XML_CANNOT = [
    c for c in map(chr, [*range(0x20), 0xFFFE, 0xFFFF]) if parse.xml_problem(c) is not None
]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=xml_text,
    bad=st.sampled_from(XML_CANNOT),
    after=xml_text,
    where=st.sampled_from(list(NAMES) + [(None, t) for t in TEXTS]),
)
def test_text_xml_cannot_carry_is_refused(
    app_client: TestClient, before: str, bad: str, after: str, where: tuple[str | None, str]
) -> None:
    job_id = next(_ids)
    sent = summary(job_id, ["n"] * 7, ["t"] * 4)
    parent, key = where
    (sent[parent] if parent else sent)[key] = before + bad + after
    response = app_client.post(V1 + "jobs", json=sent, headers={"Authtoken": ADMIN_TOKEN})
    assert response.status_code == 400
    assert f"U+{ord(bad):04X}" in response.json()["errorMessage"]
    got = app_client.get(API + f"Job/{job_id}", headers={"Authtoken": ADMIN_TOKEN})
    assert 'totalRecordsWithoutPaging="0"' in got.text


def tricky_records(first_id: int) -> list[dict[str, Any]]:
    words = [*TRICKY, string.punctuation, "".join(TRICKY)]
    return [
        summary(first_id + n, [w, w + "x", "x" + w, w * 2, w, w, w], [w, w, w, "Backup"])
        for n, w in enumerate(words)
    ]


def as_xml_document(records: list[dict[str, Any]]) -> str:
    """A GET Job answer as the vendor writes it, with every value escaped."""

    def element(name: str, body: dict[str, Any]) -> str:
        attrs = "".join(
            f" {k}={quoteattr(str(v), {chr(9): '&#9;', chr(10): '&#10;', chr(13): '&#13;'})}"
            for k, v in body.items()
            if not isinstance(v, dict)
        )
        children = "".join(element(k, v) for k, v in body.items() if isinstance(v, dict))
        return f"<{name}{attrs}>{children}</{name}>"

    jobs = "".join(f"<jobs>{element('jobSummary', r)}</jobs>" for r in records)
    return f"<JobManager_JobListResponse>{jobs}</JobManager_JobListResponse>"


@pytest.mark.parametrize("form", ["ndjson", "xml"])
def test_imported_names_come_back_unchanged(
    app_client: TestClient, db: str, tmp_path: Path, form: str
) -> None:
    records = tricky_records(3_000_000 if form == "ndjson" else 3_100_000)
    path = tmp_path / f"jobs.{form}"
    if form == "ndjson":
        path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    else:
        path.write_text(as_xml_document(records), encoding="utf-8")
    assert main(["import", "--db", db, str(path)]) == 0
    for record in records:
        check_both_formats(app_client, record)
