"""`cvjobs import` of NDJSON in worker processes: pieces cut at lines, the same catalogue as
checking in one process, errors that name the right line, and nothing written on failure."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvjobs import demo, ranges
from cvjobs.cli import main
from cvjobs.commands import imports
from cvjobs.commands.plain_records import plain_job
from cvjobs.errors import InvalidRecord
from cvjobs.ranges import RANGES
from cvjobs.store.batches import EntityWriter
from cvjobs.store.rows import job_params
from cvjobs.summaries import job_from_summary, summary_of
from tests.catalogues import Catalogue, Templates

pytestmark = pytest.mark.postgres_too


def write_demo(path: Path, jobs: int) -> list[str]:
    lines = [json.dumps(summary_of(r.job)) for r in demo.records(jobs, 3, int(time.time()))]
    path.write_text("\n".join(lines) + "\n")
    return lines


@pytest.mark.parametrize("size", [1, 7, 64, 1000])
@pytest.mark.parametrize("trailing_newline", [True, False])
def test_pieces_are_whole_lines_numbered_from_one(
    tmp_path: Path, size: int, trailing_newline: bool
) -> None:
    lines = [b"a" * n for n in (3, 0, 40, 1, 17, 200, 5)]
    data = b"\n".join(lines) + (b"\n" if trailing_newline else b"")
    path = tmp_path / "f.ndjson"
    path.write_bytes(data)
    pieces = list(imports.pieces(path, size))
    assert b"".join(data[p.start : p.end] for p in pieces) == data
    expected_first = 1
    for piece in pieces:
        assert piece.first_line == expected_first
        chunk = data[piece.start : piece.end]
        assert chunk.endswith(b"\n") or piece.end == len(data)
        expected_first += chunk.count(b"\n")


def import_ndjson(db: Catalogue, path: Path, processes: int) -> int:
    return main(["import", "--db", str(db), "--processes", str(processes), str(path)])


def test_workers_build_the_same_catalogue_as_one_process(
    templates: Templates, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "PIECE_BYTES", 20_000)  # about 15 records a piece
    path = tmp_path / "jobs.ndjson"
    lines = write_demo(path, 400)
    tables = ("jobs", "clients", "subclients", "backupsets", "client_group_members")
    results = []
    for processes in (1, 2):
        db = templates.empty(backend, tmp_path, f"p{processes}")
        assert import_ndjson(db, path, processes) == 0
        results.append([db.sql(f"SELECT * FROM {table} ORDER BY 1, 2") for table in tables])
    assert results[0] == results[1]
    assert len(results[0][0]) == len(lines)


@pytest.mark.parametrize("processes", [1, 2])
def test_a_bad_line_in_a_late_piece_is_named_and_nothing_is_written(
    empty_catalogue: Catalogue,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    processes: int,
) -> None:
    monkeypatch.setattr(imports, "PIECE_BYTES", 20_000)
    path = tmp_path / "jobs.ndjson"
    lines = write_demo(path, 300)
    record = json.loads(lines[250])
    record["totalNumOfFiles"] = "many"
    lines[250] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    assert import_ndjson(empty_catalogue, path, processes) == 1
    err = capsys.readouterr().err
    assert f"{path} line 251" in err and "'totalNumOfFiles'" in err
    assert empty_catalogue.scalar("SELECT count(*) FROM jobs") == 0


def test_a_job_twice_in_different_pieces_is_refused(
    empty_catalogue: Catalogue,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(imports, "PIECE_BYTES", 20_000)
    path = tmp_path / "jobs.ndjson"
    lines = write_demo(path, 300)
    path.write_text("\n".join([*lines, lines[3]]) + "\n")
    assert import_ndjson(empty_catalogue, path, 2) == 1
    assert "appears more than once" in capsys.readouterr().err
    assert empty_catalogue.scalar("SELECT count(*) FROM jobs") == 0


# -- the plain record's fast path gives what the careful way gives ------------------------

# As a client sends them: through JSON (a demo job's status is a vocab.JobStatus, which
# JSON spells as the plain string a reader then gets).
DEMO_SUMMARIES: list[dict[str, Any]] = [
    json.loads(json.dumps(summary_of(r.job))) for r in demo.records(80, 5, 1_700_000_000)
]
FIELDS = sorted({key for s in DEMO_SUMMARIES for key in s})
NESTED = ["subclient", "destinationClient", "storagePolicy", "userName", "clientGroups"]
# Each end of every range, and one past it.
EDGES = sorted({edge + step for span in RANGES.values() for edge in span for step in (-1, 0, 1)})


def twists(value: Any) -> st.SearchStrategy[Any]:
    """Values a record might carry in place of `value`: other spellings of it, near
    misses, other JSON types, text XML cannot carry."""
    common: st.SearchStrategy[Any] = st.sampled_from(
        [None, "", [], {}, True, 0, -1, 2**63, "\x0b", "\ufffe"]
    )
    if isinstance(value, bool):
        return st.one_of(common, st.sampled_from(["true", "false", 1, 0, not value]))
    if isinstance(value, int):
        variants = [str(value), f" {value} ", float(value), value + 1, 2**31, -(2**31) - 1]
        return st.one_of(common, st.sampled_from(variants), st.sampled_from(EDGES))
    if isinstance(value, float):
        return st.one_of(common, st.sampled_from([int(value), str(value), 100.5, -0.5, 1e308]))
    if isinstance(value, str):
        variants = ["", " ", value.upper(), f" {value} ", value + "\x0b", "\x0b" + value, "7"]
        return st.one_of(common, st.sampled_from(variants), st.text(max_size=6))
    return common


def careful(summary: Any) -> tuple[Any, Any] | None:
    try:
        record = job_from_summary(summary, "x")
    except InvalidRecord:
        return None
    writer = EntityWriter()
    writer.add(record.job, record.set_client_groups)
    return job_params(record.job), entity_state(writer)


def entity_state(writer: EntityWriter) -> Any:
    return writer._named, writer._backupsets, writer._subclients, writer._members


def test_plain_records_take_the_fast_path() -> None:
    for summary in DEMO_SUMMARIES:
        assert plain_job(orjson.dumps(summary)) is not None, summary["jobId"]


@pytest.mark.slow  # seconds on purpose; the fast loop leaves it out
@settings(max_examples=600, deadline=None)
@given(base=st.sampled_from(DEMO_SUMMARIES), data=st.data())
def test_the_fast_path_agrees_with_the_careful_way(base: dict[str, Any], data: Any) -> None:
    summary = copy.deepcopy(base)
    for _ in range(data.draw(st.integers(1, 3))):
        where: Any = summary
        if data.draw(st.booleans()):  # a field of a nested entity, half the time
            parent = data.draw(st.sampled_from(NESTED))
            where = summary.get(parent)
            if isinstance(where, list):
                where = where[0] if where else None
            if not isinstance(where, dict) or not where:
                continue
        key = data.draw(st.sampled_from(sorted(where)))
        if data.draw(st.integers(0, 9)) == 0:
            where.pop(key, None)
        else:
            where[key] = data.draw(twists(where.get(key)))
    fast = plain_job(orjson.dumps(summary))
    if fast is None:
        return  # the careful way takes it, whatever it makes of it
    row, entities = fast
    writer = EntityWriter()
    writer.add_entities(*entities)
    assert careful(summary) == (row, entity_state(writer))


_MISSING = object()


def _edited(**changes: Any) -> dict[str, Any]:
    summary = copy.deepcopy(DEMO_SUMMARIES[3])
    for path, value in changes.items():
        where = summary
        *parents, key = path.split("__")
        for parent in parents:
            where = where[parent]
        if value is _MISSING:
            where.pop(key, None)
        else:
            where[key] = value
    return summary


@pytest.mark.parametrize(
    "summary",
    [
        _edited(destinationClient__clientId=0),  # named as the job's own client
        _edited(destinationClient__clientId=0, destClientName="elsewhere"),
        _edited(destinationClient=_MISSING),
        _edited(destinationClient=_MISSING, destClientName=""),
        _edited(clientGroups=None),
        _edited(clientGroups=""),
        _edited(clientGroups=[]),
        _edited(clientGroups=_MISSING),
        _edited(subclient__appName=""),
        _edited(subclient__clientId=0),
        _edited(backupLevel=_MISSING, backupLevelName="Synthetic Full"),
        _edited(jobType=" backup "),
        _edited(status="completed"),
        _edited(isAged=_MISSING, isVisible=_MISSING, percentSavings=_MISSING),
    ],
)
def test_the_fast_path_agrees_on_the_edge_cases(summary: dict[str, Any]) -> None:
    fast = plain_job(orjson.dumps(summary))
    assert fast is not None
    writer = EntityWriter()
    writer.add_entities(*fast[1])
    assert careful(summary) == (fast[0], entity_state(writer))


def test_a_wrapped_record_goes_the_careful_way_even_beside_another_record() -> None:
    outer, inner = DEMO_SUMMARIES[3], DEMO_SUMMARIES[4]
    assert plain_job(orjson.dumps(outer)) is not None
    assert plain_job(orjson.dumps({**outer, "jobSummary": inner})) is None  # inner is meant


def _renamed(name: str, job_id: int | str) -> dict[str, Any]:
    summary = copy.deepcopy(DEMO_SUMMARIES[3])
    summary["subclient"]["clientName"] = name
    summary.pop("destinationClient", None)  # which names the client too
    summary["jobId"] = job_id  # as text: the careful way
    return summary


@pytest.mark.parametrize(
    "names",
    [
        ["A", "B", "A"],  # the last use counts, not the first
        ["B", "A", " 1 B"],  # a careful record after plain ones
        ["A", "B", "", "A", " 2 B", "", "B", "A"],
    ],
)
def test_a_piece_names_its_entities_as_its_records_would_one_by_one(
    tmp_path: Path, names: list[str]
) -> None:
    """Entity sets are added once each, in the order of their last use: renames back and
    forth, ids named without a name, and a careful record between them end the same."""
    records = [
        _renamed(name.split()[-1], f" {name.split()[0]} ") if " " in name else _renamed(name, n)
        for n, name in enumerate(names, 10)
    ]
    path = tmp_path / "jobs.ndjson"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    [piece] = imports.pieces(path)
    batch = imports.prepare_piece(piece)
    writer = EntityWriter()
    for record in records:
        made = job_from_summary(copy.deepcopy(record), "x")
        writer.add(made.job, made.set_client_groups)
    assert entity_state(batch.entities) == entity_state(writer)
    assert len(batch.jobs) == len(records)


# -- value ranges: both readers refuse what is outside RANGES, naming the field -----------

WITH_GROUPS = next(s for s in DEMO_SUMMARIES if s["clientGroups"])
README = Path(__file__).parents[2] / "README.md"


def _with(key: str, value: Any) -> dict[str, Any]:
    """A plain demo summary with the field `key` of RANGES ("subclient.clientId") set."""
    summary = copy.deepcopy(WITH_GROUPS)
    parent, _, name = key.rpartition(".")
    where = summary
    if parent:
        where = summary[parent][0] if parent == "clientGroups" else summary[parent]
    where[name] = value
    return summary


@pytest.mark.parametrize("key", list(RANGES))
def test_both_readers_take_each_range_to_its_ends_and_no_further(key: str) -> None:
    low, high = RANGES[key]
    for inside in (low, high):
        summary = _with(key, inside)
        assert plain_job(orjson.dumps(summary)) is not None, (key, inside)
        assert careful(summary) is not None, (key, inside)
    for outside in (low - 1, high + 1, 2**63 - 1):
        summary = _with(key, outside)
        assert plain_job(orjson.dumps(summary)) is None, (key, outside)
        with pytest.raises(InvalidRecord, match=f"field '{key.rpartition('.')[2]}'"):
            job_from_summary(summary, "x")
        xml_spelled = _with(key, f" {outside} ")  # the careful way's other reading
        with pytest.raises(InvalidRecord, match=f"field '{key.rpartition('.')[2]}'"):
            job_from_summary(xml_spelled, "x")


def test_the_readme_shows_the_ranges_table() -> None:
    readme = README.read_text()
    for row in ranges.table_rows():
        assert row in readme, f"README.md lacks the value ranges row {row}"


# One field of each class of range, with a value just outside it (the first is what once
# stopped the engine: an elapsed time at 2^63 - 1).
OUT_OF_RANGE = [
    ("jobElapsedTime", 2**63 - 1),
    ("jobId", ranges.EXACT_MAX + 1),
    ("subclient.clientId", ranges.EXACT_MAX + 1),
    ("jobStartTime", ranges.TIME_MAX + 1),
    ("sizeOfApplication", ranges.EXACT_MAX + 1),
    ("jobSubmitErrorCode", ranges.INT32_MAX + 1),
]


@pytest.mark.parametrize(("key", "value"), OUT_OF_RANGE)
def test_import_refuses_a_number_out_of_range_and_writes_nothing(
    empty_catalogue: Catalogue,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    key: str,
    value: int,
) -> None:
    name = key.rpartition(".")[2]
    ndjson = tmp_path / "jobs.ndjson"
    lines = [json.dumps(s) for s in DEMO_SUMMARIES[:5]] + [json.dumps(_with(key, value))]
    ndjson.write_text("\n".join(lines) + "\n")
    document = tmp_path / "jobs.json"
    records = [{"jobSummary": s} for s in [*DEMO_SUMMARIES[:5], _with(key, value)]]
    document.write_text(json.dumps({"totalRecordsWithoutPaging": 6, "jobs": records}))
    for path, where in ((ndjson, "line 6"), (document, "record 6")):
        assert import_ndjson(empty_catalogue, path, 1) == 1
        err = capsys.readouterr().err
        assert f"{path} {where}" in err and f"field '{name}'" in err and str(value) in err
        assert empty_catalogue.scalar("SELECT count(*) FROM jobs") == 0


def test_an_xml_document_out_of_range_is_refused_and_nothing_is_written(
    empty_catalogue: Catalogue, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "jobs.xml"
    path.write_text(
        "<JobManager_JobListResponse totalRecordsWithoutPaging='2'>"
        "<jobs><jobSummary jobId='5' status='Completed' jobType='Backup'/></jobs>"
        "<jobs><jobSummary jobId='6' status='Completed' jobType='Backup'"
        " jobElapsedTime='9223372036854775807'/></jobs>"
        "</JobManager_JobListResponse>"
    )
    assert import_ndjson(empty_catalogue, path, 1) == 1
    err = capsys.readouterr().err
    assert "record 2" in err and "field 'jobElapsedTime'" in err
    assert empty_catalogue.scalar("SELECT count(*) FROM jobs") == 0
