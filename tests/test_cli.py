"""The command line: help texts, errors, demo."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from cvjobs.cli import build_parser, main
from cvjobs.config import ENV_ONLY, SETTINGS
from cvjobs.errors import LoginFailed
from cvjobs.service.auth import AuthService, login_rules
from cvjobs.store import open_store
from tests.catalogues import PG_ADMIN, pg_url, postgres_problem
from tests.conftest import CVJOBS, FIXTURES


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


def cvjobs(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The real `cvjobs` command, in `cwd`, with no CVJOBS_* variable but those given."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CVJOBS_")}
    return subprocess.run(
        [str(CVJOBS), *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "command",
    [
        ["user", "list"],
        ["user", "add", "ops", "--generate-password"],
        ["token", "list"],
        ["audit"],
        ["copy", "--from", "nope.db", "--to", "copy.db"],
        ["import", "--job-id", "1452", "--info-type", "16", "advanced.json"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_a_missing_catalogue_is_refused_naming_its_absolute_path(
    tmp_path: Path, command: list[str]
) -> None:
    shutil.copy(FIXTURES / "seed_job1452_advanced.json", tmp_path / "advanced.json")
    before = set(tmp_path.iterdir())
    db = [] if command[0] == "copy" else ["--db", "nope.db"]
    done = cvjobs(*command, *db, cwd=tmp_path)
    assert done.returncode == 2, done
    assert f"there is no catalogue at {tmp_path / 'nope.db'}" in done.stderr
    assert done.stderr.count("\n") == 1 and done.stdout == ""
    assert set(tmp_path.iterdir()) == before  # nothing made, not even the copy's target


def test_the_commands_that_make_a_catalogue_say_so(tmp_path: Path) -> None:
    made = cvjobs("demo", "--jobs", "3", "--db", "new.db", cwd=tmp_path)
    assert made.returncode == 0 and f"new catalogue {tmp_path / 'new.db'}" in made.stderr
    again = cvjobs("demo", "--jobs", "3", "--db", "new.db", cwd=tmp_path)
    assert again.returncode == 0 and "new catalogue" not in again.stderr
    copied = cvjobs("copy", "--from", "new.db", "--to", "copy.db", cwd=tmp_path)
    assert copied.returncode == 0 and f"new catalogue {tmp_path / 'copy.db'}" in copied.stderr


def test_an_unsupported_url_scheme_is_named(tmp_path: Path) -> None:
    done = cvjobs("user", "list", "--db", "mysql://root@127.0.0.1/cvjobs", cwd=tmp_path)
    assert done.returncode == 2
    assert "unsupported URL scheme 'mysql'" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_sqlite_url_names_an_absolute_path(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = tmp_path / "abs.db"
    done = cvjobs("demo", "--jobs", "2", "--db", f"sqlite://{target}", cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert target.is_file() and list(elsewhere.iterdir()) == []


def test_cvjobs_db_works_for_every_command(tmp_path: Path) -> None:
    env = {"CVJOBS_DB": str(tmp_path / "env.db")}
    assert cvjobs("demo", "--jobs", "2", cwd=tmp_path, env=env).returncode == 0
    added = cvjobs("user", "add", "ops", "--all", cwd=tmp_path, env=env, stdin="ops-pass-1\n")
    assert added.returncode == 0, added.stderr
    listed = cvjobs("user", "list", cwd=tmp_path, env=env)
    assert "ops" in listed.stdout
    assert cvjobs("audit", cwd=tmp_path, env=env).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".db") == ["env.db"]


def test_a_missing_search_path_schema_says_so(tmp_path: Path) -> None:
    problem = postgres_problem()
    if problem:
        pytest.skip(problem)
    url = pg_url(PG_ADMIN.rsplit("/", 1)[1], "no_such_schema_here")
    done = cvjobs("user", "list", "--db", url, cwd=tmp_path)
    assert done.returncode == 2
    assert "the schema 'no_such_schema_here' in search_path does not exist" in done.stderr


ROOT = Path(__file__).parent.parent


def test_scripts_cvjobs_runs_in_the_current_directory(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(ROOT / "scripts" / "cvjobs"), "demo", "--jobs", "2", "--db", "here.db"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "here.db").is_file()


def readme_commands() -> list[list[str]]:
    """The `cvjobs ...` lines of the README's code blocks, up to a `|` or comment."""
    lines = (ROOT / "README.md").read_text().splitlines()
    found = []
    for line in lines:
        if line.startswith("cvjobs "):
            words = line.split("#")[0].split("|")[0].split()
            found.append(words[1:3] if words[1] in ("user", "token") else words[1:2])
    return found


