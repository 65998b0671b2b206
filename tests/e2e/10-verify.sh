#!/bin/bash
# Every installed unit passes `systemd-analyze verify` inside the container; the server
# template as an instance. Also: the sysusers/tmpfiles files are found where installed.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

udir=$E2E_PREFIX/lib/systemd/system
units=()
for u in $E2E_UNITS; do
        need_file "$udir/$u" "unit $u (units/)"
        units+=("$udir/$u")
done
need_file "$udir/left4me-server@.service" "the server template (units/)"

# verify also checks that ExecStart= programs exist: a server's srcds_run only exists
# once hostd has mounted its overlay, so give the test instance a stand-in for the check.
ct mkdir -p /var/lib/left4me/runtime/test/merged
ct ln -sfn /bin/true /var/lib/left4me/runtime/test/merged/srcds_run
trap 'ct rm -rf /var/lib/left4me/runtime/test' EXIT

rc=0
out=$(ct systemd-analyze verify --no-pager "${units[@]}" left4me-server@test.service 2>&1) || rc=$?
echo "$out"
# Only our units' complaints count (verify also loads the host's units they refer to).
ours=$(echo "$out" | grep -E 'left4me|l4d2' || true)
[ "$rc" = 0 ] || fail "systemd-analyze verify exited $rc"
[ -z "$ours" ] || fail "systemd-analyze verify complained about our units: $ours"
ok "systemd-analyze verify: ${#units[@]} units + left4me-server@test.service clean"

# The drop-in search paths of systemd 252 include /usr/local/lib/{sysusers,tmpfiles}.d.
assert_contains "$(ct systemd-analyze cat-config sysusers.d 2>&1)" "$E2E_PREFIX/lib/sysusers.d/left4me.conf" \
        "sysusers.d search path"
assert_contains "$(ct systemd-analyze cat-config tmpfiles.d 2>&1)" "$E2E_PREFIX/lib/tmpfiles.d/left4me.conf" \
        "tmpfiles.d search path"

# Units load without errors, and left4me.target pulls in all five sockets.
for u in $E2E_UNITS left4me-server@test.service; do
        assert_eq loaded "$(ct systemctl show -P LoadState "$u")" "LoadState of $u"
done
assert_eq enabled "$(ct systemctl is-enabled left4me.target)" "left4me.target enabled"
for s in left4me-host.socket left4me-jobs.socket left4me-logs.socket left4me-web.socket left4me-web-rpc.socket; do
        assert_eq active "$(unit_state "$s")" "$s"
done
# No Requires= between the daemons: each degrades alone.
for s in $E2E_SERVICES; do
        req=$(ct systemctl show -P Requires "left4me-$s.service")
        case $req in *left4me-*.service*) fail "left4me-$s.service Requires= another service: $req" ;; esac
done
ok "no service Requires= another service"
# The web service gets both sockets, named.
assert_contains "$(ct systemctl show -P Triggers left4me-web-rpc.socket)" left4me-web.service "web rpc socket triggers"
assert_eq "l4m-test" "$(ct systemctl show -P User left4me-server@test.service)" "server User= (a dynamic user per server)"
assert_eq "yes" "$(ct systemctl show -P DynamicUser left4me-server@test.service)" "server DynamicUser="
assert_eq "l4d2-game.slice" "$(ct systemctl show -P Slice left4me-server@test.service)" "server Slice="
# Properties cgroup-delegation-less containers do not enforce: only check they are set.
assert_eq 2147483648 "$(ct systemctl show -P MemoryMax left4me-server@test.service)" "server MemoryMax= (set; not enforced in the container)"
assert_eq 256 "$(ct systemctl show -P TasksMax left4me-server@test.service)" "server TasksMax= (set; not enforced in the container)"
assert_eq 2 "$(ct systemctl show -P KillSignal left4me-server@test.service)" "server KillSignal=SIGINT"
