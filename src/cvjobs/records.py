"""Wire records read into domain objects: a `jobSummary` as the vendor sends it (JSON
types, or XML's attribute strings) checked field by field into a `JobRecord`. Used by
`cvjobs import` and the ingest API; errors name the record and the field."""

from __future__ import annotations

import math
import re
from typing import Any

from cvjobs import parse, vocab
from cvjobs.errors import InvalidRecord
from cvjobs.model import Job, JobRecord, JsonObject, Ref

_INTEGER = re.compile(r"-?[0-9]+")
# Keys of stored sections become XML element and attribute names, so they must be names.
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
MAX_SECTION_DEPTH = 32


class _Field:
    """Typed reads from one wire record; errors name the field."""

    def __init__(self, record: dict[str, Any], where: str) -> None:
        self.record = record
        self.where = where

    def fail(self, name: str, message: str) -> InvalidRecord:
        return InvalidRecord(self.where, f"field {name!r}: {message}")

    def integer(self, name: str, source: dict[str, Any] | None = None, *, minimum: int = 0) -> int:
        value = (self.record if source is None else source).get(name, 0)
        # The common case first: a JSON integer in range (a bulk import reads millions).
        if type(value) is int and minimum <= value <= parse.MAX_INT:
            return value
        try:
            return parse.integer(value, low=minimum, lenient=True)
        except ValueError as exc:
            raise self.fail(name, str(exc)) from None

    def number(self, name: str) -> float:
        value = self.record.get(name, 0)
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise self.fail(name, f"expected a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(name, f"expected a number, got {value!r}")
        if not math.isfinite(value) or not 0 <= value <= 100:
            raise self.fail(name, f"expected a percentage from 0 to 100, got {value!r}")
        return float(value)

    def text(self, name: str, source: dict[str, Any] | None = None) -> str:
        value = (self.record if source is None else source).get(name, "")
        if type(value) is str:
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise self.fail(name, f"expected a string, got {value!r}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        try:
            return parse.boolean(self.record.get(name, default))
        except ValueError as exc:
            raise self.fail(name, str(exc)) from None

    def nested(self, name: str) -> dict[str, Any]:
        value = self.record.get(name, {})
        if value == "":
            return {}
        if not isinstance(value, dict):
            raise self.fail(name, f"expected an object, got {value!r}")
        return value

    def ref(self, name: str, id_key: str, name_key: str) -> Ref:
        nested = self.nested(name)
        return Ref(self.integer(id_key, nested), self.text(name_key, nested))


def job_from_summary(summary: Any, where: str) -> JobRecord:
    """A `jobSummary` as the vendor sends it (JSON types, or XML's attribute strings)."""
    if not isinstance(summary, dict):
        raise InvalidRecord(where, "expected a jobSummary object")
    f = _Field(summary, where)
    if "jobId" not in summary:
        raise f.fail("jobId", "is required")
    job_id = f.integer("jobId", minimum=1)
    f.where = f"{where} (jobId {job_id})"
    status = vocab.canonical_status(f.text("status"))
    if status is None:
        raise f.fail("status", f"unknown status {summary.get('status')!r}")
    job_type = f.text("jobType").strip()
    if not job_type:
        raise f.fail("jobType", "is required")
    # Known types in any spelling ("backup", 4) are stored by their human name, so job
    # type filters find them; other names are kept as sent.
    job_type = vocab.job_type_named(job_type) or job_type
    level = vocab.backup_level_code(summary.get("backupLevel", summary.get("backupLevelName", 0)))
    if level is None:
        raise f.fail("backupLevel", f"unknown backup level {summary.get('backupLevel')!r}")

    sub = f.nested("subclient")
    s = _Field(sub, f.where)
    client = Ref(s.integer("clientId"), s.text("clientName"))
    dest = f.ref("destinationClient", "clientId", "clientName")
    if not dest.id and f.text("destClientName") and f.text("destClientName") == client.name:
        dest = client  # only the name was given, and it is the job's own client
    groups_given = "clientGroups" in summary
    groups = summary.get("clientGroups") or []
    if not isinstance(groups, list):
        groups = [groups]
    client_groups = []
    for group in groups:
        if not isinstance(group, dict):
            raise f.fail("clientGroups", f"expected objects, got {group!r}")
        g = _Field(group, f.where)
        client_groups.append(Ref(g.integer("clientGroupId", minimum=1), g.text("clientGroupName")))
    job = Job(
        job_id=job_id,
        status=status,
        job_type=job_type,
        client=client,
        app=Ref(s.integer("applicationId"), s.text("appName") or f.text("appTypeName")),
        instance=Ref(s.integer("instanceId"), s.text("instanceName")),
        backupset=Ref(s.integer("backupsetId"), s.text("backupsetName")),
        subclient=Ref(s.integer("subclientId"), s.text("subclientName")),
        dest_client=dest,
        storage_policy=f.ref("storagePolicy", "storagePolicyId", "storagePolicyName"),
        user=f.ref("userName", "userId", "userName"),
        client_groups=tuple(client_groups),
        backup_level=level,
        current_phase=f.text("currentPhaseName"),
        pending_reason=f.text("pendingReason"),
        pending_reason_error_code=f.text("pendingReasonErrorCode"),
        percent_complete=f.number("percentComplete"),
        percent_savings=f.number("percentSavings"),
        size_of_application=f.integer("sizeOfApplication"),
        size_of_media_on_disk=f.integer("sizeOfMediaOnDisk"),
        total_num_of_files=f.integer("totalNumOfFiles"),
        total_failed_files=f.integer("totalFailedFiles"),
        total_failed_folders=f.integer("totalFailedFolders"),
        start_time=f.integer("jobStartTime"),
        end_time=f.integer("jobEndTime"),
        last_update_time=f.integer("lastUpdateTime"),
        elapsed_time=f.integer("jobElapsedTime"),
        is_aged=f.boolean("isAged", False),
        is_visible=f.boolean("isVisible", True),
        submit_error_code=f.integer("jobSubmitErrorCode", minimum=-(2**31)),
        is_preemptable=f.integer("isPreemptable"),
    )
    return JobRecord(job, set_client_groups=groups_given)


def json_number(value: float) -> float | int:
    """JSON numbers: integral values print as integers, as the vendor does."""
    return int(value) if float(value).is_integer() else value


def subclient_of(job: Job) -> JsonObject:
    return {
        "clientName": job.client.name,
        "clientId": job.client.id,
        "appName": job.app.name,
        "applicationId": job.app.id,
        "instanceName": job.instance.name,
        "instanceId": job.instance.id,
        "backupsetName": job.backupset.name,
        "backupsetId": job.backupset.id,
        "subclientName": job.subclient.name,
        "subclientId": job.subclient.id,
    }


def summary_of(job: Job) -> JsonObject:
    """A job as a `jobSummary` record, the inverse of `job_from_summary`: every field of
    the seed's table and the contract's list, always present (a Zabbix client crashes on a
    missing attribute), 0, "" or false when unknown."""
    level_name = job.backup_level_name
    return {
        "jobId": job.job_id,
        "status": job.status,
        "localizedStatus": job.status,
        "statusColor": job.status_color,
        "jobType": job.job_type,
        "localizedOperationName": job.job_type,
        "appTypeName": job.app.name,
        "backupLevel": job.backup_level,
        "backupLevelName": level_name,
        "localizedBackupLevelName": level_name,
        "backupSetName": job.backupset.name,
        "subclientName": job.subclient.name,
        "destClientName": job.dest_client.name,
        "currentPhaseName": job.current_phase,
        "pendingReason": job.pending_reason,
        "pendingReasonErrorCode": job.pending_reason_error_code,
        "percentComplete": json_number(job.percent_complete),
        "percentSavings": json_number(job.percent_savings),
        "sizeOfApplication": job.size_of_application,
        "sizeOfMediaOnDisk": job.size_of_media_on_disk,
        "totalNumOfFiles": job.total_num_of_files,
        "totalFailedFiles": job.total_failed_files,
        "totalFailedFolders": job.total_failed_folders,
        "jobStartTime": job.start_time,
        "jobEndTime": job.end_time,
        "lastUpdateTime": job.last_update_time,
        "jobElapsedTime": job.elapsed_time,
        "isAged": job.is_aged,
        "isVisible": job.is_visible,
        "jobSubmitErrorCode": job.submit_error_code,
        "isPreemptable": job.is_preemptable,
        "userName": {"userName": job.user.name, "userId": job.user.id},
        "subclient": subclient_of(job),
        "destinationClient": {"clientId": job.dest_client.id, "clientName": job.dest_client.name},
        "storagePolicy": {
            "storagePolicyId": job.storage_policy.id,
            "storagePolicyName": job.storage_policy.name,
        },
        "clientGroups": [
            {"clientGroupId": g.id, "clientGroupName": g.name} for g in job.client_groups
        ],
    }


def typed(value: Any, key: str) -> Any:
    """XML attribute text as the JSON type the vendor sends: whole numbers as numbers and
    true/false as booleans, except in names, reasons, paths and messages, which stay text."""
    if isinstance(value, dict):
        return {k: typed(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v, key) for v in value]
    lowered = key.lower()
    if not isinstance(value, str) or any(
        word in lowered for word in ("name", "reason", "path", "message", "guid")
    ):
        return value
    if _INTEGER.fullmatch(value) and abs(int(value)) <= parse.MAX_INT:
        return int(value)
    if value in ("true", "false"):
        return value == "true"
    return value


def check_section(name: str, body: Any, where: str) -> None:
    """A section body (AdvancedDetails or JobDetails extras) that can be stored and shown
    in both formats: an object, nested at most MAX_SECTION_DEPTH deep, whose keys are all
    XML names."""
    if not isinstance(body, dict):
        raise InvalidRecord(where, f"section {name!r} must be an object")
    if parse.depth(body) > MAX_SECTION_DEPTH:
        raise InvalidRecord(where, f"section {name!r} nests deeper than {MAX_SECTION_DEPTH}")
    stack: list[Any] = [body]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if not _XML_NAME.fullmatch(key):
                    raise InvalidRecord(
                        where, f"section {name!r} has the key {key[:40]!r}, which is not a name"
                    )
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
