"""Webhooks' rules: what a webhook may be (an http(s) URL with a host the administrator
allows, known events, a `whsec_` secret, a template that compiles), and what may be done
to one (list, remove, enable again, rotate its secret, test, replay). Only administrators
manage webhooks: they name where the server sends data. The outbox (cvjobs/outbox.py)
delivers them."""

from __future__ import annotations

import base64
import ipaddress
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlsplit

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from cvjobs import vocab
from cvjobs.errors import BadRequest, Forbidden, NoSuchWebhook
from cvjobs.model import Account, Delivery, Webhook
from cvjobs.store.protocols import ChangeLog, WebhookStore

MAX_TEMPLATE = 16_384  # characters
MAX_ROTATION_HOURS = 24 * 30
DEFAULT_ROTATION_HOURS = 24
MAX_DELIVERIES = 10_000
# The standard message of an event: (event, UNIX time, data) -> the JSON body.
Message = Callable[[str, int, dict[str, object]], str]


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def host_allowed(host: str, pattern: str) -> bool:
    """Whether `host` is one `pattern` of --webhook-hosts names: label by label, `*`
    standing for any one label (`*.example.com` is a.example.com, not a.b.example.com
    nor example.com). A pattern of numbers (`10.1.2.*`) names addresses only, so no name
    such as 10.1.2.example.com passes for one."""
    labels, wanted = host.split("."), pattern.split(".")
    if len(labels) != len(wanted):
        return False
    if all(w == "*" or w.isdigit() for w in wanted):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return False
    return all(w in ("*", label) for w, label in zip(wanted, labels, strict=True))


def require_admin(account: Account) -> None:
    if not account.is_admin:
        raise Forbidden(f"{account.name} is a {account.role}: only administrators manage webhooks")


def check_secret(secret: str) -> None:
    try:
        if not secret.startswith("whsec_") or not base64.b64decode(
            secret.removeprefix("whsec_"), validate=True
        ):
            raise ValueError("empty")
    except ValueError:
        raise BadRequest("a secret is whsec_ followed by base64 (or let one be made)") from None


def check_template(template: str) -> None:
    """A template compiles in the sandbox (render/webhooks.py renders it), or BadRequest."""
    if len(template) > MAX_TEMPLATE:
        raise BadRequest(f"a template has at most {MAX_TEMPLATE} characters")
    try:
        SandboxedEnvironment().from_string(template)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise BadRequest(f"the template does not compile{where}: {exc}") from None


class WebhookService:
    def __init__(
        self,
        store: WebhookStore,
        log: ChangeLog,
        message: Message,
        *,
        allowed_hosts: tuple[str, ...] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._log = log
        self._message = message
        self._allowed = tuple(h.lower() for h in allowed_hosts)
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    def check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadRequest(f"a webhook URL is http:// or https:// with a host, not {url[:200]!r}")
        host = parts.hostname.lower()
        if self._allowed and not any(host_allowed(host, h) for h in self._allowed):
            raise BadRequest(
                f"webhooks may be sent only to {', '.join(self._allowed)}"
                f" (--webhook-hosts), not to {host[:100]!r}"
            )

    async def add(
        self,
        url: str,
        events: list[str],
        clients: list[int],
        secret: str = "",
        template: str = "",
    ) -> Webhook:
        self.check_url(url)
        unknown = [e for e in events if e not in vocab.WEBHOOK_EVENTS]
        if unknown or not events:
            raise BadRequest(
                f"unknown events {', '.join(unknown)[:300] or '(none given)'}; known:"
                f" {', '.join(vocab.WEBHOOK_EVENTS)}"
            )
        secret = secret or new_secret()
        check_secret(secret)
        check_template(template)
        hook = Webhook(
            hook_id=0,
            url=url,
            events=tuple(dict.fromkeys(events)),
            clients=tuple(sorted(set(clients))),
            secret=secret,
            cursor=await self._log.change_head(),  # from now on
            created_at=self._now(),
            template=template,
        )
        return replace(hook, hook_id=await self._store.add_webhook(hook))

    async def hooks(self) -> list[Webhook]:
        return await self._store.webhooks()

    async def get(self, hook_id: int) -> Webhook:
        hook = await self._store.webhook(hook_id)
        if hook is None:
            raise NoSuchWebhook(f"there is no webhook {hook_id}")
        return hook

    async def remove(self, hook_id: int) -> None:
        if not await self._store.remove_webhook(hook_id):
            raise NoSuchWebhook(f"there is no webhook {hook_id}")

    async def enable(self, hook_id: int) -> Webhook:
        """Enable a hook (one disabled by a 410) again: told of changes from now on, not
        of those it missed while disabled."""
        if not await self._store.enable_webhook(hook_id, await self._log.change_head()):
            raise NoSuchWebhook(f"there is no webhook {hook_id}")
        return await self.get(hook_id)

    async def rotate(
        self, hook_id: int, secret: str = "", keep_old_hours: int = DEFAULT_ROTATION_HOURS
    ) -> Webhook:
        """A new secret signs from now on; the old one signs too for `keep_old_hours`
        (two signatures in webhook-signature), while receivers move to the new one."""
        if not 0 <= keep_old_hours <= MAX_ROTATION_HOURS:
            raise BadRequest(f"the old secret is kept 0 to {MAX_ROTATION_HOURS} hours")
        secret = secret or new_secret()
        check_secret(secret)
        until = self._now() + keep_old_hours * 3600
        if not await self._store.rotate_secret(hook_id, secret, until):
            raise NoSuchWebhook(f"there is no webhook {hook_id}")
        return await self.get(hook_id)

    async def set_template(self, hook_id: int, template: str) -> Webhook:
        check_template(template)
        if not await self._store.set_template(hook_id, template):
            raise NoSuchWebhook(f"there is no webhook {hook_id}")
        return await self.get(hook_id)

    async def queue_test(self, hook_id: int) -> None:
        """Queue a webhook.test delivery for the hook, due now."""
        hook = await self.get(hook_id)
        now = self._now()
        body = self._message("webhook.test", now, {"webhookId": hook.hook_id})
        delivery = Delivery(0, hook.hook_id, "webhook.test", 0, body, next_at=now, created_at=now)
        # The cursor stays where it is: compare and set it to itself.
        if not await self._store.enqueue_deliveries(
            hook.hook_id, hook.cursor, hook.cursor, [delivery]
        ):
            raise BadRequest("the webhook changed meanwhile; try again")

    async def deliveries(self, hook_id: int | None, limit: int) -> list[Delivery]:
        if not 1 <= limit <= MAX_DELIVERIES:
            raise BadRequest(f"a limit of deliveries is 1 to {MAX_DELIVERIES}")
        if hook_id is not None:
            await self.get(hook_id)
        return await self._store.deliveries(hook_id, limit)

    async def replay(self, delivery_id: int, hook_id: int | None = None) -> None:
        if not await self._store.replay_delivery(delivery_id, self._now(), hook_id):
            of = f" of webhook {hook_id}" if hook_id is not None else ""
            raise NoSuchWebhook(f"there is no delivery {delivery_id}{of}")
