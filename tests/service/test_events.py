"""The events job changes make, without a store: code, severity and the words of each."""

from __future__ import annotations

import pytest

from cvjobs.model import CRITICAL, INFO, MAJOR, MINOR, Job, Ref
from cvjobs.service.events import started_event, status_event

JOB = Job(12, "Running", "Backup", client=Ref(3, "WINTER"))


@pytest.mark.parametrize(
    ("to_status", "code", "severity"),
    [
        ("Suspended", "19:101", INFO),
        ("Running", "19:102", INFO),
        ("Kill Pending", "19:103", MINOR),
        ("Completed", "19:105", INFO),
        ("Completed w/ one or more errors", "19:107", MINOR),
        ("Failed", "19:106", MAJOR),
        ("Abnormal Terminated Cleanup", "19:106", CRITICAL),
        ("Waiting", "19:100", INFO),  # any other change
    ],
)
def test_each_status_change_has_its_code_and_severity(
    to_status: str, code: str, severity: int
) -> None:
    event = status_event(JOB, to_status, 100, "", "")
    assert (event.code, event.severity) == (code, severity)
    assert (event.from_status, event.to_status, event.job_id, event.client) == (
        "Running",
        to_status,
        12,
        JOB.client,
    )


def test_a_change_says_who_made_it_and_why() -> None:
    assert status_event(JOB, "Suspended", 100, "alice", "suspend").description == (
        "Backup job [12] went from [Running] to [Suspended] by user [alice]: suspend"
    )
    assert status_event(JOB, "Completed", 100, "", "").description == (
        "Backup job [12] went from [Running] to [Completed]"
    )


def test_a_started_job_names_no_id_it_does_not_have_yet() -> None:
    event = started_event(JOB, 100, "bob", "resubmission of job [4]")
    assert event.description == "Backup job was started by user [bob]: resubmission of job [4]"
    assert (event.code, event.to_status, event.from_status) == ("19:104", "Running", "")
