"""The demo CommCell: a deterministic, realistic catalogue for trying cvjobs out and for
benchmarks. The same (jobs, seed, now) always gives the same catalogue.

About thirty clients carry every application type of the seed document with its
documented applicationId; jobs are mostly completed backups at every level, with warnings,
errors, failures and kills in realistic shares, a few active jobs with pending reasons, aux
copies with DASH copy and administrative info, reference copies, Exchange and SQL Server
backups with backup info, and storage policies whose copies give every backup its
retention. Virtual Server backups are followed by a child job per VM (`vsaParentJobID`),
as a CommServe with VM-level jobs numbers them. The seed's job 4 (client WINTER) and job
1452 (Exchange EXCH001) are always there with exactly the seed's values.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TypeVar

from cvjobs import vocab
from cvjobs.demo.commcell import (
    ADMIN_USER,
    EXCH001,
    OPERATOR,
    POLICIES,
    SEED_1452_BKP_INFO,
    WINTER,
    Agent,
    seed_job_4,
    seed_job_1452,
    topology,
)
from cvjobs.demo.sections import VIRTUAL_SERVER, details, sections, vm_status
from cvjobs.model import Event, Job, JobRecord, JsonObject
from cvjobs.service.events import status_event
from cvjobs.vocab import JobStatus

__all__ = [
    "EXCH001",
    "POLICIES",
    "SEED_1452_BKP_INFO",
    "WINTER",
    "Agent",
    "count",
    "records",
    "seed_job_4",
    "seed_job_1452",
    "topology",
]

T = TypeVar("T")
_POLICIES_BY_ID = {p.policy.id: p for p in POLICIES}
DAY = 86400
HISTORIC_START = 1423000000  # early February 2015, before the seed's job 4
HISTORIC_IDS = 1500  # jobs 1..1499 ran between 2015 and mid-2017, like the seed's samples
# JobDetails extras (attempts, throughput) are kept for the newest jobs only, as a
# CommServe that prunes old job details does; older jobs show -999 (not available).
DETAILED_NEWEST = 50_000
PINNED = (4, 1452)  # the seed's jobs

_FINISHED_MIX = (
    (JobStatus.COMPLETED, 846),
    (JobStatus.COMPLETED_WITH_WARNINGS, 60),
    (JobStatus.COMPLETED_WITH_ERRORS, 40),
    (JobStatus.FAILED, 30),
    (JobStatus.KILLED, 12),
    (JobStatus.FAILED_TO_START, 6),
    (JobStatus.COMMITTED, 4),
    (JobStatus.INTERRUPTED, 2),
)
_ACTIVE = (
    (JobStatus.RUNNING, "", "Backup"),
    (
        JobStatus.WAITING,
        "Waiting for resources: no streams are available on the storage policy.",
        "",
    ),
    (JobStatus.PENDING, "Error Code: [19:857] Failed to connect to the client.", ""),
    (JobStatus.SUSPENDED, "Backup job has been suspended by user admin.", ""),
    (JobStatus.QUEUED, "The job has been queued because a conflicting job is running.", ""),
    (JobStatus.RUNNING, "", "Scan"),
)
# Finished statuses of jobs that stopped before their end.
_CUT_SHORT: frozenset[str] = frozenset(
    {JobStatus.FAILED, JobStatus.KILLED, JobStatus.FAILED_TO_START, JobStatus.INTERRUPTED}
)
_FAILURES = (
    "Error Code: [19:1327] Failed to mount the disk media in the library.",
    "Error Code: [19:857] Failed to connect to the client.",
    "Error Code: [7:75] Scan phase failed: the volume could not be accessed.",
    "Error Code: [13:138] The job was killed by user admin.",
)
_TYPE_MIX = (
    (vocab.BACKUP, 780),
    (vocab.SYNTHETIC_FULL, 50),
    (vocab.RESTORE, 60),
    (vocab.AUX_COPY, 50),
    (vocab.DATA_VERIFICATION, 20),
    (vocab.REFERENCE_COPY, 10),
    (vocab.ADMIN, 30),
)


def _pick(random: Callable[[], float], items: Sequence[T]) -> T:
    """random.choice, three times faster (it matters for million-job catalogues)."""
    return items[int(random() * len(items))]


def _weighted(pairs: tuple[tuple[T, int], ...]) -> list[T]:
    return [name for name, weight in pairs for _ in range(weight)]


class _Generator:
    def __init__(self, jobs: int, seed: int, now: int) -> None:
        self.rng = random.Random(seed)
        self.random = self.rng.random
        self.jobs = jobs
        self.now = now
        self.agents = topology()
        self.ma = next(a for a in self.agents if a.client.name == "ma-01")
        self.types = _weighted(_TYPE_MIX)
        self.statuses = _weighted(_FINISHED_MIX)
        # A few active jobs, as on a busy CommServe: 8 to 200 of them.
        self.active_from = jobs - max(8, min(jobs // 500, 200)) + 1
        recent = max(jobs - HISTORIC_IDS + 1, 1)
        self.recent_step = 365 * DAY / recent
        # Ids taken by VM child jobs: id -> (the Virtual Server backup, its VMs, which).
        self.vm_children: dict[int, tuple[Job, list[JsonObject], int]] = {}

    def start_time(self, job_id: int) -> int:
        if job_id < HISTORIC_IDS:
            return HISTORIC_START + job_id * 58_000 + int(self.random() * 3600)
        recent_index = job_id - HISTORIC_IDS
        base = self.now - 365 * DAY + int(recent_index * self.recent_step)
        if job_id >= self.active_from:
            return self.now - (self.jobs - job_id + 1) * 600 - int(self.random() * 300)
        return base + int(self.random() * max(self.recent_step, 1))

    def record(self, job_id: int) -> JobRecord:
        rng = self.rng
        job_type = _pick(self.random, self.types)
        agent = _pick(self.random, self.agents)
        if job_type in (vocab.AUX_COPY, vocab.ADMIN, vocab.DATA_VERIFICATION):
            agent = self.ma
        start = self.start_time(job_id)
        active = job_id >= self.active_from
        level = 0
        if job_type == vocab.BACKUP:
            level = _pick(self.random, (1, 2, 2, 2, 2, 2, 4))
        elif job_type == vocab.SYNTHETIC_FULL:
            level = 8
        scale = {1: 40.0, 8: 40.0, 4: 8.0}.get(level, 3.0)
        app_size = int(rng.lognormvariate(20.5, 1.2) * scale / 3)
        files = max(1, app_size // (200_000 + int(self.random() * 1_800_000)))
        savings = (
            round(35.0 + self.random() * 62.5, 6) if job_type in vocab.BACKUP_JOB_TYPES else 0.0
        )
        media = int(app_size * (1 - savings / 100)) + 4096
        elapsed = int(60 + app_size / (60e6 + self.random() * 340e6))
        pending_reason = ""
        phase = ""
        failed_files = 0
        if active:
            status, pending_reason, phase = _ACTIVE[(job_id - self.active_from) % len(_ACTIVE)]
            phase = phase or vocab.phases_of(job_type)[0]
            percent = float(rng.randrange(3, 90))
            elapsed = max(self.now - start, 1)
            end = 0
            app_size, media, files = (
                int(app_size * percent / 100),
                int(media * percent / 100),
                int(files * percent / 100),
            )
        else:
            status = _pick(self.random, self.statuses)
            end = start + elapsed
            percent = 100.0
            if status in _CUT_SHORT:
                percent = (
                    0.0 if status == JobStatus.FAILED_TO_START else float(rng.randrange(0, 80))
                )
                pending_reason = _pick(self.random, _FAILURES)
                app_size, media, files = (
                    int(app_size * percent / 100),
                    int(media * percent / 100),
                    int(files * percent / 100),
                )
            elif status == JobStatus.COMPLETED_WITH_ERRORS:
                failed_files = rng.randint(1, 250)
                pending_reason = "Error Code: [7:84] Some files could not be backed up."
            elif status == JobStatus.COMPLETED_WITH_WARNINGS:
                failed_files = rng.randint(0, 12)
        subclient = _pick(self.random, agent.subclients)
        policy = POLICIES[agent.policy.id - 1]
        longest = max(c.retention_days for c in policy.copies)
        job = Job(
            job_id=job_id,
            status=status,
            job_type=job_type,
            client=agent.client,
            app=agent.app,
            instance=agent.instance,
            backupset=agent.backupset,
            subclient=subclient,
            dest_client=agent.client,
            storage_policy=agent.policy,
            user=ADMIN_USER if job_id % 5 else OPERATOR,
            client_groups=agent.groups,
            backup_level=level,
            current_phase=phase,
            pending_reason=pending_reason,
            percent_complete=percent,
            percent_savings=savings,
            size_of_application=app_size,
            size_of_media_on_disk=media if job_type != vocab.RESTORE else 0,
            total_num_of_files=files,
            total_failed_files=failed_files,
            total_failed_folders=failed_files // 20,
            start_time=start,
            end_time=end,
            last_update_time=(end or self.now - rng.randrange(60)) + 2 * bool(end),
            elapsed_time=elapsed,
            is_aged=bool(end) and end + longest * DAY < self.now,
            is_preemptable=int(job_type == vocab.AUX_COPY),
        )
        detailed = job.job_id > self.jobs - DETAILED_NEWEST
        child_of = self.vm_children.pop(job_id, None)
        vms = None if child_of else self._vm_jobs(job)
        made = JobRecord(
            job,
            sections=sections(job, rng, _POLICIES_BY_ID, detailed=detailed, vms=vms),
            events=_history(job),
        )
        # A VM's child job replaces the one drawn for its id; everything was drawn all
        # the same, so the rest of the catalogue does not change with the VMs.
        return _vm_job(job_id, *child_of, detailed=detailed) if child_of else made

    def _vm_jobs(self, job: Job) -> list[JsonObject] | None:
        """The ids right after a finished Virtual Server backup become its VMs' jobs
        (none if one of them is active or the seed's). Returns the backup's VMs, each
        naming its job, or None."""
        if (
            job.app.id != VIRTUAL_SERVER
            or job.job_type != vocab.BACKUP
            or not job.end_time
            or job.job_id in PINNED
        ):
            return None
        vms = vm_status(job)
        ids = range(job.job_id + 1, job.job_id + 1 + len(vms))
        if ids[-1] >= self.active_from or any(i in PINNED for i in ids):
            return None
        for n, (vm, child) in enumerate(zip(vms, ids, strict=True)):
            vm["jobID"] = child
            self.vm_children[child] = (job, vms, n)
        return vms


def _vm_job(
    job_id: int, parent: Job, vms: list[JsonObject], n: int, *, detailed: bool
) -> JobRecord:
    """The job of the `n`th of the VMs `vms` of the Virtual Server backup `parent`: inside
    the parent's run, on its client and subclient (so whoever sees the parent sees it),
    failed if the VM failed."""
    count = len(vms)
    span = max(parent.end_time - parent.start_time, 1)
    start = parent.start_time + span * n // (count + 1)
    end = max(start + 1, parent.end_time - span * (count - 1 - n) // (count + 1))
    # The backup's own entry keeps the backup's times.
    vm = {**vms[n], "BackupStartTime": start, "BackupEndTime": end}
    used = int(vm["UsedSpace"])
    failed = bool(vm["Status"])
    job = replace(
        parent,
        job_id=job_id,
        vsa_parent_job_id=parent.job_id,
        status=JobStatus.FAILED if failed else JobStatus.COMPLETED,
        pending_reason=str(vm["FailureReason"]),
        percent_complete=parent.percent_complete if failed else 100.0,
        size_of_application=used,
        size_of_media_on_disk=int(used * (1 - parent.percent_savings / 100)) + 4096,
        total_num_of_files=0,
        total_failed_files=0,
        total_failed_folders=0,
        start_time=start,
        end_time=end,
        last_update_time=end + 2,
        elapsed_time=end - start,
    )
    extras: dict[str, JsonObject] = {}
    if detailed:
        extras["jobDetail"] = details(
            job_id, start, end, job.job_type, used, job.size_of_media_on_disk, 0
        )
        extras["jobDetail"]["clientStatusInfo"] = {"vmStatus": [vm]}
    return JobRecord(job, sections=extras, events=_history(job))


_EVENTFUL: frozenset[str] = _CUT_SHORT | {JobStatus.COMPLETED_WITH_ERRORS}


def _history(job: Job) -> tuple[Event, ...]:
    """The event a finished job with trouble left behind: how it ended, and why."""
    if job.status not in _EVENTFUL:
        return ()
    return (
        status_event(
            replace(job, status=JobStatus.RUNNING), job.status, job.end_time, "", job.pending_reason
        ),
    )


def count(jobs: int) -> int:
    """How many records `records(jobs, ...)` yields."""
    return jobs + sum(pinned > jobs for pinned in PINNED)


def records(jobs: int, seed: int, now: int) -> Iterator[JobRecord]:
    """Jobs 1..`jobs` (and the seed's 4 and 1452 whatever `jobs` is), lazily."""
    gen = _Generator(jobs, seed, now)
    exchange = next(a for a in gen.agents if a.client == EXCH001 and a.app.id == 53)
    pinned = dict(zip(PINNED, (seed_job_4(), seed_job_1452(exchange)), strict=True))
    for job_id in range(1, jobs + 1):
        record = gen.record(job_id)  # drawn even when pinned: the rest stays the same
        yield pinned.pop(job_id, record)
    yield from pinned.values()
