#!/bin/bash
# sysusers/tmpfiles give the owners and modes docs/security.md promises, and only members
# of group left4me (and root) get through the sockets.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

echo "--- users"
assert_eq "left4me:/var/lib/left4me:/usr/sbin/nologin" \
        "$(ct getent passwd left4me | cut -d: -f1,6,7)" "user left4me"
for u in left4me-game left4me-build; do
        ct getent passwd "$u" >/dev/null || fail "user $u missing"
        groups=$(ct id -Gn "$u")
        case " $groups " in *" left4me "*) fail "$u is in group left4me: it could use the sockets" ;; esac
        ok "$u exists, groups: $groups"
done
ct getent group systemd-journal >/dev/null || fail "group systemd-journal missing"
assert_contains "$(ct systemctl show -P SupplementaryGroups left4me-logs.service)" systemd-journal \
        "logd SupplementaryGroups"

echo "--- directories and files (mode owner group)"
expect() {
        local path=$1 want=$2 got
        got=$(ct stat -c '%a %U %G' "$path" 2>&1) || fail "$path: $got"
        assert_eq "$want" "$got" "$path"
}
expect /run/left4me                      "755 root left4me"
expect /etc/left4me                      "750 root left4me"
expect /etc/left4me/left4me.yaml         "640 root left4me"
expect /var/lib/left4me                  "755 left4me left4me"
expect /var/lib/left4me/installation     "755 left4me left4me"
expect /var/lib/left4me/steam            "755 left4me left4me"
expect /var/lib/left4me/overlays         "755 root root"
expect /var/lib/left4me/workshop_cache   "755 left4me-build left4me-build"
expect /var/lib/left4me/instances        "755 root root"
expect /var/lib/left4me/runtime          "755 root root"
expect /var/lib/left4me/tmp              "700 left4me left4me"
for s in host jobs logs web; do expect "/run/left4me/$s.sock" "660 root left4me"; done
# The databases, once their daemon has created them.
for db in jobs.db web.db; do
        if ct test -e "/var/lib/left4me/$db"; then expect "/var/lib/left4me/$db" "600 left4me left4me"
        else echo "note: /var/lib/left4me/$db not created yet (its daemon has not run)"; fi
done

echo "--- who may use the sockets"
need_cli
for s in host jobs logs web; do
        need_daemon "$s"
        assert_rc 0 "root: ping $s" ct l4d2ctl ping "$s"
        assert_rc 0 "left4me (group member): ping $s" ct_as left4me l4d2ctl ping "$s"
        for u in nobody left4me-game left4me-build; do
                rc=0; out=$(ct_as "$u" l4d2ctl ping "$s" 2>&1) || rc=$?
                case $rc in
                6 | 7) ;;
                *) fail "$u: ping $s: expected exit 6 (denied) or 7, got $rc: $out" ;;
                esac
                [ -n "$out" ] || fail "$u: ping $s: refused without a message"
                ok "$u refused by $s.sock: exit $rc: $(echo "$out" | head -n 1)"
        done
done
# The HTTP socket is for everyone on the host (webd does its own authentication).
assert_rc 0 "nobody: GET /health over HTTP" ct_as nobody curl -fsS -m 10 -o /dev/null http://127.0.0.1:8080/health
