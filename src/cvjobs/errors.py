"""The exceptions that become wire errors, each carrying its wire shape (§11 of the wire
contract). `cvjobs.http.errors` turns them into responses; nothing else does.

Every error knows its HTTP status, the XML root element of its body and the body itself as
a JSON-shaped dict, so both formats are rendered from the same object.
"""

from __future__ import annotations

from typing import Any, ClassVar

# errorCode values. 5 (access denied), 1116 (bad login) and 2 (job operation failed) are the
# vendor's; 1 (bad request) and the reuse of HTTP numbers (404, 405, ...) are [OURS].
CODE_BAD_REQUEST = 1
CODE_JOB = 2
CODE_ACCESS_DENIED = 5
CODE_NOT_FOUND = 404
CODE_METHOD_NOT_ALLOWED = 405
CODE_NOT_ACCEPTABLE = 406
CODE_TOO_LARGE = 413
CODE_TIMEOUT = 408
CODE_CONFLICT = 409
CODE_UNAVAILABLE = 503
CODE_BAD_LOGIN = 1116


class CvjobsError(Exception):
    """Base of every error the API answers on purpose."""

    http_status: ClassVar[int] = 400
    xml_root: ClassVar[str] = "CVGui_GenericResp"
    error_code: int = CODE_BAD_REQUEST

    def __init__(self, message: str, *, error_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code

    def body(self) -> dict[str, Any]:
        return {"errorCode": self.error_code, "errorMessage": self.message}


class BadRequest(CvjobsError):
    """Malformed request: bad id, bad parameter, unreadable body (HTTP 400)."""


class NotAuthenticated(CvjobsError):
    """Missing, unknown or expired token (HTTP 401); clients renew or log in again."""

    http_status = 401
    error_code = CODE_ACCESS_DENIED


class RouteNotFound(CvjobsError):
    http_status = 404
    error_code = CODE_NOT_FOUND


class NoSuchJob(CvjobsError):
    """A route of cvjobs' own API names a job that does not exist (HTTP 404)."""

    http_status = 404
    error_code = CODE_JOB


class NoSuchWebhook(CvjobsError):
    """A webhook (or a delivery of one) that does not exist (HTTP 404)."""

    http_status = 404
    error_code = CODE_NOT_FOUND


class MethodNotAllowed(CvjobsError):
    http_status = 405
    error_code = CODE_METHOD_NOT_ALLOWED


class NotAcceptable(CvjobsError):
    """The Accept header names neither JSON nor XML (HTTP 406, answered as JSON)."""

    http_status = 406
    error_code = CODE_NOT_ACCEPTABLE


class PayloadTooLarge(CvjobsError):
    http_status = 413
    error_code = CODE_TOO_LARGE


class RequestTimeout(CvjobsError):
    """The request body did not arrive within the body timeout (HTTP 408); the
    connection is closed after the answer."""

    http_status = 408
    error_code = CODE_TIMEOUT


class ClientGone(BadRequest):
    """The client hung up, or sent framing the server could not read (granian reports a
    malformed chunk as a disconnect): HTTP 400, which a client that is gone never reads."""


class Forbidden(CvjobsError):
    """The account may not do this (HTTP 403)."""

    http_status = 403
    error_code = CODE_ACCESS_DENIED


class StaleUpdate(CvjobsError):
    """An ingest update older than what is stored (HTTP 409); nothing was changed."""

    http_status = 409
    error_code = CODE_CONFLICT


class CursorGone(CvjobsError):
    """A change-log cursor from before the oldest record kept (pruned past it), or from
    beyond the log's head (another catalogue's): HTTP 410 with the oldest sequence number
    available and the head, so the client resyncs from GET Job and reads on from there."""

    http_status = 410
    error_code = 410

    def __init__(self, message: str, oldest: int, head: int) -> None:
        super().__init__(message)
        self.oldest = oldest
        self.head = head

    def body(self) -> dict[str, Any]:
        return {**super().body(), "oldest": self.oldest, "head": self.head}


class AccountExists(CvjobsError):
    """An account with this name (in any casing) exists already (HTTP 409)."""

    http_status = 409
    error_code = CODE_CONFLICT


class OperationFailed(CvjobsError):
    """A well-formed request the catalogue cannot satisfy, answered with HTTP 200 and the
    generic errorCode body (AdvancedDetails: unknown job, type not applicable)."""

    http_status = 200
    error_code = CODE_JOB


class LoginFailed(CvjobsError):
    """Wrong user or password, disabled or locked account: HTTP 200 with an errList."""

    http_status = 200
    xml_root = "DM2ContentIndexing_CheckCredentialResp"
    error_code = CODE_BAD_LOGIN

    def body(self) -> dict[str, Any]:
        return {"errList": [{"errorCode": self.error_code, "errLogMessage": self.message}]}


class AccountLocked(LoginFailed):
    """Too many failed logins: the Login answer says so, and for how long."""

    def __init__(self, remaining_seconds: int) -> None:
        super().__init__(f"User account is locked; try again in {remaining_seconds} seconds")
        self.remaining_seconds = remaining_seconds

    def body(self) -> dict[str, Any]:
        return {
            **super().body(),
            "isAccountLocked": True,
            "remainingLockTime": self.remaining_seconds,
        }


class RenewFailed(CvjobsError):
    """RenewLoginToken refused: HTTP 200 with {"error": {"errLogMessage": ...}}."""

    http_status = 200
    xml_root = "DM2ContentIndexing_RenewTokenResp"
    error_code = CODE_ACCESS_DENIED

    def body(self) -> dict[str, Any]:
        return {"error": {"errorCode": self.error_code, "errLogMessage": self.message}}


class JobDetailsFailed(CvjobsError):
    """POST JobDetails on an unknown job: HTTP 200 with {"error": {"errList": [...]}}."""

    http_status = 200
    xml_root = "JobManager_JobDetailResponse"
    error_code = CODE_JOB

    def body(self) -> dict[str, Any]:
        return {
            "error": {"errList": [{"errorCode": self.error_code, "errLogMessage": self.message}]}
        }


class TaskDetailsFailed(CvjobsError):
    """GET Job/{id}/TaskDetails of an unknown job: HTTP 200, {"error": {"errList": [...]}}
    with both message keys (cvpysdk reads errorMessage there, other clients
    errLogMessage)."""

    http_status = 200
    xml_root = "TMMsg_TaskInfoResp"
    error_code = CODE_JOB

    def body(self) -> dict[str, Any]:
        error = {
            "errorCode": self.error_code,
            "errorMessage": self.message,
            "errLogMessage": self.message,
        }
        return {"error": {"errList": [error]}}


class JobActionFailed(CvjobsError):
    """A refused job action: HTTP 200 with {"errors": [{"errList": [...]}]} (§8)."""

    http_status = 200
    xml_root = "JobManager_PerformJobOperationResp"
    error_code = CODE_JOB

    def body(self) -> dict[str, Any]:
        return {
            "errors": [{"errList": [{"errorCode": self.error_code, "errLogMessage": self.message}]}]
        }


class InvalidRecord(Exception):
    """A file given to `cvjobs import` is wrong; says where (file, record, field)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message

    def __reduce__(self) -> tuple[type[InvalidRecord], tuple[str, str]]:
        # Raised in import worker processes and re-raised in the parent.
        return InvalidRecord, (self.where, self.message)


class StoreError(CvjobsError):
    """The store cannot serve: unreadable database, schema from a newer cvjobs, or busy
    (another process holds the write lock too long). HTTP 503: try again later."""

    http_status = 503
    error_code = CODE_UNAVAILABLE


class NoCatalogue(StoreError):
    """`--db` names no catalogue, and the command does not create one (only serve, demo,
    import and copy's target do)."""


class TryLater(CvjobsError):
    """The server will not take this request now (HTTP 503); the response carries
    `Retry-After: retry_after` (seconds). Too many logins wait for a hash, or a request
    waited longer than the queue deadline for its turn."""

    http_status = 503
    error_code = CODE_UNAVAILABLE

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)
