"""The OpenAPI document served at /openapi.json: every route with its parameters, bodies
and answers. A test checks it names exactly the routes of the route table, and schemathesis
runs against it and a live server in the test suite.

Paths are written under /commandcenter/api/ (the vendor API) and /cvjobs/v1/ (ingest);
the vendor API answers the same under /webconsole/api/ and /SearchSvc/CVWebService.svc/.
Every vendor operation answers JSON or XML by `Accept`; the schemas describe the JSON.
"""

from __future__ import annotations

from typing import Any, Final

from cvjobs import __version__
from cvjobs.http.queries import MAX_LIMIT, MAX_OFFSET
from cvjobs.ranges import RANGES
from cvjobs.vocab import ALL_INFO_TYPES, INFO_TYPE_SUMMARY, JobStatus

VENDOR: Final = "/commandcenter/api/"
NATIVE: Final = "/cvjobs/v1/"
JsonSchema = dict[str, Any]


def _ref(name: str) -> JsonSchema:
    return {"$ref": f"#/components/schemas/{name}"}


def _int(low: int = 0, high: int = 2**63 - 1) -> JsonSchema:
    return {"type": "integer", "minimum": low, "maximum": high}


def _ranged(field: str) -> JsonSchema:
    """A jobSummary number, with its range (cvjobs.ranges)."""
    low, high = RANGES[field]
    kind = "number" if field.startswith("percent") else "integer"
    return {"type": kind, "minimum": low, "maximum": high}


def _obj(required: tuple[str, ...] = (), **properties: JsonSchema) -> JsonSchema:
    schema: JsonSchema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _closed(**properties: JsonSchema) -> JsonSchema:
    """An object that takes these properties only (any other is a 400 naming it)."""
    return {"type": "object", "properties": properties, "additionalProperties": False}


_BOOL_WORD: Final = {"type": "string", "enum": ["true", "false", "1", "0"]}

SCHEMAS: Final[dict[str, JsonSchema]] = {
    "Error": _obj(
        ("errorCode", "errorMessage"), errorCode=_int(-(2**31)), errorMessage={"type": "string"}
    ),
    "ErrList": _obj(
        ("errList",),
        errList={
            "type": "array",
            "items": _obj(errorCode={"type": "integer"}, errLogMessage={"type": "string"}),
        },
        isAccountLocked={"type": "boolean"},
        remainingLockTime=_int(),
    ),
    "Ref": {"type": "object"},
    "JobSummary": _obj(
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
        subclient=_ref("Ref"),
        clientGroups={"type": "array", "items": _ref("Ref")},
    ),
    "JobList": _obj(
        ("totalRecordsWithoutPaging",),
        totalRecordsWithoutPaging=_int(),
        jobs={"type": "array", "items": _obj(("jobSummary",), jobSummary=_ref("JobSummary"))},
    ),
    "Events": _obj(
        ("commservEvents",), commservEvents={"type": "array", "items": {"type": "object"}}
    ),
    "Login": _obj(
        ("username", "password"),
        username={"type": "string", "minLength": 1},
        password={"type": "string", "description": "Base64 of the UTF-8 password"},
        timeout=_int(1, 7 * 24 * 60),
    ),
    "IngestJob": _obj(
        ("jobId", "status", "jobType"),
        jobId=_ranged("jobId"),
        status={"type": "string", "description": "any status of the vendor's, any casing"},
        jobType={"type": "string", "description": "Backup, Restore, ... or a code"},
        percentComplete=_ranged("percentComplete"),
        subclient=_ref("Ref"),
    ),
}


def _answer(schema: JsonSchema, description: str = "the answer") -> JsonSchema:
    content = {"application/json": {"schema": schema}, "application/xml": {"schema": {}}}
    return {"description": description, "content": content}


def _responses(ok: JsonSchema, *, native: bool = False) -> JsonSchema:
    """200 with `ok`; any other status is an error in the client's format."""
    if native:  # the ingest API speaks JSON only
        return {
            "200": {"description": "done", "content": {"application/json": {"schema": ok}}},
            "default": {
                "description": "refused; nothing was changed",
                "content": {"application/json": {"schema": _ref("Error")}},
            },
        }
    error = _answer(_ref("Error"), "refused; nothing was changed")
    return {"200": _answer(ok), "default": error}


