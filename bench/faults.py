"""The areas of the security figures that are about the server rather than one request:
SIGKILL in the middle of a stream of writes (nothing acknowledged lost, nothing
half-written), many connections at once, slow and abandoned clients."""

from __future__ import annotations

import base64
import contextlib
import selectors
import shutil
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from loads import Request, asyncio_client, wrk
from probe import API, V1, Client, Tally, serving
from scenarios import PASSWORD

INTEGRITY = "integrity (SIGKILL mid-stream)"
LOAD = "load"
SLOW = "slow and abandoned clients"
BATCH = 20


def _batch(first: int) -> list[dict[str, object]]:
    return [
        {
            "jobId": first + n,
            "status": "Running",
            "jobType": "Backup",
            "percentComplete": n,
            "subclient": {"clientId": 1, "clientName": "crash-test"},
        }
        for n in range(BATCH)
    ]


def integrity(tally: Tally, backend: str, db: str, work: Path, rounds: int) -> None:
    """Each round: ingest batches and job kills stream in on two connections; the whole
    server is killed with SIGKILL; after a restart every acknowledged batch and kill is
    there (kills with their events), and every batch in flight is whole or absent."""
    for r in range(rounds):
        _round(tally, backend, db, work / f"integrity-{backend}.log", r)


def _round(tally: Tally, backend: str, db: str, log: Path, r: int) -> None:
    first_id = 800_000 + r * 100_000
    targets = list(range(first_id + 90_000, first_id + 90_000 + 5 * BATCH))
    acked: list[int] = []
    sent: list[int] = []
    acked_kills: list[int] = []
    sent_kills: list[int] = []
    stop = threading.Event()
    with serving(db, log, "--no-engine") as srv:
        client = srv.client(token=srv.client().token_for("admin", PASSWORD))
        for start in targets[::BATCH]:
            assert client.call("POST", V1 + "jobs", {"jobs": _batch(start)}).status == 200

        def ingest() -> None:
            first = first_id
            while not stop.is_set():
                sent.append(first)
                try:
                    if client.call("POST", V1 + "jobs", {"jobs": _batch(first)}).status == 200:
                        acked.append(first)
                except OSError:
                    return
                first += BATCH

        def kill() -> None:
            for job_id in targets:
                if stop.is_set():
                    return
                sent_kills.append(job_id)
                try:
                    answer = client.call("POST", API + f"Job/{job_id}/action/kill")
                except OSError:
                    return
                if answer.status == 200 and answer.json().get("errorCode") == 0:
                    acked_kills.append(job_id)

        threads = [threading.Thread(target=ingest), threading.Thread(target=kill)]
        for thread in threads:
            thread.start()
        time.sleep(1.0 + 0.4 * r)
        srv.kill()
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    with serving(db, log, "--no-engine") as srv:
        client = srv.client(token=srv.client().token_for("admin", PASSWORD))

        def job(job_id: int) -> dict[str, Any] | None:
            jobs = client.call("GET", API + f"Job/{job_id}").json().get("jobs") or []
            return jobs[0]["jobSummary"] if jobs else None

        for first in sent:
            present = [j for j in (job(first + n) for n in range(BATCH)) if j is not None]
            what = f"{backend} round {r + 1}: batch {first}"
            if first in acked:
                whole = [j["percentComplete"] for j in present] == list(range(BATCH))
                tally.check(INTEGRITY, what + " (acknowledged)", whole, f"{len(present)} jobs")
            else:
                tally.check(INTEGRITY, what + " (in flight)", len(present) in (0, BATCH))
        for job_id in acked_kills:
            found = job(job_id)
            events = client.call("GET", API + f"Events?jobId={job_id}").json()
            evented = any("to [Killed]" in e["description"] for e in events["commservEvents"])
            killed = found is not None and found["status"] == "Killed"
            tally.check(INTEGRITY, f"{backend} round {r + 1}: kill of {job_id}", killed and evented)
    tally.figure(
        f"SIGKILL on {backend}, round {r + 1}",
        f"{len(acked)} batches and {len(acked_kills)} kills acknowledged, all found after"
        f" restart; {len(sent) - len(acked)} in flight, whole or absent",
    )


