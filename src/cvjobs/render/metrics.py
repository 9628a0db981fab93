"""The catalogue's metrics in Prometheus' text format, from a `MetricsSnapshot`
(service/metrics.py). No series carries a job id: one per job would grow without end.

- `cvjobs_up` 1; `cvjobs_catalogue_jobs` every job in scope; `cvjobs_change_log_head`.
- `cvjobs_jobs_finished_total{client, job_type, status}` finished jobs (aged ones too),
  `cvjobs_active_jobs{status}`, and the histogram `cvjobs_job_duration_seconds{job_type,
  status}` of finished jobs' elapsed times.
- For a scrape that sees everything: `cvjobs_webhook_enabled{webhook}` and
  `cvjobs_webhook_deliveries{webhook, state}`.
- For a scrape that sees everything, the server's own answers (all workers'):
  `cvjobs_http_requests_total{route, method, status}` and the histogram
  `cvjobs_http_request_duration_seconds` (http/request_metrics.py).
- Per client watched for its RPO (service/rpo.py): `cvjobs_client_rpo_seconds`,
  `cvjobs_client_last_successful_backup_timestamp_seconds`, `cvjobs_client_overdue`.
- Per subclient and selector (`last`, `last_successful`, `last_successful_full`):
  `cvjobs_last_job_end_timestamp_seconds`, `cvjobs_last_job_status{status}` (one-hot over
  the finished statuses), `_duration_seconds`, `_application_bytes`, `_media_bytes`,
  `_files`, `_failed_files`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from cvjobs import vocab
from cvjobs.model import ClientRpo, LastJob, MetricsSnapshot, RequestCounts
from cvjobs.render.prometheus import Family, render

_LAST_LABELS = ("client", "subclient", "subclient_id", "selector")
_LAST_GAUGES = (
    ("end_timestamp_seconds", "end time of the job (UNIX seconds)", "end_time"),
    ("duration_seconds", "elapsed time of the job", "duration"),
    ("application_bytes", "application size the job protected", "application_bytes"),
    ("media_bytes", "media the job wrote", "media_bytes"),
    ("files", "files the job protected", "files"),
    ("failed_files", "files the job failed to protect", "failed_files"),
)
_FINISHED = sorted(vocab.FINISHED_STATUSES)


def exposition(snapshot: MetricsSnapshot, requests: list[RequestCounts]) -> bytes:
    return render(
        [
            *_catalogue(snapshot.counts, snapshot.head),
            _durations(snapshot.durations),
            *_last_job(snapshot.last),
            *_webhooks(snapshot.webhooks),
            *_rpo(snapshot.rpo),
            *_requests(requests),
        ]
    )


def _requests(rows: list[RequestCounts]) -> Iterator[Family]:
    """The server's answers by route, method and status (all its workers'): a counter,
    and the histogram of their latencies."""
    if not rows:
        return
    labels = ("route", "method", "status")
    total = Family("cvjobs_http_requests", "counter", "requests answered", labels)
    latency = Family(
        "cvjobs_http_request_duration_seconds",
        "histogram",
        "time from a request's arrival to its answer's last byte",
        labels,
    )
    for r in rows:
        values = (r.route, r.method, str(r.status))
        count = sum(r.buckets)
        total.add(count, *values)
        latency.observed(
            values, _cumulative(vocab.REQUEST_BUCKETS, r.buckets), count, round(r.seconds, 6)
        )
    yield total
    yield latency


def _rpo(clients: list[ClientRpo]) -> Iterator[Family]:
    families = (
        Family("cvjobs_client_rpo_seconds", "gauge", "the client's RPO in effect", ("client",)),
        Family(
            "cvjobs_client_last_successful_backup_timestamp_seconds",
            "gauge",
            "end of the client's last successful backup (UNIX seconds; 0: none yet)",
            ("client",),
        ),
        Family(
            "cvjobs_client_overdue",
            "gauge",
            "1 if the client has had no successful backup within its RPO",
            ("client",),
        ),
    )
    for c in clients:
        for family, value in zip(
            families, (c.rpo_seconds, c.last_success_end, int(c.overdue)), strict=True
        ):
            family.add(value, c.client)
    yield from families


def _webhooks(rows: list[tuple[int, bool, str, int]]) -> Iterator[Family]:
    if not rows:
        return
    enabled = Family("cvjobs_webhook_enabled", "gauge", "1 if the webhook is enabled", ("webhook",))
    kept = Family(
        "cvjobs_webhook_deliveries",
        "gauge",
        "deliveries kept, by state (pending, delivered, failed; pruned with the change log)",
        ("webhook", "state"),
    )
    counts: dict[int, dict[str, int]] = {}
    for hook_id, on, state, n in rows:
        if hook_id not in counts:
            counts[hook_id] = {}
            enabled.add(int(on), str(hook_id))
        counts[hook_id][state] = n
    for hook_id, by_state in counts.items():
        for state in ("pending", "delivered", "failed"):
            kept.add(by_state.get(state, 0), str(hook_id), state)
    yield enabled
    yield kept


def _single(name: str, text: str, value: int) -> Family:
    family = Family(name, "gauge", text)
    family.add(value)
    return family


def _catalogue(counts: list[tuple[int, str, str, str, int]], head: int) -> Iterator[Family]:
    yield _single("cvjobs_up", "1 while the server answers", 1)
    total = sum(row[4] for row in counts)
    yield _single("cvjobs_catalogue_jobs", "jobs in the catalogue (in scope)", total)
    yield _single("cvjobs_change_log_head", "the change log's last sequence number", head)
    finished = Family(
        "cvjobs_jobs_finished",
        "counter",
        "finished jobs by client, job type and status (aged ones too)",
        ("client", "job_type", "status"),
    )
    active: dict[str, int] = defaultdict(int)
    for _, client, job_type, status, n in counts:
        if vocab.is_active(status):
            active[status] += n
        else:
            finished.add(n, client, job_type, status)
    yield finished
    running = Family("cvjobs_active_jobs", "gauge", "active jobs by status", ("status",))
    for status in sorted(vocab.ACTIVE_STATUSES):
        running.add(active.get(status, 0), status)
    yield running


def _durations(rows: list[tuple[str, str, int, int, int]]) -> Family:
    """The histogram of finished jobs' elapsed times per job type and status, from the
    kept bucket counts (store/durations.py)."""
    histogram = Family(
        "cvjobs_job_duration_seconds",
        "histogram",
        "elapsed time of finished jobs, by job type and status",
        ("job_type", "status"),
    )
    series: dict[tuple[str, str], list[tuple[int, int, int]]] = defaultdict(list)
    for job_type, status, bucket, n, seconds in rows:
        series[(job_type, status)].append((bucket, n, seconds))
    for labels, found in series.items():
        within = [0] * (len(vocab.DURATION_BUCKETS) + 1)
        for bucket, n, _ in found:
            within[bucket] += n
        buckets = _cumulative(vocab.DURATION_BUCKETS, within)
        histogram.observed(labels, buckets, sum(within), sum(f[2] for f in found))
    return histogram


def _cumulative(bounds: tuple[float, ...], within: Sequence[int]) -> list[tuple[float, int]]:
    """A histogram's buckets, (upper bound, observations up to it), from the observations
    within each of `bounds` and past the last (+Inf)."""
    buckets, cumulative = [], 0
    for bound, n in zip([*map(float, bounds), float("inf")], within, strict=True):
        cumulative += n
        buckets.append((bound, cumulative))
    return buckets


def _last_job(jobs: list[LastJob]) -> Iterator[Family]:
    gauges = {
        field: Family(f"cvjobs_last_job_{name}", "gauge", f"{text}, per selector", _LAST_LABELS)
        for name, text, field in _LAST_GAUGES
    }
    status = Family(
        "cvjobs_last_job_status",
        "gauge",
        "1 for the status of the job, 0 for the other finished statuses, per selector",
        (*_LAST_LABELS, "status"),
    )
    for job in jobs:
        labels = (job.client, job.subclient, str(job.subclient_id), job.selector)
        for field, gauge in gauges.items():
            gauge.add(getattr(job, field), *labels)
        for name in _FINISHED:
            status.add(int(name == job.status), *labels, name)
    yield from gauges.values()
    yield status
