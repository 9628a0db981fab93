"""The application factory: everything the server needs is built here, from settings,
when the app starts; nothing is built at import time."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TextIO

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute
from starlette.types import Receive, Scope, Send

from cvjobs import logs, vocab
from cvjobs.config import Settings, host_patterns, load
from cvjobs.http import openapi
from cvjobs.http.access_log import AccessLog, AccessWriter
from cvjobs.http.dispatch import CommCell, Dispatcher, Services
from cvjobs.http.request_metrics import METHODS, WORKERS_DIR_ENV, RequestMetrics
from cvjobs.http.routes import ROUTES
from cvjobs.model import JobQuery
from cvjobs.outbox import Outbox
from cvjobs.render.webhooks import message
from cvjobs.service.auth import AuthService
from cvjobs.service.changes import ChangeFeed
from cvjobs.service.clients import ClientService
from cvjobs.service.control import JobControl
from cvjobs.service.engine import JobEngine, NewJobSource
from cvjobs.service.events import EventService
from cvjobs.service.ingest import IngestService
from cvjobs.service.jobs import JobService
from cvjobs.service.metrics import MetricsService
from cvjobs.service.rendered import RenderCache
from cvjobs.service.rpo import RpoService
from cvjobs.service.webhooks import WebhookService
from cvjobs.store import open_store
from cvjobs.store.protocols import Store

OPENAPI_PATH = "/openapi.json"
ENGINE_TICK_SECONDS = 1.0
SERVER_BUSY_SECONDS = 2.0
PURGE_SECONDS = 600.0
MAINTAIN_SECONDS = 5.0
PRUNE_SECONDS = 60.0
OVERDUE_SECONDS = 60.0
STOP_SECONDS = 20.0
log = logging.getLogger("cvjobs")


async def _endpoint(request: Request) -> Response:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return await dispatcher(request)


class App(Starlette):
    """Starlette, with the API's requests handed straight to the dispatcher once it is
    built: they would only pass Starlette's error and exception middleware (the
    dispatcher answers every exception itself), its router (one catch-all route) and its
    endpoint wrapper, a third of a job by id's time. The access log still wraps them;
    everything else (the lifespan, /openapi.json, a request before start-up) is
    Starlette's."""

    def __init__(
        self,
        routes: list[StarletteRoute],
        *,
        writer: AccessWriter | None,
        requests: RequestMetrics,
        lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]],
    ) -> None:
        super().__init__(
            routes=routes,
            middleware=[Middleware(AccessLog, writer=writer, requests=requests)],
            lifespan=lifespan,
        )
        self._direct = AccessLog(self._dispatch, writer=writer, requests=requests)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] != OPENAPI_PATH
            and hasattr(self.state, "dispatcher")
        ):
            scope["app"] = self
            await self._direct(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        response = await self.state.dispatcher(request)
        await response(scope, receive, send)


def scaled(clock: Callable[[], float], speed: int) -> Callable[[], float]:
    """A clock that runs `speed` times faster than `clock`, from now on."""
    if speed == 1:
        return clock
    start = clock()
    return lambda: start + (clock() - start) * speed


async def _new_job_source(store: Store, settings: Settings, now: int) -> NewJobSource | None:
    """Demo mode's schedule: new runs of recent finished backups of the catalogue."""
    if not settings.demo or settings.demo_job_interval == 0:
        return None
    query = JobQuery(now=now, job_types=vocab.BACKUP_JOB_TYPES, category="finished", limit=50)
    _, templates = await store.list_jobs(query)
    return NewJobSource(templates, settings.demo_job_interval)


async def _every(
    seconds: float, step: Callable[[], Awaitable[object]], what: str, stopping: asyncio.Event
) -> None:
    """Run `step` every `seconds` until `stopping` is set, which ends the wait between
    steps but never a step: shutting down does not cut the engine off halfway. A failing
    step is logged, not fatal."""
    while not stopping.is_set():
        try:
            await step()
        except Exception:
            log.exception("%s failed; trying again", what)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), seconds)


