"""Reading wire documents, JSON or XML, into JSON-shaped dicts: used for request bodies
and for files given to `cvjobs import`.

XML is read the vendor's way round (the inverse of `cvjobs.render.xml`): attributes become
string values, child elements nested dicts, repeated children lists. Entity expansion and
DTDs are refused (defusedxml), so hostile XML costs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import orjson
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from cvjobs import parse


class DocumentError(ValueError):
    """The bytes are not a readable JSON or XML document of the expected kind."""


def sniff(raw: bytes, content_type: str = "") -> str:
    """ "xml" or "json": by the first significant byte, else by the Content-Type."""
    head = raw.lstrip()[:1]
    if head == b"<":
        return "xml"
    if head in (b"{", b"["):
        return "json"
    return "xml" if "xml" in content_type.lower() else "json"


MAX_DEPTH = 64  # nesting deeper than any vendor document; deeper is refused, not recursed


def element_to_dict(
    element: Element, lists: Collection[str] = (), depth: int = 0
) -> dict[str, Any]:
    """An element as a dict. Children named in `lists` are lists even when single."""
    if depth > MAX_DEPTH:
        raise DocumentError(f"XML nested deeper than {MAX_DEPTH} levels")
    body: dict[str, Any] = dict(element.attrib)
    for child in element:
        value: Any
        if len(child) == 0 and not child.attrib:
            value = (child.text or "").strip()
        else:
            value = element_to_dict(child, lists, depth + 1)
        if child.tag in body:
            existing = body[child.tag]
            if isinstance(existing, list) and (child.tag in lists or len(existing) > 1):
                existing.append(value)
            else:
                body[child.tag] = [existing, value]
        else:
            body[child.tag] = [value] if child.tag in lists else value
    return body


def parse_xml(raw: bytes) -> Element:
    try:
        root: Element = fromstring(raw, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise DocumentError(f"XML refused: {type(exc).__name__}") from None
    except ParseError as exc:
        raise DocumentError(f"not well-formed XML: {exc}") from None
    return root


def parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DocumentError(f"not valid JSON: {exc}") from None


def read_object(
    raw: bytes, content_type: str = "", lists: Collection[str] = ()
) -> tuple[str | None, dict[str, Any]]:
    """(XML root name or None for JSON, body as a dict). An empty body is an empty dict."""
    if not raw.strip():
        return None, {}
    if sniff(raw, content_type) == "xml":
        root = parse_xml(raw)
        return root.tag, element_to_dict(root, lists)
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise DocumentError("expected a JSON object")
    if parse.depth(body) > MAX_DEPTH:
        raise DocumentError(f"JSON nested deeper than {MAX_DEPTH} levels")
    return as_xml_mirror(body)


def as_xml_mirror(body: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """A JSON body in the form that mirrors an XML one, as xmltodict writes it: the root
    element as the only key (a vendor element name, `Prefix_Name`) and attributes as
    `@name` keys, e.g. `{"JobManager_JobDetailRequest": {"@jobId": "4"}}` (pinkopy).
    Returns (the root name, the body as read from that XML); a plain body as it is."""
    root = None
    if len(body) == 1:
        ((key, value),) = body.items()
        if isinstance(value, dict) and _ROOT_NAME.fullmatch(key):
            root, body = key, value
    if root is None and not any(key.startswith("@") for key in body):
        return None, body  # a plain JSON body (a big ingest batch is not copied)
    return root, _without_at(body)


_ROOT_NAME = re.compile(r"[A-Za-z0-9]+_[A-Za-z0-9_]+")


def _without_at(value: Any) -> Any:
    """Keys spelled `@name` (XML attributes in JSON) as `name`."""
    if isinstance(value, dict):
        return {k.removeprefix("@"): _without_at(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_at(v) for v in value]
    return value
