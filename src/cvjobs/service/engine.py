"""The job engine: it owns the life of active jobs.

On each step it settles pending statuses (Suspend Pending -> Suspended, Kill Pending ->
Killed), resumes suspended jobs whose auto-resume time has come, starts waiting jobs, moves
running jobs through their phases (advancing percentComplete, sizes, file counts, elapsed
time and lastUpdateTime) and finishes them with an outcome; in demo mode it also starts new
jobs on a schedule. Every status change is written with its event.

It is deterministic given a seed and a clock: a job's plan (phase lengths, sizes, outcome)
comes from a random generator seeded with the engine's seed and the job id, and progress
is a function of the job's running time, so tests drive it with a fake clock.

A failure stays with the job that caused it. A job whose step raises, whose change would
write a number outside its range (`cvjobs.ranges`), or whose change alone fails to write
while the store otherwise works, is marked Failed with a pendingReason saying why (and an
event), logged once, and the other jobs go on in the same step. If even that mark cannot be
written, the engine skips the job until it restarts. When the store itself fails, the
step fails as a whole, as before, and the next one tries again.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from cvjobs import parse, vocab
from cvjobs.model import Job
from cvjobs.service import lifecycle
from cvjobs.service.events import started_event, status_event
from cvjobs.service.lifecycle import fresh_job, settled
from cvjobs.store.protocols import JobChanges
from cvjobs.store.values import JobChange
from cvjobs.summaries import out_of_range
from cvjobs.vocab import JobStatus

# Outcomes of a job that runs to its end, with weights.
_OUTCOMES = (
    (JobStatus.COMPLETED, 86),
    (JobStatus.COMPLETED_WITH_WARNINGS, 6),
    (JobStatus.COMPLETED_WITH_ERRORS, 4),
    (JobStatus.FAILED, 4),
)
# Outcomes that leave some files behind.
_PARTIAL = frozenset({JobStatus.COMPLETED_WITH_WARNINGS, JobStatus.COMPLETED_WITH_ERRORS})
_FAILURE_REASONS = (
    "Error Code: [19:1327] Failed to mount the disk media in the library.",
    "Error Code: [19:857] Failed to connect to the client.",
    "Error Code: [7:75] Scan phase failed: the volume could not be accessed.",
)
_WAITING: frozenset[str] = frozenset({JobStatus.WAITING, JobStatus.QUEUED, JobStatus.PENDING})
PROGRESS_SECONDS = 5
_RUNNING: frozenset[str] = frozenset({JobStatus.RUNNING, JobStatus.RUNNING_UNVERIFIED})
MAX_REASON = 300  # characters of a failure's text kept in a pendingReason
log = logging.getLogger("cvjobs.engine")


@dataclass(frozen=True, slots=True)
class Plan:
    """How a job will go: its phases with their lengths, what it will have moved, how it
    ends, and how long it waits before running."""

    phases: tuple[tuple[str, int], ...]
    wait_seconds: int
    app_size: int
    files: int
    savings: float
    outcome: JobStatus
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
        failed_files=rng.randint(1, 250) if outcome in _PARTIAL else 0,
        failure_reason=rng.choice(_FAILURE_REASONS) if outcome == JobStatus.FAILED else "",
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
    failed = plan.outcome == JobStatus.FAILED
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


def _described(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _failed_by_engine(job: Job, problem: str, now: int) -> JobChange:
    """`job` marked Failed because the engine cannot carry it on; `problem` says why."""
    text = parse.NOT_XML.sub("?", problem)[:MAX_REASON]
    reason = f"The job engine could not advance this job: {text}"
    failed = replace(
        job,
        status=JobStatus.FAILED,
        end_time=now,
        last_update_time=max(now, job.last_update_time),
        current_phase="",
        pending_reason=reason,
        auto_resume_at=0,
    )
    return _moved(job, failed, reason, now)


# A job the engine could not carry on: the job as stored, why, and the exception if any.
Broken = tuple[Job, str, BaseException | None]


class JobEngine:
    def __init__(
        self,
        store: JobChanges,
        *,
        clock: Callable[[], float],
        seed: int,
        job_id_base: int,
        new_jobs: NewJobSource | None = None,
    ) -> None:
        self._store = store
        self._job_id_base = job_id_base  # where new jobs' ids are allocated from
        self._clock = clock
        self._seed = seed
        self._new_jobs = new_jobs
        self._next_new_job = int(clock()) + new_jobs.every_seconds if new_jobs else 0
        self._started = 0
        self._reported: set[int] = set()  # jobs whose failure is logged already
        self._skipped: set[int] = set()  # jobs that could not even be marked Failed

    async def step(self) -> int:
        """Advance every active job to the clock's now, in one write. Returns how many
        jobs changed (a job an action changed meanwhile is left for the next step). A job
        that cannot be advanced is marked Failed instead (see the module's docstring)."""
        now = int(self._clock())
        jobs = {job.job_id: job for job in await self._store.active_jobs()}
        changes: list[JobChange] = []
        broken: list[Broken] = []
        for job in jobs.values():
            if job.job_id in self._skipped:
                continue
            try:
                change = self._advance(job, now)
                problem = out_of_range(change.job, job) if change else None
            except Exception as exc:  # noqa: BLE001 - any bug in one job's step is that job's
                broken.append((job, _described(exc), exc))
                continue
            if problem:
                broken.append((job, problem, None))
            elif change:
                changes.append(change)
        changed = await self._write(changes, jobs, broken)
        changed += await self._mark_failed(broken, now)
        return changed + await self._start_new_jobs(now)

    async def _write(
        self, changes: list[JobChange], jobs: dict[int, Job], broken: list[Broken]
    ) -> int:
        """Write the changes in one transaction; if that fails, find the change at fault:
        one that fails alone, while an empty write before and after it succeeds (when an
        empty write fails, the store is failing, not a job: that raises)."""
        try:
            return await self._store.replace_jobs(changes, all_or_nothing=False)
        except Exception:
            if not changes:
                raise
        await self._store.replace_jobs([], all_or_nothing=False)
        written = 0
        for change in changes:
            try:
                written += await self._store.replace_jobs([change], all_or_nothing=False)
            except Exception as exc:  # noqa: BLE001 - the empty write below tells whose fault
                await self._store.replace_jobs([], all_or_nothing=False)
                broken.append((jobs[change.job.job_id], _described(exc), exc))
        return written

    async def _mark_failed(self, broken: list[Broken], now: int) -> int:
        """Mark the jobs the engine cannot carry on Failed, logging each once."""
        marked = 0
        for job, problem, exc in broken:
            if job.job_id not in self._reported:
                self._reported.add(job.job_id)
                log.error(
                    "job %d: the engine cannot advance it (%s); marking it Failed",
                    job.job_id,
                    problem,
                    exc_info=exc,
                )
            try:
                change = _failed_by_engine(job, problem, now)
                marked += await self._store.replace_jobs([change], all_or_nothing=False)
            except Exception:
                await self._store.replace_jobs([], all_or_nothing=False)  # is it the store?
                self._skipped.add(job.job_id)
                log.exception(
                    "job %d: the engine could not mark it Failed either; skipping it", job.job_id
                )
        return marked

    def _advance(self, job: Job, now: int) -> JobChange | None:
        if job.status in lifecycle.SETTLES_TO:
            return settled(job, now)
        if job.status == JobStatus.SUSPENDED:
            if job.auto_resume_at and now >= job.auto_resume_at:
                resumed = replace(
                    job,
                    status=JobStatus.RUNNING,
                    pending_reason="",
                    auto_resume_at=0,
                    last_update_time=now,
                )
                return _moved(job, resumed, "automatic resume", now)
            return None
        plan = plan_for(job, self._seed)
        if job.status in _WAITING:
            if now - job.last_update_time < plan.wait_seconds:
                return None
            started = replace(
                job,
                status=JobStatus.RUNNING,
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
            job = fresh_job(template, status=JobStatus.WAITING, now=at)
            await self._store.create_job(
                job, [started_event(job, at, "", "scheduled")], first_id=self._job_id_base
            )
            self._next_new_job += source.every_seconds
            self._started += 1
            started += 1
        return started
