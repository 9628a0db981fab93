"""The server's own request metrics: answers by route, method and status, with their
latencies in the buckets of vocab.REQUEST_BUCKETS, for /metrics.

The access log (http/access_log.py) counts each answer once it is sent, under the route
pattern the dispatcher matched (`Job/{job_id}`, `cvjobs/v1/jobs`), `metrics`, `root`, or
`other` (anything else: unknown paths, /openapi.json), and the method if it is one the
server serves (else `other`), so no client can make a new series by asking for one.
Counting costs a dictionary lookup, a bisection and two additions: 0.7 us a request here,
where prometheus_client's labelled histogram and counter cost 4.7 us in one process (and
more in its multiprocess mode), a tenth of a job by id's time.

Workers are processes, each counting its own. With several, each writes its counts to a
file of its own in a directory `cvjobs serve` made for the run (WORKERS_DIR_ENV), every
second and as it stops; a scrape, answered by any one worker, adds its live counts to the
others' files. A worker that died leaves its file, so the totals never go back.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Iterable
from pathlib import Path

import orjson
from starlette.types import Scope

from cvjobs import vocab
from cvjobs.model import RequestCounts

WORKERS_DIR_ENV = "CVJOBS_WORKER_METRICS_DIR"
# The methods the server serves (the app routes them all to the dispatcher).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
_BOUNDS = tuple(float(b) for b in vocab.REQUEST_BUCKETS)

Key = tuple[str, str, int]


def remember_route(scope: Scope, label: str) -> None:
    scope.setdefault("state", {})["route"] = label


class RequestMetrics:
    def __init__(self, workers_dir: str | None = None, *, worker: str = "") -> None:
        self._buckets: dict[Key, list[int]] = {}
        self._seconds: dict[Key, float] = {}
        self._dir = Path(workers_dir) if workers_dir else None
        self._worker = worker  # its file's name; the process id by default
        self._saved = -1  # how many requests the last save held

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"]
        key = (
            scope.get("state", {}).get("route", "other"),
            method if method in METHODS else "other",
            status,
        )
        buckets = self._buckets.get(key)
        if buckets is None:
            buckets = self._buckets[key] = [0] * (len(_BOUNDS) + 1)
            self._seconds[key] = 0.0
        buckets[bisect_left(_BOUNDS, seconds)] += 1
        self._seconds[key] += seconds

    def own(self) -> list[RequestCounts]:
        """This worker's counts (read them on its event loop, which changes them)."""
        return [
            RequestCounts(*key, self._seconds[key], tuple(buckets))
            for key, buckets in self._buckets.items()
        ]

    def save(self, own: list[RequestCounts]) -> None:
        """(Several workers) write this worker's counts `own` to its file, if they
        changed since the last save. Blocking: run it in a thread."""
        if self._dir is None:
            return
        total = sum(sum(c.buckets) for c in own)
        if total == self._saved:
            return
        path = self._dir / self._file
        part = path.with_suffix(".part")
        part.write_bytes(orjson.dumps([[*_key(c), c.seconds, c.buckets] for c in own]))
        part.replace(path)  # a reader sees the old file or the new, never half of one
        self._saved = total

    def others(self) -> list[RequestCounts]:
        """The other workers' counts, from their files. Blocking: run it in a thread."""
        if self._dir is None:
            return []
        own = self._file
        return [c for path in self._dir.glob("*.json") if path.name != own for c in _read(path)]

    @property
    def _file(self) -> str:
        return f"{self._worker or os.getpid()}.json"


def _key(c: RequestCounts) -> Key:
    return (c.route, c.method, c.status)


def _read(path: Path) -> list[RequestCounts]:
    """A worker's file; nothing if it cannot be read (gone meanwhile, or not one)."""
    try:
        return [
            RequestCounts(str(r), str(m), int(s), float(sec), tuple(map(int, b)))
            for r, m, s, sec, b in orjson.loads(path.read_bytes())
        ]
    except (OSError, orjson.JSONDecodeError, TypeError, ValueError):
        return []


def added(counts: Iterable[RequestCounts]) -> list[RequestCounts]:
    """Counts of the same labels added up (several workers'), sorted by their labels."""
    sums: dict[Key, tuple[float, list[int]]] = {}
    for c in counts:
        seconds, buckets = sums.get(_key(c), (0.0, [0] * len(c.buckets)))
        if len(buckets) != len(c.buckets):
            continue  # a file of a worker with other buckets: not added
        sums[_key(c)] = (
            seconds + c.seconds,
            [a + b for a, b in zip(buckets, c.buckets, strict=True)],
        )
    return [RequestCounts(*key, s, tuple(b)) for key, (s, b) in sorted(sums.items())]
