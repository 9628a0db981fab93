"""One event loop per store test: a PostgreSQL pool belongs to the loop that made it, so a
test runs its store calls with `run` on the loop of the `event_loop` fixture, which the
store tests' conftest makes automatic."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

_runner: asyncio.Runner | None = None


@pytest.fixture(autouse=True)
def event_loop_per_test() -> Iterator[None]:
    global _runner
    with asyncio.Runner() as runner:
        _runner = runner
        yield
    _runner = None


def run(coro: Coroutine[Any, Any, T]) -> T:
    assert _runner is not None, "run() outside a store test"
    return _runner.run(coro)
