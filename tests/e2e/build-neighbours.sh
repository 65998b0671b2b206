#!/bin/bash
# Two builds against each other (issue 12): each build runs as a user of its own from the pool
# (docs/sandbox.md, "One uid per build"), so a build cannot find, signal, trace or enter
# another one through /proc/PID/root, though both run at once. With the one shared build
# user of before, every attempt below but ptrace succeeded (ProtectProc=invisible hides only
# other uids). Then the same against a build an earlier hostd started and lost (hostd killed):
# the new hostd must not lease that build's uid while its processes live, and with 15 more
# builds beside it the pool is dry: a 17th is refused.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/build-lib.sh
. "$(dirname "$0")/build-lib.sh"

need_cli
need_daemon host
cleanup() {
        for id in nb-victim nb-orphan; do ct touch "$(building $id)/stop" 2>/dev/null; done
        sleep 1
        for id in $(seq -f 'nb-p%g' 1 15); do ct touch "$(building $id)/stop" 2>/dev/null; done
        sleep 1
        for id in nb-victim nb-orphan nb-attacker $(seq -f 'nb-p%g' 1 15); do
                ct l4d2ctl overlay delete $id >/dev/null 2>&1
        done
}
trap cleanup EXIT

# victim ID: starts a build of ID in the background that writes a secret into its overlay and
# waits for the file "stop" there (the test makes it from the host); sets VUNIT, VPID, VUSER.
victim() {
        local id=$1
        put_script "$id" 'echo SECRET-NEIGHBOUR >/overlay/secret; echo started
while [ ! -e /overlay/stop ]; do sleep 0.2; done; echo stopped'
        ct sh -c "l4d2ctl overlay build $id -f /tmp/$id.sh >/tmp/$id.log 2>&1; echo \$? >/tmp/$id.rc" &
        wait_for 20 sh -c "nsenter -t $E2E_PID1 -a grep -q started /tmp/$id.log" || fail "$id did not start"
        VUNIT=$(unit_of "$id")
        [ -n "$VUNIT" ] || fail "no unit for $id"
        VPID=$(ct systemctl show -P MainPID "$VUNIT")
        VUSER=$(ct systemctl show -P User "$VUNIT")
        echo "$id: $VUNIT, pid $VPID, user $VUSER"
        case $VUSER in left4me-build-[0-9]*) ;; *) fail "$id runs as '$VUSER', not a pool user" ;; esac
        [ "$(ct stat -c %U /proc/"$VPID")" = "$VUSER" ] || fail "$id's process is not its lease's"
}

# attack: a hostile build of nb-attacker against the victim's process VPID.
attack() {
        hostile nb-attacker "$1" "
try 'see the other build in /proc' ls /proc/$VPID
try 'find a process of another build' sh -c 'for p in /proc/[0-9]*; do [ \"\$(stat -c %u \$p)\" = \"\$(id -u)\" ] || { echo \$p; exit 0; }; done; exit 1'
try 'read its overlay through /proc/PID/root' cat /proc/$VPID/root/overlay/secret
try 'write its overlay through /proc/PID/root' sh -c 'echo x >/proc/$VPID/root/overlay/planted'
try 'read its environment' cat /proc/$VPID/environ
try 'signal it (kill -0)' kill -0 $VPID
try 'stop it (SIGSTOP)' kill -STOP $VPID
try 'kill it' kill -KILL $VPID
try 'ptrace(PTRACE_ATTACH) it' sys 101 16 $VPID 0 0
echo \"attacker: uid \$(id -u)\""
        AUSER=$(echo "$OUT" | sed -n 's/.*(as \(left4me-build-[0-9][0-9]*\),.*/\1/p' | head -n 1)
        [ -n "$AUSER" ] || fail "the attacker's build user is not in its output"
        [ "$AUSER" != "$VUSER" ] || fail "attacker and victim share the build user $VUSER"
        ok "attacker ran as $AUSER, the victim as $VUSER"
        ct kill -0 "$VPID" || fail "the victim is gone"
        case $(ct ps -o stat= -p "$VPID") in T*) fail "the victim was stopped" ;; esac
}

