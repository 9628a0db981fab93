"""A read shared by the callers that ask at once, never one already on its way."""

from __future__ import annotations

import asyncio
import gc

import pytest

from cvjobs.errors import StoreError
from cvjobs.store.gathered import Gathered
from tests.store.loop import run


class Reads:
    """A read that counts itself and waits for `go` before it answers its number."""

    def __init__(self) -> None:
        self.sent = 0
        self.go = asyncio.Event()
        self.fail = False

    async def __call__(self) -> int:
        self.sent += 1
        number = self.sent
        await self.go.wait()
        if self.fail:
            raise StoreError("the catalogue failed: gone")
        return number


def test_callers_that_ask_together_share_one_read() -> None:
    async def scenario() -> list[int]:
        reads = Reads()
        reads.go.set()
        shared = Gathered(reads)
        return list(await asyncio.gather(*(shared() for _ in range(10))))

    assert run(scenario()) == [1] * 10


def test_a_caller_never_joins_a_read_already_on_its_way() -> None:
    async def scenario() -> tuple[int, int, int, int]:
        reads = Reads()
        shared = Gathered(reads)
        first = asyncio.ensure_future(shared())
        await asyncio.sleep(0.01)  # its read is sent and waits
        assert reads.sent == 1
        # These came after the first read was sent: they share the next one, which is
        # sent only when the first is back.
        second, third = asyncio.ensure_future(shared()), asyncio.ensure_future(shared())
        await asyncio.sleep(0.01)
        assert reads.sent == 1
        reads.go.set()
        answers = await asyncio.gather(first, second, third)
        return (*answers, reads.sent)

    assert run(scenario()) == (1, 2, 2, 2)


def test_an_error_reaches_every_caller_of_that_read_and_the_next_read_is_new() -> None:
    async def scenario() -> int:
        reads = Reads()
        reads.go.set()
        reads.fail = True
        shared = Gathered(reads)
        failed = await asyncio.gather(shared(), shared(), return_exceptions=True)
        assert [type(f) for f in failed] == [StoreError, StoreError]
        reads.fail = False
        return await shared()

    assert run(scenario()) == 2


@pytest.mark.parametrize("fail", [False, True])
def test_a_caller_that_is_cancelled_leaves_the_read_to_the_others(fail: bool) -> None:
    async def scenario() -> object:
        reads = Reads()
        reads.fail = fail
        shared = Gathered(reads)
        leaving, staying = asyncio.ensure_future(shared()), asyncio.ensure_future(shared())
        await asyncio.sleep(0.01)
        leaving.cancel()
        reads.go.set()
        (answer,) = await asyncio.gather(staying, return_exceptions=True)
        assert leaving.cancelled()
        return answer

    answer = run(scenario())
    assert isinstance(answer, StoreError) if fail else answer == 1


def test_an_error_nobody_waits_for_any_longer_is_not_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        reads = Reads()
        reads.fail = True
        shared = Gathered(reads)
        leaving = asyncio.ensure_future(shared())
        await asyncio.sleep(0.01)
        leaving.cancel()
        reads.go.set()
        await asyncio.sleep(0.01)
        assert reads.sent == 1

    run(scenario())
    gc.collect()  # where asyncio reports a future's error that nobody retrieved
    assert "never retrieved" not in caplog.text
