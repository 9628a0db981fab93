"""Reading jobs: one job, its JobDetails and its AdvancedDetails sections, applying the
rules of `vocab.INFO_TYPES` for which info types apply to which jobs (wire contract §4,
§6, §7)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable

from cvjobs import vocab
from cvjobs.errors import BadRequest, JobDetailsFailed, OperationFailed
from cvjobs.model import AdvancedDetails, Job, JobQuery, JsonObject, Scope
from cvjobs.service.rendered import KeptAnswers, RenderCache
from cvjobs.store.protocols import JobReads

JOB_DETAIL_SECTION = "jobDetail"


def validate_info_type(info_type: int) -> None:
    problem = vocab.info_type_problem(info_type)
    if problem:
        raise BadRequest(problem)


def why_not_applicable(job: Job, bit: int) -> str | None:
    """None if the info type applies to the job, else the reason it does not."""
    info = vocab.INFO_TYPE_BY_BIT[bit]
    if info.applies_to(job.job_type, job.app.id):
        return None
    kind = f"{job.app.name} {job.job_type}" if job.app.name else job.job_type
    return f"{info.name} exists only for {info.jobs}; job {job.job_id} is a {kind} job"


class JobService:
    def __init__(
        self,
        store: JobReads,
        *,
        clock: Callable[[], float] = time.time,
        rendered: RenderCache | None = None,
        kept: KeptAnswers | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._rendered = RenderCache() if rendered is None else rendered
        self._kept = KeptAnswers() if kept is None else kept
        self._making: dict[tuple[Hashable, Hashable], asyncio.Future[bytes]] = {}

    async def rendered_job(
        self, job_id: int, scope: Scope, fmt: str, render: Callable[[list[Job]], bytes]
    ) -> bytes:
        """GET Job/{id}'s answer in `fmt`: `render` of the job, or of no job when there is
        none or it is outside `scope`. A finished job's answer is kept a while (see
        service.rendered) and serves everyone who may see it: the read is the same whoever
        asks, and a job out of scope takes the path of an absent one (a read, then the
        empty answer), so that the time taken does not tell them apart either."""
        now = int(self._clock())
        hit = self._rendered.get(job_id, fmt, now)
        if hit is not None and scope.allows(hit[0]):
            return hit[1]
        job = await self._store.get_job(job_id)
        if job is None or not scope.allows(job):
            return render([])
        body = render([job])
        if not job.is_active:
            self._rendered.put(job, fmt, now, body)
        return body

    async def get(self, job_id: int, scope: Scope) -> Job | None:
        """The job, or None when there is none or it is outside `scope` (the two answer
        alike everywhere)."""
        job = await self._store.get_job(job_id)
        return job if job is not None and scope.allows(job) else None

    async def find(self, query: JobQuery) -> tuple[int, list[Job]]:
        """(how many jobs match in all, the page asked for)."""
        return await self._store.list_jobs(query)

    async def kept_page(self, query: JobQuery, fmt: str) -> bytes | None:
        """The answer `rendered_page` keeps for this query and format, if the catalogue
        has not changed since."""
        return self._kept.get((query, fmt), await self._store.catalogue_version())

    async def rendered_page(
        self, query: JobQuery, fmt: str, render: Callable[[int, list[Job]], bytes]
    ) -> bytes:
        """A job list's answer in `fmt`: `render` of (the total, the page). The same
        query (its scope and second included) of an unchanged catalogue answers the
        bytes it answered before."""

        async def page() -> bytes:
            return render(*await self._store.list_jobs(query))

        return await self._kept_or_made((query, fmt), page)

    async def rendered_advanced(
        self,
        job_id: int,
        info_type: int | None,
        scope: Scope,
        fmt: str,
        render: Callable[[AdvancedDetails], bytes],
    ) -> bytes:
        """AdvancedDetails' answer in `fmt`: `render` of `advanced_details`. A finished
        job's is kept a while like its GET Job (service.rendered: no query at all, for
        everyone who may see the job); an active job's like a list page, while the
        catalogue is unchanged. Refusals are not kept."""
        now = int(self._clock())
        variant = f"advanced {info_type} {fmt}"
        hit = self._rendered.get(job_id, variant, now)
        if hit is not None and scope.allows(hit[0]):
            return hit[1]

        async def answer() -> bytes:
            details = await self.advanced_details(job_id, info_type, scope)
            body = render(details)
            if not details.job.is_active:
                self._rendered.put(details.job, variant, now, body)
            return body

        return await self._kept_or_made(("advanced", job_id, info_type, scope, fmt), answer)

    async def _kept_or_made(self, key: Hashable, make: Callable[[], Awaitable[bytes]]) -> bytes:
        """The answer kept under `key` for the catalogue as it is, or `make()`'s. Requests
        that miss together (every poll of a page, when a second turns) share one making
        of it, which runs to its end even if the request that started it goes."""
        version = await self._store.catalogue_version()
        body = self._kept.get(key, version)
        if body is not None:
            return body
        making = self._making.get((key, version))
        if making is None:
            making = asyncio.ensure_future(self._make(key, version, make))
            self._making[(key, version)] = making
            making.add_done_callback(lambda done: self._made(key, version, done))
        return await asyncio.shield(making)

    async def _make(
        self, key: Hashable, version: Hashable, make: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        """`make()`, kept only if the catalogue did not change while it was made."""
        body = await make()
        if await self._store.catalogue_version() == version:
            self._kept.put(key, version, body)
        return body

    def _made(self, key: Hashable, version: Hashable, done: asyncio.Future[bytes]) -> None:
        self._making.pop((key, version), None)
        if not done.cancelled():
            done.exception()  # retrieved here too: those who waited for it may all have gone

    async def job_detail(self, job_id: int, scope: Scope) -> tuple[Job, JsonObject]:
        """The job and the JobDetails extras recorded with it (empty if none)."""
        job = await self.get(job_id, scope)
        if job is None:
            raise JobDetailsFailed(f"No job exists with the job ID {job_id}")
        sections = await self._store.get_sections(job_id, (JOB_DETAIL_SECTION,))
        return job, sections.get(JOB_DETAIL_SECTION, {})

    async def advanced_details(
        self, job_id: int, info_type: int | None, scope: Scope
    ) -> AdvancedDetails:
        """The requested sections, to render in one object. `info_type` None asks for
        every section that applies to the job and has been recorded."""
        if info_type is not None:
            validate_info_type(info_type)
        job = await self.get(job_id, scope)
        if job is None:
            raise OperationFailed(f"No job exists with the job ID {job_id}")
        if info_type is None:
            bits = [b for b in vocab.INFO_SECTIONS if why_not_applicable(job, b) is None]
        else:
            bits = vocab.info_bits(info_type)
            for bit in bits:
                reason = why_not_applicable(job, bit)
                if reason:
                    raise OperationFailed(reason)
        names = [vocab.INFO_SECTIONS[b] for b in bits]
        recorded = await self._store.get_sections(job_id, names)
        available = set(recorded)
        policy = None
        retention = vocab.INFO_SECTIONS[vocab.INFO_RETENTION]
        if retention in names and retention not in recorded and job.storage_policy.id:
            # Not recorded with the job: derived from the job's storage policy copies.
            policy = await self._store.get_storage_policy(job.storage_policy.id)
            if policy and policy.copies:
                available.add(retention)
            else:
                policy = None
        if info_type is not None:
            for bit in bits:
                if vocab.INFO_SECTIONS[bit] not in available:
                    raise OperationFailed(
                        f"no {vocab.INFO_TYPE_BY_BIT[bit].name} has been recorded for job {job_id}"
                    )
        if not available:
            raise OperationFailed(f"no advanced details have been recorded for job {job_id}")
        return AdvancedDetails(
            job, tuple(n for n in names if n in available), recorded, retention_from=policy
        )
