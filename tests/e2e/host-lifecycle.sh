#!/bin/bash
# hostd under a real systemd: install with the fake steamcmd, initialize, start (the unit
# mounts the overlay), the merged view's layer order, quakestat sees the game, status,
# hostd restarting does not touch the server, stop unmounts, delete twice, a "reboot"
# (multi-user.target started again) brings an enabled server back mounted and running.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_cli
need_daemon host
L=/var/lib/left4me
PORT=27015
runtime_on_tmpfs

# game_up PORT: quakestat gets an A2S answer (it prints DOWN or TIMEOUT, with exit 0, otherwise).
game_up() {
        local q
        q=$(ct quakestat -a2s 127.0.0.1:"$1" -raw , -nh 2>&1) || return 1
        case $q in *DOWN* | *TIMEOUT* | *ERROR* | "") return 1 ;; esac
}

cleanup_instances() {
        ct l4d2ctl delete s1 >/dev/null 2>&1
        ct l4d2ctl delete s2 >/dev/null 2>&1
}
trap cleanup_instances EXIT

echo "--- install with the fake steamcmd (as paths.steamcmd, where steamcmd.sh lives)"
stand_ins
t0=$(date +%s%N)
out=$(ct l4d2ctl install 2>&1) || fail "install failed: $out"
echo "install took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
assert_contains "$out" "==> Step: downloading windows platform payload..." "install output"
assert_contains "$out" "==> Step: downloading linux platform payload..." "install output"
assert_contains "$out" "==> Step: installation complete." "install output"
ct test -x $L/installation/srcds_run || fail "no srcds_run in the installation"
assert_eq "left4me-steam" "$(ct stat -c %U $L/installation/srcds_run)" "owner of the installed files"
assert_eq "$L/steam/linux32/steamclient.so" "$(ct readlink $L/steam/.steam/sdk32/steamclient.so)" "sdk32 link (in left4me-steam's home)"
assert_eq "$L/steam/linux64/steamclient.so" "$(ct readlink $L/steam/.steam/sdk64/steamclient.so)" "sdk64 link"
out=$(ct l4d2ctl install 2>&1) || fail "second install (idempotent) failed: $out"
ok "install again: idempotent"

echo "--- overlays and initialize"
ct_sh "mkdir -p $L/overlays/top/left4dead2/cfg $L/overlays/bottom/left4dead2 &&
       echo top >$L/overlays/top/left4dead2/which.txt &&
       echo 'sv_from_top 1' >$L/overlays/top/left4dead2/cfg/server.cfg &&
       echo bottom >$L/overlays/bottom/left4dead2/which.txt &&
       echo bottom-only >$L/overlays/bottom/left4dead2/only-bottom.txt &&
       echo 'fake map from bottom' >$L/overlays/bottom/left4dead2/maps.txt" || fail "overlays"
ct_sh "cat >/tmp/s1.yaml" <<EOF
port: $PORT
overlays:
  - {path: top, alias: overlay_top}
  - bottom
arguments: [+map, c1m1_hotel]
config:
  - exec server_overlay_top
  - hostname "left4me e2e"
  - rcon_password secret
ignored_key: [1, 2, 3]
EOF
assert_rc 0 "initialize s1" ct l4d2ctl initialize s1 -f /tmp/s1.yaml
assert_eq "750 root left4me-game" "$(ct stat -c '%a %U %G' $L/instances/s1)" "instances/s1"
assert_eq "640 root left4me-game" "$(ct stat -c '%a %U %G' $L/instances/s1/instance.env)" "instance.env"
assert_eq "left4me-game" "$(ct stat -c %U $L/runtime/s1/upper)" "owner of runtime/s1/upper"
assert_contains "$(ct cat $L/instances/s1/instance.env)" \
        "L4D2_LOWERDIRS=$L/overlays/top:$L/overlays/bottom:$L/installation" "instance.env"

echo "--- start"
t0=$(date +%s%N)
assert_rc 0 "start s1" ct l4d2ctl start s1
echo "start took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
unit_is active left4me-server@s1.service || fail "unit not active: $(unit_state left4me-server@s1.service)"
assert_eq enabled "$(ct systemctl is-enabled left4me-server@s1.service)" "is-enabled"
ct mountpoint -q $L/runtime/s1/merged || fail "merged is not mounted"
ok "merged is mounted"
assert_eq top "$(ct cat $L/runtime/s1/merged/left4dead2/which.txt)" "top layer wins"
assert_eq bottom-only "$(ct cat $L/runtime/s1/merged/left4dead2/only-bottom.txt)" "lower layer shows through"
ct test -e $L/runtime/s1/merged/left4dead2/maps/c1m1_hotel.bsp || fail "the install is not the bottom layer"
ok "the installation shows through"
assert_contains "$(ct cat $L/runtime/s1/merged/left4dead2/cfg/server.cfg)" 'hostname "left4me e2e"' "staged server.cfg"
assert_contains "$(ct cat $L/runtime/s1/merged/left4dead2/cfg/server_overlay_top.cfg)" 'sv_from_top 1' \
        "staged server_overlay_top.cfg"