@pytest.mark.parametrize("command", readme_commands(), ids=" ".join)
def test_every_readme_command_exists(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert help_of(*command, capsys=capsys)


def lock_out(db: Path, name: str) -> None:
    """Wrong logins until `name` is locked, the way the server judges them."""

    async def fail() -> None:
        store = await open_store(str(db))
        auth = AuthService(store, clock=time.time, idle_seconds=60)
        try:
            for _ in range(login_rules().lock_after):
                with contextlib.suppress(LoginFailed):
                    await auth.login(name, base64.b64encode(b"wrong-password").decode())
        finally:
            await store.close()

    asyncio.run(fail())


def test_unlock_and_enable_of_a_locked_account(tmp_path: Path) -> None:
    assert cvjobs("demo", "--jobs", "1", "--db", "c.db", cwd=tmp_path).returncode == 0
    add = cvjobs("user", "add", "ops", "--all", "--db", "c.db", cwd=tmp_path, stdin="ops-pass-1\n")
    assert add.returncode == 0, add.stderr
    lock_out(tmp_path / "c.db", "ops")
    assert "locked for" in cvjobs("user", "list", "--db", "c.db", cwd=tmp_path).stdout
    cvjobs("user", "disable", "ops", "--db", "c.db", cwd=tmp_path)
    enabled = cvjobs("user", "enable", "ops", "--db", "c.db", cwd=tmp_path)
    assert "still locked out for" in enabled.stdout and "cvjobs user unlock ops" in enabled.stdout
    unlocked = cvjobs("user", "unlock", "ops", "--db", "c.db", cwd=tmp_path)
    assert unlocked.returncode == 0 and "ops: unlocked" in unlocked.stdout
    listed = cvjobs("user", "list", "--db", "c.db", cwd=tmp_path).stdout
    assert "ops\tviewer\tactive\t" in listed and "locked" not in listed
    again = cvjobs("user", "unlock", "ops", "--db", "c.db", cwd=tmp_path)
    assert "was not locked" in again.stdout
    audit = cvjobs("audit", "--action", "user.unlock", "--db", "c.db", cwd=tmp_path)
    assert audit.stdout.count("user.unlock") == 2


def test_add_with_a_generated_password_for_a_taken_name_prints_no_password(
    tmp_path: Path,
) -> None:
    cvjobs("demo", "--jobs", "1", "--db", "c.db", cwd=tmp_path)
    first = cvjobs("user", "add", "ops", "--generate-password", "--db", "c.db", cwd=tmp_path)
    assert first.returncode == 0 and "password: " in first.stdout
    second = cvjobs("user", "add", "OPS", "--generate-password", "--db", "c.db", cwd=tmp_path)
    assert second.returncode == 2 and second.stdout == ""
    assert "there is already an account 'OPS'" in second.stderr


def test_copy_says_which_accounts_it_kept_or_replaces_them(tmp_path: Path) -> None:
    for db, password in (("a.db", "source-pass-1"), ("b.db", "target-pass-1")):
        cvjobs("demo", "--jobs", "1", "--db", db, cwd=tmp_path)
        cvjobs("user", "add", "admin", "--role", "admin", "--db", db, cwd=tmp_path, stdin=password)
    cvjobs("user", "add", "ops", "--all", "--db", "a.db", cwd=tmp_path, stdin="ops-pass-1\n")
    for db in ("b2.db", "b3.db"):  # two targets with their own admin and no jobs
        (tmp_path / db).write_bytes((tmp_path / "b.db").read_bytes())
        with sqlite3.connect(tmp_path / db) as conn:
            conn.execute("DELETE FROM jobs")
    kept = cvjobs("copy", "--from", "a.db", "--to", "b2.db", cwd=tmp_path)
    assert kept.returncode == 0, kept.stderr
    assert "kept the target's own admin" in kept.stdout and "--replace-accounts" in kept.stdout
    replaced = cvjobs("copy", "--from", "a.db", "--to", "b3.db", "--replace-accounts", cwd=tmp_path)
    assert replaced.returncode == 0 and "kept" not in replaced.stdout

    def hash_of(db: str) -> str:
        with sqlite3.connect(tmp_path / db) as conn:
            row = conn.execute("SELECT password_hash FROM accounts WHERE name = 'admin'")
            return str(row.fetchone()[0])

    assert hash_of("b2.db") == hash_of("b.db") != hash_of("a.db") == hash_of("b3.db")


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (["audit", "--action", "nonsense"], "unknown action 'nonsense'; known: login, lockout"),
        (["import", "--job-id", "4", "x.json"], "cvjobs import: --job-id and --info-type go"),
        (["import", "nostatus.ndjson"], "field 'status': is required"),
    ],
)
def test_messages_say_what_and_where(tmp_path: Path, command: list[str], said: str) -> None:
    cvjobs("demo", "--jobs", "1", "--db", "c.db", cwd=tmp_path)
    (tmp_path / "x.json").write_text("{}")
    (tmp_path / "nostatus.ndjson").write_text('{"jobSummary": {"jobId": 5, "jobType": "Backup"}}\n')
    done = cvjobs(*command, "--db", "c.db", cwd=tmp_path)
    assert done.returncode != 0 and said in done.stderr
    assert "import: import:" not in done.stderr and "None" not in done.stderr


