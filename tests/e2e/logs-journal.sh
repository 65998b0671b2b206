#!/bin/bash
# logd under a real systemd and journald. A server unit (left4me-server@lg1.service, a
# concrete instance file that stands in for the game: it prints "game up" and then every
# line appended to a file) writes lines through journald; l4d2ctl logs reads and follows
# them in order; a restart is announced to followers and a plain read shows only the new
# run; resuming from a cursor after logd was killed loses and repeats nothing; 50
# concurrent followers all receive every line; a stalled follower does not stall another
# one nor grow logd's memory past its cap.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_cli
need_daemon logs
N=lg1
U=left4me-server@$N.service
IN=/run/lg1/in

ct_sh "mkdir -p /run/lg1 && : >$IN && chmod 0644 $IN"
# A concrete instance file overrides the template for this instance only.
ct_sh "cat >/run/systemd/system/$U" <<EOF
[Unit]
Description=logd e2e stand-in game
[Service]
ExecStart=/bin/bash -c 'echo "game up \$\$INVOCATION_ID"; exec tail -n 0 -F $IN'
# the tests write bursts of thousands of lines: no journald rate limit for this unit
LogRateLimitIntervalSec=0
EOF
cleanup() {
        ct_sh "pkill -f '^l4d2ctl logs $N'; pkill -f '^/usr/bin/python3 stall.py'; true"
        ct systemctl stop "$U" >/dev/null 2>&1
        ct rm -f "/run/systemd/system/$U"
        ct systemctl daemon-reload
}
trap cleanup EXIT
ct systemctl daemon-reload
assert_rc 0 "start $U" ct systemctl start "$U"
INV1=$(ct systemctl show -P InvocationID "$U")
[ -n "$INV1" ] || fail "no InvocationID"

emit() { # emit FROM TO [PREFIX]: appends lines PREFIX<i> to the game's input
        ct_sh "for i in \$(seq $1 $2); do echo '${3:-line }'\$i; done >>$IN"
}
msgs() { sed -E 's/^[0-9-]+ [0-9:]+ (\[[a-z]+\] )?//'; }
count_in() { [ "$(ct_sh "grep -c '$2' $1 2>/dev/null")" -ge "$3" ]; }
logs_has() { ct l4d2ctl logs "$@" 2>/dev/null | grep -q "$LOOK"; }

echo "--- read"
emit 1 20
LOOK='line 20$' wait_for 10 logs_has $N || fail "20 lines did not show up: $(ct l4d2ctl logs $N 2>&1 | tail -n 3)"
out=$(ct l4d2ctl logs $N | msgs)
exp=$(printf 'game up %s\n' "$INV1"; for i in $(seq 1 20); do echo "line $i"; done)
# systemd's own "Started ..." message belongs to the run too; compare the game's lines.
assert_eq "$exp" "$(echo "$out" | grep -E '^(game up|line )')" "the game's lines, in order"
assert_contains "$out" "Started" "systemd's message about the unit"
ct l4d2ctl logs $N -n 3 --json | head -n 1 | grep -q '"invocation_id":"'"$INV1"'"' || fail "json invocation_id"
ok "entries carry the invocation id"

echo "--- follow, then a restart"
ct_sh "l4d2ctl logs $N --follow -n 0 >/run/lg1/follow.out 2>&1 &"
sleep 1
emit 21 30
wait_for 10 count_in /run/lg1/follow.out 'line 30$' 1 || fail "follow: no line 30: $(ct cat /run/lg1/follow.out)"
assert_eq "$(seq 21 30 | sed 's/^/line /')" "$(ct cat /run/lg1/follow.out | msgs | grep '^line ')" "followed lines"
ct journalctl --rotate || fail "journalctl --rotate"
emit 1 5 "rot "
wait_for 10 count_in /run/lg1/follow.out 'rot 5$' 1 || fail "follow after rotation: $(ct tail -n 3 /run/lg1/follow.out)"
assert_eq "$(seq 1 5 | sed 's/^/rot /')" "$(ct cat /run/lg1/follow.out | msgs | grep '^rot ')" "followed across journald's rotation"
t0=$(date +%s%N)
ct systemctl restart "$U" || fail "restart"
INV2=$(ct systemctl show -P InvocationID "$U")
[ "$INV2" != "$INV1" ] || fail "the restart kept the invocation id"
wait_for 10 count_in /run/lg1/follow.out "game up $INV2" 1 || fail "follower did not see the new run: $(ct cat /run/lg1/follow.out)"
summary "logs: a restart reached a follower within $(( ($(date +%s%N) - t0) / 1000000 )) ms"
fo=$(ct cat /run/lg1/follow.out)
assert_contains "$fo" "-- the unit restarted: invocation $INV2 --" "restart announced to the follower"
a=$(echo "$fo" | grep -n "the unit restarted" | head -n 1 | cut -d: -f1)
b=$(echo "$fo" | grep -n "game up $INV2" | head -n 1 | cut -d: -f1)
[ "$a" -lt "$b" ] || fail "announcement (line $a) after the new run's first line ($b)"
ok "announced before the new run's first line"
emit 31 35
LOOK='line 35$' wait_for 10 logs_has $N || fail "line 35"
out=$(ct l4d2ctl logs $N | msgs)
case $out in *"line 20"* | *"line 30"*) fail "a plain read after the restart shows the old run: $out" ;; esac
assert_contains "$out" "game up $INV2" "a plain read: the new run only"
all=$(ct l4d2ctl logs $N --all-invocations -n 1000 | msgs)
assert_contains "$all" "line 20" "--all-invocations still has the old run"
old=$(ct l4d2ctl logs $N --invocation "$INV1" -n 1000 | msgs)
assert_contains "$old" "line 30" "--invocation: the old run"

