"""The demo CommCell: a deterministic, realistic catalogue for trying cvjobs out and for
benchmarks. The same (jobs, seed, now) always gives the same catalogue.

About thirty clients carry every application type of the seed document with its
documented applicationId; jobs are mostly completed backups at every level, with warnings,
errors, failures and kills in realistic shares, a few active jobs with pending reasons, aux
copies with DASH copy and administrative info, reference copies, Exchange and SQL Server
backups with backup info, and storage policies whose copies give every backup its
retention. The seed's job 4 (client WINTER) and job 1452 (Exchange EXCH001) are always
there with exactly the seed's values.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from cvjobs import vocab
from cvjobs.model import Event, Job, JobRecord, JsonObject, PolicyCopy, Ref, StoragePolicy
from cvjobs.service.events import status_event

T = TypeVar("T")
DAY = 86400
HISTORIC_START = 1423000000  # early February 2015, before the seed's job 4
HISTORIC_IDS = 1500  # jobs 1..1499 ran between 2015 and mid-2017, like the seed's samples
# JobDetails extras (attempts, throughput) are kept for the newest jobs only, as a
# CommServe that prunes old job details does; older jobs show -999 (not available).
DETAILED_NEWEST = 50_000

ADMIN_USER = Ref(1, "admin")
OPERATOR = Ref(5, "backup_operator")
WINTER = Ref(2, "WINTER")
EXCH001 = Ref(7, "EXCH001")

POLICIES = (
    StoragePolicy(
        Ref(1, "SP-Disk-30d"),
        (PolicyCopy(1, "Primary", 30, True), PolicyCopy(2, "DASH-DR", 90)),
    ),
    StoragePolicy(
        Ref(2, "SP-Databases"),
        (PolicyCopy(3, "Primary", 14, True), PolicyCopy(4, "Secondary", 60)),
    ),
    StoragePolicy(
        Ref(3, "SP-LongTerm"),
        (PolicyCopy(5, "Primary", 90, True), PolicyCopy(6, "Cloud-Archive", 2555)),
    ),
    StoragePolicy(Ref(4, "SP-VM"), (PolicyCopy(7, "Primary", 30, True),)),
)
GROUPS = {
    "windows": Ref(1, "Windows Servers"),
    "linux": Ref(2, "Linux Servers"),
    "db": Ref(3, "Database Servers"),
    "prod": Ref(4, "Production"),
    "infra": Ref(5, "Infrastructure"),
}

# (client name, application ids, client groups); WINTER and EXCH001 are the seed's.
CLIENTS: tuple[tuple[str, tuple[int, ...], tuple[str, ...]], ...] = (
    ("WINTER", (33,), ("windows", "infra")),
    ("fs-nyc-01", (33,), ("windows", "prod")),
    ("fs-nyc-02", (33,), ("windows", "prod")),
    ("fs-lon-01", (33, 41), ("windows", "prod")),
    ("fs-lon-02", (33,), ("linux",)),
    ("EXCH001", (53, 33), ("windows", "prod")),
    ("exch-002", (53,), ("windows", "prod")),
    ("sql-prod-01", (81, 33), ("windows", "db", "prod")),
    ("sql-prod-02", (81,), ("windows", "db", "prod")),
    ("sql-dev-01", (81,), ("windows", "db")),
    ("mysql-web-01", (104, 33), ("linux", "db")),
    ("pg-app-01", (125, 33), ("linux", "db", "prod")),
    ("pg-app-02", (125,), ("linux", "db")),
    ("ora-fin-01", (22, 33), ("linux", "db", "prod")),
    ("ora-rac-01", (80,), ("linux", "db", "prod")),
    ("sapmaxdb-01", (79,), ("linux", "db")),
    ("sapora-01", (61,), ("linux", "db", "prod")),
    ("sybase-01", (5,), ("linux", "db")),
    ("notes-01", (59,), ("windows",)),
    ("nas-filer-01", (13,), ("infra",)),
    ("nas-filer-02", (13,), ("infra",)),
    ("vcenter-01", (106,), ("infra", "prod")),
    ("hyperv-01", (106,), ("windows", "infra")),
    ("ad-dc-01", (41, 33), ("windows", "infra")),
    ("db2-01", (62,), ("linux", "db")),
    ("db2-mn-01", (103,), ("linux", "db")),
    ("db2-unix-01", (64,), ("linux", "db")),
    ("documentum-01", (127,), ("linux",)),
    ("informix-01", (75,), ("linux", "db")),
    ("hana-01", (135,), ("linux", "db", "prod")),
    ("sharepoint-01", (78, 33), ("windows", "prod")),
    ("ma-01", (33,), ("linux", "infra")),
)

_INSTANCE_NAMES = {
    33: "DefaultInstanceName",
    13: "DefaultInstanceName",
    106: "VMware",
    53: "defaultInstance",
    81: "MSSQLSERVER",
}
_SUBCLIENTS = {
    33: ("default", "system-state", "user-data"),
    53: ("default",),
    81: ("default", "logs"),
    106: ("default", "tier1-vms"),
}
_POLICY_FOR_APP = {33: 1, 13: 1, 106: 4, 41: 3}


@dataclass(frozen=True, slots=True)
class Agent:
    client: Ref
    app: Ref
    instance: Ref
    backupset: Ref
    subclients: tuple[Ref, ...]
    policy: Ref
    groups: tuple[Ref, ...]


def topology() -> list[Agent]:
    """The demo CommCell's clients, agents, instances, backup sets and subclients, with
    ids allocated in a fixed order (WINTER gets the seed's ids)."""
    agents: list[Agent] = []
    backupset_id, subclient_id, instance_id = 3, 2, 10
    instances: dict[str, Ref] = {"DefaultInstanceName": Ref(1, "DefaultInstanceName")}
    for client_id, (name, apps, groups) in enumerate(CLIENTS, start=2):
        client = Ref(client_id, name)
        for app_id in apps:
            instance_name = _INSTANCE_NAMES.get(app_id, f"{name}-{app_id}")
            if instance_name not in instances:
                instances[instance_name] = Ref(instance_id, instance_name)
                instance_id += 1
            names = _SUBCLIENTS.get(app_id, ("default",))
            subclients = tuple(Ref(subclient_id + i, n) for i, n in enumerate(names))
            subclient_id += len(names)
            agents.append(
                Agent(
                    client=client,
                    app=Ref(app_id, vocab.APP_TYPES[app_id]),
                    instance=instances[instance_name],
                    backupset=Ref(backupset_id, "defaultBackupSet"),
                    subclients=subclients,
                    policy=POLICIES[_POLICY_FOR_APP.get(app_id, 2) - 1].policy,
                    groups=tuple(GROUPS[g] for g in groups),
                )
            )
            backupset_id += 1
    return agents


def seed_job_4() -> JobRecord:
    """The seed's sample for GET Job/4, value for value."""
    return JobRecord(
        Job(
            job_id=4,
            status="Completed",
            job_type=vocab.BACKUP,
            client=WINTER,
            app=Ref(33, "File System"),
            instance=Ref(1, "DefaultInstanceName"),
            backupset=Ref(3, "defaultBackupSet"),
            subclient=Ref(2, "default"),
            dest_client=WINTER,
            storage_policy=POLICIES[0].policy,
            user=ADMIN_USER,
            client_groups=(GROUPS["windows"], GROUPS["infra"]),
            backup_level=2,
            current_phase="",
            percent_complete=100.0,
            percent_savings=0.0,
            start_time=1423087483,
            end_time=1423087495,
            last_update_time=1423087497,
            elapsed_time=12,
        ),
        sections={"jobDetail": _details(4, 1423087483, 1423087495, vocab.BACKUP, 0, 0, 0)},
    )


# The seed's AdvancedDetails sample for job 1452 (infoType 16), exactly.
SEED_1452_BKP_INFO: JsonObject = {
    "exchDbInfo": {
        "SourceDatabaseCounters": {
            "TotalDBs": 1,
            "PendingDBs": 0,
            "SuccessfulDBs": 1,
            "FailedDBs": 0,
            "suspendedDBs": 0,
            "SkippedDBs": 0,
            "processingDBs": 0,
        },
        "SourceDatabaseStats": [
            {
                "ExchangeServerName": "EXCH001",
                "FailureReason": "Backup Completed Successfully, Log truncation submitted"
                " to Exchange",
                "dbName": "EXCH001_DB2",
                "startTime": 1498593063,
                "ApplicationSize": 9824174080,
                "endTime": 1498593176,
                "status": 5,
            }
        ],
    }
}


def seed_job_1452(agent: Agent) -> JobRecord:
    start, end = 1498593050, 1498593190
    return JobRecord(
        Job(
            job_id=1452,
            status="Completed",
            job_type=vocab.BACKUP,
            client=agent.client,
            app=agent.app,
            instance=agent.instance,
            backupset=agent.backupset,
            subclient=agent.subclients[0],
            dest_client=agent.client,
            storage_policy=agent.policy,
            user=ADMIN_USER,
            client_groups=agent.groups,
            backup_level=1,
            percent_complete=100.0,
            percent_savings=61.25,
            size_of_application=9824174080,
            size_of_media_on_disk=3806867456,
            total_num_of_files=1,
            start_time=start,
            end_time=end,
            last_update_time=end + 2,
            elapsed_time=end - start,
        ),
        sections={
            "bkpInfo": SEED_1452_BKP_INFO,
            "jobDetail": _details(1452, start, end, vocab.BACKUP, 9824174080, 3806867456, 1),
        },
    )


def _details(
    job_id: int, start: int, end: int, job_type: str, app_size: int, media: int, files: int
) -> JsonObject:
    """JobDetails extras: how the job was started, compression figures, phase attempts."""
    phases = vocab.phases_of(job_type)
    span = max((end or start) - start, len(phases))
    step = span // len(phases)
    attempts = []
    for n, phase in enumerate(phases):
        p_start = start + n * step
        p_end = (start + span if n == len(phases) - 1 else p_start + step) if end else 0
        attempts.append(
            {
                "attemptNum": 1,
                "phaseName": phase,
                "startTime": p_start,
                "endTime": p_end,
                "status": "Completed" if end else "Running",
            }
        )
    throughput = app_size / 2**30 / max(span / 3600, 1 / 3600)
    return {
        "generalInfo": {
            "jobStartedFrom": "Scheduled" if job_id % 7 else "Interactive",
            "priority": 166,
        },
        "detailInfo": {
            "unCompressedBytes": app_size,
            "compressedBytes": media,
            "dataWritten": media,
            "throughPut": f"{throughput:.2f}",
            "transferTime": span,
            "skippedItems": 0,
        },
        "attemptsInfo": attempts,
    }


_FINISHED_MIX = (
    ("Completed", 846),
    ("Completed w/ one or more warnings", 60),
    ("Completed w/ one or more errors", 40),
    ("Failed", 30),
    ("Killed", 12),
    ("Failed to Start", 6),
    ("Committed", 4),
    ("Interrupted", 2),
)
_ACTIVE = (
    ("Running", "", "Backup"),
    ("Waiting", "Waiting for resources: no streams are available on the storage policy.", ""),
    ("Pending", "Error Code: [19:857] Failed to connect to the client.", ""),
    ("Suspended", "Backup job has been suspended by user admin.", ""),
    ("Queued", "The job has been queued because a conflicting job is running.", ""),
    ("Running", "", "Scan"),
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


def _weighted(pairs: tuple[tuple[str, int], ...]) -> list[str]:
    return [name for name, weight in pairs for _ in range(weight)]


class _Generator:
    def __init__(self, jobs: int, seed: int, now: int) -> None:
        self.rng = random.Random(seed)
        self.random = self.rng.random
        self.jobs = jobs
        self.now = now
        self.agents = topology()
        self.backup_agents = self.agents
        self.ma = next(a for a in self.agents if a.client.name == "ma-01")
        self.types = _weighted(_TYPE_MIX)
        self.statuses = _weighted(_FINISHED_MIX)
        # A few active jobs, as on a busy CommServe: 8 to 200 of them.
        self.active_from = jobs - max(8, min(jobs // 500, 200)) + 1
        recent = max(jobs - HISTORIC_IDS + 1, 1)
        self.recent_step = 365 * DAY / recent

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
            if status in ("Failed", "Killed", "Failed to Start", "Interrupted"):
                percent = float(rng.randrange(0, 80)) if status != "Failed to Start" else 0.0
                pending_reason = _pick(self.random, _FAILURES)
                app_size, media, files = (
                    int(app_size * percent / 100),
                    int(media * percent / 100),
                    int(files * percent / 100),
                )
            elif status == "Completed w/ one or more errors":
                failed_files = rng.randint(1, 250)
                pending_reason = "Error Code: [7:84] Some files could not be backed up."
            elif status == "Completed w/ one or more warnings":
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
        return JobRecord(job, sections=self.sections(job), events=_history(job))

    def sections(self, job: Job) -> dict[str, JsonObject]:
        rng = self.rng
        out: dict[str, JsonObject] = {}
        if job.job_id > self.jobs - DETAILED_NEWEST:
            out["jobDetail"] = _details(
                job.job_id,
                job.start_time,
                job.end_time,
                job.job_type,
                job.size_of_application,
                job.size_of_media_on_disk,
                job.total_num_of_files,
            )
        done = job.status in vocab.FINISHED_STATUSES
        if job.job_type in vocab.BACKUP_JOB_TYPES and job.app.id in (53, 81):
            out["bkpInfo"] = self.database_info(job)
        elif job.job_type == vocab.AUX_COPY:
            copied = rng.randint(5, 400)
            pending = 0 if done else rng.randint(1, 50)
            out["dashCopyInfo"] = {
                "storagePolicyName": job.storage_policy.name,
                "sourceCopyName": "Primary",
                "destinationCopyName": POLICIES[job.storage_policy.id - 1].copies[-1].name,
                "isScalableResourceAllocation": True,
                "totalJobsToBeCopied": copied + pending,
                "jobsCopied": copied,
                "jobsPending": pending,
                "dataToBeCopied": job.size_of_application,
                "dataTransferred": job.size_of_media_on_disk,
                "streamsUsed": rng.randint(1, 8),
                "copyJobStats": [
                    {"jobId": max(job.job_id - rng.randint(1, 500), 1), "status": "Copied"}
                    for _ in range(3)
                ],
            }
            out["adminInfo"] = {
                "isScalableResourceAllocation": True,
                "maxStreams": 8,
                "readersAllocated": rng.randint(1, 8),
                "mediaAgents": [
                    {"mediaAgentName": "ma-01", "streamsAllocated": rng.randint(1, 4)},
                ],
                "startTime": job.start_time,
                "endTime": job.end_time,
            }
        elif job.job_type == vocab.REFERENCE_COPY:
            items = rng.randint(10, 50_000)
            out["refCopyInfo"] = {
                "sourceClientName": job.client.name,
                "destinationClientName": "fs-lon-02",
                "destinationPath": f"/refcopy/{job.client.name}",
                "totalItems": items,
                "itemsCopied": items if done else items // 2,
                "itemsFailed": 0,
                "bytesCopied": job.size_of_application,
                "lastCopyTime": job.end_time,
            }
        return out

    def database_info(self, job: Job) -> JsonObject:
        rng = self.rng
        exchange = job.app.id == vocab.EXCHANGE_APP_ID
        count = rng.randint(1, 4)
        failed = 1 if job.status in ("Failed", "Completed w/ one or more errors") else 0
        stats = []
        for n in range(count):
            ok = n >= failed
            stat: JsonObject = {
                ("ExchangeServerName" if exchange else "SQLInstanceName"): job.client.name
                if exchange
                else f"{job.client.name}\\MSSQLSERVER",
                "FailureReason": (
                    "Backup Completed Successfully"
                    if ok
                    else "Database backup failed: the log chain is broken"
                ),
                "dbName": f"{job.client.name}_DB{n + 1}",
                "startTime": job.start_time,
                "ApplicationSize": job.size_of_application // count,
                "endTime": job.end_time,
                "status": 5 if ok else 3,
            }
            stats.append(stat)
        return {
            ("exchDbInfo" if exchange else "sqlDbInfo"): {
                "SourceDatabaseCounters": {
                    "TotalDBs": count,
                    "PendingDBs": 0,
                    "SuccessfulDBs": count - failed,
                    "FailedDBs": failed,
                    "suspendedDBs": 0,
                    "SkippedDBs": 0,
                    "processingDBs": 0,
                },
                "SourceDatabaseStats": stats,
            }
        }


_EVENTFUL = frozenset(
    {"Failed", "Failed to Start", "Killed", "Interrupted", "Completed w/ one or more errors"}
)


def _history(job: Job) -> tuple[Event, ...]:
    """The event a finished job with trouble left behind: how it ended, and why."""
    if job.status not in _EVENTFUL:
        return ()
    return (
        status_event(
            replace(job, status="Running"), job.status, job.end_time, "", job.pending_reason
        ),
    )


def records(jobs: int, seed: int, now: int) -> Iterator[JobRecord]:
    """Jobs 1..`jobs` (and the seed's 4 and 1452 whatever `jobs` is), lazily."""
    gen = _Generator(jobs, seed, now)
    exchange = next(a for a in gen.agents if a.client == EXCH001 and a.app.id == 53)
    pinned = {4: seed_job_4(), 1452: seed_job_1452(exchange)}
    for job_id in range(1, jobs + 1):
        record = gen.record(job_id)  # drawn even when pinned: the rest stays the same
        yield pinned.pop(job_id, record)
    yield from pinned.values()
