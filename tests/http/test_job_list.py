"""GET Job and POST Jobs (wire contract §5): filters, paging by header or query, exact
totals. Expectations are computed here in Python from the catalogue's rows, independently
of the SQL the store builds."""

from __future__ import annotations

import itertools
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import fromstring

import pytest
from starlette.testclient import TestClient

from cvjobs import vocab
from cvjobs.http.queries import paging
from tests.catalogues import Catalogue
from tests.conftest import API, CLOCK_START

pytestmark = pytest.mark.postgres_too

YEAR = 365 * 86400


@dataclass(frozen=True)
class Row:
    id: int
    status: str
    job_type: str
    client_id: int
    subclient_id: int
    backupset_id: int
    start_time: int
    end_time: int
    is_aged: bool


def rows(catalogue: Catalogue) -> list[Row]:
    return [
        Row(r[0], r[1], r[2], r[3] or 0, r[4] or 0, r[5] or 0, r[6], r[7], bool(r[8]))
        for r in catalogue.sql(
            "SELECT id, status, job_type, client_id, subclient_id, backupset_id,"
            " start_time, end_time, is_aged FROM jobs"
        )
    ]


def expected(
    all_rows: list[Row],
    *,
    types: Collection[str] | None = vocab.DEFAULT_LIST_TYPES,
    category: str = "all",
    lookup: int | None = YEAR,
    client: int | None = None,
    subclient: int | None = None,
    backupset: int | None = None,
    statuses: set[str] | None = None,
    show_aged: bool = True,
) -> list[int]:
    out = []
    for r in all_rows:
        active = r.status in vocab.ACTIVE_STATUSES
        recent = lookup is None or r.end_time >= CLOCK_START - lookup
        if types is not None and r.job_type not in types:
            continue
        if category == "active" and not active:
            continue
        if category == "finished" and (active or not recent):
            continue
        if category == "all" and not (active or recent):
            continue
        if client is not None and r.client_id != client:
            continue
        if subclient is not None and r.subclient_id != subclient:
            continue
        if backupset is not None and r.backupset_id != backupset:
            continue
        if statuses is not None and r.status not in statuses:
            continue
        if not show_aged and r.is_aged:
            continue
        out.append(r.id)
    return sorted(out, reverse=True)


