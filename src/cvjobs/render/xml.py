"""XML documents from JSON-shaped dicts, the vendor's way: scalars become attributes of
their element, nested dicts become child elements, lists become repeated elements.

Built as strings with escaping of string values only, which is several times faster than
building an element tree and serialising it.
"""

from __future__ import annotations

from typing import Any, Final

MEDIA_TYPE: Final = "application/xml"
DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>'

# Attribute values: the markup characters, and the white space that attribute-value
# normalisation would otherwise turn into spaces. Other C0 controls cannot appear in XML 1.0
# at all, even as references; they become U+FFFD.
_ESCAPES: Final[dict[int, str]] = {
    **{c: "\ufffd" for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)},
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
    ord('"'): "&quot;",
    0x09: "&#9;",
    0x0A: "&#10;",
    0x0D: "&#13;",
    0xFFFE: "\ufffd",
    0xFFFF: "\ufffd",
}


def escape(text: str) -> str:
    return text.translate(_ESCAPES)


def scalar(value: Any) -> str:
    """A scalar as attribute text: booleans as true/false, everything else via str()."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return escape(value)
    return str(value)


def element(name: str, body: dict[str, Any]) -> str:
    attrs: list[str] = []
    children: list[str] = []
    for key, value in body.items():
        if value is None:
            continue
        if isinstance(value, dict):
            children.append(element(key, value))
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    children.append(element(key, item))
                elif item is not None:
                    children.append(f"<{key}>{scalar(item)}</{key}>")
        else:
            attrs.append(f' {key}="{scalar(value)}"')
    head = f"<{name}{''.join(attrs)}"
    if not children:
        return head + "/>"
    return f"{head}>{''.join(children)}</{name}>"


def document(root: str, body: dict[str, Any]) -> bytes:
    return (DECLARATION + element(root, body)).encode()
