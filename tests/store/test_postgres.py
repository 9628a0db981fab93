"""What only the PostgreSQL backend does: pool connections that go back without asyncpg's
reset query, and the catalogue version that requests asking together share."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from cvjobs.errors import StoreError
from cvjobs.model import JobRecord
from cvjobs.store import open_store
from cvjobs.store.postgres import PostgresDatabase, PostgresStore
from tests.catalogues import Catalogue, Templates
from tests.conftest import PG_PROBLEM
from tests.store.loop import run
from tests.store.test_store import job


@pytest.fixture
def pg(templates: Templates, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Catalogue]:
    if problem := request.config.stash.get(PG_PROBLEM, None):
        pytest.skip(problem)
    made = templates.empty("postgres", tmp_path)
    yield made
    made.drop()


def database(store: object) -> PostgresDatabase:
    assert isinstance(store, PostgresStore)
    db = store._db
    assert isinstance(db, PostgresDatabase)
    return db


def test_a_connection_given_back_inside_a_transaction_comes_back_out_of_it(
    pg: Catalogue,
) -> None:
    async def scenario() -> str:
        store = await PostgresStore.open(pg.url, max_connections=1)  # always the same one
        db = database(store)
        try:
            async with db.reading() as conn:
                await conn.execute("BEGIN")  # as a request cancelled halfway would leave it
                await conn.execute("SET LOCAL application_name = 'halfway'")
            async with db.reading() as conn:
                # Still inside that transaction, the setting would still be there.
                row = await conn.fetchone("SELECT current_setting('application_name')")
                assert row is not None
                return str(row[0])
        finally:
            await store.close()

    assert run(scenario()) == ""


def test_requests_that_ask_together_share_a_version_and_a_commit_moves_it(
    pg: Catalogue,
) -> None:
    async def scenario() -> None:
        store = await open_store(pg.url)
        other = await open_store(pg.url)  # another process's writes
        try:
            db = database(store)
            together = set(await asyncio.gather(*(db.version() for _ in range(20))))
            assert len(together) == 1
            (before,) = together
            await other.upsert_jobs([JobRecord(job(1))])
            assert await db.version() != before
        finally:
            await other.close()
            await store.close()

    run(scenario())


def test_a_version_read_whose_connection_dies_fails_once_and_the_next_one_reads(
    pg: Catalogue,
) -> None:
    async def scenario() -> None:
        store = await open_store(pg.url)
        try:
            db = database(store)
            await db.version()
            assert db._versions is not None
            pid = db._versions.get_server_pid()
            async with db.reading() as conn:  # an administrator ends that session
                await conn.execute("SELECT pg_terminate_backend(?)", [pid])
            with pytest.raises(StoreError):
                await db.version()
            assert await db.version()  # on a connection of its own again
            assert db._versions is not None and db._versions.get_server_pid() != pid
        finally:
            await store.close()

    run(scenario())