def get_list(client: TestClient, headers: dict[str, str], query: str = "", **extra: str) -> Any:
    response = client.get(API + "Job" + query, headers={**headers, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def ids_of(body: Any) -> list[int]:
    return [j["jobSummary"]["jobId"] for j in body["jobs"]]


def test_default_is_backup_jobs_newest_first(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    want = expected(rows(catalogue))
    body = get_list(client, auth_json)
    assert body["totalRecordsWithoutPaging"] == len(want)
    assert ids_of(body) == want[:100]
    assert {j["jobSummary"]["jobType"] for j in body["jobs"]} <= vocab.DEFAULT_LIST_TYPES


@pytest.mark.parametrize("how", ["headers", "query"])
def test_paging_by_headers_or_query(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str], how: str
) -> None:
    want = expected(rows(catalogue), types=None)
    seen: list[int] = []
    offset = 0
    while True:
        if how == "headers":
            body = get_list(client, auth_json, "?jobFilter=", limit="7", offset=str(offset))
        else:
            body = get_list(client, auth_json, f"?jobFilter=&limit=7&offset={offset}")
        assert body["totalRecordsWithoutPaging"] == len(want)
        if not body["jobs"]:
            break
        assert len(body["jobs"]) <= 7
        seen += ids_of(body)
        offset += 7
    assert seen == want


def test_limit_zero_asks_only_for_the_total(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    body = get_list(client, auth_json, "?jobFilter=&limit=0&offset=0")
    assert body == {
        "totalRecordsWithoutPaging": len(expected(rows(catalogue), types=None)),
        "jobs": [],
    }


def test_a_query_limit_caps_the_header_pages(client: TestClient, auth_json: dict[str, str]) -> None:
    assert len(get_list(client, auth_json, "?jobFilter=&limit=3", limit="9")["jobs"]) == 3


def test_header_paging_beside_a_query_limit_is_the_page_asked_for(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    """The PowerShell SDK's `Get-CVJob -First 5 -Skip 10` sends `?limit=100` and the
    headers `limit: 5`, `offset: 10` (issue 10: it got dozens of jobs from offset 0)."""
    want = expected(rows(catalogue), types=None)
    powershell = "?completedJobLookupTime=31536000&limit=100&hideAdminjobs=false&jobFilter="
    body = get_list(client, auth_json, powershell, limit="5", offset="10")
    assert ids_of(body) == want[10:15]
    # -IncludeTotalCount alone: headers limit 0 and offset 0 beside the query's limit.
    counted = get_list(client, auth_json, powershell, limit="0", offset="0")
    assert ids_of(counted) == want[:100] and counted["totalRecordsWithoutPaging"] == len(want)


@pytest.mark.parametrize(
    ("header_limit", "query_limit", "header_offset", "query_offset", "page"),
    [
        (None, None, None, None, (100, 0)),
        (None, 7, None, 3, (7, 3)),
        (7, None, 3, None, (7, 3)),
        (5, 100, 10, None, (5, 10)),
        (500, 100, None, None, (100, 0)),
        (0, 100, 0, None, (100, 0)),
        (0, None, None, None, (0, 0)),
        (None, 0, None, None, (0, 0)),
        (5, 100, 10, 40, (5, 10)),
    ],
)
def test_the_paging_rule(
    header_limit: int | None,
    query_limit: int | None,
    header_offset: int | None,
    query_offset: int | None,
    page: tuple[int, int],
) -> None:
    assert paging(header_limit, query_limit, header_offset, query_offset) == page


CLIENTS = [None, 2, 7, 9]
CATEGORIES = [None, "Active", "finished", "ALL"]
FILTERS: list[str | None] = [None, "", "Backup", "backup,restore", "4,13", "Aux Copy,Admin"]
LOOKUPS = [None, 0, 86400 * 30]


def test_totals_under_every_filter_combination(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    """All 288 combinations on one catalogue (they only read): one test per backend, not
    288, each of which paid for a fresh catalogue."""
    stored = rows(catalogue)
    wrong = []
    for client_id, category, job_filter, lookup in itertools.product(
        CLIENTS, CATEGORIES, FILTERS, LOOKUPS
    ):
        params: dict[str, Any] = {"limit": 10000}
        types: set[str] | None = set(vocab.DEFAULT_LIST_TYPES)
        if client_id is not None:
            params["clientId"] = client_id
        if category is not None:
            params["jobCategory"] = category
        if job_filter is not None:
            params["jobFilter"] = job_filter
            words = [w for w in job_filter.split(",") if w]
            named = {vocab.job_type_named(w) for w in words}  # None for a word of no type
            types = {t for t in named if t is not None} if words else None
        if lookup is not None:
            params["completedJobLookupTime"] = lookup
        response = client.get(API + "Job", params=params, headers=auth_json)
        want = expected(
            stored,
            types=types,
            category=(category or "all").lower(),
            lookup=YEAR if lookup is None else lookup,
            client=client_id,
        )
        got = response.json().get("totalRecordsWithoutPaging")
        if response.status_code != 200 or got != len(want):
            wrong.append((params, response.status_code, got, len(want)))
    assert wrong == []
    assert ids_of(response.json()) == want


@pytest.mark.parametrize(("name", "entity_id"), [("subclientId", 2), ("backupsetId", 3)])
def test_subclient_and_backupset(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str], name: str, entity_id: int
) -> None:
    query = f"?{name}={entity_id}&jobFilter=&completedJobLookupTime={YEAR * 20}"
    body = get_list(client, auth_json, query)
    want = expected(
        rows(catalogue),
        types=None,
        lookup=YEAR * 20,
        subclient=entity_id if name == "subclientId" else None,
        backupset=entity_id if name == "backupsetId" else None,
    )
    assert ids_of(body) == want
    assert want  # the demo catalogue has jobs there


@pytest.mark.parametrize("name", ["hideAdminJobs", "hideAdminjobs", "HIDEADMINJOBS"])
def test_hide_admin_jobs(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str], name: str
) -> None:
    body = get_list(client, auth_json, f"?jobFilter=&{name}=true&limit=10000")
    assert ids_of(body) == expected(rows(catalogue), types=set(vocab.NON_ADMIN_TYPES))
    assert "Admin" not in {j["jobSummary"]["jobType"] for j in body["jobs"]}


def test_xml_list(client: TestClient, auth_xml: dict[str, str]) -> None:
    root = fromstring(client.get(API + "Job?jobFilter=&limit=3", headers=auth_xml).content)
    assert root.tag == "JobManager_JobListResponse"
    assert len(root.findall("jobs/jobSummary")) == 3


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("?clientId=abc", "clientId"),
        ("?clientId=0", "clientId"),
        ("?subclientId=-2", "subclientId"),
        ("?jobCategory=Sometimes", "jobCategory"),
        ("?jobFilter=Backup,Nonsense", "unknown job type 'Nonsense'"),
        ("?limit=-1", "limit"),
        ("?limit=100001", "limit"),
        ("?offset=x", "offset"),
        ("?completedJobLookupTime=-5", "completedJobLookupTime"),
        ("?hideAdminJobs=maybe", "hideAdminJobs"),
        ("?clientId=2&clientId=3", "given 2 times"),
    ],
)
def test_bad_parameters_are_400(
    client: TestClient, auth_json: dict[str, str], query: str, words: str
) -> None:
    response = client.get(API + "Job" + query, headers=auth_json)
    assert response.status_code == 400
    assert words in response.json()["errorMessage"]


def test_bad_paging_header_is_400(client: TestClient, auth_json: dict[str, str]) -> None:
    response = client.get(API + "Job", headers={**auth_json, "limit": "lots"})
    assert response.status_code == 400


# -- POST Jobs ----------------------------------------------------------------------


def cvpysdk_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "scope": 1,
        "category": 0,
        "pagingConfig": {"sortDirection": 1, "offset": 0, "sortField": "jobId", "limit": 20},
        "jobFilter": {
            "completedJobLookupTime": 30 * 86400,
            "showAgedJobs": False,
            "hideAdminJobs": False,
            "clientList": [],
            "jobTypeList": [],
        },
    }
    for key, value in changes.items():
        if key in ("pagingConfig", "jobFilter"):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    return body


