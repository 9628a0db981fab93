"""Progress of long work (demo fills, imports, copies) on standard error: a tqdm bar with
rate and ETA on a terminal; elsewhere (a log file, CI) a plain line every few seconds and
one at the end; nothing at all when quiet."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Never, TextIO, TypeVar

from tqdm import tqdm

T = TypeVar("T")
LINE_SECONDS = 5.0  # between the plain lines when standard error is no terminal


class Progress:
    """`total` units of work (None: unknown), counted with `advance`; `count` is a second
    number shown beside it (the jobs of an import measured in bytes)."""

    def __init__(
        self,
        what: str,
        total: int | None,
        *,
        unit: str = "jobs",
        quiet: bool = False,
        stream: TextIO | None = None,
        count_unit: str = "",
    ) -> None:
        self._what, self._total, self._unit, self._count_unit = what, total, unit, count_unit
        self._stream = stream or sys.stderr
        self._quiet = quiet
        self._done = self._count = 0
        self._started = self._last_line = time.monotonic()
        self._bar: tqdm[Never] | None = None
        if not quiet and self._stream.isatty():
            width = _width(self._stream)
            self._bar = tqdm(
                total=total,
                desc=what,
                unit="B" if unit == "bytes" else f" {unit}",
                unit_scale=True,
                file=self._stream,
                # A terminal that tells no size (a bare pty) gets 80 x 24, not a bar
                # hidden below a screen of no rows.
                dynamic_ncols=width > 0,
                ncols=None if width > 0 else 80,
                nrows=None if width > 0 else 24,
                leave=True,
            )

    def advance(self, amount: int, count: int = 0) -> None:
        self._done += amount
        self._count += count
        if self._bar is not None:
            self._bar.update(amount)
            if self._count_unit:
                self._bar.set_postfix_str(f"{self._count} {self._count_unit}", refresh=False)
        elif not self._quiet and time.monotonic() - self._last_line >= LINE_SECONDS:
            self._line()

    def wrap(self, items: Iterable[T]) -> Iterator[T]:
        """`items`, advancing one for each as it is taken."""
        for item in items:
            yield item
            self.advance(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif not self._quiet:
            self._line(final=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _line(self, final: bool = False) -> None:
        now = time.monotonic()
        self._last_line = now
        seconds = max(now - self._started, 1e-9)
        rate = self._done / seconds
        done = _amount(self._done, self._unit)
        of = f" of {_amount(self._total, self._unit)}" if self._total else ""
        parts = [f"{self._what}: {done}{of}"]
        if self._count_unit:
            parts.append(f"{self._count} {self._count_unit}")
        parts.append(f"{_amount(int(rate), self._unit)}/s")
        if final:
            parts.append(f"done in {seconds:.1f} s")
        elif self._total and rate > 0:
            parts.append(f"about {max(self._total - self._done, 0) / rate:.0f} s left")
        print(", ".join(parts), file=self._stream, flush=True)


def _amount(n: int, unit: str) -> str:
    if unit != "bytes":
        return f"{n:,} {unit}"
    for scale, name in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if n >= scale:
            return f"{n / scale:.1f} {name}"
    return f"{n} B"


def _width(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 0
