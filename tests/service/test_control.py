"""Job control against a store double of exactly what it asks (ControlCatalogue): which
changes it writes, compare and set, all or nothing, audit of refusals, resubmit's new job.
The HTTP shapes are tests/http/test_job_actions.py's."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace

import pytest

from cvjobs.errors import BadRequest, Forbidden, JobActionFailed
from cvjobs.model import (
    ADMIN,
    OPERATOR,
    VIEWER,
    Account,
    AuditEntry,
    Event,
    Job,
    Ref,
    Scope,
)
from cvjobs.service.control import JobControl
from cvjobs.store.values import JobChange
from tests.service.doubles import AuditLog, JobsById

NOW = 1_000_000
RUNNING = Job(1, "Running", "Backup", client=Ref(3, "WINTER"), last_update_time=NOW - 60)
DONE = Job(2, "Completed", "Backup", client=Ref(3, "WINTER"), end_time=NOW - 10)
OTHER = Job(3, "Running", "Backup", client=Ref(4, "SUMMER"))
OPERATOR_3 = Account(7, "op", OPERATOR, scope=Scope(everything=False, clients=frozenset({3})))


@dataclass
class Catalogue(JobsById, AuditLog):
    """Jobs by id, with compare and set, and what was written."""

    jobs: dict[int, Job]
    engine: set[int] = field(default_factory=set)
    audits: list[AuditEntry] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    created: list[tuple[Job, int]] = field(default_factory=list)

    async def engine_jobs(self, job_ids: Collection[int] | None = None) -> set[int]:
        return self.engine if job_ids is None else self.engine & set(job_ids)

    async def active_jobs(self) -> list[Job]:
        return [j for j in self.jobs.values() if j.is_active]

    async def replace_jobs(
        self,
        changes: Sequence[JobChange],
        *,
        all_or_nothing: bool,
        audit: Sequence[AuditEntry] = (),
    ) -> int:
        fits = [c for c in changes if self.jobs[c.job.job_id].status == c.expect_status]
        if all_or_nothing and len(fits) < len(changes):
            return 0
        for change in fits:
            self.jobs[change.job.job_id] = change.job
            self.events.extend(change.events)
        self.audits.extend(audit)
        return len(fits)

    async def create_job(
        self, job: Job, events: Iterable[Event], audit: Sequence[AuditEntry] = (), *, first_id: int
    ) -> Job:
        made = replace(job, job_id=max([first_id - 1, *self.jobs]) + 1)
        self.jobs[made.job_id] = made
        self.created.append((made, first_id))
        self.events.extend(events)
        self.audits.extend(audit)
        return made


def control(catalogue: Catalogue, *, engine_settles: bool = False) -> JobControl:
    return JobControl(
        catalogue, clock=lambda: float(NOW), engine_settles=engine_settles, job_id_base=500
    )


def catalogue() -> Catalogue:
    return Catalogue({1: RUNNING, 2: DONE, 3: OTHER})


ADMIN_1 = Account(1, "admin", ADMIN)


def test_without_an_engine_a_suspend_settles_at_once_with_both_events() -> None:
    store = catalogue()
    asyncio.run(control(store).act(1, "suspend", ADMIN_1))
    job = store.jobs[1]
    assert (job.status, job.last_update_time) == ("Suspended", NOW)
    assert job.pending_reason == "Backup job has been suspended by user admin."
    assert [(e.from_status, e.to_status) for e in store.events] == [
        ("Running", "Suspend Pending"),
        ("Suspend Pending", "Suspended"),
    ]
    assert [(a.action, a.job_id, a.outcome) for a in store.audits] == [("job.suspend", 1, "ok")]


def test_an_engine_job_is_left_pending_for_the_engine_to_settle() -> None:
    store = catalogue()
    store.engine = {1}
    asyncio.run(control(store, engine_settles=True).act(1, "kill", ADMIN_1))
    assert store.jobs[1].status == "Kill Pending"


def test_one_refusal_changes_no_job_and_is_audited() -> None:
    store = catalogue()
    with pytest.raises(JobActionFailed, match="no job was changed"):
        asyncio.run(control(store).act_on_many([1, 2], "suspend", ADMIN_1))
    assert store.jobs == catalogue().jobs
    assert [(a.action, a.outcome) for a in store.audits] == [("job.suspend", "refused")]


def test_a_job_that_changed_meanwhile_undoes_the_whole_operation() -> None:
    store = catalogue()

    async def race() -> None:
        real = store.get_job

        async def stale(job_id: int) -> Job | None:
            job = await real(job_id)
            store.jobs[1] = replace(RUNNING, status="Waiting")  # another action came first
            return job

        store.get_job = stale  # type: ignore[method-assign]  # a double of a double
        await control(store).act(1, "suspend", ADMIN_1)

    with pytest.raises(JobActionFailed, match="another action came first"):
        asyncio.run(race())
    assert store.jobs[1].status == "Waiting"


def test_out_of_scope_is_absent_and_viewers_may_not_act() -> None:
    store = catalogue()
    with pytest.raises(JobActionFailed) as absent:
        asyncio.run(control(store).act(99, "kill", OPERATOR_3))
    with pytest.raises(JobActionFailed) as hidden:
        asyncio.run(control(store).act(3, "kill", OPERATOR_3))
    assert str(hidden.value).replace("3", "N") == str(absent.value).replace("99", "N")
    with pytest.raises(Forbidden):
        asyncio.run(control(store).act(1, "kill", Account(8, "v", VIEWER)))
    assert store.jobs == catalogue().jobs


def test_resubmit_makes_a_new_job_from_the_base_and_only_of_a_finished_one() -> None:
    store = catalogue()
    assert asyncio.run(control(store).act(2, "resubmit", ADMIN_1)) == [500]
    made, first_id = store.created[0]
    assert first_id == 500
    assert (made.status, made.start_time, made.end_time, made.client) == (
        "Running",
        NOW,
        0,
        DONE.client,
    )
    with pytest.raises(JobActionFailed):
        asyncio.run(control(store).act(1, "resubmit", ADMIN_1))


def test_an_operation_on_too_many_jobs_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="at most 1000 jobs"):
        asyncio.run(control(catalogue()).act_on_many(list(range(1001)), "kill", ADMIN_1))