def post_jobs(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> Any:
    response = client.post(API + "Jobs", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(("category", "name"), [(0, "all"), (1, "active"), (2, "finished")])
def test_post_jobs_categories(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str], category: int, name: str
) -> None:
    body = post_jobs(
        client, auth_json, cvpysdk_body(category=category, pagingConfig={"limit": 10000})
    )
    want = expected(rows(catalogue), types=None, category=name, lookup=30 * 86400, show_aged=False)
    assert body["totalRecordsWithoutPaging"] == len(want)
    assert ids_of(body) == want


def test_post_jobs_filters(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    body = post_jobs(
        client,
        auth_json,
        cvpysdk_body(
            pagingConfig={"limit": 10000},
            jobFilter={
                "clientList": [{"clientId": 2}, {"clientId": 7}],
                "jobTypeList": ["Backup"],
                "statusList": ["completed", "Running"],
                "completedJobLookupTime": YEAR * 20,
                "showAgedJobs": True,
            },
        ),
    )
    want = [
        i
        for i in expected(
            rows(catalogue), types={"Backup"}, lookup=YEAR * 20, statuses={"Completed", "Running"}
        )
        if i in {r.id for r in rows(catalogue) if r.client_id in (2, 7)}
    ]
    assert ids_of(body) == want and 4 in want and 1452 in want


@pytest.mark.parametrize("field", ["jobId", "jobStartTime", "jobEndTime", "status", "clientName"])
@pytest.mark.parametrize("direction", [0, 1])
def test_post_jobs_sorting(
    client: TestClient, auth_json: dict[str, str], field: str, direction: int
) -> None:
    body = post_jobs(
        client,
        auth_json,
        cvpysdk_body(
            pagingConfig={"sortField": field, "sortDirection": direction, "limit": 10000},
            jobFilter={"completedJobLookupTime": YEAR * 20, "showAgedJobs": True},
        ),
    )
    summaries = [j["jobSummary"] for j in body["jobs"]]
    key = {
        "jobId": lambda s: (s["jobId"],),
        "jobStartTime": lambda s: (s["jobStartTime"], s["jobId"]),
        "jobEndTime": lambda s: (s["jobEndTime"], s["jobId"]),
        "status": lambda s: (s["status"], s["jobId"]),
        "clientName": lambda s: (s["subclient"]["clientName"], s["jobId"]),
    }[field]
    assert summaries == sorted(summaries, key=key, reverse=direction == 1)
    assert len(summaries) == body["totalRecordsWithoutPaging"]


def test_post_jobs_paging(client: TestClient, auth_json: dict[str, str]) -> None:
    first = post_jobs(client, auth_json, cvpysdk_body(pagingConfig={"limit": 5}))
    second = post_jobs(client, auth_json, cvpysdk_body(pagingConfig={"limit": 5, "offset": 5}))
    both = post_jobs(client, auth_json, cvpysdk_body(pagingConfig={"limit": 10}))
    assert ids_of(first) + ids_of(second) == ids_of(both)


def test_post_jobs_no_match(
    client: TestClient, auth_json: dict[str, str], auth_xml: dict[str, str]
) -> None:
    body = cvpysdk_body(jobFilter={"clientList": [{"clientId": 424242}]})
    assert post_jobs(client, auth_json, body) == {"totalRecordsWithoutPaging": 0, "jobs": []}
    root = fromstring(client.post(API + "Jobs", json=body, headers=auth_xml).content)
    assert root.attrib == {"totalRecordsWithoutPaging": "0"}


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"category": 7}, "category"),
        ({"pagingConfig": {"sortField": "size"}}, "unknown sortField"),
        ({"pagingConfig": {"limit": -1}}, "limit"),
        ({"pagingConfig": {"sortDirection": 2}}, "sortDirection"),
        ({"jobFilter": {"jobTypeList": ["Backup", "Teleport"]}}, "Teleport"),
        ({"jobFilter": {"statusList": ["Sleeping"]}}, "Sleeping"),
        ({"jobFilter": {"clientList": [{"clientName": "x"}]}}, "clientList"),
        ({"jobFilter": {"clientList": "all"}}, "clientList"),
        ({"jobFilter": {"showAgedJobs": "sometimes"}}, "showAgedJobs"),
        ({"pagingConfig": "all"}, "pagingConfig"),
    ],
)
def test_post_jobs_bad_bodies(
    client: TestClient, auth_json: dict[str, str], changes: dict[str, Any], words: str
) -> None:
    body = cvpysdk_body()
    body.update(changes)
    response = client.post(API + "Jobs", json=body, headers=auth_json)
    assert response.status_code == 400
    assert words in response.json()["errorMessage"]


