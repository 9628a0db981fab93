"""The OpenAPI document served at /openapi.json: every route with its parameters, bodies
and answers. A test checks it names exactly the routes of the route table, and schemathesis
runs against it and a live server in the test suite.

Paths are written under /commandcenter/api/ (the vendor API) and /cvjobs/v1/ (ingest);
the vendor API answers the same under /webconsole/api/ and /SearchSvc/CVWebService.svc/.
Every vendor operation answers JSON or XML by `Accept`; the schemas describe the JSON.
"""

# (This docstring is the document's info.description.) As Starlette's SchemaGenerator
# does, `document` walks the route table: each Route carries its operation (`Route.doc`,
# written in cvjobs.http.operations with the helpers here).

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from cvjobs import __version__
from cvjobs.http.dispatch import Route
from cvjobs.ranges import RANGES

VENDOR: Final = "/commandcenter/api/"
NATIVE: Final = "/cvjobs/v1/"
JsonSchema = dict[str, Any]


def ref(name: str) -> JsonSchema:
    return {"$ref": f"#/components/schemas/{name}"}


def integer(low: int = 0, high: int = 2**63 - 1) -> JsonSchema:
    return {"type": "integer", "minimum": low, "maximum": high}


def _ranged(field: str) -> JsonSchema:
    """A jobSummary number, with its range (cvjobs.ranges)."""
    low, high = RANGES[field]
    kind = "number" if field.startswith("percent") else "integer"
    return {"type": kind, "minimum": low, "maximum": high}


def obj(required: tuple[str, ...] = (), **properties: JsonSchema) -> JsonSchema:
    schema: JsonSchema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def closed(**properties: JsonSchema) -> JsonSchema:
    """An object that takes these properties only (any other is a 400 naming it)."""
    return {"type": "object", "properties": properties, "additionalProperties": False}


BOOL_WORD: Final = {"type": "string", "enum": ["true", "false", "1", "0"]}

SCHEMAS: Final[dict[str, JsonSchema]] = {
    "Error": obj(
        ("errorCode", "errorMessage"), errorCode=integer(-(2**31)), errorMessage={"type": "string"}
    ),
    "ErrList": obj(
        ("errList",),
        errList={
            "type": "array",
            "items": obj(errorCode={"type": "integer"}, errLogMessage={"type": "string"}),
        },
        isAccountLocked={"type": "boolean"},
        remainingLockTime=integer(),
    ),
    "Ref": {"type": "object"},
    "JobSummary": obj(
        ("jobId", "status", "jobType"),
        jobId=_ranged("jobId"),
        status={"type": "string"},
        jobType={"type": "string"},
        backupLevel={"type": "integer"},
        percentComplete=_ranged("percentComplete"),
        jobStartTime=_ranged("jobStartTime"),
        jobEndTime=_ranged("jobEndTime"),
        lastUpdateTime=_ranged("lastUpdateTime"),
        isAged={"type": "boolean"},
        subclient=ref("Ref"),
        clientGroups={"type": "array", "items": ref("Ref")},
    ),
    "JobList": obj(
        ("totalRecordsWithoutPaging",),
        totalRecordsWithoutPaging=integer(),
        jobs={"type": "array", "items": obj(("jobSummary",), jobSummary=ref("JobSummary"))},
    ),
    "Events": obj(
        ("commservEvents",), commservEvents={"type": "array", "items": {"type": "object"}}
    ),
    "Login": obj(
        ("username", "password"),
        username={"type": "string", "minLength": 1},
        password={"type": "string", "description": "Base64 of the UTF-8 password"},
        timeout=integer(1, 7 * 24 * 60),
    ),
    "IngestJob": obj(
        ("jobId", "status", "jobType"),
        jobId=_ranged("jobId"),
        status={"type": "string", "description": "any status of the vendor's, any casing"},
        jobType={"type": "string", "description": "Backup, Restore, ... or a code"},
        percentComplete=_ranged("percentComplete"),
        subclient=ref("Ref"),
    ),
}


def _answer(schema: JsonSchema, description: str = "the answer") -> JsonSchema:
    content = {"application/json": {"schema": schema}, "application/xml": {"schema": {}}}
    return {"description": description, "content": content}


def responses(ok: JsonSchema, *, native: bool = False) -> JsonSchema:
    """200 with `ok`; any other status is an error in the client's format."""
    if native:  # the ingest API speaks JSON only
        return {
            "200": {"description": "done", "content": {"application/json": {"schema": ok}}},
            "default": {
                "description": "refused; nothing was changed",
                "content": {"application/json": {"schema": ref("Error")}},
            },
        }
    error = _answer(ref("Error"), "refused; nothing was changed")
    return {"200": _answer(ok), "default": error}


def body(schema: JsonSchema, *, xml: bool = True) -> JsonSchema:
    content = {"application/json": {"schema": schema}}
    if xml:
        content["application/xml"] = {"schema": {}}
    return {"required": True, "content": content}


def query(name: str, schema: JsonSchema, description: str = "") -> JsonSchema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def path(name: str, schema: JsonSchema | None = None) -> JsonSchema:
    return {"name": name, "in": "path", "required": True, "schema": schema or integer(1)}


ONE_OR_ERROR: Final = {"oneOf": [obj(), ref("Error")]}


def document(routes: Iterable[Route]) -> dict[str, Any]:
    """The document of `routes`, in their order."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        prefix = NATIVE if route.native else VENDOR
        paths.setdefault(prefix + route.pattern, {})[route.method.lower()] = route.doc
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "cvjobs",
            "version": __version__,
            "description": __doc__,
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "Authtoken": {"type": "apiKey", "in": "header", "name": "Authtoken"},
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"Authtoken": []}, {"Bearer": []}],
    }
