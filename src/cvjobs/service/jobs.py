"""Reading jobs: one job, its JobDetails and its AdvancedDetails sections, applying the
rules of `vocab.INFO_TYPES` for which info types apply to which jobs (wire contract §4,
§6, §7)."""

from __future__ import annotations

from cvjobs import vocab
from cvjobs.errors import BadRequest, JobDetailsFailed, OperationFailed
from cvjobs.model import Job, JobQuery, JsonObject, Scope, StoragePolicy
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


def derive_retention(job: Job, policy: StoragePolicy) -> JsonObject:
    """AdvancedDetails infoType 1 from the job's storage policy: how long each copy keeps
    the job. `retainUntil` is 0 while the job has not finished."""
    return {
        "storagePolicyRetentionInfoList": [
            {
                "storagePolicyId": policy.policy.id,
                "storagePolicyName": policy.policy.name,
                "copyRetentionInfoList": [
                    {
                        "storagePolicyCopyId": copy.copy_id,
                        "copyName": copy.name,
                        "isDefaultCopy": copy.is_default,
                        "retentionDays": copy.retention_days,
                        "retainUntil": job.end_time + copy.retention_days * 86400
                        if job.end_time
                        else 0,
                    }
                    for copy in policy.copies
                ],
            }
        ]
    }


class JobService:
    def __init__(self, store: JobReads) -> None:
        self._store = store

    async def get(self, job_id: int, scope: Scope) -> Job | None:
        """The job, or None when there is none or it is outside `scope` (the two answer
        alike everywhere)."""
        job = await self._store.get_job(job_id)
        return job if job is not None and scope.allows(job) else None

    async def find(self, query: JobQuery) -> tuple[int, list[Job]]:
        """(how many jobs match in all, the page asked for)."""
        return await self._store.list_jobs(query)

    async def job_detail(self, job_id: int, scope: Scope) -> tuple[Job, JsonObject]:
        """The job and the JobDetails extras recorded with it (empty if none)."""
        job = await self.get(job_id, scope)
        if job is None:
            raise JobDetailsFailed(f"No job exists with the job ID {job_id}")
        sections = await self._store.get_sections(job_id, (JOB_DETAIL_SECTION,))
        return job, sections.get(JOB_DETAIL_SECTION, {})

    async def advanced_details(
        self, job_id: int, info_type: int | None, scope: Scope
    ) -> JsonObject:
        """The requested sections in one object. `info_type` None asks for every section
        that applies to the job and has been recorded."""
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
        stored = await self._store.get_sections(job_id, names)
        retention = vocab.INFO_SECTIONS[vocab.INFO_RETENTION]
        if retention in names and retention not in stored and job.storage_policy.id:
            # Not recorded with the job: derive it from the job's storage policy copies.
            policy = await self._store.get_storage_policy(job.storage_policy.id)
            if policy and policy.copies:
                stored[retention] = derive_retention(job, policy)
        if info_type is not None:
            for bit in bits:
                if vocab.INFO_SECTIONS[bit] not in stored:
                    raise OperationFailed(
                        f"no {vocab.INFO_TYPE_BY_BIT[bit].name} has been recorded for job {job_id}"
                    )
        if not stored:
            raise OperationFailed(f"no advanced details have been recorded for job {job_id}")
        return {name: stored[name] for name in names if name in stored}
