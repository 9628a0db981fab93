"""A webhook's message body (cvjobs/outbox.py sends it): `{"type": event, "timestamp":
ISO 8601, "data": {...}}`, the job's summary as GET Job shows it in JSON; or, for a hook
with a template, what the template makes of that message.

A template is Jinja2 in its sandbox (no attribute of Python's insides, no import, ranges
bounded), rendered with the message's `type`, `timestamp` and `data`, and `job` (the
data's jobSummary, or an empty mapping) and `client` (a job.overdue's client). It must
make JSON, which is what chat webhooks take, e.g. for Slack or Teams:

    {"text": {{ ("Job %s on %s: %s" | format(job.jobId, job.subclient.clientName,
                                             job.status)) | tojson }}}
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from jinja2.sandbox import SandboxedEnvironment

from cvjobs.model import Change, Delivery, Freshness, Job, Webhook
from cvjobs.render import shapes

MAX_TEMPLATED = 262_144  # bytes a template may make
_ENVIRONMENT = SandboxedEnvironment()


def message(event: str, when: int, data: dict[str, object]) -> str:
    stamp = datetime.fromtimestamp(when, UTC).isoformat().replace("+00:00", "Z")
    return orjson.dumps({"type": event, "timestamp": stamp, "data": data}).decode()


def job_data(change: Change, job: Job | None) -> dict[str, object]:
    """The job as it is now (a later change may have moved it on: its own message
    follows), or, for one deleted or gone since, its id and the record's status."""
    if job is None:
        return {"jobSummary": {"jobId": change.job_id, "status": change.new_status}}
    return {"jobSummary": shapes.job_summary(job, xml=False)}


def overdue_data(
    f: Freshness, since: int, default_seconds: int, last: Job | None
) -> dict[str, object]:
    """A job.overdue message's data: the client, its RPO, since when it is overdue, and
    its last successful backup (null if it never had one)."""
    return {
        "client": {"clientId": f.client_id, "clientName": f.client},
        "rpoSeconds": f.rpo_seconds or default_seconds,
        "overdueSince": since,
        "lastSuccessfulJob": None if last is None else shapes.job_summary(last, xml=False),
    }


def templated(template: str, body: str) -> bytes:
    """The body `template` makes of the standard message `body`; ValueError (saying
    why) when it fails or makes something other than JSON."""
    parsed = orjson.loads(body)
    data = parsed.get("data") or {}
    try:
        made = _ENVIRONMENT.from_string(template).render(
            type=parsed.get("type"),
            timestamp=parsed.get("timestamp"),
            data=data,
            job=data.get("jobSummary") or {},
            client=data.get("client") or {},
        )
    except Exception as exc:  # noqa: BLE001 - whatever a template's own code raises
        raise ValueError(f"the template failed: {type(exc).__name__}: {exc}") from None
    out = made.encode()
    if len(out) > MAX_TEMPLATED:
        raise ValueError(f"the template made over {MAX_TEMPLATED} bytes")
    try:
        orjson.loads(out)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"the template made no JSON: {exc}") from None
    return out


def webhook_json(hook: Webhook, now: float) -> dict[str, object]:
    """A webhook as the admin API shows it: never its secrets."""
    return {
        "id": hook.hook_id,
        "url": hook.url,
        "events": list(hook.events),
        "clients": list(hook.clients),
        "enabled": hook.enabled,
        "disabledReason": hook.disabled_reason,
        "createdAt": hook.created_at,
        "template": hook.template,
        "oldSecretUntil": hook.old_secret_until if len(hook.secrets_at(now)) > 1 else 0,
    }


def delivery_json(d: Delivery) -> dict[str, object]:
    return {
        "id": d.delivery_id,
        "webhookId": d.hook_id,
        "event": d.event,
        "jobId": d.job_id,
        "state": d.state,
        "attempts": d.attempts,
        "nextAt": d.next_at,
        "lastStatus": d.last_status,
        "lastError": d.last_error,
        "latencyMs": d.latency_ms,
        "createdAt": d.created_at,
        "message": orjson.Fragment(d.body),
    }
