"""The webhook outbox: job changes told to HTTP endpoints, signed as the Standard Webhooks
spec says (the rules of a webhook are service/webhooks.py's).

The outbox is durable. Each second the process that leads (the engine's lock) makes the
deliveries of the change log's new records for each enabled hook and moves the hook's
cursor past them, in one transaction (store/webhooks.py), then sends what is due:

- a POST of `{"type": event, "timestamp": ISO 8601, "data": {"jobSummary": ...}}` with
  `webhook-id` (the delivery's, the same on every attempt, so a receiver can drop a
  repeat), `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of
  id.timestamp.body>` under the hook's secret (and its old one while a rotation lasts);
- 2xx is delivered; 410 Gone disables the hook; a redirect is refused (an endpoint must
  be named as it answers), as are other statuses, timeouts (TIMEOUT_SECONDS) and
  connection errors, which are tried again after RETRIES (with a tenth of jitter, and at
  least the `Retry-After` a 429 or 503 asks for), about three days in all, then failed;
- every attempt is a log line: hook, delivery, attempt, status, latency.

A hook with a template is sent what its template makes of the message (render/webhooks.py),
made as each attempt is sent: a fixed template applies to the retries. A host no longer
allowed (--webhook-hosts) is sent nothing, and the attempt says why.

Each minute the same leader also tells the hooks that want job.overdue of the clients
newly past their RPO (service/rpo.py), once a spell per hook (store/rpo.py).

A delivery written but not yet marked delivered when the process dies is sent again by
the next leader: at least once, so receivers should drop repeats by `webhook-id`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

from cvjobs import vocab
from cvjobs.errors import BadRequest
from cvjobs.logs import shown
from cvjobs.model import Delivery, Scope, Webhook
from cvjobs.render.webhooks import job_data, message, overdue_data, templated
from cvjobs.service.rpo import RpoService
from cvjobs.store.protocols import ChangeLog, RpoStore, WebhookStore

log = logging.getLogger("cvjobs.webhooks")

TIMEOUT_SECONDS = 15.0
# Seconds before each retry: 5 s, 1 min, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 14 h, 20 h
# (about 62 hours), then the delivery has failed.
RETRIES = (5, 60, 300, 1800, 7200, 18_000, 36_000, 36_000, 50_400, 72_000)
MAX_RETRY_AFTER = 86_400
BATCH = 500  # change log records read per hook and round; deliveries sent per round
OVERDUE = "job.overdue"


class OutboxStore(ChangeLog, WebhookStore, RpoStore, Protocol):
    """What the outbox asks of the store."""


def signature(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of `id.timestamp.body` under each `whsec_` secret,
    space-separated (several while a secret rotates: a receiver accepts any)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1,"
        + base64.b64encode(
            hmac.new(base64.b64decode(s.removeprefix("whsec_")), signed, hashlib.sha256).digest()
        ).decode()
        for s in secrets
    )


def _retry_after(value: str | None, now: float) -> int:
    if not value:
        return 0
    if value.strip().isdigit():
        return min(int(value.strip()), MAX_RETRY_AFTER)
    try:
        return min(max(0, int(parsedate_to_datetime(value).timestamp() - now)), MAX_RETRY_AFTER)
    except (TypeError, ValueError):
        return 0


class Outbox:
    def __init__(
        self,
        store: OutboxStore,
        *,
        clock: Callable[[], float] = time.time,
        client: httpx.AsyncClient | None = None,
        rng: random.Random | None = None,
        check_url: Callable[[str], None] | None = None,
    ) -> None:
        self._store = store
        self._check_url = check_url  # raises BadRequest for a host no longer allowed
        self._clock = clock
        self._client = client
        self._rng = rng or random.Random()

    async def prune(self, before: int) -> None:
        """Forget deliveries done (delivered or failed) before `before`."""
        gone = await self._store.prune_deliveries(before)
        if gone:
            log.info("pruned %d webhook deliveries done before the retention", gone)

    # -- the outbox (the leader, each second) -------------------------------------------

    async def step(self) -> None:
        hooks = {hook.hook_id: hook for hook in await self._store.webhooks()}
        for hook in hooks.values():
            if hook.enabled:
                await self._enqueue(hook)
        await self._send_due(hooks)

    async def _enqueue(self, hook: Webhook) -> None:
        scope = Scope(everything=not hook.clients, clients=frozenset(hook.clients))
        page = await self._store.changes_after(hook.cursor, BATCH, scope)
        if hook.cursor > page.head:  # a catalogue copied over, or restored: from now on
            log.warning(
                "webhook %d: its cursor is past the change log's head; from now on", hook.hook_id
            )
            await self._store.enqueue_deliveries(hook.hook_id, hook.cursor, page.head, [])
            return
        if hook.cursor < page.pruned_through:
            log.warning(
                "webhook %d: the change log was pruned past its cursor (%d to %d);"
                " those changes are not sent",
                *(hook.hook_id, hook.cursor + 1, page.pruned_through),
            )
        if page.head <= hook.cursor and not page.changes:
            return
        now = int(self._clock())
        wanted = [(c, e) for c in page.changes for e in vocab.webhook_events(c.kind, c.new_status)]
        wanted = [(c, e) for c, e in wanted if e in hook.events]
        jobs = await self._store.get_jobs({c.job_id for c, _ in wanted if c.kind != "deleted"})
        deliveries = [
            Delivery(
                0,
                hook.hook_id,
                event,
                change.job_id,
                message(event, change.time, job_data(change, jobs.get(change.job_id))),
                next_at=now,
                created_at=now,
            )
            for change, event in wanted
        ]
        await self._store.enqueue_deliveries(
            hook.hook_id, hook.cursor, page.next_cursor(BATCH), deliveries
        )

    async def check_overdue(self, rpo: RpoService, now: int) -> None:
        """Tell each hook that wants job.overdue of each client in its scope overdue at
        `now` (service/rpo.py), once a spell: what a hook is told is recorded with the
        delivery, in one transaction, and forgotten once the client backs up. A hook
        added while a client is overdue hears of it at the next check."""
        overdue = await rpo.overdue(now)
        await self._store.clear_overdue({f.client_id for f, _ in overdue})
        hooks = [h for h in await self._store.webhooks() if h.enabled and OVERDUE in h.events]
        if not overdue or not hooks:
            return
        told = await self._store.overdue_told()
        due = [
            (hook, f, since)
            for f, since in overdue
            for hook in hooks
            if (hook.hook_id, f.client_id) not in told
            and (not hook.clients or f.client_id in hook.clients)
        ]
        jobs = await self._store.get_jobs({f.last_success_job for _, f, _ in due} - {0})
        made = int(self._clock())
        for hook, f, since in due:
            data = overdue_data(f, since, rpo.default_seconds, jobs.get(f.last_success_job))
            body = message(OVERDUE, now, data)
            # About a client, not a job (its last successful one is in the message).
            delivery = Delivery(0, hook.hook_id, OVERDUE, 0, body, next_at=made, created_at=made)
            if await self._store.mark_overdue(f.client_id, since, delivery):
                log.info(
                    "webhook %d told client %s (%d) is overdue: no successful backup within %d h",
                    hook.hook_id,
                    shown(f.client),
                    f.client_id,
                    (f.rpo_seconds or rpo.default_seconds) // 3600,
                )

    async def _send_due(self, hooks: dict[int, Webhook]) -> None:
        """Send what is due to the enabled ones of `hooks` (a hook disabled on the way
        is sent nothing more)."""
        due = await self._store.due_deliveries(int(self._clock()), BATCH)
        if not due:
            return
        client = self._client or httpx.AsyncClient(follow_redirects=False, timeout=TIMEOUT_SECONDS)
        try:
            for delivery in due:
                hook = hooks.get(delivery.hook_id)
                if (
                    hook is not None
                    and hook.enabled
                    and not await self._attempt(client, hook, delivery)
                ):
                    hooks[hook.hook_id] = replace(hook, enabled=False)
        finally:
            if self._client is None:
                await client.aclose()

    async def _attempt(self, client: httpx.AsyncClient, hook: Webhook, d: Delivery) -> bool:
        """One attempt at `d`, recorded; False if it disabled the hook (410)."""
        now = self._clock()
        started = time.perf_counter()
        status, error, wait = 0, "", 0
        try:
            if self._check_url is not None:
                self._check_url(hook.url)
            body = templated(hook.template, d.body) if hook.template else d.body.encode()
        except (ValueError, BadRequest) as exc:
            # No request made; tried again later, as the template or the settings may change.
            error = str(exc)[:300]
        else:
            status, error, wait = await self._post(client, hook, d, body, now)
        latency = int((time.perf_counter() - started) * 1000)
        attempts = d.attempts + 1
        if not error:
            state, next_at = "delivered", d.next_at
        elif status == 410:
            state, next_at = "failed", d.next_at
            await self._store.disable_webhook(
                hook.hook_id, f"the endpoint answered 410 Gone at {int(now)}"
            )
        elif attempts > len(RETRIES):
            state, next_at = "failed", d.next_at
        else:
            pause = RETRIES[attempts - 1]
            pause = max(wait, int(pause * (1 + self._rng.uniform(-0.1, 0.1))))
            state, next_at = "pending", int(now) + pause
        await self._store.record_attempt(
            replace(
                d,
                state=state,
                attempts=attempts,
                next_at=next_at,
                last_status=status,
                last_error=error,
                latency_ms=latency,
            )
        )
        log.info(
            "webhook %d delivery %d (%s) attempt %d: %s in %d ms%s",
            hook.hook_id,
            d.delivery_id,
            d.event,
            attempts,
            status or "no answer",
            latency,
            f" ({error}); {state}" if error else "",
        )
        return status != 410

    async def _post(
        self, client: httpx.AsyncClient, hook: Webhook, d: Delivery, body: bytes, now: float
    ) -> tuple[int, str, int]:
        """POST `body` signed: (status or 0, what went wrong or '', seconds asked to wait)."""
        message_id = f"msg_{d.delivery_id}"
        headers = {
            "content-type": "application/json",
            "user-agent": "cvjobs-webhooks",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now)),
            "webhook-signature": signature(hook.secrets_at(now), message_id, int(now), body),
        }
        try:
            response = await client.post(hook.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return 0, f"no answer within {TIMEOUT_SECONDS:g} s", 0
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return 0, f"{type(exc).__name__}: {exc}"[:300], 0
        status = response.status_code
        if 300 <= status < 400:
            return (
                status,
                f"redirected to {response.headers.get('location', '?')[:200]}: refused",
                0,
            )
        if not 200 <= status < 300:
            wait = _retry_after(response.headers.get("retry-after"), now)
            return status, f"answered {status}", wait
        return status, "", 0
