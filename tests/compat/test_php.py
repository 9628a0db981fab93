"""duhow/Commvault-PHP (src/Commlib.php): everything in XML; attributes are read with
$el['name'], children with $el->name. A done job action is the body compared literally."""

from __future__ import annotations

import binascii

from tests.compat.conftest import PASSWORD, Wire, b64, running_job, xml_login

ROOT = "/SearchSvc/CVWebService.svc/"


def query_headers(token: str = "", **paging: int) -> dict[str, str]:
    """Commvault::query: Accept and Content-Type XML always (also on GET), paging as
    headers only."""
    sent = {"Accept": "application/xml", "Content-Type": "application/xml"}
    if token:
        sent["Authtoken"] = token
    sent.update({name: str(value) for name, value in paging.items()})
    return sent


def login(wire: Wire) -> str:
    body = f'<DM2ContentIndexing_CheckCredentialReq username="admin" password="{b64(PASSWORD)}" />'
    return xml_login(wire, ROOT, body, query_headers())


def test_login_token_survives_the_apps_saved_session(wire: Wire) -> None:
    """App.php saves the token as base64(hex2bin(digits + "0")) and loads it back."""
    token = login(wire)
    digits = token[len("QSDK ") :]
    saved = binascii.b2a_base64(bytes.fromhex(digits + "0"))
    assert binascii.a2b_base64(saved).hex()[:-1] == digits


def test_a_bad_password_is_an_errlist_child(wire: Wire) -> None:
    body = f'<DM2ContentIndexing_CheckCredentialReq username="admin" password="{b64("nope")}" />'
    answer = wire.send("POST", ROOT + "Login", query_headers(), body.encode())
    err = answer.xml().find("errList")
    assert err is not None and err.attrib["errorCode"] == "1116" and err.attrib["errLogMessage"]


def test_client_jobs_and_one_job(wire: Wire) -> None:
    token = login(wire)
    jobs = wire.send("GET", ROOT + "Job?clientId=2", query_headers(token, limit=1000)).xml()
    summaries = jobs.findall("jobs/jobSummary")
    assert summaries
    for summary in summaries:
        for name in (
            "jobId",
            "status",
            "jobType",
            "backupLevelName",
            "appTypeName",
            "jobStartTime",
        ):
            assert name in summary.attrib
    one = wire.send("GET", ROOT + "Job/4", query_headers(token)).xml()
    job4 = one.find("jobs/jobSummary")
    assert job4 is not None
    for name in (
        "jobId", "percentComplete", "status", "jobType", "backupLevelName", "appTypeName",
        "jobStartTime", "lastUpdateTime", "jobElapsedTime", "sizeOfApplication",
        "sizeOfMediaOnDisk", "percentSavings", "totalFailedFiles", "totalFailedFolders",
        "totalNumOfFiles", "pendingReason",
    ):  # fmt: skip
        assert name in job4.attrib, name
    subclient = job4.find("subclient")
    assert subclient is not None and {"clientId", "clientName"} <= set(subclient.attrib)
    missing = wire.send("GET", ROOT + "Job/987654321", query_headers(token)).xml()
    assert missing.find("jobs/jobSummary") is None  # "job_not_exist"


def test_a_done_action_is_the_literal_body(wire: Wire) -> None:
    """jobAction: Accept XML, Content-Length 0, no body (libcurl adds a form Content-Type);
    success only if the body == "<JobManager_PerformJobOperationResp />"."""
    token = login(wire)
    job_id = running_job(wire, token)
    sent = {
        "Accept": "application/xml",
        "Authtoken": token,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    for action in ("pause", "resume", "kill"):
        answer = wire.send("POST", ROOT + f"Job/{job_id}/action/{action}", sent)
        assert answer.status == 200
        assert answer.body == b"<JobManager_PerformJobOperationResp />", action
    refused = wire.send("POST", ROOT + f"Job/{job_id}/action/kill", sent).xml()
    err = refused.find("errors/errList")
    assert err is not None and int(err.attrib["errorCode"]) != 0  # intval(...errorCode)


def test_logout(wire: Wire) -> None:
    token = login(wire)
    sent = {"Accept": "application/xml", "Authtoken": token}
    assert wire.send("POST", ROOT + "Logout", sent).body == b"User logged out"


def test_client_groups_and_their_clients(wire: Wire) -> None:
    token = login(wire)
    groups = wire.send("GET", ROOT + "ClientGroup", query_headers(token)).xml().findall("groups")
    assert groups and all({"Id", "name"} <= set(g.attrib) for g in groups)
    detail = wire.send("GET", ROOT + f"ClientGroup/{groups[0].attrib['Id']}", query_headers(token))
    members = detail.xml().findall("clientGroupDetail/associatedClients")
    assert members and all({"clientId", "clientName", "hostName"} <= set(m.attrib) for m in members)
    absent = wire.send("GET", ROOT + "ClientGroup/987654321", query_headers(token)).xml()
    assert "errorMessage" in absent.attrib  # App.php: isset($cg['errorMessage'])
    clients = wire.send("GET", ROOT + "Client", query_headers(token)).xml()
    entity = clients.find("clientProperties/client/clientEntity")
    assert entity is not None and {"clientId", "clientName"} <= set(entity.attrib)
