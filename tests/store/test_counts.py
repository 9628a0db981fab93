"""The job counts kept ahead (store/counts.py), on both backends: after any mix of writes
(upserts, compare-and-set changes, new jobs, deletes, a bulk load that leaves the triggers
out) the counts are exactly the jobs grouped by key, and every list total read from them
equals count(*) of the same filter."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvjobs import vocab
from cvjobs.model import Job, JobQuery, JobRecord, Ref, Scope
from cvjobs.store import counts, open_store
from cvjobs.store import jobs as store_jobs
from cvjobs.store.batches import DEFER_FROM, prepare
from cvjobs.store.filters import job_filter
from cvjobs.store.protocols import Store
from cvjobs.store.values import JobChange
from tests.catalogues import Catalogue
from tests.store.loop import run

pytestmark = pytest.mark.postgres_too

DAY = counts.DAY
BASE = 1_700_000_000 - 1_700_000_000 % DAY + 3_600  # an hour into a day
NOW = BASE + 6 * DAY
STATUSES = ("Running", "Waiting", "Completed", "Failed", "Completed w/ one or more errors")
CLIENTS = (0, 1, 2, 3)  # 0: no client


@pytest.fixture
def store(empty_catalogue: Catalogue) -> Iterator[Store]:
    s = run(open_store(empty_catalogue.url))
    yield s
    run(s.close())


def a_job(job_id: int, status: str, job_type: str, client: int, end: int, aged: bool) -> Job:
    return Job(
        job_id=job_id,
        status=status,
        job_type=job_type,
        client=Ref(client, f"client{client}") if client else Ref(),
        end_time=0 if vocab.is_active(status) else end,
        is_aged=aged,
    )


# End times and window starts on and around day boundaries, where a count could go wrong.
times = st.builds(
    lambda day, offset: BASE - 3_600 + day * DAY + offset,
    st.integers(0, 6),
    st.sampled_from((0, 1, 1_800, DAY // 2, DAY - 1)),
)
jobs = st.builds(
    a_job,
    st.integers(1, 40),
    st.sampled_from(STATUSES),
    st.sampled_from(("Backup", "Restore")),
    st.sampled_from(CLIENTS),
    times,
    st.booleans(),
)
queries = st.builds(
    JobQuery,
    now=st.just(NOW),
    job_types=st.none() | st.frozensets(st.sampled_from(("Backup", "Restore", "Other"))),
    statuses=st.none() | st.frozensets(st.sampled_from(STATUSES)),
    client_ids=st.none() | st.lists(st.integers(1, 4), max_size=3, unique=True).map(tuple),
    category=st.sampled_from(("all", "active", "finished")),
    lookup_seconds=st.none()
    | st.integers(0, 9 * DAY)
    | st.builds(lambda t, d: max(NOW - t + d, 0), times, st.sampled_from((-1, 0, 1))),
    show_aged=st.booleans(),
    scope=st.sampled_from(
        (Scope(), Scope(False, frozenset({1})), Scope(False, groups=frozenset({1})))
    ),
)


def kept(catalogue: Catalogue) -> set[tuple[Any, ...]]:
    """The counts tables' rows that count something, as (end day or -1, key..., n)."""
    rows = catalogue.sql(
        "SELECT -1, client_id, job_type, status, is_aged, n FROM job_totals WHERE n <> 0"
        " UNION ALL SELECT end_day, client_id, job_type, status, is_aged, n"
        " FROM job_day_counts WHERE n <> 0"
    )
    return {tuple(r) for r in rows}


def grouped(catalogue: Catalogue) -> set[tuple[Any, ...]]:
    """The same, counted from the jobs themselves."""
    key = "coalesce(client_id, 0), job_type, status, is_aged"
    rows = catalogue.sql(
        f"SELECT -1, {key}, count(*) FROM jobs GROUP BY {key}"
        f" UNION ALL SELECT end_time / {DAY}, {key}, count(*) FROM jobs"
        " WHERE status NOT IN ('Running', 'Waiting')"  # the active statuses STATUSES has
        f" GROUP BY end_time / {DAY}, {key}"
    )
    return {tuple(r) for r in rows}


