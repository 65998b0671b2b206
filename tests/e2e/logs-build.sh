#!/bin/bash
# A build's script output in the journal (real systemd, journald, hostd, jobd, logd). hostd
# writes every line it reads from the build unit's pipes to the journal as its own entry naming
# the build (LEFT4ME_BUILD_UNIT=, from left4me-host.service as root), so `l4d2ctl logs --job`
# and `l4d2ctl logs --unit build` show the script's lines, in order, with systemd's lines about
# the unit; the caller's stream is unchanged. A follower of a running build job gets the lines
# live and ends with the job. A hostile build that writes LEFT4ME_BUILD_UNIT= entries naming
# another build straight to journald gets them attributed to itself only. A build printing more
# than hostd's journal cap (5000 lines per 30 s) gets 5000 in the journal and a line saying how
# many were left out; its caller gets all of them.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_cli
need_daemon host
need_daemon jobs
need_daemon logs
T=$(mktemp -d /tmp/e2e-logs-build.XXXXXX) || fail "mktemp"
L=/var/lib/left4me
cleanup() {
        local p n
        ct touch "$(building lbf)/release1" "$(building lbf)/release2" 2>/dev/null
        for p in "$T"/*.pid; do
                [ -e "$p" ] || continue
                n=$(cat "$p")
                pkill -P "$n" 2>/dev/null
                kill "$n" 2>/dev/null
        done
        for n in lb lbf lbh lbr; do ct l4d2ctl overlay delete $n >/dev/null 2>&1; done
        rm -rf "$T"
}
trap cleanup EXIT

bg() {
        local name=$1; shift
        (
                ct "$@" >"$T/$name.out" 2>&1 &
                echo $! >"$T/$name.pid"
                rc=0; wait $! || rc=$?
                echo "$rc" >"$T/$name.rc"
        ) &
}
bg_rc() {
        wait_for "$2" test -s "$T/$1.rc" || { cat "$T/$1.out" >&2; fail "$1 did not end within $2 s"; }
        cat "$T/$1.rc"
}
# msgs: the messages of `l4d2ctl logs` text output (drops "YYYY-MM-DD HH:MM:SS ").
msgs() { cut -d' ' -f3-; }
job_units() { ct l4d2ctl jobs show "$1" --json | grep -o '"units": *\[[^]]*\]' | grep -o 'left4me-build-[^"]*'; }

assert_eq "30s 100000" "$(ct systemctl show -P LogRateLimitIntervalUSec left4me-host.service) $(ct systemctl show -P LogRateLimitBurst left4me-host.service)" \
        "hostd's journald rate limit (room for 16 builds at hostd's own cap)"

echo "--- a build through jobd: its lines in logs --job and logs --unit build"
ct_sh "cat >/tmp/lb.sh" <<'EOF'
echo "LB out 1"
sleep 0.2
echo "LB err 1" >&2
sleep 0.2
echo "LB out 2 with  two spaces and ünïcode"
sleep 0.2
echo "LB err 2" >&2
sleep 0.2
echo "LB out 3"
EOF
WANT='LB out 1
LB err 1
LB out 2 with  two spaces and ünïcode
LB err 2
LB out 3'
out=$(ct l4d2ctl overlay build lb -f /tmp/lb.sh --queue 2>&1) || fail "overlay build lb --queue: $out"
J=$(echo "$out" | sed -n 's/^job \([0-9]*\) queued$/\1/p' | head -n 1)
[ -n "$J" ] || fail "no job id in: $out"
assert_eq "$WANT" "$(echo "$out" | grep '^LB ')" "the caller's stream (unchanged)"
U=$(job_units "$J")
case $U in left4me-build-lb-[0-9]*.service) ok "job $J ran $U" ;; *) fail "job $J: units '$U'" ;; esac
got=$(ct l4d2ctl logs --job "$J" -n 1000) || fail "logs --job $J: $got"
echo "$got" | sed 's/^/    | /'
assert_eq "$WANT" "$(echo "$got" | msgs | grep '^LB ')" "logs --job $J: the script's lines in order"
assert_contains "$got" "Started $U" "logs --job $J: systemd's start"
case $got in *"$U: Deactivated successfully."* | *"$U: Consumed "*) ok "logs --job $J: systemd's end" ;;
*) fail "logs --job $J: no end message of $U" ;; esac
got=$(ct l4d2ctl logs --unit build "$U" -n 1000) || fail "logs --unit build $U: $got"
assert_eq "$WANT" "$(echo "$got" | msgs | grep '^LB ')" "logs --unit build $U: the script's lines in order"
assert_contains "$got" "Started $U" "logs --unit build: systemd's start"
# --json: stdout info (6), stderr warning (4).
prios=$(ct l4d2ctl logs --unit build "$U" -n 1000 --json | grep '"LB ' | grep -o '"priority": *[0-9]' | grep -o '[0-9]$' | tr '\n' ' ')
assert_eq "6 4 6 4 6 " "$prios" "priorities (stdout 6, stderr 4)"
n=$(ct journalctl --no-pager -o cat LEFT4ME_BUILD_UNIT="$U" SYSLOG_IDENTIFIER=left4me-build _SYSTEMD_UNIT=left4me-host.service | grep -c '^LB ')
assert_eq 5 "$n" "journalctl: hostd's entries naming $U"
streams=$(ct journalctl --no-pager -o verbose LEFT4ME_BUILD_UNIT="$U" | grep -o 'LEFT4ME_BUILD_STREAM=[a-z]*' | tr '\n' ' ')
assert_eq "LEFT4ME_BUILD_STREAM=stdout LEFT4ME_BUILD_STREAM=stderr LEFT4ME_BUILD_STREAM=stdout LEFT4ME_BUILD_STREAM=stderr LEFT4ME_BUILD_STREAM=stdout " \
        "$streams" "LEFT4ME_BUILD_STREAM"

echo "--- logs --job --follow of a running build: lines live, ends with the job"
ct_sh "cat >/tmp/lbf.sh" <<'EOF'
echo "LF 1"
for i in $(seq 1 300); do [ -e "$OVERLAY/release1" ] && break; sleep 0.1; done
echo "LF 2"
for i in $(seq 1 300); do [ -e "$OVERLAY/release2" ] && break; sleep 0.1; done
echo "LF 3" >&2
EOF
ct l4d2ctl overlay delete lbf >/dev/null 2>&1
bg build l4d2ctl overlay build lbf -f /tmp/lbf.sh --queue
wait_for 20 grep -q "^job [0-9]* queued" "$T/build.out" || fail "no job id: $(cat "$T/build.out")"
JF=$(sed -n 's/^job \([0-9]*\) queued$/\1/p' "$T/build.out" | head -n 1)
wait_for 30 grep -q "^LF 1" "$T/build.out" || fail "the build did not start: $(cat "$T/build.out")"
bg follow l4d2ctl logs --job "$JF" --follow
wait_for 15 grep -q " LF 1$" "$T/follow.out" || fail "follower: no 'LF 1': $(cat "$T/follow.out")"
ok "follower has the backlog line"
t0=$(date +%s%N)
ct touch "$(building lbf)/release1"
wait_for 15 grep -q " LF 2$" "$T/follow.out" || fail "follower: no live 'LF 2': $(cat "$T/follow.out")"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok "follower got 'LF 2' live (${ms} ms after the release, including the script's 0.1 s poll)"
[ ! -s "$T/follow.rc" ] || fail "the follower ended while the job runs"
ct touch "$(building lbf)/release2"
assert_eq 0 "$(bg_rc follow 30)" "the follower ends by itself"
assert_eq 0 "$(bg_rc build 30)" "the build job"
assert_eq "LF 1
LF 2
LF 3" "$(msgs <"$T/follow.out" | grep '^LF ')" "the follower's script lines"
assert_eq "-- job $JF ended: succeeded --" "$(tail -n 1 "$T/follow.out")" "its last line"
summary "logs-build: a followed build job's line arrived ${ms} ms after its release (journald's ~450 ms notify delay included)"

echo "--- a hostile build tries to write LEFT4ME_BUILD_UNIT=$U entries to journald itself"
ct_sh "cat >/tmp/lbh.sh" <<EOF
if command -v logger >/dev/null; then
        printf 'MESSAGE=LBFORGED logger\nLEFT4ME_BUILD_UNIT=$U\nSYSLOG_IDENTIFIER=left4me-build\n_SYSTEMD_UNIT=left4me-host.service\n_UID=0\n' | logger --journald && echo "logger sent"
fi
if command -v systemd-cat >/dev/null; then
        echo "LBFORGED systemd-cat" | systemd-cat -t left4me-build && echo "systemd-cat sent"
fi
echo "hostile done"
sleep 1
EOF
out=$(ct l4d2ctl overlay build lbh -f /tmp/lbh.sh 2>&1) || fail "hostile build: $out"
echo "$out" | sed 's/^/    | /'
assert_contains "$out" "hostile done" "the hostile build ran"
# Judged by the journal, not by the tools: logger --journald exits 0 when it cannot send.
sleep 1
n=$(ct journalctl --no-pager -o cat | grep -c LBFORGED || true)
assert_eq 0 "$n" "forged entries in the journal (the build's /run has no journald socket)"
# ... and never to the build they name.
got=$(ct l4d2ctl logs --unit build "$U" -n 1000)
case $got in *LBFORGED*) fail "forged lines shown for $U: $got" ;; esac
assert_eq "$WANT" "$(echo "$got" | msgs | grep '^LB ')" "logs --unit build $U unchanged"
got=$(ct l4d2ctl logs --job "$J" -n 1000)
case $got in *LBFORGED*) fail "forged lines shown for job $J" ;; esac
ok "forged LEFT4ME_BUILD_UNIT=$U entries are not shown for $U nor job $J"

echo "--- more than hostd's journal cap (5000 lines per 30 s): the caller gets all, the journal 5000 and a note"
ct_sh "cat >/tmp/lbr.sh" <<'EOF'
seq 1 6000 | sed 's/^/LR /'
EOF
out=$(ct l4d2ctl overlay build lbr -f /tmp/lbr.sh 2>&1) || fail "overlay build lbr"
assert_eq 6000 "$(echo "$out" | grep -c '^LR ')" "lines the caller got"
UR=$(echo "$out" | grep -o 'left4me-build-lbr-[0-9]*\.service' | head -n 1)
got=$(ct l4d2ctl logs --unit build "$UR" -n 10000)
assert_eq 5000 "$(echo "$got" | msgs | grep -c '^LR ')" "lines in the journal"
assert_eq "LR 5000" "$(echo "$got" | msgs | grep '^LR ' | tail -n 1)" "the last one journaled"
assert_contains "$got" "1000 lines of build output were not written to the journal" "the note"
