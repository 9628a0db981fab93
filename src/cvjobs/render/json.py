"""JSON documents: flat (the root name is not written), numbers as numbers."""

from __future__ import annotations

from typing import Any, Final

import orjson

MEDIA_TYPE: Final = "application/json"


def document(root: str, body: dict[str, Any]) -> bytes:
    del root  # JSON responses carry no root wrapper
    return orjson.dumps(body)
