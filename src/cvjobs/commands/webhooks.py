"""`cvjobs webhook`: add, list, remove and test webhooks, and see or replay deliveries.
A running server delivers them (service/webhooks.py)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from cvjobs import vocab
from cvjobs.commands.bulk import with_db
from cvjobs.config import host_patterns, load
from cvjobs.logs import shown
from cvjobs.render.webhooks import message
from cvjobs.service.webhooks import DEFAULT_ROTATION_HOURS, WebhookService
from cvjobs.store import open_store


def _ids(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"client ids, comma-separated: not {text!r}") from None


def _template_file(path: str) -> str:
    if not path:  # the default (argparse passes it through `type` too)
        return ""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise argparse.ArgumentTypeError(f"cannot read the template {path}: {exc}") from None


def add_parsers(sub: Any) -> None:
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
    add.add_argument(
        "--template",
        type=_template_file,
        default="",
        metavar="FILE",
        help="a Jinja2 file making the body instead of the standard message (for chat"
        ' webhooks: {"text": ...}); see the README, "Webhooks"',
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
    enable = with_db(
        hooks.add_parser("enable", help="enable a disabled webhook again (from now on)")
    )
    enable.add_argument("hook_id", type=int, metavar="ID")
    rotate = with_db(
        hooks.add_parser(
            "rotate", help="a new secret (printed once); the old one still signs for a while"
        )
    )
    rotate.add_argument("hook_id", type=int, metavar="ID")
    rotate.add_argument("--secret", default="", help="whsec_... (default: a new one)")
    rotate.add_argument(
        "--keep-old-hours",
        type=int,
        default=DEFAULT_ROTATION_HOURS,
        help=f"hours the old secret signs too, beside the new one ({DEFAULT_ROTATION_HOURS})",
    )
    template = with_db(
        hooks.add_parser("template", help="set a webhook's template (none: the standard body)")
    )
    template.add_argument("hook_id", type=int, metavar="ID")
    template.add_argument(
        "file", type=_template_file, nargs="?", default="", metavar="FILE", help="(none: clear)"
    )


def _when(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) if epoch else "-"


async def run(args: argparse.Namespace) -> int:
    settings = load({"db": args.db})
    store = await open_store(settings.db, create=False)
    try:
        service = WebhookService(
            store, store, message, allowed_hosts=host_patterns(settings.webhook_hosts)
        )
        await _command(service, args)
    finally:
        await store.close()
    return 0


async def _command(service: WebhookService, args: argparse.Namespace) -> None:
    command = args.webhook_command
    if command == "add":
        events = [e.strip() for e in args.events.split(",") if e.strip()]
        hook = await service.add(args.url, events, args.clients, args.secret, args.template)
        print(f"webhook {hook.hook_id}: {hook.url} ({', '.join(hook.events)})")
        if not args.secret:
            print(f"secret (shown once, to verify signatures): {hook.secret}")
    elif command == "list":
        for h in await service.hooks():
            state = "enabled" if h.enabled else f"disabled: {shown(h.disabled_reason)}"
            clients = ",".join(map(str, h.clients)) or "all clients"
            extra = "\ttemplated" if h.template else ""
            print(f"{h.hook_id}\t{shown(h.url)}\t{','.join(h.events)}\t{clients}\t{state}{extra}")
    elif command == "remove":
        await service.remove(args.hook_id)
        print(f"webhook {args.hook_id} removed")
    elif command == "test":
        await service.queue_test(args.hook_id)
        print(f"webhook.test queued for webhook {args.hook_id}; a running server sends it")
    elif command == "deliveries":
        for d in await service.deliveries(args.hook_id, args.limit):
            outcome = d.last_status or "-"
            print(
                f"{d.delivery_id}\twebhook {d.hook_id}\t{d.event}\tjob {d.job_id}\t{d.state}"
                f"\t{d.attempts} attempt(s)\tlast {outcome} {shown(d.last_error)}"
                f"\tnext {_when(d.next_at) if d.state == 'pending' else '-'}"
            )
    elif command == "replay":
        await service.replay(args.delivery_id)
        print(f"delivery {args.delivery_id} queued again")
    elif command == "enable":
        await service.enable(args.hook_id)
        print(f"webhook {args.hook_id} enabled; told of changes from now on")
    elif command == "rotate":
        hook = await service.rotate(args.hook_id, args.secret, args.keep_old_hours)
        print(f"webhook {hook.hook_id}: signed with the new secret from now on", end="")
        print(f", and with the old one too until {_when(hook.old_secret_until)}")
        if not args.secret:
            print(f"secret (shown once, to verify signatures): {hook.secret}")
    else:
        await service.set_template(args.hook_id, args.file)
        print(f"webhook {args.hook_id}: " + ("templated" if args.file else "standard messages"))
