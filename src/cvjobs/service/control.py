"""Job control: suspend, resume, kill and resubmit, one job or many (wire contract §8).

The state machine (`lifecycle`) decides; this applies the decision as a compare-and-set on
the job's status, so of two concurrent actions on one job exactly one wins, and a refused
action changes nothing. Every change writes its event. Only operators and administrators
act, on jobs within their scope (a job outside it answers as if it did not exist); every
action, done or refused, goes to the audit log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Protocol

from cvjobs.errors import BadRequest, Forbidden, JobActionFailed
from cvjobs.model import Account, AuditEntry, Job
from cvjobs.service import lifecycle
from cvjobs.service.accounts import require_operator
from cvjobs.service.audit import job_entry, refusals_audited
from cvjobs.service.events import started_event
from cvjobs.store.protocols import AuditStore, JobChanges, JobReads
from cvjobs.vocab import JobStatus

MAX_AUTO_RESUME_SECONDS = 30 * 24 * 3600
MAX_JOBS_PER_OPERATION = 1000
# A refusal names this many jobs' reasons, then counts the rest.
SHOWN_REFUSALS = 10


class ControlCatalogue(JobReads, JobChanges, AuditStore, Protocol):
    """What job control reads and writes: jobs, and the audit log of refusals."""


class JobControl:
    def __init__(
        self,
        store: ControlCatalogue,
        *,
        clock: Callable[[], float],
        engine_settles: bool,
        job_id_base: int,
    ) -> None:
        self._store = store
        self._clock = clock
        self._job_id_base = job_id_base  # where resubmitted jobs' ids are allocated from
        # Without an engine, pending statuses are settled here at once.
        self._engine_settles = engine_settles

    def _now(self) -> int:
        return int(self._clock())

    async def _job(self, job_id: int, account: Account) -> Job:
        job = await self._store.get_job(job_id)
        if job is None or not account.sees.allows(job):
            raise JobActionFailed(f"No job exists with the job ID {job_id}")
        return job

    @asynccontextmanager
    async def _audited(
        self, account: Account, address: str, action: str, job_ids: list[int]
    ) -> AsyncIterator[None]:
        """The operator check; refusals, its own included, go to the audit log."""
        refusals = (JobActionFailed, Forbidden)
        audited = refusals_audited(
            self._store, self._clock, account, address, f"job.{action}", job_ids, refusals
        )
        async with audited:
            require_operator(account)
            yield

    async def act(
        self,
        job_id: int,
        action: str,
        account: Account,
        *,
        auto_resume_seconds: int = 0,
        start_suspended: bool = False,
        address: str = "",
    ) -> list[int]:
        """Apply one action to one job. Returns the new job's id for a resubmit, else []."""
        if action != lifecycle.RESUBMIT:
            await self.act_on_many(
                [job_id], action, account, auto_resume_seconds=auto_resume_seconds, address=address
            )
            return []
        async with self._audited(account, address, action, [job_id]):
            job = await self._job(job_id, account)
            refusal = lifecycle.decide(job_id, job.status, action).refusal
            if refusal:
                raise JobActionFailed(refusal)
            return [await self._resubmit(job, account, start_suspended, address)]

    async def act_on_many(
        self,
        job_ids: list[int],
        action: str,
        account: Account,
        *,
        auto_resume_seconds: int = 0,
        address: str = "",
    ) -> None:
        """One action on one or many jobs (at most MAX_JOBS_PER_OPERATION), all or nothing:
        if any job refuses, or changes under the action (a concurrent action won), no job is
        touched. A job outside the account's scope answers as if it did not exist."""
        if len(job_ids) > MAX_JOBS_PER_OPERATION:
            raise BadRequest(
                f"one operation takes at most {MAX_JOBS_PER_OPERATION} jobs, not {len(job_ids)}"
            )
        async with self._audited(account, address, action, job_ids):
            await self._act_on_many(job_ids, action, account, auto_resume_seconds, address)

    async def _act_on_many(
        self,
        job_ids: list[int],
        action: str,
        account: Account,
        auto_resume_seconds: int,
        address: str,
    ) -> None:
        if action == lifecycle.RESUBMIT:
            raise JobActionFailed("resubmit takes one job at a time")
        now = self._now()
        jobs = [await self._job(job_id, account) for job_id in dict.fromkeys(job_ids)]
        changes, refusals = [], []
        for job in jobs:
            decision = lifecycle.decide(job.job_id, job.status, action)
            if decision.refusal:
                refusals.append(decision.refusal)
            else:
                assert decision.status is not None
                changes.append(
                    lifecycle.acted(
                        job, action, decision.status, account.name, now, auto_resume_seconds
                    )
                )
        if refusals:
            shown = "; ".join(refusals[:SHOWN_REFUSALS])
            if len(refusals) > SHOWN_REFUSALS:
                shown += f"; and {len(refusals) - SHOWN_REFUSALS} more jobs refuse it"
            raise JobActionFailed(shown + ("; no job was changed" if len(jobs) > 1 else ""))
        # Where no engine will settle Suspend Pending or Kill Pending (none runs, or the
        # job is its reporter's), write the settled state, with both events, at once.
        moved = (
            await self._store.engine_jobs([job.job_id for job in jobs])
            if self._engine_settles
            else set()
        )
        changes = [
            change
            if change.job.job_id in moved
            else lifecycle.then(change, lifecycle.settled(change.job, now))
            for change in changes
        ]
        audit = [job_entry(now, account, address, f"job.{action}", [job.job_id for job in jobs])]
        if not await self._store.replace_jobs(changes, all_or_nothing=True, audit=audit):
            raise JobActionFailed(
                f"a job changed while it was being asked to {action} (another action came"
                " first); nothing was done"
            )

    async def _resubmit(
        self, job: Job, account: Account, start_suspended: bool, address: str
    ) -> int:
        now = self._now()
        template = lifecycle.fresh_job(
            job,
            status=JobStatus.SUSPENDED if start_suspended else JobStatus.RUNNING,
            now=now,
            pending_reason=f"{job.job_type} job has been suspended by user {account.name}."
            if start_suspended
            else "",
        )
        event = started_event(template, now, account.name, f"resubmission of job [{job.job_id}]")
        audit = AuditEntry(now, account.name, address, "job.resubmit", job.job_id)
        created = await self._store.create_job(
            template, [event], [audit], first_id=self._job_id_base
        )
        return created.job_id
