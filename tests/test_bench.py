"""The benchmark harness runs (on a tiny catalogue, briefly): its numbers are not checked
here, only that every scenario answers and the table is printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HARNESS = Path(__file__).parent.parent / "bench" / "harness.py"
TINY = ("--jobs", "60", "--client", "asyncio")  # and the asyncio client, wrk or not


def harness(*args: str) -> str:
    """What bench/harness.py prints on a tiny catalogue; the test fails if it fails."""
    return subprocess.run(
        [sys.executable, str(HARNESS), *TINY, *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout


def test_the_harness_runs_on_a_tiny_catalogue() -> None:
    out = harness("--seconds", "0.1", "--connections", "2", "--import-jobs", "60")
    work = Path(out.split("work directory: ", 1)[1].split("\n", 1)[0])
    assert not work.exists(), work  # its catalogues and logs went with the run
    for line in (
        "framework floor",
        "job by id, JSON",
        "job by id, XML",
        "AdvancedDetails 16",
        "list page of 100",
        "POST Jobs as cvpysdk",
        "change feed, 100 records after a cursor",
        "/metrics scrape",
        "login",
        "bulk import",
        "server memory",
    ):
        assert line in out, out


def test_the_load_test_runs_briefly() -> None:
    out = harness("--load-test", "--seconds", "1", "--connections", "20")
    assert "20 keep-alive connections" in out
    for route in ("random job by id, JSON", "list page of 100"):
        assert route in out


def test_the_harness_compares_a_revision_side_by_side() -> None:
    out = harness(
        *("--seconds", "0.1", "--connections", "2", "--import-jobs", "0"),
        *("--only", "job by id, JSON", "--compare", "HEAD"),
    )
    assert "this tree beside HEAD" in out, out
    (row,) = [line for line in out.splitlines()[-4:] if line.startswith("job by id, JSON")]
    assert len(row.split()) == 9, row  # the name's four words, two rates, two p99s, a ratio


def test_a_load_test_beside_another_revision_is_refused() -> None:
    refused = subprocess.run(
        [sys.executable, str(HARNESS), "--load-test", "--compare", "HEAD"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "--compare measures the scenarios, not --load-test" in refused.stderr
