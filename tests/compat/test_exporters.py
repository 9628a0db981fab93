"""Exporters: porchthecoder/Commvault-Jobs-2-SQL (python 2, requests: no Accept, Cookie2,
a query limit with a header cap) and stonehendge/commvault_zabbix (C#: no Accept, XPath on
the vendor's root names, every attribute read must be there, `svc//` double slashes)."""

from __future__ import annotations

import re

from tests.compat.conftest import PASSWORD, Wire, b64, busiest_client, json_login, xml_login

ROOT = "/SearchSvc/CVWebService.svc/"


def test_jobs_2_sql(wire: Wire) -> None:
    login = (
        '<DM2ContentIndexing_CheckCredentialReq mode="Webconsole" username="admin"'
        f' password="{b64(PASSWORD)}" />'
    )
    token = xml_login(wire, ROOT, login, {"Accept": "*/*"})  # requests' default Accept
    clients = wire.send("GET", ROOT + "Client", {"Cookie2": token, "Accept": "*/*"})
    assert clients.status == 200
    # "Job?ClientiD=" (sic) with limit=10000 in the query and limit: 1000 as a header, the
    # header meant as the cap ("Limit to 1,000 last backup jobs").
    client_id = busiest_client(wire, json_login(wire))
    answer = wire.send(
        "GET", ROOT + f"Job?ClientiD={client_id}&limit=10000", {"Cookie2": token, "limit": "1000"}
    )
    assert answer.status == 200 and b"job" in answer.body
    summaries = answer.xml().iter("jobSummary")
    count = 0
    for summary in summaries:
        count += 1
        int(summary.attrib["sizeOfMediaOnDisk"])
        int(summary.attrib["sizeOfApplication"])
        float(summary.attrib["jobStartTime"])
        re.search("IndexServer", summary.attrib["destClientName"])
        for name in ("status", "localizedOperationName", "subclientName", "appTypeName"):
            assert name in summary.attrib
    assert 0 < count <= 1000


ZABBIX_ATTRIBUTES = (
    "status", "totalNumOfFiles", "jobId", "jobSubmitErrorCode", "sizeOfMediaOnDisk",
    "lastUpdateTime", "percentSavings", "pendingReason", "jobElapsedTime", "jobStartTime",
    "backupLevelName", "pendingReasonErrorCode", "appTypeName", "percentComplete",
    "subclientName",
)  # fmt: skip


def test_zabbix_items(wire: Wire) -> None:
    login = (
        '<DM2ContentIndexing_CheckCredentialReq mode="Webconsole" domain="LOCAL"'
        f' username="admin" password="{b64(PASSWORD)}" />'
    )
    token = xml_login(wire, ROOT, login, {"Content-Type": "application/xml; charset=utf-8"})
    sent = {"Content-Type": "application/xml; charset=utf-8", "Authtoken": token}
    client_id = busiest_client(wire, token)
    query = f"clientId={client_id}&completedJobLookupTime=31536000000"
    query += "&jobCategory=Finished&jobFilter=backup"
    answer = wire.send("GET", ROOT + "/Job?" + query, sent)  # ROOT + "/Job": a double slash
    assert answer.status == 200
    root = answer.xml()
    assert root.tag == "JobManager_JobListResponse"
    jobs = root.findall("jobs/*")
    assert jobs and all(job.tag == "jobSummary" for job in jobs)
    for job in jobs:
        for name in ZABBIX_ATTRIBUTES:
            assert name in job.attrib, name
        int(job.attrib["jobElapsedTime"])


def test_zabbix_discovery(wire: Wire) -> None:
    """GET svc//ClientGroup/{id}, then svc//Subclient?clientId= per client, by XPath on the
    vendor's root names."""
    token = json_login(wire)
    sent = {"Content-Type": "application/xml; charset=utf-8", "Authtoken": token}
    groups = wire.send("GET", ROOT + "ClientGroup", sent).xml().findall("groups")
    group = wire.send("GET", ROOT + f"/ClientGroup/{groups[0].attrib['Id']}", sent).xml()
    assert group.tag == "App_PerformClientGroupResp"
    members = [e for e in group.findall("clientGroupDetail/*") if e.tag == "associatedClients"]
    assert members and all({"hostName", "clientId"} <= set(m.attrib) for m in members)
    for member in members:
        answer = wire.send("GET", ROOT + f"/Subclient?clientId={member.attrib['clientId']}", sent)
        root = answer.xml()
        assert root.tag == "App_GetSubClientPropertiesResponse"
        for entity in root.findall("subClientProperties/subClientEntity"):
            assert {"appName", "subclientName"} <= set(entity.attrib)
