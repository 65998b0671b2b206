#!/bin/bash
# Script overlays through the web UI under a real systemd with the whole suite and Debian's
# Chromium (tests/browser/overlays.ct.mjs, run inside the container): the example overlays
# are seeded, an admin builds one, a user writes one in the editor, builds it (log live),
# stacks it, starts a server on it, rebuilds it from empty ("needs restart"); another user
# neither sees nor stacks it. Then, from the shell: the built file is in the server's merged
# view, seeding again keeps ids, and an operator cannot build or remove a web overlay.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
need_cli
for d in host jobs logs web; do need_daemon "$d"; done
L=/var/lib/left4me
url=http://127.0.0.1:8080
runtime_on_tmpfs
stand_ins

for u in "ov-admin ov-admin-password --admin" "carol carol-password-1" "dave dave-password-1"; do
        set -- $u
        ct sh -c "LEFT4ME_ADMIN_PASSWORD='$2' l4d2ctl web user create $1 ${3:-}" >/dev/null ||
                fail "l4d2ctl web user create $1"
done
out=$(ct l4d2ctl jobs submit install --wait 2>&1) || fail "install: $out"
seed=$(ct l4d2ctl web seed-script-overlays "$E2E_REPO/deploy/script-overlays" 2>&1) || fail "seed: $seed"
assert_contains "$seed" "Tickrate 100 (cfg)" "the examples are seeded"
ok "game installed, examples seeded"

state=$(ct mktemp)
out=$(ct env L4M_URL=$url L4M_STATE="$state" BUILD="$E2E_REPO/build" \
        node --test --test-concurrency=1 --test-reporter=spec "$E2E_REPO/tests/browser/overlays.ct.mjs" 2>&1)
rc=$?
echo "$out" | sed 's/^/  browser| /'
[ $rc = 0 ] || { journal left4me-web.service | tail -n 40; fail "the browser scenario failed"; }
ok "browser: seeded build, editor, live log, blueprint, server, rebuild needs restart, privacy"

json=$(ct cat "$state")
mine=$(echo "$json" | grep -o '"mine":[0-9]*' | grep -o '[0-9]*$')
server=$(echo "$json" | grep -o '"server":[0-9]*' | grep -o '[0-9]*$')
[ -n "$mine" ] && [ -n "$server" ] || fail "the browser scenario left no state: $json"

echo "--- the built file, in the running server's merged view"
cfg=$(ct cat "$L/runtime/web-$server/merged/left4dead2/cfg/carol.cfg" 2>&1) || fail "no carol.cfg in the merged view: $cfg"
assert_contains "$cfg" "sv_tags carol-" "carol.cfg in web-$server's merged view"
assert_contains "$(ct cat "$L/runtime/web-$server/layers")" "web-$mine 1" "web-$server mounts generation 1"
assert_contains "$(ct l4d2ctl overlay list)" "web-$mine" "the host lists web-$mine"

echo "--- seeding again: the same ids"
again=$(ct l4d2ctl web seed-script-overlays "$E2E_REPO/deploy/script-overlays" 2>&1) || fail "seed again: $again"
assert_eq "$(echo "$seed" | awk '{print $NF, $(NF-1)}' | sort)" "$(echo "$again" | awk '{print $NF, $(NF-1)}' | sort)" \
        "ids kept"
assert_contains "$again" "updated" "the second seed updates"

echo "--- an overlay removed: from the host by an overlay.delete job, then from web.db"
tok=$(ct curl -sS "$url/login" | grep -o 'name="csrf_token" value="[^"]*"' | sed 's/.*value="//; s/"$//')
sid=$(ct curl -sS -o /dev/null -D - -H "Cookie: __Host-left4me-login=$tok" --data-urlencode "csrf_token=$tok" \
        --data-urlencode username=ov-admin --data-urlencode password=ov-admin-password "$url/login" |
        tr -d '\r' | sed -n 's/^set-cookie: __Host-left4me=\([0-9a-f]*\);.*/\1/ip')
[ -n "$sid" ] || fail "no admin session"
C="Cookie: __Host-left4me=$sid"
csrf=$(ct curl -sS -H "$C" "$url/overlays" | grep -o 'name="csrf_token" value="[^"]*"' | head -n 1 |
        sed 's/.*value="//; s/"$//')
post() { ct curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -H "$C" --data-urlencode "csrf_token=$csrf" "$@"; }
loc=$(post --data-urlencode type=script --data-urlencode name=Doomed --data-urlencode scope=system "$url/overlays")
doomed=$(echo "$loc" | grep -o '/overlays/[0-9]*' | grep -o '[0-9]*$')
[ -n "$doomed" ] || fail "no overlay made: $loc"
loc=$(post --data-urlencode name=Doomed --data-urlencode action=build \
        --data-urlencode 'script=mkdir -p "$OVERLAY/left4dead2"; echo x > "$OVERLAY/left4dead2/doomed.txt"' \
        "$url/overlays/$doomed")
assert_contains "$loc" "m=overlay-building" "the build is submitted"
built() { nsenter -t "$E2E_PID1" -a l4d2ctl overlay list | grep -q "web-$doomed"; }
wait_for 30 built || fail "web-$doomed was not built: $(ct l4d2ctl jobs list --subject overlay:web-$doomed)"
assert_contains "$(ct l4d2ctl jobs list --subject "overlay:web-$mine")" "overlay.build" "the overlay's jobs are listed by subject"
loc=$(post "$url/overlays/$mine/delete")
assert_contains "$loc" "409" "an overlay a blueprint stacks is not deleted"
loc=$(post "$url/overlays/$doomed/delete")
assert_contains "$loc" "m=overlay-removing" "the removal is submitted"
gone() { ! nsenter -t "$E2E_PID1" -a test -e "$L/overlays/web-$doomed"; }
wait_for 30 gone || fail "overlays/web-$doomed is still on the host"
ct test -e "$L/overlays/.gen/web-$doomed" && fail "its generations are still there"
listed=$(ct curl -sS -H "$C" "$url/overlays")
echo "$listed" | grep -q "/overlays/$doomed\"" && fail "the removed overlay is still listed"
assert_eq 404 "$(ct curl -sS -o /dev/null -w '%{http_code}' -H "$C" "$url/overlays/$doomed")" "its page is gone"
ok "an unused overlay removed from the host and from web.db"

echo "--- an operator may not build or remove a web overlay"
need_operator
ct_sh "printf 'echo pwned\n' >/tmp/op.sh && chmod 644 /tmp/op.sh"
out=$(ct_as l4m-op l4d2ctl jobs submit overlay.build --overlay "web-$mine" --script /tmp/op.sh 2>&1) &&
        fail "an operator queued a build of web-$mine"
assert_contains "$out" "belongs to the web UI" "jobd refuses web-$mine to an operator"
out=$(ct_as l4m-op l4d2ctl overlay delete "web-$mine" 2>&1) && fail "an operator removed web-$mine"
assert_contains "$out" "belongs to the web UI" "hostd refuses web-$mine to an operator"

echo "--- clean-up: the server goes, so later scenarios get its port back"
loc=$(post "$url/servers/$server/delete")
assert_contains "$loc" "m=server-deleting" "delete web-$server"
gone_server() { ! nsenter -t "$E2E_PID1" -a test -e "$L/instances/web-$server"; }
wait_for 60 gone_server || fail "instances/web-$server is still there"

summary "web: script overlay web-$mine built twice, mounted by web-$server"
