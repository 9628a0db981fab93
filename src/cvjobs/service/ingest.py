"""The ingest API's rules: backup tooling writes jobs, progress and events (JSON under
/cvjobs/v1/). Records are checked like `cvjobs import` checks them; a batch is all or
nothing; an update older than what is stored (by lastUpdateTime) is refused with 409 and
changes nothing. Operators and administrators may ingest. An operator limited to some
clients writes only jobs of those clients (judged by the stored client groups, which only
an administrator's records change); a job outside its scope refuses the whole batch.

Ingest reports what happened, so it may set any status: the job-control state machine
governs actions, not reports. Status changes are written as events all the same.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any, Protocol

from cvjobs import parse, vocab
from cvjobs.errors import BadRequest, Forbidden, InvalidRecord, NoSuchJob
from cvjobs.model import Account, AuditEntry, Event, Job, JobRecord, JsonObject, Ref, Scope
from cvjobs.service.accounts import require_operator
from cvjobs.service.audit import job_entry, refusals_audited
from cvjobs.service.entities import check_entities
from cvjobs.service.events import CODE_INGESTED, started_event, status_event
from cvjobs.service.jobs import JOB_DETAIL_SECTION
from cvjobs.service.rendered import RenderCache
from cvjobs.store.protocols import AuditStore, EntityLookups, EventStore, JobReads, JobWrites
from cvjobs.store.values import JobState
from cvjobs.summaries import check_section, job_from_summary, summary_of

MAX_BATCH = 10_000
# What an ingest item may carry beside the jobSummary fields.
_ITEM_KEYS = frozenset({"jobSummary", "jobDetail", "advancedDetails"})
_SEVERITIES = frozenset({0, 3, 6, 9})


class IngestCatalogue(JobReads, JobWrites, EventStore, EntityLookups, AuditStore, Protocol):
    """What ingest reads and writes: jobs, their events, the entities they name, and the
    audit log."""


def _items(body: dict[str, Any], key: str) -> list[Any]:
    """A batch under `key`, or the body itself as a batch of one."""
    if key in body:
        items = body[key]
        if not isinstance(items, list) or not items:
            raise BadRequest(f"{key} must be a non-empty list")
        if len(items) > MAX_BATCH:
            raise BadRequest(f"at most {MAX_BATCH} {key} in one request, not {len(items)}")
        return items
    return [body]


def _record(item: Any, where: str, now: int) -> JobRecord:
    if not isinstance(item, dict):
        raise InvalidRecord(where, "expected an object")
    summary = item.get("jobSummary", item)
    if isinstance(summary, dict) and "lastUpdateTime" not in summary:
        summary = {**summary, "lastUpdateTime": now}
    record = job_from_summary(summary, where)
    sections: dict[str, JsonObject] = {}
    detail = item.get("jobDetail")
    if detail is not None:
        check_section(JOB_DETAIL_SECTION, detail, where)
        sections[JOB_DETAIL_SECTION] = detail
    advanced = item.get("advancedDetails", {})
    if not isinstance(advanced, dict):
        raise InvalidRecord(where, "advancedDetails must be an object")
    for name, body in advanced.items():
        if name not in vocab.INFO_BIT_BY_SECTION:
            known = ", ".join(vocab.INFO_SECTIONS.values())
            raise InvalidRecord(where, f"unknown advancedDetails section {name!r} (known: {known})")
        check_section(name, body, where)
        sections[name] = body
    return JobRecord(record.job, sections, record.set_client_groups)


class IngestService:
    def __init__(
        self,
        store: IngestCatalogue,
        *,
        clock: Callable[[], float],
        rendered: RenderCache,
    ) -> None:
        self._store = store
        self._clock = clock
        # Answers of finished jobs kept by JobService (the same cache): a report may
        # change one.
        self._rendered = rendered

    def _now(self) -> int:
        return int(self._clock())

    @staticmethod
    def _with_event(record: JobRecord, stored: JobState | None, user: str, now: int) -> JobRecord:
        """The record with the event its arrival makes: a new job, or a status change."""
        new = record.job
        if stored is None:
            event = started_event(new, now, user, "ingested")
        elif stored[0] != new.status:
            event = status_event(replace(new, status=stored[0]), new.status, now, user, "ingested")
        else:
            return record
        return replace(record, events=(*record.events, event))

    async def put_jobs(
        self, body: dict[str, Any], account: Account, address: str = "", action: str = "jobs"
    ) -> list[int]:
        """Create or replace jobs, one or a batch, all or nothing. Returns their ids.
        A PATCH arrives here too, as the stored summary with the patch laid over it."""
        async with self._audited(account, address, f"ingest.{action}"):
            return await self._put_jobs(body, account, address, action)

    def _audited(
        self, account: Account, address: str, action: str, job_ids: tuple[int, ...] = ()
    ) -> AbstractAsyncContextManager[None]:
        """Refusals for a role or a scope go to the audit log."""
        return refusals_audited(
            self._store, self._clock, account, address, action, job_ids, (Forbidden,)
        )

    async def _put_jobs(
        self, body: dict[str, Any], account: Account, address: str, action: str
    ) -> list[int]:
        require_operator(account)
        now = self._now()
        try:
            records = [
                _record(item, f"jobs[{n}]", now) for n, item in enumerate(_items(body, "jobs"))
            ]
        except InvalidRecord as exc:
            raise BadRequest(str(exc)) from None
        ids = [r.job.job_id for r in records]
        if len(set(ids)) != len(ids):
            raise BadRequest("a job appears more than once in the batch")
        stored = await self._store.job_states(ids)
        if not account.is_admin:
            # Only an administrator's records say which groups a client is in, and name
            # entities that no client owns; an operator's name only its clients' entities.
            records = [replace(r, set_client_groups=False) for r in records]
            if not account.sees.everything:
                await self._check_scope(records, stored, account.sees)
            await check_entities(self._store, records, account.sees)
        records = [
            self._with_event(r, stored.get(r.job.job_id), account.name, now) for r in records
        ]
        audit = job_entry(now, account, address, f"ingest.{action}", ids)
        await self._store.upsert_jobs(records, require_newer=True, audit=[audit])
        self._rendered.forget(ids)
        return ids

    async def _check_scope(
        self, records: list[JobRecord], stored: dict[int, JobState], scope: Scope
    ) -> None:
        """Forbidden unless every job, as stored and as sent, is of a client in `scope`."""
        clients = {r.job.client.id for r in records} | {s.client_id for s in stored.values()}
        groups = await self._store.client_groups_of(clients)
        for record in records:
            job_id = record.job.job_id
            owners = [record.job.client.id]  # as sent, and as stored if it exists
            if job_id in stored:
                owners.append(stored[job_id].client_id)
            for client_id in owners:
                if not scope.allows_client(client_id, groups.get(client_id, ())):
                    raise Forbidden(
                        f"job {job_id} is not of a client you may write; nothing was written"
                    )

    async def patch_job(
        self, job_id: int, body: dict[str, Any], account: Account, address: str = ""
    ) -> Job:
        """Change some fields of a job (progress, a new status, ...) and keep the rest: the
        stored record with the patch laid over it, written like any ingested job. The body
        is jobSummary fields, or {"jobSummary": {...}, "jobDetail": ..., "advancedDetails":
        ...}. Without lastUpdateTime the update counts as made now."""
        async with self._audited(account, address, "ingest.update", (job_id,)):
            require_operator(account)
        old = await self._store.get_job(job_id)
        if old is None or not account.sees.allows(old):
            raise NoSuchJob(f"No job exists with the job ID {job_id}")
        patch = body.get("jobSummary", body)
        if not isinstance(patch, dict):
            raise BadRequest("jobSummary must be an object")
        if patch.get("jobId", job_id) != job_id:
            raise BadRequest(f"jobId {patch['jobId']!r} in the body is not the job {job_id}")
        unknown = set(patch) - set(summary_of(old)) - _ITEM_KEYS
        if unknown:
            raise BadRequest(f"unknown jobSummary fields: {', '.join(sorted(unknown))}")
        merged = {**summary_of(old), **{k: v for k, v in patch.items() if k not in _ITEM_KEYS}}
        if "lastUpdateTime" not in patch:
            merged["lastUpdateTime"] = max(self._now(), old.last_update_time)
        item = {k: v for k, v in {**patch, **body}.items() if k in _ITEM_KEYS}
        await self.put_jobs({**item, "jobSummary": merged}, account, address, "update")
        new = await self._store.get_job(job_id)
        assert new is not None
        return new

    async def add_events(self, body: dict[str, Any], account: Account, address: str = "") -> int:
        now = self._now()
        events = []
        async with self._audited(account, address, "ingest.events"):
            require_operator(account)
            for n, item in enumerate(_items(body, "events")):
                events.append(await self._event(item, f"events[{n}]", now, account))
        audit = AuditEntry(
            now, account.name, address, "ingest.events", detail=f"{len(events)} event(s)"
        )
        await self._store.add_events(events, [audit])
        return len(events)

    async def _event(self, item: Any, where: str, now: int, account: Account) -> Event:
        if not isinstance(item, dict):
            raise BadRequest(f"{where}: expected an object")

        def whole(name: str, default: int) -> int:
            try:
                return parse.integer(item.get(name, default), low=0)
            except ValueError as exc:
                raise BadRequest(f"{where}: {name}: {exc}") from None

        description = item.get("description")
        if not isinstance(description, str) or not description.strip():
            raise BadRequest(f"{where}: description is required")
        severity = whole("severity", 0)
        if severity not in _SEVERITIES:
            raise BadRequest(f"{where}: severity must be 0, 3, 6 or 9, not {severity}")
        code = item.get("eventCodeString", item.get("eventCode", CODE_INGESTED))
        subsystem = item.get("subsystem", "JobManager")
        if not isinstance(code, str) or not isinstance(subsystem, str):
            raise BadRequest(f"{where}: eventCode and subsystem must be strings")
        for field, text in (
            ("description", description),
            ("eventCode", code),
            ("subsystem", subsystem),
        ):
            problem = parse.xml_problem(text)
            if problem:
                raise BadRequest(f"{where}: {field} {problem}")
        job_id = whole("jobId", 0)
        client = Ref(whole("clientId", 0), "")
        scope = account.sees
        if job_id:
            job = await self._store.get_job(job_id)
            if job is None or not scope.allows(job):
                raise BadRequest(f"{where}: there is no job {job_id}")
            client = job.client
        elif not scope.everything:
            groups = await self._store.client_groups_of([client.id])
            if not scope.allows_client(client.id, groups.get(client.id, ())):
                raise Forbidden(f"{where}: client {client.id} is not one you may write")
        return Event(
            time=whole("timeSource", whole("time", now)),
            severity=severity,
            code=code,
            description=description,
            job_id=job_id,
            client=client,
            subsystem=subsystem,
            user=account.name,
        )
