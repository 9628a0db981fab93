"""The store, on both backends: migrations, upserts, sections, sessions, atomicity."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from cvjobs import demo
from cvjobs.errors import AccountExists, StoreError
from cvjobs.model import Job, JobQuery, JobRecord, Ref
from cvjobs.store import batches, jobs, open_store, sql_store
from cvjobs.store.protocols import Store
from cvjobs.store.sqlite import SqliteStore
from cvjobs.store.sqlite_schema import LATEST, MIGRATIONS
from cvjobs.store.values import JobChange
from tests.catalogues import Catalogue
from tests.store.loop import run

pytestmark = pytest.mark.postgres_too


def stored(store: Store, job_id: int) -> Job:
    """The job as the store has it; the test fails here if it has none."""
    found = run(store.get_job(job_id))
    assert found is not None, f"no job {job_id}"
    return found


@pytest.fixture
def store(empty_catalogue: Catalogue) -> Iterator[Store]:
    """An empty store, on each backend in turn."""
    s = run(open_store(empty_catalogue.url))
    yield s
    run(s.close())


def job(job_id: int = 10, **changes: object) -> Job:
    base = Job(
        job_id=job_id,
        status="Completed",
        job_type="Backup",
        client=Ref(2, "c2"),
        app=Ref(33, "File System"),
        instance=Ref(1, "DefaultInstanceName"),
        backupset=Ref(3, "bs"),
        subclient=Ref(4, "sc"),
        client_groups=(Ref(1, "g1"),),
        start_time=100,
        end_time=200,
    )
    # replace() checks each keyword against its field's type; **changes is only `object`.
    return replace(base, **changes)  # type: ignore[arg-type]


def test_migrations_are_recorded_and_reapplying_is_a_no_op(empty_catalogue: Catalogue) -> None:
    run(run(open_store(empty_catalogue.url)).close())
    run(run(open_store(empty_catalogue.url)).close())
    versions = [r[0] for r in empty_catalogue.sql("SELECT version FROM schema_migrations")]
    assert versions == [version for version, _ in MIGRATIONS]  # numbers may skip one


def test_a_newer_schema_is_refused(empty_catalogue: Catalogue) -> None:
    run(run(open_store(empty_catalogue.url)).close())
    empty_catalogue.sql("INSERT INTO schema_migrations VALUES (?, 0)", (LATEST + 1,))
    with pytest.raises(StoreError, match="newer than this cvjobs understands"):
        run(open_store(empty_catalogue.url))


def test_not_a_database_is_a_store_error(tmp_path: Path) -> None:  # SQLite only
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open"):
        run(SqliteStore.open(path))


def test_round_trip_of_a_job(store: Store) -> None:
    run(store.upsert_jobs([JobRecord(job())]))
    assert run(store.get_job(10)) == job()
    assert run(store.get_job(11)) is None


def test_upsert_replaces_and_is_idempotent(store: Store) -> None:
    run(store.upsert_jobs([JobRecord(job())]))
    changed = job(status="Failed", subclient=Ref(4, "renamed"))
    run(store.upsert_jobs([JobRecord(changed)]))
    run(store.upsert_jobs([JobRecord(changed)]))
    assert run(store.get_job(10)) == changed
    assert run(store.count_jobs()) == 1


def test_sections_are_kept_unless_replaced(store: Store) -> None:
    run(
        store.upsert_jobs([JobRecord(job(), sections={"bkpInfo": {"a": 1}, "jobDetail": {"b": 2}})])
    )
    run(store.upsert_jobs([JobRecord(job(), sections={"bkpInfo": {"a": 3}})]))
    assert run(store.get_sections(10, ["bkpInfo", "jobDetail", "nope"])) == {
        "bkpInfo": {"a": 3},
        "jobDetail": {"b": 2},
    }
    assert run(store.put_sections(10, {"jobDetail": {"c": 1}}))
    assert run(store.get_sections(10, ["jobDetail"])) == {"jobDetail": {"c": 1}}
    assert not run(store.put_sections(99, {"jobDetail": {}}))


def test_client_groups_are_replaced_only_when_given(store: Store) -> None:
    run(store.upsert_jobs([JobRecord(job(client_groups=(Ref(1, "g1"), Ref(2, "g2"))))]))
    run(store.upsert_jobs([JobRecord(job(11, client_groups=()), set_client_groups=False)]))
    assert stored(store, 10).client_groups == (Ref(1, "g1"), Ref(2, "g2"))
    run(store.upsert_jobs([JobRecord(job(12, client_groups=(Ref(2, "g2"),)))]))
    assert stored(store, 10).client_groups == (Ref(2, "g2"),)


def test_a_failing_batch_writes_nothing(store: Store) -> None:
    def records() -> Iterator[JobRecord]:
        yield JobRecord(job(1))
        yield JobRecord(job(2))
        raise RuntimeError("the source broke halfway")

    with pytest.raises(RuntimeError):
        run(store.upsert_jobs(records()))
    assert run(store.count_jobs()) == 0


def test_storage_policies(store: Store) -> None:
    run(store.put_storage_policies(demo.POLICIES))
    run(store.put_storage_policies(demo.POLICIES))
    assert run(store.get_storage_policy(1)) == demo.POLICIES[0]
    assert run(store.get_storage_policy(99)) is None


def test_sessions(store: Store) -> None:
    account = run(store.create_account("Alice", "hash", role="viewer"))
    with pytest.raises(AccountExists, match="exists already"):
        run(store.create_account("alice", "hash", role="viewer"))
    found = run(store.get_account("ALICE"))
    assert found is not None and found.account == account
    run(store.create_session(b"k" * 32, account.account_id, 1000, 60))
    run(store.touch_session(b"k" * 32, 1030))
    session = run(store.get_session(b"k" * 32))
    assert session is not None and session.last_used == 1030 and session.account == account
    assert run(store.delete_sessions_idle_since(1089)) == 0
    assert run(store.delete_sessions_idle_since(1091)) == 1
    assert run(store.get_session(b"k" * 32)) is None


def test_replace_job_is_a_compare_and_set(store: Store, empty_catalogue: Catalogue) -> None:
    from cvjobs.model import Event

    run(store.upsert_jobs([JobRecord(job(status="Running", end_time=0))]))
    first = replace(job(status="Running", end_time=0), status="Kill Pending")
    second = replace(job(status="Running", end_time=0), status="Suspend Pending")
    event = Event(time=1, severity=0, code="19:100", description="x", job_id=10)
    won = JobChange(first, "Running", (event,))
    lost = JobChange(second, "Running", (event,))
    assert run(store.replace_jobs([won], all_or_nothing=True)) == 1
    assert run(store.replace_jobs([lost], all_or_nothing=True)) == 0
    assert stored(store, 10).status == "Kill Pending"
    assert empty_catalogue.scalar("SELECT count(*) FROM events") == 1


def test_replace_jobs_all_or_nothing(store: Store) -> None:
    run(
        store.upsert_jobs([JobRecord(job(1, status="Running")), JobRecord(job(2, status="Failed"))])
    )
    changes = [
        JobChange(job(1, status="Kill Pending"), "Running"),
        JobChange(job(2, status="Kill Pending"), "Running"),  # job 2 is not Running
    ]
    assert run(store.replace_jobs(changes, all_or_nothing=True)) == 0
    assert stored(store, 1).status == "Running"
    assert run(store.replace_jobs(changes, all_or_nothing=False)) == 1
    assert stored(store, 1).status == "Kill Pending"


BASE = 5_000  # the allocation range's base in these tests (--job-id-base)


def created_ids(store: Store, count: int, first_id: int = BASE) -> list[int]:
    from cvjobs.model import Event

    event = Event(time=1, severity=0, code="19:104", description="started")
    new = replace(job(0), status="Running")
    return [run(store.create_job(new, [event], first_id=first_id)).job_id for _ in range(count)]


def test_created_jobs_take_ids_from_the_base_up(store: Store, empty_catalogue: Catalogue) -> None:
    run(store.upsert_jobs([JobRecord(job(41)), JobRecord(job(BASE - 1))]))
    assert created_ids(store, 3) == [BASE, BASE + 1, BASE + 2]
    assert stored(store, BASE).status == "Running"
    events = empty_catalogue.sql("SELECT job_id FROM events ORDER BY id")
    assert events == [(BASE,), (BASE + 1,), (BASE + 2,)]
    # The reporter's next id is its own (max + 1 was: the demo engine took it, then the
    # reporter's ingest of it collided).
    run(store.upsert_jobs([JobRecord(job(42, status="Failed"))]))
    assert stored(store, 42).status == "Failed"
    assert run(store.count_jobs()) == 6


def test_ids_a_reporter_wrote_in_the_range_are_not_given_again(store: Store) -> None:
    run(store.upsert_jobs([JobRecord(job(BASE)), JobRecord(job(BASE + 10))]))
    assert created_ids(store, 2) == [BASE + 11, BASE + 12]  # above what is there
    run(store.upsert_jobs([JobRecord(job(BASE + 13))]))
    assert created_ids(store, 1) == [BASE + 14]
    assert created_ids(store, 1, first_id=BASE + 100) == [BASE + 100]  # a raised base
    assert created_ids(store, 1, first_id=BASE) == [BASE + 101]  # never back down


def test_with_the_top_id_taken_the_lowest_free_id_is_given(
    store: Store, empty_catalogue: Catalogue
) -> None:
    top = jobs.JOB_ID_MAX
    run(store.upsert_jobs([JobRecord(job(i)) for i in (BASE, BASE + 1, BASE + 3, top)]))
    # A catalogue from before the ranges may hold an id past the top: it is ignored.
    empty_catalogue.sql("UPDATE jobs SET id = ? WHERE id = ?", (2**63 - 1, BASE + 3))
    assert created_ids(store, 3) == [BASE + 2, BASE + 3, BASE + 4]


def test_a_full_range_is_a_store_error_and_writes_nothing(store: Store) -> None:
    top = jobs.JOB_ID_MAX
    run(store.upsert_jobs([JobRecord(job(top - 1)), JobRecord(job(top))]))
    with pytest.raises(StoreError, match="no job id is left"):
        created_ids(store, 1, first_id=top - 1)
    assert run(store.count_jobs()) == 2


def test_concurrent_creations_get_distinct_ids(store: Store) -> None:
    from cvjobs.model import Event

    event = Event(time=1, severity=0, code="19:104", description="started")
    new = replace(job(0), status="Running")

    async def together() -> list[Job]:
        return await asyncio.gather(
            *(store.create_job(new, [event], first_id=BASE) for _ in range(12))
        )

    ids = sorted(j.job_id for j in run(together()))
    assert ids == list(range(BASE, BASE + 12))
    assert run(store.count_jobs()) == 12


def test_a_catalogue_from_before_the_sequence_allocates_above_its_ids(
    empty_catalogue: Catalogue,
) -> None:
    store = run(open_store(empty_catalogue.url))
    run(store.upsert_jobs([JobRecord(job(BASE + 5))]))
    run(store.close())
    # Back to schema version 6, from before the sequence (7), then opened again: migrated.
    empty_catalogue.undo_counts()
    empty_catalogue.sql("DROP TABLE job_id_sequence")
    empty_catalogue.sql("ALTER TABLE jobs DROP COLUMN vsa_parent_job_id")
    empty_catalogue.sql("DROP TABLE engine_jobs")
    empty_catalogue.sql("DELETE FROM schema_migrations WHERE version >= 7")
    store = run(open_store(empty_catalogue.url))
    try:
        assert created_ids(store, 1) == [BASE + 6]
    finally:
        run(store.close())


def test_require_newer_refuses_stale_updates(store: Store) -> None:
    from cvjobs.errors import StaleUpdate

    run(store.upsert_jobs([JobRecord(job(last_update_time=500))]))
    with pytest.raises(StaleUpdate, match="nothing was changed"):
        run(
            store.upsert_jobs(
                [JobRecord(job(11, last_update_time=1)), JobRecord(job(last_update_time=499))],
                require_newer=True,
            )
        )
    assert run(store.count_jobs()) == 1
    run(
        store.upsert_jobs(
            [JobRecord(job(last_update_time=500, status="Failed"))], require_newer=True
        )
    )
    assert stored(store, 10).status == "Failed"


def test_an_entity_named_by_id_alone_keeps_its_name(store: Store) -> None:
    run(store.upsert_jobs([JobRecord(job())]))
    bare = job(11, client=Ref(2, ""), app=Ref(33, ""), backupset=Ref(3, ""), subclient=Ref(4, ""))
    run(store.upsert_jobs([JobRecord(bare)]))
    again = stored(store, 11)
    assert again.client.name == "c2" and again.app.name == "File System"
    assert again.backupset.name == "bs" and again.subclient.name == "sc"
    run(store.upsert_jobs([JobRecord(job(12, client=Ref(2, "renamed")))]))
    assert stored(store, 10).client.name == "renamed"


def test_one_store_leads_the_engine_and_another_takes_over(empty_catalogue: Catalogue) -> None:
    first = run(open_store(empty_catalogue.url))
    second = run(open_store(empty_catalogue.url))
    try:
        assert run(first.try_lead())
        assert run(first.try_lead())  # still
        assert not run(second.try_lead())
        run(first.close())  # the leader goes away
        assert run(second.try_lead())
    finally:
        run(second.close())


def test_a_bulk_upsert_inserts_then_updates(store: Store) -> None:
    # Enough rows for PostgreSQL's COPY path (500 and up), with sections.
    many = [JobRecord(job(i), sections={"jobDetail": {"n": i}}) for i in range(1, 1201)]
    assert run(store.upsert_jobs(many)) == 1200
    changed = [
        JobRecord(job(i, status="Failed"), sections={"jobDetail": {"n": -i}})
        for i in range(1, 1201)
    ]
    assert run(store.upsert_jobs(changed)) == 1200
    assert run(store.count_jobs()) == 1200
    assert run(store.get_job(600)) == job(600, status="Failed")
    assert run(store.get_sections(1200, ["jobDetail"])) == {"jobDetail": {"n": -1200}}


def _job_indexes(store: Store) -> list[str]:
    """The definitions of the jobs table's indexes (and, on PostgreSQL, foreign keys)."""

    assert isinstance(store, sql_store.SqlStore)  # both backends are

    async def read() -> list[str]:
        db = store._db
        async with db.reading() as conn:
            return sorted(row[1] for row in await conn.fetchall(db.dialect.job_structure))

    return run(read())


