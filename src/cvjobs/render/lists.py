"""Job lists rendered in parts: the bytes of a page of thousands of jobs, a few hundred
jobs at a time, so the server can let other requests in between the parts.

Joined, the parts are exactly what `Format.render` makes of `shapes.job_list` (the golden
tests compare the two): the same shapes, the same element and JSON writers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import orjson

from cvjobs.model import Job
from cvjobs.render import Format
from cvjobs.render import xml as xml_format
from cvjobs.render.shapes import job_list, job_summary

ROOT: Final = "JobManager_JobListResponse"


def job_list_parts(fmt: Format, jobs: list[Job], total: int, per_part: int) -> Iterator[bytes]:
    """The list document in parts of at most `per_part` jobs (plus its head and tail)."""
    if len(jobs) <= per_part:
        yield fmt.render(ROOT, job_list(jobs, total, xml=fmt.is_xml))
        return
    if fmt.is_xml:
        # element(): scalars as attributes, then the children; the list is not empty here.
        yield (f'{xml_format.DECLARATION}<{ROOT} totalRecordsWithoutPaging="{total}">'.encode())
        for start in range(0, len(jobs), per_part):
            yield "".join(
                xml_format.element("jobs", {"jobSummary": job_summary(job, xml=True)})
                for job in jobs[start : start + per_part]
            ).encode()
        yield f"</{ROOT}>".encode()
        return
    yield b'{"totalRecordsWithoutPaging":%d,"jobs":[' % total
    for start in range(0, len(jobs), per_part):
        items = [
            {"jobSummary": job_summary(job, xml=False)} for job in jobs[start : start + per_part]
        ]
        # orjson writes a list as "[" + items joined by "," + "]": without the brackets,
        # the parts join with commas into the list the one-piece render writes.
        yield (b"," if start else b"") + orjson.dumps(items)[1:-1]
    yield b"]}"
