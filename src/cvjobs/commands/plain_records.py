"""The plain NDJSON record's fast path for `cvjobs import`: one line straight to its rows.

Checking a record field by field (`summaries.job_from_summary`) and turning the Job into
rows (`store.batches.prepare`) cost about 24 µs of the 30 a record takes. A plain record
(every value already of its JSON type and in range, every name XML can carry, status and
level known) is decoded by msgspec into `PlainSummary`, which checks the types and ranges
while it parses, in C, and then becomes its rows in a few lines of Python. A line that is
not plain, or not JSON at all, gives None and goes the careful way, which also words the
errors. tests/commands/test_imports.py checks that both ways give the same rows and
entities. The ranges are RANGES', read when the structs are defined.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType, field

from cvjobs import parse, vocab
from cvjobs.ranges import RANGES

Pair = tuple[int, str]
Entities = tuple[Pair, Pair, Pair, Pair, Pair, Pair, Pair, Pair, tuple[Pair, ...] | None]


def _within(key: str) -> Meta:
    low, high = RANGES[key]
    return Meta(ge=low, le=high)


class _Subclient(Struct, rename="camel"):
    client_id: Annotated[int, _within("subclient.clientId")] = 0
    client_name: str = ""
    application_id: Annotated[int, _within("subclient.applicationId")] = 0
    app_name: str = ""
    instance_id: Annotated[int, _within("subclient.instanceId")] = 0
    instance_name: str = ""
    backupset_id: Annotated[int, _within("subclient.backupsetId")] = 0
    backupset_name: str = ""
    subclient_id: Annotated[int, _within("subclient.subclientId")] = 0
    subclient_name: str = ""


class _Client(Struct, rename="camel"):
    client_id: Annotated[int, _within("destinationClient.clientId")] = 0
    client_name: str = ""


class _Policy(Struct, rename="camel"):
    storage_policy_id: Annotated[int, _within("storagePolicy.storagePolicyId")] = 0
    storage_policy_name: str = ""


class _User(Struct, rename="camel"):
    user_id: Annotated[int, _within("userName.userId")] = 0
    user_name: str = ""


class _Group(Struct, rename="camel"):
    client_group_id: Annotated[int, _within("clientGroups.clientGroupId")]  # no default: 0 is out
    client_group_name: str = ""


class PlainSummary(Struct, rename="camel"):
    """The fields of a jobSummary the catalogue keeps, as a plain record holds them.
    A default is what the careful way takes for a missing field."""

    job_id: Annotated[int, _within("jobId")]
    status: str = ""
    job_type: str = ""
    backup_level: int | str | UnsetType = UNSET
    backup_level_name: int | str = 0
    subclient: _Subclient = field(default_factory=_Subclient)
    destination_client: _Client = field(default_factory=_Client)
    storage_policy: _Policy = field(default_factory=_Policy)
    user_name: _User = field(default_factory=_User)
    client_groups: list[_Group] | str | UnsetType | None = UNSET
    app_type_name: str = ""
    dest_client_name: str = ""
    current_phase_name: str = ""
    pending_reason: str = ""
    pending_reason_error_code: str = ""
    percent_complete: Annotated[float, _within("percentComplete")] = 0.0
    percent_savings: Annotated[float, _within("percentSavings")] = 0.0
    size_of_application: Annotated[int, _within("sizeOfApplication")] = 0
    size_of_media_on_disk: Annotated[int, _within("sizeOfMediaOnDisk")] = 0
    total_num_of_files: Annotated[int, _within("totalNumOfFiles")] = 0
    total_failed_files: Annotated[int, _within("totalFailedFiles")] = 0
    total_failed_folders: Annotated[int, _within("totalFailedFolders")] = 0
    job_start_time: Annotated[int, _within("jobStartTime")] = 0
    job_end_time: Annotated[int, _within("jobEndTime")] = 0
    last_update_time: Annotated[int, _within("lastUpdateTime")] = 0
    job_elapsed_time: Annotated[int, _within("jobElapsedTime")] = 0
    is_aged: bool = False
    is_visible: bool = True
    job_submit_error_code: Annotated[int, _within("jobSubmitErrorCode")] = 0
    is_preemptable: Annotated[int, _within("isPreemptable")] = 0
    vsa_parent_job_id: Annotated[int, _within("vsaParentJobID")] = field(
        default=0, name="vsaParentJobID"
    )
    job_summary: Any = UNSET  # a wrapped record: the careful way unwraps it


_DECODE = msgspec.json.Decoder(PlainSummary).decode
_NOT_XML = parse.NOT_XML.search


def plain_job(line: bytes) -> tuple[tuple[Any, ...], Entities] | None:
    """(the jobs row, the entities) of an NDJSON line holding a plain record, or None
    for the careful way."""
    try:
        s = _DECODE(line)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    if s.job_summary is not UNSET:
        return None
    status = vocab.canonical_status(s.status)
    job_type = s.job_type.strip()
    level = vocab.backup_level_code(
        s.backup_level_name if s.backup_level is UNSET else s.backup_level
    )
    if status is None or not job_type or level is None:
        return None
    groups: tuple[Pair, ...] | None = None
    given = s.client_groups
    if type(given) is list:
        groups = tuple((g.client_group_id, g.client_group_name) for g in given)
    elif given is None or given == "":
        groups = ()
    elif given is not UNSET:
        return None  # other text where the groups go
    sub, dest_name = s.subclient, s.dest_client_name
    client = (sub.client_id, sub.client_name)
    dest = (s.destination_client.client_id, s.destination_client.client_name)
    app = (sub.application_id, sub.app_name)
    instance = (sub.instance_id, sub.instance_name)
    backupset = (sub.backupset_id, sub.backupset_name)
    subclient = (sub.subclient_id, sub.subclient_name)
    policy = (s.storage_policy.storage_policy_id, s.storage_policy.storage_policy_name)
    user = (s.user_name.user_id, s.user_name.user_name)
    texts = (s.current_phase_name, s.pending_reason, s.pending_reason_error_code)
    names = [
        client[1], app[1], instance[1], backupset[1], subclient[1], dest[1], policy[1],
        user[1], *texts, s.app_type_name, dest_name, s.status, s.job_type,
    ]  # fmt: skip
    names += [g[1] for g in groups or ()]
    if _NOT_XML("".join(names)):
        return None
    if not dest[0] and dest_name and dest_name == client[1]:
        dest = client  # only the name was given, and it is the job's own client
    app = (app[0], app[1] or s.app_type_name)
    row = (
        s.job_id,
        status,
        vocab.job_type_named(job_type) or job_type,
        client[0] or None,
        app[0] or None,
        instance[0] or None,
        backupset[0] or None,
        subclient[0] or None,
        dest[0] or None,
        policy[0] or None,
        user[0] or None,
        level,
        *texts,
        s.percent_complete,
        s.percent_savings,
        s.size_of_application,
        s.size_of_media_on_disk,
        s.total_num_of_files,
        s.total_failed_files,
        s.total_failed_folders,
        s.job_start_time,
        s.job_end_time,
        s.last_update_time,
        s.job_elapsed_time,
        int(s.is_aged),
        int(s.is_visible),
        s.job_submit_error_code,
        s.is_preemptable,
        0,  # auto_resume_at
        s.vsa_parent_job_id,
    )
    return row, (client, dest, app, instance, policy, user, backupset, subclient, groups)
