#!/bin/bash
# The build sandbox's limits under a real systemd. The walltime kill (RuntimeMaxSec) is
# enforced in the container and observed. MemoryMax, MemorySwapMax, TasksMax, CPUQuota and
# IPAddressDeny are NOT enforced in this container (its cgroup controllers are not
# delegated, there is no cgroup BPF; see the testbed notes): for those the tests only check
# that the running unit carries the property (systemctl show), and their names say so. A
# real fork bomb or a huge allocation is not run here: nothing would stop it.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/build-lib.sh
. "$(dirname "$0")/build-lib.sh"

need_cli
need_daemon host
need_daemon jobs
CFG=/etc/left4me/left4me.yaml
ct cp $CFG /tmp/left4me.yaml.orig || fail "save the config"
cleanup() {
        ct sh -c 'kill $(cat /tmp/build-lim.pid 2>/dev/null) 2>/dev/null'
        ct cp /tmp/left4me.yaml.orig $CFG
        ct systemctl stop left4me-host.service 2>/dev/null
        ct systemctl reset-failed left4me-host.service 2>/dev/null
        ct l4d2ctl overlay delete lim >/dev/null 2>&1
}
trap cleanup EXIT

# set_sandbox MEM TASKS CPU RUNTIME [OVERLAY_MAX]: rewrites the sandbox: line; hostd re-reads
# it on its next start (stopped here; the socket starts it again).
set_sandbox() {
        ct sed -i "s/^sandbox:.*/sandbox: {memory_max: $1, tasks_max: $2, cpu_quota: $3, runtime_max_sec: $4, overlay_max_bytes: ${5:-20G}}/" $CFG
        ct systemctl stop left4me-host.service 2>/dev/null
        ct systemctl reset-failed left4me-host.service left4me-host.socket 2>/dev/null # stopped often
        ct systemctl start left4me-host.socket
}

echo "--- the unit's properties while a build runs (configured: 3G, 100 tasks, 50%, 600 s)"
set_sandbox 3G 100 50% 600
put_script lim 'echo started; sleep 300'
ct sh -c 'l4d2ctl overlay build lim -f /tmp/lim.sh >/tmp/build-lim.log 2>&1 & echo $! >/tmp/build-lim.pid'
wait_for 10 sh -c "nsenter -t $E2E_PID1 -a grep -q started /tmp/build-lim.log" || fail "build did not start"
UNIT=$(unit_of lim)
[ -n "$UNIT" ] || fail "no unit"
show() { ct systemctl show -P "$1" "$UNIT"; }

echo "huge allocation (MemoryMax, property only: not enforced in this container)"
assert_eq 3221225472 "$(show MemoryMax)" "MemoryMax"
assert_eq 0 "$(show MemorySwapMax)" "MemorySwapMax"
assert_eq stop "$(show OOMPolicy)" "OOMPolicy"
echo "fork bomb (TasksMax, property only: not enforced in this container)"
assert_eq 100 "$(show TasksMax)" "TasksMax"
echo "CPU hog (CPUQuota, property only: not enforced in this container)"
assert_eq 500ms "$(show CPUQuotaPerSecUSec)" "CPUQuotaPerSecUSec (50%)"
echo "TCP to 127.0.0.1 and the LAN (IPAddressDeny, property only: no cgroup BPF in this container)"
deny=$(show IPAddressDeny)
for net in 127.0.0.0/8 ::/127 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 169.254.0.0/16 100.64.0.0/10 \
        224.0.0.0/4 fe80::/10 fc00::/7 ff00::/8 0.0.0.0/8; do
        case " $deny " in
        *" $net "*) ;;
        *) fail "IPAddressDeny lacks $net: $deny" ;;
        esac
done
ok "IPAddressDeny: $deny"
assert_eq "" "$(show IPAddressAllow)" "IPAddressAllow"
assert_eq 10min "$(show RuntimeMaxUSec)" "RuntimeMaxUSec"
case "$(show Slice) $(show User)" in
l4d2-build-[0-9]*.slice" left4me-build-"[0-9]*) ok "Slice, User: $(show Slice), $(show User) (a lease of the pool)" ;;
*) fail "Slice, User: $(show Slice), $(show User)" ;;
esac
lease=$(show User); [ "$(show Slice)" = "l4d2-build-${lease#left4me-build-}.slice" ] || fail "the slice is not the lease's"
assert_eq 500 "$(show OOMScoreAdjust)" "OOMScoreAdjust"
for p in NoNewPrivileges PrivateTmp PrivateDevices PrivateIPC ProtectKernelTunables ProtectKernelModules \
        ProtectKernelLogs ProtectControlGroups ProtectClock ProtectHostname RestrictSUIDSGID RestrictRealtime \
        LockPersonality MemoryDenyWriteExecute; do
        assert_eq yes "$(show $p)" "$p"
