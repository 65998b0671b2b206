#!/bin/bash
# webd under real systemd: both sockets arrive by name (http, rpc), it runs as left4me-web,
# reports READY with a status line, serves /health, the installed static files and
# sys.health on web.sock, stays up while a keep-alive HTTP connection is in use, exits
# cleanly after the idle time, and stops cleanly (systemctl stop) with an event stream open.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
need_cli
need_daemon web

svc=left4me-web.service
idle=$E2E_IDLE
settle=$((idle * 3 + 10))
url=http://127.0.0.1:8080

wait_for "$settle" unit_is inactive "$svc" || fail "$svc did not settle to inactive (is: $(unit_state "$svc"))"

body=$(ct curl -fsS -m 10 "$url/health") || fail "GET /health failed"
assert_contains "$body" '"service":"left4me-webd"' "GET /health"
assert_eq active "$(unit_state "$svc")" "$svc after the first request"
assert_eq left4me-web "$(ct ps -o user= -C left4me-webd | head -n 1 | tr -d ' ')" "user of left4me-webd"
assert_contains "$(ct systemctl show -P StatusText "$svc")" "Serving" "StatusText (READY=1 with STATUS=)"
if journal "$svc" | grep -q "no known name"; then
        fail "a socket arrived without its FileDescriptorName"
fi
ok "both sockets arrived by name"

css=$(ct curl -fsS -m 10 "$url/static/left4me.css") || fail "GET /static/left4me.css (installed web dir) failed"
assert_contains "$css" "left4me" "installed static file"
assert_eq 404 "$(ct curl -s -o /dev/null -w '%{http_code}' -m 10 "$url/static/../../../etc/passwd")" "path traversal"

out=$(ct l4d2ctl --json ping web) || fail "l4d2ctl ping web: $out"
assert_contains "$out" "left4me-webd" "sys.health over web.sock"

# A keep-alive connection that keeps making requests holds webd past the idle time. One
# curl process, requests to the same URL reuse one connection (every 0.5 s via --rate).
n=$(( (idle + 3) * 2 ))
urls=$(for _ in $(seq "$n"); do printf '%s/health ' "$url"; done)
inv1=$(ct systemctl show -P InvocationID "$svc")
# shellcheck disable=SC2086
ct curl -fsS -m $((n + 10)) --rate 2/s $urls >/dev/null || fail "keep-alive requests failed"
assert_eq "$inv1" "$(ct systemctl show -P InvocationID "$svc")" "same webd instance across $n keep-alive requests"
assert_eq active "$(unit_state "$svc")" "$svc while requests kept coming"

wait_for "$settle" unit_is inactive "$svc" || fail "$svc did not exit after idling (is: $(unit_state "$svc"))"
assert_eq success "$(ct systemctl show -P Result "$svc")" "Result after idle exit"
journal "$svc" | grep -q "No connections for $idle s, exiting" || fail "no idle-exit message in the journal"
ok "idle exit logged"

# systemctl stop with an event stream open: the stream ends, the service stops cleanly.
# Event streams are for logged-in users: an account made as an operator makes the first one,
# and a session through the login form (its token is also a cookie).
ct sh -c "LEFT4ME_ADMIN_PASSWORD=e2e-password-1 l4d2ctl web user create e2e-admin --admin" ||
        fail "l4d2ctl web user create"
tok=$(ct curl -sS "$url/login" | grep -o 'name="csrf_token" value="[^"]*"' | sed 's/.*value="//; s/"$//')
sid=$(ct curl -sS -o /dev/null -D - -H "Cookie: __Host-left4me-login=$tok" --data-urlencode "csrf_token=$tok" \
        --data-urlencode username=e2e-admin --data-urlencode password=e2e-password-1 "$url/login" |
        tr -d '\r' | sed -n 's/^set-cookie: __Host-left4me=\([0-9a-f]*\);.*/\1/ip')
[ -n "$sid" ] || fail "no session after logging in through the form"
ok "logged in as e2e-admin through the form"
assert_eq 401 "$(ct curl -sS -o /dev/null -w '%{http_code}' "$url/events")" "an anonymous /events"
ct sh -c "curl -sN -m 30 -H 'Cookie: __Host-left4me=$sid' $url/events >/tmp/web-events.txt 2>&1 &"
wait_for 10 unit_is active "$svc" || fail "$svc did not start for /events"
sleep 1
start=$(date +%s)
ct systemctl stop "$svc" || fail "systemctl stop $svc"
took=$(( $(date +%s) - start ))
[ "$took" -le 6 ] || fail "stopping took $took s"
assert_eq success "$(ct systemctl show -P Result "$svc")" "Result after systemctl stop with an open stream"
assert_contains "$(ct cat /tmp/web-events.txt)" "event: hello" "event stream output"
assert_eq active "$(unit_state left4me-web.socket)" "left4me-web.socket after stop"
summary "web: stop with an open SSE stream took ${took} s"

# And it comes back on the next request.
assert_rc 0 "GET /health re-activates" ct curl -fsS -m 10 -o /dev/null "$url/health"

# The session outlived the restart (it lives in web.db, not in webd).
assert_eq 200 "$(ct curl -sS -o /dev/null -w '%{http_code}' -H "Cookie: __Host-left4me=$sid" "$url/")" \
        "the session after webd stopped and came back"
# web.db lives where the table of paths says: readable by webd's user only.
assert_eq "left4me-web 700" "$(ct stat -c '%U %a' /var/lib/left4me/web)" "owner and mode of /var/lib/left4me/web"
assert_eq "left4me-web 600" "$(ct stat -c '%U %a' /var/lib/left4me/web/web.db)" "owner and mode of web.db"

# The self-signed pair for installs that leave loopback: the key readable by webd's group only.
ct sh -c "LEFT4ME_TLS_DIR=/tmp/tls $E2E_PREFIX/lib/left4me/left4me-tls-selfsigned l4d2.example" >/dev/null ||
        fail "left4me-tls-selfsigned"
assert_eq "root left4me-web 640" "$(ct stat -c '%U %G %a' /tmp/tls/key.pem)" "the self-signed key's owner and mode"
assert_contains "$(ct openssl x509 -in /tmp/tls/cert.pem -noout -ext subjectAltName)" "DNS:l4d2.example" \
        "the certificate's names"
again=$(ct sh -c "LEFT4ME_TLS_DIR=/tmp/tls $E2E_PREFIX/lib/left4me/left4me-tls-selfsigned")
assert_contains "$again" "exist; leaving them alone" "a second run keeps the pair"
