"""`cvjobs webhook`: add, list, remove and test webhooks, and see or replay deliveries.
A running server delivers them (service/webhooks.py)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from cvjobs import vocab
from cvjobs.config import DEFAULTS, load
from cvjobs.errors import BadRequest
from cvjobs.logs import shown
from cvjobs.outbox import Outbox
from cvjobs.service.webhooks import WebhookService
from cvjobs.store import open_store


def _ids(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"client ids, comma-separated: not {text!r}") from None


def add_parsers(sub: Any) -> None:
    def with_db(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--db", default=None, help=f"the catalogue (default: {DEFAULTS.db})")
        return parser

    hook = sub.add_parser(
        "webhook",
        help="tell HTTP endpoints when jobs change (signed, retried, durable)",
        description="Webhooks: a running server POSTs a signed message (Standard Webhooks:"
        " webhook-id, webhook-timestamp, webhook-signature) for each job change an endpoint"
        " subscribes to, retried with backoff for about three days. Events: "
        + "; ".join(f"{name}: {what}" for name, what in vocab.WEBHOOK_EVENTS.items()),
    )
    hooks = hook.add_subparsers(dest="webhook_command", required=True, metavar="COMMAND")
    add = with_db(hooks.add_parser("add", help="add an endpoint (told of changes from now on)"))
    add.add_argument("url")
    add.add_argument(
        "--events",
        required=True,
        help="comma-separated: "
        + ", ".join(e for e in vocab.WEBHOOK_EVENTS if e != "webhook.test"),
    )
    add.add_argument("--clients", type=_ids, default=[], help="only these client ids' jobs")
    add.add_argument(
        "--secret", default="", help="whsec_... to sign with (default: a new one, printed once)"
    )
    with_db(hooks.add_parser("list", help="list webhooks (never their secrets)"))
    remove = with_db(hooks.add_parser("remove", help="remove a webhook and its deliveries"))
    remove.add_argument("hook_id", type=int, metavar="ID")
    test = with_db(hooks.add_parser("test", help="queue a webhook.test message to it"))
    test.add_argument("hook_id", type=int, metavar="ID")
    deliveries = with_db(hooks.add_parser("deliveries", help="recent deliveries, newest first"))
    deliveries.add_argument("hook_id", type=int, nargs="?", metavar="ID", help="of this webhook")
    deliveries.add_argument("--limit", type=int, default=50, help="at most this many (50)")
    replay = with_db(hooks.add_parser("replay", help="send a delivery again, from its start"))
    replay.add_argument("delivery_id", type=int, metavar="DELIVERY")


def _when(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) if epoch else "-"


async def run(args: argparse.Namespace) -> int:
    store = await open_store(load({"db": args.db}).db, create=False)
    try:
        service = WebhookService(store, store)
        command = args.webhook_command
        if command == "add":
            events = [e.strip() for e in args.events.split(",") if e.strip()]
            hook = await service.add(args.url, events, args.clients, args.secret)
            print(f"webhook {hook.hook_id}: {hook.url} ({', '.join(hook.events)})")
            if not args.secret:
                print(f"secret (shown once, to verify signatures): {hook.secret}")
        elif command == "list":
            for h in await store.webhooks():
                state = "enabled" if h.enabled else f"disabled: {shown(h.disabled_reason)}"
                clients = ",".join(map(str, h.clients)) or "all clients"
                print(f"{h.hook_id}\t{shown(h.url)}\t{','.join(h.events)}\t{clients}\t{state}")
        elif command == "remove":
            if not await store.remove_webhook(args.hook_id):
                raise BadRequest(f"there is no webhook {args.hook_id}")
            print(f"webhook {args.hook_id} removed")
        elif command == "test":
            await Outbox(store).queue_test(args.hook_id)
            print(f"webhook.test queued for webhook {args.hook_id}; a running server sends it")
        elif command == "deliveries":
            if not 1 <= args.limit <= 10_000:
                raise BadRequest("--limit takes 1 to 10000")
            for d in await store.deliveries(args.hook_id, args.limit):
                outcome = d.last_status or "-"
                print(
                    f"{d.delivery_id}\twebhook {d.hook_id}\t{d.event}\tjob {d.job_id}\t{d.state}"
                    f"\t{d.attempts} attempt(s)\tlast {outcome} {shown(d.last_error)}"
                    f"\tnext {_when(d.next_at) if d.state == 'pending' else '-'}"
                )
        elif not await store.replay_delivery(args.delivery_id, int(time.time())):
            raise BadRequest(f"there is no delivery {args.delivery_id}")
        else:
            print(f"delivery {args.delivery_id} queued again")
    finally:
        await store.close()
    return 0
