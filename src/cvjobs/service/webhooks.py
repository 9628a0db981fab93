"""Webhooks' rules: what a webhook may be (an http(s) URL with a host, known events, a
`whsec_` secret), made from now on. The outbox (cvjobs/outbox.py) delivers them."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlsplit

from cvjobs import vocab
from cvjobs.errors import BadRequest
from cvjobs.model import Webhook
from cvjobs.store.protocols import ChangeLog, WebhookStore


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class WebhookService:
    def __init__(
        self, store: WebhookStore, log: ChangeLog, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._log = log
        self._clock = clock

    async def add(
        self, url: str, events: list[str], clients: list[int], secret: str = ""
    ) -> Webhook:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadRequest(f"a webhook URL is http:// or https:// with a host, not {url!r}")
        unknown = [e for e in events if e not in vocab.WEBHOOK_EVENTS]
        if unknown or not events:
            raise BadRequest(
                f"unknown events {', '.join(unknown) or '(none given)'}; known:"
                f" {', '.join(vocab.WEBHOOK_EVENTS)}"
            )
        secret = secret or new_secret()
        try:
            if not base64.b64decode(secret.removeprefix("whsec_"), validate=True):
                raise ValueError("empty")
        except ValueError:
            raise BadRequest("a secret is whsec_ followed by base64 (or let one be made)") from None
        hook = Webhook(
            hook_id=0,
            url=url,
            events=tuple(dict.fromkeys(events)),
            clients=tuple(sorted(set(clients))),
            secret=secret,
            cursor=await self._log.change_head(),  # from now on
            created_at=int(self._clock()),
        )
        return replace(hook, hook_id=await self._store.add_webhook(hook))
