"""`cvjobs rpo`: each client group's recovery point objective, and the clients past
theirs now (service/rpo.py has the rules; a running server tells webhooks, job.overdue)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from cvjobs.commands.bulk import with_db
from cvjobs.config import DEFAULTS, load
from cvjobs.logs import shown
from cvjobs.service.rpo import MAX_RPO_HOURS, RpoService
from cvjobs.store import open_store


def add_parsers(sub: Any) -> None:
    rpo = sub.add_parser(
        "rpo",
        help="recovery point objectives: how recent each client's last good backup must be",
        description="Each client should have a successful backup within its RPO: the"
        " smallest RPO of its client groups that have one, else --rpo-hours"
        f" ({DEFAULTS.rpo_hours}). A running server tells webhooks subscribed to"
        " job.overdue of each client past it, once until it backs up again.",
    )
    rpos = rpo.add_subparsers(dest="rpo_command", required=True, metavar="COMMAND")
    set_ = with_db(rpos.add_parser("set", help="give a client group an RPO"))
    set_.add_argument("group", help="the client group's id or name")
    set_.add_argument(
        "hours", type=int, help=f"1 to {MAX_RPO_HOURS}; 0: the default (--rpo-hours) again"
    )
    with_db(rpos.add_parser("list", help="client groups and their RPOs"))
    with_db(rpos.add_parser("overdue", help="clients past their RPO now, most overdue first"))


def _when(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch)) if epoch else "never"


def _hours(seconds: int) -> str:
    return f"{seconds / 3600:g} h"


def _span(seconds: int) -> str:
    """`3 d 4 h`, `5 h 12 min`, `7 min`."""
    days, rest = divmod(max(0, seconds), 86_400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


async def run(args: argparse.Namespace) -> int:
    settings = load({"db": args.db})
    store = await open_store(settings.db, create=False)
    try:
        rpo = RpoService(store, default_hours=settings.rpo_hours)
        if args.rpo_command == "set":
            gid, name = await rpo.set_group(args.group, args.hours)
            said = f"{args.hours} h" if args.hours else f"the default ({settings.rpo_hours} h)"
            print(f"client group {gid} ({shown(name)}): RPO {said}")
        elif args.rpo_command == "list":
            print(f"default (--rpo-hours): {settings.rpo_hours} h")
            for gid, name, seconds in await rpo.groups():
                print(f"{gid}\t{shown(name)}\t{_hours(seconds) if seconds else 'default'}")
        else:
            now = int(time.time())
            overdue = sorted(await rpo.overdue(now), key=lambda found: found[1])
            for f, since in overdue:
                print(
                    f"{f.client_id}\t{shown(f.client)}\tRPO"
                    f" {_hours(f.rpo_seconds or rpo.default_seconds)}"
                    f"\tlast successful backup {_when(f.last_success_end)}"
                    f"\toverdue for {_span(now - since)}"
                )
            if not overdue:
                print("no client is past its RPO")
    finally:
        await store.close()
    return 0
