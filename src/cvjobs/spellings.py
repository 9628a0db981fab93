"""One owner for each field's wire spelling: how a job's value is written in jobSummary,
JobDetails and TaskDetails, in JSON and in XML.

Most fields are written as they are, by the format writers alone: counts, sizes, times
and ids as numbers (`render.json`; `render.xml.scalar` writes str()), booleans as
true/false, names as text, entity references as {id, name} objects (`summaries.client_ref`,
`summaries.subclient_of`). The fields below are not: the vendor spells the backup level and
the percentages differently per resource, and jobSummary's differently per format. Every
shape takes those spellings from this table, so a resource cannot drift from another, nor
one format from the other.

A field the vendor spells differently in JSON and XML is `PerFormat`; its shape must be
told the format. One spelled alike in both is `BothFormats`: its shape is built once for
both formats (JobDetails and TaskDetails are), and mypy keeps it from asking for a format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from cvjobs import vocab

T = TypeVar("T")
Scalar = int | float | str


@dataclass(frozen=True, slots=True)
class PerFormat(Generic[T]):
    """A field spelled one way in JSON and another in XML."""

    json: Callable[[T], Scalar]
    xml: Callable[[T], Scalar]

    def __call__(self, value: T, *, xml: bool) -> Scalar:
        return self.xml(value) if xml else self.json(value)

    def of(self, xml: bool) -> Callable[[T], Scalar]:
        """The spelling of one format, to look up once for a whole record (a page of
        jobs writes these fields hundreds of times)."""
        return self.xml if xml else self.json


@dataclass(frozen=True, slots=True)
class BothFormats(Generic[T]):
    """A field spelled the same in JSON and in XML."""

    spell: Callable[[T], Scalar]

    def __call__(self, value: T) -> Scalar:
        return self.spell(value)


# -- the spellings ------------------------------------------------------------------------


def level_code(code: int) -> int:
    """A backup level as its code [OURS numbers, vocab.BACKUP_LEVELS]: 2."""
    return code


def level_name(code: int) -> str:
    """A backup level as its name: "Incremental" ("" for none)."""
    return vocab.backup_level_name(code)


def level_enum(code: int) -> str:
    """A backup level as the vendor's enum name: "INCREMANTAL" (sic; "" for none)."""
    return vocab.backup_level_enum(code)


def json_number(value: float) -> float | int:
    """A JSON number: integral values print as integers (100, not 100.0), as the vendor
    does; others as they are (33.333333). In XML, that number's str()."""
    return int(value) if float(value).is_integer() else value


def six_decimals(value: float) -> str:
    """ "100.000000", "33.333333"."""
    return f"{value:.6f}"


def two_decimals(value: float) -> str:
    """ "61.25", "0.00"."""
    return f"{value:.2f}"


# -- jobSummary: GET Job, GET Job/{id}, POST Jobs (and the ingest API's JSON answers) ----

# backupLevel: the code in JSON (2), the enum name in XML (backupLevel="INCREMANTAL",
# as the seed's XML sample of job 4 prints it).
SUMMARY_BACKUP_LEVEL: Final = PerFormat(json=level_code, xml=level_enum)
# backupLevelName, localizedBackupLevelName: the name in both ("Incremental").
SUMMARY_BACKUP_LEVEL_NAME: Final = BothFormats(level_name)
# percentComplete, percentSavings: JSON numbers (100, 33.333333); six decimals in XML
# (the seed prints percentComplete="100.000000").
SUMMARY_PERCENT: Final = PerFormat(json=json_number, xml=six_decimals)

# -- POST JobDetails ---------------------------------------------------------------------

# generalInfo.backupType: the level's name, in both formats ("Incremental").
DETAIL_BACKUP_TYPE: Final = BothFormats(level_name)
# progressInfo.percentComplete: a JSON number in both formats (XML: its str(), "100").
DETAIL_PERCENT_COMPLETE: Final = BothFormats(json_number)
# detailInfo.savingsPercent: the vendor sends a string with two decimals ("61.25").
DETAIL_SAVINGS_PERCENT: Final = BothFormats(two_decimals)
# "not available" in the vendor's JobDetails numbers (jobSummary writes 0 instead).
DETAIL_NOT_AVAILABLE: Final = -999

# -- GET Job/{id}/TaskDetails --------------------------------------------------------------

# subTasks[].options.backupOpts.backupLevel: the enum name in both formats ("INCREMANTAL").
TASK_BACKUP_LEVEL: Final = BothFormats(level_enum)
