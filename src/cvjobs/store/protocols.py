"""The store interfaces: what each consumer asks of a job catalogue, one protocol per
concern, so that a service's dependencies are visible in its signature and a test double
implements only what it is asked (those of notices, cvjobs.store.notice_protocols, are
re-exported here). `Store` is all of them plus the catalogue's lifecycle;
backends implement it (cvjobs.store.sql_store), nothing above the store knows which one it
talks to, and driver errors reach nobody above it: backends translate them into
`cvjobs.errors.StoreError`.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from typing import Protocol

from cvjobs.model import (
    Account,
    AuditEntry,
    AuditQuery,
    ClientGroupInfo,
    ClientInfo,
    EntityPath,
    Event,
    EventQuery,
    Job,
    JobQuery,
    JobRecord,
    JsonObject,
    Ref,
    Scope,
    StoragePolicy,
)
from cvjobs.store.batches import Batch
from cvjobs.store.notice_protocols import ChangeLog, MetricReads, RpoStore, WebhookStore
from cvjobs.store.values import (
    JobChange,
    JobState,
    LoginAttempt,
    LoginRules,
    LoginVerdict,
    StoredAccount,
    StoredEntity,
    StoredSession,
    StoredToken,
)

__all__ = [
    "AccountStore",
    "AuditStore",
    "ChangeLog",
    "EntityLookups",
    "EntityReads",
    "EntityStore",
    "EventStore",
    "JobChanges",
    "JobExport",
    "JobReads",
    "JobStore",
    "JobWrites",
    "MetricReads",
    "RpoStore",
    "Store",
    "WebhookStore",
]


class JobReads(Protocol):
    """What a job read asks: GET Job, JobDetails, AdvancedDetails, job lists."""

    async def get_job(self, job_id: int) -> Job | None: ...

    async def get_sections(self, job_id: int, names: Collection[str]) -> dict[str, JsonObject]:
        """The stored sections of a job among `names` (absent ones are left out)."""
        ...

    async def list_jobs(self, query: JobQuery) -> tuple[int, list[Job]]:
        """(the count of all matches, the requested page of them)."""
        ...

    async def catalogue_version(self) -> Hashable:
        """A value that differs after any committed write, whoever wrote (see
        Database.version): what a kept answer was read from."""
        ...

    async def get_storage_policy(self, policy_id: int) -> StoragePolicy | None: ...


class JobChanges(Protocol):
    """What moves jobs that exist: job control and the job engine."""

    async def engine_jobs(self, job_ids: Collection[int] | None = None) -> set[int]:
        """Which of these jobs (None: all) the job engine moves: the ones it started or
        a resubmit made (`create_job`) and the demo's (`for_engine`)."""
        ...

    async def active_jobs(self) -> list[Job]:
        """The active jobs the engine moves (see `engine_jobs`), by id."""
        ...

    async def replace_jobs(
        self,
        changes: Sequence[JobChange],
        *,
        all_or_nothing: bool,
        audit: Sequence[AuditEntry] = (),
    ) -> int:
        """Write each change's changeable fields (status, progress, times; not the job's
        identity or entities) and its events, in one transaction. A change whose job no
        longer has its expected status is skipped, or with `all_or_nothing` undoes them
        all. Returns how many were written."""
        ...

    async def create_job(
        self,
        job: Job,
        events: Iterable[Event],
        audit: Sequence[AuditEntry] = (),
        *,
        first_id: int,
    ) -> Job:
        """Insert `job` under a new id, with its events; returns it with that id. Ids are
        allocated upward in the range from `first_id` (--job-id-base) to the top of the
        jobId range, above any id given before or stored there already (when the top id
        is taken, the lowest unused one): unique however many workers allocate at once."""
        ...


