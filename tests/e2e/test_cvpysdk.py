"""cvpysdk from PyPI against a real cvjobs process (wire contract §1-§7)."""

from __future__ import annotations

import sqlite3

import pytest
from cvpysdk.commcell import Commcell
from cvpysdk.constants import AdvancedJobDetailType
from cvpysdk.exception import SDKException

from cvjobs.service.auth import token_hash
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


def job_where(server: Server, where: str) -> int:
    with sqlite3.connect(f"file:{server.db}?mode=ro", uri=True) as db:
        return int(db.execute(f"SELECT min(id) FROM jobs WHERE {where}").fetchone()[0])


@pytest.fixture(scope="module")
def commcell(server: Server) -> Commcell:
    return Commcell(server.address, "admin", server.password)


def test_password_login(commcell: Commcell) -> None:
    assert commcell.commcell_username == "admin"
    assert commcell.auth_token.startswith("QSDK ")


def test_job_status_summary_details(commcell: Commcell) -> None:
    job = commcell.job_controller.get(4)
    assert job.status == "Completed"
    assert job.is_finished
    assert job.job_type == "Backup"
    assert job.start_time == "2015-02-04 22:04:43"
    assert job.end_time == "2015-02-04 22:04:57"  # cvpysdk shows lastUpdateTime as the end
    assert job.username == "admin"
    assert job.client_name == "WINTER"
    assert job.backupset_name == "defaultBackupSet"
    assert job.subclient_name == "default"
    assert job.backup_level == "Incremental"
    summary = job.summary
    assert summary["jobId"] == 4 and summary["isVisible"] is True
    details = job.details
    assert details["jobDetail"]["generalInfo"]["jobId"] == 4
    assert job.state == "Completed"
    assert job.num_of_files_transferred == 0
    assert job.delay_reason is None  # cvpysdk turns an empty reason into None
    assert [a["phaseName"] for a in job.attempts] == ["Scan", "Backup", "Archive Index"]


def test_active_job(commcell: Commcell, server: Server) -> None:
    job = commcell.job_controller.get(job_where(server, "status = 'Suspended'"))
    assert job.status == "Suspended"
    assert not job.is_finished
    assert job.pending_reason == "Backup job has been suspended by user admin."


@pytest.mark.parametrize(
    ("kind", "where", "key"),
    [
        (AdvancedJobDetailType.RETENTION_INFO, "id = 4", "jobRetention"),
        (AdvancedJobDetailType.REFERNCE_COPY_INFO, "job_type = 'Reference Copy'", "refCopyInfo"),
        (AdvancedJobDetailType.DASH_COPY_INFO, "job_type = 'Aux Copy'", "dashCopyInfo"),
        (AdvancedJobDetailType.ADMIN_DATA_INFO, "job_type = 'Aux Copy'", "adminInfo"),
        (AdvancedJobDetailType.BKUP_INFO, "id = 1452", "bkpInfo"),
    ],
)
def test_every_advanced_job_detail_type(
    commcell: Commcell, server: Server, kind: AdvancedJobDetailType, where: str, key: str
) -> None:
    job = commcell.job_controller.get(job_where(server, where))
    assert set(job.advanced_job_details(kind)) == {key}


def test_seed_exchange_backup_info(commcell: Commcell) -> None:
    info = commcell.job_controller.get(1452).advanced_job_details(AdvancedJobDetailType.BKUP_INFO)
    stats = info["bkpInfo"]["exchDbInfo"]["SourceDatabaseStats"]
    assert stats[0]["dbName"] == "EXCH001_DB2" and stats[0]["ApplicationSize"] == 9824174080


def test_authtoken_login(commcell: Commcell, server: Server) -> None:
    again = Commcell(server.address, authtoken=commcell.auth_token)
    assert again.commcell_username == "admin"
    assert again.job_controller.get(4).status == "Completed"


def test_expired_token_is_renewed_by_cvpysdk(server: Server) -> None:
    cc = Commcell(server.address, "admin", server.password)
    old = cc.auth_token
    with sqlite3.connect(server.db) as db:  # an hour of inactivity, as far as the server knows
        db.execute(
            "UPDATE sessions SET last_used = last_used - 3600 WHERE token_hash = ?",
            (token_hash(old),),
        )
    assert cc.job_controller.get(4).status == "Completed"
    assert cc.auth_token != old and cc.auth_token.startswith("QSDK ")


def test_old_webconsole_root(server: Server) -> None:
    cc = Commcell(
        server.address, "admin", server.password, web_service_url=f"{server.url}/webconsole/api"
    )
    assert cc.job_controller.get(4).job_type == "Backup"
    assert cc.logout() == "User logged out"


def test_unknown_job(commcell: Commcell, monkeypatch: pytest.MonkeyPatch) -> None:
    # cvpysdk sleeps and retries while the total is 0; don't wait for it.
    monkeypatch.setattr("cvpysdk.job.time.sleep", lambda _seconds: None)
    with pytest.raises(SDKException, match="No job exists"):
        commcell.job_controller.get(987654321)


def test_wrong_password(server: Server) -> None:
    with pytest.raises(SDKException, match="Invalid Username or Password"):
        Commcell(server.address, "admin", "not-the-password")


def test_logout(server: Server) -> None:
    cc = Commcell(server.address, "admin", server.password)
    token = cc.auth_token
    assert cc.logout() == "User logged out"
    with pytest.raises(SDKException):
        Commcell(server.address, authtoken=token)
