"""Job files turned into store batches for `cvjobs import`, NDJSON in worker processes.

Checking a record costs more Python than writing it, so an NDJSON file is cut at line
boundaries into pieces that worker processes read, check and turn into rows
(`cvjobs.store.batches.Batch`), while this process writes the batches before them, in file
order. Whole documents (JSON or XML) are read and checked here. Either way the batches of
all files go to the store as one stream, so one transaction takes them all or none.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.pool import AsyncResult
from pathlib import Path

from cvjobs import job_files
from cvjobs.commands.plain_records import Entities, plain_job
from cvjobs.errors import InvalidRecord
from cvjobs.store.batches import BATCH, Batch, prepare_batches
from cvjobs.summaries import job_from_summary

PIECE_BYTES = 4 << 20  # about 3,000 vendor-sized records


@dataclass(frozen=True, slots=True)
class Piece:
    """Whole lines of an NDJSON file: bytes [start, end), the first numbered first_line."""

    path: Path
    start: int
    end: int
    first_line: int


def pieces(path: Path, size: int = PIECE_BYTES) -> Iterator[Piece]:
    line, start, carry = 1, 0, b""
    with path.open("rb") as f:
        while block := f.read(size):
            data = carry + block
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data  # one line longer than a piece: read on
                continue
            yield Piece(path, start, start + cut, line)
            line += data.count(b"\n", 0, cut)
            start += cut
            carry = data[cut:]
    if carry:
        yield Piece(path, start, start + len(carry), line)


def prepare_piece(piece: Piece) -> Batch:
    """Runs in a worker process: read, check and prepare one piece."""
    with piece.path.open("rb") as f:
        f.seek(piece.start)
        raw = f.read(piece.end - piece.start)
    batch, where = Batch(), str(piece.path)
    # Most records name the same few entities: each set is added once, in the order of its
    # last use, which leaves the entity writer as adding them all in turn would.
    named: dict[Entities, None] = {}
    for number, line in enumerate(raw.splitlines(), piece.first_line):
        plain = plain_job(line)
        if plain is not None:
            batch.jobs.append(plain[0])
            named.pop(plain[1], None)
            named[plain[1]] = None
        elif line.strip():
            _add_named(batch, named)
            for at, summary in job_files.ndjson_summaries(line, where, number):
                batch.add(job_from_summary(summary, at))
    _add_named(batch, named)
    return batch


def _add_named(batch: Batch, named: dict[Entities, None]) -> None:
    for entities in named:
        batch.entities.add_entities(*entities)
    named.clear()


def _first_line(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.readline(PIECE_BYTES)
    except OSError as exc:
        raise InvalidRecord(str(path), f"cannot read: {exc.strerror}") from None


def _blank(path: Path) -> bool:
    """Nothing but white space in the file (its first line was blank)."""
    with path.open("rb") as f:
        while chunk := f.read(PIECE_BYTES):
            if chunk.strip():
                return False
    return True


class Loader:
    """The batches of some job files, in order. Every file is opened (and a document
    read and parsed) when the loader is made, so a missing or malformed file fails
    before anything is written; records are checked as the batches are taken. Used as a
    context manager, which runs the worker processes: enter it before opening the
    catalogue, so that they are not forked with its connections open."""

    def __init__(self, paths: Sequence[Path], processes: int) -> None:
        self.processes = processes
        self.counts = dict.fromkeys(paths, 0)
        self._sources: list[tuple[Path, Iterator[Batch] | None]] = []
        for path in paths:
            first = _first_line(path)
            if not first.strip() and _blank(path):
                self._sources.append((path, iter(())))  # nothing in it: a warning, later
            elif job_files.is_ndjson(first):
                self._sources.append((path, None))
            else:
                records = job_files.read_job_file(path)
                self._sources.append((path, prepare_batches(records, BATCH)))
        self._pool: multiprocessing.pool.Pool | None = None

    def __enter__(self) -> Loader:
        if self.processes > 1 and any(source is None for _, source in self._sources):
            # Workers make millions of short-lived objects and no cycles: no cyclic GC.
            self._pool = multiprocessing.get_context("fork").Pool(
                self.processes, initializer=gc.disable
            )
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def batches(
        self, progress: Callable[[int, int], None] = lambda _b, _j: None
    ) -> Iterator[Batch]:
        """The batches in order; `progress(bytes, jobs)` is told what each one read (an
        NDJSON file piece by piece, a document when its last batch is taken)."""
        for path, source in self._sources:
            seen: set[int] = set()
            if source is None:
                for size, batch in self._ndjson(path, self._pool):
                    self._count(path, batch, seen)
                    yield batch
                    progress(size, len(batch.jobs))
                continue
            for batch in source:
                self._count(path, batch, seen)
                yield batch
                progress(0, len(batch.jobs))
            progress(path.stat().st_size, 0)

    def _ndjson(
        self, path: Path, pool: multiprocessing.pool.Pool | None
    ) -> Iterator[tuple[int, Batch]]:
        """Each piece's size in bytes and its batch."""
        if pool is None:
            for piece in pieces(path):
                yield piece.end - piece.start, prepare_piece(piece)
            return
        # At most two pieces a worker in flight, so memory stays flat when the store is
        # the slower side.
        pending: deque[tuple[int, AsyncResult[Batch]]] = deque()
        for piece in pieces(path):
            pending.append((piece.end - piece.start, pool.apply_async(prepare_piece, (piece,))))
            if len(pending) >= 2 * self.processes:
                size, result = pending.popleft()
                yield size, result.get()
        while pending:
            size, result = pending.popleft()
            yield size, result.get()

    def _count(self, path: Path, batch: Batch, seen: set[int]) -> None:
        for job_id in batch.job_ids:
            if job_id in seen:
                raise InvalidRecord(str(path), f"job {job_id} appears more than once")
            seen.add(job_id)
        self.counts[path] += len(batch.jobs)
