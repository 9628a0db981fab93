"""The change log (store/changes.py), on both backends: every write appends its record in
its own transaction, whoever writes; numbers follow the order records became visible;
scopes, pruning and bulk loads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvjobs.model import Change, Job, JobRecord, Ref, Scope
from cvjobs.store import batches, open_store
from cvjobs.store.batches import prepare
from cvjobs.store.protocols import Store
from cvjobs.store.values import JobChange
from tests.catalogues import Catalogue
from tests.store.loop import run

pytestmark = pytest.mark.postgres_too

EVERYONE = Scope()


@pytest.fixture
def store(empty_catalogue: Catalogue) -> Iterator[Store]:
    s = run(open_store(empty_catalogue.url))
    yield s
    run(s.close())


def job(job_id: int, status: str = "Running", client: int = 2, **changes: object) -> Job:
    base = Job(
        job_id=job_id,
        status=status,
        job_type="Backup",
        client=Ref(client, f"c{client}"),
        start_time=100,
        end_time=0 if status in ("Running", "Suspended", "Waiting") else 200,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def changes(store: Store, after: int = 0, scope: Scope = EVERYONE) -> list[Change]:
    return run(store.changes_after(after, 1000, scope)).changes


def summary(found: list[Change]) -> list[tuple[int, str, str, str]]:
    return [(c.job_id, c.kind, c.old_status, c.new_status) for c in found]


def test_each_kind_of_write_appends_its_record(store: Store, empty_catalogue: Catalogue) -> None:
    started = int(time.time())
    run(store.upsert_jobs([JobRecord(job(1)), JobRecord(job(2, "Completed"))]))
    run(store.upsert_jobs([JobRecord(job(1, percent_complete=40.0))]))  # progress
    run(store.upsert_jobs([JobRecord(job(1, percent_complete=40.0))]))  # the same: nothing
    suspended = job(1, "Suspended", percent_complete=40.0)
    assert run(store.replace_jobs([JobChange(suspended, "Running")], all_or_nothing=True)) == 1
    run(store.upsert_jobs([JobRecord(job(1, "Failed", percent_complete=40.0))]))
    run(store.upsert_jobs([JobRecord(job(2, "Completed", is_aged=True))]))  # aged
    empty_catalogue.sql("DELETE FROM jobs WHERE id = 2")  # any writer is logged
    found = changes(store)
    assert summary(found) == [
        (1, "created", "", "Running"),
        (2, "created", "", "Completed"),
        (1, "progress", "Running", "Running"),
        (1, "status", "Running", "Suspended"),
        (1, "finished", "Suspended", "Failed"),
        (2, "progress", "Completed", "Completed"),
        (2, "deleted", "Completed", ""),
    ]
    assert [c.seq for c in found] == list(range(1, 8))
    assert all(c.client_id == 2 and started <= c.time <= time.time() + 1 for c in found)
    assert run(store.change_head()) == 7


def test_a_write_that_fails_logs_nothing(store: Store) -> None:
    run(store.upsert_jobs([JobRecord(job(1))]))

    def records() -> Iterator[JobRecord]:
        yield JobRecord(job(2))
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError):
        run(store.upsert_jobs(records()))
    assert summary(changes(store)) == [(1, "created", "", "Running")]
    run(store.upsert_jobs([JobRecord(job(3))]))
    assert [c.seq for c in changes(store)] == [1, 2]  # no number lost to the failure


def test_a_reader_resumes_after_its_cursor_and_pages(store: Store) -> None:
    run(store.upsert_jobs([JobRecord(job(n)) for n in range(1, 6)]))
    page = run(store.changes_after(2, 2, EVERYONE))
    assert [c.job_id for c in page.changes] == [3, 4] and page.head == 5
    assert [c.job_id for c in changes(store, 4)] == [5]
    assert changes(store, 5) == []


def test_a_scoped_reader_sees_only_its_clients_records(store: Store) -> None:
    run(store.upsert_jobs([JobRecord(job(n, client=2 + n % 2)) for n in range(1, 7)]))
    mine = run(store.changes_after(0, 1000, Scope(everything=False, clients=frozenset({3}))))
    assert [c.job_id for c in mine.changes] == [1, 3, 5]
    assert mine.head == 6  # the head is the log's: the reader may move its cursor to it
    nothing = Scope(everything=False, clients=frozenset({99}))
    assert run(store.changes_after(0, 1000, nothing)).changes == []


def test_pruning_remembers_the_highest_number_it_deleted(
    store: Store, empty_catalogue: Catalogue
) -> None:
    run(store.upsert_jobs([JobRecord(job(n)) for n in range(1, 5)]))
    assert run(store.change_head()) == 4  # (numbered, on PostgreSQL)
    empty_catalogue.sql("UPDATE job_changes SET time = 1000 WHERE seq <= 3")
    assert run(store.prune_changes(2000)) == 3
    page = run(store.changes_after(0, 1000, EVERYONE))
    assert [c.seq for c in page.changes] == [4] and page.pruned_through == 3
    assert run(store.prune_changes(2000)) == 0
    assert run(store.changes_after(0, 10, EVERYONE)).pruned_through == 3
    run(store.upsert_jobs([JobRecord(job(9))]))
    assert [c.seq for c in changes(store)] == [4, 5]  # numbers are never given again


def test_a_bulk_load_logs_every_job_it_created(
    store: Store, empty_catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batches, "DEFER_FROM", 50)
    loaded = [job(n, "Completed" if n % 3 else "Running") for n in range(1, 121)]
    assert run(store.load([prepare(JobRecord(j) for j in loaded)])) == 120
    # Numbered as they were written, with the head (PostgreSQL: no numbering left to do).
    assert empty_catalogue.scalar("SELECT count(*) FROM job_changes WHERE seq IS NULL") == 0
    assert run(store.change_head()) == 120
    found = changes(store)
    assert [(c.job_id, c.kind, c.new_status) for c in found] == [
        (j.job_id, "created", j.status) for j in loaded
    ]
    assert [c.seq for c in found] == list(range(1, 121))
    run(store.upsert_jobs([JobRecord(job(1, "Failed"))]))  # and the triggers are back
    assert summary(changes(store, 120)) == [(1, "finished", "Completed", "Failed")]


STATUSES = ["Running", "Suspended", "Waiting", "Completed", "Failed", "Killed"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    writes=st.lists(
        st.tuples(st.integers(1, 6), st.sampled_from(STATUSES), st.integers(0, 2)),
        min_size=1,
        max_size=25,
    )
)
def test_replaying_the_log_gives_every_jobs_status(store: Store, writes: list[Any]) -> None:
    """Whatever the writes, the last record of each job names its stored status, and the
    records follow one another (each old status is the previous new one)."""
    head = run(store.change_head())
    base = head * 10 + 10  # above every job of the examples before
    for job_id, status, percent in writes:
        run(store.upsert_jobs([JobRecord(job(job_id + base, status, percent_complete=percent))]))
    last: dict[int, str] = {}
    for change in changes(store, head):
        assert change.old_status == last.get(change.job_id, "")
        last[change.job_id] = change.new_status
    for job_id in {w[0] + base for w in writes}:
        stored = run(store.get_job(job_id))
        assert stored is not None and last[job_id] == stored.status


def test_postgres_numbers_records_in_the_order_they_became_visible(
    store: Store, empty_catalogue: Catalogue
) -> None:
    """A transaction that wrote first but committed last gets the larger number, so a
    reader that has moved past the other's record still sees it."""
    if empty_catalogue.backend != "postgres":
        pytest.skip("SQLite has one writer at a time: numbers are commit order already")

    async def scenario() -> None:
        first = await asyncpg.connect(empty_catalogue.url)
        second = await asyncpg.connect(empty_catalogue.url)
        try:
            # (Other statuses: the same count row would make the second wait for the first.)
            insert = "INSERT INTO jobs (id, status, job_type) VALUES ($1, $2, 'Backup')"
            slow = first.transaction()
            await slow.start()
            await first.execute(insert, 1, "Running")  # written first...
            await second.execute(insert, 2, "Waiting")  # ...but this one commits first
            assert [c.job_id for c in (await store.changes_after(0, 10, EVERYONE)).changes] == [2]
            await slow.commit()
            later = (await store.changes_after(1, 10, EVERYONE)).changes
            assert [(c.seq, c.job_id) for c in later] == [(2, 1)]
        finally:
            await first.close()
            await second.close()

    run(scenario())


def test_numbering_nothing_writes_nothing(store: Store, empty_catalogue: Catalogue) -> None:
    """(PostgreSQL) The server numbers every second: with nothing to number it must not
    write, or the catalogue's version, and every kept answer, would move each second."""
    if empty_catalogue.backend != "postgres":
        pytest.skip("SQLite numbers records as they are written")
    run(store.upsert_jobs([JobRecord(job(1))]))
    run(store.sequence_changes())
    version = "SELECT xmin::text FROM job_change_state"
    before = empty_catalogue.scalar(version)
    run(store.sequence_changes())
    assert empty_catalogue.scalar(version) == before
    run(store.upsert_jobs([JobRecord(job(2))]))
    run(store.sequence_changes())
    assert empty_catalogue.scalar(version) != before  # (the check can see a write)
