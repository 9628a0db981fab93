"""The security figures of docs/security.md, measured against real cvjobs servers on
loopback: attempts per area (authorization on every route x role x format,
authentication, hostile input, integrity under SIGKILL on SQLite and PostgreSQL, load,
slow and abandoned clients) and how many behaved as documented, with the latencies the
issue asks for. Prints the tables in Markdown; exits 1 if any attempt did not behave as
documented. Run it with bench/security (it installs wrk first); it takes a few minutes."""

from __future__ import annotations

import argparse
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import attacks
import faults
from probe import Tally, cvjobs, serving
from processes import fresh_database
from scenarios import PASSWORD

PASSWORDS = {
    "op": "operator-pass-1",
    "viewer": "viewer-pass-1",
    "racer": "racer-pass-1",
    "victim": "victim-pass-1",
}


def checksum(db: str) -> object:
    """What no refused request may change: jobs, entity names, events."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) || ':' || total(last_update_time) || ':'"
            " || total(percent_complete) FROM jobs),"
            " (SELECT group_concat(name) FROM clients),"
            " (SELECT group_concat(name) FROM subclients),"
            " (SELECT group_concat(name) FROM storage_policies),"
            " (SELECT group_concat(name) FROM job_users),"
            " (SELECT count(*) FROM events)"
        ).fetchone()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000, help="demo catalogue size (2000)")
    parser.add_argument("--connections", type=int, default=1000, help="for the load (1000)")
    parser.add_argument("--seconds", type=float, default=30, help="of load per route (30)")
    parser.add_argument("--trickle", type=int, default=500, help="slow sockets (500)")
    parser.add_argument("--trickle-seconds", type=float, default=10)
    parser.add_argument("--abandoned", type=int, default=300, help="hung-up logins (300)")
    parser.add_argument("--rounds", type=int, default=2, help="SIGKILL rounds per backend (2)")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true", help="SIGKILL on SQLite only")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 1,000 connections, 500 sockets

    work = Path(tempfile.mkdtemp(prefix="cvjobs-security-"))
    db = str(work / "catalogue.db")
    subprocess.run(
        [sys.executable, "-m", "cvjobs", "demo", "--jobs", str(args.jobs), "--db", db],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with sqlite3.connect(db) as conn:
        mine_client = conn.execute("SELECT client_id FROM jobs WHERE id = 4").fetchone()[0]
        other_client, hidden = conn.execute(
            # An id of several digits, which the answers hold nowhere else ("1" is in "1.0").
            "SELECT client_id, min(id) FROM jobs WHERE client_id <> ? AND end_time > 0"
            " AND id > 1000",
            (mine_client,),
        ).fetchone()
    tally = Tally()
    log = work / "server.log"
    print(f"cvjobs security figures: {args.jobs} demo jobs, logs in {work}", flush=True)
    with serving(db, log, "--no-engine") as srv:
        cvjobs(
            "user",
            "add",
            "op",
            "--role",
            "operator",
            "--clients",
            str(mine_client),
            stdin=PASSWORDS["op"] + "\n",
            db=db,
        )
        cvjobs(
            "user",
            "add",
            "viewer",
            "--role",
            "viewer",
            "--clients",
            str(mine_client),
            stdin=PASSWORDS["viewer"] + "\n",
            db=db,
        )
        cvjobs("user", "add", "racer", "--all", stdin=PASSWORDS["racer"] + "\n", db=db)
        cvjobs("user", "add", "victim", "--all", stdin=PASSWORDS["victim"] + "\n", db=db)
        admin = srv.client(token=srv.client().token_for("admin", PASSWORD))
        tenants = [
            attacks.Tenant(
                name, role, srv.client(token=srv.client().token_for(name, PASSWORDS[name]))
            )
            for name, role in (("op", "operator"), ("viewer", "viewer"))
        ]
        print("authorization...", flush=True)
        attacks.authorization(tally, admin, tenants, 4, hidden, other_client)
        attacks.write_scope(tally, admin, tenants[0], tenants[1], 4, other_client)
        print("authentication...", flush=True)
        attacks.authentication(tally, srv.port, PASSWORD, PASSWORDS)
        print("hostile input...", flush=True)
        attacks.hostile(tally, admin, lambda: checksum(db), log.read_bytes)
        print("abandoned logins...", flush=True)
        faults.abandoned_logins(tally, srv.port, args.abandoned)
        time.sleep(1)
        print("slow clients...", flush=True)
        faults.slow_clients(tally, srv.port, admin.token, args.trickle, args.trickle_seconds)
        print("load...", flush=True)
        faults.load(tally, srv.port, admin.token, work, args.connections, args.seconds)
    backends = ["sqlite"] if args.no_postgres else ["sqlite", "postgres"]
    for backend in backends:
        print(f"SIGKILL on {backend}...", flush=True)
        target = fresh_database(
            argparse.Namespace(backend=backend, pg=args.pg), work, f"crash_{backend}"
        )
        faults.integrity(tally, backend, target, work, args.rounds)
    print()
    print(tally.report())
    return 0 if tally.all_as_documented else 1


if __name__ == "__main__":
    sys.exit(main())
