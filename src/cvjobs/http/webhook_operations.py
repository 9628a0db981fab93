"""The OpenAPI operations of /cvjobs/v1/webhooks (http/webhook_routes.py)."""

from __future__ import annotations

from typing import Final

from cvjobs import vocab
from cvjobs.http.openapi import JsonSchema, body, closed, integer, obj, path, query, responses
from cvjobs.service.webhooks import MAX_DELIVERIES, MAX_ROTATION_HOURS, MAX_TEMPLATE

ADMIN = " Administrators only (403 for anyone else)."
_STRING = {"type": "string"}
_EVENTS = {"type": "array", "items": {"type": "string", "enum": list(vocab.WEBHOOK_EVENTS)}}
WEBHOOK: Final = obj(
    ("id", "url", "events", "clients", "enabled"),
    id=integer(1),
    url=_STRING,
    events=_EVENTS,
    clients={"type": "array", "items": integer(1)},
    enabled={"type": "boolean"},
    disabledReason=_STRING,
    createdAt=integer(),
    template=_STRING,
    oldSecretUntil=integer(),
)
_ONE = responses(obj(("webhook",), webhook=WEBHOOK), native=True)
_WITH_SECRET = responses(obj(("webhook", "secret"), webhook=WEBHOOK, secret=_STRING), native=True)
_HOOK = path("hook_id")

LIST: Final[JsonSchema] = {
    "summary": "the webhooks (never their secrets)." + ADMIN,
    "responses": responses(
        obj(("webhooks",), webhooks={"type": "array", "items": WEBHOOK}), native=True
    ),
}
ADD: Final[JsonSchema] = {
    "summary": "add a webhook, told of changes from now on; the answer shows its secret once."
    + ADMIN,
    "requestBody": body(
        {
            **closed(
                url=_STRING,
                events=_EVENTS,
                clients={"type": "array", "items": integer(1, 2**53 - 1)},
                secret={"type": "string", "pattern": "^whsec_"},
                template={"type": "string", "maxLength": MAX_TEMPLATE},
            ),
            "required": ["url", "events"],
        },
        xml=False,
    ),
    "responses": _WITH_SECRET,
}
GET: Final[JsonSchema] = {
    "summary": "one webhook." + ADMIN,
    "parameters": [_HOOK],
    "responses": _ONE,
}
REMOVE: Final[JsonSchema] = {
    "summary": "remove a webhook and its deliveries." + ADMIN,
    "parameters": [_HOOK],
    "responses": responses(obj(("removed",), removed=integer(1)), native=True),
}
ENABLE: Final[JsonSchema] = {
    "summary": "enable a webhook again (one an endpoint's 410 disabled): told of changes"
    " from now on." + ADMIN,
    "parameters": [_HOOK],
    "responses": _ONE,
}
ROTATE: Final[JsonSchema] = {
    "summary": "a new signing secret (shown once); the old one signs too for keepOldHours"
    " (24)." + ADMIN,
    "parameters": [_HOOK],
    "requestBody": body(
        closed(
            secret={"type": "string", "pattern": "^whsec_"},
            keepOldHours=integer(0, MAX_ROTATION_HOURS),
        ),
        xml=False,
    ),
    "responses": _WITH_SECRET,
}
TEMPLATE: Final[JsonSchema] = {
    "summary": "set (or, empty, clear) the Jinja2 template that makes the webhook's body." + ADMIN,
    "parameters": [_HOOK],
    "requestBody": body(
        {
            **closed(template={"type": "string", "maxLength": MAX_TEMPLATE}),
            "required": ["template"],
        },
        xml=False,
    ),
    "responses": _ONE,
}
TEST: Final[JsonSchema] = {
    "summary": "queue a webhook.test message to the webhook." + ADMIN,
    "parameters": [_HOOK],
    "responses": responses(obj(("queued",), queued=integer(1)), native=True),
}
DELIVERIES: Final[JsonSchema] = {
    "summary": "the webhook's deliveries, newest first." + ADMIN,
    "parameters": [_HOOK, query("limit", integer(1, MAX_DELIVERIES))],
    "responses": responses(
        obj(("deliveries",), deliveries={"type": "array", "items": obj(("id", "state"))}),
        native=True,
    ),
}
REPLAY: Final[JsonSchema] = {
    "summary": "send a delivery of the webhook again, from its first attempt." + ADMIN,
    "parameters": [_HOOK, path("delivery_id")],
    "responses": responses(obj(("queued",), queued=integer(1)), native=True),
}