class JobWrites(Protocol):
    """What reports jobs: ingest, `cvjobs import`, the demo, `cvjobs copy`'s target."""

    async def upsert_jobs(
        self,
        records: Iterable[JobRecord],
        *,
        require_newer: bool = False,
        audit: Sequence[AuditEntry] = (),
        for_engine: bool = False,
    ) -> int:
        """Insert or replace jobs by id, with their entities, sections and events, all or
        nothing; `audit` entries go in the same transaction (as in every write below).
        Sections a record does not carry are kept. With `require_newer`, a record older
        than the stored job (by lastUpdateTime) raises StaleUpdate and nothing is written.
        The jobs are then their reporter's, which the engine leaves as they are; with
        `for_engine` (the demo's), the active ones are the engine's to move. Returns how
        many jobs were written."""
        ...

    async def load(self, batches: Iterable[Batch]) -> int:
        """upsert_jobs for records already turned into a `Batch` (cvjobs.store.batches:
        rows by the named columns of cvjobs.store.rows, possibly prepared in other
        processes), in one transaction. Returns how many jobs."""
        ...

    async def job_states(self, job_ids: Sequence[int]) -> dict[int, JobState]:
        """The states of those of the jobs that exist, in a few queries."""
        ...

    async def put_sections(self, job_id: int, sections: dict[str, JsonObject]) -> bool:
        """Replace the named sections of an existing job; False if there is no such job."""
        ...

    async def put_storage_policies(self, policies: Iterable[StoragePolicy]) -> None:
        """Insert or replace storage policies with exactly the copies given."""
        ...

    async def give_to_engine(self, job_ids: Collection[int]) -> None:
        """Let the engine move these jobs (a copy of a catalogue keeps who moves what)."""
        ...


class JobExport(Protocol):
    """The whole catalogue's jobs and policies, read in order (`cvjobs copy`, start-up)."""

    async def export_jobs(self, after_id: int, limit: int) -> list[JobRecord]:
        """Up to `limit` jobs with ids above `after_id`, in id order, with all their
        sections and their client groups."""
        ...

    async def storage_policies(self) -> list[StoragePolicy]: ...

    async def count_jobs(self) -> int: ...


class JobStore(JobReads, JobChanges, JobWrites, JobExport, Protocol):
    """Jobs, their sections and storage policies."""


class EventStore(Protocol):
    """The events job changes write (GET Events, ingest's events)."""

    async def add_events(
        self, events: Iterable[Event], audit: Sequence[AuditEntry] = ()
    ) -> None: ...

    async def list_events(self, query: EventQuery) -> list[Event]:
        """Matching events, newest first."""
        ...

    async def export_events(self, after_id: int, limit: int) -> list[Event]:
        """Up to `limit` events with ids above `after_id`, oldest first."""
        ...


class EntityReads(Protocol):
    """The entities job records name, as the entity routes read them."""

    async def clients(
        self, *, client_id: int | None = None, name: str | None = None
    ) -> list[ClientInfo]:
        """Every stored client in id order with its groups; or only the one with this id,
        or those with this name (any casing)."""
        ...

    async def client_groups(self, group_id: int | None = None) -> list[ClientGroupInfo]:
        """Every stored client group in id order (or only this one) with its members,
        each member with all of its groups."""
        ...

    async def backupsets_of(self, client_id: int) -> list[EntityPath]:
        """The backup sets of a client in id order, each with its agent and instance."""
        ...

    async def subclients_of(self, client_id: int) -> list[EntityPath]:
        """The subclients of a client in id order, each with its whole path."""
        ...

    async def backupset(self, backupset_id: int) -> EntityPath | None:
        """The backup set with its client, agent and instance."""
        ...

    async def subclient(self, subclient_id: int) -> EntityPath | None:
        """The subclient with its whole path."""
        ...

    async def subclient_policy(self, subclient_id: int) -> Ref:
        """The storage policy of the subclient's newest job that names one (Ref() if
        none does)."""
        ...


class EntityLookups(Protocol):
    """What scoped writes and scope changes look up of the entities records name."""

    async def client_groups_of(self, client_ids: Collection[int]) -> dict[int, frozenset[int]]:
        """The stored client groups of each of these clients (empty for unknown ones)."""
        ...

    async def stored_entities(
        self, wanted: Mapping[str, Collection[int]]
    ) -> dict[str, dict[int, StoredEntity]]:
        """For each kind of ENTITY_KINDS, the stored entities among the ids wanted (absent
        ones are left out)."""
        ...

    async def entity_ids(self, table: str, names: Collection[str]) -> dict[str, int]:
        """{lowercased name: id} of the clients or client_groups with these names."""
        ...

    async def entity_names(self, table: str, ids: Collection[int]) -> dict[int, str]:
        """{id: name} of these clients or client_groups."""
        ...


