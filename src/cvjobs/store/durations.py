"""Finished jobs' durations kept ahead (schema v12), for /metrics' histogram
`cvjobs_job_duration_seconds`: how many finished jobs there are, and their seconds in all,
per (client, job type, status, duration bucket), kept by triggers on the jobs table in the
same transaction as every write, like the job counts (store/counts.py). A scrape reads a
few hundred rows instead of every finished job's elapsed time."""

from __future__ import annotations

from cvjobs.store.filters import ACTIVE_LITERALS
from cvjobs.vocab import DURATION_BUCKETS as BOUNDS

TABLE = "job_duration_counts"
KEY = ("client_id", "job_type", "status", "bucket")


def _values(row: str) -> tuple[str, ...]:
    bucket = (
        "CASE "
        + " ".join(f"WHEN {row}.elapsed_time <= {b} THEN {i}" for i, b in enumerate(BOUNDS))
        + f" ELSE {len(BOUNDS)} END"
    )
    return (f"coalesce({row}.client_id, 0)", f"{row}.job_type", f"{row}.status", bucket)


def _finished(row: str) -> str:
    return f"{row}.status NOT IN ({ACTIVE_LITERALS})"


def _table(big_integer: str, options: str) -> str:
    return (
        f"CREATE TABLE {TABLE} (\n"
        f"    client_id {big_integer} NOT NULL,\n"
        "    job_type  TEXT NOT NULL,\n"
        "    status    TEXT NOT NULL,\n"
        "    bucket    INTEGER NOT NULL,\n"
        f"    n         {big_integer} NOT NULL,\n"
        f"    seconds   {big_integer} NOT NULL,\n"
        f"    PRIMARY KEY ({', '.join(KEY)})\n"
        f"){options};\n"
    )


_COLUMNS = ", ".join(KEY)
_UPSERT = (
    f" ON CONFLICT ({_COLUMNS}) DO UPDATE SET n = {TABLE}.n + excluded.n,"
    f" seconds = {TABLE}.seconds + excluded.seconds"
)


def _sqlite_triggers() -> str:
    def count(row: str, sign: str) -> str:
        values = ", ".join(_values(row))
        return (
            f"INSERT INTO {TABLE} ({_COLUMNS}, n, seconds) SELECT {values}, {sign}1,"
            f" {sign}{row}.elapsed_time WHERE {_finished(row)}{_UPSERT};"
        )

    def trigger(name: str, event: str, body: str, when: str = "") -> str:
        return f"CREATE TRIGGER {name} AFTER {event} ON jobs{when}\nBEGIN\n{body}\nEND;\n"

    moved = " OR ".join(
        f"OLD.{c} IS NOT NEW.{c}" for c in ("client_id", "job_type", "status", "elapsed_time")
    )
    return (
        trigger("jobs_timed_in", "INSERT", count("NEW", ""))
        + trigger("jobs_timed_out", "DELETE", count("OLD", "-"))
        + trigger(
            "jobs_timed_moved",
            "UPDATE OF client_id, job_type, status, elapsed_time",
            count("OLD", "-") + "\n" + count("NEW", ""),
            f" WHEN {moved}",
        )
    )


def _postgres_triggers() -> str:
    keys = ", ".join(f"{v} AS {k}" for v, k in zip(_values("r"), KEY, strict=True))

    def changes(op: str) -> str:
        rows = {"INSERT": [("new_rows", "")], "DELETE": [("old_rows", "-")]}.get(
            op, [("new_rows", ""), ("old_rows", "-")]
        )
        return " UNION ALL ".join(
            f"SELECT {keys}, {sign}1 AS d, {sign}r.elapsed_time AS s FROM {table} r"
            f" WHERE {_finished('r')}"
            for table, sign in rows
        )

    places = ", ".join(str(i + 1) for i in range(len(KEY)))
    branches = "\n".join(
        f"    {'IF' if i == 0 else 'ELSIF'} TG_OP = '{op}' THEN\n"
        f"        INSERT INTO {TABLE} ({_COLUMNS}, n, seconds) SELECT {_COLUMNS}, sum(d), sum(s)"
        f" FROM ({changes(op)}) c GROUP BY {places} HAVING sum(d) <> 0 OR sum(s) <> 0"
        f" ORDER BY {places}{_UPSERT};"
        for i, op in enumerate(("INSERT", "DELETE", "UPDATE"))
    )
    referencing = {
        "INSERT": "NEW TABLE AS new_rows",
        "DELETE": "OLD TABLE AS old_rows",
        "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    }
    return (
        "CREATE FUNCTION cvjobs_time_jobs() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{branches}\n    END IF;\n    RETURN NULL;\nEND\n$$;\n"
    ) + "".join(
        f"CREATE TRIGGER jobs_timed_{op.lower()} AFTER {op} ON jobs REFERENCING {tables}"
        " FOR EACH STATEMENT EXECUTE FUNCTION cvjobs_time_jobs();\n"
        for op, tables in referencing.items()
    )


# Every finished job counted into the empty table (the migration, and a bulk load that
# left the triggers out: store/batches.py).
COUNT_ALL = (
    f"INSERT INTO {TABLE} ({_COLUMNS}, n, seconds) SELECT {', '.join(_values('j'))},"
    f" count(*), sum(j.elapsed_time) FROM jobs j WHERE {_finished('j')} GROUP BY 1, 2, 3, 4"
)
REBUILD = (f"DELETE FROM {TABLE}", COUNT_ALL)


def migration(dialect: str) -> str:
    """Schema v12 in the dialect's spelling: the table, the jobs already there, the
    triggers."""
    if dialect == "sqlite":
        return _table("INTEGER", " WITHOUT ROWID") + COUNT_ALL + ";\n" + _sqlite_triggers()
    return _table("BIGINT", "") + COUNT_ALL + ";\n" + _postgres_triggers()
