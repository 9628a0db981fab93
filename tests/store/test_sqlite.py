"""What only the SQLite backend does: WAL mode, foreign keys back on after a bulk
write, the query plan of a job read, a file that is not a database."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from cvjobs.errors import StoreError
from cvjobs.model import AuditEntry, AuditQuery, Job, JobRecord
from cvjobs.store.rows import select_job
from cvjobs.store.sqlite import DIALECT, SqliteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = asyncio.run(SqliteStore.open(tmp_path / "t.db"))
    yield s
    asyncio.run(s.close())


def test_wal_mode(store: SqliteStore) -> None:
    assert store.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_foreign_keys_are_on_again_after_a_failed_bulk_write(store: SqliteStore) -> None:
    def records() -> Iterator[JobRecord]:
        yield JobRecord(Job(job_id=1, status="Completed", job_type="Backup"))
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError):
        asyncio.run(store.upsert_jobs(records()))
    assert store.connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_job_read_is_one_indexed_query(store: SqliteStore) -> None:
    sql = "EXPLAIN QUERY PLAN " + select_job(DIALECT) + " WHERE j.id = ?"
    plan = " ".join(str(r) for r in store.connection.execute(sql, (1,)))
    assert "SCAN j" not in plan and "SCAN jobs" not in plan
    assert "SEARCH j USING INTEGER PRIMARY KEY" in plan


def test_a_server_store_checkpoints_in_the_background(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, int, int, int]:
        store = await SqliteStore.open(tmp_path / "s.db", for_server=True)
        try:
            assert store.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
            await store.upsert_jobs(
                [
                    JobRecord(Job(job_id=i, status="Completed", job_type="Backup"))
                    for i in range(1, 3000)
                ]
            )
            wal_before = (tmp_path / "s.db-wal").stat().st_size
            await store.maintain()
            # everything in the WAL is now in the database file: nothing left to copy back
            busy, log, done = store.connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            return wal_before, busy, log, done
        finally:
            await store.close()

    wal_before, busy, log, done = asyncio.run(scenario())
    assert wal_before > 0 and busy == 0 and log == done


def test_a_write_waiting_for_another_process_does_not_stop_reads(tmp_path: Path) -> None:
    """While another process holds the write lock (an import), a write waits on the event
    loop, not in SQLite's busy handler: reads on the same loop go on meanwhile, and the
    write is done once the lock is let go (issue 9: read p99 was 2 s during an import)."""
    path = tmp_path / "busy.db"

    async def scenario() -> tuple[list[bool], int]:
        store = await SqliteStore.open(path, busy_seconds=30, for_server=True)
        try:
            await store.upsert_jobs([JobRecord(Job(job_id=1, status="Running", job_type="Backup"))])
            other = sqlite3.connect(path, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")  # another process is writing
            write = asyncio.create_task(store.add_audit([AuditEntry(1, "u", "", "test")]))
            pending_during_reads = []
            for _ in range(20):
                await asyncio.sleep(0.01)
                assert await store.get_job(1) is not None  # a read, answered at once
                pending_during_reads.append(not write.done())
            other.execute("ROLLBACK")
            other.close()
            await asyncio.wait_for(write, 10)
            return pending_during_reads, len(await store.audit(AuditQuery(since=0)))
        finally:
            await store.close()

    pending, audited = asyncio.run(scenario())
    assert all(pending) and audited == 1


def test_a_write_that_waits_past_its_busy_time_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"

    async def scenario() -> None:
        store = await SqliteStore.open(path, busy_seconds=0.2)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreError, match="busy"):
                await store.add_audit([AuditEntry(1, "u", "", "test")])
        finally:
            other.execute("ROLLBACK")
            other.close()
            await store.close()

    asyncio.run(scenario())
