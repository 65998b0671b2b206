#!/usr/bin/python3
"""Black-box: logs.follow against a journal that journal-remote appends to while we watch:
order, restarts, resume after logd is killed, rotation, vacuumed entries, cancel."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logdlib import *  # noqa

need_journal_remote()
BUILD = os.environ.get("BUILD", "build")
tmp = tmpdir()
j = Journal(tmp + "/j")
U1 = unit_of("1")

j.write_batch([j.entry(U1, "old %d" % i, invocation=inv(1)) for i in range(5)] +
              [j.entry(U1, "Started", invocation=inv(2), pid1=True)] +
              [j.entry(U1, "backlog %d" % i, invocation=inv(2)) for i in range(5)])
j.start_live("live1")
d = Logd(BUILD, tmp, j.dir).start()


def entries(c, mid, n, types=("entry",)):
    """The next n notifications of the given types (others are collected too)."""
    out = []
    while len([x for x in out if x["type"] in types]) < n:
        x = c.next_notify(mid)
        if x["type"] == "caught_up":
            continue
        out.append(x)
    return out


# 1. backlog of the current invocation, then live lines in order.
c = Client(d.sock)
mid = c.start("logs.follow", {"target": server("1"), "lines": 3})
got = entries(c, mid, 3)
check([x["message"] for x in got] == ["backlog 2", "backlog 3", "backlog 4"], "backlog: last 3 lines of the current run")
for i in range(20):
    j.live(j.entry(U1, "live %d" % i, invocation=inv(2)), j.entry(unit_of("2"), "other %d" % i))
got = entries(c, mid, 20)
check([x["message"] for x in got] == ["live %d" % i for i in range(20)], "live lines in order, other units' not")

# 2. a restart: systemd's messages of the old run, then the new run, announced.
ca = Client(d.sock)
mida = ca.start("logs.follow", {"target": server("1"), "lines": 0, "invocation": "all"})
time.sleep(0.2)
j.live(j.entry(U1, "Stopping", invocation=inv(2), pid1=True),
       j.entry(U1, "Started", invocation=inv(3), pid1=True),
       j.entry(U1, "new run", invocation=inv(3)))
got = entries(c, mid, 3, types=("entry", "invocation"))
check([x["type"] for x in got] == ["entry", "invocation", "entry", "entry"] or
      [x["type"] for x in got][:3] == ["entry", "invocation", "entry"], "types: %r" % [x["type"] for x in got])
check(got[0]["message"] == "Stopping" and got[1]["invocation_id"] == inv(3) and got[2]["message"] == "Started",
      "the restart is announced before the new run's first line")
got = entries(ca, mida, 3, types=("entry", "invocation"))
check([x["type"] for x in got] == ["entry"] * 3, "invocation=all: no announcement, all lines")
ca.close()

# 3. resume after logd is killed: no gap, no duplicate.
for i in range(10):
    j.live(j.entry(U1, "before %d" % i, invocation=inv(3)))
got = entries(c, mid, 11)  # "new run" + 10
check(got[-1]["message"] == "before 9", "received up to 'before 9'")
cursor = got[4]["cursor"]  # pretend we only processed up to "before 3"
d.kill()
for i in range(10):
    j.live(j.entry(U1, "during %d" % i, invocation=inv(3)))
d.start()
c = Client(d.sock)
mid = c.start("logs.follow", {"target": server("1"), "after_cursor": cursor})
got = entries(c, mid, 16)
check([x["message"] for x in got] == ["before %d" % i for i in range(4, 10)] + ["during %d" % i for i in range(10)],
      "resumed after the cursor: exactly the rest")

# 3b. resuming across a restart the client missed: the rest of its run, unannounced,
#     then the restart, announced; and from a time: the first run seen is not announced.
c3 = Client(d.sock)
r = c3.call("logs.read", {"target": server("1"), "lines": 3})
mid_cur = r["entries"][0]["cursor"]  # "during 7" of run 3
j.live(j.entry(U1, "Started", invocation=inv(4), pid1=True), j.entry(U1, "run four", invocation=inv(4)))
time.sleep(0.2)
m3 = c3.start("logs.follow", {"target": server("1"), "after_cursor": mid_cur})
got3 = entries(c3, m3, 5, types=("entry", "invocation"))
check([(x["type"], x.get("message", x.get("invocation_id"))) for x in got3] ==
      [("entry", "during 8"), ("entry", "during 9"), ("invocation", inv(4)), ("entry", "Started"),
       ("entry", "run four")], "resume across a missed restart: %r" % [x.get("message") for x in got3])
c3.close()
c3 = Client(d.sock)
m3 = c3.start("logs.follow", {"target": server("1"), "since_usec": r["entries"][1]["realtime_usec"]})
got3 = entries(c3, m3, 4, types=("entry", "invocation"))
check([x["type"] for x in got3] == ["entry", "entry", "invocation", "entry"] and got3[2]["invocation_id"] == inv(4),
      "since_usec: the first run unannounced, the next one announced")
c3.close()

x = entries(c, mid, 2)
check([e.get("message") for e in x] == [None, "Started", "run four"], "the first follower saw run 4 too")

# 4. rotation: the live file is closed and a new one appears (SD_JOURNAL_INVALIDATE).
j.start_live("live2")
for i in range(5):
    j.live(j.entry(U1, "rotated %d" % i, invocation=inv(4)))
got = entries(c, mid, 5)
check([x["message"] for x in got] == ["rotated %d" % i for i in range(5)], "follows into a new journal file")
h = Client(d.sock).call("sys.health")
check(h["journal_invalidations"] >= 1, "logd saw the file set change (%d)" % h["journal_invalidations"])
lastcur = got[-1]["cursor"]

# 5. cancel ends the call and releases the follower at once.
c.cancel(mid)
try:
    while True:
        c.next_notify(mid)
except RpcError as ex:
    check(ex.code == "cancelled", "rpc.cancel answers cancelled")
check(Client(d.sock).call("sys.health")["followers"] == 0, "no follower left after cancel")
c2 = Client(d.sock)
c2.start("logs.follow", {"target": server("1")})
time.sleep(0.2)
check(Client(d.sock).call("sys.health")["followers"] == 1, "one follower")
c2.close()
time.sleep(0.2)
check(Client(d.sock).call("sys.health")["followers"] == 0, "a client that leaves releases its follower")

# 6. entries deleted (vacuumed) behind a follower's cursor: told "lost", then the rest.
j.stop_live()
os.unlink(os.path.join(j.dir, "live1.journal"))
time.sleep(0.3)
c = Client(d.sock)
mid = c.start("logs.follow", {"target": server("1"), "invocation": "all", "after_cursor": got[0]["cursor"]})
x = entries(c, mid, 4, types=("entry", "lost"))
check([e["type"] for e in x] == ["entry"] * 4, "no loss while the cursor's file exists")
c.close()
c = Client(d.sock)
mid = c.start("logs.follow", {"target": server("1"), "invocation": "all", "after_cursor": cursor})
x = entries(c, mid, 1, types=("lost",))
check(x[0]["type"] == "lost", "a cursor whose entry was deleted: 'lost' first")
x = entries(c, mid, 5)
check([e["message"] for e in x] == ["rotated %d" % i for i in range(5)], "then what the journal still has")
c.close()

# 7. bad arguments.
c = Client(d.sock)
for p, needle in (({"target": server("1"), "after_cursor": "s=zz"}, "after_cursor"),
                  ({"target": {"kind": "server", "name": "a/b"}}, "target.name")):
    try:
        mid = c.start("logs.follow", p)
        c.next_notify(mid)
        check(False, "accepted %r" % (p,))
    except RpcError as ex:
        check(ex.code == "invalid" and needle in ex.message, "follow refused: %s" % ex.message)
d.kill()
j.stop_live()
print("test-follow: all ok")
