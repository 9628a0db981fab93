"""The store interfaces of what tells people about jobs: the change log, /metrics' reads,
webhooks and their outbox, and recovery point objectives (cvjobs.store.protocols re-exports
them beside the others; `Store` is all of them)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from cvjobs.model import (
    EVERYTHING,
    ChangePage,
    Delivery,
    Freshness,
    Job,
    LastJob,
    Scope,
    Webhook,
)


class ChangeLog(Protocol):
    """The change log (store/changes.py): what changed in which job, in commit order."""

    async def changes_after(self, after: int, limit: int, scope: Scope) -> ChangePage:
        """Up to `limit` records after sequence number `after` that `scope` sees, oldest
        first, with the log's head and the highest number pruned."""
        ...

    async def change_head(self) -> int:
        """The last sequence number given (0 for none yet)."""
        ...

    async def sequence_changes(self) -> None:
        """Number the committed records that wait for a number (PostgreSQL)."""
        ...

    async def prune_changes(self, before: int) -> int:
        """Delete the records older than `before` (UNIX seconds); how many went."""
        ...


class MetricReads(Protocol):
    """What /metrics reads (store/metrics.py)."""

    async def job_count_rows(self, scope: Scope) -> list[tuple[int, str, str, str, int]]:
        """(client id, client name, job type, status, jobs) of every key with jobs."""
        ...

    async def duration_rows(self, scope: Scope) -> list[tuple[str, str, int, int, int]]:
        """(job type, status, duration bucket, jobs, their seconds) of finished jobs."""
        ...

    async def last_jobs(self, scope: Scope) -> list[LastJob]:
        """Each subclient's last job of each selector that has one."""
        ...

    async def delivery_counts(self) -> list[tuple[int, bool, str, int]]:
        """(webhook id, enabled, delivery state or "" for none, deliveries kept)."""
        ...


class WebhookStore(Protocol):
    """Webhooks and their deliveries: the durable outbox (store/webhooks.py), and the
    jobs their messages show."""

    async def get_jobs(self, job_ids: Collection[int]) -> dict[int, Job]:
        """Those of the jobs that exist, by id."""
        ...

    async def add_webhook(self, hook: Webhook) -> int: ...

    async def webhooks(self) -> list[Webhook]: ...

    async def webhook(self, hook_id: int) -> Webhook | None: ...

    async def remove_webhook(self, hook_id: int) -> bool: ...

    async def disable_webhook(self, hook_id: int, reason: str) -> None: ...

    async def enable_webhook(self, hook_id: int, cursor: int) -> bool: ...

    async def rotate_secret(self, hook_id: int, secret: str, old_until: int) -> bool: ...

    async def set_template(self, hook_id: int, template: str) -> bool: ...

    async def enqueue_deliveries(
        self, hook_id: int, expected_cursor: int, cursor: int, deliveries: Sequence[Delivery]
    ) -> bool:
        """Deliveries written and the cursor moved together, or nothing (False) if the
        cursor was no longer `expected_cursor`."""
        ...

    async def due_deliveries(self, now: int, limit: int) -> list[Delivery]: ...

    async def record_attempt(self, delivery: Delivery) -> None: ...

    async def deliveries(self, hook_id: int | None, limit: int) -> list[Delivery]:
        """Newest first."""
        ...

    async def replay_delivery(
        self, delivery_id: int, now: int, hook_id: int | None = None
    ) -> bool: ...

    async def prune_deliveries(self, before: int) -> int:
        """Forget deliveries delivered or failed before `before`; how many went."""
        ...


class RpoStore(Protocol):
    """Recovery point objectives and the overdue clients told to each hook (store/rpo.py)."""

    async def client_freshness(self, scope: Scope = EVERYTHING) -> list[Freshness]: ...

    async def group_rpos(self) -> list[tuple[int, str, int]]: ...

    async def set_group_rpo(self, group_id: int, seconds: int) -> bool: ...

    async def overdue_told(self) -> set[tuple[int, int]]: ...

    async def mark_overdue(self, client_id: int, since: int, delivery: Delivery) -> bool:
        """Recorded with its delivery, or nothing (False) if recorded already."""
        ...

    async def clear_overdue(self, still_overdue: Collection[int]) -> int: ...
