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
from typing import Any

from cvjobs import job_files, parse, vocab
from cvjobs.errors import InvalidRecord
from cvjobs.ranges import RANGES, bounds
from cvjobs.store.batches import BATCH, Batch, prepare_batches
from cvjobs.summaries import JOB_NUMBERS, job_from_summary

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
    batch = Batch()
    for where, summary in job_files.ndjson_summaries(raw, str(piece.path), piece.first_line):
        plain = plain_job(summary)
        if plain is None:
            batch.add(job_from_summary(summary, where))
        else:
            batch.jobs.append(plain[0])
            batch.entities.add_entities(*plain[1])
    return batch


# -- the plain record's fast path ----------------------------------------------------------
#
# Checking a record field by field (summaries.job_from_summary) and turning the Job into rows
# (store.batches.prepare) cost about 24 us of the 30 a record takes; building the rows straight
# from a record costs about 8. The fast path takes only records that are plain: every value
# already of its JSON type and in range, every name XML can carry, status and level known.
# Anything else goes the careful way, which also words the errors. tests/commands/test_imports.py
# checks that both ways give the same rows and entities. The ranges are RANGES', looked up
# once here.

_NOT_XML = parse.NOT_XML.search
_JOB_ID = RANGES["jobId"]
_SUBCLIENT = bounds(
    "subclient.", ("clientId", "applicationId", "instanceId", "backupsetId", "subclientId")
)
_DEST, _POLICY, _USER, _GROUP = (
    RANGES[key]
    for key in (
        "destinationClient.clientId",
        "storagePolicy.storagePolicyId",
        "userName.userId",
        "clientGroups.clientGroupId",
    )
)
_COUNTERS = bounds("", JOB_NUMBERS)
_SUBMIT = RANGES["jobSubmitErrorCode"]
_COMPLETE, _SAVINGS = RANGES["percentComplete"], RANGES["percentSavings"]
_TEXTS = ("currentPhaseName", "pendingReason", "pendingReasonErrorCode")
_EMPTY: dict[str, Any] = {}


def _pair(value: Any, id_key: str, name_key: str, span: tuple[int, int]) -> tuple[int, str] | None:
    if type(value) is not dict:
        return None
    entity_id, name = value.get(id_key, 0), value.get(name_key, "")
    if type(entity_id) is not int or not span[0] <= entity_id <= span[1] or type(name) is not str:
        return None
    return entity_id, name


def _percent(value: Any, span: tuple[int, int]) -> float | None:
    kind = type(value)
    if (kind is int or kind is float) and span[0] <= value <= span[1]:  # NaN fails the range
        return float(value)
    return None


def plain_job(summary: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    """(the jobs row, the entities) of a plain record, or None for the careful way."""
    if type(summary) is not dict:
        return None
    get = summary.get
    job_id = get("jobId")
    if type(job_id) is not int or not _JOB_ID[0] <= job_id <= _JOB_ID[1]:
        return None
    status_text, job_text = get("status", ""), get("jobType", "")
    if type(status_text) is not str or type(job_text) is not str:
        return None
    status = vocab.canonical_status(status_text)
    job_type = job_text.strip()
    level = vocab.backup_level_code(get("backupLevel", get("backupLevelName", 0)))
    if status is None or not job_type or level is None:
        return None
    sub = get("subclient", _EMPTY)
    if type(sub) is not dict:
        return None
    found = [
        _pair(sub, "clientId", "clientName", _SUBCLIENT[0]),
        _pair(sub, "applicationId", "appName", _SUBCLIENT[1]),
        _pair(sub, "instanceId", "instanceName", _SUBCLIENT[2]),
        _pair(sub, "backupsetId", "backupsetName", _SUBCLIENT[3]),
        _pair(sub, "subclientId", "subclientName", _SUBCLIENT[4]),
        _pair(get("destinationClient", _EMPTY), "clientId", "clientName", _DEST),
        _pair(get("storagePolicy", _EMPTY), "storagePolicyId", "storagePolicyName", _POLICY),
        _pair(get("userName", _EMPTY), "userId", "userName", _USER),
    ]
    pairs = [pair for pair in found if pair is not None]
    if len(pairs) < len(found):
        return None
    client, app, instance, backupset, subclient, dest, policy, user = pairs
    app_type, dest_name = get("appTypeName", ""), get("destClientName", "")
    texts = [get(key, "") for key in _TEXTS]
    counters = [get(key, 0) for key in JOB_NUMBERS]  # isPreemptable, vsaParentJobID last
    for value, (low, high) in zip(counters, _COUNTERS, strict=True):
        if type(value) is not int or not low <= value <= high:
            return None
    if type(app_type) is not str or type(dest_name) is not str:
        return None
    for value in texts:
        if type(value) is not str:
            return None
    groups_value = get("clientGroups")
    groups: tuple[tuple[int, str], ...] | None = None
    if "clientGroups" in summary:
        if groups_value is None or groups_value == "" or groups_value == []:
            groups = ()
        elif type(groups_value) is list:
            listed = [_pair(g, "clientGroupId", "clientGroupName", _GROUP) for g in groups_value]
            groups = tuple(g for g in listed if g is not None)
            if len(groups) < len(listed):
                return None
        else:
            return None
    names = [p[1] for p in pairs] + texts + [app_type, dest_name, status_text, job_text]
    names += [g[1] for g in groups or ()]
    if _NOT_XML("".join(names)):
        return None
    complete = _percent(get("percentComplete", 0), _COMPLETE)
    savings = _percent(get("percentSavings", 0), _SAVINGS)
    aged, visible = get("isAged", False), get("isVisible", True)
    submit = get("jobSubmitErrorCode", 0)
    if (
        complete is None
        or savings is None
        or type(aged) is not bool
        or type(visible) is not bool
        or type(submit) is not int
        or not _SUBMIT[0] <= submit <= _SUBMIT[1]
    ):
        return None
    if not dest[0] and dest_name and dest_name == client[1]:
        dest = client  # only the name was given, and it is the job's own client
    app = (app[0], app[1] or app_type)
    row = (
        job_id,
        status,
        vocab.job_type_named(job_type) or job_type,
        client[0] or None,
        app[0] or None,
        instance[0] or None,
        backupset[0] or None,
        subclient[0] or None,
        dest[0] or None,
        policy[0] or None,
        user[0] or None,
        level,
        *texts,
        complete,
        savings,
        *counters[:9],
        int(aged),
        int(visible),
        submit,
        counters[9],
        0,  # auto_resume_at
        counters[10],
    )
    return row, (client, dest, app, instance, policy, user, backupset, subclient, groups)


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
