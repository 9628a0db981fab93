"""The vocabularies in cvjobs.vocab: their spellings are the wire's, and what derives from
them says what it said when it was written by hand."""

from __future__ import annotations

import pickle

import orjson

from cvjobs import vocab
from cvjobs.render import xml
from cvjobs.vocab import JobStatus

# §10, as the status table read before it became JobStatus: status -> (active, colour).
STATUS_TABLE = {
    "Running": (True, "green"),
    "Waiting": (True, "blue"),
    "Pending": (True, "blue"),
    "Queued": (True, "blue"),
    "Suspended": (True, "orange"),
    "Suspend Pending": (True, "orange"),
    "Kill Pending": (True, "orange"),
    "Interrupt Pending": (True, "orange"),
    "Running (cannot be verified)": (True, "green"),
    "Completed": (False, "black"),
    "Committed": (False, "black"),
    "Completed w/ one or more errors": (False, "darkorange"),
    "Completed w/ one or more warnings": (False, "olive"),
    "Failed": (False, "red"),
    "Failed to Start": (False, "red"),
    "Killed": (False, "red"),
    "Interrupted": (False, "red"),
    "Abnormal Terminated Cleanup": (False, "red"),
}


def test_statuses_keep_the_vendor_spellings_in_order() -> None:
    assert [s.value for s in JobStatus] == list(STATUS_TABLE)
    assert {s.value: (s.active, s.color) for s in JobStatus} == STATUS_TABLE
    assert tuple(STATUS_TABLE) == vocab.STATUSES


def test_derived_status_sets_hold_plain_strings() -> None:
    assert {s for s, (active, _) in STATUS_TABLE.items() if active} == vocab.ACTIVE_STATUSES
    assert {s for s, (active, _) in STATUS_TABLE.items() if not active} == vocab.FINISHED_STATUSES
    derived = [*vocab.STATUSES, *vocab.ACTIVE_STATUSES, *vocab.FINISHED_STATUSES]
    assert {type(s) for s in derived} == {str}
    for text in STATUS_TABLE:
        canonical = vocab.canonical_status(f" {text.upper()} ")
        assert canonical == text and type(canonical) is str
        assert vocab.status_color(text) == STATUS_TABLE[text][1]
        assert vocab.is_active(text) is STATUS_TABLE[text][0]
    assert vocab.status_color("Something Else") == "black"


def test_a_status_member_is_its_spelling_on_the_wire() -> None:
    member = JobStatus.COMPLETED_WITH_ERRORS
    text = "Completed w/ one or more errors"
    assert member == text and hash(member) == hash(text)
    assert f"{member}" == str(member) == text
    assert orjson.dumps({"status": member, "list": [member]}) == orjson.dumps(
        {"status": text, "list": [text]}
    )
    assert xml.element("r", {"status": member, "s": [member]}) == xml.element(
        "r", {"status": text, "s": [text]}
    )
    assert pickle.loads(pickle.dumps(member)) is member
