#!/bin/bash
# tests/e2e/package.sh DEB: the Debian package under a real systemd, in a container of its
# own (not run.sh's, which installs with make install): install the .deb, the suite is
# socket-activated at once; a stand-in server runs; an upgrade to a higher version (the same
# files repacked as VERSION+1) keeps it running and keeps the state; remove keeps the state;
# purge deletes it. `make test-package` builds the .deb and runs this.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

deb=${1:?usage: package.sh DEB}
[ -f "$deb" ] || { echo "package.sh: no $deb (make deb)" >&2; exit 1; }
why=$(e2e_cannot_boot)
if [ -n "$why" ]; then
        echo "package: SKIPPED: cannot boot a systemd container here: $why" >&2
        [ -z "${CI:-}" ]
        exit
fi
trap 'e2e_teardown "${E2E_DIR:-}"' EXIT
trap 'exit 130' INT TERM HUP
e2e_boot "left4me-pkg-$$" --private-network --system-call-filter="landlock_create_ruleset landlock_restrict_self" ||
        exit 1
L=/var/lib/left4me

# The host's own make-install copy (if any) must not be what runs: the package's files only.
rm -rf "$E2E_ROOT/usr/local/lib/left4me" "$E2E_ROOT/usr/local/bin/l4d2ctl" \
        "$E2E_ROOT"/usr/local/lib/systemd/system/left4me* "$E2E_ROOT"/usr/local/lib/systemd/system/l4d2*
# A Docker-made host image carries a policy-rc.d that forbids starting services (exit 101);
# a real Debian host has none, and the package's postinst must be seen starting its sockets.
rm -f "$E2E_ROOT/usr/sbin/policy-rc.d"
mkdir -p "$E2E_ROOT/srv"
cp "$deb" "$E2E_ROOT/srv/left4me.deb"
# The same package with a higher version: what an upgrade installs.
ver=$(dpkg-deb -f "$deb" Version)
work=$(mktemp -d)
dpkg-deb -R "$deb" "$work/pkg"
sed -i "s/^Version: .*/Version: $ver+1/" "$work/pkg/DEBIAN/control"
dpkg-deb -b --root-owner-group "$work/pkg" "$E2E_ROOT/srv/left4me-next.deb" >/dev/null
rm -rf "$work"

echo "--- install: the sockets listen at once, the daemons start on the first call"
out=$(ct dpkg -i /srv/left4me.deb 2>&1) || fail "dpkg -i: $out"
assert_contains "$(ct dpkg-query -W -f '${Status} ${Version}' left4me)" "install ok installed $ver" "installed"
for s in host jobs logs web; do
        assert_eq active "$(ct systemctl is-active left4me-$s.socket)" "left4me-$s.socket"
done
assert_eq inactive "$(ct systemctl is-active left4me-host.service)" "hostd waits for its first call"
assert_eq /usr/bin/l4d2ctl "$(ct sh -c 'command -v l4d2ctl')" "l4d2ctl from the package"
assert_contains "$(ct l4d2ctl ping host)" "left4me-hostd" "hostd answers through socket activation"
assert_contains "$(ct sh -c 'man -w l4d2ctl 2>&1 || ls /usr/share/man/man1/l4d2ctl.1*')" "l4d2ctl.1" "the man page"
ct test -f /usr/share/bash-completion/completions/l4d2ctl || fail "no bash completion"
ct test -f /etc/left4me/left4me.yaml || fail "no config"
ok "installed from the .deb"

echo "--- a stand-in server (the fixtures, installed beside the package)"
make -s -C "$E2E_REPO" BUILD="${BUILD:-$E2E_REPO/build}" PREFIX=/usr DESTDIR="$E2E_ROOT" install-fixtures >/dev/null ||
        fail "install-fixtures"
E2E_PREFIX=/usr
runtime_on_tmpfs
stand_ins
out=$(ct l4d2ctl install 2>&1) || fail "install: $out"
ct_sh "printf 'port: 27015\n' >/tmp/p1.yaml && chmod 644 /tmp/p1.yaml"
ct l4d2ctl initialize p1 -f /tmp/p1.yaml >/dev/null || fail "initialize p1"
ct l4d2ctl start p1 >/dev/null || fail "start p1"
pid=$(ct systemctl show -p MainPID --value left4me-server@p1.service)
inv=$(ct systemctl show -p InvocationID --value left4me-server@p1.service)
[ -n "$pid" ] && [ "$pid" != 0 ] || fail "p1 has no main process"
ct_sh "mkdir -p $L/overlays/keep && echo seed > $L/overlays/keep/x" || fail "an overlay by hand"
ok "p1 runs (pid $pid)"

echo "--- upgrade while p1 runs: it keeps running, the state stays"
out=$(ct dpkg -i /srv/left4me-next.deb 2>&1) || fail "upgrade: $out"
assert_contains "$(ct dpkg-query -W -f '${Version}' left4me)" "$ver+1" "upgraded"
assert_eq "$pid" "$(ct systemctl show -p MainPID --value left4me-server@p1.service)" "p1's process survived"
assert_eq "$inv" "$(ct systemctl show -p InvocationID --value left4me-server@p1.service)" "p1's run survived"
assert_contains "$(ct l4d2ctl status p1)" "running" "p1 after the upgrade"
ct test -f "$L/instances/p1/instance.env" || fail "the instance went in the upgrade"
assert_eq seed "$(ct cat "$L/overlays/keep/x")" "the overlays after the upgrade"
ct l4d2ctl jobs list >/dev/null || fail "jobd after the upgrade"
ok "upgraded with p1 running"

echo "--- remove keeps the state; purge deletes it"
ct l4d2ctl stop p1 >/dev/null || fail "stop p1"
out=$(ct dpkg -r left4me 2>&1) || fail "dpkg -r: $out"
ct test -e /usr/bin/l4d2ctl && fail "l4d2ctl is still there after remove"
ct test -f "$L/instances/p1/instance.env" || fail "remove deleted the state"
ct test -f /etc/left4me/left4me.yaml || fail "remove deleted the conffile"
# The test's tmpfs on runtime/ (an overlay cannot sit on the container's overlay root) is
# the test's own; purge's --one-file-system would rightly leave it alone.
ct umount "$L/runtime" 2>/dev/null || true
out=$(ct dpkg --purge left4me 2>&1) || fail "purge: $out"
ct test -e "$L" && fail "$L is still there after purge"
ct test -e /etc/left4me/left4me.yaml && fail "the config is still there after purge"
ok "removed (state kept), purged (state gone)"
summary "package: install, run, upgrade $ver → $ver+1 with a server running, remove, purge"
echo "package: all checks passed"
