"""The request areas of the security figures: authorization on every route, role and
format; authentication; hostile input. Each attempt is one request (or one burst) whose
documented answer is known; the tally counts those that behaved as documented."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from probe import ABSENT, API, V1, Answer, Client, Tally

AUTHZ = "authorization (route x role x format)"
AUTHN = "authentication"
HOSTILE = "hostile input"


@dataclass(frozen=True)
class Route:
    """A route that names one job: how to ask it about job `id`."""

    method: str
    path: str  # with {id}
    body: Callable[[int], Any] | None = None
    native: bool = False  # cvjobs' own API: JSON only


JOB_ROUTES = [
    Route("GET", "Job/{id}"),
    Route("GET", "Job/{id}/AdvancedDetails"),
    Route("GET", "Job/{id}/AdvancedDetails?infoType=1"),
    Route("GET", "Job/{id}/TaskDetails"),
    Route("POST", "JobDetails", lambda i: {"jobId": i}),
    Route("GET", "Events?jobId={id}"),
    Route("POST", "Job/{id}/action/kill"),
    Route("POST", "Job/{id}/action/pause"),
    Route("POST", "Job/{id}/action/resume"),
    Route("POST", "Job/{id}/action/Resubmit"),
    Route("POST", "Jobs/MultiJobOperation", lambda i: multi("JOB_KILL", i)),
    Route("PATCH", "jobs/{id}", lambda i: {"percentComplete": 5}, native=True),
    Route("POST", "events", lambda i: {"jobId": i, "description": "probe"}, native=True),
]


def multi(operation: str, *ids: int) -> dict[str, Any]:
    return {"jobOpReq": {"operationType": operation, "jobs": [{"jobId": i} for i in ids]}}


def ask(client: Client, route: Route, job_id: int, accept: str) -> Answer:
    root = V1 if route.native else API
    body = route.body(job_id) if route.body else None
    return client.call(route.method, root + route.path.format(id=job_id), body, accept=accept)


def blanked(answer: Answer, job_id: int) -> tuple[int, bytes]:
    return answer.status, re.sub(rb"\b%d\b" % job_id, b"N", answer.body)


@dataclass
class Tenant:
    name: str
    role: str
    client: Client


def authorization(
    tally: Tally, admin: Client, tenants: list[Tenant], mine: int, hidden: int, other_client: int
) -> None:
    """A job of a client outside the account's scope answers exactly like an absent one on
    every route, in both formats; lists leave it out; writes change nothing."""
    before = admin.call("GET", API + f"Job/{hidden}").body
    for tenant in tenants:
        for route in JOB_ROUTES:
            for accept in (
                ("application/json",) if route.native else ("application/json", "application/xml")
            ):
                a, b = (
                    ask(tenant.client, route, hidden, accept),
                    ask(tenant.client, route, ABSENT, accept),
                )
                tally.check(
                    AUTHZ,
                    f"{tenant.name} {route.method} {route.path} {accept}",
                    blanked(a, hidden) == blanked(b, ABSENT) and a.status < 500,
                    f"hidden {a.status} {a.body[:120]!r} vs absent {b.status} {b.body[:120]!r}",
                )
        c = tenant.client
        ok: Callable[[Any], bool]  # of the answer's JSON
        for what, answer, ok in (
            (
                "sees its own job",
                c.call("GET", API + f"Job/{mine}"),
                lambda j: j["totalRecordsWithoutPaging"] == 1,
            ),
            (
                "list by another client",
                c.call("GET", API + f"Job?clientId={other_client}"),
                lambda j: j["totalRecordsWithoutPaging"] == 0,
            ),
            (
                "POST Jobs for another client",
                c.call(
                    "POST",
                    API + "Jobs",
                    {"category": 0, "jobFilter": {"clientList": [{"clientId": other_client}]}},
                ),
                lambda j: j["totalRecordsWithoutPaging"] == 0,
            ),
            (
                "events of another client",
                c.call("GET", API + f"Events?clientId={other_client}"),
                lambda j: j["commservEvents"] == [],
            ),
        ):
            tally.check(
                AUTHZ,
                f"{tenant.name} {what}",
                answer.status == 200 and ok(answer.json()),
                str(answer.body[:200]),
            )
    tally.check(
        AUTHZ,
        "the hidden job is unchanged",
        admin.call("GET", API + f"Job/{hidden}").body == before,
    )


def write_scope(
    tally: Tally, admin: Client, operator: Tenant, viewer: Tenant, mine: int, other_client: int
) -> None:
    """Writes beyond the role or the scope are a 403 that writes nothing (names included)."""
    summary = admin.call("GET", API + f"Job/{mine}").json()["jobs"][0]["jobSummary"]
    record = {
        k: summary[k] for k in ("status", "jobType", "subclient", "storagePolicy", "userName")
    }
    record["jobId"] = 990_001
    other = admin.call("GET", API + f"Job?clientId={other_client}&limit=1").json()["jobs"][0][
        "jobSummary"
    ]
    attempts: list[tuple[str, Tenant, str, str, Any]] = [
        ("viewer kills its own job", viewer, "POST", API + f"Job/{mine}/action/kill", None),
        ("viewer ingests", viewer, "POST", V1 + "jobs", record),
        ("viewer patches", viewer, "PATCH", V1 + f"jobs/{mine}", {"percentComplete": 1}),
        (
            "viewer adds an event",
            viewer,
            "POST",
            V1 + "events",
            {"jobId": mine, "description": "x"},
        ),
        (
            "operator renames another client as a destination",
            operator,
            "POST",
            V1 + "jobs",
            {**record, "destinationClient": {"clientId": other_client, "clientName": "PWNED"}},
        ),
        (
            "operator renames another client's subclient",
            operator,
            "POST",
            V1 + "jobs",
            {
                **record,
                "subclient": {
                    **record["subclient"],
                    "subclientId": other["subclient"]["subclientId"],
                    "subclientName": "PWNED",
                },
            },
        ),
        (
            "operator renames a storage policy",
            operator,
            "POST",
            V1 + "jobs",
            {**record, "storagePolicy": {**record["storagePolicy"], "storagePolicyName": "PWNED"}},
        ),
        (
            "operator renames a job user",
            operator,
            "POST",
            V1 + "jobs",
            {**record, "userName": {"userId": 1, "userName": "PWNED"}},
        ),
        (
            "operator writes another client's job",
            operator,
            "POST",
            V1 + "jobs",
            {**record, "subclient": other["subclient"]},
        ),
    ]
    for what, tenant, method, path, body in attempts:
        answer = tenant.client.call(method, path, body)
        tally.check(AUTHZ, what, answer.status == 403, f"{answer.status} {answer.body[:150]!r}")
    after = admin.call("GET", API + f"Job?clientId={other_client}&limit=1").json()["jobs"][0][
        "jobSummary"
    ]
    gone = admin.call("GET", API + "Job/990001").json()["totalRecordsWithoutPaging"]
    tally.check(AUTHZ, "refused writes wrote nothing", after == other and gone == 0, f"{gone}")
    names = admin.call("GET", API + "Job?limit=10000&jobFilter=").body
    tally.check(AUTHZ, "no entity was renamed", b"PWNED" not in names)


AUTHENTICATED = [
    ("GET", API + "Job"),
    ("GET", API + "Job/4"),
    ("POST", API + "Jobs"),
    ("GET", API + "Job/4/AdvancedDetails"),
    ("POST", API + "JobDetails"),
    ("GET", API + "Events"),
    ("GET", API + "CommServ"),
    ("POST", API + "WhoAmI"),
    ("POST", API + "Job/4/action/kill"),
    ("POST", API + "Jobs/MultiJobOperation"),
    ("POST", V1 + "jobs"),
    ("PATCH", V1 + "jobs/4"),
    ("POST", V1 + "events"),
]


def authentication(tally: Tally, port: int, password: str, accounts: dict[str, str]) -> None:
    """Tokens: none, forged, logged out; lock-out under concurrency; names cannot be probed
    through the lock; the address throttle; another address is not affected."""
    anyone = Client(port, "127.0.0.30")
    logged_out = anyone.token_for("admin", password)
    anyone.call("POST", API + "Logout", token=logged_out)
    for token in (
        "",
        "QSDK " + secrets.token_hex(32),
        "Bearer cvat_" + secrets.token_hex(32),
        logged_out,
    ):
        for method, path in AUTHENTICATED:
            answer = anyone.call(method, path, {}, token=token)
            tally.check(
                AUTHN,
                f"{method} {path} with token {token[:10]!r}",
                answer.status == 401,
                str(answer.status),
            )

    # Wrong logins of one account at once, from many connections: the lock falls (a right
    # password between them would reset the count, as it should); then right ones at once,
    # which were queued when it fell or come after: no token.
    racer = Client(port, "127.0.0.31")
    answers: list[dict[str, Any]] = []

    def attempt(tried: str) -> None:
        answers.append(racer.login("racer", tried).json())

    for tried, count in (("wrong-password", 12), (accounts["racer"], 12)):
        threads = [threading.Thread(target=attempt, args=(tried,)) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if tried == "wrong-password":
            tally.check(
                AUTHN,
                "12 concurrent wrong logins lock the account",
                any(_locked(b) for b in answers),
                str(answers[-1]),
            )
            answers.clear()
    tally.check(
        AUTHN,
        "12 concurrent right logins after the lock get no token",
        not any("token" in b for b in answers),
        str(answers[:2]),
    )

    # A name that does not exist locks the same way, with the same answer.
    prober = Client(port, "127.0.0.32")
    for _ in range(5):
        prober.login("victim", "wrong-password")
        prober.login("no-such-user", "wrong-password")
    real, made_up = (
        prober.login("victim", "wrong-password"),
        prober.login("no-such-user", "wrong-password"),
    )

    def shape(a: Answer) -> tuple[int, bytes]:
        return a.status, re.sub(rb"\d+", b"N", a.body)

    tally.check(
        AUTHN,
        "a locked real name answers like a locked unknown one",
        shape(real) == shape(made_up),
        f"{real.body!r} vs {made_up.body!r}",
    )
    tally.check(
        AUTHN, "both say locked", _locked(real.json()) and _locked(made_up.json()), f"{real.body!r}"
    )

    # The address throttle: 20 failures from one address, then that address waits.
    flooder = Client(port, "127.0.0.33")
    answers = [flooder.login(f"ghost-{n}", "wrong-password").json() for n in range(21)]
    throttled = "Too many failed logins" in str(answers[-1])
    tally.check(
        AUTHN, "the 21st failure from one address is throttled", throttled, str(answers[-1])
    )
    tally.check(
        AUTHN, "the first 20 were judged", not any("Too many" in str(a) for a in answers[:20])
    )
    elsewhere = Client(port, "127.0.0.34").login("admin", password).json()
    tally.check(AUTHN, "another address still logs in", "token" in elsewhere, str(elsewhere))


def _locked(body: dict[str, Any]) -> bool:
    return bool(body.get("isAccountLocked")) and "token" not in body


XXE = (
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<JobManager_JobDetailRequest jobId="&x;"/>'
)
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + n)} "{("&" + chr(97 + n) + ";") * 10}">' for n in range(8))
    + ']><JobManager_JobDetailRequest jobId="&i;"/>'
)
BODIES: list[tuple[str, bytes, str]] = [
    ("truncated JSON", b'{"jobId": ', "application/json"),
    ("a JSON list", b"[1, 2, 3]", "application/json"),
    ("null", b"null", "application/json"),
    ("deep nesting", b"[" * 50_000 + b"]" * 50_000, "application/json"),
    (
        "a number past 64 bits",
        b'{"jobId": 18446744073709551616, "jobs": [{"jobId": 1e400}]}',
        "application/json",
    ),
    ("negative ids", b'{"jobId": -4, "jobs": [{"jobId": -1}]}', "application/json"),
    ("not UTF-8", b'{"jobId": "\xff\xfe"}', "application/json"),
    (
        "a lone surrogate",
        b'{"jobId": 4, "username": "\\ud800", "password": "\\ud800"}',
        "application/json",
    ),
    ("XXE", XXE.encode(), "application/xml"),
    ("billion laughs", LAUGHS.encode(), "application/xml"),
    ("XML that is not XML", b"<JobManager_JobDetailRequest jobId='4'", "application/xml"),
    ("JSON sent as XML", b'{"jobId": "four"}', "application/xml"),
    ("a body past the limit", b'{"x": "' + b"a" * 70_000 + b'"}', "application/json"),
]
WRITE_ROUTES = [
    ("POST", API + "Login"),
    ("POST", API + "RenewLoginToken"),
    ("POST", API + "JobDetails"),
    ("POST", API + "Jobs"),
    ("POST", API + "Job/4/action/kill"),
    ("POST", API + "Jobs/MultiJobOperation"),
    ("POST", V1 + "jobs"),
    ("PATCH", V1 + "jobs/4"),
    ("POST", V1 + "events"),
]


def _nested(depth: int) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(depth):
        body = {"a": body}
    return body


RECORDS: list[tuple[str, dict[str, Any]]] = [
    ("an elapsed time of 2^63-1", {"jobElapsedTime": 2**63 - 1}),
    ("a job id of 2^63-1", {"jobId": 2**63 - 1}),
    ("a size past 2^63", {"sizeOfApplication": 2**63}),
    ("a NaN percentage", {"percentComplete": "nan"}),
    ("a status of null", {"status": None}),
    ("a name with a NUL", {"subclient": {"clientId": 1, "clientName": "a\x00b"}}),
    ("a section key xmlns", {"advancedDetails": {"bkpInfo": {"xmlns": "urn:evil"}}}),
    ("a section key that is markup", {"advancedDetails": {"bkpInfo": {'a"><x y="': 1}}}),
    ("a section nested 100 deep", {"advancedDetails": {"bkpInfo": _nested(100)}}),
]
LOGIN = b"POST /commandcenter/api/Login HTTP/1.1\r\nHost: x\r\n"
FRAMING: list[tuple[str, bytes]] = [
    (
        "a bad chunk size",
        LOGIN + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
    ),
    (
        "Content-Length and Transfer-Encoding",
        LOGIN + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        b"GET /commandcenter/api/Job/4 HTTP/1.1\r\nHost: x\r\n\r\n",
    ),
    (
        "two Content-Lengths",
        LOGIN + b"Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}",
    ),
    (
        "a 100 KB header",
        b"GET /commandcenter/api/Job/4 HTTP/1.1\r\nHost: x\r\nX-Big: "
        + b"a" * 100_000
        + b"\r\n\r\n",
    ),
    (
        "500 headers",
        b"GET /commandcenter/api/Job/4 HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-%d: y\r\n" % n for n in range(500))
        + b"\r\n",
    ),
    ("a request line of garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64),
    (
        "a path with NUL and dots",
        b"GET /commandcenter/api/Job/%00/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
    ),
]


def hostile(
    tally: Tally, admin: Client, checksum: Callable[[], object], log_size: Callable[[], bytes]
) -> None:
    """Malformed bodies, framing, numbers and names: a 4xx (or the documented 200 error
    body) in the client's format, never a 5xx or a traceback, and nothing written."""
    before = checksum()
    log_before = len(log_size())
    for what, body, content_type in BODIES:
        for method, path in WRITE_ROUTES:
            for accept in ("application/json", "application/xml"):
                # Login and RenewLoginToken go without the admin's token: a renewal would
                # end it.
                token = "" if path.endswith(("Login", "RenewLoginToken")) else None
                answer = admin.call(
                    method, path, body, token=token, accept=accept, content_type=content_type
                )
                tally.check(
                    HOSTILE,
                    f"{what} to {method} {path} ({accept})",
                    _clean(answer, accept),
                    f"{answer.status} {answer.body[:150]!r}",
                )
    base = {
        "jobId": 990_100,
        "status": "Running",
        "jobType": "Backup",
        "subclient": {"clientId": 1},
    }
    for what, change in RECORDS:
        for method, path, record in (
            ("POST", V1 + "jobs", {**base, **change}),
            ("PATCH", V1 + "jobs/4", {k: v for k, v in change.items() if k != "jobId"}),
        ):
            if not record:
                continue  # a PATCH does not change a job's id
            answer = admin.call(method, path, record)
            tally.check(
                HOSTILE,
                f"{what} via {method} {path}",
                answer.status == 400 and _clean(answer, "application/json"),
                f"{answer.status} {answer.body[:150]!r}",
            )
    for what, data in FRAMING:
        reply = admin.raw(data)
        status = int(reply[9:12]) if reply.startswith(b"HTTP/1.") else 0
        tally.check(
            HOSTILE,
            what,
            status == 0 or 400 <= status < 500 or (status == 200 and b"Job/4" in data),
            f"{reply[:120]!r}",
        )
    fine = admin.call("GET", API + "Job/4")
    tally.check(HOSTILE, "the server answers after it all", fine.status == 200)
    tally.check(HOSTILE, "nothing was written", checksum() == before)
    grown = log_size()[log_before:]
    tally.check(
        HOSTILE,
        "no traceback in the log",
        b"Traceback" not in grown,
        grown[-300:].decode(errors="replace"),
    )


def _clean(answer: Answer, accept: str) -> bool:
    """No 5xx, no traceback, and a body in the format asked for (or empty)."""
    if answer.status >= 500 or b"Traceback" in answer.body:
        return False
    if not answer.body or answer.status == 413:
        return True
    if "json" in accept and answer.headers.get("content-type", "").startswith("application/json"):
        try:
            answer.json()
        except ValueError:
            return False
        return True
    return answer.body.lstrip().startswith((b"<", b"{")) or answer.body.startswith(b"User")
