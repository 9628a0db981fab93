"""Events that job changes write, and reading events back (GET Events, wire contract §9).

Every status change is an event saying who, when, from what, to what and why. Codes are
JobManager's subsystem 19 with numbers of ours ([OURS], listed in the README).
"""

from __future__ import annotations

from cvjobs.model import CRITICAL, INFO, MAJOR, MINOR, Event, EventQuery, Job
from cvjobs.store.protocols import EventStore
from cvjobs.vocab import JobStatus

CODE_STATE_CHANGE = "19:100"
CODE_SUSPENDED = "19:101"
CODE_RESUMED = "19:102"
CODE_KILLED = "19:103"
CODE_STARTED = "19:104"
CODE_COMPLETED = "19:105"
CODE_FAILED = "19:106"
CODE_COMPLETED_WITH_ERRORS = "19:107"
CODE_INGESTED = "19:110"

_BY_STATUS: dict[str, tuple[str, int]] = {
    JobStatus.SUSPENDED: (CODE_SUSPENDED, INFO),
    JobStatus.SUSPEND_PENDING: (CODE_SUSPENDED, INFO),
    JobStatus.RUNNING: (CODE_RESUMED, INFO),
    JobStatus.KILL_PENDING: (CODE_KILLED, MINOR),
    JobStatus.KILLED: (CODE_KILLED, MINOR),
    JobStatus.COMPLETED: (CODE_COMPLETED, INFO),
    JobStatus.COMMITTED: (CODE_COMPLETED, INFO),
    JobStatus.COMPLETED_WITH_WARNINGS: (CODE_COMPLETED_WITH_ERRORS, MINOR),
    JobStatus.COMPLETED_WITH_ERRORS: (CODE_COMPLETED_WITH_ERRORS, MINOR),
    JobStatus.FAILED: (CODE_FAILED, MAJOR),
    JobStatus.FAILED_TO_START: (CODE_FAILED, MAJOR),
    JobStatus.INTERRUPTED: (CODE_FAILED, MAJOR),
    JobStatus.ABNORMAL_TERMINATED_CLEANUP: (CODE_FAILED, CRITICAL),
}
SEVERITY_FLAGS = {
    "showInfo": INFO,
    "showMinor": MINOR,
    "showMajor": MAJOR,
    "showCritical": CRITICAL,
}


def status_event(job: Job, to_status: str, now: int, user: str, why: str) -> Event:
    """The event for `job` moving to `to_status`, by `user` ("" for the system)."""
    code, severity = _BY_STATUS.get(to_status, (CODE_STATE_CHANGE, INFO))
    by = f" by user [{user}]" if user else ""
    reason = f": {why}" if why else ""
    return Event(
        time=now,
        severity=severity,
        code=code,
        description=f"{job.job_type} job [{job.job_id}] went from [{job.status}] to"
        f" [{to_status}]{by}{reason}",
        job_id=job.job_id,
        client=job.client,
        user=user,
        from_status=job.status,
        to_status=to_status,
    )


def started_event(job: Job, now: int, user: str, why: str) -> Event:
    by = f" by user [{user}]" if user else ""
    return Event(
        time=now,
        severity=INFO,
        code=CODE_STARTED,
        # No job id in the text: a new job gets its id as it is written.
        description=f"{job.job_type} job was started{by}: {why}",
        job_id=job.job_id,
        client=job.client,
        user=user,
        to_status=job.status,
    )


class EventService:
    def __init__(self, store: EventStore) -> None:
        self._store = store

    async def find(self, query: EventQuery) -> list[Event]:
        return await self._store.list_events(query)
