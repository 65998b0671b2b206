#!/usr/bin/python3
"""Black-box tests of left4me-jobd: the protocol through python3-msgpack (not our C client),
with a hostd stand-in (fake-hostd.py) on a temporary socket."""
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import traceback

import msgpack

from jobslib import BUILD, Env, RpcError, wait_for

START = {"server": "s1", "spec": "port: 27015\n", "overlays": ["oa"]}
failures = 0


def expect_error(code, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except RpcError as e:
        assert e.code == code, "expected %s, got %s: %s" % (code, e.code, e.message)
        return e.message
    raise AssertionError("expected error " + code)


def overlap(a, b):
    return a["start"] < b["end"] and b["start"] < a["end"]


# ---- the happy paths ----------------------------------------------------------------------

def test_start_runs_initialize_then_start(env):
    j = env.submit("server.start", START, subjects=["user:alice"])
    assert j["state"] == "queued" and j["attempts"] == 0
    assert j["subjects"] == ["server:s1", "user:alice"], j["subjects"]
    assert {"key": "overlay:oa", "mode": "shared"} in j["keys"]
    done, notes = env.watch(j["id"])
    assert done["state"] == "succeeded", done
    lines = [n["line"] for n in notes if n["type"] == "line"]
    assert "Step: instance.initialize" in lines and "Step: instance.start" in lines, lines
    assert any("active (running)" in l for l in lines), lines
    # A watch that began after the job ended gets its lines and the job, and no state note.
    states = [n["state"] for n in notes if n["type"] == "state"]
    assert not states or states[-1] == "succeeded", states
    assert notes[-1]["type"] == "state" or notes[-1]["line"] == "job succeeded", notes[-1]
    seqs = [n["seq"] for n in notes if n["type"] == "line"]
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    calls = [c["method"] for c in env.host_calls() if c["name"] == "s1"]
    assert calls[-2:] == ["instance.initialize", "instance.start"], calls
    # The log gives the same lines; after_seq skips.
    log = env.call("jobs.log", {"id": j["id"]})
    assert [l["line"] for l in log["lines"]] == lines and log["done"] is True
    log = env.call("jobs.log", {"id": j["id"], "after_seq": 2, "limit": 1})
    assert [l["seq"] for l in log["lines"]] == [3] and log["done"] is False
    # A watch with after_seq replays only later lines, then ends at once.
    done, notes = env.watch(j["id"], after_seq=len(seqs) - 1)
    assert [n["seq"] for n in notes if n["type"] == "line"] == [len(seqs)], notes


def test_every_kind(env):
    expect = {
        "install": ["game.install"],
        "server.stop": ["instance.stop"],
        "server.reset": ["instance.reset"],
        "server.delete": ["instance.delete"],
        "overlay.build": ["overlay.build"],
    }
    payloads = {
        "install": None,
        "server.stop": {"server": "k1"},
        "server.reset": {"server": "k1"},
        "server.delete": {"server": "k1"},
        "overlay.build": {"overlay": "k1", "script": "echo built\n"},
    }
    for kind, methods in expect.items():
        before = len(env.host_calls())
        j = env.submit(kind, payloads[kind])
        done, _ = env.watch(j["id"])
        assert done["state"] == "succeeded", (kind, done)
        got = [c["method"] for c in env.host_calls()[before:]]
        assert got == methods, (kind, got)
    inst = [l for l in env.log_lines(env.call("jobs.list", {"kind": "install", "limit": 1})["jobs"][0]["id"])]
    assert ("step", "Step: installation complete.") in inst, inst


# ---- failures from hostd --------------------------------------------------------------------

def test_failures_are_reported(env):
    j = env.submit("server.start", {"server": "f1", "spec": "port: 27015\n# invalid: the fake hostd refuses this\n"})
    done, _ = env.watch(j["id"])
    assert done["state"] == "failed" and "spec.overlays[3]" in done["error"], done
    assert done["attempts"] == 1
    assert not any(c["method"] == "instance.start" and c["name"] == "f1" for c in env.host_calls())

    j = env.submit("overlay.build", {"overlay": "f2", "script": "echo a\nechoerr b\nexit 3\n"})
    done, _ = env.watch(j["id"])
    assert done["state"] == "failed" and done["exit_code"] == 3 and done["error"] == "build failed", done
    lines = env.log_lines(j["id"])
    assert ("stdout", "a") in lines and ("stderr", "b") in lines, lines

    j = env.submit("overlay.build", {"overlay": "f2", "script": "result oom\n"})
    done, _ = env.watch(j["id"])
    assert done["state"] == "failed" and done["error"] == "build oom", done

    env.behave({"game.install": {"exit_code": 8}})
    j = env.submit("install")
    done, _ = env.watch(j["id"])
    assert done["state"] == "failed" and "exit" in done["error"], done
    assert done["attempts"] == 1, "an answered failure is not retried"
    env.behave({})


def test_host_lost_retries_idempotent_once(env):
    env.behave({"instance.stop:d1": {"drop": True}})
    j = env.submit("server.stop", {"server": "d1"})
    done, _ = env.watch(j["id"])
    assert done["state"] == "failed" and done["attempts"] == 2, done
    assert "closed the connection" in done["error"], done
    lines = [l for _, l in env.log_lines(j["id"])]
    assert any("running the job again" in l for l in lines), lines
    assert len([c for c in env.host_calls() if c["name"] == "d1"]) == 2

    # A retry that works ends succeeded.
    env.behave({"instance.stop:d2": {"drop_first": 1}})
    j = env.submit("server.stop", {"server": "d2"})
    done, _ = env.watch(j["id"])
    assert done["state"] == "succeeded" and done["attempts"] == 2, done

    # A build is not run twice behind the user's back.
    j = env.submit("overlay.build", {"overlay": "d3", "script": "echo x\ndrop\n"})
    done, _ = env.watch(j["id"])
    assert done["state"] == "failed" and done["attempts"] == 1, done


def test_host_unavailable(env):
    env.stop_hostd()
    try:
        j = env.submit("server.delete", {"server": "u1"})
        done, _ = env.watch(j["id"])
        assert done["state"] == "failed" and "unavailable" in done["error"], done
        assert done["attempts"] == 2
    finally:
        env.start_hostd()


# ---- scheduling -----------------------------------------------------------------------------

def test_build_delays_both_starts(env):
    before = len(env.host_calls())
    b = env.submit("overlay.build", {"overlay": "sh", "script": "sleep 0.6\n"})
    env.wait_state(b["id"], "running")
    env.behave({"instance.start": {"delay": 0.4}})
    s1 = env.submit("server.start", {"server": "c1", "spec": "port: 27015\n", "overlays": ["sh"]})
    s2 = env.submit("server.start", {"server": "c2", "spec": "port: 27016\n", "overlays": ["sh"]})
    time.sleep(0.2)
    assert env.get(s1["id"])["state"] == "queued" and env.get(s2["id"])["state"] == "queued"
    for j in (s1, s2):
        assert env.watch(j["id"])[0]["state"] == "succeeded"
    env.behave({})
    calls = env.host_calls()[before:]
    build = [c for c in calls if c["method"] == "overlay.build"][0]
    st = {c["name"]: c for c in calls if c["method"] == "instance.start"}
    init = {c["name"]: c for c in calls if c["method"] == "instance.initialize"}
    for n in ("c1", "c2"):
        assert init[n]["start"] >= build["end"], "start of %s began before the build ended" % n
    assert overlap(st["c1"], st["c2"]), "the two starts did not run concurrently"


def test_same_server_serialized_and_workers(env):
    env.behave({"instance.stop": {"delay": 0.3}, "instance.reset": {"delay": 0.3}})
    before = len(env.host_calls())
    a = env.submit("server.stop", {"server": "w1"})
    b = env.submit("server.reset", {"server": "w1"})
    c = env.submit("server.stop", {"server": "w2"})
    d = env.submit("server.stop", {"server": "w3"})
    for j in (a, b, c, d):
        assert env.watch(j["id"])[0]["state"] == "succeeded"
    env.behave({})
    calls = env.host_calls()[before:]
    w1 = [c for c in calls if c["name"] == "w1"]
    assert not overlap(w1[0], w1[1]), "two jobs of one server overlapped"
    for c1 in calls:  # never more than 2 (jobs.workers) at once
        n = sum(1 for c2 in calls if c2["start"] <= c1["start"] < c2["end"])
        assert n <= 2, "%d calls at once" % n


def test_start_keys_come_from_the_spec(env):
    """A caller that leaves an overlay out of `overlays` still gets its key: the spec says."""
    spec = "port: 27015\noverlays: [{path: sp1/left4dead2, alias: a}, sp2]\n"
    j = env.submit("server.start", {"server": "k9", "spec": spec, "overlays": []})
    keys = {(k["key"], k["mode"]) for k in j["keys"]}
    assert ("overlay:sp1", "shared") in keys and ("overlay:sp2", "shared") in keys, j["keys"]
    env.watch(j["id"])
    # A spec hostd would refuse is refused at once, naming the field, and nothing is queued.
    before = len(env.call("jobs.list", {"limit": 500})["jobs"])
    msg = expect_error("invalid", env.call, "jobs.submit", {"kind": "server.start", "owner": "u1",
                                                            "payload": {"server": "k9", "spec": "overlays: [../up]\n"}})
    assert msg.startswith("payload.spec: "), msg
    assert len(env.call("jobs.list", {"limit": 500})["jobs"]) == before, "a refused spec was queued"


def test_coalescing(env):
    blocker = env.submit("overlay.build", {"overlay": "co", "script": "sleep 0.5\n"})
    env.wait_state(blocker["id"], "running")
    p = {"overlay": "co", "script": "echo v2\n"}
    first = env.call("jobs.submit", {"kind": "overlay.build", "owner": "u1", "payload": p})
    second = env.call("jobs.submit", {"kind": "overlay.build", "owner": "u1", "payload": p})
    assert first["coalesced"] is False and second["coalesced"] is True
    assert first["job"]["id"] == second["job"]["id"]
    # Never into another owner's job: its id would let u2 watch and cancel u1's work.
    theirs = env.call("jobs.submit", {"kind": "overlay.build", "owner": "u2", "payload": p})
    assert theirs["coalesced"] is False and theirs["job"]["id"] != first["job"]["id"], theirs
    other = env.submit("overlay.build", {"overlay": "co", "script": "echo v3\n"})
    assert other["id"] != first["job"]["id"]
    # A running job is not coalesced into.
    assert env.call("jobs.submit", {"kind": "overlay.build", "owner": "u1",
                                    "payload": {"overlay": "co", "script": "sleep 0.5\n"}})["coalesced"] is False
    for j in (blocker, first["job"], theirs["job"], other):
        assert env.watch(j["id"])[0]["state"] == "succeeded"


# ---- group commit ---------------------------------------------------------------------------

def pipelined_submits(env, owner, n):
    """n jobs.submit requests sent in one write on one connection, so jobd reads them at once
    and they share one commit; the last two are the same build (they coalesce in the batch)."""
    c = env.client(timeout=20)
    reqs = []
    for i in range(n - 2):
        reqs.append({"kind": "server.stop", "owner": owner, "payload": {"server": "%s-%d" % (owner, i)}})
    build = {"kind": "overlay.build", "owner": owner, "payload": {"overlay": owner, "script": "true\n"}}
    reqs += [build, build]
    data = b"".join(msgpack.packb([0, i + 1, "jobs.submit", [r]], use_bin_type=True) for i, r in enumerate(reqs))
    c.sock.sendall(data)
    return c


def read_replies(c, n):
    got = {}
    while len(got) < n:
        m = c.read()
        assert m is not None, "jobd closed the connection"
        if m[0] == 1:
            got[m[1]] = m
    return [got[i + 1] for i in range(n)]


def locked_db(env):
    """Holds jobs.db's write lock (an admin's sqlite3 shell in a transaction), once jobd is
    idle: any other write of jobd's would wait out its busy timeout too."""
    wait_for(lambda: (lambda h: h["queued"] == 0 and h["running"] == 0)(env.call("sys.health")), 20,
             "jobd to be idle")
    con = sqlite3.connect(env.db, timeout=10, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    return con


def test_group_commit_acknowledges_only_after_commit(env):
    n = 16
    lock = locked_db(env)
    try:
        c = pipelined_submits(env, "gc-ok", n)
        # jobd cannot commit while the lock is held: no submission may be acknowledged.
        c.sock.settimeout(1.0)
        try:
            m = c.read()
            raise AssertionError("acknowledged before the commit: %r" % (m,))
        except socket.timeout:
            pass
        assert env.sql("SELECT COUNT(*) FROM jobs WHERE owner = 'gc-ok'")[0][0] == 0
    finally:
        lock.rollback()
        lock.close()
    c.sock.settimeout(20)
    replies = read_replies(c, n)
    c.close()
    for m in replies:
        assert m[2] is None, m
    jobs = [m[3]["job"] for m in replies]
    ids = [j["id"] for j in jobs]
    # Every acknowledged job is stored, in submission order; the repeated build coalesced into
    # its twin of the same batch.
    assert ids[:-1] == sorted(set(ids[:-1])), ids
    assert ids[-1] == ids[-2] and replies[-1][3]["coalesced"] is True and replies[-2][3]["coalesced"] is False
    stored = dict(env.sql("SELECT id, state FROM jobs WHERE owner = 'gc-ok'"))
    assert sorted(stored) == sorted(set(ids)), (stored, ids)
    for i in sorted(set(ids)):
        env.wait_state(i, "succeeded")


def test_group_commit_failure_fails_every_call(env):
    n = 16
    lock = locked_db(env)
    try:
        t0 = time.time()
        c = pipelined_submits(env, "gc-fail", n)
        c.sock.settimeout(30)
        replies = read_replies(c, n)  # jobd's busy timeout (5 s) gives up on the lock
        dt = time.time() - t0
        c.close()
    finally:
        lock.rollback()
        lock.close()
    for m in replies:
        assert m[2] is not None and m[2]["code"] == "unavailable", m
        assert "cannot store the job" in m[2]["message"], m
    # One commit attempt for all of them (one busy timeout, not sixteen), and nothing stored.
    assert dt < 9, "%d failures took %.1f s: not one commit" % (n, dt)
    assert env.sql("SELECT COUNT(*) FROM jobs WHERE owner = 'gc-fail'")[0][0] == 0
    # The next submission is stored as usual.
    j = env.submit("server.stop", {"server": "gc-after"}, owner="gc-fail")
    assert env.wait_state(j["id"], "succeeded")


# ---- cancel ---------------------------------------------------------------------------------

def test_cancel_queued_and_running(env):
    env.behave({"game.install": {"delay": 30, "lines": 3}})
    inst = env.submit("install")
    env.wait_state(inst["id"], "running")
    queued = env.submit("server.stop", {"server": "q1"})  # waits for the install (install key)
    time.sleep(0.1)
    assert env.get(queued["id"])["state"] == "queued"
    j = env.call("jobs.cancel", {"id": queued["id"]})["job"]
    assert j["state"] == "cancelled", j
    assert env.log_lines(queued["id"])[-1] == ("stderr", "job cancelled before it started")
    msg = expect_error("conflict", env.call, "jobs.cancel", {"id": queued["id"]})
    assert "already ended" in msg

    t0 = time.time()
    j = env.call("jobs.cancel", {"id": inst["id"]})["job"]
    assert j["state"] in ("cancelling", "cancelled"), j
    done, _ = env.watch(inst["id"])
    assert done["state"] == "cancelled", done
    assert time.time() - t0 < 5
    env.behave({})
    wait_for(lambda: any(c["method"] == "game.install" and c["outcome"] == "cancelled" for c in env.host_calls()),
             5, "hostd to record the cancelled install")
    lines = [l for _, l in env.log_lines(inst["id"])]
    assert "cancel requested" in lines and "job cancelled" in lines, lines
    expect_error("not_found", env.call, "jobs.cancel", {"id": 999999})


def test_many_watchers_and_live_lines(env):
    script = "".join("echo line %d\nsleep 0.01\n" % i for i in range(30))
    j = env.submit("overlay.build", {"overlay": "mw", "script": script})
    clients, ids = [], []
    for _ in range(3):
        c = env.client()
        ids.append(c.request("jobs.watch", {"id": j["id"]}))
        clients.append(c)
    results = []
    for c, msgid in zip(clients, ids):
        notes = []
        while True:
            m = c.read()
            assert m is not None
            if m[0] == 2:
                notes.append(m[2][1])
                continue
            assert m[0] == 1 and m[1] == msgid and m[2] is None, m
            results.append((m[3]["job"], notes))
            break
        c.close()
    texts = None
    for job, notes in results:
        assert job["state"] == "succeeded"
        t = [n["line"] for n in notes if n["type"] == "line"]
        assert texts is None or t == texts
        texts = t
    assert [x for x in texts if x.startswith("line ")] == ["line %d" % i for i in range(30)], texts


def test_watch_client_leaves(env):
    env.behave({"game.install": {"delay": 1}})
    j = env.submit("install")
    c = env.client()
    c.request("jobs.watch", {"id": j["id"]})
    c.read()
    c.close()  # jobd must drop the watcher, not crash, and the job goes on
    assert env.watch(j["id"])[0]["state"] == "succeeded"
    c = env.client()
    msgid = c.request("jobs.watch", {"id": j["id"]})
    c.send([2, "rpc.cancel", [msgid]])
    while True:
        m = c.read()
        if m[0] == 1:
            break
    c.close()
    env.behave({})


# ---- listing --------------------------------------------------------------------------------

def test_list_filters_and_paging(env):
    ids = [env.submit("server.stop", {"server": "l%d" % i}, owner="lister", subjects=["team:t%d" % (i % 2)])["id"]
           for i in range(7)]
    for i in ids:
        env.wait_state(i, "succeeded")
    r = env.call("jobs.list", {"owner": "lister", "limit": 3})
    assert [j["id"] for j in r["jobs"]] == ids[::-1][:3] and r["next_before_id"] == ids[4]
    r = env.call("jobs.list", {"owner": "lister", "limit": 3, "before_id": r["next_before_id"]})
    assert [j["id"] for j in r["jobs"]] == ids[::-1][3:6]
    r = env.call("jobs.list", {"owner": "lister", "limit": 3, "before_id": r["next_before_id"]})
    assert [j["id"] for j in r["jobs"]] == [ids[0]] and r["next_before_id"] is None
    r = env.call("jobs.list", {"subject": "team:t0", "owner": "lister"})
    assert len(r["jobs"]) == 4
    r = env.call("jobs.list", {"subject": "server:l3"})
    assert [j["id"] for j in r["jobs"]] == [ids[3]]
    r = env.call("jobs.list", {"state": "succeeded", "kind": "server.stop", "owner": "lister"})
    assert len(r["jobs"]) == 7
    assert "spec" not in r["jobs"][0]["payload"]
    assert env.call("jobs.list", {"owner": "nobody"}) == {"jobs": [], "next_before_id": None}
    full = env.get(ids[0])
    assert full["payload"] == {"server": "l0"} and full["lines"] > 0


# ---- hostile input --------------------------------------------------------------------------

def test_hostile_requests_store_nothing(env):
    n_before = env.sql("SELECT COUNT(*) FROM jobs")[0][0]
    bad = [
        ("jobs.submit", {"owner": "u"}, "kind"),
        ("jobs.submit", {"kind": "rm -rf", "owner": "u"}, "kind"),
        ("jobs.submit", {"kind": "install"}, "owner"),
        ("jobs.submit", {"kind": "install", "owner": ""}, "owner"),
        ("jobs.submit", {"kind": "install", "owner": "a\nb"}, "owner"),
        ("jobs.submit", {"kind": "install", "owner": "x" * 129}, "owner"),
        ("jobs.submit", {"kind": "install", "owner": "u", "subjects": ["nocolon"]}, "subjects[0]"),
        ("jobs.submit", {"kind": "install", "owner": "u", "subjects": ["s:x"] * 17}, "subjects"),
        ("jobs.submit", {"kind": "install", "owner": "u", "subjects": "server:x"}, "subjects"),
        ("jobs.submit", {"kind": "install", "owner": "u", "payload": [1]}, "payload"),
        ("jobs.submit", {"kind": "install", "owner": "u", "payload": {"server": "x"}}, "payload"),
        ("jobs.submit", {"kind": "server.start", "owner": "u", "payload": {"server": "x"}}, "payload.spec"),
        ("jobs.submit", {"kind": "server.start", "owner": "u", "payload": {"server": "../x", "spec": "s"}},
         "payload.server"),
        ("jobs.submit", {"kind": "server.start", "owner": "u", "payload": {"server": "x", "spec": "s" * 600000}},
         "payload.spec"),
        ("jobs.submit", {"kind": "server.start", "owner": "u", "payload": {"server": "x", "spec": b"\xff"}},
         "payload.spec"),
        ("jobs.submit", {"kind": "server.stop", "owner": "u", "payload": {"server": "x", "overlays": ["a", "a"]}},
         "payload.overlays[1]"),
        ("jobs.submit", {"kind": "server.start", "owner": "u",
                         "payload": {"server": "x", "spec": "p", "overlays": ["o%d" % i for i in range(500)]}},
         "payload.overlays"),
        ("jobs.submit", {"kind": "overlay.build", "owner": "u", "payload": {"overlay": "x", "script": "a\0b"}},
         "payload.script"),
        ("jobs.submit", {"kind": "install", "owner": "u", "extra": 1}, "extra"),
        ("jobs.get", {"id": -1}, "id"),
        ("jobs.get", {"id": "1"}, "id"),
        ("jobs.get", {}, "id"),
        ("jobs.list", {"limit": 501}, "limit"),
        ("jobs.list", {"state": "bogus"}, "state"),
        ("jobs.list", {"subject": "x"}, "subject"),
        ("jobs.log", {"id": 1, "after_seq": -5}, "after_seq"),
        ("jobs.log", {"id": 1, "limit": 0}, "limit"),
        ("jobs.watch", {"id": 0}, "id"),
        ("jobs.cancel", {"id": 2 ** 63}, "id"),
    ]
    for method, params, field in bad:
        msg = expect_error("invalid", env.call, method, params)
        assert field in msg, (method, params, msg)
    expect_error("not_found", env.call, "jobs.get", {"id": 10 ** 12})
    expect_error("not_found", env.call, "jobs.watch", {"id": 10 ** 12})
    expect_error("not_found", env.call, "jobs.log", {"id": 10 ** 12})
    # params not in our convention
    c = env.client()
    c.send([0, 1, "jobs.submit", [{"kind": "install", "owner": "u"}, 2]])
    m = c.read()
    assert m[0] == 1 and m[2]["code"] == "invalid", m
    c.close()
    # not MessagePack at all / a huge claimed array: the connection is closed, nothing stored
    for junk in (b"\xc1" * 10, b"\xdd\xff\xff\xff\xff", b"GET / HTTP/1.1\r\n\r\n"):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(env.jobs_sock)
        s.sendall(junk)
        try:
            s.shutdown(socket.SHUT_WR)
            while s.recv(4096):
                pass
        except OSError:
            pass
        s.close()
    assert env.sql("SELECT COUNT(*) FROM jobs")[0][0] == n_before
    assert env.jobd.poll() is None, "jobd died"
    # Still serving.
    assert env.call("sys.health")["queued"] == 0


# ---- lifetime -------------------------------------------------------------------------------

def test_restart_settles_running_jobs(env):
    env.behave({"game.install": {"delay": 30}, "overlay.build": {"delay": 30}})
    inst = env.submit("install")
    build = env.submit("overlay.build", {"overlay": "rs", "script": "echo\n"})
    queued = env.submit("server.stop", {"server": "rs"})  # behind the install
    env.wait_state(inst["id"], "running")
    env.wait_state(build["id"], "running")
    env.kill_jobd()
    assert env.sql("SELECT state FROM jobs WHERE id = ?", (inst["id"],))[0][0] == "running"
    env.behave({})
    env.start_jobd()
    b = env.wait_state(build["id"], ("failed",))
    assert b["error"] == "the executor died", b
    assert "executor died" in env.log_lines(build["id"])[-1][1]
    i = env.wait_state(inst["id"], ("succeeded",))
    assert i["attempts"] == 2, i
    assert any("running it again" in l for _, l in env.log_lines(inst["id"]))
    env.wait_state(queued["id"], "succeeded")


def test_idle_exit_only_when_idle():
    env = Env(idle_exit=1)
    try:
        env.start_hostd()
        env.start_jobd()
        env.behave({"game.install": {"delay": 2.5}})
        j = env.submit("install")
        time.sleep(2)
        assert env.jobd.poll() is None, "jobd exited with a job running"
        env.wait_state(j["id"], "succeeded")
        assert env.jobd.wait(5) == 0, "jobd did not exit when idle"
        # systemd would start it again on the next request; here: start it, the job is kept.
        env.start_jobd()
        assert env.get(j["id"])["state"] == "succeeded"
    finally:
        env.close()


def test_sigterm_clean():
    env = Env()
    try:
        env.start_hostd()
        env.start_jobd()
        env.submit("install")
        time.sleep(0.2)
        env.jobd.send_signal(signal.SIGTERM)
        assert env.jobd.wait(5) == 0
        env.jobd = None
    finally:
        env.close()


def test_units_recorded(env):
    """jobd records the units a job ran (for logd's job target): a server job its server's unit
    from the start, a build the transient unit hostd names while it runs; hostile names are not
    stored; install runs no unit."""
    j = env.submit("server.stop", {"server": "un1"})
    done, _ = env.watch(j["id"])
    assert done["units"] == ["left4me-server@un1.service"], done
    assert done["started_usec"] and done["finished_usec"] >= done["started_usec"], done

    j = env.submit("overlay.build", {"overlay": "un-2", "script": "sleep 0.6\necho done\n"})
    run = env.wait_state(j["id"], "running")
    deadline = time.time() + 5
    while not run["units"] and time.time() < deadline:
        time.sleep(0.02)
        run = env.get(j["id"])
    assert run["state"] == "running" and run["finished_usec"] is None, run
    assert len(run["units"]) == 1 and run["units"][0].startswith("left4me-build-un-2-"), run
    done, _ = env.watch(j["id"])
    assert done["units"] == run["units"], (done, run)
    listed = env.call("jobs.list", {"kind": "overlay.build", "limit": 1})["jobs"][0]
    assert listed["id"] == j["id"] and listed["units"] == run["units"], listed

    for bad in ("sshd.service", "left4me-build-../x-1.service", "left4me-server@a\n.service", "x" * 300):
        env.behave({"overlay.build": {"unit": bad}})
        j = env.submit("overlay.build", {"overlay": "un3", "script": "echo %d\n" % len(bad)})
        done, _ = env.watch(j["id"])
        assert done["state"] == "succeeded" and done["units"] == [], (bad, done)
    env.behave({})

    done, _ = env.watch(env.submit("install")["id"])
    assert done["state"] == "succeeded" and done["units"] == [], done
    row = env.sql("SELECT units FROM jobs WHERE kind = 'server.stop' ORDER BY id DESC LIMIT 1")
    assert row == [("left4me-server@un1.service",)], row


def test_cli(env):
    ctl = [os.environ.get("L4D2CTL", os.path.join(BUILD, "l4d2ctl")), "--socket-dir", env.dir, "--config",
           env.config]
    p = subprocess.run(ctl + ["jobs", "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "unknown command" not in p.stderr, p.stderr

    def run(*args, rc=0):
        p = subprocess.run(ctl + list(args), capture_output=True, text=True, timeout=20)
        assert p.returncode == rc, (args, p.returncode, p.stdout, p.stderr)
        return p.stdout

    out = run("jobs", "submit", "server.stop", "--owner", "cli", "--server", "cl1", "--json")
    import json
    jid = json.loads(out)["job"]["id"]
    out = run("jobs", "watch", str(jid))
    assert "instance.stop" in out, out
    out = run("jobs", "show", str(jid), "--json")
    assert json.loads(out)["job"]["state"] == "succeeded"
    out = run("jobs", "list", "--owner", "cli")
    assert str(jid) in out and "succeeded" in out, out
    out = run("jobs", "list", "--owner", "cli", "--json")
    assert json.loads(out)["jobs"][0]["id"] == jid
    run("jobs", "show", "999999", rc=4)
    run("jobs", "cancel", str(jid), rc=5)
    run("jobs", "bogus", rc=2)
    env.behave({"instance.stop": {"fail": ["internal", "boom"]}})
    out = run("jobs", "submit", "server.stop", "--owner", "cli", "--server", "cl2", "--wait", rc=1)
    env.behave({})


def main():
    global failures
    env = Env()
    env.start_hostd()
    env.start_jobd()
    tests = [(k, v) for k, v in globals().items() if k.startswith("test_")]
    try:
        for name, fn in tests:
            t0 = time.time()
            try:
                if fn.__code__.co_argcount == 1:
                    if env.jobd is None or env.jobd.poll() is not None:
                        env.start_jobd()
                    fn(env)
                else:
                    fn()
                print("ok   %-45s %.2fs" % (name, time.time() - t0))
            except Exception:
                failures += 1
                print("FAIL %s" % name)
                traceback.print_exc()
                print(env.jobd_output()[-3000:])
    finally:
        env.close()
    print("%d test(s) failed" % failures if failures else "all passed")
    sys.exit(1 if failures else 0)


main()
