"""Each field's wire spelling has one owner, `cvjobs.spellings`: the backup level and the
percentages as jobSummary, JobDetails and TaskDetails write them, in JSON and in XML
(issue 12, 4e). The table's spellings are pinned here, then read back from the bytes of
each resource in each format."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from cvjobs import spellings
from cvjobs.model import Job, Ref
from cvjobs.render import JSON, XML, shapes

SRC = Path(__file__).parent.parent / "src" / "cvjobs"


# -- the table ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "summary_json", "summary_xml", "name", "task"),
    [
        (2, 2, "INCREMANTAL", "Incremental", "INCREMANTAL"),  # sic: the vendor's enum
        (1, 1, "FULL", "Full", "FULL"),
        (8, 8, "SYNTHETIC_FULL", "Synthetic Full", "SYNTHETIC_FULL"),
        (0, 0, "", "", ""),  # no level
    ],
)
def test_backup_level_in_each_resource_and_format(
    code: int, summary_json: int, summary_xml: str, name: str, task: str
) -> None:
    assert spellings.SUMMARY_BACKUP_LEVEL(code, xml=False) == summary_json
    assert spellings.SUMMARY_BACKUP_LEVEL(code, xml=True) == summary_xml
    assert spellings.SUMMARY_BACKUP_LEVEL_NAME(code) == name
    assert spellings.DETAIL_BACKUP_TYPE(code) == name
    assert spellings.TASK_BACKUP_LEVEL(code) == task


@pytest.mark.parametrize(
    ("percent", "summary_json", "summary_xml", "detail", "savings"),
    [
        (33.333333, 33.333333, "33.333333", 33.333333, "33.33"),
        (0.0, 0, "0.000000", 0, "0.00"),
        (100.0, 100, "100.000000", 100, "100.00"),
        (61.25, 61.25, "61.250000", 61.25, "61.25"),
    ],
)
def test_percentages_in_each_resource_and_format(
    percent: float, summary_json: float, summary_xml: str, detail: float, savings: str
) -> None:
    for spelled in (
        spellings.SUMMARY_PERCENT(percent, xml=False),
        spellings.DETAIL_PERCENT_COMPLETE(percent),
    ):
        assert spelled == summary_json == detail
        # Integral percentages are JSON integers (100, not 100.0), as the vendor sends them.
        assert type(spelled) is type(summary_json)
    assert spellings.SUMMARY_PERCENT(percent, xml=True) == summary_xml
    assert spellings.DETAIL_SAVINGS_PERCENT(percent) == savings


# -- the bytes of each resource ---------------------------------------------------------------

JOB = Job(
    job_id=7,
    status="Completed",
    job_type="Backup",
    client=Ref(3, "fs-01"),
    dest_client=Ref(3, "fs-01"),
    backup_level=2,
    percent_complete=33.333333,
    percent_savings=100.0,
)


def _xml_attrs(body: bytes, element: str) -> dict[str, str]:
    found = re.search(rb"<%s( [^>]*?)/?>" % element.encode(), body)
    assert found is not None, element
    return {k.decode(): v.decode() for k, v in re.findall(rb' (\w+)="([^"]*)"', found[1])}


def test_job_summary_bytes() -> None:
    body = orjson.loads(JSON.render("r", shapes.job_summary(JOB, xml=False)))
    assert (body["backupLevel"], body["backupLevelName"]) == (2, "Incremental")
    assert (body["percentComplete"], body["percentSavings"]) == (33.333333, 100)
    attrs = _xml_attrs(XML.render("jobSummary", shapes.job_summary(JOB, xml=True)), "jobSummary")
    assert (attrs["backupLevel"], attrs["backupLevelName"]) == ("INCREMANTAL", "Incremental")
    assert (attrs["percentComplete"], attrs["percentSavings"]) == ("33.333333", "100.000000")


def test_job_detail_bytes_are_spelled_alike_in_both_formats() -> None:
    body = shapes.job_detail(JOB, {})
    detail = orjson.loads(JSON.render("r", body))["job"]["jobDetail"]
    assert detail["generalInfo"]["backupType"] == "Incremental"
    assert detail["progressInfo"]["percentComplete"] == 33.333333
    assert detail["detailInfo"]["savingsPercent"] == "100.00"
    assert detail["detailInfo"]["compressedBytes"] == spellings.DETAIL_NOT_AVAILABLE == -999
    xml = XML.render("JobManager_JobDetailResponse", body)
    assert _xml_attrs(xml, "generalInfo")["backupType"] == "Incremental"
    assert _xml_attrs(xml, "progressInfo")["percentComplete"] == "33.333333"
    assert _xml_attrs(xml, "detailInfo")["savingsPercent"] == "100.00"


def test_task_details_bytes_are_spelled_alike_in_both_formats() -> None:
    body = shapes.task_details(JOB)
    task = orjson.loads(JSON.render("r", body))["taskInfo"]["subTasks"][0]
    assert task["options"]["backupOpts"]["backupLevel"] == "INCREMANTAL"
    xml = XML.render("TMMsg_TaskInfoResp", body)
    assert _xml_attrs(xml, "backupOpts")["backupLevel"] == "INCREMANTAL"


def test_no_other_renderer_spells_these_fields() -> None:
    """The shapes and the wire record take these spellings from `spellings`, not their own
    format strings or vocabulary lookups."""
    owners = [SRC / "summaries.py", *sorted((SRC / "render").glob("*.py"))]
    spelled = re.compile(r":\.\d+f\}|backup_level_(enum|name)|is_integer\(\)")
    found = [
        f"{path.name}:{number}"
        for path in owners
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if spelled.search(line)
    ]
    assert found == []
