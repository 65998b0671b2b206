#!/bin/bash
# game.install under real systemd. steamcmd runs in transient units of its own
# (left4me-install-<n>-{windows,linux,link}.service, as left4me-steam, with the network and
# the 32-bit ABI hostd's own unit no longer has): a failing steamcmd is reported (exit 1,
# the reason in the output) and leaves no failed unit behind, two installs at once conflict,
# a caller that goes away cancels (the unit is stopped: steamcmd and what it started are
# gone, and the next install works), and a successful one streams its step markers and
# progress lines in order; steamcmd's unit is stopped when hostd dies. While steamcmd runs: its sandbox (the unit's properties, what its
# mount namespace shows, its exposure figure) and hostd's own (no network, four capabilities).
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_cli
need_daemon host
L=/var/lib/left4me
stand_ins
cleanup() { ct rm -f $L/steam/fake-steamcmd.delay $L/steam/fake-steamcmd.fail-linux; }
trap cleanup EXIT
# The install's units, loaded (running, or failed and not reset), one name a line.
install_units() { ct systemctl list-units --all --plain --no-legend 'left4me-install-*' | awk '{print $1}'; }

echo "--- a failing linux pass"
ct_sh "echo 'Invalid platform' >$L/steam/fake-steamcmd.fail-linux"
rc=0; out=$(ct l4d2ctl install 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "failing install: expected exit 1, got $rc: $out"
assert_contains "$out" "Invalid platform" "failing install output"
assert_contains "$out" "exited with status 8" "failing install reason"
assert_contains "$out" "Step: downloading linux platform payload..." "the failing install got to the linux pass"
case $out in *"Step: linking"*|*"installation complete"*) fail "steps after the failed pass ran: $out" ;; esac
wait_for 10 sh -c "[ -z \"\$(nsenter -t $E2E_PID1 -a systemctl list-units --all --plain --no-legend 'left4me-install-*')\" ]" ||
        fail "units left behind after a failed install: $(install_units)"
ok "the failed pass's unit was reset: none left"
ct rm -f $L/steam/fake-steamcmd.fail-linux

echo "--- conflict, the sandbox while steamcmd runs, and cancel"
ct_sh "echo 30 >$L/steam/fake-steamcmd.delay"
ct_sh "l4d2ctl install >/tmp/install1.log 2>&1 & echo \$! >/tmp/install1.pid"
wait_for 10 sh -c "nsenter -t $E2E_PID1 -a pgrep -u left4me-steam -f steamcmd.sh >/dev/null" || fail "steamcmd did not start"
rc=0; out=$(ct l4d2ctl install 2>&1) || rc=$?
[ "$rc" = 5 ] || fail "second install: expected exit 5 (conflict), got $rc: $out"
ok "a second install conflicts: $out"

unit=$(install_units)
case $unit in left4me-install-[0-9]*-windows.service) ok "steamcmd runs in $unit" ;;
*) fail "expected one left4me-install-<n>-windows.service, found: '$unit'" ;; esac
show() { ct systemctl show -P "$1" "$unit"; }
assert_eq active "$(show ActiveState)" "$unit ActiveState"
assert_eq left4me-steam "$(show User)" "$unit User="
assert_eq "native x86" "$(show SystemCallArchitectures)" "$unit SystemCallArchitectures= (steamcmd is 32-bit)"
assert_eq "AF_INET AF_INET6 AF_UNIX" "$(show RestrictAddressFamilies)" "$unit RestrictAddressFamilies= (downloads)"
assert_eq yes "$(show PrivateUsers)" "$unit PrivateUsers="
assert_eq "" "$(show CapabilityBoundingSet)" "$unit CapabilityBoundingSet= (none)"
pid=$(ct pgrep -o -u left4me-steam -f steamcmd.sh)
cg=$(ct cat /proc/"$pid"/cgroup)
assert_contains "$cg" "$unit" "steamcmd's cgroup"
case $cg in *left4me-host.service*) fail "steamcmd runs in hostd's cgroup: $cg" ;; esac
# Its view of paths.root: an empty read-only tmpfs with the install dir and steam's home bound in.
assert_eq "installation steam" "$(ct nsenter -t "$pid" -m ls $L | sort | tr '\n' ' ' | sed 's/ $//')" \
        "what steamcmd sees of $L"
as_steam() { ct nsenter -t "$pid" -m -S "$(ct id -u left4me-steam)" -G "$(ct id -g left4me-steam)" "$@"; }
as_steam touch $L/installation/.probe $L/steam/.probe || fail "steamcmd cannot write to the install dir or its home"
ct rm -f $L/installation/.probe $L/steam/.probe
as_steam touch $L/x 2>/dev/null &&
        fail "steamcmd can write to $L itself"
as_steam touch /usr/x 2>/dev/null &&
        fail "steamcmd can write to /usr"
ok "steamcmd writes to the install dir and its home, not to $L itself or /usr"
line=$(ct systemd-analyze security --no-pager "$unit" 2>&1 | grep 'Overall exposure level') ||
        fail "systemd-analyze security $unit gave no figure"
fig=$(echo "$line" | sed -E 's/.*: ([0-9.]+) ([A-Z]+).*/\1 \2/')
# Its ceiling, like 50-security.sh's: the measured figure (docs/security.md) plus a little slack.
summary "$(printf '  %-30s %s (%s)' "left4me-install-N-windows" "$fig" 1.5)"
awk -v a="${fig% *}" 'BEGIN { exit !(a > 1.5) }' && fail "steamcmd's unit exposure ${fig% *} is above its ceiling 1.5"
ok "steamcmd's unit: $fig"
[ -n "${VERBOSE:-}" ] && ct systemd-analyze security --no-pager "$unit" | grep -v '^✓'

