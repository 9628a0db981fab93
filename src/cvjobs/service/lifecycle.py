"""The job state machine (wire contract §8, §10): which action may do what from which
status, and the changes an action or the engine makes to a job (`acted`, `settled`,
`fresh_job`). Pure functions; the control service and the engine apply them.

User actions pass through a pending status that the engine settles on its next step
(Suspend Pending -> Suspended, Kill Pending -> Killed), as the vendor's job manager does;
without an engine the control service settles at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from cvjobs import vocab
from cvjobs.model import Job
from cvjobs.service.events import status_event
from cvjobs.store.values import JobChange
from cvjobs.vocab import JobStatus

SUSPEND, RESUME, KILL, RESUBMIT = "suspend", "resume", "kill", "resubmit"
ACTIONS: Final = (SUSPEND, RESUME, KILL, RESUBMIT)
# How clients name the actions in URLs and MultiJobOperation bodies, in any casing.
ACTION_WORDS: Final[dict[str, str]] = {
    "pause": SUSPEND,
    "suspend": SUSPEND,
    "job_suspend": SUSPEND,
    "resume": RESUME,
    "job_resume": RESUME,
    "kill": KILL,
    "job_kill": KILL,
    "resubmit": RESUBMIT,
    "job_resubmit": RESUBMIT,
}


@dataclass(frozen=True, slots=True)
class Operation:
    """A MultiJobOperation `operationType`: the action, whether it suspends with an
    automatic resume, or why it has no meaning here."""

    action: str
    auto_resume: bool = False
    refusal: str | None = None


# MultiJobOperation's operationType, by name in any casing or by number. The vendor's
# request collection names JOB_SUSPEND, JOB_RESUME, JOB_KILL, JOB_FORCE_RELEASE and
# JOB_SUSPEND_AUTORESUME, in that order; the official MCP server sends 0 for a suspend.
# The numbers 1 to 4 follow the order of the names [OURS: inferred, not documented].
# JOB_FORCE_RELEASE frees a job's licences and resources by force; cvjobs keeps none.
_NOT_HERE = "JOB_FORCE_RELEASE has no meaning in cvjobs: it holds no licences or resources"
OPERATION_TYPES: Final[dict[str, Operation]] = {
    **{word: Operation(action) for word, action in ACTION_WORDS.items()},
    "0": Operation(SUSPEND),
    "1": Operation(RESUME),
    "2": Operation(KILL),
    "job_force_release": Operation(SUSPEND, refusal=_NOT_HERE),
    "3": Operation(SUSPEND, refusal=_NOT_HERE),
    "job_suspend_autoresume": Operation(SUSPEND, auto_resume=True),
    "4": Operation(SUSPEND, auto_resume=True),
}

_RESUMABLE: Final[frozenset[str]] = frozenset(
    {JobStatus.SUSPENDED, JobStatus.SUSPEND_PENDING, JobStatus.PENDING}
)
# The engine's settling of pending statuses.
SETTLES_TO: Final[dict[str, JobStatus]] = {
    JobStatus.SUSPEND_PENDING: JobStatus.SUSPENDED,
    JobStatus.KILL_PENDING: JobStatus.KILLED,
    JobStatus.INTERRUPT_PENDING: JobStatus.INTERRUPTED,
}


@dataclass(frozen=True, slots=True)
class Decision:
    """`status` is the job's next status (None for resubmit, which makes a new job);
    `refusal` says why the action is refused, and then nothing changes."""

    status: JobStatus | None = None
    refusal: str | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def decide(job_id: int, status: str, action: str) -> Decision:
    """What `action` does to a job in `status`."""
    what = f"job {job_id}"
    if action == RESUBMIT:
        if vocab.is_active(status):
            return Decision(
                refusal=f"{what} is still {status}; only finished jobs can be resubmitted"
            )
        return Decision()
    if not vocab.is_active(status):
        return Decision(refusal=f"{what} is already {status}")
    if status == JobStatus.KILL_PENDING:
        return Decision(refusal=f"{what} is already being killed")
    if status == JobStatus.INTERRUPT_PENDING:
        return Decision(refusal=f"{what} is being interrupted")
    if action == KILL:
        return Decision(JobStatus.KILL_PENDING)
    if action == SUSPEND:
        if status == JobStatus.SUSPENDED:
            return Decision(refusal=f"{what} is already suspended")
        if status == JobStatus.SUSPEND_PENDING:
            return Decision(refusal=f"{what} is already being suspended")
        return Decision(JobStatus.SUSPEND_PENDING)
    if action == RESUME:
        if status in _RESUMABLE:
            return Decision(JobStatus.RUNNING)
        return Decision(refusal=f"{what} is not suspended; it is {status}")
    raise ValueError(f"unknown action {action!r}")


# -- the changes an action or the engine makes to a job ------------------------------


def fresh_job(template: Job, *, status: JobStatus, now: int, pending_reason: str = "") -> Job:
    """A new run of `template` (same client, subclient, type and level) starting at `now`,
    with nothing done yet; its id is allocated when the store creates it (from
    --job-id-base, whatever the template's id)."""
    return replace(
        template,
        job_id=0,
        status=status,
        current_phase=vocab.phases_of(template.job_type)[0],
        pending_reason=pending_reason,
        pending_reason_error_code="",
        percent_complete=0.0,
        size_of_application=0,
        size_of_media_on_disk=0,
        total_num_of_files=0,
        total_failed_files=0,
        total_failed_folders=0,
        start_time=now,
        end_time=0,
        last_update_time=now,
        elapsed_time=0,
        is_aged=False,
        submit_error_code=0,
        auto_resume_at=0,
    )


def settled(job: Job, now: int) -> JobChange | None:
    """A job moved out of its pending status (Suspend Pending -> Suspended, ...), or None
    if it has none."""
    target = SETTLES_TO.get(job.status)
    if target is None:
        return None
    new = replace(
        job,
        status=target,
        last_update_time=max(now, job.last_update_time),
        end_time=now if not vocab.is_active(target) else 0,
    )
    return JobChange(new, job.status, (status_event(job, target, now, "", ""),))


def then(first: JobChange, second: JobChange | None) -> JobChange:
    """Two changes of one job as one: the second's state, both changes' events."""
    if second is None:
        return first
    return JobChange(second.job, first.expect_status, first.events + second.events)


def acted(
    job: Job, action: str, status: JobStatus, user: str, now: int, auto_resume: int
) -> JobChange:
    """What a user's action does to the job (already allowed by the state machine)."""
    pending_reason = job.pending_reason
    if action == SUSPEND:
        pending_reason = f"{job.job_type} job has been suspended by user {user}."
    elif action == RESUME:
        pending_reason = ""
    elif action == KILL:
        pending_reason = f"{job.job_type} job has been killed by user {user}."
    new = replace(
        job,
        status=status,
        pending_reason=pending_reason,
        last_update_time=max(now, job.last_update_time),
        auto_resume_at=now + auto_resume if auto_resume else 0,
    )
    return JobChange(new, job.status, (status_event(job, status, now, user, action),))
