"""Every (status, action) pair of the job state machine."""

from __future__ import annotations

import pytest

from cvjobs import vocab
from cvjobs.service.lifecycle import ACTIONS, KILL, RESUBMIT, RESUME, SUSPEND, decide

# The expected table, written out by hand from §8/§10: (status) -> {action: result}, where
# a result is the next status, "new job" for an allowed resubmit, or None for refused.
RUNNING_LIKE = {SUSPEND: "Suspend Pending", RESUME: None, KILL: "Kill Pending", RESUBMIT: None}
EXPECTED: dict[str, dict[str, str | None]] = {
    "Running": RUNNING_LIKE,
    "Running (cannot be verified)": RUNNING_LIKE,
    "Waiting": RUNNING_LIKE,
    "Queued": RUNNING_LIKE,
    "Pending": {
        SUSPEND: "Suspend Pending",
        RESUME: "Running",
        KILL: "Kill Pending",
        RESUBMIT: None,
    },
    "Suspended": {SUSPEND: None, RESUME: "Running", KILL: "Kill Pending", RESUBMIT: None},
    "Suspend Pending": {SUSPEND: None, RESUME: "Running", KILL: "Kill Pending", RESUBMIT: None},
    "Kill Pending": {SUSPEND: None, RESUME: None, KILL: None, RESUBMIT: None},
    "Interrupt Pending": {SUSPEND: None, RESUME: None, KILL: None, RESUBMIT: None},
    **{
        status: {SUSPEND: None, RESUME: None, KILL: None, RESUBMIT: "new job"}
        for status in vocab.FINISHED_STATUSES
    },
}


def test_the_table_covers_every_status() -> None:
    assert set(EXPECTED) == set(vocab.STATUSES)


@pytest.mark.parametrize("status", vocab.STATUSES)
@pytest.mark.parametrize("action", ACTIONS)
def test_every_pair(status: str, action: str) -> None:
    decision = decide(12, status, action)
    expected = EXPECTED[status][action]
    if expected is None:
        assert not decision.allowed
        assert decision.refusal and "job 12" in decision.refusal
        assert decision.status is None
    elif expected == "new job":
        assert decision.allowed and decision.status is None
    else:
        assert decision.allowed and decision.status == expected


def test_refusals_say_why() -> None:
    assert decide(12, "Completed", KILL).refusal == "job 12 is already Completed"
    assert decide(12, "Running", RESUME).refusal == "job 12 is not suspended; it is Running"
    assert "still Running" in (decide(12, "Running", RESUBMIT).refusal or "")


def test_unknown_action() -> None:
    with pytest.raises(ValueError, match="unknown action"):
        decide(1, "Running", "explode")
