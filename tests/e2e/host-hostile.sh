#!/bin/bash
# hostd refuses hostile specs (nothing is written), callers outside group left4me, and an
# instance.env whose lower dirs leave the allowlisted roots (the mount helper re-checks).
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_cli
need_operator
need_daemon host
L=/var/lib/left4me
runtime_on_tmpfs
# Other scenarios share the container (and its ports): leave no instance behind.
cleanup() { for n in h1 p1 p2; do ct l4d2ctl delete "$n" >/dev/null 2>&1; done; }
trap cleanup EXIT

snapshot() { ct_sh "find $L/instances $L/runtime $L/overlays -printf '%p %m %u\n' | sort"; }

ct_sh "mkdir -p $L/overlays/ok $L/overlays/esc && ln -sfn /etc $L/overlays/esc/link && ln -sfn ../../installation $L/overlays/up" ||
        fail "overlay setup"
before=$(snapshot)

spec() { ct_sh "cat >/tmp/evil.yaml"; }
refused() {
        local what=$1 field=$2 out rc=0
        out=$(ct l4d2ctl initialize evil -f /tmp/evil.yaml 2>&1) || rc=$?
        [ "$rc" = 3 ] || fail "$what: expected exit 3 (invalid), got $rc: $out"
        assert_contains "$out" "$field" "$what: error names the field"
}

echo "port: 80" | spec; refused "port outside the range" "port"
printf 'port: 27015\noverlays: [/etc]\n' | spec; refused "absolute overlay" "overlays[0]"
printf 'port: 27015\noverlays: [ok, ../installation]\n' | spec; refused "dotdot overlay" "overlays[1]"
printf 'port: 27015\noverlays: [esc/link]\n' | spec; refused "symlink escape" "overlays[0]"
printf 'port: 27015\noverlays: [up]\n' | spec; refused "symlink to a sibling root" "overlays[0]"
printf 'port: 27015\noverlays: [missing]\n' | spec; refused "missing overlay" "overlays[0]"
printf 'port: 27015\nconfig: ["sv_cheats 1\\nrcon_password x"]\n' | spec; refused "newline in a config line" "config[0]"
printf 'port: 27015\narguments: ["+map c1m1; rm -rf /"]\n' | spec; refused "whitespace in an argument" "arguments[0]"
printf 'port: 27015\na: &a [x]\nconfig: *a\n' | spec; refused "YAML alias" "YAML"
# srcds takes the last of repeated options: these would move the server off hostd's port.
printf 'port: 27033\narguments: [+hostport, "27034"]\n' | spec; refused "+hostport after hostd's" "arguments[0]: '+hostport' is set by left4me"
printf 'port: 27033\narguments: [+map, c1m1_hotel, -PORT, "27034"]\n' | spec; refused "-PORT" "arguments[2]"
printf 'port: 27033\narguments: [+ip, 10.0.0.1]\n' | spec; refused "+ip" "arguments[0]"
ct_sh "/usr/bin/python3 -c 'print(\"port: 27015\"); print(\"overlays:\"); [print(\"  - ok\") for _ in range(500)]' >/tmp/evil.yaml"
refused "500 overlays (501 layers)" "overlays"
rc=0; out=$(ct l4d2ctl initialize ../evil -f /tmp/s-ok.yaml 2>&1) || rc=$?
printf 'port: 27015\n' | ct_sh "cat >/tmp/s-ok.yaml"
rc=0; out=$(ct l4d2ctl initialize ../evil -f /tmp/s-ok.yaml 2>&1) || rc=$?
[ "$rc" = 3 ] || fail "bad name: expected 3, got $rc: $out"
ok "bad name refused: $out"
rc=0; out=$(ct l4d2ctl initialize abcdefghijklmnopqrstuvwxyz01 -f /tmp/s-ok.yaml 2>&1) || rc=$?
[ "$rc" = 3 ] || fail "a 28-character server name: expected 3, got $rc: $out"
assert_contains "$out" "at most 27 characters" "the refusal says why"
assert_eq "$before" "$(snapshot)" "nothing was written"

