"""The API's routes: parse the request, call a service, render the answer.

Handlers parse wire input strictly (a bad id or parameter is a 400 in the client's format)
and leave every rule about jobs and accounts to the services.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import replace

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from cvjobs import parse
from cvjobs.errors import BadRequest, JobActionFailed, TaskDetailsFailed
from cvjobs.http import change_routes, entity_routes, queries, webhook_routes
from cvjobs.http import operations as ops
from cvjobs.http.dispatch import (
    BIG_PAGE,
    Context,
    Route,
    request_object,
    single_query,
    token_of,
)
from cvjobs.http.streaming import PartsResponse
from cvjobs.model import EventQuery, Job, JobQuery, Scope
from cvjobs.render import advanced, lists, shapes
from cvjobs.service import lifecycle
from cvjobs.service.control import MAX_AUTO_RESUME_SECONDS
from cvjobs.service.events import SEVERITY_FLAGS


def parse_id(value: object, what: str = "job id") -> int:
    """A positive id given as digits or as a JSON integer; BadRequest otherwise."""
    if type(value) is str and value.isascii() and value.isdigit() and len(value) < 19:
        number = int(value)  # the usual case, a path segment, without the general parse
        if number:
            return number
    try:
        return parse.integer(value, low=1)
    except ValueError:
        raise BadRequest(
            f"{what} must be a positive whole number, not {str(value)[:40]!r}"
        ) from None


# -- authentication -------------------------------------------------------------------


async def login(ctx: Context) -> Response:
    body = ctx.body_object()
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise BadRequest("Login needs a username and a password (Base64)")
    timeout = body.get("timeout")
    minutes = None if timeout in (None, "", 0, "0") else parse_id(timeout, "timeout")
    session = await ctx.services.auth.login(
        username, password, minutes, ctx.address, gone=lambda: hung_up(ctx.request)
    )
    return ctx.respond("DM2ContentIndexing_CheckCredentialResp", shapes.login(session))


async def hung_up(request: Request) -> None:
    """Returns once the client has hung up. The body has been read, so the next ASGI
    message is `http.disconnect` (granian and uvicorn both send it when the connection
    closes, and wait until then)."""
    if (await request.receive())["type"] != "http.disconnect":
        # Nothing else is expected after the body; if it comes, a hang-up goes unseen.
        await asyncio.Event().wait()


async def who_am_i(ctx: Context) -> Response:
    assert ctx.account is not None
    return ctx.respond("CvEntities_ProcessingInstructionInfo", shapes.who_am_i(ctx.account))


async def renew_login_token(ctx: Context) -> Response:
    session_id = ctx.body_object().get("sessionId")
    token = session_id if isinstance(session_id, str) and session_id else token_of(ctx.request)
    session = await ctx.services.auth.renew(token)
    return ctx.respond("DM2ContentIndexing_RenewTokenResp", {"token": session.token})


async def logout(ctx: Context) -> Response:
    # The vendor answers Logout with plain text, also to JSON clients (cvpysdk reads .text).
    if await ctx.services.auth.logout(token_of(ctx.request)):
        return PlainTextResponse("User logged out")
    return PlainTextResponse("Invalid authorization token provided.")


# -- jobs -----------------------------------------------------------------------------


async def get_job(ctx: Context) -> Response:
    job_id = parse_id(ctx.params["job_id"])
    body = await ctx.services.jobs.rendered_job(
        job_id, ctx.scope, ctx.fmt.name, lambda jobs: render_jobs(ctx, jobs)
    )
    return Response(body, media_type=ctx.fmt.media_type)


def render_jobs(ctx: Context, jobs: list[Job]) -> bytes:
    return ctx.fmt.render(
        "JobManager_JobListResponse", shapes.job_list(jobs, len(jobs), xml=ctx.fmt.is_xml)
    )


async def advanced_details(ctx: Context) -> Response:
    job_id = parse_id(ctx.params["job_id"])
    raw = single_query(ctx, "infoType")
    info_type = None
    if raw is not None:
        info_type = queries.whole(raw, "infoType", low=parse.MIN_INT)
    body = await ctx.services.jobs.rendered_advanced(
        job_id,
        info_type,
        ctx.scope,
        ctx.fmt.name,
        lambda details: ctx.fmt.render(
            "JobManager_AdvanceJobDetailsResp", advanced.advanced_details(details)
        ),
    )
    return Response(body, media_type=ctx.fmt.media_type)


async def job_details(ctx: Context) -> Response:
    body = ctx.body_object()
    if "jobId" not in body:
        raise BadRequest("JobDetails needs a jobId")
    job, extras = await ctx.services.jobs.job_detail(parse_id(body["jobId"]), ctx.scope)
    return ctx.respond("JobManager_JobDetailResponse", shapes.job_detail(job, extras))


def get_query(ctx: Context) -> JobQuery:
    headers = ctx.request.headers
    return queries.from_query_string(
        ctx.request.scope["query_string"],
        headers.get("limit"),
        headers.get("offset"),
        ctx.services.now(),
        ctx.scope,
    )


def post_query(ctx: Context) -> JobQuery:
    content_type = ctx.request.headers.get("content-type", "")
    return _post_query(ctx.body, content_type, ctx.services.now(), ctx.scope)


@queries.remembered
def _post_query(raw: bytes, content_type: str, now: int, scope: Scope) -> JobQuery:
    return queries.from_post(request_object(raw, content_type), now, scope)


async def list_jobs(ctx: Context) -> Response:
    return await job_page(ctx, get_query(ctx))


async def post_jobs(ctx: Context) -> Response:
    return await job_page(ctx, post_query(ctx))


def kept_page(
    query_of: Callable[[Context], JobQuery],
) -> Callable[[Context], Awaitable[Response | None]]:
    """A list route's kept answer (JobService.kept_page), if there is one."""

    async def kept(ctx: Context) -> Response | None:
        query = query_of(ctx)
        if query.limit > BIG_PAGE:
            return None
        body = await ctx.services.jobs.kept_page(query, ctx.fmt.name)
        return None if body is None else Response(body, media_type=ctx.fmt.media_type)

    return kept


