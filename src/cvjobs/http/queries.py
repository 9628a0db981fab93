"""Job list requests as the clients send them, read into a `JobQuery` (wire contract §5):
GET Job's query parameters and paging headers, and POST Jobs' JSON body. Every value is
parsed strictly; anything unknown or malformed is a 400 that names it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache, wraps
from typing import Any, ParamSpec, cast

from starlette.datastructures import QueryParams

from cvjobs import parse, vocab
from cvjobs.errors import BadRequest
from cvjobs.model import EVERYTHING, JobQuery, Scope

MAX_LIMIT = 10_000
MAX_OFFSET = 2**31 - 1
DEFAULT_LIMIT = 100
DEFAULT_LOOKUP_SECONDS = 365 * 24 * 3600
_CATEGORIES = {"all": "all", "active": "active", "finished": "finished",
               "0": "all", "1": "active", "2": "finished"}  # fmt: skip
SORT_FIELDS = ("jobId", "jobStartTime", "jobEndTime", "lastUpdateTime", "status", "clientName")
_SORT_BY_FOLDED = {f.lower(): f for f in SORT_FIELDS}


def whole(value: Any, name: str, *, low: int = 0, high: int = parse.MAX_INT) -> int:
    """An integer from JSON or from text (ASCII digits, optional minus sign)."""
    try:
        return parse.integer(value, low=low, high=high)
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from None


def flag(value: Any, name: str) -> bool:
    try:
        return parse.boolean(value)
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from None


def job_types(words: Iterable[Any], name: str) -> frozenset[str]:
    types = set()
    for word in words:
        job_type = vocab.job_type_named(str(word)) if isinstance(word, (str, int)) else None
        if job_type is None:
            known = ", ".join(vocab.JOB_TYPES)
            raise BadRequest(f"unknown job type {str(word)[:40]!r} in {name} (known: {known})")
        types.add(job_type)
    return frozenset(types)


def statuses(words: Iterable[Any]) -> frozenset[str]:
    found = set()
    for word in words:
        status = vocab.canonical_status(word) if isinstance(word, str) else None
        if status is None:
            raise BadRequest(f"unknown status {str(word)[:40]!r} in statusList")
        found.add(status)
    return frozenset(found)


def _hide_admin(types: frozenset[str] | None, hide: bool) -> frozenset[str] | None:
    if not hide:
        return types
    return vocab.NON_ADMIN_TYPES if types is None else types & vocab.NON_ADMIN_TYPES


def paging(
    header_limit: int | None,
    query_limit: int | None,
    header_offset: int | None,
    query_offset: int | None,
) -> tuple[int, int]:
    """(limit, offset) of GET Job, from the paging headers and query parameters [OURS].

    The headers are what a client means for paging, and a query `limit` beside them is a
    cap: the PowerShell SDK always sends `?limit=100` and its `-First N -Skip M` as
    `limit`/`offset` headers, and a SQL exporter caps its header pages the same way. A
    header `limit: 0` beside a query limit asks for no paging of its own (what the
    PowerShell SDK sends for `-IncludeTotalCount`), so the query's limit holds. Given
    alone, either form is the limit, and 0 asks for the total only. The offset is the
    header's when there is one."""
    if header_limit is None:
        limit = DEFAULT_LIMIT if query_limit is None else query_limit
    elif query_limit is None:
        limit = header_limit
    else:
        limit = min(header_limit, query_limit) if header_limit else query_limit
    offset = header_offset if header_offset is not None else query_offset
    return limit, offset or 0