def create_app_from_env() -> Starlette:
    """The app with settings from the CVJOBS_* environment: what each worker process of
    `cvjobs serve --workers N` builds, its log set up as the settings say."""
    settings = load({})
    logs.configure(settings.log_level, settings.log_format)
    return create_app(settings, server=True)


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.time,
    run_engine: bool = True,
    access_log: TextIO | None = None,
    server: bool = False,
) -> Starlette:
    """The ASGI app. `clock` is UNIX time in seconds (tests pass a fake one); tokens use
    it as is, jobs use it sped up by `engine_speed`. With `run_engine` False the engine is
    built (app.state.engine) but only steps when asked: tests drive it. The access log
    goes to `access_log` (standard error by default) at log levels info and debug.

    `server`: the app is its process's one app for the process's life (`cvjobs serve`).
    Once started, everything it has built (modules, routes, the store, some 35,000
    objects) is moved out of the garbage collector's sight (`gc.freeze`): each full
    collection walked them all, 11-24 ms on this machine, several times in a busy
    second, and those pauses were the tail of every request. A process that builds many
    apps (the tests) must not: what it freezes is never freed."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Short: while a write waits for another process's lock, every request waits.
        store = await open_store(settings.db, busy_seconds=SERVER_BUSY_SECONDS, for_server=True)
        job_clock = scaled(clock, settings.engine_speed)
        control = JobControl(
            store,
            clock=job_clock,
            engine_settles=settings.engine,
            job_id_base=settings.job_id_base,
        )
        rpo = RpoService(store, default_hours=settings.rpo_hours)
        webhooks = WebhookService(
            store, store, message, allowed_hosts=host_patterns(settings.webhook_hosts)
        )
        rendered = RenderCache()  # finished jobs' answers: read by jobs, forgotten by ingest
        services = Services(
            auth=AuthService(store, clock=clock, idle_seconds=settings.token_idle_minutes * 60),
            jobs=JobService(store, clock=job_clock, rendered=rendered),
            control=control,
            events=EventService(store),
            ingest=IngestService(store, clock=job_clock, rendered=rendered),
            clients=ClientService(store),
            changes=ChangeFeed(store, retention_days=settings.change_retention_days),
            metrics=MetricsService(store, store, rpo, job_clock),
            webhooks=webhooks,
            commcell=CommCell(
                name=settings.commcell_name,
                guid=str(uuid.uuid5(uuid.NAMESPACE_DNS, settings.commcell_name)).upper(),
                host=socket.gethostname(),
            ),
            clock=job_clock,
        )
        app.state.services = services
        app.state.dispatcher = Dispatcher(
            ROUTES,
            services,
            max_body=settings.max_body_kib * 1024,
            max_ingest_body=settings.max_ingest_body_mib * 1024 * 1024,
            body_seconds=settings.body_timeout_seconds,
            queue_seconds=settings.queue_seconds,
            metrics_open=settings.metrics_open,
            requests=requests,
        )
        engine = JobEngine(
            store,
            clock=job_clock,
            seed=settings.seed,
            job_id_base=settings.job_id_base,
            new_jobs=await _new_job_source(store, settings, int(job_clock())),
        )
        app.state.engine = engine
        stopping = asyncio.Event()
        tasks = [
            asyncio.create_task(
                _every(PURGE_SECONDS, services.auth.purge, "purging dead sessions", stopping)
            ),
            asyncio.create_task(
                _every(MAINTAIN_SECONDS, store.maintain, "store housekeeping", stopping)
            ),
            # (PostgreSQL) records are numbered within a second of their commit, read or not.
            asyncio.create_task(
                _every(1.0, store.sequence_changes, "numbering the change log", stopping)
            ),
            asyncio.create_task(
                _every(PRUNE_SECONDS, services.changes.prune, "pruning the change log", stopping)
            ),
        ]
        outbox = Outbox(store, check_url=webhooks.check_url)

        async def lead_and_deliver() -> None:
            # The process that leads makes and sends the webhooks' deliveries.
            if await store.try_lead():
                await outbox.step()

        async def lead_and_check_overdue() -> None:
            # The same leader tells webhooks of clients past their RPO (job.overdue).
            if await store.try_lead():
                await outbox.check_overdue(rpo, int(job_clock()))

        async def prune_deliveries() -> None:
            await outbox.prune(int(time.time()) - settings.change_retention_days * 86_400)

        if run_engine:
            tasks.append(asyncio.create_task(_every(1.0, lead_and_deliver, "webhooks", stopping)))
            tasks.append(
                asyncio.create_task(
                    _every(OVERDUE_SECONDS, lead_and_check_overdue, "overdue clients", stopping)
                )
            )
        tasks.append(
            asyncio.create_task(
                _every(PRUNE_SECONDS, prune_deliveries, "pruning webhook deliveries", stopping)
            )
        )

        async def save_requests() -> None:
            # (Several workers) this one's request counts, for the others' scrapes.
            await asyncio.to_thread(requests.save, requests.own())

        tasks.append(
            asyncio.create_task(_every(1.0, save_requests, "saving request metrics", stopping))
        )
        if settings.engine and run_engine:

            async def lead_and_step() -> None:
                # Every worker tries; the one holding the catalogue's engine lock steps.
                if await store.try_lead():
                    await engine.step()

            tasks.append(
                asyncio.create_task(_every(ENGINE_TICK_SECONDS, lead_and_step, "engine", stopping))
            )
        if server:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            # Steps in progress finish (within STOP_SECONDS); then the store closes.
            stopping.set()
            _, late = await asyncio.wait(tasks, timeout=STOP_SECONDS)
            for task in late:
                log.warning("a background task did not stop in %s s; cancelling it", STOP_SECONDS)
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.to_thread(requests.save, requests.own())  # the last of them
            await store.close()

    document = orjson.dumps(openapi.document(ROUTES))

    async def openapi_endpoint(request: Request) -> Response:
        return Response(document, media_type="application/json")

    requests = RequestMetrics(os.environ.get(WORKERS_DIR_ENV) if server else None)
    writer = None
    if settings.log_level in ("debug", "info"):
        writer = AccessWriter(access_log or sys.stderr, settings.log_format)
    return App(
        routes=[
            StarletteRoute(OPENAPI_PATH, openapi_endpoint, methods=["GET"]),
            StarletteRoute("/{path:path}", _endpoint, methods=sorted(METHODS)),
        ],
        writer=writer,
        requests=requests,
        lifespan=lifespan,
    )
