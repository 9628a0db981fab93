"""What the store hands back and takes besides domain objects (`cvjobs.model`): what a
write needs to know of stored jobs and entities, compare-and-set changes, accounts with
their secrets' hashes, sessions, tokens, and the rules and verdicts of logins. The store
protocols are in protocols.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from cvjobs.model import (
    Account,
    AuditEntry,
    Event,
    Job,
)


class StoredEntity(NamedTuple):
    """What a scoped write needs to know of an entity a job record names: its stored name,
    the clients it belongs to (none: shared by every client, or not yet used by any), and
    its parent (a backup set's client, a subclient's backup set; 0 for the rest)."""

    name: str
    owners: frozenset[int]
    parent: int = 0


# The entity kinds a job record names, as `Store.stored_entities` takes them.
ENTITY_KINDS = (
    "clients",
    "app_types",
    "instances",
    "backupsets",
    "subclients",
    "storage_policies",
    "job_users",
)


class JobState(NamedTuple):
    """What ingest needs to know of a stored job before replacing it."""

    status: str
    last_update_time: int
    client_id: int


@dataclass(frozen=True, slots=True)
class StoredSession:
    account: Account
    created_at: int
    last_used: int
    idle_seconds: int


@dataclass(frozen=True, slots=True)
class JobChange:
    """A job's new state, written only if its stored status is still `expect_status`
    (compare and set), with the events the change makes."""

    job: Job
    expect_status: str
    events: tuple[Event, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredAccount:
    account: Account
    password_hash: str
    failed_logins: int = 0
    locked_until: int = 0


@dataclass(frozen=True, slots=True)
class LoginRules:
    """When failed logins lock a name or throttle an address."""

    lock_after: int  # failures of a name in a row that lock it...
    lock_seconds: int  # ...for this long
    address_failures: int  # failures from one address within...
    address_window: int  # ...this many seconds refuse it, until the oldest is that old
    forget_seconds: int  # a name's failures this far apart do not add up


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """A login whose password has been checked, to be judged."""

    name: str  # as sent (stripped); its failures are kept under the lower-cased name
    address: str
    now: int
    account_id: int | None  # the account whose hash was checked; None: no such name
    password_ok: bool
    # The session an admitted login opens, with its audit entries:
    token_hash: bytes = b""
    idle_seconds: int = 0
    audit: tuple[AuditEntry, ...] = ()


# LoginVerdict.outcome: OPEN only from peek_login (nothing refuses it yet); OK: the session
# is open; the rest refuse. LOCKOUT is a failure that has just locked the name.
OPEN, OK, FAILED, LOCKOUT, LOCKED, THROTTLED, DISABLED = (
    "open", "ok", "failed", "lockout", "locked", "throttled", "disabled"
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class LoginVerdict:
    outcome: str
    wait: int = 0  # LOCKED, LOCKOUT, THROTTLED: seconds until a login may succeed


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A long-lived access token (its secret is never stored)."""

    account: Account
    token_id: int
    name: str
    created_at: int
    expires_at: int
    revoked_at: int = 0
    last_used: int = 0
    token_hash: str = ""  # hex SHA-256 of the secret; for copying a catalogue, never shown
