#!/usr/bin/python3
"""Black-box: logs.read against a journal directory written by systemd-journal-remote."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logdlib import *  # noqa

need_journal_remote()
BUILD = os.environ.get("BUILD", "build")
tmp = tmpdir()
j = Journal(tmp + "/j")
U1 = unit_of("1")

# Server 1: invocation 1 (5 lines), systemd's restart messages, invocation 2 (3 lines);
# other units' lines interleaved; a forged UNIT= line from an unrelated process.
e = []
for i in range(5):
    e.append(j.entry(U1, "one %d" % i, invocation=inv(1)))
    e.append(j.entry(unit_of("2"), "noise %d" % i, invocation=inv(9)))
e.append(j.entry(U1, "Stopped", invocation=inv(1), pid1=True))
e.append(j.entry(U1, "Started", invocation=inv(2), pid1=True))
for i in range(3):
    e.append(j.entry(U1, "two %d" % i, invocation=inv(2), priority=3))
e.append(export_entry([("_PID", "666"), ("_SYSTEMD_UNIT", "evil.service"), ("UNIT", U1),
                       ("MESSAGE", "forged")], j.t0 + 10**7, 10**7))
e.append(j.entry("left4me-jobs.service", "jobd says hi", invocation=inv(5)))
e.append(j.entry("left4me-build-ov-3.service", "building", invocation=inv(6)))
# hostd writes a build's output lines as its own entries naming the build (trusted: hostd's
# unit and root); the same field from a build's own unit or a non-root process is forged.
HOSTD = "left4me-host.service"


def hostd_line(msg, build, uid="0", prio=6):
    return j.entry(HOSTD, msg, invocation=inv(7), priority=prio,
                   extra=[("_UID", uid), ("LEFT4ME_BUILD_UNIT", build), ("LEFT4ME_BUILD_STREAM", "stdout")])


e.append(hostd_line("script out", "left4me-build-ov-3.service"))
e.append(hostd_line("script err", "left4me-build-ov-3.service", prio=4))
e.append(j.entry("left4me-build-ov-4.service", "forged by ov-4", invocation=inv(8),
                 extra=[("_UID", "990"), ("LEFT4ME_BUILD_UNIT", "left4me-build-ov-3.service")]))
e.append(hostd_line("forged by a non-root process in hostd's unit", "left4me-build-ov-3.service", uid="1000"))
e.append(hostd_line("ov-4 out", "left4me-build-ov-4.service"))
e.append(j.entry(HOSTD, "hostd says hi", invocation=inv(7), extra=[("_UID", "0")]))
j.write_batch(e)

d = Logd(BUILD, tmp, j.dir).start()
c = Client(d.sock)


def msgs(r):
    return [x["message"] for x in r["entries"]]


r = c.call("logs.read", {"target": server("1")})
check(msgs(r) == ["Started", "two 0", "two 1", "two 2"], "default: the current invocation only: %r" % msgs(r))
check(r["invocation_id"] == inv(2), "the current invocation is named")
check(r["more"] is False and r["cursor"] == r["entries"][-1]["cursor"], "cursor of the last entry, no more")
x = r["entries"][1]
check(x["priority"] == 3 and x["invocation_id"] == inv(2) and x["realtime_usec"] > 0, "entry fields")

r = c.call("logs.read", {"target": server("1"), "invocation": "all"})
check(msgs(r) == ["one %d" % i for i in range(5)] + ["Stopped", "Started", "two 0", "two 1", "two 2"],
      "all invocations, in order, with systemd's messages, without the forged one")
r = c.call("logs.read", {"target": server("1"), "invocation": inv(1)})
check(msgs(r) == ["one %d" % i for i in range(5)] + ["Stopped"], "a given invocation")
r = c.call("logs.read", {"target": server("1"), "invocation": "all", "lines": 3})
check(msgs(r) == ["two 0", "two 1", "two 2"] and r["more"] is True, "last 3 lines, more=true")
r = c.call("logs.read", {"target": server("1"), "lines": 0})
check(r["entries"] == [], "lines 0")

# Paging forward with after_cursor: every entry exactly once.
seen, cur = [], None
while True:
    p = {"target": server("1"), "invocation": "all", "lines": 3}
    if cur:
        p["after_cursor"] = cur
    else:
        p["since_usec"] = 0
    r = c.call("logs.read", p)
    seen += msgs(r)
    cur = r["cursor"]
    if not r["more"]:
        break
check(seen == ["one %d" % i for i in range(5)] + ["Stopped", "Started", "two 0", "two 1", "two 2"],
      "paging with after_cursor: no gap, no duplicate")
r = c.call("logs.read", {"target": server("1"), "invocation": "all", "after_cursor": cur})
check(r["entries"] == [] and r["cursor"] == cur and not r["more"], "after the last cursor: nothing")

all1 = c.call("logs.read", {"target": server("1"), "invocation": "all"})["entries"]
r = c.call("logs.read", {"target": server("1"), "invocation": "all", "since_usec": all1[7]["realtime_usec"]})
check(msgs(r) == ["two 0", "two 1", "two 2"], "since_usec")

r = c.call("logs.read", {"target": {"kind": "service", "name": "jobs"}})
check(msgs(r) == ["jobd says hi"], "service target")
r = c.call("logs.read", {"target": {"kind": "build", "unit": "left4me-build-ov-3.service"}})
check(msgs(r) == ["building", "script out", "script err"], "build target with hostd's lines: %r" % msgs(r))
check([x["invocation_id"] for x in r["entries"]] == [inv(6), None, None] and
      [x["priority"] for x in r["entries"]] == [6, 6, 4], "hostd's lines: no invocation (not hostd's run), priority")
r = c.call("logs.read", {"target": {"kind": "build", "unit": "left4me-build-ov-3.service"}, "invocation": inv(6)})
check(msgs(r) == ["building", "script out", "script err"], "build target, an invocation: %r" % msgs(r))
r = c.call("logs.read", {"target": {"kind": "build", "unit": "left4me-build-ov-4.service"}})
check(msgs(r) == ["forged by ov-4", "ov-4 out"], "ov-4: its own line and its hostd line only: %r" % msgs(r))
r = c.call("logs.read", {"target": {"kind": "service", "name": "host"}})
check(msgs(r)[-1] == "hostd says hi" and "script out" in msgs(r), "hostd's service log has the build lines too")
r = c.call("logs.read", {"target": server("nosuch")})
check(r["entries"] == [] and r["invocation_id"] is None, "unknown server: empty, no invocation")


def refused(params, code, needle):
    try:
        c.call("logs.read", params)
    except RpcError as ex:
        check(ex.code == code and needle in ex.message, "refused %r: %s" % (params, ex.message))
        return
    check(False, "accepted %r" % (params,))


refused({}, "invalid", "target")
refused({"target": "server:1"}, "invalid", "target")
refused({"target": {"kind": "server", "name": "../1"}}, "invalid", "target.name")
refused({"target": {"kind": "server", "name": "1 + _PID=1"}}, "invalid", "target.name")
refused({"target": {"kind": "server", "name": "1", "match": "_PID=1"}}, "invalid", "match")
refused({"target": {"kind": "unit", "name": "sshd"}}, "invalid", "target.kind")
refused({"target": {"kind": "service", "name": "ssh"}}, "invalid", "target.name")
refused({"target": {"kind": "build", "unit": "sshd.service"}}, "invalid", "target.unit")
refused({"target": server("1"), "lines": 10001}, "invalid", "lines")
refused({"target": server("1"), "lines": -1}, "invalid", "lines")
refused({"target": server("1"), "invocation": "nope"}, "invalid", "invocation")
refused({"target": server("1"), "after_cursor": "junk"}, "invalid", "after_cursor")
refused({"target": server("1"), "after_cursor": all1[0]["cursor"], "since_usec": 1}, "invalid", "after_cursor")
refused({"target": server("1"), "grep": "x"}, "invalid", "grep")

# Callers outside root and group left4me are refused (run the client as nobody).
os.chmod(tmp, 0o755)
os.chmod(d.sock, 0o777)
p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/python3", "-c",
                    "import sys; sys.path.insert(0, %r)\nfrom logdlib import *\n"
                    "c = Client(%r)\ntry:\n  c.call('logs.read', {'target': server('1')}); print('allowed')\n"
                    "except RpcError as ex:\n  print(ex.code)\n" % (os.path.dirname(os.path.abspath(__file__)),
                                                                     d.sock)],
                   capture_output=True, text=True)
check(p.stdout.strip() == "denied", "nobody is denied (%s%s)" % (p.stdout.strip(), p.stderr.strip()))

# Binary, invalid UTF-8 and huge messages.
j.write_batch([
    j.entry(unit_of("b"), b"nul\x00and\xffbad\xc3", invocation=inv(7)),
    j.entry(unit_of("b"), b"x" * 100000, invocation=inv(7)),
    j.entry(unit_of("b"), "multi\nline", invocation=inv(7)),
])
c2 = Client(d.sock)  # a new file: its entries are found by a fresh search
r = c2.call("logs.read", {"target": server("b")})
m = msgs(r)
check(len(m) == 3, "3 entries from a new journal file")
check(m[0] == "nul\x00and\ufffdbad\ufffd", "NUL kept, invalid UTF-8 replaced: %r" % m[0])
check(len(m[1]) == 16384 and r["entries"][1].get("truncated") is True, "huge line capped at 16 KiB, flagged")
check(m[2] == "multi\nline" and "truncated" not in r["entries"][2], "newline kept")

# A big read stays within the reply budget and says more.
big = [j.entry(unit_of("big"), "%05d " % i + "y" * 8000, invocation=inv(8)) for i in range(1500)]
j.write_batch(big)
r = Client(d.sock).call("logs.read", {"target": server("big"), "lines": 10000})
n = len(r["entries"])
check(0 < n < 1500 and r["more"] is True, "a 12 MB backlog is cut to the reply budget: %d entries, more" % n)
check(r["entries"][-1]["message"].startswith("01499 "), "the newest entries are the ones kept")

h = c.call("sys.health")
check(h["status"] == "ok" and h["followers"] == 0, "health")
check(h["current_from_bus"] == 0 and h["current_from_journal"] >= 3,
      "with --journal-dir, 'current' comes from the journal (%d times)" % h["current_from_journal"])
d.kill()
print("test-read: all ok")
