#!/usr/bin/python3
"""Runs inside the real-systemd container (bench/cold-start starts it): the cold start of each
daemon, where its time goes, and the floor.

For each service and each variant of its unit (as installed; then with a runtime drop-in that
turns one group of sandbox directives off, to price them), ROUNDS times: stop the service
(its socket keeps listening), then time connect → the answer to sys.health (the first
answer, systemd's spawn included), then one more call (warm). Each cold round is split with
systemd's own monotonic timestamps and the daemon's uptime:

  trigger   connect → InactiveExitTimestamp: systemd's own work (the start job, the unit's
            cgroup, PrivateTmp's directories, the fork; systemd records InactiveExit right
            after forking, in the parent)
  spawn     → the daemon's main(): the child's namespace and sandbox set-up of every
            directive, execve, ld.so
  init      main() → READY=1 as systemd recorded it (ActiveEnterTimestamp: config, sockets,
            database, ...)
  answer    READY=1 → the answer to the first call (negative: answered before systemd
            processed READY=1)

All clocks are CLOCK_MONOTONIC of the same kernel. Beside them: `systemd-run --wait
/bin/true` (systemd's spawn floor, its client's start included). Prints p50/p95/max in ms.
Usage: cold-start-probe.py [--each] ROUNDS SERVICE... (host jobs logs web); --each prices
every directive on its own instead of by groups."""
import os
import socket
import subprocess
import sys
import time

import msgpack

EACH = len(sys.argv) > 1 and sys.argv[1] == "--each"  # one variant per directive (slow)
if EACH:
    del sys.argv[1]
ROUNDS = int(sys.argv[1])
SERVICES = sys.argv[2:]
SOCK = {"host": "host.sock", "jobs": "jobs.sock", "logs": "logs.sock", "web": "web.sock"}

# Groups of sandbox directives, turned off by a drop-in to price them (measurement only: the
# units as shipped keep every one; docs/performance.md).
FS = """ProtectSystem=no
ProtectHome=no
PrivateTmp=no
PrivateDevices=no
DevicePolicy=auto
ProtectKernelTunables=no
ProtectKernelModules=no
ProtectKernelLogs=no
ProtectControlGroups=no
ProtectClock=no
ProtectHostname=no
ProtectProc=default
ProcSubset=all
TemporaryFileSystem=
BindPaths=
ReadWritePaths=
"""
NS = """PrivateNetwork=no
PrivateIPC=no
"""
SECCOMP = """SystemCallFilter=
SystemCallArchitectures=
RestrictNamespaces=no
MemoryDenyWriteExecute=no
LockPersonality=no
RestrictRealtime=no
RestrictSUIDSGID=no
RestrictAddressFamilies=
"""
VARIANTS = [("as installed", None), ("- file-system directives", FS), ("- PrivateNetwork/IPC", NS),
            ("- seccomp directives", SECCOMP), ("- all three groups", FS + NS + SECCOMP)]
if EACH:
    VARIANTS = [("as installed", None)] + [("- " + line, line + "\n") for line in (FS + NS + SECCOMP).split("\n")
                                           if line and line.split("=")[0] not in ("DevicePolicy", "BindPaths", "ReadWritePaths")]


def now_us():
    return time.monotonic_ns() // 1000


