#!/usr/bin/python3
"""Black-box: l4d2ctl logs against logd on a journal-remote journal."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logdlib import *  # noqa

need_journal_remote()
BUILD = os.path.abspath(os.environ.get("BUILD", "build"))
tmp = tmpdir()
j = Journal(tmp + "/j")
U1 = unit_of("7")
j.write_batch([j.entry(U1, "old %d" % i, invocation=inv(1)) for i in range(3)] +
              [j.entry(U1, "cur %d" % i, invocation=inv(2)) for i in range(300)] +
              [j.entry(U1, b"ctl \x1b[31mred\x07", invocation=inv(2), priority=3)] +
              [j.entry("left4me-web.service", "webd line")])
j.start_live()
d = Logd(BUILD, tmp, j.dir).start()


def ctl(*args, timeout=20):
    p = subprocess.run([BUILD + "/l4d2ctl", "--config", d.config, "--socket-dir", tmp, "logs"] + list(args),
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


rc, out, err = ctl("7")
lines = out.splitlines()
check(rc == 0 and len(lines) == 200, "default: 200 lines, exit 0 (%d, %d)" % (rc, len(lines)))
check(lines[0].endswith(" cur 101") and "[err] ctl \x1b[31mred\x07" in lines[-1],
      "the newest 200 of the current run; raw bytes when not a terminal")
rc, out, err = ctl("7", "--lines", "5", "--all-invocations", "--json")
objs = [json.loads(x) for x in out.splitlines()]
check(rc == 0 and len(objs) == 5 and all("cursor" in o and "message" in o for o in objs), "--json lines")
rc, out, err = ctl("7", "--since", "@0", "-a", "-n", "4")
check(out.splitlines()[-1].endswith(" cur 0") and len(out.splitlines()) == 4, "--since @0 -n 4: the first 4")
rc, out, err = ctl("7", "--since", "@0", "-a")
check(len(out.splitlines()) == 304, "--since without --lines: everything, paged (%d)" % len(out.splitlines()))
rc, out, err = ctl("7", "--after-cursor", objs[2]["cursor"], "-a")
check(len(out.splitlines()) == 2, "--after-cursor")
rc, out, err = ctl("7", "--invocation", inv(1))
check([x.split(" ", 2)[2] for x in out.splitlines()] == ["old 0", "old 1", "old 2"], "--invocation ID")
rc, out, err = ctl("web", "--unit", "service")
check(rc == 0 and out.strip().endswith("webd line"), "--unit service web")

for args, want in ((["../x"], 3), (["7", "--lines", "x"], 2), (["7", "--unit", "ssh"], 2), ([], 2),
                   (["7", "--since", "@0", "--after-cursor", "s=1"], 2), (["7", "--after-cursor", "junk"], 3),
                   (["7", "--invocation", "nope"], 3)):
    rc, out, err = ctl(*args)
    check(rc == want and err.startswith("l4d2ctl: "), "%r: exit %d (%s)" % (args, rc, err.strip()))

# --follow streams, and says when the server restarted.
p = subprocess.Popen([BUILD + "/l4d2ctl", "--socket-dir", tmp, "--config", d.config, "logs", "7", "--follow",
                      "-n", "1"], stdout=subprocess.PIPE)
time.sleep(0.5)
j.live(j.entry(U1, "live one", invocation=inv(2)), j.entry(U1, "after restart", invocation=inv(3)))
time.sleep(1)
p.terminate()
out = p.communicate(timeout=10)[0].decode()
ls = out.splitlines()
check(len(ls) == 4 and ls[1].endswith("live one") and ls[2] == "-- the unit restarted: invocation %s --" % inv(3)
      and ls[3].endswith("after restart"), "--follow: %r" % ls)

# logd gone: "unavailable".
d.kill()
os.unlink(d.sock)
rc, out, err = ctl("7")
check(rc == 7 and "unavailable" in err, "no logd: exit 7 (%s)" % err.strip())
j.stop_live()
print("test-cli: all ok")
