"""Strict parsing of wire scalars, shared by every reader of requests and records.

Numbers must be whole and within a signed 64-bit range (what the store can hold); text
numbers are ASCII digits with an optional minus sign and nothing else. Errors are
ValueErrors whose message the caller puts in its own error (a 400, a bad import record).
"""

from __future__ import annotations

import re
from typing import Any, Final

MAX_INT: Final = 2**63 - 1
MIN_INT: Final = -(2**63)
_TRUE: Final = frozenset({"true", "1"})
_FALSE: Final = frozenset({"false", "0"})


def integer(value: Any, *, low: int = MIN_INT, high: int = MAX_INT, lenient: bool = False) -> int:
    """A whole number from a JSON integer or from text. `lenient` also takes surrounding
    spaces and integral floats, as XML attributes and some exporters spell them."""
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and lenient and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        text = value.strip() if lenient else value
        digits = text[1:] if text.startswith("-") else text
        if digits.isascii() and digits.isdigit() and len(digits) <= 19:
            number = int(text)
    if number is None:
        raise ValueError(f"expected a whole number, got {str(value)[:40]!r}")
    if not low <= number <= high:
        raise ValueError(f"expected a whole number from {low} to {high}, got {number}")
    return number


def boolean(value: Any) -> bool:
    """true/false as a JSON boolean, 0/1, or the words in any casing."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (str, int)):
        word = str(value).strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError(f"expected true or false, got {str(value)[:40]!r}")


# Characters XML 1.0 cannot carry, not even as references: most C0 controls, surrogates
# and the two non-characters U+FFFE and U+FFFF. Text holding one could not come back
# from an XML answer as it went in, so records that carry one are refused.
NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_problem(text: str) -> str | None:
    """Why `text` cannot be stored (a character XML cannot carry), or None."""
    found = NOT_XML.search(text)
    if found is None:
        return None
    return f"contains U+{ord(found.group()):04X}, a character XML cannot carry"


def depth(value: Any) -> int:
    """How deeply a JSON value nests (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
        else:
            continue
        deepest = max(deepest, level + 1)
    return deepest
