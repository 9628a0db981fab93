"""The demo CommCell: deterministic, realistic, with the seed's jobs."""

from __future__ import annotations

from collections import Counter

import pytest

from cvjobs import demo, vocab
from tests.conftest import NOW


def first_jobs(seed: int) -> list[tuple[int, str, str, str, int]]:
    """Id, status, type, client and start of the first ten jobs of a 400-job catalogue."""
    records = list(demo.records(400, seed, NOW))[:10]
    return [
        (r.job.job_id, r.job.status, r.job.job_type, r.job.client.name, r.job.start_time)
        for r in records
    ]


# What seed 42 (the default) makes: pinned, so that a change to the demo's catalogue for
# a given seed shows here ("same seed, same catalogue"). Job 4 is the seed's own job.
SEED_42_FIRST_JOBS = [
    (1, "Completed", "Backup", "fs-nyc-01", 1423058990),
    (2, "Completed", "Backup", "fs-nyc-01", 1423116715),
    (3, "Failed", "Backup", "EXCH001", 1423177445),
    (4, "Completed", "Backup", "WINTER", 1423087483),
    (5, "Completed", "Backup", "exch-002", 1423290961),
    (6, "Completed w/ one or more warnings", "Backup", "db2-unix-01", 1423350793),
    (7, "Committed", "Backup", "informix-01", 1423408314),
    (8, "Completed", "Backup", "ad-dc-01", 1423467099),
    (9, "Completed", "Backup", "sharepoint-01", 1423524449),
    (10, "Completed", "Admin", "ma-01", 1423581827),
]
SEED_42_STATUSES = {
    "Completed": 335,
    "Completed w/ one or more warnings": 24,
    "Failed": 17,
    "Completed w/ one or more errors": 11,
    "Killed": 4,
    "Running": 3,
    "Waiting": 2,
    "Committed": 1,
    "Failed to Start": 1,
    "Pending": 1,
    "Suspended": 1,
    "Queued": 1,
}


def test_a_seed_makes_a_known_catalogue() -> None:
    assert first_jobs(42) == SEED_42_FIRST_JOBS
    statuses = Counter(r.job.status for r in demo.records(400, 42, NOW))
    assert statuses == SEED_42_STATUSES  # 400 jobs and the seed's job 1452


def test_another_seed_makes_another_catalogue() -> None:
    other = first_jobs(43)
    assert other[3] == SEED_42_FIRST_JOBS[3]  # the seed's job 4, in every catalogue
    assert sum(a != b for a, b in zip(other, SEED_42_FIRST_JOBS, strict=True)) == 9


def test_same_inputs_same_catalogue() -> None:
    """Two catalogues of the same inputs are equal: the generator keeps no state between calls."""
    assert list(demo.records(400, 7, NOW)) == list(demo.records(400, 7, NOW))


def test_always_has_the_seed_jobs() -> None:
    small = {r.job.job_id: r for r in demo.records(3, 42, NOW)}
    assert set(small) == {1, 2, 3, 4, 1452}
    assert small[4] == demo.seed_job_4()
    assert small[1452].sections["bkpInfo"] == demo.SEED_1452_BKP_INFO
    assert small[1452].job.client.name == "EXCH001" and small[1452].job.app.id == 53


def test_realistic_mix() -> None:
    jobs = [r.job for r in demo.records(5000, 42, NOW)]
    statuses = Counter(j.status for j in jobs)
    assert statuses["Completed"] / len(jobs) > 0.7
    for status in (
        "Completed w/ one or more warnings",
        "Completed w/ one or more errors",
        "Failed",
        "Killed",
        "Running",
        "Pending",
        "Suspended",
        "Waiting",
    ):
        assert statuses[status] > 0, status
    assert {j.backup_level for j in jobs} >= {1, 2, 4, 8}
    assert {j.app.id for j in jobs} >= {33, 53, 104, 13, 59, 22, 80, 125, 79, 61, 81, 5, 106}
    types = Counter(j.job_type for j in jobs)
    for job_type in (
        vocab.BACKUP,
        vocab.SYNTHETIC_FULL,
        vocab.RESTORE,
        vocab.AUX_COPY,
        vocab.REFERENCE_COPY,
        vocab.ADMIN,
    ):
        assert types[job_type] > 0, job_type
    assert len({j.client.id for j in jobs}) >= 28
    for job in jobs:
        assert job.status in vocab.STATUSES
        if job.is_active:
            assert job.end_time == 0 and job.percent_complete < 100
        else:
            assert job.end_time >= job.start_time
            assert job.last_update_time >= job.end_time
    pending = [j for j in jobs if j.status in ("Pending", "Suspended", "Waiting")]
    assert all(j.pending_reason for j in pending)


