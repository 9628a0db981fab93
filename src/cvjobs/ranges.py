"""The range of every number of a jobSummary, checked on the way in (import, ingest,
PATCH) and by the engine before it writes.

The bounds keep stored values far enough from 2^63 that what the engine adds to them
cannot overflow the store's 64-bit columns, and keep ids and counts exact in a JSON double,
which is what a JavaScript client parses them into. `RANGES` is the one source: both
readers (`summaries.job_from_summary` and `commands.plain_records`), the engine's
check of what it writes and the README's "Value ranges" table derive from it (tests
check the README and that the readers agree).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

EXACT_MAX: Final = 2**53 - 1  # the largest integer a JSON double holds exactly
TIME_MAX: Final = 253_402_300_799  # 9999-12-31 23:59:59 UTC, in UNIX seconds
INT32_MIN: Final = -(2**31)
INT32_MAX: Final = 2**31 - 1
# Seconds in the vendor's 32-bit number: 68 years. (A demo catalogue's oldest active jobs
# have run for eleven.)
ELAPSED_MAX: Final = INT32_MAX
_ID: Final = (0, EXACT_MAX)  # an entity id; 0 means none
RANGES: Final[Mapping[str, tuple[int, int]]] = MappingProxyType(
    {
        "jobId": (1, EXACT_MAX),
        "subclient.clientId": _ID,
        "subclient.applicationId": _ID,
        "subclient.instanceId": _ID,
        "subclient.backupsetId": _ID,
        "subclient.subclientId": _ID,
        "destinationClient.clientId": _ID,
        "storagePolicy.storagePolicyId": _ID,
        "userName.userId": _ID,
        "clientGroups.clientGroupId": (1, EXACT_MAX),
        "jobStartTime": (0, TIME_MAX),
        "jobEndTime": (0, TIME_MAX),
        "lastUpdateTime": (0, TIME_MAX),
        "jobElapsedTime": (0, ELAPSED_MAX),
        "sizeOfApplication": (0, EXACT_MAX),
        "sizeOfMediaOnDisk": (0, EXACT_MAX),
        "totalNumOfFiles": (0, EXACT_MAX),
        "totalFailedFiles": (0, EXACT_MAX),
        "totalFailedFolders": (0, EXACT_MAX),
        "percentComplete": (0, 100),
        "percentSavings": (0, 100),
        "jobSubmitErrorCode": (INT32_MIN, INT32_MAX),
        "isPreemptable": (0, INT32_MAX),
        "vsaParentJobID": _ID,
    }
)


@functools.lru_cache(maxsize=64)
def bounds(prefix: str, names: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """The ranges of `names` read from the object at `prefix` ("" or "subclient.")."""
    return tuple(RANGES[prefix + name] for name in names)


def table_rows() -> list[str]:
    """The README's "Value ranges" table: fields with the same range, next to each other
    in RANGES, share a row."""
    rows: list[tuple[list[str], tuple[int, int]]] = []
    for key, span in RANGES.items():
        if rows and rows[-1][1] == span:
            rows[-1][0].append(key)
        else:
            rows.append(([key], span))
    return [
        f"| {', '.join(f'`{key}`' for key in keys)} | {low} | {high} |"
        for keys, (low, high) in rows
    ]
