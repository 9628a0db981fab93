"""The administrators' commands: `cvjobs user`, `cvjobs token` and `cvjobs audit`.

They work on the catalogue directly (a running server sees the changes within its
5-second session cache), so they need no login; whoever can write the catalogue file or
database is an administrator already.
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from cvjobs.commands.bulk import with_db
from cvjobs.config import load
from cvjobs.errors import BadRequest
from cvjobs.logs import shown
from cvjobs.model import ROLES, VIEWER, AuditQuery, Scope
from cvjobs.service.accounts import AccountService
from cvjobs.service.audit import ACTIONS as AUDIT_ACTIONS
from cvjobs.service.auth import AuthService
from cvjobs.store import open_store
from cvjobs.store.protocols import Store

_DURATION = re.compile(r"(\d+)([mhdy])")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "y": 365 * 86400}


def duration(text: str) -> int:
    """Seconds from '90d', '12h', '30m' or '1y'."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match or len(match.group(1)) > 6:
        raise argparse.ArgumentTypeError(f"expected a duration like 90d, 12h, 30m or 1y: {text!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _names(text: str) -> list[str]:
    return [word for word in text.split(",") if word.strip()]


def scope_options(parser: argparse.ArgumentParser, what: str) -> None:
    options = parser.add_argument_group("scope", what or None)
    options.add_argument("--all", action="store_true", help="every client")
    options.add_argument("--clients", type=_names, default=[], help="client names or ids")
    options.add_argument("--groups", type=_names, default=[], help="client group names or ids")


def add_parsers(sub: Any) -> None:
    def password_options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--generate-password",
            action="store_true",
            help="make a random password and print it once (otherwise it is asked for,"
            " or read from the first line of standard input when that is not a terminal)",
        )

    user = sub.add_parser(
        "user",
        help="manage accounts: roles and scopes",
        description="Accounts of this server. Roles: admin (everything), operator (read, job"
        " actions and ingest within its scope), viewer (read within its scope). A scope is"
        " all clients, or a list of clients and client groups; a job outside it looks"
        " exactly like one that does not exist.",
    )
    users = user.add_subparsers(dest="user_command", required=True, metavar="COMMAND")
    add = with_db(users.add_parser("add", help="create an account"))
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default=VIEWER, help="(default: viewer)")
    scope_options(add, "what it sees; without any, an operator or viewer sees no client")
    password_options(add)
    with_db(users.add_parser("list", help="list accounts with role, state and scope"))
    passwd = with_db(users.add_parser("passwd", help="set a new password (ends its logins)"))
    passwd.add_argument("name")
    password_options(passwd)
    for verb, what in (
        ("disable", "refuse its logins and tokens"),
        ("enable", "allow again (a lock-out stays: see unlock)"),
        ("unlock", "lift a lock-out after failed logins, before it runs out"),
    ):
        with_db(users.add_parser(verb, help=what)).add_argument("name")
    role = with_db(users.add_parser("role", help="change an account's role"))
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    scope = with_db(
        users.add_parser(
            "scope",
            help="set which jobs an account sees",
            description="Set an account's scope: --all, or --clients and/or --groups, each a"
            " comma-separated list of names or ids. Administrators always see everything.",
        )
    )
    scope.add_argument("name")
    scope_options(scope, "")

    token = sub.add_parser(
        "token",
        help="manage long-lived access tokens",
        description="Access tokens for automation, sent as 'Authorization: Bearer TOKEN' or"
        " 'Authtoken: Bearer TOKEN'. A token is shown once, when it is made; only its hash"
        " is kept.",
    )
    tokens = token.add_subparsers(dest="token_command", required=True, metavar="COMMAND")
    create = with_db(tokens.add_parser("create", help="make a token and print it once"))
    create.add_argument("--user", required=True, help="the account the token acts as")
    create.add_argument(
        "--expires", type=duration, required=True, help="lifetime: 90d, 12h, 30m or 1y"
    )
    create.add_argument("--name", default="", help="what the token is for")
    with_db(tokens.add_parser("list", help="list tokens (never their secrets)"))
    revoke = with_db(tokens.add_parser("revoke", help="revoke a token by id"))
    revoke.add_argument("token_id", type=int, metavar="ID")

    audit = with_db(
        sub.add_parser(
            "audit",
            help="show the audit log",
            description="Logins, failed logins, lock-outs, account and token changes, job"
            " actions and ingest writes, newest first.",
        )
    )
    audit.add_argument("--user", help="only this account")
    audit.add_argument(
        "--action", help=f"only this action: {', '.join(AUDIT_ACTIONS)}", metavar="ACTION"
    )
    audit.add_argument("--job", type=int, help="only this job")
    audit.add_argument("--since", type=duration, help="only this recent: 1d, 12h, ...")
    audit.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")


def _when(epoch: int) -> str:
    if not epoch:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _password(args: argparse.Namespace) -> str:
    if args.generate_password:
        password = secrets.token_urlsafe(12)
        print(f"password: {password}  (shown once)")
        return password
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise BadRequest("the passwords differ")
    return first