# Each overlay exists before the snapshots (creating one changes overlays/'s mtime).
put_script warmup "echo warm"
for id in nb-attacker nb-victim nb-orphan; do
        run_build $id warmup
        [ "$RC" = 0 ] || fail "a trivial build of $id failed"
done

echo "--- two builds at once"
victim nb-victim
attack neighbour
echo "--- kill -KILL -1 from a build"
put_script killall 'echo before; kill -KILL -1; sleep 1; echo "after: still here"'
run_build nb-attacker killall
ct kill -0 "$VPID" || fail "kill -KILL -1 from another build killed the victim"
ok "kill -KILL -1 in one build left the other running"
ct touch "$(building nb-victim)/stop"
wait_for 20 sh -c "nsenter -t $E2E_PID1 -a test -s /tmp/nb-victim.rc" || fail "the victim did not end"
assert_eq 0 "$(ct cat /tmp/nb-victim.rc)" "the victim's build"
assert_eq "SECRET-NEIGHBOUR" "$(ct cat $L/overlays/nb-victim/secret)" "the victim's file"
ct test ! -e $L/overlays/nb-victim/planted || fail "the attacker wrote into the victim's overlay"
assert_eq "left4me-build left4me-build" "$(ct stat -c '%U %G' $L/overlays/nb-victim/secret)" \
        "the published file's owner (the fixed one, not the lease)"
[ -z "$(ct find $L/overlays -user "$VUSER" -o -user "$AUSER" | head -n 3)" ] ||
        fail "files still owned by a build user after publishing: $(ct find $L/overlays -user "$VUSER" -o -user "$AUSER")"
ok "published overlays are owned by left4me-build only"

echo "--- a build an earlier hostd started keeps its user to itself"
# A fresh hostd leases from the start of the pool: the orphan gets the first free user,
# which the next hostd, knowing nothing of it, would hand out again but for the slice check.
ct systemctl stop left4me-host.service
victim nb-orphan
ct systemctl kill -s KILL left4me-host.service
wait_for 10 sh -c "! nsenter -t $E2E_PID1 -a systemctl is-active -q left4me-host.service" || fail "hostd still runs"
ct systemctl reset-failed left4me-host.service 2>/dev/null
ct systemctl start left4me-host.socket
assert_eq active "$(unit_state "$VUNIT")" "the orphaned build $VUNIT"
attack orphan

echo "--- the pool runs dry: 15 more builds beside the orphan, then a refusal"
for i in $(seq 1 15); do
        put_script nb-p$i 'echo started; while [ ! -e /overlay/stop ]; do sleep 0.5; done'
        ct sh -c "l4d2ctl overlay build nb-p$i -f /tmp/nb-p$i.sh >/tmp/nb-p$i.log 2>&1" &
done
wait_for 60 sh -c "[ \$(nsenter -t $E2E_PID1 -a sh -c 'grep -l started /tmp/nb-p*.log' | wc -l) = 15 ]" ||
        fail "15 builds did not all start"
users=$(for u in $(ct systemctl list-units --no-legend --plain 'left4me-build-*' | awk '{print $1}'); do
        ct systemctl show -P User "$u"; done | sort -u)
assert_eq 16 "$(echo "$users" | grep -c '^left4me-build-[0-9]')" "distinct build users running (15 and the orphan)"
run_build nb-attacker warmup
assert_eq 7 "$RC" "l4d2ctl's exit status for a 17th build (unavailable)"
assert_contains "$OUT" "all 16 build users are in use" "the refusal"
for i in $(seq 1 15); do ct touch "$(building nb-p$i)/stop"; done
wait_for 30 sh -c "[ -z \"\$(nsenter -t $E2E_PID1 -a systemctl list-units --no-legend --plain 'left4me-build-nb-p*')\" ]" ||
        fail "the 15 builds did not end"
ct touch "$(building nb-orphan)/stop"
wait_for 20 sh -c "! nsenter -t $E2E_PID1 -a systemctl is-active -q $VUNIT" || fail "the orphan did not end"
ct systemctl reset-failed "$VUNIT" 2>/dev/null
ok "a build lost by hostd kept its user; the next build got another; 16 at once, no 17th"
exit 0
