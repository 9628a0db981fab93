"""The job engine, driven by a fake clock: no sleeping, deterministic given seed and clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from cvjobs import vocab
from cvjobs.model import EventQuery, Job, JobRecord, Ref
from cvjobs.service.engine import JobEngine, NewJobSource, plan_for
from cvjobs.store.sqlite import SqliteStore
from tests.conftest import FakeClock

T0 = 1_800_000_000


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = run(SqliteStore.open(tmp_path / "engine.db"))
    yield s
    run(s.close())


def running(job_id: int = 100, **changes: object) -> Job:
    job = Job(
        job_id=job_id,
        status="Running",
        job_type=vocab.BACKUP,
        client=Ref(2, "c"),
        subclient=Ref(3, "sc"),
        backup_level=2,
        current_phase="Scan",
        start_time=T0,
        last_update_time=T0,
    )
    return replace(job, **changes)  # type: ignore[arg-type]


def make(store: SqliteStore, clock: FakeClock, new_jobs: NewJobSource | None = None) -> JobEngine:
    return JobEngine(store, clock=clock, seed=42, new_jobs=new_jobs)


def test_a_running_job_moves_through_its_phases_and_finishes(store: SqliteStore) -> None:
    clock = FakeClock(T0)
    run(store.upsert_jobs([JobRecord(running())]))
    engine = make(store, clock)
    plan = plan_for(running(), 42)
    seen_phases, last_percent = [], 0.0
    for _ in range(200):
        clock.advance(10)
        run(engine.step())
        job = run(store.get_job(100))
        assert job.last_update_time == int(clock.now)
        if job.status == "Running":
            assert job.percent_complete >= last_percent
            last_percent = job.percent_complete
            if not seen_phases or seen_phases[-1] != job.current_phase:
                seen_phases.append(job.current_phase)
        else:
            break
    assert seen_phases == [name for name, _ in plan.phases]
    assert job.status == plan.outcome
    assert job.end_time == int(clock.now) and job.elapsed_time >= plan.total_seconds
    assert job.size_of_application == plan.app_size
    events = run(store.list_events(EventQuery(job_id=100)))
    assert [e.to_status for e in events] == [plan.outcome]


def test_the_same_seed_and_clock_give_the_same_history(tmp_path: Path) -> None:
    results = []
    for name in ("a", "b"):
        store = run(SqliteStore.open(tmp_path / f"{name}.db"))
        clock = FakeClock(T0)
        run(store.upsert_jobs([JobRecord(running(i)) for i in range(1, 30)]))
        engine = make(store, clock)
        for _ in range(50):
            clock.advance(37)
            run(engine.step())
        results.append([run(store.get_job(i)) for i in range(1, 30)])
        run(store.close())
    assert results[0] == results[1]
    assert len({j.status for j in results[0]}) > 1  # outcomes differ between jobs


def test_pending_statuses_settle(store: SqliteStore) -> None:
    clock = FakeClock(T0)
    run(
        store.upsert_jobs(
            [
                JobRecord(running(1, status="Suspend Pending")),
                JobRecord(running(2, status="Kill Pending")),
                JobRecord(running(3, status="Interrupt Pending")),
            ]
        )
    )
    clock.advance(5)
    run(make(store, clock).step())
    jobs = [run(store.get_job(i)) for i in (1, 2, 3)]
    assert [j.status for j in jobs] == ["Suspended", "Killed", "Interrupted"]
    assert jobs[0].end_time == 0 and jobs[1].end_time == T0 + 5


def test_a_suspended_job_does_not_progress_and_auto_resumes(store: SqliteStore) -> None:
    clock = FakeClock(T0)
    run(store.upsert_jobs([JobRecord(running(1, status="Suspended", auto_resume_at=T0 + 100))]))
    engine = make(store, clock)
    clock.advance(99)
    run(engine.step())
    assert run(store.get_job(1)) == running(1, status="Suspended", auto_resume_at=T0 + 100)
    clock.advance(1)
    run(engine.step())
    job = run(store.get_job(1))
    assert job.status == "Running" and job.auto_resume_at == 0 and job.elapsed_time == 0


def test_waiting_jobs_start_after_their_wait(store: SqliteStore) -> None:
    clock = FakeClock(T0)
    waiting = running(1, status="Waiting", pending_reason="no streams")
    run(store.upsert_jobs([JobRecord(waiting)]))
    engine = make(store, clock)
    wait = plan_for(waiting, 42).wait_seconds
    clock.advance(wait - 1)
    run(engine.step())
    assert run(store.get_job(1)).status == "Waiting"
    clock.advance(1)
    run(engine.step())
    job = run(store.get_job(1))
    assert job.status == "Running" and job.pending_reason == ""


def test_demo_mode_starts_new_jobs_on_a_schedule(store: SqliteStore) -> None:
    clock = FakeClock(T0)
    template = running(7, status="Completed", end_time=T0 - 10, percent_complete=100.0)
    run(store.upsert_jobs([JobRecord(template)]))
    engine = make(store, clock, NewJobSource([template], every_seconds=60))
    clock.advance(185)
    assert run(engine.step()) == 3
    new = [run(store.get_job(i)) for i in (8, 9, 10)]
    assert [j.start_time for j in new] == [T0 + 60, T0 + 120, T0 + 180]
    assert all(j.subclient == template.subclient and j.status == "Waiting" for j in new)


def test_finished_jobs_are_left_alone(store: SqliteStore) -> None:
    clock = FakeClock(T0)
    done = running(1, status="Completed", end_time=T0, percent_complete=100.0)
    run(store.upsert_jobs([JobRecord(done)]))
    clock.advance(1000)
    assert run(make(store, clock).step()) == 0
    assert run(store.get_job(1)) == done


def test_progress_alone_is_written_every_few_seconds(store: SqliteStore) -> None:
    clock = FakeClock(T0)
    run(store.upsert_jobs([JobRecord(running())]))
    engine = make(store, clock)
    clock.advance(2)
    assert run(engine.step()) == 0  # 2 s of progress: not written yet
    assert run(store.get_job(100)).last_update_time == T0
    clock.advance(3)
    assert run(engine.step()) == 1
    job = run(store.get_job(100))
    assert job.last_update_time == T0 + 5 and job.elapsed_time == 5
