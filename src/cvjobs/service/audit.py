"""Refusals in the audit log: an action that is refused writes nothing else, so its audit
entry is written on its own (what is done is audited in the transaction that does it)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager

from cvjobs.errors import CvjobsError, Forbidden, StoreError
from cvjobs.model import Account, AuditEntry
from cvjobs.store.base import Store


@asynccontextmanager
async def refusals_audited(
    store: Store,
    clock: Callable[[], float],
    account: Account,
    address: str,
    action: str,
    job_ids: Iterable[int],
    refusals: tuple[type[CvjobsError], ...],
) -> AsyncIterator[None]:
    """Record `action` on each job (or once, with no jobs) when one of `refusals` ends it,
    then let the error go on; "forbidden" for a role or scope, "refused" otherwise."""
    try:
        yield
    except refusals as exc:
        outcome = "forbidden" if isinstance(exc, Forbidden) else "refused"
        now = int(clock())
        entries = [
            AuditEntry(now, account.name, address, action, job_id, outcome, exc.message)
            for job_id in (list(job_ids) or [0])
        ]
        with contextlib.suppress(StoreError):  # the refusal is what the caller must see
            await store.add_audit(entries)
        raise
