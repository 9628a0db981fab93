"""The OpenAPI operation of each route (cvjobs.http.openapi writes the document): every
Route of the route tables points to one of these as its `doc`, so a route cannot be added
without its description, and the document lists exactly the routes.

Vendor operations answer JSON or XML by `Accept`; their schemas describe the JSON.
"""

from __future__ import annotations

from typing import Final

from cvjobs.http.openapi import (
    BOOL_WORD,
    ONE_OR_ERROR,
    JsonSchema,
    body,
    closed,
    integer,
    obj,
    path,
    query,
    ref,
    responses,
)
from cvjobs.http.queries import MAX_LIMIT, MAX_OFFSET
from cvjobs.vocab import ALL_INFO_TYPES, INFO_TYPE_SUMMARY, JobStatus

LOGIN: Final[JsonSchema] = {
    "summary": "log in; the password is Base64 of the UTF-8 password",
    "security": [],
    "requestBody": body(ref("Login")),
    "responses": responses({"oneOf": [obj(("token", "userName")), ref("ErrList")]}),
}

RENEW_LOGIN_TOKEN: Final[JsonSchema] = {
    "summary": "swap a login token for a new one",
    "security": [],
    "requestBody": body(obj(sessionId={"type": "string"})),
    "responses": responses(obj()),
}

LOGOUT: Final[JsonSchema] = {
    "summary": "end a login session",
    "security": [],
    "responses": {"200": {"description": "plain text", "content": {"text/plain": {}}}},
}

WHO_AM_I: Final[JsonSchema] = {
    "summary": "the account behind the token",
    "responses": responses(obj(("user",), user=obj())),
}

LIST_JOBS: Final[JsonSchema] = {
    "summary": "a filtered, paged job list with an exact total",
    "parameters": [
        query("clientId", integer(1)),
        query("subclientId", integer(1)),
        query("backupsetId", integer(1)),
        query("jobCategory", {"type": "string", "enum": ["Active", "Finished", "All"]}),
        query("jobFilter", {"type": "string", "enum": ["Backup", "Restore", "Backup,Restore", ""]}),
        query("completedJobLookupTime", integer(), "seconds"),
        query("hideAdminJobs", BOOL_WORD),
        query("limit", integer(0, MAX_LIMIT)),
        query("offset", integer(0, MAX_OFFSET)),
    ],
    "responses": responses(ref("JobList")),
}

POST_JOBS: Final[JsonSchema] = {
    "summary": "the job list as cvpysdk asks for it",
    "requestBody": body(
        obj(
            category=integer(0, 2),
            pagingConfig=obj(limit=integer(0, MAX_LIMIT), offset=integer(0, MAX_OFFSET)),
            jobFilter=closed(
                completedJobLookupTime=integer(),
                showAgedJobs={"type": "boolean"},
                hideAdminJobs={"type": "boolean"},
                showAnomalous={"type": "boolean"},
                clientList={"type": "array", "items": obj(("clientId",), clientId=integer(1))},
                jobTypeList={"type": "array", "items": {"enum": ["Backup", "Restore", 4]}},
                statusList={
                    "type": "array",
                    "items": {"enum": [JobStatus.COMPLETED, JobStatus.FAILED]},
                },
                backupLevel={"type": "array", "items": {"enum": ["FULL", "INCREMENTAL"]}},
                entity=closed(
                    clientId=integer(1),
                    subclientId=integer(1),
                    backupsetId=integer(1),
                    instanceId=integer(1),
                    applicationId=integer(1),
                ),
            ),
        )
    ),
    "responses": responses(ref("JobList")),
}

GET_JOB: Final[JsonSchema] = {
    "summary": "one job, in the list shape (a total of 0 when there is none)",
    "parameters": [path("job_id")],
    "responses": responses(ref("JobList")),
}

ADVANCED_DETAILS: Final[JsonSchema] = {
    "summary": INFO_TYPE_SUMMARY,
    "parameters": [path("job_id"), query("infoType", integer(1, ALL_INFO_TYPES))],
    "responses": responses(obj()),
}

JOB_DETAILS: Final[JsonSchema] = {
    "summary": "a job's details",
    "requestBody": body(obj(("jobId",), jobId=integer(1))),
    "responses": responses(obj()),
}

