"""The job engine, driven by a fake clock: no sleeping, deterministic given seed and clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from cvjobs import vocab
from cvjobs.errors import StoreError
from cvjobs.model import EventQuery, Job, JobRecord, Ref
from cvjobs.service import engine as engine_module
from cvjobs.service.engine import JobEngine, NewJobSource, Plan, plan_for
from cvjobs.store import open_store
from cvjobs.store.protocols import Store
from cvjobs.store.sqlite import SqliteStore
from cvjobs.store.values import JobChange
from tests.catalogues import Catalogue
from tests.conftest import FakeClock

pytestmark = pytest.mark.postgres_too

T0 = 1_800_000_000
BASE = 1_000_000  # where new jobs' ids are allocated from (--job-id-base)


T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def stored(store: Store, job_id: int) -> Job:
    """The job as the store has it; the test fails here if it has none."""
    found = run(store.get_job(job_id))
    assert found is not None, f"no job {job_id}"
    return found


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
    # replace() checks each keyword against its field's type; **changes is only `object`.
    return replace(job, **changes)  # type: ignore[arg-type]


def make(store: Store, clock: FakeClock, new_jobs: NewJobSource | None = None) -> JobEngine:
    return JobEngine(store, clock=clock, seed=42, job_id_base=BASE, new_jobs=new_jobs)


# Job 100's plan with seed 42, as plan_for draws it from random.Random(42 * 1_000_003 + 100):
# its phases' lengths (30 to 600 s each, in vocab.PHASES order for a Backup), its outcome
# and what it moves. Pinned here, so that a change to the plan shows; the test below works
# out by hand what the engine makes of it.
PLAN_100 = Plan(
    phases=(("Scan", 458), ("Backup", 159), ("Archive Index", 462)),  # 1079 s in all
    wait_seconds=47,
    app_size=3_722_077_636,
    files=16_049,
    savings=81.656451,
    outcome=vocab.JobStatus.FAILED,
    failed_files=0,
    failure_reason="Error Code: [7:75] Scan phase failed: the volume could not be accessed.",
)


def test_the_plan_of_a_job_is_fixed_by_the_seed_and_its_id() -> None:
    assert plan_for(running(), 42) == PLAN_100
    assert plan_for(running(), 43) != PLAN_100
    assert plan_for(running(101), 42) != PLAN_100


def test_a_running_job_moves_through_its_phases_and_finishes(store: SqliteStore) -> None:
    clock = FakeClock(T0)
    run(store.upsert_jobs([JobRecord(running())], for_engine=True))
    engine = make(store, clock)
    phase_changes: list[tuple[int, str]] = []  # (elapsed seconds, phase) as the phase changes
    percents: list[float] = []
    for _ in range(200):
        clock.advance(10)
        run(engine.step())
        job = stored(store, 100)
        assert job.last_update_time == int(clock.now)
        if job.status != "Running":
            break
        percents.append(job.percent_complete)
        if not phase_changes or phase_changes[-1][1] != job.current_phase:
            phase_changes.append((job.elapsed_time, job.current_phase))
    # Every step adds 10 s: Scan until 458 s, Backup from 460 (458 + 159 = 617), Archive
    # Index from 620, and the job ends on the step that reaches 1079 s, at 1080 s.
    assert phase_changes == [(10, "Scan"), (460, "Backup"), (620, "Archive Index")]
    assert len(percents) == 107
    assert percents[0] == 0.9 and percents[-1] == 99.2  # 10/1079 and 1070/1079
    assert percents == sorted(percents)
    assert job.status == "Failed" and job.current_phase == ""
    assert job.end_time == T0 + 1080 and job.elapsed_time == 1080
    assert job.pending_reason == (
        "Error Code: [7:75] Scan phase failed: the volume could not be accessed."
    )
    assert job.size_of_application == 3_722_077_636 and job.total_num_of_files == 16_049
    assert job.percent_savings == 81.656451
    assert job.total_failed_files == 0 and job.total_failed_folders == 0
    events = run(store.list_events(EventQuery(job_id=100)))
    assert [(e.from_status, e.to_status, e.time) for e in events] == [
        ("Running", "Failed", T0 + 1080)
    ]


def test_the_same_seed_and_clock_give_the_same_history(tmp_path: Path) -> None:
    results = []
    for name in ("a", "b"):
        store = run(SqliteStore.open(tmp_path / f"{name}.db"))
        clock = FakeClock(T0)
        run(store.upsert_jobs([JobRecord(running(i)) for i in range(1, 30)], for_engine=True))
        engine = make(store, clock)
        for _ in range(50):
            clock.advance(37)
            run(engine.step())
        results.append([stored(store, i) for i in range(1, 30)])
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
            ],
            for_engine=True,
        )
    )
    clock.advance(5)
    run(make(store, clock).step())
    jobs = [stored(store, i) for i in (1, 2, 3)]
    assert [j.status for j in jobs] == ["Suspended", "Killed", "Interrupted"]
    assert jobs[0].end_time == 0 and jobs[1].end_time == T0 + 5


def test_a_suspended_job_does_not_progress_and_auto_resumes(store: SqliteStore) -> None:
    clock = FakeClock(T0)
    run(
        store.upsert_jobs(
            [JobRecord(running(1, status="Suspended", auto_resume_at=T0 + 100))], for_engine=True
        )
    )
    engine = make(store, clock)
    clock.advance(99)
    run(engine.step())
    assert run(store.get_job(1)) == running(1, status="Suspended", auto_resume_at=T0 + 100)
    clock.advance(1)
    run(engine.step())
    job = stored(store, 1)
    assert job.status == "Running" and job.auto_resume_at == 0 and job.elapsed_time == 0


def test_waiting_jobs_start_after_their_wait(store: SqliteStore) -> None:
    clock = FakeClock(T0)
    waiting = running(1, status="Waiting", pending_reason="no streams")
    run(store.upsert_jobs([JobRecord(waiting)], for_engine=True))
    engine = make(store, clock)
    clock.advance(54)  # job 1's plan with seed 42 waits 55 s
    run(engine.step())
    assert stored(store, 1).status == "Waiting"
    clock.advance(1)
    run(engine.step())
    job = stored(store, 1)
    assert job.status == "Running" and job.pending_reason == ""


def test_demo_mode_starts_new_jobs_on_a_schedule(store: SqliteStore) -> None:
    clock = FakeClock(T0)
    template = running(7, status="Completed", end_time=T0 - 10, percent_complete=100.0)
    run(store.upsert_jobs([JobRecord(template)], for_engine=True))
    engine = make(store, clock, NewJobSource([template], every_seconds=60))
    clock.advance(185)
    assert run(engine.step()) == 3
    new = [stored(store, i) for i in (BASE, BASE + 1, BASE + 2)]
    assert [j.start_time for j in new] == [T0 + 60, T0 + 120, T0 + 180]
    assert all(j.subclient == template.subclient and j.status == "Waiting" for j in new)


def test_finished_jobs_are_left_alone(store: SqliteStore) -> None:
    clock = FakeClock(T0)
    done = running(1, status="Completed", end_time=T0, percent_complete=100.0)
    run(store.upsert_jobs([JobRecord(done)], for_engine=True))
    clock.advance(1000)
    assert run(make(store, clock).step()) == 0
    assert run(store.get_job(1)) == done


def test_progress_alone_is_written_every_few_seconds(store: SqliteStore) -> None:
    clock = FakeClock(T0)
    run(store.upsert_jobs([JobRecord(running())], for_engine=True))
    engine = make(store, clock)
    clock.advance(2)
    assert run(engine.step()) == 0  # 2 s of progress: not written yet
    assert stored(store, 100).last_update_time == T0
    clock.advance(3)
    assert run(engine.step()) == 1
    job = stored(store, 100)
    assert job.last_update_time == T0 + 5 and job.elapsed_time == 5


# -- a failure stays with the job that caused it -------------------------------------------

ENGINE_LOG = "cvjobs.engine"


def cannot_advance(caplog: pytest.LogCaptureFixture, job_id: int) -> int:
    """How many times the log said the engine cannot advance `job_id`."""
    return sum(
        f"job {job_id}: the engine cannot advance it" in r.getMessage() for r in caplog.records
    )


def test_a_job_with_an_absurd_value_fails_alone(
    empty_catalogue: Catalogue, caplog: pytest.LogCaptureFixture
) -> None:
    """The regression: an elapsed time of 2^63 - 1, written past every check, once made
    every step fail (the engine added to it and the write overflowed) for every job."""

    async def with_store(work: Callable[[Store], Awaitable[T]]) -> T:
        store = await open_store(empty_catalogue.url)
        try:
            return await work(store)
        finally:
            await store.close()

    run(
        with_store(
            lambda s: s.upsert_jobs([JobRecord(running(i)) for i in (1, 2, 3)], for_engine=True)
        )
    )
    empty_catalogue.sql("UPDATE jobs SET elapsed_time = ? WHERE id = 2", (2**63 - 1,))
    clock = FakeClock(T0)

    async def steps(store: Store) -> list[Job]:
        engine = make(store, clock)
        for _ in range(4):
            clock.advance(10)
            await engine.step()
        jobs = [await store.get_job(i) for i in (1, 2, 3)]
        return [job for job in jobs if job is not None]

    first, broken, third = run(with_store(steps))  # all three, or the unpacking fails
    for job in (first, third):
        assert job.status == "Running" and job.elapsed_time == 40 and job.percent_complete > 0
    assert broken.status == "Failed" and broken.end_time == T0 + 10
    assert "could not advance" in broken.pending_reason
    assert "'jobElapsedTime'" in broken.pending_reason
    assert broken.elapsed_time == 2**63 - 1  # left as found: it was written before
    assert cannot_advance(caplog, 2) == 1
    events = run(with_store(lambda s: s.list_events(EventQuery(job_id=2))))
    assert [e.to_status for e in events] == ["Failed"]


class FailingWrites:
    """A store whose writes of changes to some jobs raise, as a write of an unwritable
    value would; with `everything`, every write fails, as when the store is down."""

    def __init__(self, store: SqliteStore, jobs: set[int], *, marks_too: bool = False) -> None:
        self._store = store
        self.jobs = jobs
        self.marks_too = marks_too
        self.everything = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def replace_jobs(self, changes: Sequence[JobChange], **kwargs: Any) -> int:
        if self.everything:
            raise StoreError("the catalogue failed: it is down")
        for change in changes:
            if change.job.job_id in self.jobs and (self.marks_too or change.job.status != "Failed"):
                raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return await self._store.replace_jobs(changes, **kwargs)


def test_a_change_that_cannot_be_written_fails_its_job_alone(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    run(store.upsert_jobs([JobRecord(running(i)) for i in (1, 2, 3)], for_engine=True))
    clock = FakeClock(T0)
    failing = FailingWrites(store, {2})
    engine = JobEngine(failing, clock=clock, seed=42, job_id_base=BASE)
    for _ in range(4):
        clock.advance(10)
        run(engine.step())
    jobs = {i: stored(store, i) for i in (1, 2, 3)}
    assert jobs[1].elapsed_time == jobs[3].elapsed_time == 40
    assert jobs[2].status == "Failed" and "OverflowError" in jobs[2].pending_reason
    assert cannot_advance(caplog, 2) == 1


def test_a_job_whose_step_raises_fails_alone(
    store: SqliteStore, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = engine_module.plan_for

    def plan(job: Job, seed: int) -> Plan:
        if job.job_id == 2:
            raise ZeroDivisionError("a plan with no phases")
        return real(job, seed)

    monkeypatch.setattr(engine_module, "plan_for", plan)
    run(store.upsert_jobs([JobRecord(running(i)) for i in (1, 2, 3)], for_engine=True))
    clock = FakeClock(T0)
    engine = make(store, clock)
    for _ in range(3):
        clock.advance(10)
        run(engine.step())
    assert stored(store, 1).elapsed_time == stored(store, 3).elapsed_time == 30
    broken = stored(store, 2)
    assert broken.status == "Failed" and "ZeroDivisionError" in broken.pending_reason
    assert cannot_advance(caplog, 2) == 1
    assert any(r.exc_info for r in caplog.records)  # with its traceback


def test_a_job_that_cannot_even_be_marked_is_skipped_and_logged_once(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    run(store.upsert_jobs([JobRecord(running(i)) for i in (1, 2, 3)], for_engine=True))
    clock = FakeClock(T0)
    failing = FailingWrites(store, {2}, marks_too=True)
    engine = JobEngine(failing, clock=clock, seed=42, job_id_base=BASE)
    for _ in range(4):
        clock.advance(10)
        run(engine.step())
    assert stored(store, 1).elapsed_time == stored(store, 3).elapsed_time == 40
    assert run(store.get_job(2)) == running(2)  # untouched
    assert cannot_advance(caplog, 2) == 1
    assert sum("could not mark it Failed" in r.getMessage() for r in caplog.records) == 1


def test_when_the_store_fails_the_step_fails_and_no_job_is_blamed(store: SqliteStore) -> None:
    run(store.upsert_jobs([JobRecord(running(i)) for i in (1, 2)], for_engine=True))
    clock = FakeClock(T0)
    failing = FailingWrites(store, set())
    engine = JobEngine(failing, clock=clock, seed=42, job_id_base=BASE)
    failing.everything = True
    clock.advance(10)
    with pytest.raises(StoreError):
        run(engine.step())
    failing.everything = False
    clock.advance(10)
    run(engine.step())
    assert [stored(store, i).status for i in (1, 2)] == ["Running", "Running"]
    assert stored(store, 1).elapsed_time == 20


def test_the_engine_leaves_a_reporters_job_exactly_as_reported(store: SqliteStore) -> None:
    """Issue 11: a job written by ingest or import is its reporter's; one the engine
    started is taken over by the reporter who writes it."""
    clock = FakeClock(T0)
    run(store.upsert_jobs([JobRecord(running(1, current_phase="Backup"))]))
    run(store.upsert_jobs([JobRecord(running(2, status="Kill Pending"))]))
    run(store.upsert_jobs([JobRecord(running(3))], for_engine=True))
    run(store.upsert_jobs([JobRecord(running(3, current_phase="Backup"))]))  # reported now
    reported = [run(store.get_job(i)) for i in (1, 2, 3)]
    engine = make(store, clock)
    for _ in range(100):
        clock.advance(60)
        run(engine.step())
    assert [run(store.get_job(i)) for i in (1, 2, 3)] == reported
    assert run(store.engine_jobs()) == set()
