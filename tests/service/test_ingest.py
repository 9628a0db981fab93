"""Ingest against a store double of exactly what it asks (IngestCatalogue): which records
it writes with which events, all or nothing, the stale check asked of the store, role and
scope refusals audited, and the kept answers of the jobs it wrote forgotten. The HTTP
shapes are tests/http/test_ingest.py's; the store's own checks are tests/store's."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from cvjobs.errors import BadRequest, Forbidden
from cvjobs.model import (
    ADMIN,
    OPERATOR,
    VIEWER,
    Account,
    AuditEntry,
    Event,
    EventQuery,
    Job,
    JobRecord,
    JsonObject,
    Ref,
    Scope,
    StoragePolicy,
)
from cvjobs.service.ingest import IngestService
from cvjobs.service.rendered import RenderCache
from cvjobs.store.batches import Batch
from cvjobs.store.values import ENTITY_KINDS, JobState, StoredEntity
from tests.service.doubles import AuditLog, JobsById

NOW = 1_000_000
STORED = Job(7, "Running", "Backup", client=Ref(3, "WINTER"), last_update_time=NOW - 100)


@dataclass
class Catalogue(JobsById, AuditLog):
    """Jobs by id and what was written, in memory."""

    jobs: dict[int, Job]
    written: list[tuple[list[JobRecord], bool]] = field(default_factory=list)
    audits: list[AuditEntry] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    groups: dict[int, frozenset[int]] = field(default_factory=dict)

    async def upsert_jobs(
        self,
        records: Iterable[JobRecord],
        *,
        require_newer: bool = False,
        audit: Sequence[AuditEntry] = (),
        for_engine: bool = False,
    ) -> int:
        batch = list(records)
        self.written.append((batch, require_newer))
        self.jobs.update((r.job.job_id, r.job) for r in batch)
        self.events.extend(e for r in batch for e in r.events)
        self.audits.extend(audit)
        return len(batch)

    async def load(self, batches: Iterable[Batch]) -> int:
        raise NotImplementedError  # not ingest's

    async def job_states(self, job_ids: Sequence[int]) -> dict[int, JobState]:
        return {
            i: JobState(self.jobs[i].status, self.jobs[i].last_update_time, self.jobs[i].client.id)
            for i in job_ids
            if i in self.jobs
        }

    async def put_sections(self, job_id: int, sections: dict[str, JsonObject]) -> bool:
        return job_id in self.jobs

    async def put_storage_policies(self, policies: Iterable[StoragePolicy]) -> None: ...

    async def give_to_engine(self, job_ids: Collection[int]) -> None: ...

    async def add_events(self, events: Iterable[Event], audit: Sequence[AuditEntry] = ()) -> None:
        self.events.extend(events)
        self.audits.extend(audit)

    async def list_events(self, query: EventQuery) -> list[Event]:
        return self.events

    async def export_events(self, after_id: int, limit: int) -> list[Event]:
        return self.events

    async def client_groups_of(self, client_ids: Collection[int]) -> dict[int, frozenset[int]]:
        return {i: self.groups.get(i, frozenset()) for i in client_ids}

    async def stored_entities(
        self, wanted: Mapping[str, Collection[int]]
    ) -> dict[str, dict[int, StoredEntity]]:
        found: dict[str, dict[int, StoredEntity]] = {kind: {} for kind in ENTITY_KINDS}
        for job in self.jobs.values():
            if job.client.id in wanted.get("clients", ()):
                found["clients"][job.client.id] = StoredEntity(job.client.name, frozenset())
        return found

    async def entity_ids(self, table: str, names: Collection[str]) -> dict[str, int]:
        return {}

    async def entity_names(self, table: str, ids: Collection[int]) -> dict[int, str]:
        return {}


ADMIN_1 = Account(1, "admin", ADMIN)
OPERATOR_3 = Account(5, "op", OPERATOR, scope=Scope(everything=False, clients=frozenset({3})))


def summary(job_id: int, status: str, client_id: int = 3) -> dict[str, Any]:
    return {
        "jobId": job_id,
        "status": status,
        "jobType": "Backup",
        "lastUpdateTime": NOW,
        "subclient": {"clientId": client_id, "clientName": "WINTER" if client_id == 3 else "X"},
    }


def ingest(store: Catalogue, rendered: RenderCache | None = None) -> IngestService:
    return IngestService(store, clock=lambda: float(NOW), rendered=rendered or RenderCache())


def test_a_batch_is_written_at_once_with_an_event_per_new_job_or_status_change() -> None:
    store = Catalogue({7: STORED})
    body = {"jobs": [summary(7, "Completed"), summary(8, "Running")]}
    assert asyncio.run(ingest(store).put_jobs(body, ADMIN_1, "10.0.0.9")) == [7, 8]
    [(records, require_newer)] = store.written  # one write: all or nothing
    assert [r.job.status for r in records] == ["Completed", "Running"]
    assert require_newer  # an older report than the stored job is refused by the store
    assert [(e.job_id, e.from_status, e.to_status) for e in store.events] == [
        (7, "Running", "Completed"),
        (8, "", "Running"),
    ]
    assert [(a.action, a.address, a.outcome) for a in store.audits] == [
        ("ingest.jobs", "10.0.0.9", "ok")
    ]


def test_a_report_of_the_same_status_makes_no_event() -> None:
    store = Catalogue({7: STORED})
    asyncio.run(ingest(store).put_jobs(summary(7, "Running"), ADMIN_1))
    assert store.events == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"jobs": [summary(7, "Running"), summary(7, "Completed")]}, "more than once"),
        ({"jobs": [summary(9, "Running"), {"jobId": 10}]}, "jobs[1]"),
    ],
)
def test_a_bad_batch_writes_nothing(body: dict[str, Any], says: str) -> None:
    store = Catalogue({7: STORED})
    with pytest.raises(BadRequest, match=says.replace("[", r"\[")):
        asyncio.run(ingest(store).put_jobs(body, ADMIN_1))
    assert store.written == [] and store.events == []


def test_viewers_and_out_of_scope_writes_are_refused_audited_and_write_nothing() -> None:
    store = Catalogue({7: STORED})
    with pytest.raises(Forbidden):
        asyncio.run(ingest(store).put_jobs(summary(8, "Running"), Account(6, "v", VIEWER)))
    with pytest.raises(Forbidden, match="not of a client you may write"):
        asyncio.run(ingest(store).put_jobs(summary(9, "Running", client_id=4), OPERATOR_3))
    assert store.written == []
    assert [(a.user, a.outcome) for a in store.audits] == [("v", "forbidden"), ("op", "forbidden")]
    asyncio.run(ingest(store).put_jobs(summary(9, "Running"), OPERATOR_3))  # its own client
    assert 9 in store.jobs


def test_the_kept_answers_of_the_written_jobs_are_forgotten() -> None:
    store = Catalogue({7: STORED})
    rendered = RenderCache()
    kept = Job(7, "Completed", "Backup")
    rendered.put(kept, "json", NOW, b"old")
    rendered.put(Job(99, "Completed", "Backup"), "json", NOW, b"other")
    asyncio.run(ingest(store, rendered).put_jobs(summary(7, "Failed"), ADMIN_1))
    assert rendered.get(7, "json", NOW) is None
    assert rendered.get(99, "json", NOW) is not None