class EntityStore(EntityReads, EntityLookups, Protocol):
    """The entities job records name."""


class AccountStore(Protocol):
    """Accounts, their login sessions and access tokens, and the verdicts on logins."""

    async def accounts(self) -> list[StoredAccount]: ...

    async def count_accounts(self) -> int: ...

    async def create_account(
        self, name: str, password_hash: str, *, role: str, scope: Scope = ...
    ) -> Account:
        """A new account with its scope (by default every client), in one transaction."""
        ...

    async def get_account(self, name: str) -> StoredAccount | None: ...

    async def update_account(
        self,
        account_id: int,
        *,
        password_hash: str | None = None,
        role: str | None = None,
        disabled: bool | None = None,
        unlock: bool = False,
    ) -> None:
        """Change what is given. A new password or disabling ends the account's logins;
        a new password also clears its failed logins and lock, as `unlock` does."""
        ...

    async def set_scope(self, account_id: int, scope: Scope) -> None: ...

    async def peek_login(
        self, name: str, address: str, now: int, rules: LoginRules
    ) -> LoginVerdict:
        """THROTTLED or LOCKED if a login by `name` from `address` would be refused now
        whatever its password, else OPEN. A read, to spare a hash; not the verdict."""
        ...

    async def judge_login(self, attempt: LoginAttempt, rules: LoginRules) -> LoginVerdict:
        """The verdict on a checked password, in one transaction that first locks the
        name's (and, for a wrong password, the address's) guard, so that concurrent logins
        of a name are judged one at a time on what the others decided: THROTTLED, LOCKED
        (also for the right password), DISABLED, a failure counted (FAILED, or LOCKOUT when
        it makes `lock_after` in a row), or OK: the name's failures cleared and the
        attempt's session and audit entries written. Unknown names are judged the same
        way, with the same statements."""
        ...

    async def purge_logins(self, now: int, rules: LoginRules) -> int:
        """Forget address failures out of the window and guards with nothing left to
        say (unlocked, last failure more than `forget_seconds` ago). Returns rows gone."""
        ...

    async def create_access_token(
        self,
        token_hash: str,
        account_id: int,
        name: str,
        now: int,
        expires_at: int,
        *,
        revoked_at: int = 0,
        last_used: int = 0,
    ) -> int: ...

    async def get_access_token(self, token_hash: str) -> StoredToken | None: ...

    async def access_tokens(self) -> list[StoredToken]: ...

    async def touch_access_token(self, token_id: int, now: int) -> None: ...

    async def revoke_access_token(self, token_id: int, now: int) -> bool: ...

    async def create_session(
        self,
        token_hash: bytes,
        account_id: int,
        now: int,
        idle_seconds: int,
        audit: Sequence[AuditEntry] = (),
    ) -> None: ...

    async def get_session(self, token_hash: bytes) -> StoredSession | None: ...

    async def touch_session(self, token_hash: bytes, now: int) -> None: ...

    async def delete_session(self, token_hash: bytes) -> bool: ...

    async def delete_sessions_idle_since(self, now: int) -> int:
        """Remove every session whose inactivity timeout has passed at `now`."""
        ...


class AuditStore(Protocol):
    """The audit log."""

    async def add_audit(self, entries: Sequence[AuditEntry]) -> None: ...

    async def audit(self, query: AuditQuery) -> list[AuditEntry]:
        """Newest first."""
        ...

    async def export_audit(self, after_id: int, limit: int) -> list[AuditEntry]:
        """Up to `limit` entries with ids above `after_id`, oldest first (cvjobs copy)."""
        ...


class Store(
    JobStore,
    EventStore,
    EntityStore,
    AccountStore,
    AuditStore,
    ChangeLog,
    MetricReads,
    WebhookStore,
    RpoStore,
    Protocol,
):
    """A whole job catalogue, as a server or a command opens it."""

    created: bool
    """True if opening it made a new, empty catalogue."""

    async def close(self) -> None: ...

    async def maintain(self) -> None:
        """Housekeeping a server runs every few seconds."""
        ...

    async def try_lead(self) -> bool:
        """True if this process runs the job engine on this catalogue (one process does,
        among all workers; another takes over when it dies)."""
        ...