def test_sections_follow_the_job_type() -> None:
    for record in demo.records(2000, 42, NOW):
        job, sections = record.job, record.sections
        if job.job_type == vocab.AUX_COPY:
            assert {"dashCopyInfo", "adminInfo"} <= set(sections)
        if job.job_type == vocab.REFERENCE_COPY:
            assert "refCopyInfo" in sections
        if job.job_type in vocab.BACKUP_JOB_TYPES and job.app.id in (53, 81):
            assert "bkpInfo" in sections
        if "bkpInfo" in sections:
            assert job.app.id in (53, 81)


def test_every_backup_has_a_storage_policy_with_copies() -> None:
    policies = {p.policy.id: p for p in demo.POLICIES}
    for record in demo.records(500, 42, NOW):
        if record.job.job_type in vocab.BACKUP_JOB_TYPES:
            assert policies[record.job.storage_policy.id].copies


def test_troubled_jobs_leave_an_event_with_their_reason() -> None:
    for record in demo.records(1000, 42, NOW):
        job = record.job
        if job.status in ("Failed", "Killed", "Completed w/ one or more errors"):
            (event,) = record.events
            assert event.to_status == job.status and event.job_id == job.job_id
            assert job.pending_reason in event.description
            assert event.time == job.end_time
        elif job.status == "Completed":
            assert record.events == ()


def test_virtual_server_backups_are_followed_by_a_job_per_vm() -> None:
    records = {r.job.job_id: r for r in demo.records(3000, 42, NOW)}
    children = [r for r in records.values() if r.job.vsa_parent_job_id]
    assert len(children) > 50
    for parent_id in {r.job.vsa_parent_job_id for r in children}:
        parent = records[parent_id]
        vms = parent.sections["jobDetail"]["clientStatusInfo"]["vmStatus"]
        mine = sorted(r.job.job_id for r in children if r.job.vsa_parent_job_id == parent_id)
        # One child per VM, numbered right after the backup, each VM naming its job.
        assert (
            [vm["jobID"] for vm in vms]
            == mine
            == list(range(parent_id + 1, parent_id + 1 + len(vms)))
        )
        assert parent.job.app.id == 106 and parent.job.vsa_parent_job_id == 0
        for vm, child_id in zip(vms, mine, strict=True):
            child = records[child_id].job
            assert (child.client, child.subclient) == (parent.job.client, parent.job.subclient)
            assert parent.job.start_time <= child.start_time < child.end_time
            assert child.end_time <= max(parent.job.end_time, child.start_time + 1)
            assert child.status == ("Failed" if vm["Status"] else "Completed")
            (own,) = records[child_id].sections["jobDetail"]["clientStatusInfo"]["vmStatus"]
            assert own["vmName"] == vm["vmName"] and own["jobID"] == child_id
    assert records[4] == demo.seed_job_4()


def test_vm_jobs_leave_the_rest_of_the_catalogue_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with_vms = {r.job.job_id: r for r in demo.records(2000, 42, NOW)}
    monkeypatch.setattr(demo._Generator, "_vm_jobs", lambda self, job: None)
    without = {r.job.job_id: r for r in demo.records(2000, 42, NOW)}
    changed = {i for i in without if without[i] != with_vms[i]}
    children = {i for i, r in with_vms.items() if r.job.vsa_parent_job_id}
    parents = {with_vms[i].job.vsa_parent_job_id for i in children}
    # Only the VM jobs and their backups' vmStatus (which now names them) differ.
    assert children and changed == children | parents
    for i in parents:
        assert with_vms[i].job == without[i].job
