"""Shared fixtures: a demo catalogue built once per run and copied for each test, an
in-process app on that copy with a controllable clock, and login helpers."""

from __future__ import annotations

import asyncio
import base64
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cvjobs import demo
from cvjobs.app import create_app
from cvjobs.config import Settings
from cvjobs.service.auth import AuthService, token_hash
from cvjobs.store.sqlite import SqliteStore

FIXTURES = Path(__file__).parent / "fixtures"
NOW = 1764000000  # the demo catalogue's "now": 2025-11-24
CLOCK_START = NOW + 3600  # where each test's fake clock starts
DEMO_JOBS = 300
ADMIN_PASSWORD = "admin-pass-1"
VIEWER_PASSWORD = "viewer-pass-1"
ADMIN_TOKEN = "QSDK " + "5eed" * 16
API = "/commandcenter/api/"
JSON_HEADERS = {"Accept": "application/json"}
XML_HEADERS = {"Accept": "application/xml"}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def _build_template(path: Path) -> None:
    store = await SqliteStore.open(path)
    await store.put_storage_policies(demo.POLICIES)
    await store.upsert_jobs(demo.records(DEMO_JOBS, 42, NOW))
    auth = AuthService(store, clock=time.time, idle_seconds=1800)
    await auth.create_account("admin", ADMIN_PASSWORD, is_admin=True)
    await auth.create_account("viewer", VIEWER_PASSWORD, is_admin=False)
    # A live session made without Login, so tests that only need a token do not pay for
    # an argon2 verification each.
    await store.create_session(token_hash(ADMIN_TOKEN), 1, CLOCK_START, 1800)
    await store.close()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "cvjobs.db"
    asyncio.run(_build_template(path))
    return path


@pytest.fixture
def db_path(template_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "cvjobs.db"
    shutil.copy(template_db, path)
    return path


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(CLOCK_START)


@pytest.fixture
def client(db_path: Path, clock: FakeClock) -> Iterator[TestClient]:
    app = create_app(Settings(db=str(db_path)), clock=clock, run_engine=False)
    with TestClient(app) as test_client:
        yield test_client


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


def first_job_id(db_path: Path, where: str) -> int:
    """The lowest job id of the demo catalogue matching an SQL condition on `jobs`."""
    with sqlite3.connect(db_path) as db:
        row = db.execute(f"SELECT min(id) FROM jobs WHERE {where}").fetchone()
    assert row[0] is not None, f"the demo catalogue has no job where {where}"
    return int(row[0])


def open_session(db_path: Path) -> str:
    """A token for a catalogue made outside the template (an account with an unusable
    password hash and a live session), without paying for argon2."""

    async def make() -> str:
        store = await SqliteStore.open(db_path)
        try:
            if await store.get_session(token_hash(ADMIN_TOKEN)):
                return ADMIN_TOKEN
            stored = await store.get_account("tester")
            account = (
                stored.account
                if stored
                else await store.create_account("tester", "!unusable", is_admin=True)
            )
            await store.create_session(
                token_hash(ADMIN_TOKEN), account.account_id, CLOCK_START, 1800
            )
        finally:
            await store.close()
        return ADMIN_TOKEN

    return asyncio.run(make())
