"""A job's wire record, both ways: a `jobSummary` as the vendor sends it (JSON types, or
XML's attribute strings) checked field by field into a `JobRecord` (`job_from_summary`;
errors name the record and the field), and a Job written back as one (`summary_of`,
with the spellings of `cvjobs.spellings`). Used by `cvjobs import`, the ingest API and
the renderers."""

from __future__ import annotations

import math
import re
from typing import Any

from cvjobs import parse, spellings, vocab
from cvjobs.errors import InvalidRecord
from cvjobs.model import Job, JobRecord, JsonObject, Ref
from cvjobs.ranges import RANGES, bounds

_INTEGER = re.compile(r"-?[0-9]+")
# Keys of stored sections become XML element and attribute names, so they must be names,
# and none that XML reserves: names starting with "xml" in any casing (XML 1.0 §2.3), of
# which `xmlns` would move the answer into another namespace.
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_XML_RESERVED = re.compile(r"[Xx][Mm][Ll]")
MAX_SECTION_DEPTH = 32


class _Field:
    """Typed reads from one wire record, or from the object under `prefix` in it;
    errors name the field."""

    def __init__(self, record: dict[str, Any], where: str, prefix: str = "") -> None:
        self.record = record
        self.where = where
        self.prefix = prefix

    def fail(self, name: str, message: str) -> InvalidRecord:
        return InvalidRecord(self.where, f"field {name!r}: {message}")

    def integer(self, name: str) -> int:
        """A whole number within the field's range (RANGES)."""
        low, high = RANGES[self.prefix + name]
        value = self.record.get(name, 0)
        try:
            return parse.integer(value, low=low, high=high, lenient=True)
        except ValueError as exc:
            raise self.fail(name, str(exc)) from None

    def integers(self, names: tuple[str, ...]) -> list[int]:
        """Counters, times and ids, each within its range. JSON integers in range take a
        fast path (a bulk import reads millions); anything else is parsed or refused."""
        get = self.record.get
        values = [get(name, 0) for name in names]
        for value, (low, high) in zip(values, bounds(self.prefix, names), strict=True):
            if type(value) is not int or not low <= value <= high:
                return [self.integer(name) for name in names]
        return values

    def texts(self, names: tuple[str, ...]) -> list[str]:
        """Names and reasons: text, or a number spelled as text."""
        get = self.record.get
        values = [get(name, "") for name in names]
        for value in values:
            if type(value) is not str:
                return [self.text(name) for name in names]
        if parse.NOT_XML.search("".join(values)):  # one search for all: the usual case
            return [self.text(name) for name in names]
        return values

    def number(self, name: str) -> float:
        value = self.record.get(name, 0)
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise self.fail(name, f"expected a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(name, f"expected a number, got {value!r}")
        low, high = RANGES[self.prefix + name]
        if not math.isfinite(value) or not low <= value <= high:
            raise self.fail(name, f"expected a percentage from {low} to {high}, got {value!r}")
        return float(value)

    def text(self, name: str) -> str:
        value = self.record.get(name, "")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if type(value) is not str:
            raise self.fail(name, f"expected a string, got {value!r}")
        problem = parse.xml_problem(value)
        if problem:
            raise self.fail(name, problem)
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.record.get(name, default)
        if type(value) is bool:
            return value
        try:
            return parse.boolean(value)
        except ValueError as exc:
            raise self.fail(name, str(exc)) from None

    def nested(self, name: str) -> _Field:
        value = self.record.get(name, {})
        if value == "":
            value = {}
        if not isinstance(value, dict):
            raise self.fail(name, f"expected an object, got {value!r}")
        return _Field(value, self.where, f"{self.prefix}{name}.")

    def ref(self, name: str, id_key: str, name_key: str) -> Ref:
        value = self.record.get(name)
        if type(value) is dict:  # the common case, without the calls below
            ref_id, ref_name = value.get(id_key, 0), value.get(name_key, "")
            [(low, high)] = bounds(f"{self.prefix}{name}.", (id_key,))
            if (
                type(ref_id) is int
                and low <= ref_id <= high
                and type(ref_name) is str
                and not parse.NOT_XML.search(ref_name)
            ):
                return Ref(ref_id, ref_name)
        nested = self.nested(name)
        [ref_id] = nested.integers((id_key,))
        [ref_name] = nested.texts((name_key,))
        return Ref(ref_id, ref_name)


_SUBCLIENT_IDS = ("clientId", "applicationId", "instanceId", "backupsetId", "subclientId")
_SUBCLIENT_NAMES = ("clientName", "appName", "instanceName", "backupsetName", "subclientName")
JOB_NUMBERS = (
    "sizeOfApplication",
    "sizeOfMediaOnDisk",
    "totalNumOfFiles",
    "totalFailedFiles",
    "totalFailedFolders",
    "jobStartTime",
    "jobEndTime",
    "lastUpdateTime",
    "jobElapsedTime",
    "isPreemptable",
    "vsaParentJobID",
)
_JOB_ID = RANGES["jobId"]
_JOB_TEXTS = (
    "status",
    "jobType",
    "currentPhaseName",
    "pendingReason",
    "pendingReasonErrorCode",
    "appTypeName",
    "destClientName",
)


def job_from_summary(summary: Any, where: str) -> JobRecord:
    """A `jobSummary` as the vendor sends it (JSON types, or XML's attribute strings)."""
    if not isinstance(summary, dict):
        raise InvalidRecord(where, "expected a jobSummary object")
    f = _Field(summary, where)
    if "jobId" not in summary:
        raise f.fail("jobId", "is required")
    job_id = summary["jobId"]
    if type(job_id) is not int or not _JOB_ID[0] <= job_id <= _JOB_ID[1]:
        job_id = f.integer("jobId")
    f.where = f"{where} (jobId {job_id})"
    status_text, job_type, phase, reason, reason_code, app_type, dest_name = f.texts(_JOB_TEXTS)
    status = vocab.canonical_status(status_text)
    if status is None:
        if summary.get("status") in (None, ""):
            raise f.fail("status", "is required")
        raise f.fail("status", f"unknown status {summary.get('status')!r}")
    job_type = job_type.strip()
    if not job_type:
        raise f.fail("jobType", "is required")
    # Known types in any spelling ("backup", 4) are stored by their human name, so job
    # type filters find them; other names are kept as sent.
    job_type = vocab.job_type_named(job_type) or job_type
    level = vocab.backup_level_code(summary.get("backupLevel", summary.get("backupLevelName", 0)))
    if level is None:
        raise f.fail("backupLevel", f"unknown backup level {summary.get('backupLevel')!r}")

    s = f.nested("subclient")
    ids = s.integers(_SUBCLIENT_IDS)
    names = s.texts(_SUBCLIENT_NAMES)
    client = Ref(ids[0], names[0])
    dest = f.ref("destinationClient", "clientId", "clientName")
    if not dest.id and dest_name and dest_name == client.name:
        dest = client  # only the name was given, and it is the job's own client
    groups_given = "clientGroups" in summary
    groups = summary.get("clientGroups") or []
    if not isinstance(groups, list):
        groups = [groups]
    client_groups = []
    for group in groups:
        if not isinstance(group, dict):
            raise f.fail("clientGroups", f"expected objects, got {group!r}")
        g = _Field(group, f.where, "clientGroups.")
        client_groups.append(Ref(g.integer("clientGroupId"), g.text("clientGroupName")))
    (
        size_of_application,
        size_of_media_on_disk,
        total_num_of_files,
        total_failed_files,
        total_failed_folders,
        start_time,
        end_time,
        last_update_time,
        elapsed_time,
        is_preemptable,
        vsa_parent_job_id,
    ) = f.integers(JOB_NUMBERS)
    [submit_error_code] = f.integers(("jobSubmitErrorCode",))
    job = Job(
        job_id=job_id,
        status=status,
        job_type=job_type,
        client=client,
        app=Ref(ids[1], names[1] or app_type),
        instance=Ref(ids[2], names[2]),
        backupset=Ref(ids[3], names[3]),
        subclient=Ref(ids[4], names[4]),
        dest_client=dest,
        storage_policy=f.ref("storagePolicy", "storagePolicyId", "storagePolicyName"),
        user=f.ref("userName", "userId", "userName"),
        client_groups=tuple(client_groups),
        backup_level=level,
        current_phase=phase,
        pending_reason=reason,
        pending_reason_error_code=reason_code,
        percent_complete=f.number("percentComplete"),
        percent_savings=f.number("percentSavings"),
        size_of_application=size_of_application,
        size_of_media_on_disk=size_of_media_on_disk,
        total_num_of_files=total_num_of_files,
        total_failed_files=total_failed_files,
        total_failed_folders=total_failed_folders,
        start_time=start_time,
        end_time=end_time,
        last_update_time=last_update_time,
        elapsed_time=elapsed_time,
        is_aged=f.boolean("isAged", False),
        is_visible=f.boolean("isVisible", True),
        submit_error_code=submit_error_code,
        is_preemptable=is_preemptable,
        vsa_parent_job_id=vsa_parent_job_id,
    )
    return JobRecord(job, set_client_groups=groups_given)


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


def client_ref(client: Ref) -> JsonObject:
    """A client named by id and name (destinationClient in jobSummary and JobDetails)."""
    return {"clientId": client.id, "clientName": client.name}


def summary_of(job: Job, *, xml: bool = False) -> JsonObject:
    """A job as a `jobSummary` record, the inverse of `job_from_summary`: every field of
    the seed's table and the contract's list, always present (a Zabbix client crashes on a
    missing attribute), 0, "" or false when unknown. The JSON record, or with `xml` the
    same keys with XML's spellings (`cvjobs.spellings`)."""
    level_name = spellings.SUMMARY_BACKUP_LEVEL_NAME.spell(job.backup_level)
    percent = spellings.SUMMARY_PERCENT.of(xml)
    return {
        "jobId": job.job_id,
        "status": job.status,
        "localizedStatus": job.status,
        "statusColor": job.status_color,
        "jobType": job.job_type,
        "localizedOperationName": job.job_type,
        "appTypeName": job.app.name,
        "backupLevel": spellings.SUMMARY_BACKUP_LEVEL.of(xml)(job.backup_level),
        "backupLevelName": level_name,
        "localizedBackupLevelName": level_name,
        "backupSetName": job.backupset.name,
        "subclientName": job.subclient.name,
        "destClientName": job.dest_client.name,
        "currentPhaseName": job.current_phase,
        "pendingReason": job.pending_reason,
        "pendingReasonErrorCode": job.pending_reason_error_code,
        "percentComplete": percent(job.percent_complete),
        "percentSavings": percent(job.percent_savings),
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
        "vsaParentJobID": job.vsa_parent_job_id,
        "userName": {"userName": job.user.name, "userId": job.user.id},
        "subclient": subclient_of(job),
        "destinationClient": client_ref(job.dest_client),
        "storagePolicy": {
            "storagePolicyId": job.storage_policy.id,
            "storagePolicyName": job.storage_policy.name,
        },
        "clientGroups": [
            {"clientGroupId": g.id, "clientGroupName": g.name} for g in job.client_groups
        ],
    }


def out_of_range(job: Job, before: Job | None = None) -> str | None:
    """Why a number of `job` is outside its range (RANGES), naming the field, or None.
    With `before`, only the numbers that differ from `before`'s count: what a change of a
    stored job would write anew (the rest is stored already)."""
    new = _numbers(job)
    old = _numbers(before) if before is not None else {}
    for key, values in new.items():
        if old.get(key) == values:
            continue
        low, high = RANGES[key]
        for value in values:
            if not low <= value <= high:
                return f"field {key!r} would be {value}, outside its range {low} to {high}"
    return None


def _numbers(job: Job) -> dict[str, tuple[float, ...]]:
    """The job's value of each field of RANGES (a field of a list: every item's)."""
    summary = summary_of(job)
    numbers: dict[str, tuple[float, ...]] = {}
    for key in RANGES:
        parent, _, name = key.rpartition(".")
        if not parent:
            numbers[key] = (summary[key],)
            continue
        holder = summary[parent]
        items = holder if isinstance(holder, list) else [holder]
        numbers[key] = tuple(item[name] for item in items)
    return numbers


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
                if _XML_RESERVED.match(key):
                    raise InvalidRecord(
                        where, f"section {name!r} has the key {key[:40]!r}, a name XML reserves"
                    )
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and (problem := parse.xml_problem(item)):
            raise InvalidRecord(where, f"section {name!r}: a value {problem}")