async def _user(service: AccountService, store: Store, args: argparse.Namespace) -> None:
    command = args.user_command
    if command == "add":
        await service.must_be_new(args.name)  # before a password is asked for or shown
        account = await service.add(
            args.name,
            _password(args),
            args.role,
            everything=args.all,
            clients=args.clients,
            groups=args.groups,
        )
        scope = account.sees
        seen = describe(scope, await _entity_names(store, [scope]))
        print(f"account {shown(account.name)} ({account.role}) created; it sees {seen}")
        if not scope.everything and not scope.clients and not scope.groups:
            print(f"  give it clients: cvjobs user scope {shown(account.name)} --clients ...")
    elif command == "list":
        rows = await service.users()
        names = await _entity_names(store, [r.account.scope for r in rows])
        now = int(time.time())
        for r in rows:
            a = r.account
            state = "disabled" if a.disabled else "active"
            if r.locked_until > now:
                state += f", locked for {r.locked_until - now} s"
            seen = "all clients" if a.is_admin else describe(a.scope, names)
            print(f"{shown(a.name)}\t{a.role}\t{state}\t{shown(seen)}")
    elif command == "passwd":
        await service.must_exist(args.name)
        await service.set_password(args.name, _password(args))
        print(f"{args.name}: password changed; its logins were ended")
    elif command in ("disable", "enable"):
        locked = await service.set_disabled(args.name, command == "disable")
        print(f"{args.name}: {command}d")
        if locked and command == "enable":
            print(
                f"  it is still locked out for {locked} s after failed logins:"
                f" cvjobs user unlock {shown(args.name)}"
            )
    elif command == "unlock":
        was = await service.unlock(args.name)
        print(f"{args.name}: {'unlocked' if was else 'was not locked; its failed logins reset'}")
    elif command == "role":
        await service.set_role(args.name, args.role)
        print(f"{args.name}: {args.role}")
    elif command == "scope":
        if not (args.all or args.clients or args.groups):
            raise BadRequest("give --all, or --clients and/or --groups")
        scope = await service.set_scope(
            args.name, everything=args.all, clients=args.clients, groups=args.groups
        )
        print(f"{args.name} sees {describe(scope, await _entity_names(store, [scope]))}")


async def _entity_names(store: Store, scopes: list[Scope]) -> dict[tuple[str, int], str]:
    names: dict[tuple[str, int], str] = {}
    for table, kind in (("clients", "client"), ("client_groups", "group")):
        ids = {i for s in scopes for i in (s.clients if kind == "client" else s.groups)}
        for entity_id, name in (await store.entity_names(table, ids)).items():
            names[kind, entity_id] = name
    return names


def describe(scope: Scope, names: dict[tuple[str, int], str]) -> str:
    if scope.everything:
        return "all clients"
    parts = [
        f"{kind} {names.get((kind, i), '?')} ({i})"
        for kind, ids in (("client", scope.clients), ("group", scope.groups))
        for i in sorted(ids)
    ]
    return ", ".join(parts) or "no clients"


async def _token(service: AccountService, args: argparse.Namespace) -> None:
    command = args.token_command
    if command == "create":
        token, token_id = await service.create_token(args.user, args.expires, args.name)
        print(f"token {token_id} for {args.user}, expires {_when(int(time.time()) + args.expires)}")
        print(token)
        print("(shown once: keep it now; send it as 'Authorization: Bearer <token>')")
    elif command == "list":
        now = int(time.time())
        for t in await service.tokens():
            state = "revoked" if t.revoked_at else "expired" if t.expires_at <= now else "live"
            print(
                f"{t.token_id}\t{shown(t.account.name)}\t{state}\texpires {_when(t.expires_at)}"
                f"\tlast used {_when(t.last_used)}\t{shown(t.name)}"
            )
    else:
        await service.revoke_token(args.token_id)
        print(f"token {args.token_id} revoked")


async def _audit(store: Store, args: argparse.Namespace) -> None:
    if not 1 <= args.limit <= 100_000:
        raise BadRequest("--limit takes 1 to 100000")
    if args.action is not None and args.action not in AUDIT_ACTIONS:
        raise BadRequest(f"unknown action {args.action!r}; known: {', '.join(AUDIT_ACTIONS)}")
    query = AuditQuery(
        since=int(time.time()) - args.since if args.since else 0,
        user=args.user,
        action=args.action,
        job_id=args.job,
        limit=args.limit,
    )
    for e in await store.audit(query):
        if args.json:
            print(
                json.dumps(
                    {
                        "time": e.time,
                        "user": e.user,
                        "address": e.address,
                        "action": e.action,
                        "jobId": e.job_id,
                        "outcome": e.outcome,
                        "detail": e.detail,
                    }
                )
            )
        else:
            job = f"job {e.job_id}" if e.job_id else "-"
            print(
                f"{_when(e.time)}\t{shown(e.user) or '-'}\t{shown(e.address) or '-'}"
                f"\t{shown(e.action)}\t{job}\t{e.outcome}\t{shown(e.detail)}"
            )


async def run(args: argparse.Namespace) -> int:
    store = await open_store(load({"db": args.db}).db, create=False)
    try:
        auth = AuthService(store, clock=time.time, idle_seconds=1800)
        service = AccountService(store, auth, clock=time.time, actor=f"cli:{getpass.getuser()}")
        commands: dict[str, Callable[[], Awaitable[None]]] = {
            "user": lambda: _user(service, store, args),
            "token": lambda: _token(service, args),
            "audit": lambda: _audit(store, args),
        }
        await commands[args.command]()
    finally:
        await store.close()
    return 0