def from_get(
    params: Mapping[str, list[str]],
    headers: Mapping[str, str],
    now: int,
    scope: Scope = EVERYTHING,
) -> JobQuery:
    """GET Job. `params` maps lower-cased names to their values. Paging may come as
    headers (the documented way) or as query parameters (what many clients do), or both
    (see `paging`). `scope`: what the asking account may see."""

    def one(name: str) -> str | None:
        values = params.get(name.lower(), [])
        if len(values) > 1:
            raise BadRequest(f"{name} is given {len(values)} times")
        return values[0] if values else None

    def number(raw: str | None, name: str, high: int) -> int | None:
        return None if raw is None else whole(raw, name, high=high)

    limit, offset = paging(
        number(headers.get("limit"), "limit", MAX_LIMIT),
        number(one("limit"), "limit", MAX_LIMIT),
        number(headers.get("offset"), "offset", MAX_OFFSET),
        number(one("offset"), "offset", MAX_OFFSET),
    )

    category_word = one("jobCategory")
    category = "all"
    if category_word is not None:
        category = _CATEGORIES.get(category_word.strip().lower(), "")
        if not category:
            raise BadRequest(f"jobCategory must be Active, Finished or All, not {category_word!r}")
    filter_text = one("jobFilter")
    if filter_text is None:
        types: frozenset[str] | None = vocab.DEFAULT_LIST_TYPES
    elif not filter_text.strip():
        types = None
    else:
        types = job_types((w for w in filter_text.split(",") if w.strip()), "jobFilter")
    hide = one("hideAdminJobs")
    ids = {name: one(name) for name in ("clientId", "subclientId", "backupsetId")}
    lookup = one("completedJobLookupTime")
    return JobQuery(
        now=now,
        scope=scope,
        job_types=_hide_admin(types, hide is not None and flag(hide, "hideAdminJobs")),
        client_ids=(whole(ids["clientId"], "clientId", low=1),) if ids["clientId"] else None,
        subclient_id=whole(ids["subclientId"], "subclientId", low=1)
        if ids["subclientId"]
        else None,
        backupset_id=whole(ids["backupsetId"], "backupsetId", low=1)
        if ids["backupsetId"]
        else None,
        category=category,
        lookup_seconds=DEFAULT_LOOKUP_SECONDS
        if lookup is None
        else whole(lookup, "completedJobLookupTime"),
        limit=limit,
        offset=offset,
    )