TASK_DETAILS: Final[JsonSchema] = {
    "summary": "the task that ran the job",
    "parameters": [path("job_id")],
    "responses": responses(obj()),
}

JOB_ACTION: Final[JsonSchema] = {
    "summary": "suspend, resume, kill or resubmit a job",
    "parameters": [
        path("job_id"),
        path(
            "action",
            {"type": "string", "enum": ["pause", "suspend", "resume", "kill", "Resubmit"]},
        ),
        query("autoResumeInSec", integer(0, 30 * 24 * 3600)),
        query("startInSuspendedState", BOOL_WORD),
    ],
    "responses": responses(ONE_OR_ERROR),
}

MULTI_JOB_OPERATION: Final[JsonSchema] = {
    "summary": "one action on many jobs, all or none",
    "requestBody": body(
        obj(
            ("jobOpReq",),
            jobOpReq=obj(
                ("operationType", "jobs"),
                operationType={
                    "type": "string",
                    "enum": ["JOB_KILL", "JOB_SUSPEND", "JOB_RESUME"],
                },
                jobs={
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 20,
                    "items": obj(("jobId",), jobId=integer(1)),
                },
            ),
        )
    ),
    "responses": responses(ONE_OR_ERROR),
}

LIST_EVENTS: Final[JsonSchema] = {
    "summary": "events, newest first",
    "parameters": [
        query("jobId", integer(1)),
        query("clientId", integer(1)),
        query("fromTime", integer()),
        query("toTime", integer()),
        *(query(n, BOOL_WORD) for n in ("showInfo", "showMinor", "showMajor", "showCritical")),
        query("limit", integer(1, 10_000)),
    ],
    "responses": responses(ref("Events")),
}

GET_EVENT: Final[JsonSchema] = {
    "summary": "one event",
    "parameters": [path("event_id")],
    "responses": responses(ref("Events")),
}

COMMSERV: Final[JsonSchema] = {
    "summary": "the CommCell this server plays",
    "responses": responses(obj()),
}

LIST_CLIENTS: Final[JsonSchema] = {
    "summary": "the clients the account sees (also ?hiddenclients=true); "
    "?PseudoClientType=VSPseudo: the virtualization clients (none)",
    "parameters": [
        query("hiddenclients", BOOL_WORD),
        query("PseudoClientType", {"type": "string", "enum": ["VSPseudo"]}),
    ],
    "responses": responses({"oneOf": [obj(("clientProperties",)), obj(("VSPseudoClientsList",))]}),
}

GET_CLIENT: Final[JsonSchema] = {
    "summary": "one client's properties, by id or as byName(clientName='NAME')",
    # No control characters: a path with a line feed never reaches the API's
    # dispatcher (Starlette's catch-all path pattern stops at it) and is a plain 404.
    "parameters": [path("client", {"type": "string", "pattern": "^[^\\x00-\\x1f]+$"})],
    "responses": responses({"oneOf": [obj(("clientProperties",)), ref("Error")]}),
}

ACCESS_NODES: Final[JsonSchema] = {
    "summary": "virtualization access nodes (none)",
    "responses": responses(obj(("clients",))),
}

GET_ID: Final[JsonSchema] = {
    "summary": "the ids of a client and of its agent, instance, backup set, subclient "
    "by name; -32000 for a name not found",
    "parameters": [
        {**query("clientName", {"type": "string", "maxLength": 1024}), "required": True},
        *(
            query(n, {"type": "string", "maxLength": 1024})
            for n in ("agent", "instanceName", "backupset", "subclient")
        ),
    ],
    "responses": responses(obj(("clientId",), clientId=integer(-32000))),
}

LIST_GROUPS: Final[JsonSchema] = {
    "summary": "the client groups the account sees",
    "responses": responses(obj(("groups",))),
}

GET_GROUP: Final[JsonSchema] = {
    "summary": "one client group with the members the account sees",
    "parameters": [path("group_id")],
    "responses": responses({"oneOf": [obj(("clientGroupDetail",)), ref("Error")]}),
}

LIST_SUBCLIENTS: Final[JsonSchema] = {
    "summary": "a client's subclients",
    "parameters": [
        {**query("clientId", integer(1)), "required": True},
        query("applicationId", integer(1)),
        query("backupsetId", integer(1)),
        query("instanceId", integer(1)),
        query("propertyLevel", {"type": "string"}, "ignored"),
    ],
    "responses": responses(obj(("subClientProperties",))),
}