def test_a_big_load_into_an_empty_catalogue_rebuilds_the_indexes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "BATCH", 50)
    monkeypatch.setattr(batches, "DEFER_FROM", 50)
    indexes = _job_indexes(store)
    assert len(indexes) >= 10
    clients = [Ref(2, "c2"), Ref(5, "c5")]
    assert run(store.upsert_jobs(JobRecord(job(i, client=clients[i % 2])) for i in range(1, 201)))
    assert _job_indexes(store) == indexes
    total, page = run(store.list_jobs(JobQuery(now=1000, client_ids=(5,), limit=3)))
    assert total == 100 and [j.client.id for j in page] == [5, 5, 5]
    # Into a catalogue that has jobs, the indexes stay as they are.
    assert run(store.upsert_jobs(JobRecord(job(i)) for i in range(201, 400))) == 199
    assert _job_indexes(store) == indexes


def test_a_big_load_into_an_empty_catalogue_takes_over_what_the_engine_left(
    store: Store, empty_catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load into an empty catalogue takes no job over batch by batch: it clears what
    the engine owned once, ownership left by jobs since deleted included."""
    monkeypatch.setattr(jobs, "BATCH", 50)
    monkeypatch.setattr(batches, "DEFER_FROM", 50)
    running = [JobRecord(job(i, status="Running", end_time=0)) for i in range(1, 101)]
    run(store.upsert_jobs(running, for_engine=True))
    assert run(store.engine_jobs()) == set(range(1, 101))
    empty_catalogue.sql("DELETE FROM jobs")
    assert run(store.upsert_jobs(running)) == 100  # now reported, not the engine's
    assert run(store.engine_jobs()) == set()


def test_a_big_load_that_fails_keeps_the_indexes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "BATCH", 50)
    monkeypatch.setattr(batches, "DEFER_FROM", 50)
    indexes = _job_indexes(store)

    def records() -> Iterator[JobRecord]:
        yield from (JobRecord(job(i)) for i in range(1, 201))
        raise RuntimeError("the source broke after the indexes were dropped")

    with pytest.raises(RuntimeError):
        run(store.upsert_jobs(records()))
    assert run(store.count_jobs()) == 0
    assert _job_indexes(store) == indexes


def test_the_last_name_given_in_a_batch_wins(store: Store) -> None:
    names = ["first", "second", "", "first"]
    run(store.upsert_jobs(JobRecord(job(i + 1, client=Ref(2, n))) for i, n in enumerate(names)))
    assert stored(store, 1).client.name == "first"
    groups = [(Ref(1, "g1"),), (Ref(2, "g2"), Ref(3, "g3")), (Ref(3, "g3"),)]
    run(store.upsert_jobs(JobRecord(job(i + 1, client_groups=g)) for i, g in enumerate(groups)))
    assert stored(store, 1).client_groups == (Ref(3, "g3"),)


def test_the_catalogue_version_moves_with_every_commit_whoever_writes(
    store: Store, empty_catalogue: Catalogue
) -> None:
    first = run(store.catalogue_version())
    assert run(store.catalogue_version()) == first  # no write, no move
    run(store.upsert_jobs([JobRecord(job(1))]))
    second = run(store.catalogue_version())
    assert second != first
    empty_catalogue.sql("UPDATE jobs SET status = 'Failed' WHERE id = 1")  # another process
    assert run(store.catalogue_version()) != second


def test_postgresql_connections_compile_no_query(store: Store, empty_catalogue: Catalogue) -> None:
    """JIT compiled the /metrics read (a subquery per subclient, estimated dear) for
    115-245 ms before running it for 5: the catalogue's connections turn it off."""
    if empty_catalogue.backend != "postgres":
        pytest.skip("JIT is PostgreSQL's")

    async def setting() -> object:
        async with store._db.reading() as conn:  # type: ignore[attr-defined]
            row = await conn.fetchone("SHOW jit")
        return row[0] if row else None

    assert run(setting()) == "off"
