"""The Morpheus plugin (gomorpheus/morpheus-commvault-plugin, CommvaultApiUtility.groovy):
only the SearchSvc root, the token in Cookie2, XML with Groovy's single-quoted attributes,
`Action` with a capital A, success as HTTP 2xx."""

from __future__ import annotations

from tests.compat.conftest import PASSWORD, Wire, b64, running_job, xml_login

ROOT = "/SearchSvc/CVWebService.svc/"


def login(wire: Wire) -> str:
    body = f"<DM2ContentIndexing_CheckCredentialReq username='admin' password='{b64(PASSWORD)}' />"
    sent = {"Accept": "application/xml", "Content-Type": "application/xml"}
    return xml_login(wire, ROOT, body, sent)


def cookie(token: str, accept: str = "application/xml") -> dict[str, str]:
    return {"Cookie2": token, "Accept": accept, "Content-Type": "application/xml"}


def test_get_job_reads_its_attributes(wire: Wire) -> None:
    token = login(wire)
    summary = wire.send("GET", ROOT + "Job/4", cookie(token)).xml().find("jobs/jobSummary")
    assert summary is not None
    for name in (
        "jobId",
        "jobStartTime",
        "jobEndTime",
        "status",
        "percentComplete",
        "sizeOfApplication",
    ):
        assert name in summary.attrib
    assert int(summary.attrib["jobStartTime"]) > 0
    assert summary.attrib["sizeOfApplication"].isdigit()
    subclient = summary.find("subclient")
    assert subclient is not None and "subclientId" in subclient.attrib


def test_backup_jobs_of_a_subclient(wire: Wire) -> None:
    token = login(wire)
    path = ROOT + "Job?subclientId=2&clientId=2&jobFilter=Backup&jobCategory=Active"
    answer = wire.send("GET", path, cookie(token))
    assert answer.status == 200
    for summary in answer.xml().findall("jobs/jobSummary"):
        sub = summary.find("subclient")
        assert sub is not None
        assert {"applicationId", "backupsetId", "clientId", "instanceId"} <= set(sub.attrib)


def test_kill_and_pause_with_a_capital_action(wire: Wire) -> None:
    token = login(wire)
    job_id = running_job(wire, token)
    for verb in ("pause", "kill"):
        answer = wire.send("POST", ROOT + f"Job/{job_id}/Action/{verb}", cookie(token))
        assert 200 <= answer.status < 300
        answer.xml()  # callXmlApi parses the body


def test_logout_with_cookie2(wire: Wire) -> None:
    token = login(wire)
    assert wire.send("POST", ROOT + "Logout", cookie(token)).status == 200
    assert wire.send("GET", ROOT + "Job/4", cookie(token)).status == 401