def test_an_empty_import_file_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "blank.ndjson").write_text("\n \n")
    done = cvjobs("import", "empty.json", "blank.ndjson", "--db", "c.db", cwd=tmp_path)
    assert done.returncode == 0
    assert "warning: empty.json: there are no job records in it" in done.stderr
    assert "warning: blank.ndjson: there are no job records in it" in done.stderr


def test_long_work_reports_progress_unless_quiet(tmp_path: Path) -> None:
    made = cvjobs("demo", "--jobs", "300", "--db", "c.db", cwd=tmp_path)
    assert "demo: 301 jobs of 301 jobs, " in made.stderr and "done in" in made.stderr
    quiet = cvjobs("demo", "--jobs", "300", "--db", "q.db", "--quiet", cwd=tmp_path)
    assert "demo:" not in quiet.stderr and quiet.returncode == 0
    copied = cvjobs("copy", "--from", "c.db", "--to", "d.db", cwd=tmp_path)
    assert "copy: 301 jobs of 301 jobs, " in copied.stderr
    lines = "".join(
        f'{{"jobSummary": {{"jobId": {i}, "status": "Completed", "jobType": "Backup"}}}}\n'
        for i in range(1, 51)
    )
    (tmp_path / "jobs.ndjson").write_text(lines)
    size = f"{len(lines) / 1024:.1f} KiB"
    imported = cvjobs("import", "jobs.ndjson", "--db", "c.db", cwd=tmp_path)
    assert f"import: {size} of {size}, 50 jobs, " in imported.stderr, imported.stderr


def test_no_engine_says_what_it_turns_off(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(help_of("serve", capsys=capsys).split())
    said = text[text.index("--no-engine the job engine") :][:400]
    assert "turns it off" in said and "settles their suspend and kill" in said
    assert "jobs written by ingest or import are never moved" in said


def test_the_engine_lock_file_is_ignored_by_git() -> None:
    assert "*.engine-lock" in (ROOT / ".gitignore").read_text().splitlines()


def test_rpo_sets_lists_and_names_the_overdue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "d.db")
    assert main(["demo", "--jobs", "300", "--db", db, "--now", str(int(time.time()))]) == 0
    capsys.readouterr()
    assert main(["rpo", "set", "production", "6", "--db", db]) == 0
    assert capsys.readouterr().out == "client group 4 (Production): RPO 6 h\n"
    assert main(["rpo", "list", "--db", db]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0] == "default (--rpo-hours): 24 h" and "4\tProduction\t6 h" in listed
    assert main(["rpo", "overdue", "--db", db]) == 0
    overdue = capsys.readouterr().out.splitlines()
    assert overdue and all("\tRPO " in line and "\toverdue for " in line for line in overdue)
    assert main(["rpo", "set", "nosuch", "6", "--db", db]) == 2
    assert "there is no client group 'nosuch'" in capsys.readouterr().err
    assert main(["rpo", "set", "4", "9000", "--db", db]) == 2
    assert "1 to 8760 hours" in capsys.readouterr().err


def test_output_into_a_closed_pipe_is_no_traceback(tmp_path: Path) -> None:
    """As into `| head` once head has read enough: its end of the pipe is closed."""
    db = str(tmp_path / "d.db")
    assert cvjobs("demo", "--jobs", "300", "--db", db, cwd=tmp_path).returncode == 0
    read, write = os.pipe()
    os.close(read)  # closed before the command writes: its first line is refused
    try:
        done = subprocess.run(
            [str(CVJOBS), "rpo", "list", "--db", db],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)
    assert done.returncode == 0 and done.stderr == ""
