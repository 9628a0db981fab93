"""The application factory: everything the server needs is built here, from settings,
when the app starts; nothing is built at import time."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute

from cvjobs.config import Settings
from cvjobs.http.dispatch import Dispatcher, Services
from cvjobs.http.routes import ROUTES
from cvjobs.service.auth import AuthService
from cvjobs.service.jobs import JobService
from cvjobs.store import open_store

METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


async def _endpoint(request: Request) -> Response:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return await dispatcher(request)


def create_app(settings: Settings, *, clock: Callable[[], float] = time.time) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = open_store(settings.db)
        services = Services(
            auth=AuthService(store, clock=clock, idle_seconds=settings.token_idle_minutes * 60),
            jobs=JobService(store),
        )
        app.state.services = services
        app.state.dispatcher = Dispatcher(ROUTES, services)
        try:
            yield
        finally:
            await store.close()

    return Starlette(
        routes=[StarletteRoute("/{path:path}", _endpoint, methods=METHODS)],
        lifespan=lifespan,
    )
