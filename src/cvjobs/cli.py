"""The `cvjobs` command: serve, demo, import.

`serve` options come from the settings table (`cvjobs.config.SETTINGS`), so every setting
is also a CVJOBS_* environment variable and the help text is written once.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import signal
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any

from cvjobs import __version__, admin, demo, importer, logs
from cvjobs.config import ENV_ONLY, SETTINGS, Settings, load, redacted, to_environ
from cvjobs.errors import CvjobsError, InvalidRecord, NoCatalogue, StoreError
from cvjobs.listener import CannotListen, Claim, claim
from cvjobs.loader import Loader
from cvjobs.progress import Progress
from cvjobs.service.auth import AuthService
from cvjobs.store import POSTGRES_SCHEMES, open_store, sqlite_path
from cvjobs.store.base import Store
from cvjobs.transfer import copy_catalogue

_ROOT_SPELLING = ("commandcenter/api", "webconsole/api", "SearchSvc/CVWebService.svc")


def _serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run the API server",
        description="Run the Commvault-compatible job API server. Every option can also be"
        " set with its CVJOBS_* environment variable; the option wins.",
    )
    for s in SETTINGS:
        if s.name in ENV_ONLY:
            continue
        if s.type is bool:
            p.add_argument(
                s.flag,
                dest=s.name,
                action="store_false" if s.default else "store_true",
                default=None,
                help=f"{s.help} [{s.env}]",
            )
        else:
            p.add_argument(
                s.flag,
                dest=s.name,
                type=s.type,
                default=None,
                metavar=s.name.upper(),
                help=f"{s.help} (default: {s.default}) [{s.env}]",
            )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cvjobs",
        description="A job catalogue that speaks the Commvault REST job API.",
        epilog="Environment: CVJOBS_ADMIN_PASSWORD sets the password of the admin account"
        " created on first start (otherwise a random one is printed once).",
    )
    parser.add_argument("--version", action="version", version=f"cvjobs {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _serve_parser(sub)

    d = sub.add_parser(
        "demo",
        help="fill a catalogue with the demo CommCell",
        description="Write the deterministic demo CommCell into a catalogue (jobs 1..N plus"
        " the seed's jobs 4 and 1452). Existing jobs with the same ids are replaced.",
    )
    d.add_argument("--jobs", type=int, default=5000, help="how many jobs (default: 5000)")
    d.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    d.add_argument("--db", default=None, help="the catalogue (default: cvjobs.db) [CVJOBS_DB]")
    d.add_argument(
        "--quiet",
        action="store_true",
        help="no progress (a bar on a terminal, else a line every 5 s)",
    )
    d.add_argument(
        "--now",
        type=int,
        default=None,
        help="UNIX time the newest jobs run at (default: the current time)",
    )

    i = sub.add_parser(
        "import",
        help="load job records from files",
        description="Load job records: GET Job response documents (JSON or XML, as the"
        " vendor returns them), NDJSON with one jobSummary per line, or, with --job-id and"
        " --info-type, an AdvancedDetails response document for one job. Jobs are upserted"
        " by jobId, all files in one transaction: if any record is wrong, nothing is"
        " written and the error names the file, record and field.",
    )
    i.add_argument("files", nargs="+", type=Path, metavar="FILE")
    i.add_argument(
        "--processes",
        type=int,
        default=min(os.cpu_count() or 1, 8),
        metavar="N",
        help="processes that check NDJSON records while this one writes (default: one per"
        " CPU, at most 8, past which the writing is the limit; 1 checks them here)",
    )
    i.add_argument("--db", default=None, help="the catalogue (default: cvjobs.db) [CVJOBS_DB]")
    i.add_argument(
        "--quiet",
        action="store_true",
        help="no progress (a bar on a terminal, else a line every 5 s)",
    )
    i.add_argument("--job-id", type=int, help="the job an AdvancedDetails document belongs to")
    i.add_argument("--info-type", type=int, help="the infoType it was fetched with (1-31)")
    c = sub.add_parser(
        "copy",
        help="copy a whole catalogue to another (SQLite or PostgreSQL)",
        description="Copy a whole catalogue between backends: storage policies, accounts"
        " (with their password hashes, roles and scopes), access tokens, jobs with their"
        " sections, events and the audit log. Login sessions are not copied. The target"
        " must hold no jobs.",
    )
    c.add_argument("--from", dest="source", required=True, help="the catalogue to read")
    c.add_argument("--to", dest="target", required=True, help="the catalogue to write")
    c.add_argument(
        "--quiet",
        action="store_true",
        help="no progress (a bar on a terminal, else a line every 5 s)",
    )
    c.add_argument(
        "--replace-accounts",
        action="store_true",
        help="an account the target has already (such as the admin a first start made)"
        " takes the source's password, role and scope; without it the target's is kept",
    )
    admin.add_parsers(sub)
    return parser


async def run_copy(source_url: str, target_url: str, replace_accounts: bool, quiet: bool) -> int:
    source = await open_store(source_url, create=False)
    try:
        target = await open_store(target_url)
        _say_if_new(target, target_url)
        try:
            total = await source.count_jobs()
            with _bulk(), Progress("copy", total, quiet=quiet) as progress:
                copied = await copy_catalogue(
                    source, target, progress.advance, replace_accounts=replace_accounts
                )
        finally:
            await target.close()
    finally:
        await source.close()
    print(
        f"copied {copied.jobs} jobs, {copied.events} events, {copied.accounts} accounts,"
        f" {copied.tokens} access tokens, {copied.audit} audit entries and"
        f" {copied.policies} storage policies from {redacted(source_url)} to"
        f" {redacted(target_url)}"
    )
    if copied.kept:
        print(
            f"kept the target's own {', '.join(copied.kept)} (accounts of the same name are"
            " not copied over; --replace-accounts takes the source's)"
        )
    return 0


def _db(args: argparse.Namespace) -> str:
    return load({"db": args.db}).db


def _say_if_new(store: Store, url: str) -> None:
    if store.created:
        print(f"new catalogue {_where(url)}", file=sys.stderr)


def _where(url: str) -> str:
    """Where a catalogue is, to print: a SQLite file's absolute path, or the URL."""
    if url.startswith(POSTGRES_SCHEMES):
        return redacted(url)
    return url if url == ":memory:" else str(Path(sqlite_path(url)).resolve())


