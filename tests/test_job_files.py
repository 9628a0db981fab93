"""`cvjobs import`: the three input forms, round trips, and bad files that write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cvjobs.app import create_app
from cvjobs.cli import main
from cvjobs.config import Settings
from tests.catalogues import Catalogue
from tests.conftest import API, CLOCK_START, FIXTURES, FakeClock, open_session

pytestmark = pytest.mark.postgres_too


def count_jobs(db: Catalogue) -> int:
    return int(db.scalar("SELECT count(*) FROM jobs"))


def serve(db: Catalogue) -> tuple[TestClient, dict[str, str]]:
    token = open_session(db)
    return TestClient(
        create_app(Settings(db=str(db)), clock=FakeClock(CLOCK_START), run_engine=False)
    ), {"Authtoken": token}


def import_files(db: Catalogue | Path, *args: str | Path) -> int:
    return main(["import", "--db", str(db), *map(str, args)])


def test_vendor_xml_document_imports_as_is(empty_catalogue: Catalogue) -> None:
    db = empty_catalogue
    assert import_files(db, FIXTURES / "seed_job4.xml") == 0
    client, token = serve(db)
    with client:
        body = client.get(API + "Job/4", headers={**token, "Accept": "application/json"}).json()
    summary = body["jobs"][0]["jobSummary"]
    assert summary["backupLevel"] == 2 and summary["percentComplete"] == 100
    assert summary["subclient"]["clientName"] == "WINTER"
    assert summary["destinationClient"] == {"clientId": 2, "clientName": "WINTER"}
    assert summary["jobEndTime"] == 0  # the sample does not carry it


def test_ndjson(
    empty_catalogue: Catalogue, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        {
            "jobId": 7,
            "status": "running",
            "jobType": "Backup",
            "backupLevel": "Full",
            "subclient": {"clientId": 3, "clientName": "a"},
        },
        {"jobSummary": {"jobId": 8, "status": "Failed", "jobType": "Restore"}},
    ]
    path = tmp_path / "jobs.ndjson"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    db = empty_catalogue
    assert import_files(db, path) == 0
    assert "2 job(s) imported" in capsys.readouterr().out
    client, token = serve(db)
    with client:
        summary = client.get(API + "Job/7", headers={**token, "Accept": "application/json"}).json()[
            "jobs"
        ][0]["jobSummary"]
    assert summary["status"] == "Running" and summary["backupLevelName"] == "Full"


def test_import_is_idempotent(empty_catalogue: Catalogue) -> None:
    db = empty_catalogue
    for _ in range(2):
        assert import_files(db, FIXTURES / "seed_job4.xml") == 0
    assert count_jobs(db) == 1


def export_all(
    client: TestClient, token: dict[str, str], ids: list[int], accept: str
) -> list[bytes]:
    return [client.get(API + f"Job/{i}", headers={**token, "Accept": accept}).content for i in ids]


@pytest.mark.slow  # seconds on purpose; the fast loop leaves it out
def test_round_trip_export_import_gives_identical_output(
    catalogue: Catalogue, empty_catalogue: Catalogue, tmp_path: Path
) -> None:
    ids = [r[0] for r in catalogue.sql("SELECT id FROM jobs ORDER BY id")]
    client, token = serve(catalogue)
    with client:
        json_before = export_all(client, token, ids, "application/json")
        xml_before = export_all(client, token, ids, "application/xml")
    document = {
        "totalRecordsWithoutPaging": len(ids),
        "jobs": [json.loads(b)["jobs"][0] for b in json_before],
    }
    path = tmp_path / "export.json"
    path.write_text(json.dumps(document))
    fresh = empty_catalogue
    assert import_files(fresh, path) == 0
    client, token = serve(fresh)
    with client:
        assert export_all(client, token, ids, "application/json") == json_before
        assert export_all(client, token, ids, "application/xml") == xml_before


def test_xml_round_trip(catalogue: Catalogue, empty_catalogue: Catalogue, tmp_path: Path) -> None:
    client, token = serve(catalogue)
    with client:
        before = client.get(
            API + "Job/1452", headers={**token, "Accept": "application/xml"}
        ).content
    path = tmp_path / "1452.xml"
    path.write_bytes(before)
    fresh = empty_catalogue
    assert import_files(fresh, path) == 0
    client, token = serve(fresh)
    with client:
        assert (
            client.get(API + "Job/1452", headers={**token, "Accept": "application/xml"}).content
            == before
        )


@pytest.mark.parametrize("sample", ["seed_job1452_advanced.json", "seed_job1452_advanced.xml"])
def test_advanced_details_document(empty_catalogue: Catalogue, tmp_path: Path, sample: str) -> None:
    db = empty_catalogue
    ndjson = tmp_path / "j.ndjson"
    ndjson.write_text(
        json.dumps(
            {
                "jobId": 1452,
                "status": "Completed",
                "jobType": "Backup",
                "subclient": {
                    "applicationId": 53,
                    "appName": "Exchange Database",
                    "clientId": 7,
                    "clientName": "EXCH001",
                },
            }
        )
    )
    assert import_files(db, ndjson) == 0
    assert (
        main(
            [
                "import",
                "--db",
                str(db),
                "--job-id",
                "1452",
                "--info-type",
                "16",
                str(FIXTURES / sample),
            ]
        )
        == 0
    )
    client, token = serve(db)
    with client:
        got = client.get(
            API + "Job/1452/AdvancedDetails?infoType=16",
            headers={**token, "Accept": "application/json"},
        ).json()
    assert got == json.loads((FIXTURES / "seed_job1452_advanced.json").read_text())


GOOD = {"jobId": 1, "status": "Completed", "jobType": "Backup"}


def line(**changes: object) -> str:
    return json.dumps({**GOOD, **changes})


XML_BAD_AGED = (
    "<JobManager_JobListResponse><jobs><jobSummary jobId='1' status='Completed'"
    " jobType='Backup' isAged='perhaps'/></jobs></JobManager_JobListResponse>"
)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (line() + "\n" + line(jobId=2, status="Bogus"), ["line 2", "jobId 2", "'status'", "Bogus"]),
        (line() + "\n" + line(jobId="x"), ["line 2", "'jobId'"]),
        (line() + "\nnot json", ["line 2", "not valid JSON"]),
        (line(percentComplete=140), ["'percentComplete'"]),
        (line(sizeOfApplication=-5), ["'sizeOfApplication'"]),
        (line(isVisible="maybe"), ["'isVisible'"]),
        (line(backupLevel=3), ["'backupLevel'"]),
        (line(subclient={"clientId": "two"}), ["'clientId'"]),
        (line(jobType=""), ["'jobType'", "required"]),
        (json.dumps({"jobs": [{"jobSummary": GOOD}, {"nope": 1}]}), ["record 2"]),
        (line() + "\n" + line(status="Failed"), ["appears more than once"]),
        (XML_BAD_AGED, ["record 1", "'isAged'"]),
        ("<Other/>", ["expected JobManager_JobListResponse"]),
        ("<JobManager_JobListResponse>", ["not well-formed"]),
    ],
)
def test_a_bad_record_writes_nothing(
    catalogue: Catalogue,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    words: list[str],
) -> None:
    good = tmp_path / "good.ndjson"
    good.write_text('{"jobId": 5000001, "status": "Completed", "jobType": "Backup"}\n')
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    before = count_jobs(catalogue)
    assert import_files(catalogue, good, bad) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "nothing was written" in err
    for word in words:
        assert word in err
    assert count_jobs(catalogue) == before


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert import_files(tmp_path / "db.db", tmp_path / "nope.json") == 1
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--job-id", "1452"], "go together"),
        (["--job-id", "1452", "--info-type", "32"], "infoType 32 is not valid"),
        (["--job-id", "1452", "--info-type", "1"], "does not belong to infoType 1"),
        (["--job-id", "424242", "--info-type", "16"], "there is no job 424242"),
    ],
)
def test_bad_advanced_details_imports(
    catalogue: Catalogue, capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    code = main(
        ["import", "--db", str(catalogue), *args, str(FIXTURES / "seed_job1452_advanced.json")]
    )
    assert code == 1
    assert words in capsys.readouterr().err


def test_advanced_details_error_document_is_refused(
    catalogue: Catalogue, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "err.json"
    path.write_text('{"errorCode": 2, "errorMessage": "no"}')
    assert (
        main(["import", "--db", str(catalogue), "--job-id", "4", "--info-type", "1", str(path)])
        == 1
    )
    assert "error answer" in capsys.readouterr().err
