"""The job catalogue in SQL, the same on every backend: `SqlStore` implements the `Store`
protocol over a `Database` (sqlite.py, postgres.py), whose connections take the shared SQL
and differ only where the dialect says so. Each concept has its room, a mixin needing only
the database: jobs.py, events.py, entities.py, accounts.py, logins.py, audit.py,
changes.py, metrics.py, webhooks.py."""

from __future__ import annotations

from cvjobs.store.accounts import AccountTables
from cvjobs.store.audit import AuditTables
from cvjobs.store.changes import ChangeTables
from cvjobs.store.driver import Database
from cvjobs.store.entities import EntityTables
from cvjobs.store.events import EventTables
from cvjobs.store.jobs import JobTables
from cvjobs.store.logins import LoginTables
from cvjobs.store.metrics import MetricTables
from cvjobs.store.rows import select_job
from cvjobs.store.rpo import RpoTables
from cvjobs.store.webhooks import WebhookTables


class SqlStore(
    JobTables,
    EventTables,
    EntityTables,
    AccountTables,
    LoginTables,
    AuditTables,
    ChangeTables,
    MetricTables,
    WebhookTables,
    RpoTables,
):
    """A job catalogue in a SQL database."""

    def __init__(self, db: Database, *, created: bool = False) -> None:
        self._db = db
        self._select_job = select_job(db.dialect)
        self.created = created

    async def close(self) -> None:
        await self._db.close()

    async def try_lead(self) -> bool:
        return await self._db.try_lead()

    async def maintain(self) -> None:
        await self._db.maintain()
