"""`cvjobs copy` between backends: every job renders the same afterwards, events, storage
policies and accounts come along, a target with jobs is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cvjobs.app import create_app
from cvjobs.cli import main
from cvjobs.config import Settings
from tests.catalogues import Catalogue, Templates
from tests.conftest import ADMIN_PASSWORD, API, CLOCK_START, PG_PROBLEM, FakeClock, b64

pytestmark = pytest.mark.postgres_too


def outputs(db: Catalogue, ids: list[int], token: str | None = None) -> list[bytes]:
    app = create_app(Settings(db=db.url), clock=FakeClock(CLOCK_START), run_engine=False)
    with TestClient(app) as client:
        if token is None:
            response = client.post(
                API + "Login",
                json={"username": "admin", "password": b64(ADMIN_PASSWORD)},
                headers={"Accept": "application/json"},
            )
            token = response.json()["token"]
        headers = {"Authtoken": token}
        # Each job of a sample, in both formats, with its details and sections (every
        # job took 15 s a backend); the count of all of them is checked by the caller.
        found = []
        for job_id in ids:
            for accept in ("application/json", "application/xml"):
                found.append(
                    client.get(API + f"Job/{job_id}", headers={**headers, "Accept": accept}).content
                )
                found.append(
                    client.post(
                        API + "JobDetails",
                        json={"jobId": job_id},
                        headers={**headers, "Accept": accept},
                    ).content
                )
            found.append(
                client.get(
                    API + f"Job/{job_id}/AdvancedDetails",
                    headers={**headers, "Accept": "application/json"},
                ).content
            )
        found.append(
            client.get(
                API + "Events?limit=10000", headers={**headers, "Accept": "application/json"}
            ).content
        )
        return found


@pytest.mark.parametrize(("source", "target"), [("sqlite", "postgres"), ("postgres", "sqlite")])
def test_copy_between_backends(
    templates: Templates,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
    source: str,
    target: str,
) -> None:
    if request.config.stash.get(PG_PROBLEM, None):
        pytest.skip(str(request.config.stash[PG_PROBLEM]))
    src = templates.fresh(source, tmp_path)
    dst = templates.empty(target, tmp_path, "copy")
    try:
        every = [r[0] for r in src.sql("SELECT id FROM jobs ORDER BY id")]
        ids = sorted({*every[::6], 4, 1452, every[-1]})
        client_id = src.scalar("SELECT client_id FROM jobs WHERE id = 4")
        for command in (
            ["user", "add", "carol", "--role", "operator", "--generate-password"],
            ["user", "scope", "carol", "--clients", str(client_id)],
            ["token", "create", "--user", "carol", "--expires", "1d"],
        ):
            assert main([*command, "--db", src.url]) == 0
        token = next(w for w in capsys.readouterr().out.split() if w.startswith("cvat_"))
        assert main(["copy", "--from", src.url, "--to", dst.url]) == 0
        assert "1 access tokens, 3 audit entries" in capsys.readouterr().out
        assert dst.scalar("SELECT count(*) FROM jobs") == len(every)
        # the admin's password hash came along: logging in on the copy works
        assert outputs(dst, ids) == outputs(src, ids)
        # so did carol's role and scope, and her token, which works on the copy
        assert outputs(dst, ids, f"Bearer {token}") == outputs(src, ids, f"Bearer {token}")
        query = "SELECT role, scope_all FROM accounts WHERE name = 'carol'"
        assert dst.sql(query) == src.sql(query) == [("operator", 0)]
        query = "SELECT time, user_name, action, detail FROM audit ORDER BY id"
        assert dst.sql(query) == src.sql(query)
    finally:
        src.drop()
        dst.drop()


def test_a_target_with_jobs_is_refused(
    catalogue: Catalogue, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.db"
    assert main(["demo", "--jobs", "3", "--db", str(other)]) == 0
    before = catalogue.scalar("SELECT count(*) FROM jobs")
    assert main(["copy", "--from", str(other), "--to", catalogue.url]) == 1
    assert "already has jobs" in capsys.readouterr().err
    assert catalogue.scalar("SELECT count(*) FROM jobs") == before
