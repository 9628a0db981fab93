"""Job reads against a store double: scopes, JobDetails extras and the rules of
AdvancedDetails (which info types apply, what is derived, what is refused), and the
rendered answer of GET Job/{id}, kept and forgotten."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Hashable
from dataclasses import dataclass, field, replace

import pytest

from cvjobs import vocab
from cvjobs.errors import BadRequest, JobDetailsFailed, OperationFailed
from cvjobs.model import (
    EVERYTHING,
    AdvancedDetails,
    Job,
    JobQuery,
    JsonObject,
    PolicyCopy,
    Ref,
    Scope,
    StoragePolicy,
)
from cvjobs.render import advanced
from cvjobs.service.jobs import JobService
from cvjobs.service.rendered import TTL_SECONDS, RenderCache

BACKUP = Job(
    job_id=4,
    status="Completed",
    job_type="Backup",
    client=Ref(3, "WINTER"),
    app=Ref(vocab.SQL_SERVER_APP_ID, "SQL Server"),
    storage_policy=Ref(7, "SP-Gold"),
    end_time=1_000,
)
AUX_COPY = Job(job_id=5, status="Completed", job_type=vocab.AUX_COPY, client=Ref(2, "CS"))
POLICY = StoragePolicy(Ref(7, "SP-Gold"), (PolicyCopy(71, "Primary", 30, True),))


@dataclass
class Jobs:
    """The four reads JobService makes (JobReads), over a dict."""

    jobs: dict[int, Job]
    sections: dict[int, dict[str, JsonObject]] = field(default_factory=dict)
    policies: dict[int, StoragePolicy] = field(default_factory=dict)
    version: int = 0  # what catalogue_version answers; a test moves it as a write would
    lists: int = 0  # list reads made
    reads: int = 0  # reads of any kind made
    write_while_listing: bool = False
    gate: asyncio.Event | None = None  # a list read waits for it

    async def get_job(self, job_id: int) -> Job | None:
        self.reads += 1
        return self.jobs.get(job_id)

    async def get_sections(self, job_id: int, names: Collection[str]) -> dict[str, JsonObject]:
        self.reads += 1
        stored = self.sections.get(job_id, {})
        return {name: stored[name] for name in names if name in stored}

    async def list_jobs(self, query: JobQuery) -> tuple[int, list[Job]]:
        self.lists += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.write_while_listing:
            self.version += 1
        return len(self.jobs), list(self.jobs.values())[: query.limit]

    async def catalogue_version(self) -> Hashable:
        self.reads += 1
        return self.version

    async def get_storage_policy(self, policy_id: int) -> StoragePolicy | None:
        return self.policies.get(policy_id)


def service(
    sections: dict[int, dict[str, JsonObject]] | None = None,
    policies: dict[int, StoragePolicy] | None = None,
) -> JobService:
    return JobService(Jobs({4: BACKUP, 5: AUX_COPY}, sections or {}, policies or {}))


ONLY_CLIENT_2 = Scope(everything=False, clients=frozenset({2}))


def test_a_job_out_of_scope_reads_as_no_job() -> None:
    jobs = service()
    assert asyncio.run(jobs.get(4, EVERYTHING)) == BACKUP
    assert asyncio.run(jobs.get(4, ONLY_CLIENT_2)) is None
    assert asyncio.run(jobs.get(99, EVERYTHING)) is None
    with pytest.raises(JobDetailsFailed, match="No job exists with the job ID 4"):
        asyncio.run(jobs.job_detail(4, ONLY_CLIENT_2))


def test_job_detail_carries_the_recorded_extras() -> None:
    jobs = service(sections={4: {"jobDetail": {"generalInfo": {"x": 1}}}})
    assert asyncio.run(jobs.job_detail(4, EVERYTHING)) == (BACKUP, {"generalInfo": {"x": 1}})
    assert asyncio.run(jobs.job_detail(5, EVERYTHING)) == (AUX_COPY, {})


def test_retention_is_derived_from_the_policy_when_not_recorded() -> None:
    details = asyncio.run(service(policies={7: POLICY}).advanced_details(4, 1, EVERYTHING))
    assert (details.names, details.recorded, details.retention_from) == (
        ("jobRetention",),
        {},
        POLICY,
    )
    copies = advanced.advanced_details(details)["jobRetention"]["storagePolicyRetentionInfoList"][0]
    assert copies["storagePolicyName"] == "SP-Gold"
    assert copies["copyRetentionInfoList"] == [
        {
            "storagePolicyCopyId": 71,
            "copyName": "Primary",
            "isDefaultCopy": True,
            "retentionDays": 30,
            "retainUntil": 1_000 + 30 * 86400,
        }
    ]


def test_an_info_type_that_does_not_apply_is_refused_naming_why() -> None:
    with pytest.raises(OperationFailed, match="only for auxiliary copy jobs; job 4 is a SQL"):
        asyncio.run(service().advanced_details(4, 4, EVERYTHING))
    with pytest.raises(OperationFailed, match="exists only for backup jobs"):
        asyncio.run(service().advanced_details(5, 1, EVERYTHING))


def test_an_applicable_info_type_not_recorded_is_refused() -> None:
    with pytest.raises(OperationFailed, match="no backup information has been recorded"):
        asyncio.run(service().advanced_details(4, 16, EVERYTHING))


def test_no_info_type_answers_every_recorded_section_that_applies() -> None:
    recorded = {"bkpInfo": {"a": 1}, "dashCopyInfo": {"b": 2}}  # DASH copy: not a backup's
    jobs = service(sections={4: recorded}, policies={7: POLICY})
    details = asyncio.run(jobs.advanced_details(4, None, EVERYTHING))
    assert details.names == ("jobRetention", "bkpInfo")  # the info type table's order
    assert list(advanced.advanced_details(details)) == ["jobRetention", "bkpInfo"]


@pytest.mark.parametrize("info_type", [0, -1, 32, 33])
def test_an_info_type_out_of_the_table_is_a_bad_request(info_type: int) -> None:
    with pytest.raises(BadRequest):
        asyncio.run(service().advanced_details(4, info_type, EVERYTHING))


def test_out_of_scope_advanced_details_read_as_no_job() -> None:
    with pytest.raises(OperationFailed, match="No job exists with the job ID 4"):
        asyncio.run(service(policies={7: POLICY}).advanced_details(4, 1, ONLY_CLIENT_2))


def test_a_finished_jobs_answer_is_kept_and_serves_only_who_may_see_it() -> None:
    store = Jobs({4: BACKUP, 6: replace(BACKUP, job_id=6, status="Running")})
    rendered = RenderCache()
    jobs = JobService(store, clock=lambda: 1_000.0, rendered=rendered)
    renders: list[list[int]] = []

    def render(found: list[Job]) -> bytes:
        renders.append([j.job_id for j in found])
        return repr(renders[-1]).encode()

    assert asyncio.run(jobs.rendered_job(4, EVERYTHING, "json", render)) == b"[4]"
    assert asyncio.run(jobs.rendered_job(4, EVERYTHING, "json", render)) == b"[4]"
    assert asyncio.run(jobs.rendered_job(4, ONLY_CLIENT_2, "json", render)) == b"[]"
    assert asyncio.run(jobs.rendered_job(6, EVERYTHING, "json", render)) == b"[6]"
    assert asyncio.run(jobs.rendered_job(6, EVERYTHING, "json", render)) == b"[6]"
    # Rendered: job 4 once (then kept), the refusal, the running job 6 each time.
    assert renders == [[4], [], [6], [6]]
    rendered.forget([4])
    asyncio.run(jobs.rendered_job(4, EVERYTHING, "json", render))
    assert renders[-1] == [4]


NOW = 1_000_000


def page(total: int, jobs: list[Job]) -> bytes:
    return f"{total}:{[j.job_id for j in jobs]}".encode()


def test_a_page_asked_again_of_an_unchanged_catalogue_is_not_read_again() -> None:
    store = Jobs({4: BACKUP, 5: AUX_COPY})
    jobs = JobService(store)
    query = JobQuery(now=NOW, limit=1)
    assert asyncio.run(jobs.rendered_page(query, "json", page)) == b"2:[4]"
    assert asyncio.run(jobs.rendered_page(query, "json", page)) == b"2:[4]"
    assert store.lists == 1
    asyncio.run(jobs.rendered_page(query, "xml", page))  # each format its own
    asyncio.run(jobs.rendered_page(replace(query, now=NOW + 1), "json", page))  # a second on
    asyncio.run(jobs.rendered_page(replace(query, scope=Scope(False)), "json", page))
    assert store.lists == 4


def test_a_page_is_read_again_once_the_catalogue_changed() -> None:
    store = Jobs({4: BACKUP})
    jobs = JobService(store)
    query = JobQuery(now=NOW)
    assert asyncio.run(jobs.rendered_page(query, "json", page)) == b"1:[4]"
    store.jobs[5] = AUX_COPY
    store.version += 1
    assert asyncio.run(jobs.rendered_page(query, "json", page)) == b"2:[4, 5]"
    assert store.lists == 2


def test_a_page_read_while_the_catalogue_changed_is_not_kept() -> None:
    store = Jobs({4: BACKUP}, write_while_listing=True)
    jobs = JobService(store)
    query = JobQuery(now=NOW)
    asyncio.run(jobs.rendered_page(query, "json", page))
    asyncio.run(jobs.rendered_page(query, "json", page))
    assert store.lists == 2


def test_advanced_details_of_an_active_job_are_kept_while_the_catalogue_is_unchanged() -> None:
    store = Jobs({4: replace(BACKUP, status="Running")}, {4: {"bkpInfo": {"a": 1}}}, {7: POLICY})
    jobs = JobService(store)
    renders: list[tuple[str, ...]] = []

    def render(details: AdvancedDetails) -> bytes:
        renders.append(details.names)
        return repr(details.names).encode()

    assert asyncio.run(jobs.rendered_advanced(4, 16, EVERYTHING, "json", render)) == b"('bkpInfo',)"
    asyncio.run(jobs.rendered_advanced(4, 16, EVERYTHING, "json", render))
    asyncio.run(jobs.rendered_advanced(4, 1, EVERYTHING, "json", render))  # another info type
    assert renders == [("bkpInfo",), ("jobRetention",)]
    store.sections[4]["bkpInfo"] = {"a": 2}
    store.version += 1  # a write
    asyncio.run(jobs.rendered_advanced(4, 16, EVERYTHING, "json", render))
    assert len(renders) == 3
    for _ in range(2):  # a refusal is not kept: it is asked again, and refused again
        with pytest.raises(OperationFailed, match="No job exists"):
            asyncio.run(jobs.rendered_advanced(4, 16, ONLY_CLIENT_2, "json", render))


def test_pages_missed_together_are_read_once() -> None:
    store = Jobs({4: BACKUP})
    jobs = JobService(store)
    query = JobQuery(now=NOW)

    async def together() -> list[bytes]:
        return await asyncio.gather(*(jobs.rendered_page(query, "json", page) for _ in range(5)))

    assert asyncio.run(together()) == [b"1:[4]"] * 5
    assert store.lists == 1


def test_a_page_being_made_is_finished_for_the_others_when_its_first_asker_goes() -> None:
    store = Jobs({4: BACKUP})
    jobs = JobService(store)
    query = JobQuery(now=NOW)

    async def first_goes() -> bytes:
        store.gate = asyncio.Event()  # the read waits until the first asker has gone
        first = asyncio.ensure_future(jobs.rendered_page(query, "json", page))
        second = asyncio.ensure_future(jobs.rendered_page(query, "json", page))
        for _ in range(3):
            await asyncio.sleep(0)  # both wait for the one making, which waits for the gate
        first.cancel()
        await asyncio.sleep(0)
        store.gate.set()
        assert first.cancelled() or isinstance(first.exception(), asyncio.CancelledError)
        return await second

    assert asyncio.run(first_goes()) == b"1:[4]"
    assert store.lists == 1


def test_advanced_details_of_a_finished_job_are_kept_a_while_for_those_who_may_see_it() -> None:
    store = Jobs({4: BACKUP}, {4: {"bkpInfo": {"a": 1}}}, {7: POLICY})
    clock = [float(NOW)]
    rendered = RenderCache()
    jobs = JobService(store, clock=lambda: clock[0], rendered=rendered)
    renders: list[object] = []

    def render(details: AdvancedDetails) -> bytes:
        renders.append(details.recorded["bkpInfo"])
        return repr(details.recorded["bkpInfo"]).encode()

    def ask(scope: Scope = EVERYTHING, fmt: str = "json") -> bytes:
        return asyncio.run(jobs.rendered_advanced(4, 16, scope, fmt, render))

    assert ask() == b"{'a': 1}"
    reads = store.reads
    store.sections[4]["bkpInfo"] = {"a": 2}
    store.version += 1  # another process's write: shown within the TTL
    winter = Scope(everything=False, clients=frozenset({3}))  # the job's client
    assert ask() == b"{'a': 1}" and ask(winter) == b"{'a': 1}"
    assert store.reads == reads  # no query at all
    with pytest.raises(OperationFailed, match="No job exists"):  # as if absent
        ask(ONLY_CLIENT_2)
    assert ask(fmt="xml") == b"{'a': 2}"  # each format its own
    rendered.forget([4])  # what ingest does when it writes the job
    assert ask() == b"{'a': 2}"
    store.sections[4]["bkpInfo"] = {"a": 3}
    store.version += 1
    clock[0] += TTL_SECONDS
    assert ask() == b"{'a': 3}"
