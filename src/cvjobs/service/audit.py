"""Audit entries of job writes, bounded, and refusals in the audit log: an action that is
refused writes nothing else, so its audit entry is written on its own (what is done is
audited in the transaction that does it).

One request is one entry, however many jobs it names: its job id when it names one, else
0 and the ids (the first SHOWN_IDS) in its detail. A refusal's message is kept to
MAX_DETAIL characters. So no request can make the audit log grow by more than a line."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Final

from cvjobs.errors import CvjobsError, Forbidden, StoreError
from cvjobs.model import Account, AuditEntry
from cvjobs.service import lifecycle
from cvjobs.store.protocols import AuditStore

SHOWN_IDS = 20
MAX_DETAIL = 500

# Every action the audit log records: what `cvjobs audit --action` takes.
ACTIONS: Final = (
    "login",
    "lockout",
    *(f"job.{action}" for action in lifecycle.ACTIONS),
    "ingest.jobs",
    "ingest.update",
    "ingest.events",
    *(f"user.{verb}" for verb in ("add", "passwd", "disable", "enable", "unlock", "role", "scope")),
    "token.create",
    "token.revoke",
)


def job_entry(
    now: int,
    account: Account,
    address: str,
    action: str,
    job_ids: Sequence[int],
    outcome: str = "ok",
    detail: str = "",
) -> AuditEntry:
    """The one entry of a request on `job_ids`."""
    if len(job_ids) != 1:
        shown = ", ".join(map(str, job_ids[:SHOWN_IDS]))
        more = f", ... ({len(job_ids) - SHOWN_IDS} more)" if len(job_ids) > SHOWN_IDS else ""
        listed = f"{len(job_ids)} job(s): {shown}{more}" if job_ids else ""
        detail = f"{listed}; {detail}" if listed and detail else listed or detail
    if len(detail) > MAX_DETAIL:
        detail = detail[: MAX_DETAIL - 3] + "..."
    job_id = job_ids[0] if len(job_ids) == 1 else 0
    return AuditEntry(now, account.name, address, action, job_id, outcome, detail)


@asynccontextmanager
async def refusals_audited(
    store: AuditStore,
    clock: Callable[[], float],
    account: Account,
    address: str,
    action: str,
    job_ids: Sequence[int],
    refusals: tuple[type[CvjobsError], ...],
) -> AsyncIterator[None]:
    """Record `action` on `job_ids` in one entry when one of `refusals` ends it, then let
    the error go on; "forbidden" for a role or scope, "refused" otherwise."""
    try:
        yield
    except refusals as exc:
        outcome = "forbidden" if isinstance(exc, Forbidden) else "refused"
        entry = job_entry(int(clock()), account, address, action, job_ids, outcome, exc.message)
        with contextlib.suppress(StoreError):  # the refusal is what the caller must see
            await store.add_audit([entry])
        raise
