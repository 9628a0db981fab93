"""What the bench asks of cvjobs: each scenario a list of requests that the load
generator cycles through."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable

from cvjobs import vocab
from cvjobs.service.auth import MAX_WAITING_PER_ADDRESS
from loads import Request

API = "/commandcenter/api/"
CHANGES = "/cvjobs/v1/changes"
PASSWORD = "bench-password-1"
# Measured again with one connection: the latency one client sees alone.
LATENCY_ALONE = ("list page of 100 (client 9, finished)", "POST Jobs as cvpysdk")

LOAD_TEST = ("random job by id, JSON", "list page of 100 (client 9, finished)")


def scenarios(jobs: int, advanced: dict[int, int] | None = None) -> dict[str, list[Request]]:
    """The scenarios on a demo catalogue of `jobs` jobs; `advanced`: a job id to ask
    AdvancedDetails of per infoType (default: 1452's backup information alone)."""
    rng = random.Random(1)
    ids = [rng.randint(1, jobs) for _ in range(500)]
    post_jobs = json.dumps(
        {
            "scope": 1,
            "category": 2,
            "pagingConfig": {"sortDirection": 1, "offset": 0, "sortField": "jobId", "limit": 20},
            "jobFilter": {
                "completedJobLookupTime": 86400,
                "showAgedJobs": False,
                "hideAdminJobs": False,
                "clientList": [],
                "jobTypeList": [],
            },
        }
    )
    return {
        "job by id, JSON": [Request("GET", API + "Job/4")],
        "job by id, XML": [Request("GET", API + "Job/4", "application/xml")],
        "random job by id, JSON": [Request("GET", API + f"Job/{i}") for i in ids],
        **{
            f"AdvancedDetails {bit} (job {job_id})": [
                Request("GET", API + f"Job/{job_id}/AdvancedDetails?infoType={bit}")
            ]
            for bit, job_id in (advanced or {vocab.INFO_BACKUP: 1452}).items()
        },
        "list page of 100 (client 9, finished)": [
            Request("GET", API + "Job?clientId=9&jobCategory=Finished&limit=100")
        ],
        # A different page each request (32 clients, 16 pages each): what no kept page
        # answers, so each costs the count, the page's rows and their render.
        "list page of 100, 512 different pages": [
            Request("GET", API + f"Job?clientId={c}&jobCategory=Finished&limit=100&offset={o}")
            for o in range(0, 1600, 100)
            for c in range(1, 33)
        ],
        "unfiltered list (admin, defaults)": [Request("GET", API + "Job")],
        "total only (limit 0), client 9 finished": [
            Request("GET", API + "Job?clientId=9&jobCategory=Finished&limit=0")
        ],
        "total only, 512 different filters": [
            Request(
                "GET",
                API + f"Job?clientId={c}&completedJobLookupTime={d * 86400}&limit=0",
            )
            for d in range(1, 17)
            for c in range(1, 33)
        ],
        "POST Jobs as cvpysdk": [Request("POST", API + "Jobs", body=post_jobs)],
        # The change log holds a record per demo job (the load logs them) and the engine's.
        "change feed, 100 records after a cursor": [
            Request("GET", CHANGES + f"?after={jobs // 2}&limit=100")
        ],
        "/metrics scrape (admin)": [Request("GET", "/metrics", "text/plain")],
        "change feed, 512 different cursors": [
            Request("GET", CHANGES + f"?after={rng.randint(0, max(0, jobs - 100))}&limit=100")
            for _ in range(512)
        ],
        f"login, {MAX_WAITING_PER_ADDRESS} connections": [
            Request(
                "POST",
                API + "Login",
                body=json.dumps(
                    {"username": "admin", "password": base64.b64encode(PASSWORD.encode()).decode()}
                ),
            )
        ],
    }


def advanced_jobs(find: Callable[[str], int | None]) -> dict[int, int]:
    """A job for each infoType: the seed's Exchange job 1452 for backup information,
    else the newest job of a type it applies to, found by `find` (job type -> id)."""
    found = {vocab.INFO_BACKUP: 1452}
    for info in vocab.INFO_TYPES:
        for job_type in sorted(info.job_types):
            job_id = found.get(info.bit) or find(job_type)
            if job_id is not None:
                found[info.bit] = job_id
                break
    return dict(sorted(found.items()))
