"""The one place where exceptions become wire errors (wire contract §11).

A `CvjobsError` carries its own status, XML root and body. Anything else is a bug: it is
logged with its traceback and answered 500 with a generic body, never the traceback.
"""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect
from starlette.responses import Response

from cvjobs.errors import ClientGone, CvjobsError, RequestTimeout, TryLater
from cvjobs.render import Format

log = logging.getLogger("cvjobs.http")

INTERNAL_ERROR_CODE = 500


def error_response(exc: CvjobsError, fmt: Format) -> Response:
    headers: dict[str, str] | None = None
    if exc.http_status == 401:
        headers = {"WWW-Authenticate": 'QSDK realm="cvjobs"'}
    elif isinstance(exc, RequestTimeout | ClientGone):
        # The rest of the body may still be on its way: the connection cannot be reused.
        headers = {"Connection": "close"}
    elif isinstance(exc, TryLater):
        headers = {"Retry-After": str(exc.retry_after)}
    return Response(
        fmt.render(exc.xml_root, exc.body()),
        status_code=exc.http_status,
        media_type=fmt.media_type,
        headers=headers,
    )


def unexpected_response(exc: BaseException, fmt: Format, where: str) -> Response:
    if isinstance(exc, ClientDisconnect):
        # Not a bug: the client hung up where no one expected it to (read_body maps the
        # usual case to ClientGone). One line, never a traceback a client could flood.
        log.debug("%s: the client disconnected", where)
        return error_response(ClientGone("the client closed the connection"), fmt)
    log.error("unexpected error on %s", where, exc_info=exc)
    body = {
        "errorCode": INTERNAL_ERROR_CODE,
        "errorMessage": "internal server error; the server log has the details",
    }
    return Response(
        fmt.render("CVGui_GenericResp", body), status_code=500, media_type=fmt.media_type
    )
