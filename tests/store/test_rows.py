"""The jobs table's one column table: every list, the read and the writers agree with it
and with the Job it maps."""

from __future__ import annotations

import sqlite3
from dataclasses import fields

from cvjobs.model import Job, Ref
from cvjobs.store import rows
from cvjobs.store.sqlite import DIALECT

JOB = Job(
    job_id=12,
    status="Completed",
    job_type="Backup",
    client=Ref(3, "WINTER"),
    app=Ref(33, "File System"),
    instance=Ref(4, "DefaultInstanceName"),
    backupset=Ref(5, "defaultBackupSet"),
    subclient=Ref(6, "default"),
    storage_policy=Ref(7, "SP-Gold"),
    user=Ref(8, "admin"),
    client_groups=(Ref(9, "Servers"),),
    backup_level=2,
    current_phase="Backup",
    percent_complete=100.0,
    size_of_application=1234,
    start_time=100,
    end_time=200,
    last_update_time=200,
    is_aged=True,
    is_visible=False,
    is_preemptable=1,
    auto_resume_at=5,
    vsa_parent_job_id=11,
)


def test_every_job_field_has_one_column_and_the_rest_none() -> None:
    mapped = [c.field for c in rows.COLUMNS]
    assert len(mapped) == len(set(mapped))
    assert set(mapped) | {"client_groups"} == {f.name for f in fields(Job)}


def test_the_writers_follow_the_table() -> None:
    params = rows.job_params(JOB)
    assert len(params) == len(rows.COLUMNS) == rows.INSERT_JOB.count("?")
    assert params[rows.INDEX["client_id"]] == 3
    assert params[rows.INDEX["dest_client_id"]] is None  # no entity: NULL, not 0
    assert params[rows.INDEX["is_aged"]] == 1 and params[rows.INDEX["is_visible"]] == 0
    changed = rows.mutable_params(JOB)
    assert len(changed) + 2 == rows.REPLACE_JOB.count("?")
    assert changed[0] == "Completed"  # status first, as REPLACE_JOB sets it
    assert "job_type" not in rows.REPLACE_JOB and "client_id" not in rows.REPLACE_JOB


def test_a_written_job_reads_back_the_same_through_select_job() -> None:
    db = sqlite3.connect(":memory:")
    for c in rows.COLUMNS:
        if c.alias:
            db.execute(f"CREATE TABLE IF NOT EXISTS {c.table} (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute(f"CREATE TABLE jobs ({', '.join(rows.COLUMN_NAMES)})")
    db.execute("CREATE TABLE client_groups (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("CREATE TABLE client_group_members (client_id INTEGER, group_id INTEGER)")
    for c in rows.COLUMNS:
        if c.alias:
            ref: Ref = getattr(JOB, c.field)
            if ref.id:
                db.execute(f"INSERT OR IGNORE INTO {c.table} VALUES (?, ?)", (ref.id, ref.name))
    db.execute("INSERT INTO client_groups VALUES (9, 'Servers')")
    db.execute("INSERT INTO client_group_members VALUES (3, 9)")
    db.execute(rows.INSERT_JOB, rows.job_params(JOB))
    row = db.execute(rows.select_job(DIALECT) + " WHERE j.id = ?", (12,)).fetchone()
    assert rows.job_from_row(row) == JOB