def test_post_jobs_with_an_xml_body(client: TestClient, auth_json: dict[str, str]) -> None:
    body = (
        '<JobManager_JobListRequest category="2"><pagingConfig limit="50" sortField="jobId"'
        ' sortDirection="1" offset="0"/><jobFilter completedJobLookupTime="630720000"'
        ' showAgedJobs="true"><clientList clientId="2"/><jobTypeList>Backup</jobTypeList>'
        "</jobFilter></JobManager_JobListRequest>"
    )
    response = client.post(
        API + "Jobs", content=body, headers={**auth_json, "Content-Type": "application/xml"}
    )
    assert response.status_code == 200, response.text
    jobs = [j["jobSummary"] for j in response.json()["jobs"]]
    assert jobs and {j["subclient"]["clientId"] for j in jobs} == {2}
    assert {j["jobType"] for j in jobs} == {"Backup"}


def busiest_client(catalogue: Catalogue, where: str) -> int:
    return int(
        catalogue.scalar(
            f"SELECT client_id FROM jobs WHERE {where} GROUP BY client_id"
            " ORDER BY count(*) DESC, client_id LIMIT 1"
        )
    )


def levels_of(catalogue: Catalogue) -> dict[int, int]:
    return {r[0]: r[1] for r in catalogue.sql("SELECT id, backup_level FROM jobs")}


def test_the_vendors_post_jobs_example_is_honoured(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    """The vendor's request collection sends jobFilter.entity.clientId and backupLevel
    ["FULL"]; both were ignored (issue 10: every client's jobs of every level)."""
    # The test catalogue's jobs are old and aged: look back far, aged jobs too.
    client_id = busiest_client(
        catalogue, "backup_level = 1 AND status LIKE 'Completed%' AND job_type = 'Backup'"
    )
    body = {
        "pagingConfig": {
            "sortDirection": 1,
            "offset": 0,
            "sortField": "jobStartTime",
            "limit": 100,
        },
        "jobFilter": {
            "completedJobLookupTime": 10**9,
            "showAgedJobs": True,
            "backupLevel": ["FULL"],
            "statusList": [
                "Completed",
                "Completed w/ one or more errors",
                "Completed w/ one or more warnings",
            ],
            "jobTypeList": [4],
            "entity": {"clientId": client_id},
        },
    }
    answer = post_jobs(client, auth_json, body)
    level = levels_of(catalogue)
    want = [
        i
        for i in expected(
            rows(catalogue),
            types={"Backup"},
            client=client_id,
            statuses={
                "Completed",
                "Completed w/ one or more errors",
                "Completed w/ one or more warnings",
            },
            lookup=10**9,
        )
        if level[i] == 1
    ]
    assert want, "the busiest client has Full backups"
    assert answer["totalRecordsWithoutPaging"] == len(want)
    assert sorted(ids_of(answer)) == sorted(want[:100])
    assert {j["jobSummary"]["backupLevelName"] for j in answer["jobs"]} == {"Full"}


@pytest.mark.parametrize(
    ("entity", "column"),
    [
        ("subclientId", "subclient_id"),
        ("backupsetId", "backupset_id"),
        ("instanceId", "instance_id"),
        ("applicationId", "app_id"),
    ],
)
def test_the_entity_filter_takes_each_kind_of_id(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str], entity: str, column: str
) -> None:
    value = catalogue.scalar(
        f"SELECT {column} FROM jobs WHERE {column} IS NOT NULL ORDER BY id LIMIT 1"
    )
    body = {
        "category": 0,
        "pagingConfig": {"limit": 10000},
        "jobFilter": {"entity": {entity: value}, "showAgedJobs": True},
    }
    answer = post_jobs(client, auth_json, body)
    want = catalogue.scalar(
        f"SELECT count(*) FROM jobs WHERE {column} = ? AND (status IN"
        f" ({', '.join(repr(s) for s in sorted(vocab.ACTIVE_STATUSES))}) OR end_time > 0 OR 1 = 1)",
        (value,),
    )
    assert answer["totalRecordsWithoutPaging"] == len(answer["jobs"]) == want


