"""Shared fixtures: a demo catalogue built once per run and copied for each test, an
in-process app on that copy with a controllable clock, and login helpers."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from cvjobs import demo
from cvjobs.app import create_app
from cvjobs.config import Settings
from cvjobs.service.auth import AuthService, token_hash
from cvjobs.store import open_store
from cvjobs.store.protocols import Store
from tests.catalogues import Catalogue, Templates, postgres_problem

BACKENDS = ("sqlite", "postgres")
# scripts/test fast: SQLite only, and no test that starts server processes.
FAST = os.environ.get("CVJOBS_TEST_FAST") == "1"
# What only PostgreSQL does, not even collected by the SQLite-only fast loop.
collect_ignore = ["store/test_postgres.py"] if FAST else []
# Tests that start real processes (servers, the cvjobs command, the bench scripts), or
# spend seconds on purpose (password hashing, whole-catalogue copies, property runs over
# HTTP): the fast loop leaves them out. More are marked `slow` where they are.
SLOW = (
    "e2e",
    "compat",
    "test_cli.py",
    "test_bench.py",
    "test_copy.py",
    "test_accounts.py",
    "test_lockout.py",
    "test_roundtrip.py",
)
PG_PROBLEM = pytest.StashKey[str | None]()

FIXTURES = Path(__file__).parent / "fixtures"
# The `cvjobs` command itself, as pip installed it beside this Python.
CVJOBS = Path(sys.executable).parent / "cvjobs"
NOW = 1764000000  # the demo catalogue's "now": 2025-11-24
CLOCK_START = NOW + 3600  # where each test's fake clock starts
DEMO_JOBS = 300
ADMIN_PASSWORD = "admin-pass-1"
VIEWER_PASSWORD = "viewer-pass-1"
ADMIN_TOKEN = "QSDK " + "5eed" * 16
API = "/commandcenter/api/"
JSON_HEADERS = {"Accept": "application/json"}
XML_HEADERS = {"Accept": "application/xml"}


CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def _fill(store: Store) -> None:
    await store.put_storage_policies(demo.POLICIES)
    await store.upsert_jobs(demo.records(DEMO_JOBS, 42, NOW), for_engine=True)
    # Real argon2id hashes, at the lowest cost it allows: a login verifies with the cost
    # written in the hash, so the tests' logins take a millisecond instead of 60 (the
    # server's own hashes, and its dummy hash for unknown names, keep their cost).
    auth = AuthService(store, clock=time.time, idle_seconds=1800, hasher=CHEAP_HASHER)
    await auth.create_account("admin", ADMIN_PASSWORD, role="admin")
    await auth.create_account("viewer", VIEWER_PASSWORD, role="viewer")
    # A live session made without Login, so tests that only need a token do not pay for
    # an argon2 verification each.
    await store.create_session(token_hash(ADMIN_TOKEN), 1, CLOCK_START, 1800)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests of SLOW's directories and files `slow`."""
    slow = pytest.mark.slow
    for item in items:
        if any(part in SLOW for part in item.path.relative_to(config.rootpath).parts):
            item.add_marker(slow)


def pytest_sessionstart(session: pytest.Session) -> None:
    problem = postgres_problem()
    session.config.stash[PG_PROBLEM] = problem
    if problem and os.environ.get("CI"):
        raise pytest.UsageError(f"{problem}; CI runs every test on PostgreSQL too")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    problem = terminalreporter.config.stash.get(PG_PROBLEM, None)
    if problem:
        terminalreporter.write_sep("!", f"{problem}: the PostgreSQL tests were SKIPPED", red=True)


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    made = Templates(tmp_path_factory.mktemp("templates"), _fill)
    yield made
    made.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that needs a catalogue runs on SQLite, and on each backend where the backend
    matters: where it (or its module) is marked `postgres_too` (the store suite, the SQL
    of lists, filters, scopes and writes, bulk loads, crashes). The HTTP layer's parsing,
    negotiation, routing and escaping come before the store and are the same on both;
    there the PostgreSQL half would only cost time."""
    if "backend" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("postgres_too") is not None and not FAST
        metafunc.parametrize("backend", BACKENDS if both else BACKENDS[:1], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    problem = request.config.stash.get(PG_PROBLEM, None)
    if name == "postgres" and problem:
        pytest.skip(problem)
    return name


@pytest.fixture
def catalogue(templates: Templates, backend: str, tmp_path: Path) -> Iterator[Catalogue]:
    """A fresh demo catalogue, on each backend in turn."""
    made = templates.fresh(backend, tmp_path)
    yield made
    made.drop()


@pytest.fixture
def empty_catalogue(templates: Templates, backend: str, tmp_path: Path) -> Iterator[Catalogue]:
    made = templates.empty(backend, tmp_path)
    yield made
    made.drop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(CLOCK_START)


@pytest.fixture
def client(catalogue: Catalogue, clock: FakeClock) -> Iterator[TestClient]:
    app = create_app(Settings(db=catalogue.url), clock=clock, run_engine=False)
    with TestClient(app) as test_client:
        yield test_client


def done(body: Any) -> bool:
    """A job action's JSON answer says it was done (errorCode 0, and the `errors` list the
    PowerShell SDK needs, with one errorCode-0 entry, as cvpysdk reads it)."""
    return (
        isinstance(body, dict)
        and body.get("errorCode") == 0
        and body["errors"][0]["errList"][0]["errorCode"] == 0
    )


def login(client: TestClient, user: str = "admin", password: str = ADMIN_PASSWORD) -> str:
    response = client.post(
        API + "Login", json={"username": user, "password": b64(password)}, headers=JSON_HEADERS
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


@pytest.fixture
def token(client: TestClient) -> str:
    """The admin's session token stored in the template catalogue."""
    return ADMIN_TOKEN


@pytest.fixture
def auth_json(token: str) -> dict[str, str]:
    return {"Authtoken": token, "Accept": "application/json"}


@pytest.fixture
def auth_xml(token: str) -> dict[str, str]:
    return {"Authtoken": token, "Accept": "application/xml"}


def first_job_id(catalogue: Catalogue, where: str) -> int:
    """The lowest job id of the demo catalogue matching an SQL condition on `jobs`."""
    found = catalogue.scalar(f"SELECT min(id) FROM jobs WHERE {where}")
    assert found is not None, f"the demo catalogue has no job where {where}"
    return int(found)


def open_session(db: Catalogue | str) -> str:
    """A token for a catalogue made outside the template (an account with an unusable
    password hash and a live session), without paying for argon2."""

    async def make() -> str:
        store = await open_store(str(db))
        try:
            if await store.get_session(token_hash(ADMIN_TOKEN)):
                return ADMIN_TOKEN
            stored = await store.get_account("tester")
            account = (
                stored.account
                if stored
                else await store.create_account("tester", "!unusable", role="admin")
            )
            await store.create_session(
                token_hash(ADMIN_TOKEN), account.account_id, CLOCK_START, 1800
            )
        finally:
            await store.close()
        return ADMIN_TOKEN

    return asyncio.run(make())
