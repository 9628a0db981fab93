"""Each field's wire spelling has one owner, `render.fields`: the backup level and the
percentages as jobSummary, JobDetails and TaskDetails write them, in JSON and in XML
(issue 12, 4e). The table's spellings are pinned here."""

from __future__ import annotations

import pytest

from cvjobs.render import fields

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
    assert fields.SUMMARY_BACKUP_LEVEL(code, xml=False) == summary_json
    assert fields.SUMMARY_BACKUP_LEVEL(code, xml=True) == summary_xml
    assert fields.SUMMARY_BACKUP_LEVEL_NAME(code) == name
    assert fields.DETAIL_BACKUP_TYPE(code) == name
    assert fields.TASK_BACKUP_LEVEL(code) == task


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
        fields.SUMMARY_PERCENT(percent, xml=False),
        fields.DETAIL_PERCENT_COMPLETE(percent),
    ):
        assert spelled == summary_json == detail
        # Integral percentages are JSON integers (100, not 100.0), as the vendor sends them.
        assert type(spelled) is type(summary_json)
    assert fields.SUMMARY_PERCENT(percent, xml=True) == summary_xml
    assert fields.DETAIL_SAVINGS_PERCENT(percent) == savings
