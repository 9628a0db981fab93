"""`cvjobs import` of NDJSON in worker processes: pieces cut at lines, the same catalogue as
checking in one process, errors that name the right line, and nothing written on failure."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cvjobs import demo, loader
from cvjobs.cli import main
from cvjobs.records import summary_of
from tests.catalogues import Catalogue, Templates


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
    pieces = list(loader.pieces(path, size))
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
    monkeypatch.setattr(loader, "PIECE_BYTES", 20_000)  # about 15 records a piece
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
    monkeypatch.setattr(loader, "PIECE_BYTES", 20_000)
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
    monkeypatch.setattr(loader, "PIECE_BYTES", 20_000)
    path = tmp_path / "jobs.ndjson"
    lines = write_demo(path, 300)
    path.write_text("\n".join([*lines, lines[3]]) + "\n")
    assert import_ndjson(empty_catalogue, path, 2) == 1
    assert "appears more than once" in capsys.readouterr().err
    assert empty_catalogue.scalar("SELECT count(*) FROM jobs") == 0
