"""The command line: help texts, errors, demo."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cvjobs.cli import build_parser, main
from cvjobs.config import ENV_ONLY, SETTINGS


def help_of(*args: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([*args, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    out = help_of(capsys=capsys)
    for command in ("serve", "demo", "import", "copy"):
        assert command in out
    assert "CVJOBS_ADMIN_PASSWORD" in out


def test_serve_help_explains_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    out = " ".join(help_of("serve", capsys=capsys).split())
    for setting in SETTINGS:
        if setting.name in ENV_ONLY:
            assert setting.flag not in out  # secrets never on the command line
            continue
        assert setting.flag in out and setting.env in out


@pytest.mark.parametrize("command", ["demo", "import"])
def test_subcommand_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert "--db" in help_of(command, capsys=capsys)


def test_demo_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "d.db"
    assert main(["demo", "--jobs", "50", "--db", str(db), "--now", "1764000000"]) == 0
    assert "demo jobs written" in capsys.readouterr().out
    with sqlite3.connect(db) as conn:
        assert (
            conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == 51
        )  # jobs 1..50 (4 among them) and the seed's job 1452


def test_demo_refuses_negative(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--jobs", "-1", "--db", str(tmp_path / "d.db")]) == 2
    assert "negative" in capsys.readouterr().err


def test_unusable_database_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    assert main(["demo", "--jobs", "1", "--db", str(junk)]) == 2
    assert "cannot open the SQLite catalogue" in capsys.readouterr().err
