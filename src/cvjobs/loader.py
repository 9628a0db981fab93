"""Job files turned into store batches for `cvjobs import`, NDJSON in worker processes.

Checking a record costs more Python than writing it, so an NDJSON file is cut at line
boundaries into pieces that worker processes read, check and turn into rows
(`cvjobs.store.sql.prepare`), while this process writes the batches before them, in file
order. Whole documents (JSON or XML) are read and checked here. Either way the batches of
all files go to the store as one stream, so one transaction takes them all or none.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.pool import AsyncResult
from pathlib import Path

from cvjobs import importer
from cvjobs.errors import InvalidRecord
from cvjobs.store.sql import Prepared, prepare, prepare_batches

PIECE_BYTES = 4 << 20  # about 3,000 vendor-sized records
BATCH_RECORDS = 10_000  # records per batch for documents read here


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


def prepare_piece(piece: Piece) -> Prepared:
    """Runs in a worker process: read, check and prepare one piece."""
    with piece.path.open("rb") as f:
        f.seek(piece.start)
        raw = f.read(piece.end - piece.start)
    return prepare(importer.ndjson_records(raw, str(piece.path), piece.first_line))


def _first_line(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.readline(PIECE_BYTES)
    except OSError as exc:
        raise InvalidRecord(str(path), f"cannot read: {exc.strerror}") from None


class Loader:
    """The batches of some job files, in order. Every file is opened (and a document
    read and parsed) when the loader is made, so a missing or malformed file fails
    before anything is written; records are checked as the batches are taken. Used as a
    context manager, which runs the worker processes: enter it before opening the
    catalogue, so that they are not forked with its connections open."""

    def __init__(self, paths: Sequence[Path], processes: int) -> None:
        self.processes = processes
        self.counts = dict.fromkeys(paths, 0)
        self._sources: list[tuple[Path, Iterator[Prepared] | None]] = []
        for path in paths:
            if importer.is_ndjson(_first_line(path)):
                self._sources.append((path, None))
            else:
                records = importer.read_job_file(path)
                self._sources.append((path, prepare_batches(records, BATCH_RECORDS)))
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

    def batches(self) -> Iterator[Prepared]:
        for path, source in self._sources:
            seen: set[int] = set()
            for batch in source or self._ndjson(path, self._pool):
                self._count(path, batch, seen)
                yield batch

    def _ndjson(self, path: Path, pool: multiprocessing.pool.Pool | None) -> Iterator[Prepared]:
        if pool is None:
            yield from map(prepare_piece, pieces(path))
            return
        # At most two pieces a worker in flight, so memory stays flat when the store is
        # the slower side.
        pending: deque[AsyncResult[Prepared]] = deque()
        for piece in pieces(path):
            pending.append(pool.apply_async(prepare_piece, (piece,)))
            if len(pending) >= 2 * self.processes:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    def _count(self, path: Path, batch: Prepared, seen: set[int]) -> None:
        for job_id in batch.job_ids:
            if job_id in seen:
                raise InvalidRecord(str(path), f"job {job_id} appears more than once")
            seen.add(job_id)
        self.counts[path] += len(batch.jobs)
