"""The one place where exceptions become wire errors (wire contract §11).

A `CvjobsError` carries its own status, XML root and body. Anything else is a bug: it is
logged with its traceback and answered 500 with a generic body, never the traceback.
"""

from __future__ import annotations

import logging

from starlette.responses import Response

from cvjobs.errors import CvjobsError, TryLater
from cvjobs.render import Format

log = logging.getLogger("cvjobs.http")

INTERNAL_ERROR_CODE = 500


def error_response(exc: CvjobsError, fmt: Format) -> Response:
    headers = {"WWW-Authenticate": 'QSDK realm="cvjobs"'} if exc.http_status == 401 else None
    if isinstance(exc, TryLater):
        headers = {"Retry-After": str(exc.retry_after)}
    return Response(
        fmt.render(exc.xml_root, exc.body()),
        status_code=exc.http_status,
        media_type=fmt.media_type,
        headers=headers,
    )


def unexpected_response(exc: BaseException, fmt: Format, where: str) -> Response:
    log.error("unexpected error on %s", where, exc_info=exc)
    body = {
        "errorCode": INTERNAL_ERROR_CODE,
        "errorMessage": "internal server error; the server log has the details",
    }
    return Response(
        fmt.render("CVGui_GenericResp", body), status_code=500, media_type=fmt.media_type
    )
