"""Domain objects: what a job is, independent of the store that keeps it and of the wire
format that shows it. Renderers turn these into bytes; the store builds them from rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cvjobs import vocab

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Ref:
    """An entity named by id and name; id 0 and name "" when the job has none."""

    id: int = 0
    name: str = ""


@dataclass(frozen=True, slots=True)
class Job:
    """One job as the catalogue knows it. Names of related entities are resolved."""

    job_id: int
    status: str
    job_type: str
    client: Ref = Ref()
    app: Ref = Ref()
    instance: Ref = Ref()
    backupset: Ref = Ref()
    subclient: Ref = Ref()
    dest_client: Ref = Ref()
    storage_policy: Ref = Ref()
    user: Ref = Ref()
    client_groups: tuple[Ref, ...] = ()
    backup_level: int = 0
    current_phase: str = ""
    pending_reason: str = ""
    pending_reason_error_code: str = ""
    percent_complete: float = 0.0
    percent_savings: float = 0.0
    size_of_application: int = 0
    size_of_media_on_disk: int = 0
    total_num_of_files: int = 0
    total_failed_files: int = 0
    total_failed_folders: int = 0
    start_time: int = 0
    end_time: int = 0
    last_update_time: int = 0
    elapsed_time: int = 0
    is_aged: bool = False
    is_visible: bool = True
    submit_error_code: int = 0
    is_preemptable: int = 0
    # Not on the wire: when a suspended job resumes by itself (0: never).
    auto_resume_at: int = 0
    # A VM's job under a Virtual Server backup: the parent job's id (0: none).
    vsa_parent_job_id: int = 0

    @property
    def status_color(self) -> str:
        return vocab.status_color(self.status)

    @property
    def backup_level_name(self) -> str:
        return vocab.backup_level_name(self.backup_level)

    @property
    def is_active(self) -> bool:
        return vocab.is_active(self.status)


@dataclass(frozen=True, slots=True)
class AdvancedDetails:
    """What GET Job/{id}/AdvancedDetails answers for a job: the section `names` to show,
    in order, each recorded (`recorded`) or, for retention, derived from the job's storage
    policy `retention_from` (None: nothing to derive)."""

    job: Job
    names: tuple[str, ...]
    recorded: dict[str, JsonObject]
    retention_from: StoragePolicy | None = None


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job to write: the job itself plus the stored sections and events that come with it.

    `sections` maps a section name (an AdvancedDetails top-level key such as "bkpInfo", or
    "jobDetail" for the extras of POST JobDetails) to its JSON body.
    """

    job: Job
    sections: dict[str, JsonObject] = field(default_factory=dict)
    # False when the source did not say which groups the client is in: keep what is stored.
    set_client_groups: bool = True
    # Events written with the job (its start, its failure, a status change by ingest).
    events: tuple[Event, ...] = ()


ADMIN, OPERATOR, VIEWER = "admin", "operator", "viewer"
ROLES = (ADMIN, OPERATOR, VIEWER)


@dataclass(frozen=True, slots=True)
class Scope:
    """The jobs an account may see: every job, or those whose client is listed or belongs
    to a listed client group. A job out of scope looks exactly like an absent one."""

    everything: bool = True
    clients: frozenset[int] = frozenset()
    groups: frozenset[int] = frozenset()

    def allows(self, job: Job) -> bool:
        if self.everything:  # every request of an admin or an unscoped account
            return True
        return self.allows_client(job.client.id, {group.id for group in job.client_groups})

    def allows_client(self, client_id: int, group_ids: Iterable[int]) -> bool:
        return self.everything or client_id in self.clients or not self.groups.isdisjoint(group_ids)


EVERYTHING = Scope()


@dataclass(frozen=True, slots=True)
class Account:
    """A login account of this server (not a CommCell user named in job records). Roles:
    admin (everything, always every job), operator (read, job actions and ingest within
    its scope), viewer (read within its scope)."""

    account_id: int
    name: str
    role: str = VIEWER
    disabled: bool = False
    scope: Scope = EVERYTHING

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def may_act(self) -> bool:
        """Job actions and ingest writes (within the scope)."""
        return self.role in (ADMIN, OPERATOR)

    @property
    def sees(self) -> Scope:
        return EVERYTHING if self.role == ADMIN else self.scope


