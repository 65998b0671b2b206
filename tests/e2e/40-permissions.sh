#!/bin/bash
# sysusers/tmpfiles give the owners and modes docs/security.md promises, and only members
# of group left4me (operators), root and the daemons that are clients get through the sockets;
# each database is readable by its daemon only.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

echo "--- users and groups (docs/architecture.md, \"Users, groups and paths\")"
ct getent group left4me >/dev/null || fail "group left4me (the operators) missing"
ct getent passwd left4me >/dev/null && fail "there is still a user left4me: the daemons have users of their own"
# Its members are people (other scenarios add operators); no daemon's user is one.
members=",$(ct getent group left4me | cut -d: -f4),"
POOL=$(seq -f 'left4me-build-%g' 0 15 | tr '\n' ' ')
for u in left4me-jobs left4me-logs left4me-web left4me-steam left4me-game left4me-build $POOL; do
        ct getent passwd "$u" >/dev/null || fail "user $u missing"
        groups=$(ct id -Gn "$u")
        case " $groups " in *" left4me "*) fail "$u is in group left4me in /etc/group" ;; esac
        case $members in *",$u,"*) fail "$u is listed in group left4me" ;; esac
        ok "$u exists, groups: $groups"
done
assert_eq "/var/lib/left4me/steam" "$(ct getent passwd left4me-steam | cut -d: -f6)" "left4me-steam's home"
# Each daemon its own uid; the clients among them reach the sockets through their unit's group.
declare -A want_user=([jobs]=left4me-jobs [logs]=left4me-logs [web]=left4me-web)
for s in jobs logs web; do
        assert_eq "${want_user[$s]}" "$(ct systemctl show -P User "left4me-$s.service")" "left4me-$s.service User="
        assert_contains "$(ct systemctl show -P SupplementaryGroups "left4me-$s.service")" left4me \
                "left4me-$s.service SupplementaryGroups"
done
assert_eq "" "$(ct systemctl show -P User left4me-host.service)" "hostd runs as root"
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
expect /var/lib/left4me                  "755 root root"
expect /var/lib/left4me/jobs             "700 left4me-jobs left4me-jobs"
expect /var/lib/left4me/web              "700 left4me-web left4me-web"
expect /var/lib/left4me/installation     "755 left4me-steam left4me-steam"
expect /var/lib/left4me/steam            "755 left4me-steam left4me-steam"
expect /var/lib/left4me/overlays         "755 root root"
expect /var/lib/left4me/workshop_cache   "755 left4me-build left4me-build"
expect /var/lib/left4me/instances        "755 root root"
expect /var/lib/left4me/runtime          "755 root root"
expect /var/lib/left4me/tmp              "700 root root"
for s in host jobs logs web; do expect "/run/left4me/$s.sock" "660 root left4me"; done
# The databases, once their daemon has created them (jobd runs from the start).
need_daemon jobs
ct l4d2ctl ping jobs >/dev/null || fail "jobd does not answer"
expect /var/lib/left4me/jobs/jobs.db "600 left4me-jobs left4me-jobs"
if ct test -e /var/lib/left4me/web/web.db; then expect /var/lib/left4me/web/web.db "600 left4me-web left4me-web"
else echo "note: web/web.db not created yet (webd has not opened it)"; fi
for u in alice left4me-web left4me-logs left4me-game; do
        [ "$u" = alice ] && { ct id alice >/dev/null 2>&1 || ct useradd -M -G left4me alice || fail "useradd alice"; }
        rc=0; out=$(ct setpriv --reuid="$u" --regid="$(ct id -gn "$u")" --groups=left4me -- \
                cat /var/lib/left4me/jobs/jobs.db 2>&1 >/dev/null) || rc=$?
        [ "$rc" != 0 ] || fail "$u (with group left4me) read jobs.db"
        ok "$u cannot read jobs.db: $out"
done
ct userdel alice 2>/dev/null

echo "--- no service user can swap a directory root relies on"
for u in left4me-jobs left4me-logs left4me-web left4me-steam left4me-game left4me-build left4me-build-0 left4me-build-15; do
        for d in instances runtime overlays tmp installation jobs web; do
                rc=0; out=$(ct setpriv --reuid="$u" --regid="$u" --groups=left4me -- \
                        mv /var/lib/left4me/$d /var/lib/left4me/$d.swapped 2>&1) || rc=$?
                [ "$rc" != 0 ] || { ct mv /var/lib/left4me/$d.swapped /var/lib/left4me/$d; fail "$u renamed $d/"; }
        done
        rc=0; ct setpriv --reuid="$u" --regid="$u" --groups=left4me -- mkdir /var/lib/left4me/planted 2>/dev/null || rc=$?
        [ "$rc" != 0 ] || { ct rmdir /var/lib/left4me/planted; fail "$u created a directory in /var/lib/left4me"; }
        ok "$u can neither rename nor add entries of /var/lib/left4me"
done

echo "--- who may use the sockets"
need_cli
for s in host jobs logs web; do
        need_daemon "$s"
        assert_rc 0 "root: ping $s" ct l4d2ctl ping "$s"
        ct id opal >/dev/null 2>&1 || ct useradd -M -G left4me opal || fail "useradd opal"
        assert_rc 0 "an operator (group member): ping $s" ct_as opal l4d2ctl ping "$s"
        for u in nobody left4me-game left4me-build left4me-build-7; do
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
ct userdel opal 2>/dev/null
exit 0
