"""`cvjobs user`, `cvjobs token` and `cvjobs audit` from the command line."""

from __future__ import annotations

import io
import json
import sys

import pytest
from starlette.testclient import TestClient

from cvjobs.app import create_app
from cvjobs.cli import main
from cvjobs.config import Settings
from tests.catalogues import Catalogue
from tests.conftest import API, JSON_HEADERS, b64

pytestmark = pytest.mark.postgres_too


def cli(db: Catalogue, *args: str, stdin: str = "") -> int:
    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        return main([args[0], *args[1:], "--db", str(db)])
    finally:
        sys.stdin = old


def test_user_lifecycle(catalogue: Catalogue, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(catalogue, "user", "add", "carol", "--role", "operator", stdin="carol-pass-1\n") == 0
    assert "carol (operator) created" in capsys.readouterr().out
    assert cli(catalogue, "user", "add", "Carol", stdin="another-pass\n") == 2
    assert "there is already an account" in capsys.readouterr().err
    assert cli(catalogue, "user", "add", "dave", stdin="short\n") == 2
    assert "at least 8 characters" in capsys.readouterr().err
    client_name = catalogue.scalar("SELECT name FROM clients ORDER BY id LIMIT 1")
    assert cli(catalogue, "user", "scope", "carol", "--clients", f"{client_name},424242") == 0
    assert cli(catalogue, "user", "scope", "carol", "--clients", "no-such-client") == 2
    assert "no client named 'no-such-client'" in capsys.readouterr().err
    assert cli(catalogue, "user", "scope", "carol", "--all", "--clients", "1") == 2
    assert cli(catalogue, "user", "role", "carol", "viewer") == 0
    assert cli(catalogue, "user", "disable", "carol") == 0
    capsys.readouterr()
    assert cli(catalogue, "user", "list") == 0
    listed = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    carol = next(line for line in listed if line[0] == "carol")
    assert carol[1:3] == ["viewer", "disabled"]
    assert f"client {client_name} (" in carol[3] and "client ? (424242)" in carol[3]
    assert cli(catalogue, "user", "enable", "carol") == 0
    assert cli(catalogue, "user", "passwd", "carol", stdin="carol-pass-2\n") == 0
    assert cli(catalogue, "user", "passwd", "nobody", stdin="whatever-123\n") == 2
    capsys.readouterr()
    assert cli(catalogue, "audit", "--action", "user.scope", "--json") == 0
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(entries) == 1 and entries[0]["user"].startswith("cli:")


def test_token_create_use_list_revoke(
    catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(catalogue, "token", "create", "--user", "viewer", "--expires", "90d") == 0
    out = capsys.readouterr().out
    token = next(line for line in out.splitlines() if line.startswith("cvat_"))
    assert "shown once" in out
    app = create_app(Settings(db=catalogue.url), run_engine=False)
    with TestClient(app) as client:
        response = client.get(API + "Job/4", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
    assert cli(catalogue, "token", "list") == 0
    listed = capsys.readouterr().out
    assert "viewer\tlive" in listed and token not in listed
    assert cli(catalogue, "token", "revoke", "1") == 0
    assert cli(catalogue, "token", "revoke", "1") == 2
    capsys.readouterr()
    assert cli(catalogue, "token", "list") == 0
    assert "viewer\trevoked" in capsys.readouterr().out
    with TestClient(create_app(Settings(db=catalogue.url), run_engine=False)) as client:
        response = client.get(API + "Job/4", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
    assert cli(catalogue, "token", "create", "--user", "nobody", "--expires", "1d") == 2
    assert cli(catalogue, "audit", "--action", "token.create") == 0
    assert "token 1 for viewer" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["5x", "0.5d", "d", "9999999d"])
def test_token_lifetimes_are_checked(
    catalogue: Catalogue, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    with pytest.raises(SystemExit):
        main(["token", "create", "--user", "viewer", "--expires", bad, "--db", str(catalogue)])
    assert "expected a duration" in capsys.readouterr().err


def test_audit_filters(catalogue: Catalogue, capsys: pytest.CaptureFixture[str]) -> None:
    cli(catalogue, "user", "add", "erin", "--generate-password")
    cli(catalogue, "user", "disable", "erin")
    capsys.readouterr()
    assert cli(catalogue, "audit", "--limit", "1") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "user.disable" in lines[0]
    assert cli(catalogue, "audit", "--since", "1h", "--user", "nobody") == 0
    assert capsys.readouterr().out == ""
    assert cli(catalogue, "audit", "--limit", "0") == 2


def test_audit_output_cannot_be_forged_by_a_user_name(
    catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    """A name sent to Login is stored as sent; `cvjobs audit` shows its newlines, tabs and
    ANSI escapes as escapes, so it stays one line of the right columns (issue 9)."""
    forged = "eve\n2026-01-01 00:00:00Z\tadmin\t127.0.0.1\tuser.role\x1b[2K\u202e"
    app = create_app(Settings(db=str(catalogue)))
    with TestClient(app) as client:
        body = {"username": forged, "password": "d3Jvbmc="}
        assert "errList" in client.post(API + "Login", json=body).text
    capsys.readouterr()
    assert cli(catalogue, "audit", "--action", "login") == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert "\x1b" not in line and "\u202e" not in line and line.count("\t") == 6
    assert "eve\\n2026-01-01 00:00:00Z\\tadmin\\t127.0.0.1\\tuser.role\\x1b[2K\\u202e" in line
    assert cli(catalogue, "audit", "--json") == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["user"] == forged


def test_a_new_account_sees_nothing_until_scoped(
    catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    """Deny by default, as the vendor does (issue 9): `user add` without --all, --clients
    or --groups makes an operator or viewer that sees no client, and says so."""
    assert cli(catalogue, "user", "add", "newbie", stdin="newbie-pass-1\n") == 0
    out = capsys.readouterr().out
    assert "it sees no clients" in out and "cvjobs user scope newbie" in out
    client_name = catalogue.scalar("SELECT name FROM clients ORDER BY id LIMIT 1")
    assert (
        cli(catalogue, "user", "add", "scoped", "--clients", client_name, stdin="pass-pass-1\n")
        == 0
    )
    assert f"it sees client {client_name} (" in capsys.readouterr().out
    assert cli(catalogue, "user", "add", "wide", "--all", stdin="pass-pass-2\n") == 0
    assert "it sees all clients" in capsys.readouterr().out
    assert cli(catalogue, "user", "add", "bad", "--clients", "no-such", stdin="pass-pass-3\n") == 2
    assert catalogue.scalar("SELECT count(*) FROM accounts WHERE name = 'bad'") == 0
    app = create_app(Settings(db=str(catalogue)))
    with TestClient(app) as client:
        for name, password, seen in (
            ("newbie", "newbie-pass-1", 0),
            ("wide", "pass-pass-2", None),
        ):
            body = {"username": name, "password": b64(password)}
            token = client.post(API + "Login", json=body, headers=JSON_HEADERS).json()["token"]
            listed = client.get(API + "Job", headers={"Authtoken": token, **JSON_HEADERS}).json()
            total = listed["totalRecordsWithoutPaging"]
            assert total == seen if seen is not None else total > 0
