"""The render cache: answers within its time to live, and never holds more than its bytes."""

from __future__ import annotations

import tracemalloc

import orjson

from cvjobs.model import Job
from cvjobs.service.rendered import TTL_SECONDS, RenderCache

JOB = Job(4, "Completed", "Backup")


def job(job_id: int) -> Job:
    return Job(job_id, "Completed", "Backup")


def test_a_body_is_answered_until_it_expires() -> None:
    cache = RenderCache()
    cache.put(JOB, "json", 1000, b"body")
    assert cache.get(4, "json", 1000) == (JOB, b"body")
    assert cache.get(4, "json", 1000 + TTL_SECONDS - 1) == (JOB, b"body")
    assert cache.get(4, "json", 1000 + TTL_SECONDS) is None
    assert cache.get(4, "json", 999) is None  # a clock that went back
    assert cache.get(4, "xml", 1000) is None


def test_it_never_holds_more_than_its_bytes() -> None:
    cache = RenderCache(max_bytes=100)
    for job_id in range(1, 40):
        cache.put(job(job_id), "json", 0, b"x" * 30)
        assert cache._bytes <= 100
        assert cache._bytes == sum(len(body) for _, _, body in cache._entries.values())
    # Replacing an entry counts its new size only.
    cache.clear()
    cache.put(job(1), "json", 0, b"x" * 60)
    cache.put(job(1), "json", 0, b"x" * 60)
    assert cache._bytes == 60 and cache.get(1, "json", 0) == (job(1), b"x" * 60)


def test_clear_forgets_everything() -> None:
    cache = RenderCache()
    cache.put(JOB, "json", 0, b"body")
    cache.clear()
    assert cache.get(4, "json", 0) is None and cache._bytes == 0


def test_a_body_is_kept_at_its_own_size() -> None:
    # orjson's output holds the whole buffer it was written into, many times its length.
    document = {"jobs": [{"jobSummary": {f"k{i}": "v" * 20 for i in range(60)}}]}
    length = len(orjson.dumps(document))
    cache = RenderCache()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for job_id in range(1, 201):
            cache.put(job(job_id), "json", 0, orjson.dumps(document))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 200 * 2 * length
    assert cache.get(7, "json", 0) == (job(7), orjson.dumps(document))


def test_forget_drops_a_job_in_every_format_and_its_bytes() -> None:
    cache = RenderCache()
    cache.put(job(1), "json", 0, b"x" * 10)
    cache.put(job(1), "xml", 0, b"y" * 20)
    cache.put(job(2), "xml", 0, b"z" * 5)
    cache.forget([1, 3])
    assert cache.get(1, "json", 0) is None and cache.get(1, "xml", 0) is None
    assert cache.get(2, "xml", 0) == (job(2), b"z" * 5)
    assert cache._bytes == 5
