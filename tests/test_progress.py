"""Progress of long work: a bar with rate and ETA on a terminal, a plain line every few
seconds elsewhere, nothing when quiet (issue 11)."""

from __future__ import annotations

import io

import pytest

from cvjobs import progress
from cvjobs.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_with_rate_and_eta() -> None:
    screen = Terminal()
    with Progress("demo", 1000, stream=screen) as bar:
        for _ in range(10):
            bar.advance(100)
    shown = screen.getvalue().split("\r")[-1]
    assert "demo: 100%" in shown and "1.00k/1.00k" in shown and "jobs/s" in shown
    assert "<00:00" in shown  # the time left


def test_elsewhere_a_line_every_few_seconds_and_one_at_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = io.StringIO()
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)
    with Progress("import", 4 * 2**20, unit="bytes", count_unit="jobs", stream=log) as p:
        p.advance(2**20, 500)
        p.advance(2**20, 500)
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("import: 1.0 MiB of 4.0 MiB, 500 jobs, ") and "s left" in lines[0]
    assert (
        lines[-1].startswith("import: 2.0 MiB of 4.0 MiB, 1000 jobs, ") and "done in" in lines[-1]
    )
    assert "\r" not in log.getvalue()


def test_no_line_before_the_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    log = io.StringIO()
    p = Progress("copy", 10, stream=log)
    p.advance(5)
    assert log.getvalue() == ""
    p.close()
    assert log.getvalue().startswith("copy: 5 jobs of 10 jobs, ")


@pytest.mark.parametrize("stream", [Terminal(), io.StringIO()], ids=["terminal", "file"])
def test_quiet_is_silent(stream: io.StringIO) -> None:
    with Progress("demo", 10, quiet=True, stream=stream) as p:
        assert list(p.wrap(range(10))) == list(range(10))
    assert stream.getvalue() == ""
