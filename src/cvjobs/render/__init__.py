"""Renderers: pure functions from domain objects to response bytes.

`JSON` and `XML` are the wire formats; `cvjobs.http.negotiation` picks one per request
from its Accept header and every body goes through `Format.render`. Resource shapes
(`shapes`) are built once per resource for both formats, so JSON and XML cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from cvjobs.render import json as json_format
from cvjobs.render import xml as xml_format


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    media_type: str
    document: Callable[[str, dict[str, Any]], bytes]

    @property
    def is_xml(self) -> bool:
        return self is XML

    def render(self, root: str, body: dict[str, Any]) -> bytes:
        return self.document(root, body)


JSON: Final = Format("json", json_format.MEDIA_TYPE, json_format.document)
XML: Final = Format("xml", xml_format.MEDIA_TYPE, xml_format.document)