# Jobs rendered between two turns of the event loop in a big page: some 20 ms of XML.
PART_JOBS = 250


async def job_page(ctx: Context, query: JobQuery) -> Response:
    """A page of the job list. A big one (over BIG_PAGE jobs: up to 13 MB of XML) waits
    for the worker's one big-page slot, holds it until it is sent, and is rendered in
    parts as it is sent (http/streaming.py), giving the loop a turn between parts, so
    that big pages cannot stall every other request; the bytes are the same as a
    one-piece render's."""
    if query.limit <= BIG_PAGE:
        body = await ctx.services.jobs.rendered_page(
            query,
            ctx.fmt.name,
            lambda total, jobs: ctx.fmt.render(
                lists.ROOT, shapes.job_list(jobs, total, xml=ctx.fmt.is_xml)
            ),
        )
        return Response(body, media_type=ctx.fmt.media_type)
    held = contextlib.AsyncExitStack()  # let go by the response, once sent
    try:
        if ctx.turn:
            await held.enter_async_context(ctx.turn.slot(ctx.services.big_pages))
        total, jobs = await ctx.services.jobs.find(query)
    except BaseException:
        await held.aclose()
        raise
    parts = lists.job_list_parts(ctx.fmt, jobs, total, PART_JOBS)
    return PartsResponse(parts, ctx.fmt.media_type, held)


def action_named(word: str) -> str:
    action = lifecycle.ACTION_WORDS.get(word.strip().lower())
    if action is None:
        known = ", ".join(sorted(lifecycle.ACTION_WORDS))
        raise BadRequest(f"unknown job action {word[:40]!r} (known: {known})")
    return action


