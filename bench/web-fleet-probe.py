#!/usr/bin/python3
"""bench/web-fleet's probe, run inside the container: N followers of one busy job's event
stream, beside N idle keep-alive connections, against webd at 127.0.0.1:8080.

    web-fleet-probe.py SESSION JOB N WEBD_PID

Prints webd's RSS per idle keep-alive connection and per follower, and the fan-out latency
(p50/p99/max) of the lines the job printed after every follower was connected: each line is
"t <ns>" from the build's `date +%s%N`, read here with time.time_ns() (one clock: the
container's). The client is one asyncio process: at 5,000 followers it parses ~25,000
events a second itself, which is part of what the figure includes.
"""
import asyncio
import json
import resource
import sys
import time

SID, JOB, N, PID = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def idle_conn(ready, hold):
    r, w = await asyncio.open_connection("127.0.0.1", 8080)
    w.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    await w.drain()
    head = await r.readuntil(b"\r\n\r\n")
    n = int([h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")][0].split(b":")[1])
    await r.readexactly(n)
    ready.append(1)
    await hold.wait()
    w.close()


async def follower(lat, ready, start, stop):
    r, w = await asyncio.open_connection("127.0.0.1", 8080, limit=1 << 20)
    w.write(f"GET /jobs/{JOB}/events HTTP/1.1\r\nHost: x\r\nCookie: __Host-left4me={SID}\r\n\r\n".encode())
    await w.drain()
    head = await r.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n")[0]:
        raise SystemExit(f"follower refused: {head[:100]!r}")
    ready.append(1)
    buf = b""
    while not stop.is_set():
        try:
            chunk = await asyncio.wait_for(r.read(65536), 1)
        except asyncio.TimeoutError:
            continue
        if not chunk:
            break
        now = time.time_ns()
        buf += chunk
        while b"\n\n" in buf:
            ev, buf = buf.split(b"\n\n", 1)
            for line in ev.split(b"\n"):
                if line.startswith(b"data: {\"seq\""):
                    d = json.loads(line[6:])
                    parts = d["line"].split()
                    if len(parts) == 2 and parts[0] == "t":
                        ts = int(parts[1])
                        if ts > start[0]:
                            lat.append((now - ts) / 1e6)
    w.close()


async def main():
    base = rss_kib(PID)
    ready, hold = [], asyncio.Event()
    tasks = [asyncio.create_task(idle_conn(ready, hold)) for _ in range(N)]
    while len(ready) < N:
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    idle_per = (rss_kib(PID) - base) / N
    hold.set()
    await asyncio.gather(*tasks)
    await asyncio.sleep(1)

    base = rss_kib(PID)
    lat, ready, start, stop = [], [], [1 << 62], asyncio.Event()
    t0 = time.monotonic()
    tasks = [asyncio.create_task(follower(lat, ready, start, stop)) for _ in range(N)]
    while len(ready) < N:
        await asyncio.sleep(0.1)
        if time.monotonic() - t0 > 120:
            raise SystemExit(f"only {len(ready)} of {N} followers connected")
    start[0] = time.time_ns()
    await asyncio.sleep(8)
    follow_per = (rss_kib(PID) - base) / N
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    lat.sort()
    if not lat:
        raise SystemExit("no line arrived while all followers were connected")
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]  # noqa: E731
    print(f"  {N} followers: fan-out latency p50 {q(0.5):.1f} ms, p99 {q(0.99):.1f} ms, max {lat[-1]:.1f} ms "
          f"({len(lat)} deliveries); webd RSS per follower {follow_per:.1f} KiB vs per idle keep-alive "
          f"connection {idle_per:.1f} KiB (ratio {follow_per / idle_per if idle_per > 0 else 0:.2f})")


asyncio.run(main())
