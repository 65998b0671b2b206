#!/bin/bash
# runtime/ on a file system that cannot hold an overlay's upper dir (here: an overlayfs, as
# the container's own /): `l4d2ctl start` fails with that cause in its own output, and the
# unit is left stopped and disabled instead of retrying in auto-restart. After the cause is
# gone, the same start works.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_cli
need_daemon host
L=/var/lib/left4me
NAME=badfs
UNIT=left4me-server@$NAME.service
BAD=/run/left4me-e2e-badfs

cleanup() {
        ct l4d2ctl stop $NAME >/dev/null 2>&1
        ct umount $L/runtime/$NAME 2>/dev/null
        ct l4d2ctl delete $NAME >/dev/null 2>&1
        ct umount $BAD 2>/dev/null
        ct rm -rf $BAD
}
trap cleanup EXIT

runtime_on_tmpfs
game_installed

echo "--- runtime/$NAME on an overlayfs"
# An overlayfs needs its own upper dir on a real file system: a small tmpfs.
ct_sh "mkdir -p $BAD && mount -t tmpfs tmpfs $BAD && mkdir $BAD/lower $BAD/upper $BAD/work &&
       chown root:left4me-game $BAD/upper && chmod 0750 $BAD/upper &&
       mkdir -p $L/runtime/$NAME &&
       mount -t overlay overlay -o lowerdir=$BAD/lower,upperdir=$BAD/upper,workdir=$BAD/work $L/runtime/$NAME" ||
        fail "overlayfs on runtime/$NAME"
assert_eq overlayfs "$(ct stat -f -c %T $L/runtime/$NAME)" "file system of runtime/$NAME"
printf 'port: 27090\n' | ct_sh "cat >/tmp/$NAME.yaml"
ct l4d2ctl initialize $NAME -f /tmp/$NAME.yaml >/dev/null || fail "initialize"

rc=0; out=$(ct l4d2ctl start $NAME 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "start on an overlayfs runtime/: expected exit 1, got $rc: $out"
assert_contains "$out" "runtime/$NAME is on an overlayfs" "the start error names the cause"
assert_contains "$out" "stopped and disabled" "the start error says what became of the unit"
ok "start failed with: $out"
# Restart=on-failure would try again after RestartSec=: it must stay down.
sleep 3
state=$(ct systemctl show -P ActiveState $UNIT)
assert_eq inactive "$state" "ActiveState of $UNIT 3 s later"
assert_eq disabled "$(ct systemctl is-enabled $UNIT 2>/dev/null)" "$UNIT is disabled"
ct test -e $L/runtime/$NAME/mount-error || fail "runtime/$NAME/mount-error is missing"
assert_eq "root" "$(ct stat -c %U $L/runtime/$NAME/mount-error)" "owner of mount-error"

echo "--- the cause removed: the same start works, and the reason is gone"
ct umount $L/runtime/$NAME || fail "umount the overlayfs"
ct rm -rf $L/runtime/$NAME
out=$(ct l4d2ctl start $NAME 2>&1) || fail "start after the fix: $out"
wait_for 10 ct systemctl is-active -q $UNIT || fail "$UNIT is not active"
ct test -e $L/runtime/$NAME/mount-error && fail "a stale mount-error is left after a good mount"
ok "started once runtime/ was on a usable file system"
exit 0
