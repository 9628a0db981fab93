"""The vendor's vocabularies: job statuses, application types, backup levels, job types
and AdvancedDetails info types, with the facts the API derives from them.

Everything here is data from the wire contract (§5, §7, §10) or the seed document; values
marked [OURS] in the contract are our documented choices.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class JobStatus(StrEnum):
    """A job status (§10) as the vendor spells it, whether it is active, and its
    statusColor. Colours other than Completed's black are [OURS]. A member is its spelling:
    it compares, hashes, formats and serialises as that string."""

    active: bool
    color: str

    def __new__(cls, spelling: str, active: bool, color: str) -> JobStatus:
        member = str.__new__(cls, spelling)
        member._value_ = spelling
        member.active = active
        member.color = color
        return member

    RUNNING = "Running", True, "green"
    WAITING = "Waiting", True, "blue"
    PENDING = "Pending", True, "blue"
    QUEUED = "Queued", True, "blue"
    SUSPENDED = "Suspended", True, "orange"
    SUSPEND_PENDING = "Suspend Pending", True, "orange"
    KILL_PENDING = "Kill Pending", True, "orange"
    INTERRUPT_PENDING = "Interrupt Pending", True, "orange"
    RUNNING_UNVERIFIED = "Running (cannot be verified)", True, "green"
    COMPLETED = "Completed", False, "black"
    COMMITTED = "Committed", False, "black"
    COMPLETED_WITH_ERRORS = "Completed w/ one or more errors", False, "darkorange"
    COMPLETED_WITH_WARNINGS = "Completed w/ one or more warnings", False, "olive"
    FAILED = "Failed", False, "red"
    FAILED_TO_START = "Failed to Start", False, "red"
    KILLED = "Killed", False, "red"
    INTERRUPTED = "Interrupted", False, "red"
    ABNORMAL_TERMINATED_CLEANUP = "Abnormal Terminated Cleanup", False, "red"


# The derived collections hold the plain spellings (exact str, as statuses read from rows
# and records are): lookups take str's fast path, the loader pickles a status to its
# writer as a str, and the stores bind it as one.
STATUSES: Final[tuple[str, ...]] = tuple(s.value for s in JobStatus)
ACTIVE_STATUSES: Final[frozenset[str]] = frozenset(s.value for s in JobStatus if s.active)
FINISHED_STATUSES: Final[frozenset[str]] = frozenset(STATUSES) - ACTIVE_STATUSES
# Statuses a webhook's job.failed (and the alerting rules) count as a failure.
FAILED_STATUSES: Final[frozenset[str]] = frozenset(
    s.value
    for s in (
        JobStatus.FAILED,
        JobStatus.FAILED_TO_START,
        JobStatus.KILLED,
        JobStatus.INTERRUPTED,
        JobStatus.ABNORMAL_TERMINATED_CLEANUP,
    )
)
# The events a webhook may subscribe to, made from the change log's records
# (service/webhooks.py; `progress` records make none: too many).
WEBHOOK_EVENTS: Final[dict[str, str]] = {
    "job.created": "a job appeared (reported, imported, started, resubmitted)",
    "job.status": "a job's status changed to another active one",
    "job.finished": "a job finished, whatever its outcome (also one reported already finished)",
    "job.completed": "a job finished Completed",
    "job.failed": "a job finished failed, failed to start, killed, interrupted or abnormally",
    "job.deleted": "a job left the catalogue",
    "job.overdue": "a client had no successful backup within its RPO (told once a spell;"
    " cvjobs rpo)",
    "webhook.test": "sent by `cvjobs webhook test` (always delivered, whatever the events)",
}


def webhook_events(kind: str, new_status: str) -> list[str]:
    """The events a change log record of `kind` to `new_status` makes."""
    finished = kind == "finished" or (kind == "created" and new_status in FINISHED_STATUSES)
    made = {"created": ["job.created"], "status": ["job.status"], "deleted": ["job.deleted"]}
    events = list(made.get(kind, []))
    if finished:
        events.append("job.finished")
        if new_status == JobStatus.COMPLETED.value:
            events.append("job.completed")
        elif new_status in FAILED_STATUSES:
            events.append("job.failed")
    return events


# /metrics' histogram of finished jobs' elapsed times: each bucket's upper bound in
# seconds (1 minute to a day; the last bucket, +Inf, has none). store/durations.py keeps
# the jobs per bucket.
DURATION_BUCKETS: Final = (60, 300, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400)
# /metrics' histogram of the server's answers' latencies: upper bounds in seconds (the
# last bucket, +Inf, has none). http/request_metrics.py counts requests per bucket.
REQUEST_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# What /metrics' last_successful selectors count as a successful job.
SUCCESSFUL_STATUSES: Final[frozenset[str]] = frozenset({JobStatus.COMPLETED.value})

# The kinds of change the change log records (store/changes.py), as the feed names them.
CHANGE_KINDS: Final[dict[str, str]] = {
    "created": "the job appeared in the catalogue (reported, imported, started or resubmitted)",
    "status": "its status changed to another active one (running, suspended, pending...)",
    "finished": "its status changed to a finished one (completed, failed, killed...)",
    "progress": "anything else about it changed, status unchanged (phase, percent, sizes,"
    " times, aging)",
    "deleted": "it left the catalogue",
}
_STATUS_BY_FOLDED: Final[dict[str, str]] = {s.casefold(): s.value for s in JobStatus}
_COLOR: Final[dict[str, str]] = {s.value: s.color for s in JobStatus}


def canonical_status(text: str) -> str | None:
    """The canonical spelling of a status named in any casing, or None if unknown."""
    return _STATUS_BY_FOLDED.get(text.strip().casefold())


def status_color(status: str) -> str:
    return _COLOR.get(status, "black")


def is_active(status: str) -> bool:
    return status in ACTIVE_STATUSES


# The seed's application types with their documented applicationId, plus the names the seed
# lists without an id, which get stable ids of ours ([OURS], listed in the README).
APP_TYPES: Final[dict[int, str]] = {
    53: "Exchange Database",
    33: "File System",
    104: "MySQL",
    13: "NAS",
    59: "Notes Database",
    22: "Oracle",
    80: "Oracle RAC",
    125: "PostgreSQL",
    79: "SAP for MAX DB",
    61: "SAP for Oracle",
    81: "SQL Server",
    5: "Sybase Database",
    106: "Virtual Server",
    # [OURS] ids for names the seed lists without one.
    41: "Active Directory",
    62: "DB2",
    103: "DB2 MultiNode",
    64: "DB2 on UNIX",
    127: "Documentum",
    75: "Informix Database",
    135: "SAP HANA",
    78: "Sharepoint Server",
}

EXCHANGE_APP_ID: Final = 53
SQL_SERVER_APP_ID: Final = 81

# Backup levels [OURS numbers]: code -> (name, XML enum name). The vendor prints the
# incremental enum as INCREMANTAL (sic, seen in the seed's XML sample for job 4).
BACKUP_LEVELS: Final[dict[int, tuple[str, str]]] = {
    1: ("Full", "FULL"),
    2: ("Incremental", "INCREMANTAL"),
    4: ("Differential", "DIFFERENTIAL"),
    8: ("Synthetic Full", "SYNTHETIC_FULL"),
}
_LEVEL_BY_WORD: Final[dict[str, int]] = {
    word.casefold(): code
    for code, names in BACKUP_LEVELS.items()
    for word in (*names, names[0].replace(" ", "_"), str(code))
} | {"incremental": 2}


def backup_level_code(value: object) -> int | None:
    """Parse a backup level given as a code, a name or an XML enum name; None if unknown."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value == 0 or value in BACKUP_LEVELS else None
    if isinstance(value, str):
        if value.strip() in ("", "0"):
            return 0
        return _LEVEL_BY_WORD.get(value.strip().casefold())
    return None