echo "--- the game answers"
wait_for 15 game_up $PORT || { journal left4me-server@s1.service; fail "quakestat never got an answer"; }
q=$(ct quakestat -a2s 127.0.0.1:$PORT -raw , -nh)
echo "quakestat: $q"
assert_contains "$q" "c1m1_hotel" "quakestat map"
assert_contains "$q" "left4me e2e" "quakestat server name"
st=$(ct l4d2ctl status s1 --json) || fail "status failed"
echo "$st"
assert_contains "$st" '"state":"running"' "status"
assert_contains "$st" '"mounted":true' "status"
assert_contains "$st" '"map":"c1m1_hotel"' "status a2s"
assert_contains "$st" "\"port\":$PORT" "status"
pid1=$(ct systemctl show -P MainPID left4me-server@s1.service)
assert_contains "$st" "\"main_pid\":$pid1" "status main pid"
ct l4d2ctl status s1
ct l4d2ctl list

echo "--- restarting hostd leaves the server alone"
ct systemctl restart left4me-host.service || fail "restart hostd"
ct systemctl stop left4me-host.service || fail "stop hostd"
sleep 1
assert_eq "$pid1" "$(ct systemctl show -P MainPID left4me-server@s1.service)" "server main pid after hostd stop"
ct mountpoint -q $L/runtime/s1/merged || fail "merged unmounted by a hostd stop"
assert_contains "$(ct l4d2ctl status s1 --json)" '"state":"running"' "status through socket activation"

echo "--- stop"
assert_rc 0 "stop s1" ct l4d2ctl stop s1
unit_is inactive left4me-server@s1.service || fail "unit not inactive: $(unit_state left4me-server@s1.service)"
ct mountpoint -q $L/runtime/s1/merged && fail "merged still mounted after stop"
ok "stop unmounted merged"
ct test -e $L/runtime/s1/work/work && fail "work/work left behind"
ok "work/work removed"
assert_eq disabled "$(ct systemctl is-enabled left4me-server@s1.service 2>/dev/null)" "is-enabled after stop"
assert_rc 0 "stop again" ct l4d2ctl stop s1

echo "--- delete twice"
assert_rc 0 "delete s1" ct l4d2ctl delete s1
ct test -e $L/instances/s1 && fail "instances/s1 still there"
ct test -e $L/runtime/s1 && fail "runtime/s1 still there"
assert_rc 0 "delete s1 again" ct l4d2ctl delete s1
assert_rc 4 "status of a deleted instance" ct l4d2ctl status s1
assert_rc 4 "start of a missing instance" ct l4d2ctl start s1

echo "--- a 'reboot': an enabled server comes back with multi-user.target"
sed "s/^port: .*/port: $((PORT + 1))/" <<EOF | ct_sh "cat >/tmp/s2.yaml"
port: 0
overlays: [bottom]
# -norestart: srcds_run's own restart loop would hide a crash from systemd (anchors.md §3.3).
arguments: [-norestart, +map, c2m1_highway]
EOF
assert_rc 0 "initialize s2" ct l4d2ctl initialize s2 -f /tmp/s2.yaml
assert_rc 0 "start s2" ct l4d2ctl start s2
ct systemctl stop left4me-server@s2.service || fail "stop s2 behind hostd's back"
ct mountpoint -q $L/runtime/s2/merged && fail "merged of s2 still mounted"
# A boot reads the unit files from disk; the running manager learns the enablement (hostd
# does not reload: docs/host.md) only from a reload.
ct systemctl daemon-reload || fail "daemon-reload"
ct systemctl start multi-user.target || fail "start multi-user.target"
wait_for 15 unit_is active left4me-server@s2.service || fail "s2 did not come back"
ct mountpoint -q $L/runtime/s2/merged || fail "s2 came back without its mount"
wait_for 15 game_up $((PORT + 1)) || fail "s2 does not answer after the reboot"
ok "s2 is back, mounted, answering"

echo "--- a restart of a crashed server re-uses the mount (Restart=on-failure)"
ct_sh "echo 3 >$L/runtime/s2/merged/left4dead2/fake-crash" || fail "fake-crash"
sub_is() { [ "$(ct systemctl show -P SubState left4me-server@s2.service)" = "$1" ]; }
wait_for 15 sub_is auto-restart || { journal left4me-server@s2.service; fail "no auto-restart after a crash"; }
ct mountpoint -q $L/runtime/s2/merged && fail "merged still mounted while waiting to restart"
ok "crashed: unmounted, waiting to restart"
# The control file went to the upper dir; remove it there before the restart mounts again.
ct rm -f $L/runtime/s2/upper/left4dead2/fake-crash
wait_for 20 unit_is active left4me-server@s2.service || { journal left4me-server@s2.service; fail "s2 not active after its restart"; }
ct mountpoint -q $L/runtime/s2/merged || fail "s2 has no mount after its restart"
wait_for 15 game_up $((PORT + 1)) || fail "s2 does not answer after its restart"
assert_eq 1 "$(ct systemctl show -P NRestarts left4me-server@s2.service)" "NRestarts"
assert_contains "$(ct l4d2ctl status s2 --json)" '"restarts":1' "status shows the restart"
assert_rc 0 "reset s2" ct l4d2ctl reset s2
ct test -e $L/runtime/s2 && fail "runtime/s2 still there after reset"
ct grep -q "$L/runtime/s2" /proc/self/mountinfo && fail "a mount of s2 is left"
ok "nothing of s2 is left"
exit 0
