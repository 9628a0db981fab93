"""Pieces the store doubles of tests/service share: the audit log, and job reads by id.
Each is a mixin over an attribute its double declares as a dataclass field."""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence

from cvjobs.model import AuditEntry, AuditQuery, Job, JobQuery, JsonObject, StoragePolicy


class AuditLog:
    """An AuditStore over `audits`, in the order entries were written."""

    audits: list[AuditEntry]

    async def add_audit(self, entries: Sequence[AuditEntry]) -> None:
        self.audits.extend(entries)

    async def audit(self, query: AuditQuery) -> list[AuditEntry]:
        return self.audits

    async def export_audit(self, after_id: int, limit: int) -> list[AuditEntry]:
        return self.audits


class JobsById:
    """The JobReads of a double that reads only jobs by id from `jobs` (no sections, no
    lists, no storage policies)."""

    jobs: dict[int, Job]

    async def get_job(self, job_id: int) -> Job | None:
        return self.jobs.get(job_id)

    async def get_sections(self, job_id: int, names: Collection[str]) -> dict[str, JsonObject]:
        return {}

    async def list_jobs(self, query: JobQuery) -> tuple[int, list[Job]]:
        return 0, []

    async def catalogue_version(self) -> Hashable:
        return object()  # never the same: nothing read here is kept

    async def get_storage_policy(self, policy_id: int) -> StoragePolicy | None:
        return None
