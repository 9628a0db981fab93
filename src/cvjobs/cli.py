"""The `cvjobs` command: its parsers, and demo, import and copy (the commands' own work is
in cvjobs.commands: serve.py; imports.py; copy.py; user, token and audit in accounts.py;
webhook in webhooks.py; rpo in rpo.py).

`serve` options come from the settings table (`cvjobs.config.SETTINGS`), so every setting
is also a CVJOBS_* environment variable and the help text is written once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from cvjobs import __version__, job_files, vocab
from cvjobs.commands import accounts, rpo, webhooks
from cvjobs.commands.bulk import fill_demo, no_gc, say_if_new
from cvjobs.commands.copy import copy_catalogue
from cvjobs.commands.imports import Loader
from cvjobs.commands.serve import serve
from cvjobs.config import DEFAULTS, ENV_ONLY, SETTINGS, SETTINGS_BY_NAME, load
from cvjobs.errors import CvjobsError, InvalidRecord, NoCatalogue, StoreError
from cvjobs.progress import Progress
from cvjobs.store import open_store, redacted


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


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=None,
        help=f"the catalogue (default: {DEFAULTS.db}) [{SETTINGS_BY_NAME['db'].env}]",
    )


def _quiet_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress (a bar on a terminal, else a line every 5 s)",
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
    d.add_argument(
        "--jobs",
        type=int,
        default=DEFAULTS.demo_jobs,
        help=f"how many jobs (default: {DEFAULTS.demo_jobs})",
    )
    d.add_argument(
        "--seed", type=int, default=DEFAULTS.seed, help=f"random seed (default: {DEFAULTS.seed})"
    )
    _db_option(d)
    _quiet_option(d)
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
    _db_option(i)
    _quiet_option(i)
    i.add_argument("--job-id", type=int, help="the job an AdvancedDetails document belongs to")
    i.add_argument(
        "--info-type",
        type=int,
        help=f"the infoType it was fetched with (1-{vocab.ALL_INFO_TYPES})",
    )
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
    _quiet_option(c)
    c.add_argument(
        "--replace-accounts",
        action="store_true",
        help="an account the target has already (such as the admin a first start made)"
        " takes the source's password, role and scope; without it the target's is kept",
    )
    accounts.add_parsers(sub)
    webhooks.add_parsers(sub)
    rpo.add_parsers(sub)
    return parser


async def run_copy(source_url: str, target_url: str, replace_accounts: bool, quiet: bool) -> int:
    source = await open_store(source_url, create=False)
    try:
        target = await open_store(target_url)
        say_if_new(target, target_url)
        try:
            total = await source.count_jobs()
            with no_gc(), Progress("copy", total, quiet=quiet) as progress:
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


async def run_demo(db: str, jobs: int, seed: int, now: int, quiet: bool) -> int:
    store = await open_store(db)
    say_if_new(store, db)
    try:
        return await fill_demo(store, jobs, seed, now, quiet)
    finally:
        await store.close()


async def run_import(args: argparse.Namespace) -> int:
    if (args.job_id is None) != (args.info_type is None):
        raise InvalidRecord("import", "--job-id and --info-type go together")
    if args.job_id is not None:
        if len(args.files) != 1:
            raise InvalidRecord("import", "an AdvancedDetails document is imported one at a time")
        sections = job_files.read_advanced_details(args.files[0], args.info_type)
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
    with no_gc(), Loader(args.files, args.processes) as loader:
        store = await open_store(_db(args))
        say_if_new(store, _db(args))
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return serve(load({s.name: getattr(args, s.name, None) for s in SETTINGS}))
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
            return asyncio.run(accounts.run(args))
        if args.command == "webhook":
            return asyncio.run(webhooks.run(args))
        if args.command == "rpo":
            return asyncio.run(rpo.run(args))
        return asyncio.run(run_import(args))
    except BrokenPipeError:
        # Output into `| head`, which has read enough: no traceback, and none at exit
        # when Python flushes the closed pipe again (the Python docs' recipe).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
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
