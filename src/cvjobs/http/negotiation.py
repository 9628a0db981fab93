"""Choosing the response format from the Accept header (wire contract §2).

No Accept, an empty one or only */* answers XML ([OURS]: every vendor sample asks for XML
first). Otherwise the supported type with the highest q-value wins, the first listed on a
tie; an Accept naming neither JSON nor XML is refused with 406.
"""

from __future__ import annotations

from cvjobs.errors import NotAcceptable
from cvjobs.render import JSON, XML, Format

_MEDIA: dict[str, Format] = {
    "application/json": JSON,
    "text/json": JSON,
    "application/xml": XML,
    "text/xml": XML,
    "application/*": XML,
    "text/*": XML,
    "*/*": XML,
    "*": XML,
}


def _q(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value.strip()), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def choose(accept: str | None) -> Format:
    """The format an Accept header asks for; NotAcceptable if none we speak."""
    if accept in _CHOSEN:
        return _CHOSEN[accept]
    fmt = _choose(accept)
    if len(_CHOSEN) < 256:  # clients send a handful of distinct headers
        _CHOSEN[accept] = fmt
    return fmt


_CHOSEN: dict[str | None, Format] = {}


def _choose(accept: str | None) -> Format:
    if not accept or not accept.strip():
        return XML
    best: Format | None = None
    best_key = (0.0, 0)
    for item in accept.split(","):
        media, *params = item.split(";")
        media = media.strip().lower()
        fmt = _MEDIA.get(media)
        q = _q(params)
        if fmt is None or q <= 0:
            continue
        # An explicit type beats a wildcard of the same q; the first listed wins a tie.
        key = (q, 0 if "*" in media else 1)
        if key > best_key:
            best, best_key = fmt, key
    if best is None:
        raise NotAcceptable(
            f"cannot answer in any of {accept.strip()!r}: use application/json or application/xml"
        )
    return best
