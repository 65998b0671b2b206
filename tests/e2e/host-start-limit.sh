#!/bin/bash
# The unit's start limit holds while hostd works on other servers: a server whose game
# crashes at once is started at most StartLimitBurst= (5) times in StartLimitIntervalSec=
# (60 s) and then stays failed ("Start request repeated too quickly"), though another server is started and
# stopped meanwhile; and none of hostd's starts and stops reloads systemd (a Reload resets
# every unit's start-rate counter: docs/host.md).
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_cli
need_daemon host
L=/var/lib/left4me

cleanup() {
        ct l4d2ctl delete loop >/dev/null 2>&1
        ct l4d2ctl delete other >/dev/null 2>&1
        ct rm -rf $L/overlays/crasher
}
trap cleanup EXIT

runtime_on_tmpfs
game_installed
# fake-srcds crashes at start-up while <game>/fake-crash exists (exit status 1).
ct_sh "mkdir -p $L/overlays/crasher/left4dead2 && : >$L/overlays/crasher/left4dead2/fake-crash" || fail "overlay crasher"
printf 'port: 27092\noverlays: [crasher]\n' | ct l4d2ctl initialize loop -f - >/dev/null || fail "initialize loop"
printf 'port: 27093\n' | ct l4d2ctl initialize other -f - >/dev/null || fail "initialize other"

burst=$(ct systemctl show -P StartLimitBurst left4me-server@loop.service)
interval=$(ct systemctl show -P StartLimitIntervalUSec left4me-server@loop.service)
echo "the unit's limit: $burst starts in $interval"
since=$(ct date '+%Y-%m-%d %H:%M:%S')
t0=$(date +%s)
ct l4d2ctl start loop >/dev/null 2>&1 # it may already have crashed when the job ends
echo "--- while 'loop' crashes: 'other' started and stopped through hostd, over 40 s"
for i in 1 2 3 4 5 6; do
        ct l4d2ctl start other >/dev/null || fail "start other ($i)"
        ct l4d2ctl stop other >/dev/null || fail "stop other ($i)"
        sleep 5
done
# Past the point where the limit must have hit (5 starts, 5 s apart), within the interval.
while [ $(( $(date +%s) - t0 )) -lt 50 ]; do sleep 1; done

starts=$(ct journalctl --no-pager --since "$since" -u left4me-server@loop.service | grep -c "Starting left4me-server@loop")
reloads=$(ct journalctl --no-pager --since "$since" _PID=1 | grep -c "Reloading")
echo "in $(( $(date +%s) - t0 )) s: $starts starts of loop, $reloads reloads of systemd"
assert_eq 0 "$reloads" "systemd reloads caused by hostd's starts and stops"
[ "$starts" -le "$burst" ] || fail "loop was started $starts times; its limit is $burst"
[ "$starts" -ge 3 ] || fail "loop was started only $starts times: did it crash-loop at all?"
assert_eq failed "$(ct systemctl show -P ActiveState left4me-server@loop.service)" "ActiveState of loop"
assert_contains "$(ct journalctl --no-pager --since "$since" -u left4me-server@loop.service)" \
        "Start request repeated too quickly" "the journal of loop"

echo "--- an operator's start after the limit is honoured (hostd resets the failed state)"
ct rm -f $L/overlays/crasher/left4dead2/fake-crash
assert_rc 0 "start loop once fixed" ct l4d2ctl start loop
wait_for 10 sh -c "[ \"\$(nsenter -t $E2E_PID1 -a systemctl show -P SubState left4me-server@loop.service)\" = running ]" ||
        fail "loop does not run after the fix"
ok "loop runs"
exit 0
