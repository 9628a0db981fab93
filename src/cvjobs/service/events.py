"""Events that job changes write, and reading events back (GET Events, wire contract §9).

Every status change is an event saying who, when, from what, to what and why. Codes are
JobManager's subsystem 19 with numbers of ours ([OURS], listed in the README).
"""

from __future__ import annotations

from cvjobs.model import CRITICAL, INFO, MAJOR, MINOR, Event, EventQuery, Job
from cvjobs.store.protocols import EventStore

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
    "Suspended": (CODE_SUSPENDED, INFO),
    "Suspend Pending": (CODE_SUSPENDED, INFO),
    "Running": (CODE_RESUMED, INFO),
    "Kill Pending": (CODE_KILLED, MINOR),
    "Killed": (CODE_KILLED, MINOR),
    "Completed": (CODE_COMPLETED, INFO),
    "Committed": (CODE_COMPLETED, INFO),
    "Completed w/ one or more warnings": (CODE_COMPLETED_WITH_ERRORS, MINOR),
    "Completed w/ one or more errors": (CODE_COMPLETED_WITH_ERRORS, MINOR),
    "Failed": (CODE_FAILED, MAJOR),
    "Failed to Start": (CODE_FAILED, MAJOR),
    "Interrupted": (CODE_FAILED, MAJOR),
    "Abnormal Terminated Cleanup": (CODE_FAILED, CRITICAL),
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
