"""The per-address login throttle, the hash queue and the token forms, without a server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from argon2 import PasswordHasher

from cvjobs.errors import ClientGone, LoginFailed, TryLater
from cvjobs.service.auth import (
    ACCESS_TOKEN_PREFIX,
    AddressThrottle,
    AuthService,
    access_token_hash,
    token_secret,
)
from cvjobs.service.hashing import HashQueue
from cvjobs.store import open_store
from cvjobs.store.base import Store
from tests.catalogues import Catalogue
from tests.conftest import CLOCK_START, FakeClock, b64

T = TypeVar("T")


def test_access_tokens_are_stored_as_the_hash_of_their_secret() -> None:
    token = ACCESS_TOKEN_PREFIX + "ab" * 32
    for sent in (token, f"Bearer {token}", f"bearer  {token} ", token.upper()):
        assert access_token_hash(token_secret(sent)) == access_token_hash(token)
    assert token not in access_token_hash(token)


def test_an_address_is_refused_until_its_oldest_failure_leaves_the_window() -> None:
    throttle = AddressThrottle(limit=3, window=100)
    for t in (0, 10, 20):
        assert throttle.wait("10.0.0.1", t) == 0
        throttle.failed("10.0.0.1", t)
    assert throttle.wait("10.0.0.1", 30) == 70
    assert throttle.wait("10.0.0.2", 30) == 0  # other addresses are not affected
    assert throttle.wait("10.0.0.1", 99) == 1
    assert throttle.wait("10.0.0.1", 100) == 0  # the failure at 0 has left the window
    throttle.failed("10.0.0.1", 100)
    assert throttle.wait("10.0.0.1", 101) == 9


def test_a_flood_of_addresses_does_not_grow_without_bound() -> None:
    throttle = AddressThrottle(limit=3, window=100, max_addresses=50)
    for n in range(1000):
        throttle.failed(f"10.0.{n // 256}.{n % 256}", 0)
    assert len(throttle._failures) <= 50


# -- the hash queue -----------------------------------------------------------------------


async def settle() -> None:
    """Let every ready task run until it waits."""
    for _ in range(5):
        await asyncio.sleep(0)


def test_the_queue_is_bounded_and_says_when_to_come_back() -> None:
    async def main() -> None:
        queue = HashQueue(at_once=1, max_waiting=2, per_address=2)
        done: list[str] = []

        async def use(address: str) -> None:
            async with queue.turn(address):
                done.append(address)

        held = queue.turn("a")
        await held.__aenter__()
        waiting = [asyncio.create_task(use(a)) for a in ("b", "c")]
        await settle()
        assert queue.waiting == 2
        with pytest.raises(TryLater) as refused:
            await use("d")
        assert refused.value.http_status == 503 and refused.value.retry_after >= 1
        await use_unbounded(queue)  # an administrator's hash is never refused...
        await held.__aexit__(None, None, None)
        await asyncio.gather(*waiting)
        assert done == ["b", "c"] and queue.waiting == 0

    async def use_unbounded(queue: HashQueue) -> None:
        waiter = asyncio.create_task(enter_unbounded(queue))
        await settle()
        assert queue.waiting == 3  # ...it waits its turn past the bound
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert queue.waiting == 2

    async def enter_unbounded(queue: HashQueue) -> None:
        async with queue.turn("", bounded=False):
            pass

    asyncio.run(main())


def test_one_address_cannot_take_every_place_and_turns_go_round_robin() -> None:
    async def main() -> None:
        queue = HashQueue(at_once=1, max_waiting=10, per_address=3)
        order: list[str] = []

        async def use(address: str, n: int) -> None:
            async with queue.turn(address):
                order.append(f"{address}{n}")

        held = queue.turn("flood")
        await held.__aenter__()
        flood = [asyncio.create_task(use("flood", n)) for n in range(3)]
        await settle()
        with pytest.raises(TryLater):  # the flood's share is full...
            await use("flood", 3)
        admin = asyncio.create_task(use("admin", 0))  # ...another address still gets in
        await settle()
        await held.__aexit__(None, None, None)
        await asyncio.gather(*flood, admin)
        # The admin's login waited for one of the flood's hashes, not for all three.
        assert order == ["flood0", "admin0", "flood1", "flood2"]

    asyncio.run(main())


def test_a_client_that_hangs_up_leaves_the_queue_and_costs_no_hash() -> None:
    async def main() -> None:
        queue = HashQueue(at_once=1, max_waiting=10, per_address=10)
        hashed: list[int] = []
        hangs_up = [asyncio.Event() for _ in range(5)]

        async def login(n: int) -> None:
            async with queue.turn("a", hangs_up[n].wait):
                hashed.append(n)

        held = queue.turn("a")
        await held.__aenter__()
        logins = [asyncio.create_task(login(n)) for n in range(5)]
        await settle()
        for n in (0, 1, 3):
            hangs_up[n].set()
        await settle()
        assert queue.waiting == 2
        await held.__aexit__(None, None, None)
        outcomes = await asyncio.gather(*logins, return_exceptions=True)
        gone, hashed_ = ClientGone, type(None)
        assert [type(o) for o in outcomes] == [gone, gone, hashed_, gone, hashed_]
        assert hashed == [2, 4] and queue.waiting == 0
        await login(2)  # the places are all free again: no wait
        assert hashed == [2, 4, 2]

    asyncio.run(main())


def test_a_client_gone_before_it_reached_a_free_place_is_not_hashed() -> None:
    async def main() -> None:
        queue = HashQueue(at_once=1, max_waiting=10, per_address=10)
        gone = asyncio.Event()
        gone.set()
        with pytest.raises(ClientGone):
            async with queue.turn("a", gone.wait):
                pytest.fail("hashed for a client that had hung up")
        async with queue.turn("a", asyncio.Event().wait):  # present: hashed; place free
            pass
        async with queue.turn("a"):
            assert queue.waiting == 0

    asyncio.run(main())


def test_a_turn_given_to_a_login_cancelled_meanwhile_passes_on() -> None:
    async def main() -> None:
        queue = HashQueue(at_once=1, max_waiting=10, per_address=10)
        hashed: list[str] = []

        async def use(name: str) -> None:
            async with queue.turn("a"):
                hashed.append(name)

        held = queue.turn("a")
        await held.__aenter__()
        first, second = asyncio.create_task(use("first")), asyncio.create_task(use("second"))
        await settle()
        await held.__aexit__(None, None, None)  # gives the place to `first`...
        first.cancel()  # ...which is cancelled before it runs
        await second
        assert hashed == ["second"] and queue.waiting == 0

    asyncio.run(main())


def test_a_login_cancelled_while_hashing_keeps_its_place_until_the_hash_ends() -> None:
    """granian cancels a request whose client hangs up; its hash thread runs on, and so
    must hold its place, or more hashes than HASHING_AT_ONCE would run at once."""

    async def main() -> None:
        queue = HashQueue(at_once=1, max_waiting=10, per_address=10)
        release = threading.Event()
        hashing = asyncio.create_task(queue.run(release.wait, "a"))
        await settle()
        hashing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await hashing
        after = asyncio.create_task(queue.run(lambda: "next", "a"))
        await settle()
        assert queue.waiting == 1  # still waiting: the cancelled hash holds the place
        release.set()
        assert await after == "next"

    asyncio.run(main())


# -- the service ---------------------------------------------------------------------------


def with_store(catalogue: Catalogue, use: Callable[[Store], Awaitable[T]]) -> T:
    async def main() -> T:
        store = await open_store(catalogue.url)
        try:
            return await use(store)
        finally:
            await store.close()

    return asyncio.run(main())


class CountingHasher(PasswordHasher):
    """Cheap argon2 parameters, and a count of the hashes made."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.made = 0

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.made += 1
        return super().hash(password, salt=salt)


def test_logins_of_unknown_names_arriving_together_make_one_dummy_hash(
    catalogue: Catalogue,
) -> None:
    hasher = CountingHasher()

    async def use(store: Store) -> list[object]:
        service = AuthService(store, clock=FakeClock(CLOCK_START), idle_seconds=1800, hasher=hasher)
        logins = (service.login(f"nobody{n}", b64("wrong"), address="a") for n in range(8))
        return await asyncio.gather(*logins, return_exceptions=True)

    outcomes = with_store(catalogue, use)
    assert all(isinstance(o, LoginFailed) for o in outcomes), outcomes
    assert hasher.made == 1
