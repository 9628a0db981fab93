"""Reading job records from files for `cvjobs import`.

Three forms are understood:

* a GET Job (or POST Jobs) response document, JSON or XML, exactly as the vendor returns it,
  so responses captured from a real CommServe load as they are;
* NDJSON: one `jobSummary` object per line (or `{"jobSummary": {...}}` per line);
* an AdvancedDetails response document for one job (`--job-id N --info-type T`).

Every record is checked field by field before anything is written; a bad one is reported
with the file, the record or line number and the field, and the whole import is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from cvjobs import vocab
from cvjobs.documents import DocumentError, element_to_dict, parse_xml, sniff
from cvjobs.errors import InvalidRecord
from cvjobs.model import JobRecord, JsonObject
from cvjobs.summaries import check_section, job_from_summary, typed

# Children that are lists even when an XML document has only one of them.
LIST_KEYS = frozenset(
    {
        "jobs",
        "clientGroups",
        "errList",
        "SourceDatabaseStats",
        "storagePolicyRetentionInfoList",
        "copyRetentionInfoList",
        "copyJobStats",
        "mediaAgents",
        "referenceCopyItems",
        "attemptsInfo",
        "vmStatus",
    }
)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidRecord(str(path), f"cannot read: {exc.strerror}") from None


def _summaries_from_document(doc: dict[str, Any], where: str) -> Iterator[tuple[str, Any]]:
    jobs = doc.get("jobs", [])
    if not isinstance(jobs, list):
        raise InvalidRecord(where, "'jobs' must be a list")
    for n, item in enumerate(jobs, 1):
        if not isinstance(item, dict) or "jobSummary" not in item:
            raise InvalidRecord(f"{where} record {n}", 'expected {"jobSummary": {...}}')
        yield f"{where} record {n}", item["jobSummary"]


def read_job_file(path: Path) -> Iterator[JobRecord]:
    """The records of a GET Job document (JSON or XML) or of an NDJSON file. The file is
    read (and a document parsed) at once; records are checked as they are taken."""
    raw = _read(path)
    where = str(path)
    try:
        if sniff(raw) == "xml":
            root = parse_xml(raw)
            if root.tag != "JobManager_JobListResponse":
                raise InvalidRecord(where, f"expected JobManager_JobListResponse, not {root.tag}")
            doc = element_to_dict(root, LIST_KEYS)
            pairs = _summaries_from_document(doc, where)
        else:
            pairs = _json_records(raw, where)
    except DocumentError as exc:
        raise InvalidRecord(where, str(exc)) from None
    return (job_from_summary(summary, at) for at, summary in pairs)


def _json_records(raw: bytes, where: str) -> Iterator[tuple[str, Any]]:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        doc = None  # several documents: NDJSON
    if isinstance(doc, dict) and "jobs" in doc:
        return _summaries_from_document(doc, where)
    if isinstance(doc, dict):
        return iter([(f"{where} line 1", doc.get("jobSummary", doc))])
    return ndjson_summaries(raw, where)


def is_ndjson(first_line: bytes) -> bool:
    """Whether a file that starts with this line is NDJSON: the line is a whole JSON
    object of its own (a document's first line is not, or it holds the "jobs")."""
    try:
        item = orjson.loads(first_line)
    except orjson.JSONDecodeError:
        return False
    return isinstance(item, dict) and "jobs" not in item


def ndjson_summaries(raw: bytes, where: str, first_line: int = 1) -> Iterator[tuple[str, Any]]:
    """(where, jobSummary) of NDJSON lines, not yet checked; `first_line` numbers the
    first line for errors."""
    for number, line in enumerate(raw.splitlines(), first_line):
        if not line.strip():
            continue
        at = f"{where} line {number}"
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InvalidRecord(at, f"not valid JSON: {exc}") from None
        yield at, item.get("jobSummary", item) if isinstance(item, dict) else item


def read_advanced_details(path: Path, info_type: int) -> dict[str, JsonObject]:
    """The sections of an AdvancedDetails document saved for one job, checked against
    the info type it was fetched with."""
    where = str(path)
    problem = vocab.info_type_problem(info_type)
    if problem:
        raise InvalidRecord(where, problem)
    raw = _read(path)
    try:
        if sniff(raw) == "xml":
            root = parse_xml(raw)
            if root.tag != "JobManager_AdvanceJobDetailsResp":
                raise InvalidRecord(
                    where, f"expected JobManager_AdvanceJobDetailsResp, not {root.tag}"
                )
            doc: Any = typed(element_to_dict(root, LIST_KEYS), "")
        else:
            doc = orjson.loads(raw)
    except (DocumentError, orjson.JSONDecodeError) as exc:
        raise InvalidRecord(where, f"unreadable document: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidRecord(where, "expected a JSON object")
    if "errorCode" in doc:
        raise InvalidRecord(where, f"the document is an error answer: {doc.get('errorMessage')!r}")
    wanted = {vocab.INFO_SECTIONS[bit] for bit in vocab.info_bits(info_type)}
    for key, value in doc.items():
        if key not in wanted:
            raise InvalidRecord(
                where,
                f"section {key!r} does not belong to infoType {info_type}"
                f" (expected {', '.join(sorted(wanted))})",
            )
        check_section(key, value, where)
    if not doc:
        raise InvalidRecord(where, "the document has no section")
    return doc
