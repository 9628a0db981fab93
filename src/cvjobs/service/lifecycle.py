"""The job state machine (wire contract §8, §10): which action may do what from which
status. Pure functions over status names; the control service and the engine apply them.

User actions pass through a pending status that the engine settles on its next step
(Suspend Pending -> Suspended, Kill Pending -> Killed), as the vendor's job manager does;
without an engine the control service settles at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cvjobs import vocab
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

# Statuses that run or wait to run: they may be suspended, and killed.
_RUNNABLE: Final[frozenset[str]] = frozenset(
    {
        JobStatus.RUNNING,
        JobStatus.RUNNING_UNVERIFIED,
        JobStatus.WAITING,
        JobStatus.PENDING,
        JobStatus.QUEUED,
    }
)
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
