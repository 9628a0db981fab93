"""`/cvjobs/v1/webhooks`: the webhooks of `cvjobs webhook`, for administrators, in JSON.
A hook's secret is shown once, in the answer that made it (an add, a rotation)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from cvjobs.errors import BadRequest
from cvjobs.http import queries
from cvjobs.http import webhook_operations as ops
from cvjobs.http.dispatch import Context, Route, single_query
from cvjobs.model import Webhook
from cvjobs.render.webhooks import delivery_json, webhook_json
from cvjobs.service.webhooks import DEFAULT_ROTATION_HOURS, MAX_DELIVERIES, require_admin

DEFAULT_DELIVERIES = 50
ADD_KEYS = frozenset({"url", "events", "clients", "secret", "template"})


def _admin(ctx: Context) -> None:
    assert ctx.account is not None
    require_admin(ctx.account)


def _path_id(ctx: Context, name: str = "hook_id") -> int:
    """An id of the path (the webhook's by default)."""
    return queries.whole(ctx.params[name], name, low=1)


def _body(ctx: Context, keys: frozenset[str]) -> dict[str, Any]:
    body = ctx.body_object()
    unknown = sorted(set(body) - keys)
    if unknown:
        raise BadRequest(
            f"unknown keys {', '.join(unknown)[:200]}; known: {', '.join(sorted(keys))}"
        )
    return body


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key, "")
    if not isinstance(value, str):
        raise BadRequest(f"{key} is a string")
    return value


def _hook(ctx: Context, hook: Webhook, **extra: object) -> Response:
    return ctx.respond("", {"webhook": webhook_json(hook, ctx.services.clock()), **extra})


async def list_webhooks(ctx: Context) -> Response:
    _admin(ctx)
    hooks = await ctx.services.webhooks.hooks()
    now = ctx.services.clock()
    return ctx.respond("", {"webhooks": [webhook_json(h, now) for h in hooks]})


async def add_webhook(ctx: Context) -> Response:
    _admin(ctx)
    body = _body(ctx, ADD_KEYS)
    events, clients = body.get("events"), body.get("clients", [])
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise BadRequest("events is a list of event names")
    if not isinstance(clients, list) or not all(type(c) is int and 1 <= c < 2**53 for c in clients):
        raise BadRequest("clients is a list of client ids")
    hook = await ctx.services.webhooks.add(
        _text(body, "url"), events, clients, _text(body, "secret"), _text(body, "template")
    )
    return _hook(ctx, hook, secret=hook.secret)


async def get_webhook(ctx: Context) -> Response:
    _admin(ctx)
    return _hook(ctx, await ctx.services.webhooks.get(_path_id(ctx)))


async def remove_webhook(ctx: Context) -> Response:
    _admin(ctx)
    hook_id = _path_id(ctx)
    await ctx.services.webhooks.remove(hook_id)
    return ctx.respond("", {"removed": hook_id})


async def enable_webhook(ctx: Context) -> Response:
    _admin(ctx)
    return _hook(ctx, await ctx.services.webhooks.enable(_path_id(ctx)))


async def rotate_secret(ctx: Context) -> Response:
    _admin(ctx)
    body = _body(ctx, frozenset({"secret", "keepOldHours"}))
    hours = body.get("keepOldHours", DEFAULT_ROTATION_HOURS)
    if type(hours) is not int:
        raise BadRequest("keepOldHours is a whole number of hours")
    hook = await ctx.services.webhooks.rotate(_path_id(ctx), _text(body, "secret"), hours)
    return _hook(ctx, hook, secret=hook.secret)


async def set_template(ctx: Context) -> Response:
    _admin(ctx)
    body = _body(ctx, frozenset({"template"}))
    return _hook(
        ctx, await ctx.services.webhooks.set_template(_path_id(ctx), _text(body, "template"))
    )


async def test_webhook(ctx: Context) -> Response:
    _admin(ctx)
    hook_id = _path_id(ctx)
    await ctx.services.webhooks.queue_test(hook_id)
    return ctx.respond("", {"queued": hook_id})


async def list_deliveries(ctx: Context) -> Response:
    _admin(ctx)
    raw = single_query(ctx, "limit")
    limit = (
        DEFAULT_DELIVERIES
        if raw is None
        else queries.whole(raw, "limit", low=1, high=MAX_DELIVERIES)
    )
    found = await ctx.services.webhooks.deliveries(_path_id(ctx), limit)
    return ctx.respond("", {"deliveries": [delivery_json(d) for d in found]})


async def replay_delivery(ctx: Context) -> Response:
    _admin(ctx)
    delivery_id = _path_id(ctx, "delivery_id")
    await ctx.services.webhooks.replay(delivery_id, _path_id(ctx))
    return ctx.respond("", {"queued": delivery_id})


ONE = "webhooks/{hook_id}"
ROUTES: list[Route] = [
    Route("GET", "webhooks", list_webhooks, native=True, doc=ops.LIST),
    Route("POST", "webhooks", add_webhook, native=True, doc=ops.ADD),
    Route("GET", ONE, get_webhook, native=True, doc=ops.GET),
    Route("DELETE", ONE, remove_webhook, native=True, doc=ops.REMOVE),
    Route("POST", ONE + "/enable", enable_webhook, native=True, doc=ops.ENABLE),
    Route("POST", ONE + "/rotate", rotate_secret, native=True, doc=ops.ROTATE),
    Route("PUT", ONE + "/template", set_template, native=True, doc=ops.TEMPLATE),
    Route("POST", ONE + "/test", test_webhook, native=True, doc=ops.TEST),
    Route("GET", ONE + "/deliveries", list_deliveries, native=True, doc=ops.DELIVERIES),
    Route(
        "POST",
        ONE + "/deliveries/{delivery_id}/replay",
        replay_delivery,
        native=True,
        doc=ops.REPLAY,
    ),
]
