"""The job engine: it owns the life of active jobs.

On each step it settles pending statuses (Suspend Pending -> Suspended, Kill Pending ->
Killed), resumes suspended jobs whose auto-resume time has come, starts waiting jobs, moves
running jobs through their phases (advancing percentComplete, sizes, file counts, elapsed
time and lastUpdateTime) and finishes them with an outcome; in demo mode it also starts new
jobs on a schedule. Every status change is written with its event.

It is deterministic given a seed and a clock: a job's plan (phase lengths, sizes, outcome)
comes from a random generator seeded with the engine's seed and the job id, and progress
is a function of the job's running time, so tests drive it with a fake clock.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from cvjobs import vocab
from cvjobs.model import Job
from cvjobs.service import lifecycle
from cvjobs.service.control import fresh_job, settled
from cvjobs.service.events import started_event, status_event
from cvjobs.store.base import JobChange, Store

# Outcomes of a job that runs to its end, with weights.
_OUTCOMES = (
    ("Completed", 86),
    ("Completed w/ one or more warnings", 6),
    ("Completed w/ one or more errors", 4),
    ("Failed", 4),
)
_FAILURE_REASONS = (
    "Error Code: [19:1327] Failed to mount the disk media in the library.",
    "Error Code: [19:857] Failed to connect to the client.",
    "Error Code: [7:75] Scan phase failed: the volume could not be accessed.",
)
_WAITING = frozenset({"Waiting", "Queued", "Pending"})
PROGRESS_SECONDS = 5
_RUNNING = frozenset({"Running", "Running (cannot be verified)"})


@dataclass(frozen=True, slots=True)
class Plan:
    """How a job will go: its phases with their lengths, what it will have moved, how it
    ends, and how long it waits before running."""

    phases: tuple[tuple[str, int], ...]
    wait_seconds: int
    app_size: int
    files: int
    savings: float
    outcome: str
    failed_files: int
    failure_reason: str

    @property
    def total_seconds(self) -> int:
        return sum(seconds for _, seconds in self.phases)

    def phase_at(self, elapsed: int) -> str:
        for name, seconds in self.phases:
            if elapsed < seconds:
                return name
            elapsed -= seconds
        return self.phases[-1][0]


def plan_for(job: Job, seed: int) -> Plan:
    rng = random.Random(seed * 1_000_003 + job.job_id)
    names = vocab.phases_of(job.job_type)
    phases = tuple((name, rng.randint(30, 600)) for name in names)
    outcome = rng.choices([o for o, _ in _OUTCOMES], [w for _, w in _OUTCOMES])[0]
    app_size = max(job.size_of_application, int(rng.lognormvariate(20.5, 1.2)))
    return Plan(
        phases=phases,
        wait_seconds=rng.randint(10, 120),
        app_size=app_size,
        files=max(job.total_num_of_files, app_size // rng.randint(200_000, 2_000_000), 1),
        savings=round(rng.uniform(35.0, 97.5), 6)
        if job.job_type in vocab.BACKUP_JOB_TYPES
        else 0.0,
        outcome=outcome,
        failed_files=rng.randint(1, 250) if "errors" in outcome or "warnings" in outcome else 0,
        failure_reason=rng.choice(_FAILURE_REASONS) if outcome == "Failed" else "",
    )


@dataclass(frozen=True, slots=True)
class NewJobSource:
    """Where demo mode's new jobs come from: templates to copy (a client's subclient, job
    type and level) and how often (engine seconds)."""

    templates: Sequence[Job]
    every_seconds: int


def _moved(job: Job, new: Job, why: str, now: int) -> JobChange:
    return JobChange(new, job.status, (status_event(job, new.status, now, "", why),))


def _ran(job: Job, plan: Plan, now: int) -> JobChange:
    """A running job after `now - lastUpdateTime` more seconds of work: further along its
    phases, or finished with its plan's outcome."""
    elapsed = job.elapsed_time + (now - job.last_update_time)
    share = min(elapsed / plan.total_seconds, 1.0)
    progressed = replace(
        job,
        elapsed_time=elapsed,
        last_update_time=now,
        current_phase=plan.phase_at(elapsed),
        percent_complete=max(job.percent_complete, round(share * 100, 1)),
        percent_savings=plan.savings,
        size_of_application=max(job.size_of_application, int(plan.app_size * share)),
        size_of_media_on_disk=max(
            job.size_of_media_on_disk, int(plan.app_size * share * (1 - plan.savings / 100))
        ),
        total_num_of_files=max(job.total_num_of_files, int(plan.files * share)),
    )
    if share < 1.0:
        return JobChange(progressed, job.status)
    failed = plan.outcome == "Failed"
    finished = replace(
        progressed,
        status=plan.outcome,
        end_time=now,
        current_phase="",
        percent_complete=progressed.percent_complete if failed else 100.0,
        total_failed_files=plan.failed_files,
        total_failed_folders=plan.failed_files // 20,
        pending_reason=plan.failure_reason
        or ("Error Code: [7:84] Some files could not be backed up." if plan.failed_files else ""),
    )
    return _moved(job, finished, finished.pending_reason or "the job ended", now)


class JobEngine:
    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float],
        seed: int,
        new_jobs: NewJobSource | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._seed = seed
        self._new_jobs = new_jobs
        self._next_new_job = int(clock()) + new_jobs.every_seconds if new_jobs else 0
        self._started = 0

    async def step(self) -> int:
        """Advance every active job to the clock's now, in one write. Returns how many
        jobs changed (a job an action changed meanwhile is left for the next step)."""
        now = int(self._clock())
        changes = [c for job in await self._store.active_jobs() if (c := self._advance(job, now))]
        changed = await self._store.replace_jobs(changes, all_or_nothing=False)
        return changed + await self._start_new_jobs(now)

    def _advance(self, job: Job, now: int) -> JobChange | None:
        if job.status in lifecycle.SETTLES_TO:
            return settled(job, now)
        if job.status == "Suspended":
            if job.auto_resume_at and now >= job.auto_resume_at:
                resumed = replace(
                    job, status="Running", pending_reason="", auto_resume_at=0, last_update_time=now
                )
                return _moved(job, resumed, "automatic resume", now)
            return None
        plan = plan_for(job, self._seed)
        if job.status in _WAITING:
            if now - job.last_update_time < plan.wait_seconds:
                return None
            started = replace(
                job,
                status="Running",
                pending_reason="",
                last_update_time=now,
                current_phase=plan.phases[0][0],
            )
            return _moved(job, started, "resources became available", now)
        if job.status in _RUNNING and now > job.last_update_time:
            change = _ran(job, plan, now)
            # Progress alone is written every few seconds, not every step: on a big
            # catalogue each write touches a dozen indexes, and the event loop waits for it.
            if change.events or now - job.last_update_time >= PROGRESS_SECONDS:
                return change
        return None

    async def _start_new_jobs(self, now: int) -> int:
        source = self._new_jobs
        if source is None or not source.templates or source.every_seconds <= 0:
            return 0
        started = 0
        while now >= self._next_new_job:
            rng = random.Random(self._seed * 7_919 + self._started)
            template = rng.choice(list(source.templates))
            at = self._next_new_job
            job = fresh_job(template, status="Waiting", now=at)
            await self._store.create_job(job, [started_event(job, at, "", "scheduled")])
            self._next_new_job += source.every_seconds
            self._started += 1
            started += 1
        return started
