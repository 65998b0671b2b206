#!/bin/bash
# API tokens and /api/v1/ under a real systemd with hostd, jobd and webd, the stand-in game and
# Debian's Chromium (tests/browser/tokens.ct.mjs, run inside the container): a token made in
# the browser starts a server through curl and is refused once revoked; a files token writes,
# lists, reads and deletes a file of a files overlay through hostd (each write a generation);
# another user's token sees none of it.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
need_cli
for d in host jobs logs web; do need_daemon "$d"; done
L=/var/lib/left4me
url=http://127.0.0.1:8080
runtime_on_tmpfs
stand_ins

for u in "tina tina-password-1" "tom tom-password-1"; do
        set -- $u
        ct sh -c "LEFT4ME_ADMIN_PASSWORD='$2' l4d2ctl web user create $1" >/dev/null || fail "user create $1"
done
out=$(ct l4d2ctl jobs submit install --wait 2>&1) || fail "install: $out"

T=$(web_login tina tina-password-1)
O=$(web_login tom tom-password-1)
csrf_of() { ct curl -sS -H "$1" "$url/profile/tokens" | grep -o 'name="csrf_token" value="[^"]*"' | head -n 1 |
        sed 's/.*value="//; s/"$//'; }
# post COOKIE PATH FIELD=VALUE...: "<status> <redirect>", the body in /tmp/post.out
post() {
        local c=$1 path=$2; shift 2
        local args=()
        for kv in "$@"; do args+=(--data-urlencode "$kv"); done
        ct curl -sS -o /tmp/post.out -w '%{http_code} %{redirect_url}' -H "$c" --data-urlencode "csrf_token=$(csrf_of "$c")" \
                "${args[@]}" "$url$path"
}
# A token made through the page, as the browser makes it: prints the secret.
token() {
        local c=$1; shift
        post "$c" /profile/tokens "$@" >/dev/null
        ct sh -c "grep -o 'id=\"token-secret\"[^>]* value=\"l4m_[A-Za-z0-9_-]*\"' /tmp/post.out | grep -o 'l4m_[A-Za-z0-9_-]*'"
}
# api SECRET METHOD PATH [curl args]: "<status>", the body in /tmp/api.out
api() {
        local s=$1 m=$2 p=$3; shift 3
        ct curl -sS -o /tmp/api.out -w '%{http_code}' -X "$m" -H "Authorization: Bearer $s" "$@" "$url$p"
}
body() { ct cat /tmp/api.out; }

loc=$(post "$T" /blueprints name=API-bp "config=sv_cheats 0")
bp=$(echo "$loc" | grep -o '/blueprints/[0-9]*' | grep -o '[0-9]*$')
[ -n "$bp" ] || fail "no blueprint: $loc"
loc=$(post "$T" /servers name=tina-one blueprint_id="$bp")
srv=$(echo "$loc" | grep -o '/servers/[0-9]*' | grep -o '[0-9]*$')
[ -n "$srv" ] || fail "no server: $loc $(ct cat /tmp/post.out | head -c 300)"
ok "tina's blueprint $bp and server $srv"

state=$(ct mktemp)
out=$(ct env L4M_URL=$url L4M_STATE="$state" L4M_SERVER="$srv" BUILD="$E2E_REPO/build" \
        node --test --test-concurrency=1 --test-reporter=spec "$E2E_REPO/tests/browser/tokens.ct.mjs" 2>&1)
rc=$?
echo "$out" | sed 's/^/  browser| /'
[ $rc = 0 ] || { journal left4me-web.service | tail -n 40; fail "the browser scenario failed"; }
ok "browser: a token made on the page started server $srv through curl, and was refused once revoked"
assert_contains "$(ct l4d2ctl status "web-$srv" --json)" '"state":"running"' "hostd says web-$srv runs"
assert_contains "$(ct l4d2ctl web audit --kind server.start --json)" '"token":"deploy bot"' \
        "the start is in the audit log with the token's name"

echo "--- a files token: write, list, read and delete a file through hostd; another user's token: 404"
loc=$(post "$T" /overlays type=files name=API-files)
ov=$(echo "$loc" | grep -o '/overlays/[0-9]*' | grep -o '[0-9]*$')
[ -n "$ov" ] || fail "no files overlay: $loc"
ft=$(token "$T" name=files scope=files.read scope=files.write scope=server.control)
[ -n "$ft" ] || fail "no files token"
ct sh -c "printf 'sv_tags api\nhostname \"from the api\"\n' >/tmp/api.cfg"
g0=$(ct readlink "$L/overlays/web-$ov" 2>/dev/null | grep -o '[0-9]*$')
assert_eq "$(api "$ft" PUT "/api/v1/overlays/$ov/files/content?path=api.cfg" --data-binary @/tmp/api.cfg)" 200 \
        "PUT a file ($(body))"
g1=$(ct readlink "$L/overlays/web-$ov" | grep -o '[0-9]*$')
[ "$g1" != "$g0" ] || fail "the write made no new generation ($g0 → $g1)"
assert_eq "$(api "$ft" GET "/api/v1/overlays/$ov/files")" 200 "the listing"
assert_contains "$(body)" '"name":"api.cfg"' "the listing names the file"
assert_eq "$(api "$ft" GET "/api/v1/overlays/$ov/files/content?path=api.cfg")" 200 "GET the file"
assert_eq "$(ct sha256sum </tmp/api.out)" "$(ct sha256sum </tmp/api.cfg)" "the same bytes back"
assert_eq "$(api "$ft" PUT "/api/v1/overlays/$ov/files/content?path=../escape.cfg" --data-binary @/tmp/api.cfg)" 400 \
        "a path out of the overlay ($(body))"
assert_eq "$(api "$ft" GET "/api/v1/servers/$srv")" 403 "server.read is not among its scopes"
assert_contains "$(body)" "server.read" "the refusal names the scope"
ot=$(token "$O" name=tom scope=files.read scope=files.write scope=server.read scope=server.control)
assert_eq "$(api "$ot" GET "/api/v1/overlays/$ov/files")" 404 "tom's token on tina's overlay"
assert_eq "$(api "$ot" PUT "/api/v1/overlays/$ov/files/content?path=x.cfg" --data-binary @/tmp/api.cfg)" 404 \
        "tom's token writing tina's overlay"
assert_eq "$(api "$ot" POST "/api/v1/servers/$srv/stop")" 404 "tom's token stopping tina's server"
assert_eq "$(api "$ft" DELETE "/api/v1/overlays/$ov/files/content?path=api.cfg")" 200 "DELETE the file"
api "$ft" GET "/api/v1/overlays/$ov/files" >/dev/null
case $(body) in *api.cfg*) fail "the file is still listed: $(body)" ;; *) ok "the file is gone" ;; esac

echo "--- stop through the API (server.control), as a script would"
assert_eq "$(api "$ft" POST "/api/v1/servers/$srv/stop")" 202 "stop accepted ($(body))"
stopped() { ct l4d2ctl status "web-$srv" --json | grep -q '"state":"stopped"'; }
wait_for 60 stopped || fail "web-$srv did not stop: $(ct l4d2ctl status "web-$srv" --json)"
summary "web: API tokens — browser-made token started web-$srv via curl, revoked → 401; files token wrote generation $g1"