async def job_action(ctx: Context) -> Response:
    assert ctx.account is not None
    job_id = parse_id(ctx.params["job_id"])
    action = action_named(ctx.params["action"])
    auto_resume = single_query(ctx, "autoResumeInSec")
    suspended = single_query(ctx, "startInSuspendedState")
    new_ids = await ctx.services.control.act(
        job_id,
        action,
        ctx.account,
        auto_resume_seconds=0
        if auto_resume is None
        else queries.whole(auto_resume, "autoResumeInSec", high=MAX_AUTO_RESUME_SECONDS),
        start_suspended=suspended is not None and queries.flag(suspended, "startInSuspendedState"),
        address=ctx.address,
    )
    if new_ids:
        # The vendor lists the new job ids as strings.
        return ctx.respond(
            "JobManager_PerformJobOperationResp", {"jobIds": [str(i) for i in new_ids]}
        )
    return action_done(ctx, f"Job [{job_id}]: {action} accepted.")


def action_done(ctx: Context, message: str) -> Response:
    """A done action, in the form every client reads as success (see shapes)."""
    if ctx.fmt.is_xml:
        return Response(shapes.ACTION_DONE_XML, media_type=ctx.fmt.media_type)
    return ctx.respond("JobManager_PerformJobOperationResp", shapes.action_done(message))


async def multi_job_operation(ctx: Context) -> Response:
    assert ctx.account is not None
    op = ctx.body_object().get("jobOpReq")
    if not isinstance(op, dict):
        raise BadRequest('MultiJobOperation needs {"jobOpReq": {"operationType", "jobs"}}')
    operation = operation_named(op.get("operationType", ""))
    jobs = op.get("jobs")
    if isinstance(jobs, dict):  # one job, as XML or a lenient JSON client sends it
        jobs = [jobs]
    if not isinstance(jobs, list) or not jobs:
        raise BadRequest('jobOpReq.jobs must be a list of {"jobId": N}')
    ids = [parse_id(j.get("jobId") if isinstance(j, dict) else None) for j in jobs]
    if operation.refusal:
        raise JobActionFailed(operation.refusal)
    auto_resume = 0
    if operation.auto_resume:
        delay = op.get("autoResumeInSec", single_query(ctx, "autoResumeInSec"))
        if delay is None:
            raise BadRequest("JOB_SUSPEND_AUTORESUME needs jobOpReq.autoResumeInSec (seconds)")
        auto_resume = queries.whole(delay, "autoResumeInSec", low=1, high=MAX_AUTO_RESUME_SECONDS)
    await ctx.services.control.act_on_many(
        ids, operation.action, ctx.account, auto_resume_seconds=auto_resume, address=ctx.address
    )
    return action_done(ctx, f"{len(ids)} job(s): {operation.action} accepted.")


def operation_named(word: object) -> lifecycle.Operation:
    operation = lifecycle.OPERATION_TYPES.get(str(word).strip().lower())
    if operation is None or isinstance(word, (bool, float, dict, list)):
        known = ", ".join(k for k in lifecycle.OPERATION_TYPES if not k.isdigit())
        raise BadRequest(f"unknown operationType {str(word)[:40]!r} (known: {known}, or 0 to 4)")
    return operation


async def list_events(ctx: Context) -> Response:
    found = await ctx.services.events.find(replace(event_query(ctx), scope=ctx.scope))
    return ctx.respond("EventViewer_EventsListResp", shapes.events(found))


async def get_event(ctx: Context) -> Response:
    event_id = parse_id(ctx.params["event_id"], "event id")
    found = await ctx.services.events.find(EventQuery(event_id=event_id, scope=ctx.scope))
    return ctx.respond("EventViewer_EventsListResp", shapes.events(found))


DEFAULT_EVENTS = 1000
MAX_EVENTS = 10_000