def backup_level_name(code: int) -> str:
    return BACKUP_LEVELS[code][0] if code in BACKUP_LEVELS else ""


def backup_level_enum(code: int) -> str:
    return BACKUP_LEVELS[code][1] if code in BACKUP_LEVELS else ""


# Human job type names shown in jobSummary.jobType.
BACKUP = "Backup"
RESTORE = "Restore"
AUX_COPY = "Aux Copy"
SYNTHETIC_FULL = "Synthetic Full"
DATA_VERIFICATION = "Data Verification"
REFERENCE_COPY = "Reference Copy"
ADMIN = "Admin"
SNAP_BACKUP = "Snap Backup"
BACKUP_JOB_TYPES: Final[frozenset[str]] = frozenset({BACKUP, SYNTHETIC_FULL, SNAP_BACKUP})

# Job type names and numbers accepted in jobFilter / jobTypeList (§5), each mapped to the
# human jobType it selects. Numbers the vendor documents: Backup 4, AUXCOPY 13 and 104,
# SYNTHFULL 14, SNAPBACKUP 59, DATA_VERIFICATION 82, CSDRBKP 11, DEDUPDBSYNC 80. The
# others are [OURS] (listed in the README). Admin job kinds all show as jobType "Admin".
WORKFLOW = "Workflow"
_JOB_TYPE_WORDS: Final[dict[str, tuple[str, ...]]] = {
    BACKUP: ("backup", "4"),
    RESTORE: ("restore", "1"),
    AUX_COPY: ("aux copy", "auxcopy", "13", "104"),
    SYNTHETIC_FULL: ("synthetic full", "synthfull", "14"),
    SNAP_BACKUP: ("snap backup", "snapbackup", "59"),
    DATA_VERIFICATION: ("data verification", "data_verification", "82"),
    REFERENCE_COPY: ("reference copy", "referencecopy", "109"),
    WORKFLOW: ("workflow", "90"),
    ADMIN: ("admin", "csdrbkp", "11", "dedupdbsync", "80", "data aging", "data_aging", "10"),
}
JOB_TYPE_BY_WORD: Final[dict[str, str]] = {
    word: name for name, words in _JOB_TYPE_WORDS.items() for word in words
}
JOB_TYPES: Final[tuple[str, ...]] = tuple(_JOB_TYPE_WORDS)
# What GET Job lists when no jobFilter is given: backup jobs.
DEFAULT_LIST_TYPES: Final[frozenset[str]] = BACKUP_JOB_TYPES
# Not admin jobs: what hideAdminJobs keeps.
NON_ADMIN_TYPES: Final[frozenset[str]] = BACKUP_JOB_TYPES | {RESTORE, AUX_COPY}


