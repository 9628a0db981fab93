"""What the commands share: the --db option of the catalogue commands, and for those that
write many jobs, no cyclic garbage collection while they write, the demo fill with its
progress, and saying when a catalogue is new."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cvjobs import demo
from cvjobs.config import DEFAULTS
from cvjobs.progress import Progress
from cvjobs.store import POSTGRES_SCHEMES, redacted, sqlite_path
from cvjobs.store.protocols import Store


@contextmanager
def no_gc() -> Iterator[None]:
    """No cyclic garbage collection during a bulk load: the records hold no cycles, and
    collections triggered by the millions of objects a load makes cost half its time."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def with_db(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """A subcommand's --db option (the catalogue it works on)."""
    parser.add_argument("--db", default=None, help=f"the catalogue (default: {DEFAULTS.db})")
    return parser


def say_if_new(store: Store, url: str) -> None:
    if store.created:
        print(f"new catalogue {where(url)}", file=sys.stderr)


def where(url: str) -> str:
    """Where a catalogue is, to print: a SQLite file's absolute path, or the URL."""
    if url.startswith(POSTGRES_SCHEMES):
        return redacted(url)
    return url if url == ":memory:" else str(Path(sqlite_path(url)).resolve())


async def fill_demo(store: Store, jobs: int, seed: int, now: int, quiet: bool) -> int:
    """The demo CommCell's jobs 1..`jobs` (and the seed's), for the engine to move."""
    await store.put_storage_policies(demo.POLICIES)
    with no_gc(), Progress("demo", demo.count(jobs), quiet=quiet) as progress:
        records = progress.wrap(demo.records(jobs, seed, now))
        return await store.upsert_jobs(records, for_engine=True)