@dataclass(frozen=True, slots=True)
class Session:
    account: Account
    token: str


@dataclass(frozen=True, slots=True)
class PolicyCopy:
    """A copy of a storage policy and how long it keeps a job's data."""

    copy_id: int
    name: str
    retention_days: int
    is_default: bool = False


@dataclass(frozen=True, slots=True)
class StoragePolicy:
    policy: Ref
    copies: tuple[PolicyCopy, ...]


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """A stored client with the client groups it belongs to (what scoping needs)."""

    client: Ref
    groups: tuple[Ref, ...] = ()


@dataclass(frozen=True, slots=True)
class ClientGroupInfo:
    """A stored client group with its member clients (each with all its groups)."""

    group: Ref
    members: tuple[ClientInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class EntityPath:
    """Where a backup set (subclient Ref() then) or a subclient sits: its client, agent
    (application type), instance and backup set."""

    client: Ref
    app: Ref
    instance: Ref
    backupset: Ref
    subclient: Ref = Ref()


# Event severities (GET Events): 0 information, 3 minor, 6 major, 9 critical.
INFO, MINOR, MAJOR, CRITICAL = 0, 3, 6, 9


@dataclass(frozen=True, slots=True)
class Event:
    """A CommCell event: a job state change, a failure, an action, or one ingested."""

    time: int
    severity: int
    code: str  # the vendor's "subsystem:number" form, e.g. "19:1327"
    description: str
    job_id: int = 0
    client: Ref = Ref()
    subsystem: str = "JobManager"
    user: str = ""
    from_status: str = ""
    to_status: str = ""
    event_id: int = 0
    acknowledged: bool = False

    @property
    def numeric_code(self) -> int:
        """The vendor's eventCode: the subsystem number in the top byte (19:122 is
        318767226)."""
        major, _, minor = self.code.partition(":")
        try:
            return (int(major) << 24) | int(minor or 0)
        except ValueError:
            return 0


@dataclass(frozen=True, slots=True)
class JobQuery:
    """What a job list asks for. None means "no filter" throughout."""

    now: int
    job_types: frozenset[str] | None = None
    statuses: frozenset[str] | None = None
    client_ids: tuple[int, ...] | None = None
    subclient_id: int | None = None
    backupset_id: int | None = None
    instance_id: int | None = None
    app_id: int | None = None
    backup_levels: frozenset[int] | None = None
    # Jobs flagged anomalous (POST Jobs' showAnomalous); cvjobs flags none [OURS].
    anomalous_only: bool = False
    category: str = "all"  # all, active, finished
    lookup_seconds: int | None = None  # finished jobs older than this are left out
    show_aged: bool = True
    sort_field: str = "jobId"
    descending: bool = True
    limit: int = 100
    offset: int = 0
    scope: Scope = EVERYTHING  # what the asking account may see


@dataclass(frozen=True, slots=True)
class Change:
    """A record of the change log: job `job_id` (of client `client_id`, 0 for none)
    changed in a way of `vocab.CHANGE_KINDS`, from `old_status` to `new_status` ("" for
    none: a job created has no old status, one deleted no new one), at `time`."""

    seq: int
    job_id: int
    client_id: int
    kind: str
    old_status: str
    new_status: str
    time: int


@dataclass(frozen=True, slots=True)
class ChangePage:
    """Records of the change log after a cursor, with the log's head when they were read
    (every record up to it is final) and the highest sequence number pruned."""

    head: int
    pruned_through: int
    changes: list[Change]

    def lost(self, after: int) -> bool:
        """Whether the log no longer holds, or never held, the records right after
        cursor `after` (pruned past it, or beyond the head: another catalogue's)."""
        return after < self.pruned_through or after > self.head

    def next_cursor(self, limit: int) -> int:
        """Where a reader that asked for `limit` goes on from: its last record, or the
        head if the page was not full (every record up to the head was read, or out of
        scope)."""
        return self.changes[-1].seq if len(self.changes) >= limit else self.head


@dataclass(frozen=True, slots=True)
class Freshness:
    """How recently a client was backed up: its RPO (seconds; 0, the server's default),
    its last successful backup (job id and end, 0 if none) and its first finished
    backup's end."""

    client_id: int
    client: str
    rpo_seconds: int
    last_success_job: int
    last_success_end: int
    first_backup_end: int


@dataclass(frozen=True, slots=True)
class RequestCounts:
    """The requests a server answered on one route with one method and status: how
    many, their seconds in all, and how many within each of vocab.REQUEST_BUCKETS (not
    cumulative; the last, past every bound)."""

    route: str
    method: str
    status: int
    seconds: float
    buckets: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ClientRpo:
    """A watched client as /metrics shows it: its RPO in effect, its last successful
    backup's end (0: none yet) and whether it is overdue now."""

    client: str
    rpo_seconds: int
    last_success_end: int
    overdue: bool


@dataclass(frozen=True, slots=True)
class LastJob:
    """A subclient's last job of a /metrics selector (last, last_successful,
    last_successful_full), with what its gauges show."""

    selector: str
    subclient: str
    subclient_id: int
    client: str
    client_id: int
    status: str
    end_time: int
    duration: int
    application_bytes: int
    media_bytes: int
    files: int
    failed_files: int


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """What /metrics shows: job counts as (client id, client name, job type, status,
    jobs), finished jobs' durations as (job type, status, bucket, jobs, seconds), each
    subclient's last jobs, the change log's head, the webhooks' deliveries by state
    (only for a scrape that sees everything: webhooks are the administrators'), and each
    watched client's RPO."""

    counts: list[tuple[int, str, str, str, int]]
    durations: list[tuple[str, str, int, int, int]]
    last: list[LastJob]
    head: int
    webhooks: list[tuple[int, bool, str, int]]  # (id, enabled, state, deliveries): admins'
    rpo: list[ClientRpo] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Webhook:
    """An endpoint told of job changes: the events it wants (vocab.WEBHOOK_EVENTS), the
    clients whose jobs it hears of (empty: all), its signing secret (whsec_...), and the
    change log's sequence number up to which its deliveries are made."""

    hook_id: int
    url: str
    events: tuple[str, ...]
    clients: tuple[int, ...] = ()
    secret: str = ""
    enabled: bool = True
    disabled_reason: str = ""
    cursor: int = 0
    created_at: int = 0
    template: str = ""  # Jinja2 (sandboxed) making the body; empty: the standard message
    old_secret: str = ""  # the secret before the last rotation, signed with until...
    old_secret_until: int = 0

    def secrets_at(self, now: float) -> tuple[str, ...]:
        """The secrets a message sent at `now` is signed with (two while a rotation lasts)."""
        if self.old_secret and now < self.old_secret_until:
            return (self.secret, self.old_secret)
        return (self.secret,)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message to one webhook, kept until it is delivered or given up: pending (due
    at `next_at`), delivered or failed, with its last attempt's outcome."""

    delivery_id: int
    hook_id: int
    event: str
    job_id: int
    body: str
    state: str = "pending"
    attempts: int = 0
    next_at: int = 0
    last_status: int = 0
    last_error: str = ""
    latency_ms: int = 0
    created_at: int = 0


@dataclass(frozen=True, slots=True)
class EventQuery:
    job_id: int | None = None
    client_id: int | None = None
    from_time: int | None = None
    to_time: int | None = None
    severities: frozenset[int] | None = None
    event_id: int | None = None
    limit: int = 1000
    scope: Scope = EVERYTHING


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what, from where, when: logins, lock-outs, token changes, job actions and
    ingest writes."""

    time: int
    user: str
    address: str
    action: str
    job_id: int = 0
    outcome: str = "ok"
    detail: str = ""
    entry_id: int = 0


@dataclass(frozen=True, slots=True)
class AuditQuery:
    since: int = 0
    user: str | None = None
    action: str | None = None
    job_id: int | None = None
    limit: int = 100