def job_type_named(word: str) -> str | None:
    """The jobType a jobFilter word (name or number, any casing) selects, or None."""
    return JOB_TYPE_BY_WORD.get(" ".join(word.strip().casefold().split()))


# The phases a job of each type goes through, in order (the engine walks them).
PHASES: Final[dict[str, tuple[str, ...]]] = {
    BACKUP: ("Scan", "Backup", "Archive Index"),
    SYNTHETIC_FULL: ("Synthetic Full Backup", "Archive Index"),
    SNAP_BACKUP: ("Scan", "Snap Backup", "Archive Index"),
    RESTORE: ("Restore",),
    AUX_COPY: ("Aux Copy",),
    DATA_VERIFICATION: ("Data Verification",),
    REFERENCE_COPY: ("Reference Copy",),
    WORKFLOW: ("Workflow",),
    ADMIN: ("Data Aging",),
}


def phases_of(job_type: str) -> tuple[str, ...]:
    return PHASES.get(job_type, ("Backup",))


# -- AdvancedDetails info types (§7) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class InfoType:
    """An AdvancedDetails infoType: its bit, the top-level key of its section, its name in
    the API's summary (`label`) and in refusals (`name`), and the jobs it exists for (those
    of `job_types`, and of `app_ids` only when given), as refusals describe them (`jobs`).
    The request parser, the errors, the OpenAPI document and the CLI help all derive from
    INFO_TYPES; a new info type is a row there (and, for the demo, its section's maker)."""

    bit: int
    section: str
    label: str
    name: str
    job_types: frozenset[str]
    jobs: str
    app_ids: frozenset[int] = frozenset()

    def applies_to(self, job_type: str, app_id: int) -> bool:
        return job_type in self.job_types and (not self.app_ids or app_id in self.app_ids)


INFO_RETENTION: Final = 1
INFO_REFERENCE_COPY: Final = 2
INFO_DASH_COPY: Final = 4
INFO_ADMIN: Final = 8
INFO_BACKUP: Final = 16
_AUX_COPY_JOBS: Final = frozenset({AUX_COPY})
INFO_TYPES: Final[tuple[InfoType, ...]] = (
    InfoType(
        INFO_RETENTION,
        "jobRetention",
        "retention",
        "retention information",
        BACKUP_JOB_TYPES,
        "backup jobs",
    ),
    InfoType(
        INFO_REFERENCE_COPY,
        "refCopyInfo",
        "reference copy",
        "reference copy information",
        frozenset({REFERENCE_COPY}),
        "reference copy jobs",
    ),
    InfoType(
        INFO_DASH_COPY,
        "dashCopyInfo",
        "DASH copy",
        "DASH copy information",
        _AUX_COPY_JOBS,
        "auxiliary copy jobs",
    ),
    InfoType(
        INFO_ADMIN,
        "adminInfo",
        "admin",
        "administrative information",
        _AUX_COPY_JOBS,
        "auxiliary copy jobs",
    ),
    InfoType(
        INFO_BACKUP,
        "bkpInfo",
        "backup",
        "backup information",
        BACKUP_JOB_TYPES,
        "Exchange Database and SQL Server backup jobs",
        frozenset({EXCHANGE_APP_ID, SQL_SERVER_APP_ID}),
    ),
)
INFO_TYPE_BY_BIT: Final[dict[int, InfoType]] = {t.bit: t for t in INFO_TYPES}
# bit -> the top-level key of its section, and back.
INFO_SECTIONS: Final[dict[int, str]] = {t.bit: t.section for t in INFO_TYPES}
INFO_BIT_BY_SECTION: Final[dict[str, int]] = {t.section: t.bit for t in INFO_TYPES}
ALL_INFO_TYPES: Final = sum(INFO_SECTIONS)
# "retention (1), reference copy (2), ...": the AdvancedDetails route's summary.
INFO_TYPE_SUMMARY: Final = ", ".join(f"{t.label} ({t.bit})" for t in INFO_TYPES)


def _or_list(words: list[str]) -> str:
    """'a, b or c'."""
    return " or ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


_BITS_IN_WORDS: Final = _or_list([str(t.bit) for t in INFO_TYPES])


def info_bits(info_type: int) -> list[int]:
    """The single info types an OR of them is made of."""
    return [bit for bit in INFO_SECTIONS if info_type & bit]


def info_type_problem(info_type: int) -> str | None:
    """Why `info_type` is not a valid infoType (one of the bits or an OR of them)."""
    if info_type <= 0 or info_type & ~ALL_INFO_TYPES:
        return (
            f"infoType {info_type} is not valid: use {_BITS_IN_WORDS}, or a sum of them"
            f" (at most {ALL_INFO_TYPES})"
        )
    return None