def test_an_entity_client_outside_the_client_list_finds_nothing(
    client: TestClient, catalogue: Catalogue, auth_json: dict[str, str]
) -> None:
    busiest = busiest_client(catalogue, "1 = 1")
    filters: dict[str, Any] = {
        "clientList": [{"clientId": busiest}],
        "entity": {"clientId": busiest + 1},
        "showAgedJobs": True,
    }
    assert post_jobs(client, auth_json, {"jobFilter": filters})["totalRecordsWithoutPaging"] == 0
    filters["entity"] = {"clientId": busiest}
    assert post_jobs(client, auth_json, {"jobFilter": filters})["totalRecordsWithoutPaging"] > 0


def test_anomalous_jobs_are_none(client: TestClient, auth_json: dict[str, str]) -> None:
    """The collection's "List Anomalous Jobs" (POST jobs, lower case): cvjobs flags no job
    anomalous, so the answer is an empty list with its total [OURS]."""
    body = {
        "scope": 1,
        "category": 1,
        "jobFilter": {"completedJobLookupTime": 86400, "showAnomalous": True},
    }
    response = client.post(API + "jobs", json=body, headers=auth_json)
    assert response.json() == {"totalRecordsWithoutPaging": 0, "jobs": []}


@pytest.mark.parametrize(
    ("filters", "named"),
    [
        ({"startTimeRange": {"fromTime": 1}}, "startTimeRange"),
        ({"clientID": 2}, "clientID"),
        ({"entity": {"clientName": "x"}}, "clientName"),
        ({"backupLevel": ["HUGE"]}, "HUGE"),
        ({"backupLevel": "FULL"}, "backupLevel"),
        ({"entity": {"clientId": "two"}}, "clientId"),
        ({"showAnomalous": "maybe"}, "showAnomalous"),
    ],
)
def test_a_filter_that_is_not_known_is_400_naming_it(
    client: TestClient, auth_json: dict[str, str], filters: dict[str, Any], named: str
) -> None:
    response = client.post(API + "Jobs", json={"jobFilter": filters}, headers=auth_json)
    assert response.status_code == 400
    assert named in response.json()["errorMessage"]


def test_a_list_asked_again_shows_what_another_process_wrote_meanwhile(
    client: TestClient, auth_json: dict[str, str], catalogue: Catalogue
) -> None:
    """Pages are kept while the catalogue is unchanged: a write by anyone ends that."""
    url = API + "Job?limit=5"
    before = client.get(url, headers=auth_json).json()
    assert client.get(url, headers=auth_json).json() == before
    newest = before["jobs"][0]["jobSummary"]["jobId"]
    catalogue.sql("UPDATE jobs SET size_of_application = 4321 WHERE id = ?", (newest,))
    after = client.get(url, headers=auth_json).json()
    assert after["jobs"][0]["jobSummary"]["sizeOfApplication"] == 4321
    catalogue.sql("DELETE FROM jobs WHERE id = ?", (newest,))
    gone = client.get(url, headers=auth_json).json()
    assert gone["totalRecordsWithoutPaging"] == before["totalRecordsWithoutPaging"] - 1
