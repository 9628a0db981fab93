"""The vocabularies in cvjobs.vocab: their spellings are the wire's, and what derives from
them says what it said when it was written by hand."""

from __future__ import annotations

import argparse
import pickle
import re
from pathlib import Path

import orjson
import pytest

from cvjobs import vocab
from cvjobs.cli import build_parser
from cvjobs.http import operations
from cvjobs.model import Job, Ref
from cvjobs.render import xml
from cvjobs.service.jobs import why_not_applicable
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


# The texts the info types' derivations replaced, as they were written by hand.
INFO_TYPE_PROBLEM_32 = (
    "infoType 32 is not valid: use 1, 2, 4, 8 or 16, or a sum of them (at most 31)"
)
INFO_TYPE_SUMMARY = "retention (1), reference copy (2), DASH copy (4), admin (8), backup (16)"


def test_info_type_texts_derive_as_written_before() -> None:
    assert vocab.info_type_problem(32) == INFO_TYPE_PROBLEM_32
    assert vocab.info_type_problem(0) == INFO_TYPE_PROBLEM_32.replace("32", "0", 1)
    assert vocab.info_type_problem(31) is None and vocab.info_type_problem(17) is None
    assert vocab.INFO_TYPE_SUMMARY == INFO_TYPE_SUMMARY
    assert vocab.ALL_INFO_TYPES == 31
    assert vocab.INFO_SECTIONS == {
        1: "jobRetention",
        2: "refCopyInfo",
        4: "dashCopyInfo",
        8: "adminInfo",
        16: "bkpInfo",
    }
    assert vocab.info_bits(17) == [1, 16]


def test_info_type_help_and_openapi_derive_as_written_before() -> None:
    operation = operations.ADVANCED_DETAILS
    assert operation["summary"] == INFO_TYPE_SUMMARY
    info_type = operation["parameters"][1]
    assert info_type["name"] == "infoType"
    assert info_type["schema"] == {"type": "integer", "minimum": 1, "maximum": 31}
    assert _option_help("import", "--info-type") == "the infoType it was fetched with (1-31)"


def _option_help(command: str, flag: str) -> str | None:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub: argparse.ArgumentParser = commands.choices[command]
    return next(a.help for a in sub._actions if flag in a.option_strings)


# Which jobs each info type exists for, and the refusal's words, as service/jobs.py had them.
APPLIES = {
    1: ("retention information", vocab.BACKUP_JOB_TYPES, None, "backup jobs"),
    2: ("reference copy information", {vocab.REFERENCE_COPY}, None, "reference copy jobs"),
    4: ("DASH copy information", {vocab.AUX_COPY}, None, "auxiliary copy jobs"),
    8: ("administrative information", {vocab.AUX_COPY}, None, "auxiliary copy jobs"),
    16: (
        "backup information",
        vocab.BACKUP_JOB_TYPES,
        {53, 81},
        "Exchange Database and SQL Server backup jobs",
    ),
}


@pytest.mark.parametrize("bit", sorted(APPLIES))
def test_info_types_apply_to_the_jobs_they_did(bit: int) -> None:
    name, job_types, apps, jobs = APPLIES[bit]
    info = vocab.INFO_TYPE_BY_BIT[bit]
    assert (info.name, info.jobs) == (name, jobs)
    for job_type in (*vocab.JOB_TYPES, "Something Else"):
        for app_id in (0, *vocab.APP_TYPES):
            expected = job_type in job_types and (apps is None or app_id in apps)
            assert info.applies_to(job_type, app_id) is expected, (job_type, app_id)
            job = Job(1, "Completed", job_type, app=Ref(app_id, vocab.APP_TYPES.get(app_id, "")))
            reason = why_not_applicable(job, bit)
            assert (reason is None) is expected
            if reason:
                assert reason.startswith(f"{name} exists only for {jobs}; job 1 is a ")


def test_the_readme_documents_every_info_type() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for info in vocab.INFO_TYPES:
        assert re.search(rf"^\| {info.bit} \| [^|]+ \| `{info.section}", readme, re.MULTILINE)
