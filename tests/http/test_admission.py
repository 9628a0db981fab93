"""Heavy requests wait for one of a few places without using the event loop: a waiting one
whose client leaves is dropped unworked, and one past the deadline is a 503 (issue 9: a
fresh GET Job/4 waited behind a thousand lists whose clients had gone)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cvjobs.errors import ClientGone, TryLater
from cvjobs.http.admission import Turn


class Receive:
    """An ASGI receive whose client hangs up when told to."""

    def __init__(self) -> None:
        self.gone = asyncio.Event()
        self.sent_body = False

    async def __call__(self) -> dict[str, Any]:
        if not self.sent_body:
            self.sent_body = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}


def test_a_waiting_request_whose_client_leaves_is_never_worked_on() -> None:
    async def scenario() -> list[str]:
        running = asyncio.Semaphore(1)
        await running.acquire()  # every place is taken
        worked: list[str] = []

        async def handler(name: str) -> str:
            worked.append(name)
            return name

        receive = Receive()
        waiting = asyncio.ensure_future(Turn(receive, 30, "GET Job", running).run(handler, "a"))
        await asyncio.sleep(0.01)
        receive.gone.set()
        with pytest.raises(ClientGone):
            await waiting
        running.release()
        assert await Turn(Receive(), 30, "GET Job", running).run(handler, "b") == "b"
        assert running._value == 1  # the place was given back
        return worked

    assert asyncio.run(scenario()) == ["b"]


def test_a_request_that_waits_past_the_deadline_is_try_later() -> None:
    async def scenario() -> None:
        running = asyncio.Semaphore(1)
        await running.acquire()

        async def handler(name: str) -> str:
            return name

        with pytest.raises(TryLater):
            await Turn(Receive(), 0.05, "GET Job", running).run(handler, "late")

    asyncio.run(scenario())


def test_no_more_than_the_places_run_at_once() -> None:
    async def scenario() -> int:
        running = asyncio.Semaphore(3)
        now = peak = 0

        async def handler(_: int) -> None:
            nonlocal now, peak
            now += 1
            peak = max(peak, now)
            await asyncio.sleep(0.01)
            now -= 1

        await asyncio.gather(
            *(Turn(Receive(), 30, "GET Job", running).run(handler, n) for n in range(20))
        )
        return peak

    assert asyncio.run(scenario()) == 3