# Where "current" came from: systemd over D-Bus, or the journal (counted in sys.health).
h=$(ct l4d2ctl call logs sys.health)
summary "logs: the current invocation: from systemd over D-Bus $(echo "$h" | sed -E 's/.*"current_from_bus":([0-9]+).*/\1/') times, from the journal $(echo "$h" | sed -E 's/.*"current_from_journal":([0-9]+).*/\1/') times (since logd's last start)"

echo "--- follow latency under journald"
ct_sh "cat >/run/lg1/lat.py" <<'PY'
import msgpack, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect("/run/left4me/logs.sock")
s.sendall(msgpack.packb([0, 1, "logs.follow", [{"target": {"kind": "server", "name": sys.argv[1]}, "lines": 0}]]))
time.sleep(0.5)
u, lat, recv = msgpack.Unpacker(raw=False), [], []
for i in range(int(sys.argv[3])):
    t = time.time_ns()
    with open(sys.argv[2], "a") as f:
        f.write("lat %d %d\n" % (i, t))
    done = False
    while not done:
        u.feed(s.recv(65536))
        for m in u:
            if m[0] == 2 and m[2][1]["type"] == "entry" and m[2][1]["message"].startswith("lat %d " % i):
                lat.append((time.time_ns() - t) / 1e6); done = True
                recv.append((m[2][1]["realtime_usec"] * 1000 - t) / 1e6)
    time.sleep(0.05)
# the same through `journalctl -f`, for comparison
import subprocess
jc = subprocess.Popen(["journalctl", "-f", "-n", "0", "-o", "cat", "-u", "left4me-server@%s.service" % sys.argv[1]],
                      stdout=subprocess.PIPE, text=True)
