"""The per-address login throttle and the token forms, without a server."""

from __future__ import annotations

from cvjobs.service.auth import (
    ACCESS_TOKEN_PREFIX,
    AddressThrottle,
    access_token_hash,
    token_secret,
)


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


def test_access_tokens_are_stored_as_the_hash_of_their_secret() -> None:
    token = ACCESS_TOKEN_PREFIX + "ab" * 32
    for sent in (token, f"Bearer {token}", f"bearer  {token} ", token.upper()):
        assert access_token_hash(token_secret(sent)) == access_token_hash(token)
    assert token not in access_token_hash(token)