def load(tally: Tally, port: int, token: str, work: Path, connections: int, seconds: float) -> None:
    """Many keep-alive connections at once on by-id and on a list route: every request is
    answered; then a new client's GET Job/4 is answered at once, not after the backlog of
    clients that have left."""
    generator = wrk if shutil.which("wrk") else asyncio_client
    fresh = Client(port, "127.0.0.50", token)
    for name, path in (("by id", "Job/4"), ("a list page", "Job?clientId=9&limit=100")):
        what = f"{connections} connections x {seconds:g} s on {name}"
        try:
            result = generator(
                port, [Request("GET", API + path)], token, seconds, connections, work, 120.0
            )
        except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
            tally.check(LOAD, what + ": no error", False, str(exc)[:300])
            continue
        after = fresh.call("GET", API + "Job/4")
        tally.check(LOAD, what + ": no error", True)
        tally.check(
            LOAD,
            f"GET Job/4 right after {name} under load in 100 ms",
            after.status == 200 and after.seconds < 0.1,
            f"{after.seconds:.3f} s",
        )
        tally.figure(
            what,
            f"{result.rate:.0f} req/s, p99 {result.p99_ms:.0f} ms, 0 errors ({generator.__name__})",
        )
        tally.figure("a fresh GET Job/4 right after that load", f"{after.seconds * 1000:.0f} ms")
        time.sleep(2)


def _trickling(port: int, count: int) -> list[socket.socket]:
    """Sockets that sent a request's headers (or part of them) and will send its body a
    byte at a time, as a slow-loris client does."""
    sockets = []
    for n in range(count):
        s = socket.create_connection(
            ("127.0.0.1", port), source_address=(f"127.0.1.{n % 250 + 1}", 0)
        )
        if n % 2:
            s.sendall(
                b"POST /commandcenter/api/Login HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n{"
            )
        else:
            s.sendall(b"GET /commandcenter/api/Job/4 HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        s.setblocking(False)
        sockets.append(s)
    return sockets


def slow_clients(tally: Tally, port: int, token: str, count: int, seconds: float) -> None:
    """`count` trickling sockets for `seconds`, while another client reads a job every
    quarter second: every read answered, and quickly; then sockets the server closed."""
    sockets = _trickling(port, count)
    latencies: list[float] = []
    statuses: list[int] = []
    reader = Client(port, "127.0.0.60", token)
    closed = 0
    try:
        until = time.monotonic() + seconds
        next_byte = time.monotonic()
        while time.monotonic() < until:
            if time.monotonic() >= next_byte:
                for s in sockets:
                    with contextlib.suppress(BlockingIOError, OSError):
                        s.send(b"a")
                next_byte += 1.0
            answer = reader.call("GET", API + "Job/4", timeout=30)
            latencies.append(answer.seconds)
            statuses.append(answer.status)
            time.sleep(0.25)
        with selectors.DefaultSelector() as selector:
            for s in sockets:
                selector.register(s, selectors.EVENT_READ)
            # Readable: the server answered (a timeout) or closed it.
            closed = len(selector.select(timeout=0.5))
    finally:
        for s in sockets:
            s.close()
    worst, median = max(latencies), statistics.median(latencies)
    tally.check(
        SLOW,
        f"{count} trickling sockets: every read answered",
        set(statuses) == {200},
        str(set(statuses)),
    )
    tally.check(
        SLOW, f"{count} trickling sockets: reads within 100 ms", worst < 0.1, f"worst {worst:.3f} s"
    )
    tally.figure(
        f"GET Job/4 beside {count} trickling sockets ({len(latencies)} reads over {seconds:g} s)",
        f"median {median * 1000:.1f} ms, worst {worst * 1000:.1f} ms;"
        f" {closed} of the trickling sockets answered or closed by the server by then",
    )


def abandoned_logins(tally: Tally, port: int, count: int) -> None:
    """`count` wrong logins from clients that hang up at once, then the admin's own login
    from elsewhere: it is answered promptly, as the abandoned ones left the hash queue."""
    body = b'{"username": "admin", "password": "' + base64.b64encode(b"wrong-password") + b'"}'
    request = (
        b"POST /commandcenter/api/Login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Accept: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    for n in range(count):
        with socket.create_connection(
            ("127.0.0.1", port), source_address=(f"127.0.2.{n % 250 + 1}", 0)
        ) as s:
            s.sendall(request)
    answer = Client(port, "127.0.0.70").login("admin", PASSWORD)
    got = answer.status == 200 and "token" in answer.json()
    tally.check(
        SLOW, f"admin's login after {count} abandoned ones is answered", got, str(answer.body[:150])
    )
    tally.check(SLOW, "... within 2 s", answer.seconds < 2, f"{answer.seconds:.2f} s")
    tally.figure(
        f"the admin's login right after {count} abandoned wrong logins",
        f"{answer.seconds * 1000:.0f} ms",
    )