def _object(body: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = body.get(name, {})
    if not isinstance(value, Mapping):
        raise BadRequest(f"{name} must be an object")
    return value


def _list(body: Mapping[str, Any], name: str) -> list[Any]:
    value = body.get(name, [])
    if not isinstance(value, list):
        raise BadRequest(f"jobFilter.{name} must be a list")
    return value


# POST Jobs' jobFilter keys: the vendor's request collection, cvpysdk and the official MCP
# server between them send these. Any other key is a 400 that names it: a filter that is
# ignored answers every job, which is worse than no answer.
JOB_FILTER_KEYS = frozenset(
    {
        "completedJobLookupTime",
        "showAgedJobs",
        "hideAdminJobs",
        "clientList",
        "jobTypeList",
        "statusList",
        "backupLevel",
        "entity",
        "showAnomalous",
    }
)
# jobFilter.entity: which entity the jobs are of, by id.
_ENTITY_KEYS = {
    "clientId": "client",
    "subclientId": "subclient",
    "backupsetId": "backupset",
    "instanceId": "instance",
    "applicationId": "app",
}


def _entity(jf: Mapping[str, Any]) -> dict[str, int]:
    entity = _object(jf, "entity")
    unknown = sorted(set(entity) - set(_ENTITY_KEYS) - {"_type_"})
    if unknown:
        known = ", ".join(_ENTITY_KEYS)
        raise BadRequest(f"unknown jobFilter.entity key {unknown[0]!r} (known: {known})")
    return {
        _ENTITY_KEYS[key]: whole(value, f"jobFilter.entity.{key}", low=1)
        for key, value in entity.items()
        if key in _ENTITY_KEYS and value not in (0, "0")
    }


def backup_levels(words: Iterable[Any]) -> frozenset[int]:
    levels = set()
    for word in words:
        level = vocab.backup_level_code(word)
        if not level:
            names = ", ".join(enum for _, enum in vocab.BACKUP_LEVELS.values())
            raise BadRequest(f"unknown backup level {str(word)[:40]!r} in backupLevel ({names})")
        levels.add(level)
    return frozenset(levels)


# Queries read from the raw request, remembered: a monitor asks the same list many times a
# second, and reading it (25-45 µs) cost half of answering it from a kept page. Inputs up
# to MAX_KEPT_INPUT bytes are remembered, READ_QUERIES_KEPT of them at most, the least
# recently asked out first.
READ_QUERIES_KEPT = 4096
MAX_KEPT_INPUT = 2048
P = ParamSpec("P")


def remembered(read: Callable[P, JobQuery]) -> Callable[P, JobQuery]:
    """`read`, remembering what it gave for each small input (`read` must give the same
    query for the same arguments; an error is not remembered, it is raised again)."""
    # The same arguments, which must be hashable (a TypeError otherwise).
    kept = cast(Callable[P, JobQuery], lru_cache(maxsize=READ_QUERIES_KEPT)(read))

    @wraps(read)
    def reading(*args: P.args, **kwargs: P.kwargs) -> JobQuery:
        size = sum(len(arg) for arg in args if isinstance(arg, str | bytes))
        return (kept if size <= MAX_KEPT_INPUT else read)(*args, **kwargs)

    return reading


@remembered
def from_query_string(
    raw: bytes, limit: str | None, offset: str | None, now: int, scope: Scope
) -> JobQuery:
    """`from_get` of GET Job's raw query string and its paging headers (`limit`,
    `offset`)."""
    params: dict[str, list[str]] = {}
    for key, value in QueryParams(raw).multi_items():
        params.setdefault(key.lower(), []).append(value)
    headers = {
        name: value for name, value in (("limit", limit), ("offset", offset)) if value is not None
    }
    return from_get(params, headers, now, scope)


def from_post(body: Mapping[str, Any], now: int, scope: Scope = EVERYTHING) -> JobQuery:
    """POST Jobs, as cvpysdk's all_jobs/active_jobs/finished_jobs, the vendor's request
    collection and the official MCP server send it. Every jobFilter key is honoured or
    refused (JOB_FILTER_KEYS). `scope`: what the asking account may see."""
    category = _CATEGORIES.get(str(body.get("category", 0)).strip().lower())
    if category is None:
        raise BadRequest(
            f"category must be 0 (all), 1 (active) or 2 (finished), not {body.get('category')!r}"
        )
    paging = _object(body, "pagingConfig")
    jf = _object(body, "jobFilter")
    sort_word = paging.get("sortField", "jobId")
    sort_field = _SORT_BY_FOLDED.get(str(sort_word).lower())
    if sort_field is None:
        raise BadRequest(f"unknown sortField {sort_word!r} (known: {', '.join(SORT_FIELDS)})")
    direction = whole(paging.get("sortDirection", 1), "pagingConfig.sortDirection", high=1)
    clients = []
    for entry in _list(jf, "clientList"):
        if not isinstance(entry, Mapping) or "clientId" not in entry:
            raise BadRequest('jobFilter.clientList entries must be {"clientId": N}')
        clients.append(whole(entry["clientId"], "clientId", low=1))
    unknown = sorted(set(jf) - JOB_FILTER_KEYS)
    if unknown:
        known = ", ".join(sorted(JOB_FILTER_KEYS))
        raise BadRequest(f"unknown jobFilter key {unknown[0]!r} (known: {known})")
    entity = _entity(jf)
    client_ids = tuple(clients) if clients else None
    if "client" in entity:
        # With a clientList too, the entity's client only if it is listed (else no job).
        keep = client_ids is None or entity["client"] in client_ids
        client_ids = (entity["client"],) if keep else ()
    type_words = _list(jf, "jobTypeList")
    status_words = _list(jf, "statusList")
    level_words = _list(jf, "backupLevel")
    lookup = jf.get("completedJobLookupTime")
    return JobQuery(
        now=now,
        scope=scope,
        subclient_id=entity.get("subclient"),
        backupset_id=entity.get("backupset"),
        instance_id=entity.get("instance"),
        app_id=entity.get("app"),
        backup_levels=backup_levels(level_words) if level_words else None,
        anomalous_only=flag(jf.get("showAnomalous", False), "showAnomalous"),
        job_types=_hide_admin(
            job_types(type_words, "jobTypeList") if type_words else None,
            flag(jf.get("hideAdminJobs", False), "hideAdminJobs"),
        ),
        statuses=statuses(status_words) if status_words else None,
        client_ids=client_ids,
        category=category,
        lookup_seconds=None if lookup is None else whole(lookup, "completedJobLookupTime"),
        show_aged=flag(jf.get("showAgedJobs", False), "showAgedJobs"),
        sort_field=sort_field,
        descending=direction == 1,
        limit=whole(paging.get("limit", DEFAULT_LIMIT), "pagingConfig.limit", high=MAX_LIMIT),
        offset=whole(paging.get("offset", 0), "pagingConfig.offset", high=MAX_OFFSET),
    )
