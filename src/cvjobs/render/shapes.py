"""Resource shapes: domain objects as JSON-shaped dicts, the single source of both formats.

`xml=True` changes only how scalars are spelled where the vendor's XML differs from its
JSON (jobSummary's backupLevel and percentages); the keys and nesting are the same, so the
two renderings of one resource cannot drift. How each such field is spelled, in each
resource and format, is `cvjobs.spellings`' alone.
"""

from __future__ import annotations

from typing import Final

from cvjobs import spellings, vocab
from cvjobs.model import Account, Event, Job, JsonObject, Session
from cvjobs.summaries import client_ref, subclient_of, summary_of


def job_summary(job: Job, *, xml: bool) -> JsonObject:
    """The wire record of the job (`summaries.summary_of`), with XML's spellings where the
    vendor's XML differs from its JSON (`spellings.SUMMARY_*`). vsaParentJobID is shown only
    on a VM's job under a Virtual Server backup [OURS], so no other job's answer changes."""
    body = summary_of(job, xml=xml)
    if not job.vsa_parent_job_id:
        del body["vsaParentJobID"]
    return body


def job_list(jobs: list[Job], total: int, *, xml: bool) -> JsonObject:
    return {
        "totalRecordsWithoutPaging": total,
        "jobs": [{"jobSummary": job_summary(job, xml=xml)} for job in jobs],
    }


def _merge(stored: JsonObject, derived: JsonObject) -> JsonObject:
    """`derived` over `stored`, recursively: live values from the job row win over the
    extras recorded with it."""
    merged = dict(stored)
    for key, value in derived.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def job_detail(job: Job, extras: JsonObject) -> JsonObject:
    """POST JobDetails: what the job row knows, over the extras stored with the job (phase
    attempts, throughput, compression figures, how it was started)."""
    derived: JsonObject = {
        "generalInfo": {
            "jobId": job.job_id,
            "operationType": job.job_type,
            "backupType": spellings.DETAIL_BACKUP_TYPE(job.backup_level),
            "jobStartedBy": job.user.name,
            "startTime": job.start_time,
            "subclient": subclient_of(job),
            "destinationClient": client_ref(job.dest_client),
        },
        "detailInfo": {
            "startTime": job.start_time,
            "endTime": job.end_time,
            "numOfObjects": job.total_num_of_files,
            "sizeOfApplication": job.size_of_application,
            "sizeOfMediaOnDisk": job.size_of_media_on_disk,
            "savingsPercent": spellings.DETAIL_SAVINGS_PERCENT(job.percent_savings),
        },
        "progressInfo": {
            "state": job.status,
            "currentPhase": job.current_phase,
            "reasonForJobDelay": job.pending_reason,
            "numOfFilesTransferred": job.total_num_of_files,
            "percentComplete": spellings.DETAIL_PERCENT_COMPLETE(job.percent_complete),
        },
    }
    defaults: JsonObject = {
        "generalInfo": {
            "jobStartedFrom": "Interactive",
            "priority": 0,
            "systemState": job.status,
        },
        "detailInfo": {
            "unCompressedBytes": spellings.DETAIL_NOT_AVAILABLE,
            "compressedBytes": spellings.DETAIL_NOT_AVAILABLE,
            "dataWritten": spellings.DETAIL_NOT_AVAILABLE,
            "throughPut": spellings.DETAIL_NOT_AVAILABLE,
            "transferTime": spellings.DETAIL_NOT_AVAILABLE,
            "skippedItems": 0,
        },
        "attemptsInfo": [],
        "clientStatusInfo": {"vmStatus": []},
    }
    return {"job": {"jobDetail": _merge(_merge(defaults, extras), derived)}}


# A done job action in XML, byte for byte as the vendor writes it: a PHP client
# (duhow/Commvault-PHP, Commlib.php jobAction) compares the whole body with this string.
ACTION_DONE_XML: Final = b"<JobManager_PerformJobOperationResp />"


def action_done(message: str) -> JsonObject:
    """A done job action in JSON: errorCode 0, and the `errors` list with one errorCode-0
    entry. The PowerShell SDK calls an action submitted only when `errors` is there (it
    validates that key, then prints errors[0].errList[].errLogMessage), and cvpysdk takes
    the code from errors[0].errList[0] when `errors` is there (an empty list would crash
    it), so both read this as success."""
    return {"errorCode": 0, "errors": [{"errList": [{"errorCode": 0, "errLogMessage": message}]}]}


def login(session: Session) -> JsonObject:
    account = session.account
    return {
        "aliasName": str(account.account_id),
        "userGUID": f"{account.account_id:08X}-0000-0000-0000-000000000000",
        "loginAttempts": 0,
        "remainingLockTime": 0,
        "smtpAddress": "",
        "userName": account.name,
        "providerType": 1,
        "ccn": 0,
        "token": session.token,
        "capability": 4328650366975 if account.is_admin else 0,
        "forcePasswordChange": False,
        "isAccountLocked": False,
        "ownerOrganization": {"providerId": 0, "providerDomainName": "Commcell"},
        "additionalResp": {"nameValues": []},
        "providerOrganization": {"providerId": 0, "providerDomainName": "Commcell"},
        "errList": [],
    }


def who_am_i(account: Account) -> JsonObject:
    return {"user": {"userName": account.name, "userId": account.account_id}}


def events(found: list[Event]) -> JsonObject:
    return {
        "commservEvents": [
            {
                "id": e.event_id,
                "jobId": e.job_id,
                "severity": e.severity,
                "eventCode": str(e.numeric_code),
                "eventCodeString": e.code,
                "subsystem": e.subsystem,
                "description": e.description,
                "timeSource": e.time,
                "acknowledge": int(e.acknowledged),
                "type": 0,
                "clientEntity": {
                    "clientId": e.client.id,
                    "clientName": e.client.name,
                    "displayName": e.client.name,
                },
            }
            for e in found
        ]
    }


def commserv(name: str, guid: str, host: str, service_pack: int) -> JsonObject:
    """GET CommServ: what cvpysdk <= 11.38 reads while connecting (commcell name and id,
    host, time zone, service pack; csVersionInfo must be a string)."""
    return {
        "commcell": {"commCellName": name, "commCellId": 2, "csGUID": guid},
        "hostName": host,
        "csTimeZone": {"TimeZoneName": "UTC", "TimeZoneID": 0},
        "timeZone": "(UTC) Coordinated Universal Time",
        "currentSPVersion": service_pack,
        "csVersionInfo": f"11.{service_pack}.0",
        "releaseName": f"11.{service_pack}",
    }


def task_details(job: Job) -> JsonObject:
    """GET Job/{id}/TaskDetails: the task that started the job."""
    backup = job.job_type in vocab.BACKUP_JOB_TYPES
    return {
        "taskInfo": {
            "task": {
                "taskId": job.job_id,
                "taskType": 1,
                "ownerName": job.user.name,
                "taskFlags": {"disabled": False},
            },
            "associations": [subclient_of(job)],
            "subTasks": [
                {
                    "subTask": {
                        "subTaskType": 2 if backup else 1,
                        "operationType": job.job_type,
                    },
                    "options": {
                        "backupOpts": {"backupLevel": spellings.TASK_BACKUP_LEVEL(job.backup_level)}
                    },
                }
            ],
        }
    }