def event_query(ctx: Context) -> EventQuery:
    def number(name: str, low: int = 0, high: int = parse.MAX_INT) -> int | None:
        raw = single_query(ctx, name)
        return None if raw is None else queries.whole(raw, name, low=low, high=high)

    severities = {
        severity
        for name, severity in SEVERITY_FLAGS.items()
        if (raw := single_query(ctx, name)) is None or queries.flag(raw, name)
    }
    return EventQuery(
        job_id=number("jobId", 1),
        client_id=number("clientId", 1),
        from_time=number("fromTime"),
        to_time=number("toTime"),
        severities=frozenset(severities),
        limit=number("limit", 1, MAX_EVENTS) or DEFAULT_EVENTS,
    )


async def commserv(ctx: Context) -> Response:
    cc = ctx.services.commcell
    return ctx.respond("CommServ_Info", shapes.commserv(cc.name, cc.guid, cc.host, cc.service_pack))


async def task_details(ctx: Context) -> Response:
    job_id = parse_id(ctx.params["job_id"])
    job = await ctx.services.jobs.get(job_id, ctx.scope)
    if job is None:
        raise TaskDetailsFailed(f"No job exists with the job ID {job_id}")
    return ctx.respond("TMMsg_TaskInfoResp", shapes.task_details(job))


# -- the ingest API (/cvjobs/v1/, JSON) --------------------------------------------------


async def ingest_jobs(ctx: Context) -> Response:
    assert ctx.account is not None
    ids = await ctx.services.ingest.put_jobs(ctx.body_object(), ctx.account, ctx.address)
    return ctx.respond("", {"written": len(ids), "jobIds": ids})


async def ingest_job_update(ctx: Context) -> Response:
    assert ctx.account is not None
    job_id = parse_id(ctx.params["job_id"])
    job = await ctx.services.ingest.patch_job(job_id, ctx.body_object(), ctx.account, ctx.address)
    return ctx.respond("", {"jobSummary": shapes.job_summary(job, xml=False)})


async def ingest_events(ctx: Context) -> Response:
    assert ctx.account is not None
    written = await ctx.services.ingest.add_events(ctx.body_object(), ctx.account, ctx.address)
    return ctx.respond("", {"written": written})


ROUTES: list[Route] = [
    Route("POST", "Login", login, auth=False, doc=ops.LOGIN),
    Route("POST", "RenewLoginToken", renew_login_token, auth=False, doc=ops.RENEW_LOGIN_TOKEN),
    Route("POST", "Logout", logout, auth=False, doc=ops.LOGOUT),
    Route("POST", "WhoAmI", who_am_i, doc=ops.WHO_AM_I),
    Route("GET", "Job", list_jobs, heavy=True, kept=kept_page(get_query), doc=ops.LIST_JOBS),
    Route("POST", "Jobs", post_jobs, heavy=True, kept=kept_page(post_query), doc=ops.POST_JOBS),
    Route("GET", "Job/{job_id}", get_job, doc=ops.GET_JOB),
    Route("GET", "Job/{job_id}/AdvancedDetails", advanced_details, doc=ops.ADVANCED_DETAILS),
    Route("POST", "JobDetails", job_details, doc=ops.JOB_DETAILS),
    Route("GET", "Job/{job_id}/TaskDetails", task_details, doc=ops.TASK_DETAILS),
    Route("POST", "Job/{job_id}/action/{action}", job_action, doc=ops.JOB_ACTION),
    Route("POST", "Jobs/MultiJobOperation", multi_job_operation, doc=ops.MULTI_JOB_OPERATION),
    Route("GET", "Events", list_events, heavy=True, doc=ops.LIST_EVENTS),
    Route("GET", "Events/{event_id}", get_event, doc=ops.GET_EVENT),
    Route("GET", "CommServ", commserv, doc=ops.COMMSERV),
    *entity_routes.ROUTES,
    *change_routes.ROUTES,
    *webhook_routes.ROUTES,
    Route("POST", "jobs", ingest_jobs, native=True, doc=ops.INGEST_JOBS),
    Route("PATCH", "jobs/{job_id}", ingest_job_update, native=True, doc=ops.INGEST_JOB_UPDATE),
    Route("POST", "events", ingest_events, native=True, doc=ops.INGEST_EVENTS),
]