async def run_demo(db: str, jobs: int, seed: int, now: int, quiet: bool) -> int:
    store = await open_store(db)
    _say_if_new(store, db)
    try:
        return await fill_demo(store, jobs, seed, now, quiet)
    finally:
        await store.close()


async def fill_demo(store: Store, jobs: int, seed: int, now: int, quiet: bool) -> int:
    await store.put_storage_policies(demo.POLICIES)
    with _bulk(), Progress("demo", demo.count(jobs), quiet=quiet) as progress:
        records = progress.wrap(demo.records(jobs, seed, now))
        return await store.upsert_jobs(records, for_engine=True)


async def run_import(args: argparse.Namespace) -> int:
    if (args.job_id is None) != (args.info_type is None):
        raise InvalidRecord("import", "--job-id and --info-type go together")
    if args.job_id is not None:
        if len(args.files) != 1:
            raise InvalidRecord("import", "an AdvancedDetails document is imported one at a time")
        sections = importer.read_advanced_details(args.files[0], args.info_type)
        store = await open_store(_db(args), create=False)
        try:
            if not await store.put_sections(args.job_id, sections):
                raise InvalidRecord(str(args.files[0]), f"there is no job {args.job_id}")
        finally:
            await store.close()
        print(f"job {args.job_id}: stored {', '.join(sections)}")
        return 0
    # Files are opened (documents parsed) and the worker processes started before the
    # catalogue is opened.
    with _bulk(), Loader(args.files, args.processes) as loader:
        store = await open_store(_db(args))
        _say_if_new(store, _db(args))
        try:
            total = sum(path.stat().st_size for path in args.files)
            with Progress("import", total, unit="bytes", count_unit="jobs", quiet=args.quiet) as p:
                await store.load(loader.batches(p.advance))
        finally:
            await store.close()
    for path, count in loader.counts.items():
        print(f"{path}: {count} job(s) imported")
        if not count:
            print(f"warning: {path}: there are no job records in it", file=sys.stderr)
    return 0


@contextmanager
def _bulk() -> Iterator[None]:
    """No cyclic garbage collection during a bulk load: the records hold no cycles, and
    collections triggered by the millions of objects a load makes cost half its time."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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
    _say_if_new(store, settings.db)
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


def serve(args: argparse.Namespace) -> int:
    settings = load({s.name: getattr(args, s.name, None) for s in SETTINGS})
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
    if settings.server == "granian":
        _serve_granian(settings)  # binds in each worker, beside the guard `held`
    else:
        _serve_uvicorn(settings, held.sock)


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
        config = uvicorn.Config(create_app(settings), **options)
        config.load_app()
        uvicorn.Server(config).run(sockets=[sock])
    else:
        # Workers are fresh processes: they build the app from the environment.
        os.environ.update(to_environ(settings))
        config = uvicorn.Config(
            "cvjobs.app:create_app_from_env", factory=True, workers=settings.workers, **options
        )
        Multiprocess(config, sockets=[sock]).run()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args)
        if args.command == "demo":
            if args.jobs < 0:
                raise ValueError("--jobs cannot be negative")
            now = args.now if args.now is not None else int(time.time())
            started = time.perf_counter()
            count = asyncio.run(run_demo(_db(args), args.jobs, args.seed, now, args.quiet))
            print(
                f"{count} demo jobs written to {_db(args)} in {time.perf_counter() - started:.1f}s"
            )
            return 0
        if args.command == "copy":
            return asyncio.run(
                run_copy(args.source, args.target, args.replace_accounts, args.quiet)
            )
        if args.command in ("user", "token", "audit"):
            return asyncio.run(admin.run(args))
        return asyncio.run(run_import(args))
    except InvalidRecord as exc:
        # Where it went wrong, unless that is only the command itself.
        what = exc.message if exc.where == args.command else str(exc)
        print(f"cvjobs {args.command}: {what}; nothing was written", file=sys.stderr)
        return 1
    except NoCatalogue as exc:
        print(
            f"cvjobs {args.command}: {exc}; serve, demo and import make one (check --db"
            " or CVJOBS_DB)",
            file=sys.stderr,
        )
        return 2
    except (StoreError, ValueError) as exc:
        print(f"cvjobs {args.command}: {exc}", file=sys.stderr)
        return 2
    except CvjobsError as exc:
        print(f"cvjobs {args.command}: {exc.message}", file=sys.stderr)
        return 2
