"""`cvjobs serve`: claim the address first (listener.py), then prepare the catalogue
(migrate it, make the admin account on a first start, fill the demo), print the banner,
and run granian or uvicorn with the app of cvjobs.app."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from types import FrameType
from typing import Any

from cvjobs import __version__, logs
from cvjobs.commands.bulk import fill_demo, say_if_new
from cvjobs.config import Settings, to_environ
from cvjobs.http.request_metrics import WORKERS_DIR_ENV
from cvjobs.listener import CannotListen, Claim, claim
from cvjobs.service.auth import AuthService
from cvjobs.store import open_store, redacted

_ROOT_SPELLING = ("commandcenter/api", "webconsole/api", "SearchSvc/CVWebService.svc")


@dataclass(frozen=True)
class Prepared:
    """What `prepare` found and did, for the banner."""

    jobs: int
    admin_made: bool  # the catalogue had no account: `admin` was created now
    generated: str | None  # ...with this random password (none was given)


async def prepare(settings: Settings) -> Prepared:
    """Open the catalogue once before serving: migrate it, create the admin account on
    first start, fill demo data if asked."""
    store = await open_store(settings.db)
    say_if_new(store, settings.db)
    try:
        auth = AuthService(store, clock=time.time, idle_seconds=60)
        admin_made = not await store.count_accounts()
        generated = await auth.ensure_admin(settings.admin_password)
        await auth.purge()
        if settings.demo and await store.count_jobs() == 0:
            await fill_demo(
                store, settings.demo_jobs, settings.seed, int(time.time()), settings.quiet
            )
        return Prepared(await store.count_jobs(), admin_made, generated)
    finally:
        await store.close()


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def serve(settings: Settings) -> int:
    # The address first: a port in use or a bad host is one line, before any banner or
    # password (see listener.py).
    try:
        held = claim(
            settings.host,
            settings.port,
            share=settings.reuse_port,
            guard=settings.server == "granian",
        )
    except CannotListen as exc:
        print(f"cvjobs serve: {exc}", file=sys.stderr)
        return 1
    settings = replace(settings, port=held.port)
    try:
        _banner(settings, asyncio.run(prepare(settings)))
        _run_server(settings, held)
    finally:
        held.close()
    return 0


def _banner(settings: Settings, prepared: Prepared) -> None:
    url = f"http://{settings.host}:{settings.port}"
    print(f"cvjobs {__version__}: {prepared.jobs} jobs in {redacted(settings.db)}")
    workers = f" with {settings.workers} workers" if settings.workers > 1 else ""
    print(f"listening on {url}{workers}")
    for root in _ROOT_SPELLING:
        print(f"  API root: {url}/{root}/")
    if prepared.generated:
        print(f"created account admin with password: {prepared.generated}")
        print("  (shown once; set CVJOBS_ADMIN_PASSWORD to choose it on a new catalogue)")
    elif prepared.admin_made:
        print("created account admin with the password in CVJOBS_ADMIN_PASSWORD")
    else:
        print("log in as admin with its password (cvjobs user passwd admin sets a new one)")
        if settings.admin_password:
            print(
                "warning: CVJOBS_ADMIN_PASSWORD was ignored: this catalogue has its accounts"
                " already, and the variable only sets the password of a first start",
                file=sys.stderr,
            )
    print(
        f"log in: POST {url}/commandcenter/api/Login with"
        ' {"username": "admin", "password": "<Base64 of the password>"}'
    )
    sys.stdout.flush()


def _run_server(settings: Settings, held: Claim) -> None:
    logs.configure(settings.log_level, settings.log_format)
    # uvicorn drains on SIGTERM/SIGINT, then raises the signal again with the handlers it
    # found: make those end the process with status 0, as a clean shutdown should.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_cleanly)
    files = raise_open_file_limit()
    # A connection is a file; the catalogue, logs and the server's own need a few more.
    if files < settings.max_connections * settings.workers + 64:
        print(
            f"warning: the open-file limit ({files}) is too low for"
            f" {settings.max_connections} connections per worker; connections beyond it"
            " will be refused",
            file=sys.stderr,
        )
    with _shared_request_metrics(settings.workers):
        if settings.server == "granian":
            _serve_granian(settings)  # binds in each worker, beside the guard `held`
        else:
            _serve_uvicorn(settings, held.sock)


@contextlib.contextmanager
def _shared_request_metrics(workers: int) -> Iterator[None]:
    """With several workers, a directory of this run where each writes its request
    counts, for whichever answers a scrape (http/request_metrics.py); gone at the end."""
    if workers == 1:
        yield
        return
    directory = tempfile.mkdtemp(prefix="cvjobs-metrics-")
    os.environ[WORKERS_DIR_ENV] = directory
    try:
        yield
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def raise_open_file_limit() -> int:
    """Raise this process's open-file limit (RLIMIT_NOFILE) to its hard limit, where the
    system allows, so that connections, not a default of 256 or 1024 files, set how many
    clients the server holds (worker processes inherit it). granian's extension does the
    same when imported; uvicorn does not. Returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # An unlimited hard limit (macOS) cannot be the soft one: take a generous number.
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass  # not allowed here: keep the limit the process was given
    return int(soft)


def _serve_granian(settings: Settings) -> None:
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    # Granian's workers are processes that build the app from the environment.
    os.environ.update(to_environ(settings))
    Granian(
        "cvjobs.app:create_app_from_env",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        # HTTP/1 only: in "auto" mode granian reads a connection's first bytes to tell
        # HTTP/1 from HTTP/2 before the header deadline starts, so a connection that never
        # sends a byte was never closed. Every client of this API speaks HTTP/1.1.
        http=HTTPModes.http1,
        workers=settings.workers,
        loop=Loops.uvloop,
        log_level=LogLevels(settings.log_level),
        log_access=False,  # cvjobs writes its own (http/access_log.py)
        respawn_failed_workers=True,
        # Connections each worker serves at once (granian counts a connection from its
        # accept, idle or not); more wait in the listen backlog until one closes.
        backpressure=settings.max_connections,
        # Headers must arrive within this, and a kept-alive connection is closed after
        # this long idle. Bodies have their own deadline, in the app (read_body).
        http1_settings=HTTP1Settings(header_read_timeout=settings.header_timeout_seconds * 1000),
    ).serve()


def _serve_uvicorn(settings: Settings, sock: socket.socket) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from cvjobs.app import create_app
    from cvjobs.http.uvicorn_protocol import HeaderDeadlineProtocol

    HeaderDeadlineProtocol.header_seconds = settings.header_timeout_seconds
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "loop": "uvloop",
        # httptools, with a deadline on headers (workers read it from the environment).
        "http": "cvjobs.http.uvicorn_protocol:HeaderDeadlineProtocol",
        "access_log": False,  # cvjobs writes its own (http/access_log.py)
        # Connections (and requests) at once per worker; more get 503 at once.
        "limit_concurrency": settings.max_connections,
        # uvicorn's own idle limit for kept-alive connections (5 s) unless ours is shorter.
        "timeout_keep_alive": min(5, settings.header_timeout_seconds),
    }
    # On the socket claimed at start (uvicorn.run would bind its own).
    sock.listen(2048)
    if settings.workers == 1:
        config = uvicorn.Config(create_app(settings, server=True), **options)
        config.load_app()
        uvicorn.Server(config).run(sockets=[sock])
    else:
        # Workers are fresh processes: they build the app from the environment.
        os.environ.update(to_environ(settings))
        config = uvicorn.Config(
            "cvjobs.app:create_app_from_env", factory=True, workers=settings.workers, **options
        )
        Multiprocess(config, sockets=[sock]).run()
