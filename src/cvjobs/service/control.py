"""Job control: suspend, resume, kill and resubmit, one job or many (wire contract §8).

The state machine (`lifecycle`) decides; this applies the decision as a compare-and-set on
the job's status, so of two concurrent actions on one job exactly one wins, and a refused
action changes nothing. Every change writes its event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from cvjobs import vocab
from cvjobs.errors import JobActionFailed
from cvjobs.model import Account, Job
from cvjobs.service import lifecycle
from cvjobs.service.events import started_event, status_event
from cvjobs.store.base import Store

MAX_AUTO_RESUME_SECONDS = 30 * 24 * 3600


def fresh_job(template: Job, *, status: str, now: int, pending_reason: str = "") -> Job:
    """A new run of `template` (same client, subclient, type and level) starting at `now`,
    with nothing done yet; its id is given when the store creates it."""
    return replace(
        template,
        job_id=0,
        status=status,
        current_phase=vocab.phases_of(template.job_type)[0],
        pending_reason=pending_reason,
        pending_reason_error_code="",
        percent_complete=0.0,
        size_of_application=0,
        size_of_media_on_disk=0,
        total_num_of_files=0,
        total_failed_files=0,
        total_failed_folders=0,
        start_time=now,
        end_time=0,
        last_update_time=now,
        elapsed_time=0,
        is_aged=False,
        submit_error_code=0,
        auto_resume_at=0,
    )


class JobControl:
    def __init__(self, store: Store, *, clock: Callable[[], float], engine_settles: bool) -> None:
        self._store = store
        self._clock = clock
        # Without an engine, pending statuses are settled here at once.
        self._engine_settles = engine_settles

    def _now(self) -> int:
        return int(self._clock())

    async def _job(self, job_id: int) -> Job:
        job = await self._store.get_job(job_id)
        if job is None:
            raise JobActionFailed(f"No job exists with the job ID {job_id}")
        return job

    def _changed(self, job: Job, action: str, status: str, user: str, auto_resume: int) -> Job:
        now = self._now()
        pending_reason = job.pending_reason
        if action == lifecycle.SUSPEND:
            pending_reason = f"{job.job_type} job has been suspended by user {user}."
        elif action == lifecycle.RESUME:
            pending_reason = ""
        elif action == lifecycle.KILL:
            pending_reason = f"{job.job_type} job has been killed by user {user}."
        return replace(
            job,
            status=status,
            pending_reason=pending_reason,
            last_update_time=max(now, job.last_update_time),
            auto_resume_at=now + auto_resume if auto_resume else 0,
        )

    async def act(
        self,
        job_id: int,
        action: str,
        account: Account,
        *,
        auto_resume_seconds: int = 0,
        start_suspended: bool = False,
    ) -> list[int]:
        """Apply one action to one job. Returns the new job's id for a resubmit, else []."""
        job = await self._job(job_id)
        decision = lifecycle.decide(job_id, job.status, action)
        if decision.refusal:
            raise JobActionFailed(decision.refusal)
        if action == lifecycle.RESUBMIT:
            return [await self._resubmit(job, account, start_suspended)]
        assert decision.status is not None
        changed = self._changed(job, action, decision.status, account.name, auto_resume_seconds)
        event = status_event(job, decision.status, self._now(), account.name, action)
        if not await self._store.replace_job(changed, job.status, [event]):
            now_status = (await self._job(job_id)).status
            raise JobActionFailed(
                f"job {job_id} changed to {now_status} while it was being asked to {action};"
                " nothing was done"
            )
        if not self._engine_settles:
            await self.settle(changed)
        return []

    async def act_on_many(self, job_ids: list[int], action: str, account: Account) -> None:
        """One action on many jobs: every job is checked first, and if any would refuse,
        none is touched."""
        if action == lifecycle.RESUBMIT:
            raise JobActionFailed("resubmit takes one job at a time")
        jobs = [await self._job(job_id) for job_id in job_ids]
        refusals = [
            reason
            for job in jobs
            if (reason := lifecycle.decide(job.job_id, job.status, action).refusal)
        ]
        if refusals:
            raise JobActionFailed("; ".join(refusals) + "; no job was changed")
        for job in jobs:
            await self.act(job.job_id, action, account)

    async def settle(self, job: Job) -> Job | None:
        """Move a job out of a pending status (the engine's work); None if it has none."""
        target = lifecycle.SETTLES_TO.get(job.status)
        if target is None:
            return None
        now = self._now()
        settled = replace(
            job,
            status=target,
            last_update_time=max(now, job.last_update_time),
            end_time=now if not vocab.is_active(target) else 0,
        )
        event = status_event(job, target, now, "", "")
        return settled if await self._store.replace_job(settled, job.status, [event]) else None

    async def _resubmit(self, job: Job, account: Account, start_suspended: bool) -> int:
        now = self._now()
        template = fresh_job(
            job,
            status="Suspended" if start_suspended else "Running",
            now=now,
            pending_reason=f"{job.job_type} job has been suspended by user {account.name}."
            if start_suspended
            else "",
        )
        event = started_event(template, now, account.name, f"resubmission of job [{job.job_id}]")
        created = await self._store.create_job(template, [event])
        return created.job_id
