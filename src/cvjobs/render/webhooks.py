"""A webhook's message body (cvjobs/outbox.py sends it): `{"type": event, "timestamp":
ISO 8601, "data": {...}}`, the job's summary as GET Job shows it in JSON."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from cvjobs.model import Change, Job
from cvjobs.render import shapes


def message(event: str, when: int, data: dict[str, object]) -> str:
    stamp = datetime.fromtimestamp(when, UTC).isoformat().replace("+00:00", "Z")
    return orjson.dumps({"type": event, "timestamp": stamp, "data": data}).decode()


def job_data(change: Change, job: Job | None) -> dict[str, object]:
    """The job as it is now (a later change may have moved it on: its own message
    follows), or, for one deleted or gone since, its id and the record's status."""
    if job is None:
        return {"jobSummary": {"jobId": change.job_id, "status": change.new_status}}
    return {"jobSummary": shapes.job_summary(job, xml=False)}
