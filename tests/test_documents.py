"""Request documents: JSON, XML, and the JSON that mirrors XML (a root element wrapper and
`@attribute` keys, as xmltodict writes it), which pinkopy sends (issue 10)."""

from __future__ import annotations

import orjson
import pytest

from cvjobs.documents import DocumentError, read_object


def test_the_json_mirror_of_an_xml_request_reads_like_the_xml() -> None:
    xml = read_object(b'<JobManager_JobDetailRequest jobId="4"/>')
    mirrored = read_object(b'{"JobManager_JobDetailRequest": {"@jobId": "4"}}')
    assert xml == mirrored == ("JobManager_JobDetailRequest", {"jobId": "4"})


def test_attributes_deeper_down_lose_their_at_too() -> None:
    body = b'{"JobManager_PerformMultiCellJobOpReq": {"jobOpReq": {"@operationType": "JOB_KILL",'
    body += b' "jobs": [{"@jobId": "4"}, {"jobId": 5}]}}}'
    root, read = read_object(body)
    assert root == "JobManager_PerformMultiCellJobOpReq"
    assert read == {
        "jobOpReq": {"operationType": "JOB_KILL", "jobs": [{"jobId": "4"}, {"jobId": 5}]}
    }


@pytest.mark.parametrize(
    "body",
    [b'{"jobId": 4}', b'{"jobs": [{"jobId": 4}]}', b'{"jobSummary": {"jobId": 4}}', b'{"a_b": 1}'],
)
def test_plain_json_is_read_as_it_is(body: bytes) -> None:
    root, read = read_object(body)
    assert root is None and read == orjson.loads(body)


def test_a_top_level_at_key_is_an_attribute() -> None:
    assert read_object(b'{"@jobId": "4"}') == (None, {"jobId": "4"})


def test_not_an_object_is_refused() -> None:
    with pytest.raises(DocumentError):
        read_object(b'["JobManager_JobDetailRequest"]')
