"""The PowerShell SDK (Commvault/CVPowershellSDK, Commvault.JobManager.psm1 and
Commvault.RESTSession.psm1): its modules run under Set-StrictMode, so every field a cmdlet
reads must be there; a cmdlet succeeds when the answer is HTTP 200, JSON, and has the key
it validates."""

from __future__ import annotations

from typing import Any

from tests.compat.conftest import PASSWORD, Wire, b64, running_job

ROOT = "/SearchSvc/CVWebService.svc/"  # the SDK's default: http://HOST:81/SearchSvc/...


def connect(wire: Wire) -> str:
    """Connect-CVServer: ConvertTo-Json of a hashtable, pretty-printed, keys in any order."""
    body = '{\r\n    "password":  "' + b64(PASSWORD) + '",\r\n    "username":  "admin"\r\n}'
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    answer = wire.send("POST", ROOT + "Login", headers, body.encode())
    assert answer.status == 200
    token = answer.json()["token"]  # validates 'token'
    assert isinstance(token, str) and token.startswith("QSDK ")
    return str(token)


def headers(token: str, **paging: int) -> dict[str, str]:
    """Get-CVRESTHeader: Accept and Authtoken, the paging ones as headers; GETs carry
    Content-Type: application/json too (ProcessRequest)."""
    sent = {"Accept": "application/json", "Authtoken": token, "Content-Type": "application/json"}
    sent.update({name: str(value) for name, value in paging.items()})
    return sent


def get_cv_job(wire: Wire, token: str, **paging: int) -> dict[str, Any]:
    """Get-CVJob's answer: JSON, as the cmdlet reads it."""
    path = ROOT + "Job?completedJobLookupTime=31536000000&limit=100&hideAdminjobs=false"
    answer = wire.send("GET", path + "&jobFilter=", headers(token, **paging))
    assert answer.status == 200
    body: dict[str, Any] = answer.json()
    return body


def test_get_cv_job_reads_every_field_it_uses(wire: Wire) -> None:
    token = connect(wire)
    body = get_cv_job(wire, token)
    assert isinstance(body["totalRecordsWithoutPaging"], int)  # -IncludeTotalCount reads it
    jobs = body["jobs"]
    assert isinstance(jobs, list) and jobs
    for job in jobs:
        summary = job["jobSummary"]
        assert isinstance(summary["jobId"], int)
        assert isinstance(summary["status"], str)
        assert isinstance(summary["subclient"]["subclientId"], int)  # -SubclientName


def test_first_and_skip_are_the_page(wire: Wire) -> None:
    """`Get-CVJob -First 5 -Skip 10` sends ?limit=100 and the headers limit 5, offset 10."""
    token = connect(wire)
    everything = [j["jobSummary"]["jobId"] for j in get_cv_job(wire, token)["jobs"]]
    page = [j["jobSummary"]["jobId"] for j in get_cv_job(wire, token, limit=5, offset=10)["jobs"]]
    assert page == everything[10:15]
    counted = get_cv_job(wire, token, limit=0, offset=0)  # -IncludeTotalCount alone
    assert len(counted["jobs"]) == len(everything)


def test_get_cv_job_by_id_and_its_details(wire: Wire) -> None:
    token = connect(wire)
    answer = wire.send("GET", ROOT + "Job/4", headers(token))
    assert answer.json()["jobs"][0]["jobSummary"]["jobId"] == 4  # validates 'jobs'
    body = b'{\r\n    "jobId":  4\r\n}'  # Get-CVJobDetail
    detail = wire.send("POST", ROOT + "JobDetails", headers(token), body).json()
    assert {"detailInfo", "generalInfo", "progressInfo"} <= set(detail["job"]["jobDetail"])
    missing = wire.send("GET", ROOT + "Job/987654321", headers(token)).json()
    assert "jobs" not in missing or missing["jobs"] == []  # "job Id [N] not found"


def test_stop_suspend_resume_are_reported_submitted(wire: Wire) -> None:
    """Stop-, Suspend- and Resume-CVJob post an empty body and validate the key `errors`,
    then print errors[0].errList[].errLogMessage; without it: "not succesfully submitted"."""
    token = connect(wire)
    job_id = running_job(wire, token)
    for verb in ("pause", "resume", "kill"):
        answer = wire.send("POST", ROOT + f"Job/{job_id}/action/{verb}", headers(token), b"")
        assert answer.status == 200
        body = answer.json()
        assert "errors" in body, f"{verb}: the SDK would say it was not submitted"
        (entry,) = body["errors"][0]["errList"]
        assert entry["errorCode"] == 0 and isinstance(entry["errLogMessage"], str)


def test_resubmit_answers_the_new_job_ids(wire: Wire) -> None:
    token = connect(wire)
    job_id = running_job(wire, token)
    wire.send("POST", ROOT + f"Job/{job_id}/action/kill", headers(token), b"")
    answer = wire.send("POST", ROOT + f"Job/{job_id}/action/resubmit", headers(token), b"")
    (new_id,) = answer.json()["jobIds"]  # validates 'jobIds'
    found = wire.send("GET", ROOT + f"Job/{new_id}", headers(token)).json()
    assert found["totalRecordsWithoutPaging"] == 1


def test_disconnect_is_plain_text(wire: Wire) -> None:
    """Disconnect-CVServer validates 'User logged out' in the text of the answer."""
    token = connect(wire)
    answer = wire.send(
        "POST", ROOT + "Logout", {"Accept": "application/json", "Authtoken": token}, b""
    )
    assert answer.status == 200 and b"User logged out" in answer.body
    assert answer.headers["content-type"].startswith("text/plain")


def test_get_cv_id_and_get_cv_subclient_before_get_cv_job(wire: Wire) -> None:
    """`Get-CVJob -ClientName X -SubclientName Y` calls GetId (UrlEncode: spaces as +),
    then Subclient?clientId=N&propertyLevel=AllProperties, then compares subclientId."""
    token = connect(wire)
    clients = wire.send("GET", ROOT + "Client?hiddenClients=true", headers(token)).json()
    entity = clients["clientProperties"][0]["client"]["clientEntity"]
    for name in ("clientId", "clientName", "hostName", "_type_", "clientGUID"):
        assert name in entity  # Get-CVClient reads each under StrictMode
    assert "cvdPort" in clients["clientProperties"][0]["client"]
    name = entity["clientName"].replace(" ", "+")
    found = wire.send("GET", ROOT + f"GetId?clientName={name}", headers(token)).json()
    assert found["clientId"] == entity["clientId"]
    missing = wire.send("GET", ROOT + "GetId?clientName=no+such+client", headers(token)).json()
    assert missing["clientId"] == -32000
    path = ROOT + f"Subclient?clientId={entity['clientId']}&propertyLevel=AllProperties"
    subclients = wire.send("GET", path, headers(token)).json()["subClientProperties"]
    for item in subclients:
        assert isinstance(item["subClientEntity"]["subclientId"], int)
        assert isinstance(item["subClientEntity"]["subclientName"], str)