time.sleep(1)
jl = []
for i in range(int(sys.argv[3]) // 2):
    t = time.time_ns()
    with open(sys.argv[2], "a") as f:
        f.write("jlat %d %d\n" % (i, t))
    while not jc.stdout.readline().startswith("jlat %d " % i):
        pass
    jl.append((time.time_ns() - t) / 1e6)
    time.sleep(0.05)
jc.kill()
jl.sort()
lat.sort()
recv.sort()
print("follow latency under journald (append to the game's input -> client), %d samples: p50 %.1f ms, p99 %.1f ms"
      " (append -> journald's receive timestamp: p50 %.1f ms; journalctl -f: p50 %.1f ms, p99 %.1f ms)"
      % (len(lat), lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))], recv[len(recv) // 2],
         jl[len(jl) // 2], jl[min(len(jl) - 1, int(len(jl) * 0.99))]))
PY
lat=$(ct timeout 120 /usr/bin/python3 /run/lg1/lat.py $N $IN 100) || fail "latency: $lat"
echo "$lat"
summary "logs: $lat"

echo "--- resume from a cursor after logd is killed"
cur=$(ct l4d2ctl logs $N -n 1 --json | sed -E 's/.*"cursor":"([^"]*)".*/\1/')
[ -n "$cur" ] || fail "no cursor"
ct systemctl kill -s KILL left4me-logs.service
emit 36 60
wait_for 10 sh -c "nsenter -t $E2E_PID1 -a journalctl -u $U -o cat | grep -q 'line 60'" || fail "line 60 in the journal"
got=$(ct l4d2ctl logs $N --after-cursor "$cur" | msgs | grep '^line ')
assert_eq "$(seq 36 60 | sed 's/^/line /')" "$got" "after the cursor: exactly the lines written while logd was dead"

echo "--- 50 concurrent followers"
ct_sh "pkill -f '^l4d2ctl logs $N'; rm -f /run/lg1/f*.out; for i in \$(seq 1 50); do
        l4d2ctl logs $N --follow -n 0 >/run/lg1/f\$i.out 2>&1 & done"
nfollow() { ct l4d2ctl call logs sys.health | sed -E 's/.*"followers":([0-9]+).*/\1/'; }
wait_for 20 sh -c "[ \"\$(nsenter -t $E2E_PID1 -a l4d2ctl call logs sys.health | sed -E 's/.*\"followers\":([0-9]+).*/\1/')\" -ge 50 ]" ||
        fail "50 followers did not register: $(nfollow)"
emit 1 300 "many "
want=$(seq 1 300 | sed 's/^/many /')
for i in $(seq 1 50); do
        wait_for 30 count_in "/run/lg1/f$i.out" 'many 300$' 1 || fail "follower $i did not get line 300"
        [ "$(ct cat "/run/lg1/f$i.out" | msgs | grep '^many ')" = "$want" ] || fail "follower $i: lines missing or out of order"
done
ok "50 followers received all 300 lines in order"
ct_sh "pkill -f '^l4d2ctl logs $N'; true"
wait_for 10 sh -c "[ \"\$(nsenter -t $E2E_PID1 -a l4d2ctl call logs sys.health | sed -E 's/.*\"followers\":([0-9]+).*/\1/')\" = 0 ]" ||
        fail "followers not released: $(nfollow)"
ok "clients gone: every follower released"

echo "--- a stalled follower"
ct_sh "cat >/run/lg1/stall.py" <<'PY'
import msgpack, socket, sys, time
def connect(rcvbuf=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect("/run/left4me/logs.sock")
    return s
def health():
    s = connect(); s.sendall(msgpack.packb([0, 1, "sys.health", []]))
    u = msgpack.Unpacker(raw=False)
    while True:
        u.feed(s.recv(65536))
        for m in u:
            s.close(); return m[3]
target = {"kind": "server", "name": sys.argv[1]}
stalled = connect(4096)
stalled.sendall(msgpack.packb([0, 1, "logs.follow", [{"target": target, "lines": 0}]]))
reader = connect()
reader.sendall(msgpack.packb([0, 1, "logs.follow", [{"target": target, "lines": 0}]]))
time.sleep(0.5)
base = health()["rss_anon_bytes"]
open(sys.argv[2], "w").write("ready\n")
want, n, peak, u = int(sys.argv[3]), 0, 0, msgpack.Unpacker(raw=False, max_buffer_size=1 << 26)
reader.settimeout(60)
t0 = time.time()
while n < want:
    u.feed(reader.recv(1 << 16))
    for m in u:
        if m[0] == 2 and m[2][1]["type"] == "entry" and m[2][1]["message"].startswith("big "):
            if not m[2][1]["message"].startswith("big %d " % (n + 1)):
                print("FAIL reader order at %d: %r" % (n, m[2][1]["message"][:20])); sys.exit(1)
            n += 1
            if n % 1000 == 0:
                peak = max(peak, health()["rss_anon_bytes"])
h = health()
peak = max(peak, h["rss_anon_bytes"])
print("reader got %d lines of 1 KB in %.1f s while another follower stalled; paused followers %d; "
      "logd anon memory %d KiB, peak %d KiB" % (n, time.time() - t0, h["paused_followers"], base // 1024,
                                               peak // 1024))
if h["paused_followers"] < 1: print("FAIL: the stalled follower is not paused"); sys.exit(1)
if peak - base > 8 << 20: print("FAIL: memory grew by %d KiB" % ((peak - base) // 1024)); sys.exit(1)
stalled.settimeout(60); u = msgpack.Unpacker(raw=False, max_buffer_size=1 << 26); k = 0
while k < want:
    u.feed(stalled.recv(1 << 16))
    for m in u:
        if m[0] == 2 and m[2][1]["type"] == "lost": print("FAIL: lost"); sys.exit(1)
        if m[0] == 2 and m[2][1]["type"] == "entry" and m[2][1]["message"].startswith("big "):
            if not m[2][1]["message"].startswith("big %d " % (k + 1)):
                print("FAIL stalled order at %d" % k); sys.exit(1)
            k += 1
print("the stalled follower then got all %d lines, in order" % k)
PY
LINES=8000
ct_sh "cd /run/lg1 && rm -f ready && /usr/bin/python3 stall.py $N /run/lg1/ready $LINES >stall.out 2>&1 &"
wait_for 10 ct test -e /run/lg1/ready || fail "stall.py did not start: $(ct cat /run/lg1/stall.out)"
ct_sh "pad=\$(head -c 1000 /dev/zero | tr '\\0' x); for i in \$(seq 1 $LINES); do echo \"big \$i \$pad\"; done >>$IN"
wait_for 120 ct grep -q "then got all\|FAIL\|Error" /run/lg1/stall.out || fail "stall.py: $(ct cat /run/lg1/stall.out)"
res=$(ct cat /run/lg1/stall.out)
echo "$res"
case $res in *FAIL* | *Error*) fail "$res" ;; esac
summary "logs: $(echo "$res" | head -n 1)"
ok "a stalled follower neither stalls another one nor grows logd's memory past its cap"