def exact_total(catalogue: Catalogue, q: JobQuery) -> int:
    where = job_filter(q)
    return int(catalogue.scalar(f"SELECT count(*) FROM jobs j{where.sql}", where.params))


def test_counts_follow_every_kind_of_write_and_totals_are_exact(
    store: Store, empty_catalogue: Catalogue
) -> None:
    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def example(data: Any) -> None:
        empty_catalogue.sql("DELETE FROM jobs")  # the delete trigger counts them out
        assert kept(empty_catalogue) == set()
        for _ in range(data.draw(st.integers(1, 6))):
            step = data.draw(st.sampled_from(("upsert", "change", "create", "delete")))
            if step == "upsert":
                batch = data.draw(st.lists(jobs, min_size=1, max_size=8))
                latest = {j.job_id: j for j in batch}  # one record per id in a write
                run(store.upsert_jobs(JobRecord(j) for j in latest.values()))
            elif step == "change":
                # Drawn before reading: what the store holds must not steer the draws.
                news = data.draw(st.lists(jobs, min_size=5, max_size=5))
                found = run(store.list_jobs(JobQuery(now=NOW, limit=5)))[1]
                changes = [
                    JobChange(
                        replace(j, status=new.status, end_time=new.end_time, is_aged=new.is_aged),
                        j.status,
                    )
                    for j, new in zip(found, news, strict=False)
                ]
                run(store.replace_jobs(changes, all_or_nothing=False))
            elif step == "create":
                run(store.create_job(data.draw(jobs), (), first_id=1000))
            else:
                empty_catalogue.sql(
                    "DELETE FROM jobs WHERE id % 3 = ?", (data.draw(st.integers(0, 2)),)
                )
        assert kept(empty_catalogue) == grouped(empty_catalogue)
        for drawn in data.draw(st.lists(queries, min_size=4, max_size=4)):
            q = replace(drawn, limit=0)
            assert counts.covers(q)
            assert run(store.list_jobs(q))[0] == exact_total(empty_catalogue, q), q

    example()