GET_SUBCLIENT: Final[JsonSchema] = {
    "summary": "one subclient, with the storage policy of its newest job",
    "parameters": [path("subclient_id")],
    "responses": responses({"oneOf": [obj(("subClientProperties",)), ref("Error")]}),
}

LIST_AGENTS: Final[JsonSchema] = {
    "summary": "a client's agents",
    "parameters": [
        {**query("clientId", integer(1)), "required": True},
        query("applicationId", integer(1)),
        query("propertyLevel", {"type": "string"}, "ignored"),
    ],
    "responses": responses(obj(("agentProperties",))),
}

GET_BACKUPSET: Final[JsonSchema] = {
    "summary": "one backup set",
    "parameters": [path("backupset_id")],
    "responses": responses({"oneOf": [obj(("backupsetProperties",)), ref("Error")]}),
}

LIST_BACKUPSETS: Final[JsonSchema] = {
    "summary": "a client's backup sets",
    "parameters": [
        {**query("clientId", integer(1)), "required": True},
        query("applicationId", integer(1)),
        query("instanceId", integer(1)),
        query("propertyLevel", {"type": "string"}, "ignored"),
    ],
    "responses": responses(obj(("backupsetProperties",))),
}

LIST_INSTANCES: Final[JsonSchema] = {
    "summary": "a client's instances",
    "parameters": [
        {**query("clientId", integer(1)), "required": True},
        query("applicationId", integer(1)),
    ],
    "responses": responses(obj(("instanceProperties",))),
}

LIST_SCHEDULES: Final[JsonSchema] = {
    "summary": "schedules (none: the catalogue keeps no schedules)",
    "responses": responses(obj(("taskDetail",))),
}

LIST_POLICIES: Final[JsonSchema] = {
    "summary": "every storage policy (flat items)",
    "parameters": [query("getAll", BOOL_WORD, "ignored")],
    "responses": responses(obj(("policies",))),
}

LIST_POLICIES_V2: Final[JsonSchema] = {
    "summary": "every storage policy (items nested under storagePolicy)",
    "responses": responses(obj(("policies",))),
}

GET_POLICY: Final[JsonSchema] = {
    "summary": "one storage policy with its copies",
    "parameters": [path("policy_id")],
    "responses": responses({"oneOf": [obj(("storagePolicy", "copy")), ref("Error")]}),
}

CHANGES: Final[JsonSchema] = {
    "summary": "the change log after a cursor (JSON, or server-sent events)",
    "description": "Records oldest first. `after` omitted: from the oldest record kept (for"
    " an event stream: from now). `next` is the cursor to ask with next time. A cursor"
    " the log no longer holds is 410 with the oldest sequence number and the head."
    " `Accept: text/event-stream` streams the records as they are written (`id:` the"
    " sequence number; a reconnect resumes from `Last-Event-ID`).",
    "parameters": [
        query("after", integer()),
        query("limit", integer(1, 1000)),
        query("wait", integer(0, 60), "seconds to wait for a record if there is none yet"),
    ],
    "responses": responses(
        obj(
            ("changes", "next", "head"),
            changes={"type": "array", "items": obj(("seq", "jobId", "kind"))},
            next=integer(),
            head=integer(),
        ),
        native=True,
    ),
}

INGEST_JOBS: Final[JsonSchema] = {
    "summary": 'create or replace jobs: one, or {"jobs": [...]}',
    "requestBody": body(ref("IngestJob"), xml=False),
    "responses": responses(obj(("written",), written=integer()), native=True),
}

INGEST_JOB_UPDATE: Final[JsonSchema] = {
    "summary": "change some fields of a job",
    "parameters": [path("job_id")],
    "requestBody": body(
        obj(percentComplete={"type": "number", "minimum": 0, "maximum": 100}), xml=False
    ),
    "responses": responses(obj(("jobSummary",)), native=True),
}

INGEST_EVENTS: Final[JsonSchema] = {
    "summary": 'append events: one, or {"events": [...]}',
    "requestBody": body(
        obj(("description",), description={"type": "string", "minLength": 1}, jobId=integer(1)),
        xml=False,
    ),
    "responses": responses(obj(("written",), written=integer()), native=True),
}
