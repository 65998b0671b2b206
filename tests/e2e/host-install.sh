#!/bin/bash
# game.install under real systemd: a failing steamcmd is reported (exit 1, the reason in
# the output), two installs at once conflict, and a caller that goes away cancels: the
# whole process group (steamcmd and what it started) is killed, and the next install works.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_cli
need_daemon host
L=/var/lib/left4me
stand_ins
cleanup() { ct rm -f $L/steam/fake-steamcmd.delay $L/steam/fake-steamcmd.fail-linux; }
trap cleanup EXIT

echo "--- a failing linux pass"
ct_sh "echo 'Invalid platform' >$L/steam/fake-steamcmd.fail-linux"
rc=0; out=$(ct l4d2ctl install 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "failing install: expected exit 1, got $rc: $out"
assert_contains "$out" "Invalid platform" "failing install output"
assert_contains "$out" "exited with status 8" "failing install reason"
ct rm -f $L/steam/fake-steamcmd.fail-linux

echo "--- conflict and cancel"
ct_sh "echo 30 >$L/steam/fake-steamcmd.delay"
ct_sh "l4d2ctl install >/tmp/install1.log 2>&1 & echo \$! >/tmp/install1.pid"
wait_for 10 sh -c "nsenter -t $E2E_PID1 -a pgrep -u left4me-steam -f steamcmd.sh >/dev/null" || fail "steamcmd did not start"
rc=0; out=$(ct l4d2ctl install 2>&1) || rc=$?
[ "$rc" = 5 ] || fail "second install: expected exit 5 (conflict), got $rc: $out"
ok "a second install conflicts: $out"
ct_sh 'kill -TERM $(cat /tmp/install1.pid)'
wait_for 10 sh -c "! nsenter -t $E2E_PID1 -a pgrep -u left4me-steam -f 'steamcmd|sleep' >/dev/null" ||
        fail "processes of left4me-steam survived the cancel: $(ct pgrep -a -u left4me-steam)"
ok "the caller left: steamcmd's whole group is gone"
assert_contains "$(journal left4me-host.service)" "killing steamcmd" "hostd logged the cancel"
ct rm -f $L/steam/fake-steamcmd.delay
t0=$(date +%s%N)
assert_rc 0 "install after a cancel" ct l4d2ctl install
echo "install took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
exit 0