@pytest.mark.parametrize("first_bound", [counts.FIRST_BOUND, 1], ids=["bounds", "tiny-bounds"])
def test_every_window_start_around_every_day_boundary_is_counted_exactly(
    store: Store, first_bound: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tiny bounds: every sum gives up and tries the other side of the window, in turn.
    monkeypatch.setattr(counts, "FIRST_BOUND", first_bound)
    monkeypatch.setattr(counts, "LAST_BOUND", max(first_bound, 4))
    offsets = (0, 1, 1_800, DAY // 2, DAY - 1)
    ends = [BASE - 3_600 + day * DAY + offset for day in range(7) for offset in offsets]
    catalogue = [
        a_job(n, STATUSES[2 + n % 3], "Backup", CLIENTS[n % 4], end, n % 5 == 0)
        for n, end in enumerate(ends, start=1)
    ] + [a_job(100 + n, STATUSES[n % 2], "Backup", 1, 0, False) for n in range(3)]
    run(store.upsert_jobs(JobRecord(j) for j in catalogue))
    for end in ends:
        for nudge in (-1, 0, 1):
            for category in ("all", "finished"):
                for clients in (None, (1,)):
                    q = JobQuery(
                        now=NOW,
                        lookup_seconds=NOW - end + nudge,
                        category=category,
                        client_ids=clients,
                        limit=0,
                    )
                    expected = sum(
                        (category == "all" or not vocab.is_active(j.status))
                        and (clients is None or j.client.id in clients)
                        and (vocab.is_active(j.status) or j.end_time >= end - nudge)
                        for j in catalogue
                    )
                    assert run(store.list_jobs(q))[0] == expected, q


def test_a_bulk_load_into_an_empty_catalogue_counts_its_jobs_once_at_the_end(
    store: Store, empty_catalogue: Catalogue
) -> None:
    loaded = [
        a_job(n, STATUSES[n % 5], "Backup", CLIENTS[n % 4], BASE + n * 600, n % 7 == 0)
        for n in range(1, DEFER_FROM + 200)
    ]
    assert run(store.load([prepare(JobRecord(j) for j in loaded)])) == len(loaded)
    assert kept(empty_catalogue) == grouped(empty_catalogue)
    triggers = (
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
        if empty_catalogue.backend == "sqlite"
        else "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'jobs'::regclass AND NOT tgisinternal"
    )
    assert empty_catalogue.scalar(triggers) == 9  # the counts', durations' and log's, put back
    run(store.upsert_jobs([JobRecord(replace(loaded[0], status="Killed", end_time=NOW))]))
    assert kept(empty_catalogue) == grouped(empty_catalogue)


def test_an_older_catalogue_has_its_counts_built_by_the_migration(
    empty_catalogue: Catalogue,
) -> None:
    store = run(open_store(empty_catalogue.url))
    run(
        store.upsert_jobs(
            [JobRecord(a_job(n, "Completed", "Backup", 2, BASE, False)) for n in (1, 2)]
        )
    )
    run(store.close())
    empty_catalogue.undo_counts()
    empty_catalogue.sql(
        "INSERT INTO jobs (id, status, job_type, end_time) VALUES (3, 'Failed', 'Backup', ?)",
        (NOW,),
    )
    reopened = run(open_store(empty_catalogue.url))  # migrated to v10
    try:
        assert kept(empty_catalogue) == grouped(empty_catalogue)
        q = JobQuery(now=NOW, lookup_seconds=DAY, limit=0)
        assert run(reopened.list_jobs(q))[0] == exact_total(empty_catalogue, q) == 1
    finally:
        run(reopened.close())


def test_filters_the_counts_do_not_hold_are_counted_exactly() -> None:
    assert not counts.covers(JobQuery(now=NOW, subclient_id=4))
    assert not counts.covers(JobQuery(now=NOW, backup_levels=frozenset({1})))
    assert not counts.covers(JobQuery(now=NOW, client_ids=(0,)))  # client 0 stands for none
    assert counts.covers(JobQuery(now=NOW, client_ids=(1, 2), category="finished"))


def test_a_page_found_by_walking_the_jobs_is_the_indexs_page(
    store: Store, empty_catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page of a filter most jobs match is found by walking the jobs in id order
    (store/jobs.py `walk_pays`); the page must be the one the filter's index finds."""
    run(store.upsert_jobs(JobRecord(a_job(n, *drawn)) for n, drawn in enumerate(SPREAD, 1)))
    monkeypatch.setattr(store_jobs, "WALK_FROM", 0)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        drawn=queries,
        limit=st.integers(1, 30),
        offset=st.integers(0, 60),
        descending=st.booleans(),
    )
    def example(drawn: JobQuery, limit: int, offset: int, descending: bool) -> None:
        q = replace(drawn, limit=limit, offset=offset, descending=descending)
        where = job_filter(q)
        order = "DESC" if descending else "ASC"
        expected = [
            r[0]
            for r in empty_catalogue.sql(
                f"SELECT j.id FROM jobs j{where.sql} ORDER BY j.id {order} LIMIT ? OFFSET ?",
                (*where.params, limit, offset),
            )
        ]
        pages = []
        for walk in (True, False):
            monkeypatch.setattr(store_jobs, "walk_pays", lambda *_, w=walk: w)
            pages.append([j.job_id for j in run(store.list_jobs(q))[1]])
        assert pages == [expected, expected], q

    example()


SPREAD = [
    (status, job_type, client, NOW - (n % 9) * DAY // 3, n % 7 == 0)
    for n, (status, job_type, client) in enumerate(
        (s, t, c) for s in STATUSES for t in ("Backup", "Restore") for c in CLIENTS
    )
]


@pytest.mark.parametrize(
    ("total", "jobs", "reach", "walk"),
    [
        (1_000_000, 1_000_000, 100, True),  # everything matches: the first rows do
        (500_000, 10_000_000, 100, True),  # one in twenty: 2,000 rows walked
        (30_000, 10_000_000, 100, False),  # one in 333: 33,000 rows walked, 30,000 sorted
        (1_000_000, 1_000_000, 1_000_000, True),  # the last page: the whole walk, no sort
    ],
)
def test_the_walk_is_taken_when_it_reads_fewer_rows(
    total: int, jobs: int, reach: int, walk: bool
) -> None:
    assert store_jobs.walk_pays(total, jobs, reach) is walk