done
assert_eq strict "$(show ProtectSystem)" "ProtectSystem"
assert_eq yes "$(show ProtectHome)" "ProtectHome"
assert_eq invisible "$(show ProtectProc)" "ProtectProc"
assert_eq pid "$(show ProcSubset)" "ProcSubset"
assert_eq "" "$(show CapabilityBoundingSet)" "CapabilityBoundingSet"
assert_eq "" "$(show AmbientCapabilities)" "AmbientCapabilities"
assert_eq "AF_INET AF_INET6 AF_UNIX" "$(show RestrictAddressFamilies)" "RestrictAddressFamilies"
assert_eq "native" "$(show SystemCallArchitectures)" "SystemCallArchitectures"
# The live process: no capabilities, no_new_privs, the sandbox user.
pid=$(show MainPID)
st=$(ct cat /proc/"$pid"/status)
assert_contains "$st" "NoNewPrivs:	1" "main process NoNewPrivs"
assert_contains "$st" "CapBnd:	0000000000000000" "main process bounding set"
assert_contains "$st" "CapEff:	0000000000000000" "main process effective caps"
assert_contains "$st" "Seccomp:	2" "main process seccomp filter mode"
ct sh -c 'kill $(cat /tmp/build-lim.pid)'
wait_for 20 sh -c "! nsenter -t $E2E_PID1 -a systemctl is-active -q $UNIT" || fail "$UNIT still active"

echo "--- endless loop: the walltime kill (RuntimeMaxSec=3, enforced)"
set_sandbox 4G 512 200% 3
put_script loop 'echo looping; while :; do :; done'
t0=$(date +%s%N)
run_build lim loop
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_eq 8 "$RC" "l4d2ctl exit status (timeout)"
assert_contains "$OUT" "build of lim: timeout" "result"
[ "$ms" -ge 2800 ] && [ "$ms" -le 15000 ] || fail "the walltime kill came after ${ms} ms, not ~3 s"
ok "killed at the walltime after ${ms} ms"
p=$(build_procs) && fail "the loop survived: $p"
echo "--- the size cap of a generation (sandbox.overlay_max_bytes: 1M)"
set_sandbox 4G 512 200% 600 1M
# current: the generation overlay.list names for ID.
current() {
        ct l4d2ctl call host overlay.list |
                /usr/bin/python3 -c 'import json,sys; print("".join(str(x["generation"]) for x in json.load(sys.stdin) if x["id"] == sys.argv[1]))' "$1"
}
put_script small 'head -c 102400 /dev/urandom >"$OVERLAY/small.bin" && echo small >"$OVERLAY/which.txt"'
run_build lim small
assert_eq 0 "$RC" "a 100 KiB generation under a 1 MiB cap"
gen=$(current lim)
[ -n "$gen" ] || fail "no current generation after the small build"
sum=$(ct sha256sum $L/overlays/lim/small.bin)
put_script big 'head -c 2097152 /dev/urandom >"$OVERLAY/big.bin" && echo big >"$OVERLAY/which.txt"'
run_build lim big
assert_eq 1 "$RC" "l4d2ctl's exit status of a 2 MiB generation"
assert_contains "$OUT" "overlay 'lim' generation $((gen + 1)) is 2.0 MiB, over the cap of 1 MiB (sandbox.overlay_max_bytes)" \
        "the build's output and result say why"
assert_eq "$gen" "$(current lim)" "the previous generation stays current"
assert_eq small "$(ct cat $L/overlays/lim/which.txt)" "and is what overlays/lim shows"
assert_eq "$sum" "$(ct sha256sum $L/overlays/lim/small.bin)" "unchanged"
ct test ! -e $L/overlays/.gen/lim/$((gen + 1)) || fail "the generation over the cap was kept"
rc=0; out=$(ct l4d2ctl jobs submit overlay.build --overlay lim --script /tmp/big.sh --wait 2>&1) || rc=$?
assert_eq 1 "$rc" "the same build as a job fails"
assert_contains "$out" "job failed: build failed: overlay 'lim' generation" "the job's error names the cap"
assert_contains "$out" "over the cap of 1 MiB (sandbox.overlay_max_bytes)" "the job's error"
assert_eq "$gen" "$(current lim)" "still the previous generation"
ok "a generation over the cap is discarded, the previous one stays current"

summary "build-limits: a busy loop with runtime_max_sec=3 ended after ${ms} ms (result timeout)"
exit 0
