"""The hash queue, the login verdict (the store's `judge_login`, on both backends, and
the service's concurrent logins) and the token forms, without a server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

import pytest
from argon2 import PasswordHasher

from cvjobs.errors import AccountLocked, ClientGone, LoginFailed, TryLater
from cvjobs.service import auth
from cvjobs.service.auth import (
    ACCESS_TOKEN_PREFIX,
    AuthService,
    access_token_hash,
    login_rules,
    token_secret,
)
from cvjobs.service.hashing import HashQueue
from cvjobs.store import open_store
from cvjobs.store.protocols import Store
from cvjobs.store.values import (
    FAILED,
    LOCKED,
    LOCKOUT,
    OK,
    OPEN,
    THROTTLED,
    LoginAttempt,
)
from tests.catalogues import Catalogue
from tests.conftest import CLOCK_START, VIEWER_PASSWORD, FakeClock, b64

pytestmark = pytest.mark.postgres_too

T = TypeVar("T")


def test_access_tokens_are_stored_as_the_hash_of_their_secret() -> None:
    token = ACCESS_TOKEN_PREFIX + "ab" * 32
    for sent in (token, f"Bearer {token}", f"bearer  {token} ", token.upper()):
        assert access_token_hash(token_secret(sent)) == access_token_hash(token)
    assert token not in access_token_hash(token)


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


# -- the verdict, in the catalogue --------------------------------------------------------


def with_store(catalogue: Catalogue, use: Callable[[Store], Awaitable[T]]) -> T:
    async def main() -> T:
        store = await open_store(catalogue.url)
        try:
            return await use(store)
        finally:
            await store.close()

    return asyncio.run(main())


def attempt(name: str, ok: bool, now: int, account_id: int | None, **more: Any) -> LoginAttempt:
    return LoginAttempt(name, "10.0.0.1", now, account_id, ok, **more)


def test_a_login_whose_verdict_comes_after_the_lock_fell_is_refused(
    catalogue: Catalogue,
) -> None:
    rules, now = login_rules(), CLOCK_START

    async def use(store: Store) -> list[str]:
        viewer = await store.get_account("viewer")
        assert viewer is not None
        vid = viewer.account.account_id
        # A right password whose hash started before the lock fell...
        late = attempt("viewer", True, now, vid, token_hash=b"t" * 32, idle_seconds=60)
        outcomes = [
            (await store.judge_login(attempt("Viewer", False, now, vid), rules)).outcome
            for _ in range(rules.lock_after)
        ]
        verdict = await store.judge_login(late, rules)  # ...is judged after it
        outcomes.append(verdict.outcome)
        assert verdict.wait == rules.lock_seconds
        assert (await store.peek_login("VIEWER", "elsewhere", now, rules)).outcome == LOCKED
        unlocked = replace(late, now=now + rules.lock_seconds)
        outcomes.append((await store.judge_login(unlocked, rules)).outcome)
        return outcomes

    outcomes = with_store(catalogue, use)
    assert outcomes == [FAILED] * (auth.LOCK_AFTER_FAILURES - 1) + [LOCKOUT, LOCKED, OK]
    assert catalogue.scalar("SELECT count(*) FROM sessions WHERE token_hash = ?", (b"t" * 32,))
    assert catalogue.scalar("SELECT count(*) FROM login_guards WHERE subject = 'name:viewer'") == 0


def test_concurrent_verdicts_count_every_failure_once(catalogue: Catalogue) -> None:
    """On PostgreSQL the verdicts run in parallel transactions; the guard's row lock
    orders them."""
    rules, now = login_rules(), CLOCK_START

    async def use(store: Store) -> tuple[list[str], list[str]]:
        same_name = await asyncio.gather(
            *(store.judge_login(attempt("admin", False, now, 1), rules) for _ in range(12))
        )
        other = replace(rules, address_failures=20)
        names = await asyncio.gather(
            *(
                store.judge_login(replace(attempt(f"nobody{n}", False, now, None)), other)
                for n in range(25)
            )
        )
        return [v.outcome for v in same_name], [v.outcome for v in names]

    same_name, names = with_store(catalogue, use)
    assert sorted(same_name) == sorted([FAILED] * 4 + [LOCKOUT] + [LOCKED] * 7)
    # The 5 failures of `admin` count towards the address too: 15 more are allowed.
    assert names.count(FAILED) == 15 and names.count(THROTTLED) == 10
    assert catalogue.scalar("SELECT count(*) FROM login_failures") == 20


def test_old_failures_are_purged_and_stop_counting(catalogue: Catalogue) -> None:
    rules, now = login_rules(), CLOCK_START

    async def use(store: Store) -> list[str]:
        for n in range(rules.address_failures):
            await store.judge_login(attempt(f"nobody{n}", False, now, None), rules)
        outcomes = [(await store.peek_login("x", "10.0.0.1", now, rules)).outcome]
        later = now + rules.address_window
        assert await store.purge_logins(later, rules) == rules.address_failures
        outcomes.append((await store.peek_login("x", "10.0.0.1", later, rules)).outcome)
        # Four failures a day ago and one now do not lock.
        for _ in range(rules.lock_after - 1):
            await store.judge_login(attempt("admin", False, later, 1), rules)
        much_later = later + rules.forget_seconds
        last = await store.judge_login(attempt("admin", False, much_later, 1), rules)
        outcomes.append(last.outcome)
        await store.purge_logins(much_later + rules.forget_seconds, rules)
        return outcomes

    assert with_store(catalogue, use) == [THROTTLED, OPEN, FAILED]
    assert catalogue.scalar("SELECT count(*) FROM login_guards") == 0
    assert catalogue.scalar("SELECT count(*) FROM login_failures") == 0


def test_a_new_password_lifts_the_lock(catalogue: Catalogue) -> None:
    rules, now = login_rules(), CLOCK_START

    async def use(store: Store) -> str:
        for _ in range(rules.lock_after):
            await store.judge_login(attempt("viewer", False, now, 2), rules)
        await store.update_account(2, password_hash="!new")
        return (await store.peek_login("viewer", "elsewhere", now, rules)).outcome

    assert with_store(catalogue, use) == OPEN


# -- the service: concurrent logins -------------------------------------------------------


@pytest.mark.slow  # hashes passwords while a lock falls, on purpose
def test_right_logins_queued_while_the_lock_falls_get_no_token(catalogue: Catalogue) -> None:
    """Wrong passwords, then right ones while the wrong ones still wait for their hash:
    the lock falls at the fifth wrong verdict, and every right one after it is refused."""

    async def use(store: Store) -> tuple[int, bool, list[object]]:
        service = AuthService(store, clock=FakeClock(CLOCK_START), idle_seconds=1800)
        # An account hashed at the server's own cost (the template's are cheap), so that
        # the wrong logins are still waiting for their hashes when the right ones come.
        account = await service.create_account("slow", VIEWER_PASSWORD, role="viewer")
        wrong = [
            asyncio.create_task(service.login("slow", b64(f"wrong-{n}"), address="a"))
            for n in range(auth.LOCK_AFTER_FAILURES + 1)
        ]
        queued = False
        for _ in range(10_000):  # until the wrong ones are in the queue (bounded)
            if service.waiting_logins >= len(wrong) - auth.HASHING_AT_ONCE:
                queued = True
                break
            await asyncio.sleep(0.001)
        right = [service.login("slow", b64(VIEWER_PASSWORD), address="a") for _ in range(3)]
        outcomes: list[object] = list(await asyncio.gather(*wrong, *right, return_exceptions=True))
        return account.account_id, queued, outcomes

    account_id, queued, outcomes = with_store(catalogue, use)
    assert queued  # the premise: right logins arrived while wrong ones waited
    wrong, right = outcomes[: auth.LOCK_AFTER_FAILURES + 1], outcomes[-3:]
    assert all(isinstance(o, LoginFailed) for o in outcomes), outcomes
    assert sum(isinstance(o, AccountLocked) for o in wrong) == 2  # the fifth and sixth
    assert all(isinstance(o, AccountLocked) for o in right)
    sessions = f"SELECT count(*) FROM sessions WHERE account_id = {account_id}"
    assert catalogue.scalar(sessions) == 0


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
