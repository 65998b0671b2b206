#!/usr/bin/python3
"""End-to-end throughput of left4me-jobd through jobs.sock (hostd stand-in), beside raw
SQLite (Python's sqlite3) doing the same enqueue transactions, one per job.

  enqueue      jobs.submit round trips while an install holds the 'install' key, so nothing
               starts (pure queueing: validation, the durable commit, the reply), from 1 and
               from 16 concurrent submitters (bench/jobs-submit-load.c: C clients, one
               connection each, each waiting for its acknowledgement). Each figure on a
               fresh queue, so the queue depth is the same for all.
  full cycle   the queue drains through the executor: each job is one hostd call against the
               stand-in (jobs.workers = 4), with its state changes and output lines stored
  raw          one transaction per job straight into SQLite: Python's sqlite3 (as before),
               and the same transactions through C prepared statements (jobs-bench-db)
  RSS          jobd's resident memory idle (after start-up) and after the enqueue and the
               full cycle

JOBS_BENCH_BASELINE=/path/to/an/older/left4me-jobd measures it too, in the same run (the
"before" of a change). Figures are rates on a shared machine: compare the ratios of one run.
Usage: jobs-bench-socket.py [N]"""
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "svc-jobs"))
from jobslib import BUILD, Env  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
CONC = int(os.environ.get("JOBS_BENCH_CONC", "16"))
LOAD = os.path.join(BUILD, "bench", "jobs-submit-load")


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


def raw_enqueue_c(n):
    """The same transactions through C prepared statements (bench/jobs-bench-db.c's raw side):
    no Python in the way, so the stricter comparison."""
    out = subprocess.run([os.path.join(BUILD, "bench", "jobs-bench-db"), str(n)], capture_output=True, text=True,
                         timeout=600)
    for line in out.stdout.splitlines():
        if line.strip().startswith("enqueue"):
            return float(line.split("raw")[1].split()[0])
    raise RuntimeError("jobs-bench-db: " + out.stdout + out.stderr)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def blocked_env(jobd_bin):
    """jobd with an install running forever: submitted server jobs queue behind it."""
    env = Env(workers=4, jobd_bin=jobd_bin)
    env.start_hostd()
    env.start_jobd()
    env.behave({"game.install": {"delay": 3600}})
    blocker = env.submit("install")
    env.wait_state(blocker["id"], "running")
    return env, blocker


def enqueue(jobd_bin, conc, n):
    """Returns (jobs/s, p50 us, p99 us, RSS idle KiB, RSS after KiB, schema copy path or None)."""
    env, _ = blocked_env(jobd_bin)
    try:
        idle = rss_kib(env.jobd.pid)
        out = subprocess.run([LOAD, env.jobs_sock, str(conc), str(n), "c%d" % conc], capture_output=True,
                             text=True, timeout=600)
        if out.returncode != 0:
            raise RuntimeError("jobs-submit-load failed: " + out.stderr[-2000:])
        rate, p50, p99, _mx, _failed = out.stdout.split()
        after = rss_kib(env.jobd.pid)
        stored = env.sql("SELECT COUNT(*) FROM jobs WHERE kind = 'server.stop'")[0][0]
        # Every acknowledged job is in the database.
        assert stored == (n // conc) * conc, (stored, n)
        return float(rate), int(p50), int(p99), idle, after
    finally:
        env.close()


def full_cycle(n):
    env, blocker = blocked_env(None)
    try:
        c = env.client(timeout=30)
        for i in range(n):
            c.call("jobs.submit", {"kind": "server.stop", "owner": "bench", "payload": {"server": "b%d" % i}})
        env.behave({})
        t0 = time.time()
        c.call("jobs.cancel", {"id": blocker["id"]})
        while True:
            h = c.call("sys.health")
            if h["queued"] == 0 and h["running"] == 0:
                break
            time.sleep(0.01)
        rate = n / (time.time() - t0)
        c.close()
        rss = rss_kib(env.jobd.pid)
        states = dict(env.sql("SELECT state, COUNT(*) FROM jobs WHERE kind = 'server.stop' GROUP BY state"))
        assert states == {"succeeded": n}, states
        lines = env.sql("SELECT COUNT(*) FROM job_lines")[0][0]
        # Raw SQLite on a copy of the schema, same transactions.
        raw_path = os.path.join(env.dir, "raw.db")
        con = sqlite3.connect(raw_path)
        for (sql,) in env.sql("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"):
            con.execute(sql)
        con.commit()
        con.close()
        raw = raw_enqueue(raw_path, n)
        return rate, lines, rss, raw
    finally:
        env.close()


def main():
    builds = [("this build", None)]
    if os.environ.get("JOBS_BENCH_BASELINE"):
        builds.insert(0, ("baseline", os.environ["JOBS_BENCH_BASELINE"]))
    results = {}
    for name, binary in builds:
        for conc in (1, CONC):
            results[(name, conc)] = enqueue(binary, conc, N)
    full, lines, rss_full, raw = full_cycle(N)
    raw_c = raw_enqueue_c(N)

    print("jobd through jobs.sock (%d jobs per figure, C submitters, hostd stand-in, 4 workers)" % N)
    print("  raw SQLite, one transaction per job (WAL, synchronous FULL)   %8.0f jobs/s (Python sqlite3)" % raw)
    print("  the same in C (bench/jobs-bench-db's raw side)               %8.0f jobs/s" % raw_c)
    for name, _ in builds:
        for conc in (1, CONC):
            rate, p50, p99, _, _ = results[(name, conc)]
            print("  enqueue %-10s %2d submitter%s %8.0f jobs/s   p50 %6d us  p99 %6d us   %.2fx raw SQLite"
                  % (name, conc, "s" if conc > 1 else " ", rate, p50, p99, rate / raw))
    mine = results[("this build", CONC)][0]
    print("  %d submitters / 1 submitter (this build): %.2fx;  / raw SQLite in C: %.2fx"
          % (CONC, mine / results[("this build", 1)][0], mine / raw_c))
    if len(builds) > 1:
        print("  this build / baseline at %d submitters: %.2fx;  at 1 submitter: %.2fx"
              % (CONC, mine / results[("baseline", CONC)][0],
                 results[("this build", 1)][0] / results[("baseline", 1)][0]))
    print("  full cycle   %8.0f jobs/s   (%d lines stored, all %d succeeded)" % (full, lines, N))
    idle, after = results[("this build", CONC)][3:5]
    print("  jobd RSS: idle %.1f MiB, after %d enqueues %.1f MiB, after the full cycle %.1f MiB"
          % (idle / 1024, N, after / 1024, rss_full / 1024))


main()