def _body(schema: JsonSchema, *, xml: bool = True) -> JsonSchema:
    content = {"application/json": {"schema": schema}}
    if xml:
        content["application/xml"] = {"schema": {}}
    return {"required": True, "content": content}


def _query(name: str, schema: JsonSchema, description: str = "") -> JsonSchema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _path(name: str, schema: JsonSchema | None = None) -> JsonSchema:
    return {"name": name, "in": "path", "required": True, "schema": schema or _int(1)}


_ONE_OR_ERROR: Final = {"oneOf": [_obj(), _ref("Error")]}

# (method, route pattern) -> operation. The patterns are the route table's.
OPERATIONS: Final[dict[tuple[str, str], JsonSchema]] = {
    ("POST", "Login"): {
        "summary": "log in; the password is Base64 of the UTF-8 password",
        "security": [],
        "requestBody": _body(_ref("Login")),
        "responses": _responses({"oneOf": [_obj(("token", "userName")), _ref("ErrList")]}),
    },
    ("POST", "RenewLoginToken"): {
        "summary": "swap a login token for a new one",
        "security": [],
        "requestBody": _body(_obj(sessionId={"type": "string"})),
        "responses": _responses(_obj()),
    },
    ("POST", "Logout"): {
        "summary": "end a login session",
        "security": [],
        "responses": {"200": {"description": "plain text", "content": {"text/plain": {}}}},
    },
    ("POST", "WhoAmI"): {
        "summary": "the account behind the token",
        "responses": _responses(_obj(("user",), user=_obj())),
    },
    ("GET", "Job"): {
        "summary": "a filtered, paged job list with an exact total",
        "parameters": [
            _query("clientId", _int(1)),
            _query("subclientId", _int(1)),
            _query("backupsetId", _int(1)),
            _query("jobCategory", {"type": "string", "enum": ["Active", "Finished", "All"]}),
            _query(
                "jobFilter", {"type": "string", "enum": ["Backup", "Restore", "Backup,Restore", ""]}
            ),
            _query("completedJobLookupTime", _int(), "seconds"),
            _query("hideAdminJobs", _BOOL_WORD),
            _query("limit", _int(0, MAX_LIMIT)),
            _query("offset", _int(0, MAX_OFFSET)),
        ],
        "responses": _responses(_ref("JobList")),
    },
    ("POST", "Jobs"): {
        "summary": "the job list as cvpysdk asks for it",
        "requestBody": _body(
            _obj(
                category=_int(0, 2),
                pagingConfig=_obj(limit=_int(0, MAX_LIMIT), offset=_int(0, MAX_OFFSET)),
                jobFilter=_closed(
                    completedJobLookupTime=_int(),
                    showAgedJobs={"type": "boolean"},
                    hideAdminJobs={"type": "boolean"},
                    showAnomalous={"type": "boolean"},
                    clientList={"type": "array", "items": _obj(("clientId",), clientId=_int(1))},
                    jobTypeList={"type": "array", "items": {"enum": ["Backup", "Restore", 4]}},
                    statusList={
                        "type": "array",
                        "items": {"enum": [JobStatus.COMPLETED, JobStatus.FAILED]},
                    },
                    backupLevel={"type": "array", "items": {"enum": ["FULL", "INCREMENTAL"]}},
                    entity=_closed(
                        clientId=_int(1),
                        subclientId=_int(1),
                        backupsetId=_int(1),
                        instanceId=_int(1),
                        applicationId=_int(1),
                    ),
                ),
            )
        ),
        "responses": _responses(_ref("JobList")),
    },
    ("GET", "Job/{job_id}"): {
        "summary": "one job, in the list shape (a total of 0 when there is none)",
        "parameters": [_path("job_id")],
        "responses": _responses(_ref("JobList")),
    },
    ("GET", "Job/{job_id}/AdvancedDetails"): {
        "summary": INFO_TYPE_SUMMARY,
        "parameters": [_path("job_id"), _query("infoType", _int(1, ALL_INFO_TYPES))],
        "responses": _responses(_obj()),
    },
    ("POST", "JobDetails"): {
        "summary": "a job's details",
        "requestBody": _body(_obj(("jobId",), jobId=_int(1))),
        "responses": _responses(_obj()),
    },
    ("GET", "Job/{job_id}/TaskDetails"): {
        "summary": "the task that ran the job",
        "parameters": [_path("job_id")],
        "responses": _responses(_obj()),
    },
    ("POST", "Job/{job_id}/action/{action}"): {
        "summary": "suspend, resume, kill or resubmit a job",
        "parameters": [
            _path("job_id"),
            _path(
                "action",
                {"type": "string", "enum": ["pause", "suspend", "resume", "kill", "Resubmit"]},
            ),
            _query("autoResumeInSec", _int(0, 30 * 24 * 3600)),
            _query("startInSuspendedState", _BOOL_WORD),
        ],
        "responses": _responses(_ONE_OR_ERROR),
    },
    ("POST", "Jobs/MultiJobOperation"): {
        "summary": "one action on many jobs, all or none",
        "requestBody": _body(
            _obj(
                ("jobOpReq",),
                jobOpReq=_obj(
                    ("operationType", "jobs"),
                    operationType={
                        "type": "string",
                        "enum": ["JOB_KILL", "JOB_SUSPEND", "JOB_RESUME"],
                    },
                    jobs={
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 20,
                        "items": _obj(("jobId",), jobId=_int(1)),
                    },
                ),
            )
        ),
        "responses": _responses(_ONE_OR_ERROR),
    },
    ("GET", "Events"): {
        "summary": "events, newest first",
        "parameters": [
            _query("jobId", _int(1)),
            _query("clientId", _int(1)),
            _query("fromTime", _int()),
            _query("toTime", _int()),
            *(
                _query(n, _BOOL_WORD)
                for n in ("showInfo", "showMinor", "showMajor", "showCritical")
            ),
            _query("limit", _int(1, 10_000)),
        ],
        "responses": _responses(_ref("Events")),
    },
    ("GET", "Events/{event_id}"): {
        "summary": "one event",
        "parameters": [_path("event_id")],
        "responses": _responses(_ref("Events")),
    },
    ("GET", "CommServ"): {
        "summary": "the CommCell this server plays",
        "responses": _responses(_obj()),
    },
    ("GET", "Client"): {
        "summary": "the clients the account sees (also ?hiddenclients=true); "
        "?PseudoClientType=VSPseudo: the virtualization clients (none)",
        "parameters": [
            _query("hiddenclients", _BOOL_WORD),
            _query("PseudoClientType", {"type": "string", "enum": ["VSPseudo"]}),
        ],
        "responses": _responses(
            {"oneOf": [_obj(("clientProperties",)), _obj(("VSPseudoClientsList",))]}
        ),
    },
    ("GET", "Client/{client}"): {
        "summary": "one client's properties, by id or as byName(clientName='NAME')",
        # No control characters: a path with a line feed never reaches the API's
        # dispatcher (Starlette's catch-all path pattern stops at it) and is a plain 404.
        "parameters": [_path("client", {"type": "string", "pattern": "^[^\\x00-\\x1f]+$"})],
        "responses": _responses({"oneOf": [_obj(("clientProperties",)), _ref("Error")]}),
    },
    ("GET", "VSAClientAndClientGroupList"): {
        "summary": "virtualization access nodes (none)",
        "responses": _responses(_obj(("clients",))),
    },
    ("GET", "GetId"): {
        "summary": "the ids of a client and of its agent, instance, backup set, subclient "
        "by name; -32000 for a name not found",
        "parameters": [
            {**_query("clientName", {"type": "string", "maxLength": 1024}), "required": True},
            *(
                _query(n, {"type": "string", "maxLength": 1024})
                for n in ("agent", "instanceName", "backupset", "subclient")
            ),
        ],
        "responses": _responses(_obj(("clientId",), clientId=_int(-32000))),
    },
    ("GET", "ClientGroup"): {
        "summary": "the client groups the account sees",
        "responses": _responses(_obj(("groups",))),
    },
    ("GET", "ClientGroup/{group_id}"): {
        "summary": "one client group with the members the account sees",
        "parameters": [_path("group_id")],
        "responses": _responses({"oneOf": [_obj(("clientGroupDetail",)), _ref("Error")]}),
    },
    ("GET", "Subclient"): {
        "summary": "a client's subclients",
        "parameters": [
            {**_query("clientId", _int(1)), "required": True},
            _query("applicationId", _int(1)),
            _query("backupsetId", _int(1)),
            _query("instanceId", _int(1)),
            _query("propertyLevel", {"type": "string"}, "ignored"),
        ],
        "responses": _responses(_obj(("subClientProperties",))),
    },
    ("GET", "Subclient/{subclient_id}"): {
        "summary": "one subclient, with the storage policy of its newest job",
        "parameters": [_path("subclient_id")],
        "responses": _responses({"oneOf": [_obj(("subClientProperties",)), _ref("Error")]}),
    },
    ("GET", "Agent"): {
        "summary": "a client's agents",
        "parameters": [
            {**_query("clientId", _int(1)), "required": True},
            _query("applicationId", _int(1)),
            _query("propertyLevel", {"type": "string"}, "ignored"),
        ],
        "responses": _responses(_obj(("agentProperties",))),
    },
    ("GET", "Backupset/{backupset_id}"): {
        "summary": "one backup set",
        "parameters": [_path("backupset_id")],
        "responses": _responses({"oneOf": [_obj(("backupsetProperties",)), _ref("Error")]}),
    },
    ("GET", "Backupset"): {
        "summary": "a client's backup sets",
        "parameters": [
            {**_query("clientId", _int(1)), "required": True},
            _query("applicationId", _int(1)),
            _query("instanceId", _int(1)),
            _query("propertyLevel", {"type": "string"}, "ignored"),
        ],
        "responses": _responses(_obj(("backupsetProperties",))),
    },
    ("GET", "Instance"): {
        "summary": "a client's instances",
        "parameters": [
            {**_query("clientId", _int(1)), "required": True},
            _query("applicationId", _int(1)),
        ],
        "responses": _responses(_obj(("instanceProperties",))),
    },
    ("GET", "Schedules"): {
        "summary": "schedules (none: the catalogue keeps no schedules)",
        "responses": _responses(_obj(("taskDetail",))),
    },
    ("GET", "StoragePolicy"): {
        "summary": "every storage policy (flat items)",
        "parameters": [_query("getAll", _BOOL_WORD, "ignored")],
        "responses": _responses(_obj(("policies",))),
    },
    ("GET", "V2/StoragePolicy"): {
        "summary": "every storage policy (items nested under storagePolicy)",
        "responses": _responses(_obj(("policies",))),
    },
    ("GET", "StoragePolicy/{policy_id}"): {
        "summary": "one storage policy with its copies",
        "parameters": [_path("policy_id")],
        "responses": _responses({"oneOf": [_obj(("storagePolicy", "copy")), _ref("Error")]}),
    },
    ("POST", "jobs"): {
        "summary": 'create or replace jobs: one, or {"jobs": [...]}',
        "requestBody": _body(_ref("IngestJob"), xml=False),
        "responses": _responses(_obj(("written",), written=_int()), native=True),
    },
    ("PATCH", "jobs/{job_id}"): {
        "summary": "change some fields of a job",
        "parameters": [_path("job_id")],
        "requestBody": _body(
            _obj(percentComplete={"type": "number", "minimum": 0, "maximum": 100}), xml=False
        ),
        "responses": _responses(_obj(("jobSummary",)), native=True),
    },
    ("POST", "events"): {
        "summary": 'append events: one, or {"events": [...]}',
        "requestBody": _body(
            _obj(("description",), description={"type": "string", "minLength": 1}, jobId=_int(1)),
            xml=False,
        ),
        "responses": _responses(_obj(("written",), written=_int()), native=True),
    },
}


def document(native_patterns: frozenset[tuple[str, str]]) -> dict[str, Any]:
    """The document; `native_patterns` are the (method, pattern) of the ingest routes."""
    paths: dict[str, dict[str, Any]] = {}
    for (method, pattern), operation in OPERATIONS.items():
        prefix = NATIVE if (method, pattern) in native_patterns else VENDOR
        paths.setdefault(prefix + pattern, {})[method.lower()] = operation
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