# hostd itself: no network of its own, only its four capabilities (steamcmd took the rest).
hpid=$(ct systemctl show -P MainPID left4me-host.service)
[ "$hpid" != 0 ] || fail "hostd is not running during the install"
[ "$(ct readlink /proc/"$hpid"/ns/net)" != "$(ct readlink /proc/1/ns/net)" ] || fail "hostd shares the host's network namespace"
ok "hostd runs in a network namespace of its own (PrivateNetwork=)"
assert_eq "AF_UNIX" "$(ct systemctl show -P RestrictAddressFamilies left4me-host.service)" "hostd RestrictAddressFamilies="
assert_eq "native" "$(ct systemctl show -P SystemCallArchitectures left4me-host.service)" "hostd SystemCallArchitectures="
# CAP_CHOWN (0), CAP_DAC_OVERRIDE (1), CAP_FOWNER (3), CAP_SYS_ADMIN (21).
assert_eq "000000000020000b" "$(ct awk '/^CapBnd:/ {print $2}' /proc/"$hpid"/status)" "hostd's bounding set"

ct_sh 'kill -TERM $(cat /tmp/install1.pid)'
wait_for 10 sh -c "! nsenter -t $E2E_PID1 -a pgrep -u left4me-steam -f 'steamcmd|sleep' >/dev/null" ||
        fail "processes of left4me-steam survived the cancel: $(ct pgrep -a -u left4me-steam)"
ok "the caller left: steamcmd and everything it started are gone"
wait_for 10 sh -c "[ -z \"\$(nsenter -t $E2E_PID1 -a systemctl list-units --all --plain --no-legend 'left4me-install-*')\" ]" ||
        fail "units left behind after the cancel: $(install_units)"
ok "the stopped unit is gone"
wait_for 10 sh -c "nsenter -t $E2E_PID1 -a journalctl -u left4me-host.service --no-pager | grep -q 'killing steamcmd'" ||
        fail "hostd did not log the cancel: $(journal left4me-host.service | tail -n 5)"
assert_contains "$(journal left4me-host.service)" "stopping $unit" "hostd logged the cancel"

echo "--- hostd killed mid-install: steamcmd's unit goes with it (BindsTo=)"
ct_sh "l4d2ctl install >/tmp/install2.log 2>&1 &"
wait_for 10 sh -c "nsenter -t $E2E_PID1 -a pgrep -u left4me-steam -f steamcmd.sh >/dev/null" || fail "steamcmd did not start"
unit=$(install_units)
assert_eq left4me-host.service "$(ct systemctl show -P BindsTo "$unit")" "$unit BindsTo="
ct systemctl kill -s KILL left4me-host.service
wait_for 15 sh -c "! nsenter -t $E2E_PID1 -a pgrep -u left4me-steam >/dev/null" ||
        fail "steamcmd outlived hostd: $(ct pgrep -a -u left4me-steam)"
wait_for 10 sh -c "[ -z \"\$(nsenter -t $E2E_PID1 -a systemctl list-units --all --plain --no-legend 'left4me-install-*')\" ]" ||
        fail "units left behind after hostd died: $(install_units)"
ok "hostd died: its install unit was stopped, nothing of left4me-steam left, no unit left"
ct rm -f $L/steam/fake-steamcmd.delay

echo "--- a successful install: steps and progress in order"
t0=$(date +%s%N)
rc=0; out=$(ct l4d2ctl install 2>&1) || rc=$?
echo "install took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
[ "$rc" = 0 ] || fail "install after a cancel: expected exit 0, got $rc: $out"
steps=$(echo "$out" | grep '^==> Step:' | tr '\n' '|')
assert_eq "==> Step: downloading windows platform payload...|==> Step: downloading linux platform payload...|==> Step: linking steamclient.so...|==> Step: installation complete.|" \
        "$steps" "the step markers, in order"
assert_eq 2 "$(echo "$out" | grep -c 'Update state (0x61) downloading, progress: 99')" "last progress line of each pass"
assert_contains "$out" "Linked $L/steam/.steam/sdk32/steamclient.so -> $L/steam/linux32/steamclient.so" "the sdk32 link step"
assert_contains "$out" "Linked $L/steam/.steam/sdk64/steamclient.so -> $L/steam/linux64/steamclient.so" "the sdk64 link step"
# The progress lines come before the next step's marker (streamed, not collected at the end).
first_linux=$(echo "$out" | grep -n 'Step: downloading linux' | cut -d: -f1)
last_progress=$(echo "$out" | grep -n 'downloading, progress' | head -n 10 | tail -n 1 | cut -d: -f1)
[ "$last_progress" -lt "$first_linux" ] || fail "the windows pass's progress came after the linux marker"
ok "the windows pass's progress came before the linux pass began"
assert_eq "$L/steam/linux32/steamclient.so" "$(ct readlink $L/steam/.steam/sdk32/steamclient.so)" "sdk32 link"
assert_eq left4me-steam "$(ct stat -c %U $L/steam/.steam/sdk32)" "owner of the sdk dir (made by the unit, as left4me-steam)"
wait_for 10 sh -c "[ -z \"\$(nsenter -t $E2E_PID1 -a systemctl list-units --all --plain --no-legend 'left4me-install-*')\" ]" ||
        fail "units left behind after a successful install: $(install_units)"
ok "no install unit left after success"
exit 0