def sh(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def call_health(path):
    """connect, sys.health, answer; returns (µs, the answer)."""
    t0 = now_us()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall(msgpack.packb([0, 1, "sys.health", []]))
    u = msgpack.Unpacker(raw=False)
    while True:
        data = s.recv(65536)
        if not data:
            raise ConnectionError("closed before the answer")
        u.feed(data)
        for m in u:
            if m[0] == 1 and m[1] == 1:
                t1 = now_us()
                s.close()
                if m[2] is not None:
                    raise RuntimeError("sys.health: %r" % (m[2],))
                return t1 - t0, m[3], t0, t1


def timestamps(unit):
    out = sh("systemctl", "show", "-P", "InactiveExitTimestampMonotonic", "-P", "ActiveEnterTimestampMonotonic",
             unit).split()
    return int(out[0]), int(out[1])


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def fmt(v):
    return "%6.1f %6.1f %6.1f" % (pct(v, 50) / 1000, pct(v, 95) / 1000, max(v) / 1000)


def set_dropin(svc, text):
    d = "/run/systemd/system/left4me-%s.service.d" % svc
    path = d + "/50-cold-start-bench.conf"
    if text is None:
        if os.path.exists(path):
            os.unlink(path)
    else:
        os.makedirs(d, exist_ok=True)
        with open(path, "w") as f:
            f.write("# bench/cold-start: pricing sandbox directives; removed after the run\n[Service]\n" + text)
    sh("systemctl", "daemon-reload")


def measure(svc):
    unit = "left4me-%s.service" % svc
    path = "/run/left4me/" + SOCK[svc]
    cold, warm, trig, spawn, init, answer = [], [], [], [], [], []
    call_health(path)  # page the binary and its libraries in once
    for _ in range(ROUNDS):
        sh("systemctl", "stop", unit)
        dt, h, t0, t1 = call_health(path)
        inactive_exit, active_enter = timestamps(unit)
        main_start = t1 - h["uptime_usec"]
        cold.append(dt)
        trig.append(inactive_exit - t0)
        spawn.append(main_start - inactive_exit)
        init.append(active_enter - main_start)
        answer.append(t1 - active_enter)
        warm.append(call_health(path)[0])
    return cold, warm, trig, spawn, init, answer


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def memory(svc):
    """The daemon's RSS as the unit runs it: idle after its first answer, then after 2000 more
    calls over one connection (per-request allocations that are not given back show)."""
    path = "/run/left4me/" + SOCK[svc]
    _, h, _, _ = call_health(path)
    idle = rss_kib(h["pid"])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    u = msgpack.Unpacker(raw=False)
    for i in range(2000):
        s.sendall(msgpack.packb([0, i, "sys.health", []]))
        got = False
        while not got:
            u.feed(s.recv(65536))
            got = any(m[0] == 1 for m in u)
    after = rss_kib(h["pid"])
    s.close()
    return idle, after


def chain(dropin):
    """The first page after an idle period: webd, then jobd, then hostd, each woken by the call
    before (the probe makes the calls in webd's order, one after the other, as webd does).
    dropin: a [Unit] text for left4me-web.service (None: as installed)."""
    units = ["left4me-web.service", "left4me-jobs.service", "left4me-host.service"]
    d = "/run/systemd/system/left4me-web.service.d"
    path = d + "/60-cold-start-bench-chain.conf"
    if dropin:
        os.makedirs(d, exist_ok=True)
        with open(path, "w") as f:
            f.write("# bench/cold-start: the chain measurement; removed after the run\n" + dropin)
        sh("systemctl", "daemon-reload")
    total = []
    try:
        for _ in range(ROUNDS):
            sh("systemctl", "stop", *units)
            t0 = now_us()
            for svc in ("web", "jobs", "host"):
                call_health("/run/left4me/" + SOCK[svc])
            total.append(now_us() - t0)
    finally:
        if dropin:
            os.unlink(path)
            sh("systemctl", "daemon-reload")
    return total


def http(method, path, headers=None, body=None):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", 8080, timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheaders(), data


def admin_session():
    """An admin of the web UI and a session cookie for it (as tests/e2e/web-20-servers.sh)."""
    import re
    import urllib.parse
    env = dict(os.environ, LEFT4ME_ADMIN_PASSWORD="cold-start-bench-pw")
    subprocess.run(["l4d2ctl", "web", "user", "create", "cold-admin", "--admin"], env=env, check=False,
                   capture_output=True)
    _, _, page = http("GET", "/login")
    tok = re.search(rb'name="csrf_token" value="([^"]*)"', page).group(1).decode()
    body = urllib.parse.urlencode({"csrf_token": tok, "username": "cold-admin", "password": "cold-start-bench-pw"})
    _, headers, _ = http("POST", "/login", {"Cookie": "__Host-left4me-login=" + tok,
                                            "Content-Type": "application/x-www-form-urlencoded"}, body)
    for k, v in headers:
        if k.lower() == "set-cookie" and v.startswith("__Host-left4me="):
            return v.split(";")[0]
    raise RuntimeError("no session from POST /login")


def page_chain():
    """GET /servers (webd asks hostd for instance.list) with webd and hostd both stopped: the
    first page after an idle period, through the browser's own path; and warm."""
    cookie = admin_session()
    cold, warm = [], []
    for _ in range(ROUNDS):
        sh("systemctl", "stop", "left4me-web.service", "left4me-host.service")
        t0 = now_us()
        st, _, _ = http("GET", "/servers", {"Cookie": cookie})
        cold.append(now_us() - t0)
        if st != 200:
            raise RuntimeError("GET /servers: %d" % st)
        t0 = now_us()
        http("GET", "/servers", {"Cookie": cookie})
        warm.append(now_us() - t0)
    return cold, warm


def main():
    floor = []
    for _ in range(ROUNDS):
        t0 = now_us()
        sh("systemd-run", "--quiet", "--wait", "/bin/true")
        floor.append(now_us() - t0)
    print("cold start in the real-systemd container, %d rounds each; ms as p50 p95 max" % ROUNDS)
    print("  %-34s %s" % ("systemd-run --wait /bin/true (floor)", fmt(floor)))
    print("  %-8s %-26s %-20s %-20s | %-20s %-20s %-20s %-20s" % (
        "service", "unit", "cold (connect→answer)", "warm", "trigger", "spawn+sandbox+exec",
        "init (main→READY)", "READY→answer"))
    summary = []
    for svc in SERVICES:
        for name, dropin in VARIANTS:
            set_dropin(svc, dropin)
            try:
                cold, warm, trig, spawn, init, answer = measure(svc)
            except (OSError, RuntimeError, subprocess.CalledProcessError) as e:
                print("  %-8s %-26s failed: %s" % (svc, name, e))
                continue
            finally:
                if dropin is not None:
                    set_dropin(svc, None)
            print("  %-8s %-26s %-20s %-20s | %-20s %-20s %-20s %-20s" % (
                svc, name, fmt(cold), fmt(warm), fmt(trig), fmt(spawn), fmt(init), fmt(answer)))
            if dropin is None:
                summary.append((svc, pct(cold, 95)))
    if all(x in SERVICES for x in ("web", "jobs", "host")):
        print("  chain webd → jobd → hostd, all three stopped (first answer of each, in turn):")
        print("  %-60s %s" % ("    units as installed", fmt(chain(None))))
        print("  %-60s %s" % ("    + Wants=left4me-jobs.service left4me-host.service on webd", fmt(
            chain("[Unit]\nWants=left4me-jobs.service left4me-host.service\n"))))
    if all(x in SERVICES for x in ("web", "host")):
        cold, warm = page_chain()
        print("  %-60s %s" % ("GET /servers, webd and hostd stopped (webd → hostd)", fmt(cold)))
        print("  %-60s %s" % ("GET /servers, warm", fmt(warm)))
    print("  RSS under systemd (idle after the first answer / after 2000 more calls): " +
          ", ".join("%s %.1f/%.1f MiB" % ((s,) + tuple(x / 1024 for x in memory(s))) for s in SERVICES))
    print("  p95 cold per daemon (as installed): " +
          ", ".join("%s %.1f ms" % (s, v / 1000) for s, v in summary) +
          "; their sum (a request waking all in a chain) %.1f ms" % (sum(v for _, v in summary) / 1000))


main()
