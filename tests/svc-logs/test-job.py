#!/usr/bin/python3
"""Black-box: the job target ({kind: "job", id}) of logs.read and logs.follow. logd asks a
stand-in jobd (jobs.get on DIR/jobs.sock) for the job's units and time window and reads those
units' entries from a journal written by journal-remote: only the job's units, only its window,
systemd's messages about them in, forged ones out, merged in time order; a follower of a running
job learns new units and the job's end from jobd; hostile ids, unknown jobs, jobd down."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logdlib import *  # noqa

need_journal_remote()
BUILD = os.environ.get("BUILD", "build")
tmp = tmpdir()
j = Journal(tmp + "/j")
jobd = FakeJobd(tmp)
S = 1000000
T = j.t0 + 1000 * S  # the test's time origin (the journal's entries are an hour old)
B = "left4me-build-ov-5.service"
SV = unit_of("s1")
OTHER_B = "left4me-build-ov-6.service"


def at(sec, unit, msg, **kw):
    return j.entry(unit, msg, realtime=T + int(sec * S), **kw)


# Job 1: build B from T+100 s to T+200 s. Job 2: a server job on SV from T+150 s to T+160 s.
j.write_batch([
    at(90, B, "before the job", invocation=inv(1)),
    at(100.5, B, "Started build", invocation=inv(2), pid1=True),
    at(101, B, "b1", invocation=inv(2)),
    at(110, OTHER_B, "another build in the window", invocation=inv(3)),
    at(120, SV, "server line before job 2", invocation=inv(4)),
    at(130, "evil.service", "forged", extra=[("UNIT", B)]),
    at(150.5, SV, "Started server", invocation=inv(4), pid1=True),
    at(151, B, "b2", invocation=inv(2)),
    at(152, SV, "server line in job 2", invocation=inv(4)),
    at(159, SV, "server line 2 in job 2", invocation=inv(4)),
    at(161, SV, "server line in the margin", invocation=inv(4)),
    at(170, SV, "server line after job 2", invocation=inv(4)),
    at(199, B, "build.service: Deactivated successfully.", invocation=inv(2), pid1=True),
    at(201, B, "b3 in the margin", invocation=inv(2)),
    at(260, B, "after the job", invocation=inv(2)),
])
jobd.job(1, [B], T + 100 * S, T + 200 * S)
jobd.job(2, [SV], T + 150 * S, T + 160 * S, state="failed")
jobd.job(3, [B, SV], T + 100 * S, T + 200 * S)
j.start_live("live")
d = Logd(BUILD, tmp, j.dir).start()
c = Client(d.sock)


def job(jid):
    return {"kind": "job", "id": jid}


def msgs(r):
    return [x["message"] for x in r["entries"]]


r = c.call("logs.read", {"target": job(1)})
check(msgs(r) == ["Started build", "b1", "b2", "build.service: Deactivated successfully.", "b3 in the margin"],
      "job 1: its unit's lines and systemd's, in its window (+margin), nothing else: %r" % msgs(r))
check(r["invocation_id"] is None and r["more"] is False, "no invocation, no more")
check(jobd.calls[-1] == ("jobs.get", {"id": 1}), "logd asked jobd with jobs.get {id}")
r = c.call("logs.read", {"target": job(2)})
check(msgs(r) == ["Started server", "server line in job 2", "server line 2 in job 2", "server line in the margin"],
      "job 2 (a server job): the server's lines in the job's window only: %r" % msgs(r))
r = c.call("logs.read", {"target": job(3)})
check(msgs(r) == ["Started build", "b1", "server line before job 2", "Started server", "b2", "server line in job 2",
                  "server line 2 in job 2", "server line in the margin", "server line after job 2",
                  "build.service: Deactivated successfully.", "b3 in the margin"],
      "job 3 (two units): merged in time order: %r" % msgs(r))
ts = [x["realtime_usec"] for x in r["entries"]]
check(ts == sorted(ts), "timestamps ascending")
r = c.call("logs.read", {"target": job(3), "lines": 2})
check(msgs(r) == ["build.service: Deactivated successfully.", "b3 in the margin"] and r["more"] is True,
      "lines 2: the last two of the window, more")
r = c.call("logs.read", {"target": job(1), "since_usec": T + 150 * S})
check(msgs(r) == ["b2", "build.service: Deactivated successfully.", "b3 in the margin"], "since_usec inside the window")
r = c.call("logs.read", {"target": job(1), "since_usec": 0, "lines": 2})
check(msgs(r) == ["Started build", "b1"] and r["more"] is True, "since before the window starts at the window")
r2 = c.call("logs.read", {"target": job(1), "after_cursor": r["cursor"]})
check(msgs(r2) == ["b2", "build.service: Deactivated successfully.", "b3 in the margin"] and not r2["more"],
      "paging with after_cursor stays in the window")
r = c.call("logs.read", {"target": job(1), "invocation": "all"})
check(len(r["entries"]) == 5, "invocation all accepted")

# A job that has not started (queued) and one without units (install): nothing, no journal read.
jobd.job(4, [], None, state="queued")
jobd.job(5, [], T + 100 * S, T + 200 * S)
for jid in (4, 5):
    r = c.call("logs.read", {"target": job(jid)})
    check(r["entries"] == [] and r["cursor"] is None, "job %d without units or start: no entries" % jid)

# Unknown job, hostile ids and target fields: refused before or by jobd; never a journal match.
try:
    c.call("logs.read", {"target": job(99)})
    check(False, "unknown job refused")
except RpcError as e:
    check(e.code == "not_found" and "99" in e.message, "unknown job: not_found (%s)" % e.message)
n_calls = len(jobd.calls)
hostile = [
    {"kind": "job"}, {"kind": "job", "id": 0}, {"kind": "job", "id": -1}, {"kind": "job", "id": "1"},
    {"kind": "job", "id": 1.0}, {"kind": "job", "id": 2 ** 63}, {"kind": "job", "id": 2 ** 64 - 1},
    {"kind": "job", "id": None}, {"kind": "job", "id": [1]}, {"kind": "job", "id": {"id": 1}},
    {"kind": "job", "id": b"1"}, {"kind": "job", "id": 1, "name": "s1"},
    {"kind": "job", "id": 1, "unit": B}, {"kind": "server", "name": "s1", "id": 1},
    {"kind": "build", "unit": B, "id": 1}, {"kind": "job", "id": 1, "match": "_SYSTEMD_UNIT=sshd.service"},
    {"kind": "job", "id": 1, "unit": "sshd.service"}, {"kind": "Job", "id": 1}, {"kind": "job\n", "id": 1},
]
for t in hostile:
    try:
        c.call("logs.read", {"target": t})
        check(False, "hostile target %r refused" % (t,))
    except RpcError as e:
        if e.code != "invalid":
            check(False, "hostile target %r: invalid, not %s" % (t, e.code))
for bad in ({"invocation": "current"}, {"invocation": inv(2)}, {"since_usec": 1, "after_cursor": "x"}):
    p = {"target": job(1)}
    p.update(bad)
    try:
        c.call("logs.read", p)
        check(False, "%r refused" % bad)
    except RpcError as e:
        check(e.code == "invalid", "job target with %r: invalid (%s)" % (bad, e.message))
check(len(jobd.calls) == n_calls, "%d hostile targets refused with invalid before asking jobd" % len(hostile))

# jobd names a unit logd does not accept: refused, nothing read.
for k, units in enumerate((["sshd.service"], ["left4me-server@s1.service\n_PID=1"], ["left4me-web.service"],
                           [B] * 0 + ["x" * 200], ["left4me-build-ov-5.service", 7])):
    jobd.job(10 + k, units, T + 100 * S, T + 200 * S)
    try:
        c.call("logs.read", {"target": job(10 + k)})
        check(False, "a bad unit from jobd refused")
    except RpcError as e:
        check(e.code == "internal" and "job %d" % (10 + k) in e.message, "jobd's unit %r refused (%s)" % (units, e.message))

# jobd down, dropping the connection, or not answering: unavailable.
jobd.mode = "drop"
try:
    c.call("logs.read", {"target": job(1)})
    check(False, "dropped")
except RpcError as e:
    check(e.code == "unavailable" and "job service" in e.message, "jobd drops the call: unavailable (%s)" % e.message)
jobd.mode = "hang"
t0 = time.time()
try:
    Client(d.sock, timeout=15).call("logs.read", {"target": job(1)})
    check(False, "hang")
except RpcError as e:
    check(e.code == "unavailable" and 4 < time.time() - t0 < 8,
          "jobd does not answer: unavailable after %.1f s (%s)" % (time.time() - t0, e.message))
jobd.mode = None
r = c.call("logs.read", {"target": {"kind": "server", "name": "s1"}, "invocation": "all", "lines": 1})
check(len(r["entries"]) == 1, "logd kept serving other targets meanwhile")
jobd.stop()
try:
    c.call("logs.read", {"target": job(1)})
    check(False, "jobd down")
except RpcError as e:
    check(e.code == "unavailable" and "jobs.sock" in e.message, "jobd down: unavailable (%s)" % e.message)
try:
    c.call("logs.follow", {"target": job(1)})
    check(False, "jobd down (follow)")
except RpcError as e:
    check(e.code == "unavailable", "jobd down, follow: unavailable")

# ---- follow ----------------------------------------------------------------------------------
jobd = FakeJobd(tmp)
jobd.job(1, [B], T + 100 * S, T + 200 * S)
jobd.job(4, [], None, state="queued")
U4 = "left4me-build-ov-7.service"


def follow_all(c, mid):
    """Notifications until the call ends; returns (entries, result)."""
    got = []
    while True:
        m = c.recv()
        if m[0] == 2 and m[2][0] == mid:
            got.append(m[2][1])
        elif m[0] == 1 and m[1] == mid:
            if m[2] is not None:
                raise RpcError(m[2])
            return [x for x in got if x["type"] == "entry"], m[3]


# An ended job: the window's entries, then the call ends with the job's state.
t0 = time.time()
mid = c.start("logs.follow", {"target": job(1)})
got, res = follow_all(c, mid)
check([x["message"] for x in got] == ["Started build", "b1", "b2", "build.service: Deactivated successfully.",
                                      "b3 in the margin"] and res["job"] == {"id": 1, "state": "succeeded"},
      "follow of an ended job: its window, then {job: {id, state}} (%.2f s)" % (time.time() - t0))
check(res["cursor"] == got[-1]["cursor"], "the result names the last cursor")

# A queued job without units: the follower waits; the job starts with a unit (as a build's is
# recorded once hostd names it), lines come live, other units' do not; it ends; the follower
# ends after the margin with lines after the end not shown.
c2 = Client(d.sock, timeout=30)
mid = c2.start("logs.follow", {"target": job(4)})
time.sleep(1.3)
now = int(time.time() * S)
j.live(j.entry(U4, "before the start", realtime=now))
jobd.job(4, [U4], now + 1, state="running")
time.sleep(1.5)
for i in range(5):
    now = int(time.time() * S)
    j.live(j.entry(U4, "live %d" % i, realtime=now), j.entry(OTHER_B, "other %d" % i, realtime=now + 1))
got = []
while len(got) < 5:
    x = c2.next_notify(mid)
    if x["type"] == "entry":
        got.append(x["message"])
check(got == ["live %d" % i for i in range(5)], "running job: live lines of its unit that appeared later: %r" % got)
end = int(time.time() * S)
jobd.job(4, [U4], end - 10 * S, end, state="failed")
j.live(j.entry(U4, "in the margin", realtime=end + 1 * S))
# logd learns the end within its poll interval (1 s), shorter than the margin (2 s): a line
# written after the margin is never sent.
time.sleep(1.5)
j.live(j.entry(U4, "after the margin", realtime=end + 5 * S))
t0 = time.time()
rest, res = follow_all(c2, mid)
check([x["message"] for x in rest] == ["in the margin"] and res["job"]["state"] == "failed",
      "the follower ends once the job ended: %r, %r (%.2f s after the end)" % ([x["message"] for x in rest], res,
                                                                          time.time() - t0))
check(any(call == ("jobs.get", {"id": 4}) for call in jobd.calls[3:]), "it asked jobd again while following")

# A follower whose job disappears (pruned): not_found. One that cancels: released.
jobd.job(6, [U4], int(time.time() * S), state="running")
c3 = Client(d.sock)
mid = c3.start("logs.follow", {"target": job(6), "lines": 0})
time.sleep(0.3)
del jobd.jobs[6]
try:
    follow_all(c3, mid)
    check(False, "vanished job")
except RpcError as e:
    check(e.code == "not_found", "the job vanished while followed: not_found (%s)" % e.message)
jobd.job(7, [U4], int(time.time() * S), state="running")
mid = c3.start("logs.follow", {"target": job(7)})
time.sleep(0.3)
c3.cancel(mid)
try:
    follow_all(c3, mid)
except RpcError as e:
    check(e.code == "cancelled", "rpc.cancel ends a job follower")
h = c.call("sys.health")
check(h.get("followers") == 0, "no follower left (%r)" % h.get("followers"))
check(d.alive(), "logd alive")

# ---- a build job's output lines, as hostd writes them (LEFT4ME_BUILD_UNIT= from hostd's unit as root)
U8 = "left4me-build-ov-8.service"


def hostd_line(msg, build, realtime, uid="0", prio=6):
    return j.entry("left4me-host.service", msg, invocation=inv(30), realtime=realtime, priority=prio,
                   extra=[("_UID", uid), ("LEFT4ME_BUILD_UNIT", build)])


start = int(time.time() * S)
jobd.job(8, [U8], start, state="running")
c4 = Client(d.sock, timeout=30)
mid = c4.start("logs.follow", {"target": job(8)})
time.sleep(0.3)
now = int(time.time() * S)
j.live(j.entry(U8, "Started ov-8", realtime=now, invocation=inv(31), pid1=True),
       hostd_line("out 0", U8, now + 1),
       j.entry(U4, "forged by ov-7's unit", realtime=now + 2, extra=[("LEFT4ME_BUILD_UNIT", U8)]),
       hostd_line("forged by a non-root process in hostd's unit", U8, now + 3, uid="1000"),
       hostd_line("ov-7 out", U4, now + 4),
       hostd_line("err 1", U8, now + 5, prio=4))
got = []
while len(got) < 3:
    x = c4.next_notify(mid)
    if x["type"] == "entry":
        got.append(x)
check([x["message"] for x in got] == ["Started ov-8", "out 0", "err 1"],
      "follow of a build job: hostd's lines of its unit live, forged and other builds' not: %r" %
      [x["message"] for x in got])
check([x["invocation_id"] for x in got] == [inv(31), None, None], "hostd's lines carry no invocation")
end = int(time.time() * S)
jobd.job(8, [U8], start, end, state="succeeded")
j.live(hostd_line("out 2 in the margin", U8, end + S // 2))
rest, res = follow_all(c4, mid)
check([x["message"] for x in rest] == ["out 2 in the margin"] and res["job"]["state"] == "succeeded",
      "the build job's follower ends with its last line: %r" % [x["message"] for x in rest])
r = c.call("logs.read", {"target": job(8)})
check(msgs(r) == ["Started ov-8", "out 0", "err 1", "out 2 in the margin"], "read of the build job: %r" % msgs(r))

# ---- l4d2ctl logs --job ---------------------------------------------------------------------
import json  # noqa: E402
import subprocess  # noqa: E402

BUILD_ABS = os.path.abspath(BUILD)


def ctl(*args, timeout=30):
    p = subprocess.run([BUILD_ABS + "/l4d2ctl", "--config", d.config, "--socket-dir", tmp, "logs"] + list(args),
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


WANT1 = ["Started build", "b1", "b2", "build.service: Deactivated successfully.", "b3 in the margin"]
rc, out, err = ctl("--job", "1")
lines = out.splitlines()
check(rc == 0 and [x.split(" ", 2)[2] for x in lines] == WANT1, "l4d2ctl logs --job 1 (%d): %r %s" % (rc, lines, err))
rc, out, err = ctl("--job", "1", "--json", "-n", "2")
objs = [json.loads(x) for x in out.splitlines()]
check(rc == 0 and [o["message"] for o in objs] == WANT1[-2:], "--job --json -n 2")
rc, out, err = ctl("--job", "1", "--follow")
lines = out.splitlines()
check(rc == 0 and [x.split(" ", 2)[2] for x in lines[:-1]] == WANT1 and lines[-1] == "-- job 1 ended: succeeded --",
      "--job --follow of an ended job prints its lines and ends: %r" % lines[-2:])
rc, out, err = ctl("--job", "1", "--follow", "--json")
objs = [json.loads(x) for x in out.splitlines()]
check(rc == 0 and objs[-1]["job"] == {"id": 1, "state": "succeeded"}, "--job --follow --json ends with the result")
rc, out, err = ctl("--job", "1", "-a")
check(rc == 0 and len(out.splitlines()) == 5, "--job with -a")
for args, want in ((["--job", "99"], 4), (["--job", "abc"], 2), (["--job", "0"], 2), (["--job", "-3"], 2),
                   (["--job", "1", "s1"], 2), (["--job", "1", "--unit", "build"], 2),
                   (["--job", "1", "--invocation", inv(2)], 2), (["--job"], 2)):
    rc, out, err = ctl(*args)
    check(rc == want, "l4d2ctl logs %s: exit %d (%d: %s)" % (" ".join(args), want, rc, err.strip()))
jobd.stop()
rc, out, err = ctl("--job", "1")
check(rc == 7 and "job service" in err, "jobd down: exit 7 (%s)" % err.strip())
