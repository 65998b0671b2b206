#!/bin/bash
# A stale overlay mount does not block delete/reset: a server is stopped, its overlay is
# mounted again by hand in the host's namespace (as a failed ExecStopPost would leave it),
# and delete (then reset, for a second instance) unmounts it through hostd's transient
# left4me-umount-NAME.service and removes everything. Also: a member of group left4me (not
# root) reads the stored spec with `l4d2ctl spec` and re-submits it with `start --queue`.
# When the unmount cannot run, delete still answers conflict and removes nothing.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_cli
need_operator
need_daemon host
HOSTD=$E2E_PREFIX/lib/left4me/left4me-hostd
L=/var/lib/left4me
PORT=27040
runtime_on_tmpfs

cleanup() {
        for n in sm1 sm2 sm3; do
                ct systemctl stop left4me-umount-"$n".service >/dev/null 2>&1
                ct "$HOSTD" umount "$n" >/dev/null 2>&1
                ct l4d2ctl delete "$n" >/dev/null 2>&1
        done
}
trap cleanup EXIT

game_installed
ct_sh "mkdir -p $L/overlays/smtop/left4dead2 && echo smtop >$L/overlays/smtop/left4dead2/which.txt" || fail "overlay"

# mounted NAME: runtime/NAME/merged is a mount in the host's (PID 1's) namespace.
mounted() { ct grep -q " $L/runtime/$1/merged " /proc/1/mountinfo; }
# nothing_left NAME: no mount, no files, no transient unit.
nothing_left() {
        local n=$1
        mounted "$n" && fail "runtime/$n/merged is still mounted"
        ct test -e $L/runtime/"$n" && fail "runtime/$n is still there"
        ct test -e $L/instances/"$n" && fail "instances/$n is still there"
        [ -z "$(ct systemctl list-units --all --no-legend "left4me-umount-$n.service")" ] ||
                fail "left4me-umount-$n.service is left in systemd"
        ok "nothing of $n is left (no mount, no files, no unit)"
}

# stale NAME OFFSET: initialize, start, stop, then mount the overlay again by hand.
stale() {
        local n=$1 port=$((PORT + $2))
        printf 'port: %s\noverlays: [smtop]\narguments: [+map, c1m1_hotel]\n' "$port" | ct_sh "cat >/tmp/$n.yaml"
        assert_rc 0 "initialize $n" ct l4d2ctl initialize "$n" -f /tmp/"$n".yaml
        assert_rc 0 "start $n" ct l4d2ctl start "$n"
        mounted "$n" || fail "$n: not mounted while running"
        assert_rc 0 "stop $n" ct l4d2ctl stop "$n"
        mounted "$n" && fail "$n: still mounted after stop"
        assert_rc 0 "mount $n by hand" ct "$HOSTD" mount "$n"
        mounted "$n" || fail "$n: the mount by hand is not there"
        assert_eq smtop "$(ct cat $L/runtime/"$n"/merged/left4dead2/which.txt)" "$n: merged by hand"
        assert_contains "$(ct l4d2ctl status "$n" --json)" '"mounted":true' "$n: hostd sees the stale mount"
        assert_eq inactive "$(unit_state left4me-server@"$n".service)" "$n: the unit"
}

echo "--- a group member (not root) reads the stored spec and re-submits it"
printf 'port: %s\noverlays: [smtop]\narguments: [+map, c1m1_hotel]\n' "$PORT" | ct_sh "cat >/tmp/sm1.yaml"
assert_rc 0 "initialize sm1" ct l4d2ctl initialize sm1 -f /tmp/sm1.yaml
assert_eq "$(ct cat /tmp/sm1.yaml)" "$(ct_as l4m-op l4d2ctl spec sm1)" "l4d2ctl spec sm1 as an operator"
# nobody cannot read /etc/left4me/left4me.yaml: a readable copy, so the refusal is the socket's.
ct_sh "install -m 0644 /etc/left4me/left4me.yaml /tmp/nobody.yaml" || fail "config copy"
out=$(ct_as nobody l4d2ctl --config /tmp/nobody.yaml spec sm1 2>&1) && fail "spec as nobody succeeded: $out"
assert_rc 6 "l4d2ctl spec as nobody" ct_as nobody l4d2ctl --config /tmp/nobody.yaml spec sm1
case $out in *port:*) fail "nobody got the spec: $out" ;; esac
assert_rc 6 "start --queue (stored spec) as nobody" ct_as nobody l4d2ctl --config /tmp/nobody.yaml start sm1 --queue
assert_rc 4 "l4d2ctl spec of a missing instance" ct_as l4m-op l4d2ctl spec smnever
out=$(ct_as l4m-op l4d2ctl start sm1 --queue 2>&1) || fail "start sm1 --queue as an operator failed: $out"
assert_contains "$out" "succeeded" "start --queue (stored spec) as an operator"
unit_is active left4me-server@sm1.service || fail "sm1 not active after start --queue"
assert_rc 4 "start --queue of a missing instance as an operator" ct_as l4m-op l4d2ctl start smnever --queue
assert_rc 0 "stop sm1" ct l4d2ctl stop sm1
assert_rc 0 "delete sm1" ct l4d2ctl delete sm1

echo "--- delete with a stale mount"
stale sm1 0
t0=$(date +%s%N)
assert_rc 0 "delete sm1 with a stale mount" ct l4d2ctl delete sm1
echo "delete with the unmount took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
nothing_left sm1
assert_contains "$(journal left4me-host.service)" "unmounting it with left4me-umount-sm1.service" "hostd's journal"
assert_contains "$(journal left4me-umount-sm1.service)" "Unmounted runtime/sm1/merged" "the unmount unit's journal"

echo "--- reset with a stale mount"
stale sm2 1
assert_rc 0 "reset sm2 with a stale mount" ct l4d2ctl reset sm2
nothing_left sm2
echo "--- the unmount cannot run (its unit name is taken): conflict, nothing removed"
stale sm3 2
ct systemd-run --quiet --unit=left4me-umount-sm3 sleep 60 || fail "systemd-run the squatter"
rc=0; out=$(ct l4d2ctl delete sm3 2>&1) || rc=$?
assert_eq 5 "$rc" "exit status of delete sm3 while the unmount cannot run ($out)"
assert_contains "$out" "left4me-umount-sm3.service" "the conflict names the unmount unit"
mounted sm3 || fail "sm3: the mount went away"
ct test -e $L/instances/sm3/spec.yaml || fail "sm3: files removed despite the conflict"
assert_eq smtop "$(ct cat $L/runtime/sm3/merged/left4dead2/which.txt)" "sm3: merged intact after the conflict"
ct systemctl stop left4me-umount-sm3.service || fail "stop the squatter"
assert_rc 0 "delete sm3 once the name is free" ct l4d2ctl delete sm3
nothing_left sm3
summary "host-stale-mount: delete/reset unmount a stale overlay through a transient unit"
exit 0
