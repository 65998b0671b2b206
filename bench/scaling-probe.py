#!/usr/bin/python3
"""Runs inside the real-systemd container (bench/scaling starts it, after installing the game
stand-in): how the suite's costs grow with the number of servers on one host.

For each N (in increasing order; servers are added, never removed between steps): initialize
the new servers s<i> through hostd, then stop every server and time starting all N at once
(`systemctl start` of every unit, as a boot does with the enabled units), until all are
active; then, with N games running:
  list      `l4d2ctl list` (the CLI's start included), and instance.list over one connection
  status    instance.status of one server over one connection
  memory    RSS of hostd, jobd, logd (each woken by a call first) and the sum over the games
  follow    logd with one logs.follow per server: its RSS and CPU over 5 s
Prints one row per N. Usage: scaling-probe.py N... (e.g. 20 100 300)"""
import os
import socket
import subprocess
import sys
import time

import msgpack

PORT0 = 27015
STEPS = [int(x) for x in sys.argv[1:]]


def now():
    return time.monotonic()


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True).stdout


class Conn:
    def __init__(self, svc):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(60)
        self.s.connect("/run/left4me/%s.sock" % svc)
        self.u = msgpack.Unpacker(raw=False, max_buffer_size=256 << 20)
        self.id = 0

    def call(self, method, params=None):
        self.id += 1
        self.s.sendall(msgpack.packb([0, self.id, method, [] if params is None else [params]]))
        while True:
            for m in self.u:
                if m[0] == 1 and m[1] == self.id:
                    if m[2] is not None:
                        raise RuntimeError("%s: %r" % (method, m[2]))
                    return m[3]
            data = self.s.recv(1 << 20)
            if not data:
                raise ConnectionError(method)
            self.u.feed(data)

    def start(self, method, params):
        self.id += 1
        self.s.sendall(msgpack.packb([0, self.id, method, [params]]))

    def close(self):
        self.s.close()


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0


def cpu_s(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def daemon_pid(svc):
    c = Conn(svc)
    pid = c.call("sys.health")["pid"]
    c.close()
    return pid


def median_ms(f, n):
    v = []
    for _ in range(n):
        t = now()
        f()
        v.append((now() - t) * 1000)
    v.sort()
    return v[len(v) // 2]


def units(n):
    return ["left4me-server@s%d.service" % i for i in range(n)]


def main():
    have = 0
    print("servers on one host (fake srcds), one row per N:")
    print("  %5s %9s %9s %9s %9s %9s %9s %9s %9s %11s %11s %11s" % (
        "N", "start-all", "list cli", "list rpc", "brief rpc", "status", "hostd", "jobd", "logd", "games sum",
        "logd+follow", "follow cpu"))
    for n in STEPS:
        for i in range(have, n):
            with open("/tmp/s%d.yaml" % i, "w") as f:
                f.write("port: %d\narguments: [+map, c1m1_hotel]\n" % (PORT0 + i))
            sh("l4d2ctl", "initialize", "s%d" % i, "-f", "/tmp/s%d.yaml" % i)
        have = n
        sh("systemctl", "stop", *units(n))
        t0 = now()
        # Waits for every start job (Type=simple: done once exec'd).
        p = subprocess.run(["systemctl", "start", *units(n)], capture_output=True, text=True)
        start_all = now() - t0
        bad = [u for u in units(n) if sh("systemctl", "is-active", u, check=False).strip() != "active"]
        if p.returncode != 0 or bad:
            why = sh("systemctl", "show", "-P", "Result", bad[0], check=False).strip() if bad else ""
            print("  %5d start of all failed after %.1f s: %d not active (%s: Result=%s); %s" % (
                n, start_all, len(bad), bad[0] if bad else "-", why, p.stderr.strip()[:300]), flush=True)
            break
        list_cli = median_ms(lambda: sh("l4d2ctl", "list"), 5)
        c = Conn("host")
        assert len(c.call("instance.list")) >= n
        list_rpc = median_ms(lambda: c.call("instance.list"), 10)
        # What webd asks: the states from one ListUnitsByPatterns; they must agree with the full list.
        full = {x["name"]: x["state"] for x in c.call("instance.list")}
        brief = {x["name"]: x["state"] for x in c.call("instance.list", {"brief": True})}
        assert brief == full, "brief and full lists disagree: %r" % {k: (full.get(k), brief.get(k))
                                                                    for k in full if full.get(k) != brief.get(k)}
        list_brief = median_ms(lambda: c.call("instance.list", {"brief": True}), 10)
        status = median_ms(lambda: c.call("instance.status", {"name": "s0"}), 20)
        c.close()
        host, jobs, logs = (rss_kib(daemon_pid(s)) for s in ("host", "jobs", "logs"))
        games = 0
        for u in units(n):
            pid = int(sh("systemctl", "show", "-P", "MainPID", u).strip() or 0)
            games += rss_kib(pid) if pid else 0
        # One follower per server on one connection, as webd's server pages would hold them.
        # (at most 50 per connection: a connection holds at most 64 pending calls)
        lp = daemon_pid("logs")
        followers = []
        for i in range(n):
            if i % 50 == 0:
                followers.append(Conn("logs"))
            followers[-1].start("logs.follow", {"target": {"kind": "server", "name": "s%d" % i}, "lines": 0})
        time.sleep(1)
        c0 = cpu_s(lp)
        time.sleep(5)
        follow_cpu = (cpu_s(lp) - c0) / 5 * 100
        follow_rss = rss_kib(lp)
        for f in followers:
            f.close()
        print("  %5d %8.1fs %7.0fms %7.1fms %7.1fms %7.2fms %7.1fMiB %7.1fMiB %7.1fMiB %9.0fMiB %9.1fMiB %9.1f%%" % (
            n, start_all, list_cli, list_rpc, list_brief, status, host / 1024, jobs / 1024, logs / 1024, games / 1024,
            follow_rss / 1024, follow_cpu), flush=True)
    sh("systemctl", "stop", *units(have))


main()