echo "--- callers outside group left4me"
rc=0; out=$(ct_as left4me-game l4d2ctl list 2>&1) || rc=$?
[ "$rc" = 6 ] || fail "left4me-game: expected exit 6 (denied), got $rc: $out"
ok "left4me-game refused: $out"
rc=0; out=$(ct_as nobody l4d2ctl initialize evil -f /tmp/s-ok.yaml 2>&1) || rc=$?
[ "$rc" = 6 ] || fail "nobody: expected exit 6, got $rc: $out"
ok "nobody refused"
assert_rc 0 "an operator (group left4me) may list" ct_as l4m-op l4d2ctl list
assert_eq "$before" "$(snapshot)" "nothing was written"

echo "--- one port, one instance"
printf 'port: 27040\n' | ct_sh "cat >/tmp/p1.yaml"
assert_rc 0 "initialize p1 on 27040" ct l4d2ctl initialize p1 -f /tmp/p1.yaml
rc=0; out=$(ct l4d2ctl initialize p2 -f /tmp/p1.yaml 2>&1) || rc=$?
[ "$rc" = 5 ] || fail "a second instance on 27040: expected exit 5 (conflict), got $rc: $out"
assert_contains "$out" "27040 is taken by instance 'p1'" "the conflict names the holder"
ct test -e $L/instances/p2 && fail "the refused instance p2 left files"
assert_rc 0 "re-initialize p1 on its own port" ct l4d2ctl initialize p1 -f /tmp/p1.yaml
assert_rc 0 "delete p1" ct l4d2ctl delete p1
assert_rc 0 "the freed port can be taken" ct l4d2ctl initialize p2 -f /tmp/p1.yaml
assert_rc 0 "delete p2" ct l4d2ctl delete p2

echo "--- the mount helper re-validates instance.env"
assert_rc 0 "initialize h1" ct l4d2ctl initialize h1 -f /tmp/s-ok.yaml
ct_sh "sed -i 's|^L4D2_LOWERDIRS=.*|L4D2_LOWERDIRS=/etc:$L/installation|' $L/instances/h1/instance.env"
rc=0; out=$(ct "$E2E_PREFIX/lib/left4me/left4me-hostd" mount h1 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "mount with /etc as a lower dir succeeded"
assert_contains "$out" "is not a directory below" "mount refusal"
ct mountpoint -q $L/runtime/h1/merged && fail "something got mounted"
# A bare root as a layer (every tenant's overlays at once), the installation not last, or
# twice: each refused.
for lower in "$L/overlays:$L/installation" "$L/workshop_cache:$L/installation" \
             "$L/installation:$L/overlays/ok" "$L/overlays/ok" "$L/installation:$L/installation" \
             "$L/overlays/ok:$L/installation/left4dead2"; do
        ct_sh "sed -i 's|^L4D2_LOWERDIRS=.*|L4D2_LOWERDIRS=$lower|' $L/instances/h1/instance.env"
        rc=0; out=$(ct "$E2E_PREFIX/lib/left4me/left4me-hostd" mount h1 2>&1) || rc=$?
        [ "$rc" != 0 ] || fail "mount with L4D2_LOWERDIRS=$lower succeeded"
        assert_contains "$out" "is not a directory below" "L4D2_LOWERDIRS=$lower refused" >/dev/null
        ct mountpoint -q $L/runtime/h1/merged && fail "something got mounted ($lower)"
done
ok "bare roots, a misplaced or repeated installation and a path inside it are refused"
ct_sh "sed -i 's|^L4D2_LOWERDIRS=.*|L4D2_LOWERDIRS=$L/overlays/ok:$L/installation|' $L/instances/h1/instance.env"
assert_rc 0 "the well-formed stack still mounts" ct "$E2E_PREFIX/lib/left4me/left4me-hostd" mount h1
assert_rc 0 "and unmounts" ct "$E2E_PREFIX/lib/left4me/left4me-hostd" umount h1
ct_sh "sed -i 's|^L4D2_LOWERDIRS=.*|L4D2_LOWERDIRS=$L/overlays/esc/link:$L/installation|' $L/instances/h1/instance.env"
rc=0; out=$(ct "$E2E_PREFIX/lib/left4me/left4me-hostd" mount h1 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "mount through a symlink out of overlays/ succeeded"
ok "symlink escape refused by mount: $out"
assert_rc 0 "umount of an unmounted instance is fine" ct "$E2E_PREFIX/lib/left4me/left4me-hostd" umount h1
assert_rc 0 "delete h1" ct l4d2ctl delete h1
ct_sh "rm -rf $L/overlays/ok $L/overlays/esc $L/overlays/up"
exit 0
