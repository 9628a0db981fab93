"""The demo's per-job sections: JobDetails extras (attempts, throughput) and the
AdvancedDetails each job type has (DASH copy and admin info for aux copies, reference copy
info, Exchange and SQL Server backup info)."""

from __future__ import annotations

import random

from cvjobs import vocab
from cvjobs.model import Job, JsonObject, StoragePolicy
from cvjobs.vocab import JobStatus

# Finished statuses of jobs that failed on some of what they protected.
_FAILED_SOME: frozenset[str] = frozenset({JobStatus.FAILED, JobStatus.COMPLETED_WITH_ERRORS})


def details(
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
                "status": JobStatus.COMPLETED if end else JobStatus.RUNNING,
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


def sections(
    job: Job,
    rng: random.Random,
    policies: dict[int, StoragePolicy],
    *,
    detailed: bool,
    vms: list[JsonObject] | None = None,
) -> dict[str, JsonObject]:
    """The stored sections of a demo job: JobDetails extras (if `detailed`) and the
    AdvancedDetails its type has. `vms`: a Virtual Server backup's VMs as its child jobs
    name them (None: `vm_status`, each VM showing the backup's own id)."""
    out: dict[str, JsonObject] = {}
    if detailed:
        out["jobDetail"] = details(
            job.job_id,
            job.start_time,
            job.end_time,
            job.job_type,
            job.size_of_application,
            job.size_of_media_on_disk,
            job.total_num_of_files,
        )
        if job.app.id == VIRTUAL_SERVER and job.job_type in vocab.BACKUP_JOB_TYPES:
            listed = vm_status(job) if vms is None else vms
            out["jobDetail"]["clientStatusInfo"] = {"vmStatus": listed}
    done = job.status in vocab.FINISHED_STATUSES
    if vocab.INFO_TYPE_BY_BIT[vocab.INFO_BACKUP].applies_to(job.job_type, job.app.id):
        out["bkpInfo"] = database_info(job, rng)
    elif job.job_type == vocab.AUX_COPY:
        copied = rng.randint(5, 400)
        pending = 0 if done else rng.randint(1, 50)
        out["dashCopyInfo"] = {
            "storagePolicyName": job.storage_policy.name,
            "sourceCopyName": "Primary",
            "destinationCopyName": policies[job.storage_policy.id].copies[-1].name,
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


def database_info(job: Job, rng: random.Random) -> JsonObject:
    """Backup information of an Exchange or SQL Server backup, in the seed's shape."""
    exchange = job.app.id == vocab.EXCHANGE_APP_ID
    count = rng.randint(1, 4)
    failed = 1 if job.status in _FAILED_SOME else 0
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


VIRTUAL_SERVER = 106
_VM_NAMES = ("web", "db", "app", "mail", "files", "build", "dc", "cache")


def vm_status(job: Job) -> list[JsonObject]:
    """The VMs a Virtual Server backup protected (JobDetails clientStatusInfo.vmStatus),
    with the fields cvpysdk's Job.get_vm_list documents. Drawn from a generator of the job's
    own, so the rest of the demo does not change with them."""
    rng = random.Random(job.job_id * 7_919 + 106)
    count = rng.randint(2, 5)
    failed = job.status in _FAILED_SOME
    vms = []
    for n in range(count):
        size = rng.randint(20, 400) * 2**30
        bad = failed and n == count - 1
        vms.append(
            {
                "vmName": f"{_VM_NAMES[(job.job_id + n) % len(_VM_NAMES)]}-{n + 1:02d}",
                "GUID": f"5019{job.job_id:08x}-{n:04x}-4000-8000-{job.client.id:012x}",
                "clientId": 0,
                "jobID": job.job_id,
                "Status": 1 if bad else 0,
                "FailureReason": "Error Code: [91:10] Failed to open the VM disk." if bad else "",
                "BackupStartTime": job.start_time,
                "BackupEndTime": job.end_time,
                "backupLevel": job.backup_level,
                "BackupType": job.backup_level,
                "Size": size,
                "GuestSize": size,
                "UsedSpace": size * rng.randint(30, 90) // 100,
                "TransportMode": rng.choice(("SAN", "HotAdd", "NBD", "NBDSSL")),
                "CBTStatus": "Used",
                "Agent": job.client.name,
                "Host": f"esx-{rng.randint(1, 8):02d}",
                "OperatingSystem": rng.choice(
                    ("Microsoft Windows Server 2022", "Red Hat Enterprise Linux 9")
                ),
                "ToolsVersion": "Running",
                "HardwareVersion": "vmx-19",
                "PoweredOffByCurrentJob": False,
                "totalFiles": 0,
            }
        )
    return vms
