"""The jobs table's columns, once: which `Job` field each holds, which table names the
entity an id column refers to, and which ones job control may change. Every column list,
the one-query job read, the row reader and the row writers derive from `COLUMNS`; adding a
job field is one line here (and a migration).

The reader and the writers are compiled from the table when this module is imported, as
`dataclasses` compiles `__init__`: they are the hottest code of every read and write (a
loop over the table would cost a job read three times as much)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from cvjobs.model import Job, Ref
from cvjobs.store.driver import Dialect


@dataclass(frozen=True, slots=True)
class Column:
    name: str  # in the jobs table
    field: str  # the Job attribute it holds
    alias: str = ""  # an entity's id: the alias of the joined table that names it...
    table: str = ""  # ...and that table (its id 0 is stored as NULL)
    mutable: bool = False  # job control and the engine change it (replace_jobs)
    flag: bool = False  # a bool, stored as 0 or 1


def _entity(name: str, field: str, alias: str, table: str) -> Column:
    return Column(name, field, alias, table)


def _changes(name: str, *, flag: bool = False) -> Column:
    return Column(name, name, mutable=True, flag=flag)


COLUMNS: tuple[Column, ...] = (
    Column("id", "job_id"),
    _changes("status"),
    Column("job_type", "job_type"),
    _entity("client_id", "client", "c", "clients"),
    _entity("app_id", "app", "a", "app_types"),
    _entity("instance_id", "instance", "i", "instances"),
    _entity("backupset_id", "backupset", "b", "backupsets"),
    _entity("subclient_id", "subclient", "s", "subclients"),
    _entity("dest_client_id", "dest_client", "dc", "clients"),
    _entity("storage_policy_id", "storage_policy", "sp", "storage_policies"),
    _entity("user_id", "user", "u", "job_users"),
    Column("backup_level", "backup_level"),
    _changes("current_phase"),
    _changes("pending_reason"),
    _changes("pending_reason_error_code"),
    _changes("percent_complete"),
    _changes("percent_savings"),
    _changes("size_of_application"),
    _changes("size_of_media_on_disk"),
    _changes("total_num_of_files"),
    _changes("total_failed_files"),
    _changes("total_failed_folders"),
    _changes("start_time"),
    _changes("end_time"),
    _changes("last_update_time"),
    _changes("elapsed_time"),
    _changes("is_aged", flag=True),
    _changes("is_visible", flag=True),
    _changes("submit_error_code"),
    Column("is_preemptable", "is_preemptable"),
    _changes("auto_resume_at"),
    Column("vsa_parent_job_id", "vsa_parent_job_id"),
)

COLUMN_NAMES = tuple(c.name for c in COLUMNS)
INDEX = {name: position for position, name in enumerate(COLUMN_NAMES)}
MUTABLE = tuple(c for c in COLUMNS if c.mutable)

_PLACES = ", ".join("?" * len(COLUMNS))
# A new job, never a replacement: an id taken meanwhile is an error, not an overwrite.
INSERT_JOB = f"INSERT INTO jobs ({', '.join(COLUMN_NAMES)}) VALUES ({_PLACES})"
UPSERT_JOB = (
    INSERT_JOB
    + " ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in COLUMN_NAMES[1:])
)
# What job control and the engine change on a job (compare and set on its status); its
# identity and entities stay.
REPLACE_JOB = (
    "UPDATE jobs SET "
    + ", ".join(f"{c.name} = ?" for c in MUTABLE)
    + " WHERE id = ? AND status = ?"
)


def select_job(dialect: Dialect) -> str:
    """One indexed query per job read: the job row with the name of each entity after its
    id, and the client's groups folded into one JSON column at the end. Append a WHERE
    clause on `j`."""
    selected = ", ".join(
        f"j.{c.name}, {c.alias}.name" if c.alias else f"j.{c.name}" for c in COLUMNS
    )
    joins = "".join(
        f"\n  LEFT JOIN {c.table} {c.alias} ON {c.alias}.id = j.{c.name}"
        for c in COLUMNS
        if c.alias
    )
    groups = (
        f"(SELECT {dialect.group_pairs}"
        " FROM client_group_members m JOIN client_groups g ON g.id = m.group_id"
        " WHERE m.client_id = j.client_id)"
    )
    return f"\nSELECT {selected},\n       {groups}\n  FROM jobs j{joins}\n"


def ref(entity_id: int | None, name: str | None) -> Ref:
    return Ref(entity_id or 0, name or "") if entity_id else Ref()


def groups(pairs: str | bytes | None) -> tuple[Ref, ...]:
    return tuple(Ref(g[0], g[1]) for g in orjson.loads(pairs)) if pairs else ()


def _compile(name: str, args: str, body: str) -> Callable[..., Any]:
    namespace: dict[str, Any] = {"Job": Job, "ref": ref, "groups": groups}
    exec(f"def {name}({args}):\n    return {body}\n", namespace)
    function: Callable[..., Any] = namespace[name]
    function.__doc__ = f"Compiled from cvjobs.store.rows.COLUMNS: {body[:60]}..."
    return function


def _reader() -> Callable[[Sequence[Any]], Job]:
    fields, at = [], 0
    for c in COLUMNS:
        if c.alias:
            fields.append(f"{c.field}=ref(r[{at}], r[{at + 1}])")
            at += 2
        else:
            fields.append(f"{c.field}=bool(r[{at}])" if c.flag else f"{c.field}=r[{at}]")
            at += 1
    fields.append(f"client_groups=groups(r[{at}])")
    return _compile("job_from_row", "r", f"Job({', '.join(fields)})")


def _value(c: Column) -> str:
    if c.alias:
        return f"(job.{c.field}.id or None)"
    return f"int(job.{c.field})" if c.flag else f"job.{c.field}"


def _writer(columns: Sequence[Column], name: str) -> Callable[[Job], tuple[Any, ...]]:
    return _compile(name, "job", "(" + ", ".join(_value(c) for c in columns) + ",)")


# A row of select_job as a Job.
job_from_row: Callable[[Sequence[Any]], Job] = _reader()
# A Job as the values of INSERT_JOB and UPSERT_JOB (an entity's id 0 as NULL).
job_params: Callable[[Job], tuple[Any, ...]] = _writer(COLUMNS, "job_params")
# A Job's changeable values, the first parameters of REPLACE_JOB.
mutable_params: Callable[[Job], tuple[Any, ...]] = _writer(MUTABLE, "mutable_params")

# A job's stored sections (AdvancedDetails parts, JobDetails extras), JSON by name.
SECTION_COLUMNS = ("job_id", "name", "body")
UPSERT_SECTION = (
    "INSERT INTO job_sections (job_id, name, body) VALUES (?, ?, ?)"
    " ON CONFLICT (job_id, name) DO UPDATE SET body = excluded.body"
)
