#!/usr/bin/python3
"""The crash loop of left4me-jobd: N rounds of (start jobd, submit and cancel jobs from two
clients, and a third that submits 4 at a time so they share a group commit, while jobs run
against the hostd stand-in, SIGKILL jobd at a random moment), and after every kill: PRAGMA integrity_check is ok, every acknowledged job is in jobs.db with its kind
and owner, at most jobs.workers jobs are running. At the end jobd runs until the queue is
empty: no job may be left queued or running, and each retried job ran at most twice."""
import os
import random
import signal
import sys
import threading
import time

from jobslib import Env, RpcError

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
WORKERS = 2
rng = random.Random(int(time.time()))

acked = {}  # id -> (kind, owner)
lock = threading.Lock()
errors = []


def random_job():
    k = rng.choice(["install", "server.start", "server.start", "server.stop", "server.reset", "server.delete",
                    "overlay.build", "overlay.build"])
    s = "s%d" % rng.randrange(5)
    ov = ["o%d" % rng.randrange(3)]
    if k == "install":
        return k, None
    if k == "server.start":
        return k, {"server": s, "spec": "port: 27015\n", "overlays": ov}
    if k.startswith("server."):
        return k, {"server": s, "overlays": ov}
    return k, {"overlay": ov[0], "script": "echo a\nsleep 0.0%d\necho b\n" % rng.randrange(10)}


def client_loop(env, stop, who):
    try:
        c = env.client(timeout=5)
    except OSError:
        return
    try:
        while not stop.is_set():
            if acked and rng.random() < 0.15:
                jid = rng.choice(list(acked))
                try:
                    c.call("jobs.cancel", {"id": jid})
                except RpcError as e:
                    assert e.code == "conflict", e
                continue
            kind, payload = random_job()
            owner = "%s-%d" % (who, rng.randrange(1000))
            p = {"kind": kind, "owner": owner}
            if payload is not None:
                p["payload"] = payload
            record_ack(c.call("jobs.submit", p), kind, owner)
    except (OSError, ConnectionError):
        pass  # jobd was killed under us
    except Exception as e:  # noqa: BLE001 -- reported by the main thread
        errors.append(repr(e))
    finally:
        c.close()


def record_ack(res, kind, owner):
    j = res["job"]
    with lock:
        if res["coalesced"]:
            # Into a queued job: maybe one stored but never acknowledged (killed before the
            # reply). Either way it is acknowledged now, under its first owner.
            assert j["kind"] == kind and j["state"] == "queued", j
            acked.setdefault(j["id"], (kind, j["owner"]))
        else:
            acked[j["id"]] = (kind, owner)


def pipelined_loop(env, stop, who):
    """Sends 4 submissions in one write, then reads the 4 answers: they share a group commit
    (docs/jobs.md), so a kill lands between a batch's commit and its answers too. It pauses
    between batches so the final drain stays short."""
    try:
        c = env.client(timeout=5)
    except OSError:
        return
    try:
        while not stop.is_set():
            sent = {}
            for _ in range(4):
                kind, payload = random_job()
                owner = "%s-%d" % (who, rng.randrange(1000))
                p = {"kind": kind, "owner": owner}
                if payload is not None:
                    p["payload"] = payload
                sent[c.request("jobs.submit", p)] = (kind, owner)
            while sent:
                m = c.read()
                if m is None:
                    return
                if m[0] != 1 or m[1] not in sent:
                    continue
                kind, owner = sent.pop(m[1])
                assert m[2] is None, m[2]
                record_ack(m[3], kind, owner)
            time.sleep(rng.uniform(0.0, 0.01))
    except (OSError, ConnectionError):
        pass  # jobd was killed under us
    except Exception as e:  # noqa: BLE001 -- reported by the main thread
        errors.append(repr(e))
    finally:
        c.close()


def check_db(env, rnd):
    if not os.path.exists(env.db):
        # Killed before jobd made its state directory or database: legal only if nothing
        # was acknowledged yet.
        with lock:
            assert not acked, "round %d: jobs.db is missing but %d jobs were acknowledged" % (rnd, len(acked))
        return 0
    ok = env.sql("PRAGMA integrity_check")[0][0]
    assert ok == "ok", "round %d: integrity_check: %s" % (rnd, ok)
    if not env.sql("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'jobs'"):
        # Killed before its first migration committed: legal only if nothing was acknowledged.
        with lock:
            assert not acked, "round %d: the jobs table is gone but %d jobs were acknowledged" % (rnd, len(acked))
        return 0
    rows = {r[0]: (r[1], r[2]) for r in env.sql("SELECT id, kind, owner FROM jobs")}
    with lock:
        for jid, v in acked.items():
            assert jid in rows, "round %d: acknowledged job %d is lost" % (rnd, jid)
            assert rows[jid] == v, "round %d: job %d changed: %s != %s" % (rnd, jid, rows[jid], v)
    running = env.sql("SELECT COUNT(*) FROM jobs WHERE state IN ('running', 'cancelling')")[0][0]
    assert running <= WORKERS, "round %d: %d jobs running with %d workers" % (rnd, running, WORKERS)
    return len(rows)


def main():
    env = Env(workers=WORKERS)
    env.start_hostd()
    env.behave({"game.install": {"delay": 0.03, "lines": 5}, "instance.start": {"delay": 0.01, "lines": 2},
                "instance.stop": {"delay": 0.01}, "instance.reset": {"delay": 0.005}})
    t0 = time.time()
    try:
        for rnd in range(ROUNDS):
            env.start_jobd()
            stop = threading.Event()
            threads = [threading.Thread(target=client_loop, args=(env, stop, w)) for w in ("a", "b")]
            threads.append(threading.Thread(target=pipelined_loop, args=(env, stop, "p")))
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.0, 0.06))
            env.kill_jobd(signal.SIGKILL)
            stop.set()
            for t in threads:
                t.join()
            assert not errors, "round %d: %s" % (rnd, errors)
            n = check_db(env, rnd)
        # Drain: jobd runs until nothing is left.
        env.start_jobd()
        deadline = time.time() + 120
        while True:
            h = env.call("sys.health")
            if h["queued"] == 0 and h["running"] == 0:
                break
            assert time.time() < deadline, "queue did not drain: %s" % h
            time.sleep(0.1)
        check_db(env, ROUNDS)
        stuck = env.sql("SELECT id, state FROM jobs WHERE state NOT IN ('succeeded', 'failed', 'cancelled')")
        assert not stuck, "jobs left unfinished: %s" % stuck
        too_many = env.sql("SELECT id, attempts FROM jobs WHERE attempts > 2")
        assert not too_many, "jobs run more than twice: %s" % too_many
        states = dict(env.sql("SELECT state, COUNT(*) FROM jobs GROUP BY state"))
        died = env.sql("SELECT COUNT(*) FROM jobs WHERE error = 'the executor died'")[0][0]
        retried = env.sql("SELECT COUNT(*) FROM jobs WHERE attempts = 2")[0][0]
        print("%d rounds in %.1fs: %d jobs acknowledged, %d stored; final states %s; %d retried after a "
              "crash or lost host, %d failed as 'the executor died'"
              % (ROUNDS, time.time() - t0, len(acked), n, states, retried, died))
    except Exception:
        print(env.jobd_output()[-4000:])
        raise
    finally:
        env.close()


main()
