"""The demo CommCell's fixed parts: clients with their agents, instances, backup sets
and subclients, storage policies with their copies, client groups, and the seed
document's jobs 4 and 1452 with exactly its values."""

from __future__ import annotations

from dataclasses import dataclass

from cvjobs import vocab
from cvjobs.demo.sections import details
from cvjobs.model import Job, JobRecord, JsonObject, PolicyCopy, Ref, StoragePolicy
from cvjobs.vocab import JobStatus

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
            status=JobStatus.COMPLETED,
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
        sections={"jobDetail": details(4, 1423087483, 1423087495, vocab.BACKUP, 0, 0, 0)},
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
            status=JobStatus.COMPLETED,
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
            "jobDetail": details(1452, start, end, vocab.BACKUP, 9824174080, 3806867456, 1),
        },
    )
