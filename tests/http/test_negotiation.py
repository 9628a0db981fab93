"""Choosing the answer's format from Accept, without a server."""

from __future__ import annotations

import pytest

from cvjobs.errors import NotAcceptable
from cvjobs.http.negotiation import choose


@pytest.mark.parametrize(
    ("accept", "name"),
    [
        (None, "xml"),
        ("", "xml"),
        ("   ", "xml"),
        ("*/*", "xml"),
        ("application/json", "json"),
        ("text/json", "json"),
        ("APPLICATION/JSON", "json"),
        ("application/xml", "xml"),
        ("text/xml", "xml"),
        ("application/json, application/xml", "json"),  # the first listed wins a tie
        ("application/xml, application/json", "xml"),
        ("application/xml;q=0.5, application/json", "json"),  # the higher q wins
        ("*/*, application/json", "json"),  # an explicit type beats a wildcard
        ("application/json;q=0, */*", "xml"),  # q=0 refuses the type
        ("application/json;q=nonsense, text/xml", "xml"),  # an unreadable q is 0
        ("image/png, application/json;q=0.1", "json"),
    ],
)
def test_the_format_an_accept_header_asks_for(accept: str | None, name: str) -> None:
    assert choose(accept).name == name


@pytest.mark.parametrize("accept", ["image/png", "text/html, image/*", "application/json;q=0"])
def test_an_accept_naming_neither_is_refused_with_406(accept: str) -> None:
    with pytest.raises(NotAcceptable) as caught:
        choose(accept)
    assert caught.value.http_status == 406
    assert "use application/json or application/xml" in caught.value.message


def test_the_memo_answers_like_the_first_choice() -> None:
    first = choose("application/json;q=0.9, text/xml;q=0.8")
    assert choose("application/json;q=0.9, text/xml;q=0.8") is first
