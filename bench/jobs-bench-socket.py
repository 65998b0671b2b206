#!/usr/bin/python3
"""End-to-end throughput of left4me-jobd through jobs.sock (python3-msgpack client, hostd
stand-in), beside raw SQLite (Python's sqlite3) doing the same enqueue transactions.

  enqueue     jobs.submit round trips on one connection while an install holds the
              'install' key, so nothing starts (pure queueing: validation, one durable
              transaction, the reply)
  full cycle  the queue drains through the executor: each job is one hostd call against the
              stand-in (jobs.workers = 4), with its state changes and output lines stored
Usage: jobs-bench-socket.py [N]"""
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "svc-jobs"))
from jobslib import Env  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000


def raw_enqueue(path, n):
    """The same transaction per job as jobd's submit: job row + subject, WAL, synchronous FULL."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = FULL")
    con.execute("PRAGMA foreign_keys = ON")
    t0 = time.time()
    for i in range(n):
        con.execute("BEGIN IMMEDIATE")
        cur = con.execute("INSERT INTO jobs (kind, owner, state, keys, payload, attempts, created_usec, "
                          "updated_usec) VALUES ('server.stop', 'bench', 'queued', ?, ?, 0, ?, ?)",
                          ("x server:b%d\ns install\n" % i, b"\x81", i, i))
        con.execute("INSERT INTO job_subjects (subject, job_id) VALUES (?, ?)", ("server:b%d" % i, cur.lastrowid))
        con.execute("COMMIT")
    dt = time.time() - t0
    con.close()
    return n / dt


def main():
    env = Env(workers=4)
    env.start_hostd()
    env.start_jobd()
    try:
        env.behave({"game.install": {"delay": 3600}})
        blocker = env.submit("install")
        env.wait_state(blocker["id"], "running")
        c = env.client(timeout=30)
        t0 = time.time()
        ids = []
        for i in range(N):
            r = c.call("jobs.submit", {"kind": "server.stop", "owner": "bench", "payload": {"server": "b%d" % i}})
            ids.append(r["job"]["id"])
        enq = N / (time.time() - t0)
        env.behave({})
        t0 = time.time()
        c.call("jobs.cancel", {"id": blocker["id"]})
        while True:
            h = c.call("sys.health")
            if h["queued"] == 0 and h["running"] == 0:
                break
            time.sleep(0.01)
        full = N / (time.time() - t0)
        c.close()
        states = dict(env.sql("SELECT state, COUNT(*) FROM jobs WHERE kind = 'server.stop' GROUP BY state"))
        assert states == {"succeeded": N}, states
        lines = env.sql("SELECT COUNT(*) FROM job_lines")[0][0]
        # Raw SQLite on a copy of the schema, same transactions.
        raw_path = os.path.join(env.dir, "raw.db")
        con = sqlite3.connect(raw_path)
        for (sql,) in env.sql("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"):
            con.execute(sql)
        con.commit()
        con.close()
        raw = raw_enqueue(raw_path, N)
    finally:
        env.close()
    print("jobd through jobs.sock (%d jobs, python3-msgpack client, hostd stand-in, 4 workers)" % N)
    print("  enqueue      socket %8.0f jobs/s   raw SQLite %8.0f jobs/s   ratio %.2f" % (enq, raw, enq / raw))
    print("  full cycle   socket %8.0f jobs/s   (%d lines stored, all %d succeeded)" % (full, lines, N))


main()
