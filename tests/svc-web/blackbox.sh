#!/bin/bash
# Black-box test of left4me-webd: started under systemd-socket-activate with two sockets
# told apart by name (http = TCP, rpc = web.sock), or with --listen/--http; spoken to with
# curl, l4d2ctl and an independent python3-msgpack client (webd_check.py).
set -euo pipefail

BUILD=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
# For `make asan`: h2o 2.2.5 leaks 88 bytes once per process (see lsan.supp).
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$HERE/lsan.supp:print_suppressions=0}
CHECK="$PY $HERE/webd_check.py"
TMP=$(mktemp -d /tmp/webd-bb.XXXXXX)
PID=
cleanup() {
        [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
        rm -rf "$TMP"
}
trap cleanup EXIT
trap 'fail "line $LINENO: a command failed"' ERR

fail() { echo "FAIL: $*" >&2; [ -f "$TMP/log" ] && sed 's/^/  log| /' "$TMP/log" >&2; exit 1; }
step() { echo "== $*"; }

free_port() {
        $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_webd IDLE [extra webd args...]: socket-activated, both sockets named.
start_webd() {
        local idle=$1; shift
        PORT=$(free_port)
        rm -f "$TMP/web.sock"
        systemd-socket-activate -E LSAN_OPTIONS -l "127.0.0.1:$PORT" -l "$TMP/web.sock" --fdname=http:rpc \
                "$BUILD/left4me-webd" --config "$TMP/left4me.yaml" --idle-exit "$idle" \
                --web-dir "$TMP/web" "$@" >"$TMP/log" 2>&1 &
        PID=$!
        # systemd-socket-activate execs webd on the first connection attempt (as systemd
        # would start the service): wait for both listeners, then poke it awake.
        for _ in $(seq 50); do
                [ "$(grep -c '^Listening on' "$TMP/log" 2>/dev/null)" = 2 ] && break
                kill -0 "$PID" 2>/dev/null || fail "socket activation died at start"
                sleep 0.1
        done
        curl -sS -k -o /dev/null "${SCHEME:-http}://127.0.0.1:$PORT/health" || fail "first request"
        for _ in $(seq 50); do
                grep -q "ready" "$TMP/log" 2>/dev/null && return 0
                kill -0 "$PID" 2>/dev/null || fail "webd died at start"
                sleep 0.1
        done
        fail "webd did not get ready"
}

# wait_exit SECONDS: waits for webd to exit by itself; fails if it does not.
wait_exit() {
        local t=$(( $1 * 10 ))
        for _ in $(seq "$t"); do
                if ! kill -0 "$PID" 2>/dev/null; then
                        wait "$PID" && rc=0 || rc=$?
                        PID=
                        return 0
                fi
                sleep 0.1
        done
        fail "webd did not exit within $1 s"
}

alive() { kill -0 "$PID" 2>/dev/null; }

mkdir -p "$TMP/web"
echo 'body { color: #123; }' >"$TMP/web/app.css"
mkdir -p "$TMP/root"
# Logs in through the form (its token is also a cookie) and prints the session cookie.
login() {
        local tok
        tok=$(curl -sS "http://127.0.0.1:$PORT/login" | grep -o 'name="csrf_token" value="[^"]*"' |
                sed 's/.*value="//; s/"$//')
        curl -sS -o /dev/null -D "$TMP/login.h" -H "Cookie: __Host-left4me-login=$tok" \
                --data-urlencode "csrf_token=$tok" --data-urlencode "username=$1" --data-urlencode "password=$2" \
                "http://127.0.0.1:$PORT/login"
        tr -d '\r' <"$TMP/login.h" | sed -n 's/^set-cookie: __Host-left4me=\([0-9a-f]*\);.*/\1/ip'
}
cat >"$TMP/left4me.yaml" <<EOF
paths: {root: $TMP/root, run: $TMP}
limits: {idle_exit_sec: 30, max_connections: 16}
EOF

# ---------------------------------------------------------------------------------------------
step "socket activation with named sockets"
start_webd 0
$CHECK health "$PORT" || fail "/health"
out=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nope")
[ "$out" = 404 ] || fail "unknown path gave $out"
curl -sS "http://127.0.0.1:$PORT/nope" | grep -q 'There is no such page' || fail "404 body is not the error page"
out=$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE "http://127.0.0.1:$PORT/health")
[ "$out" = 405 ] || fail "DELETE /health gave $out"
out=$(curl -sS -I -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")
[ "$out" = 200 ] || fail "HEAD /health gave $out"
out=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$PORT/")
[ "$out" = "303 http://127.0.0.1:$PORT/login" ] || fail "/ without a session gave '$out', not a redirect to /login"
curl -sS "http://127.0.0.1:$PORT/login" | grep -q "<h1>Log in</h1>" || fail "login page"
# One account for the event streams below (they are for logged-in users only).
LEFT4ME_ADMIN_PASSWORD=blackbox-pw "$BUILD/l4d2ctl" --socket-dir "$TMP" web user create bb >/dev/null ||
        fail "l4d2ctl web user create"
SID=$(login bb blackbox-pw)
[ -n "$SID" ] || fail "no session cookie after logging in"
COOKIE="Cookie: __Host-left4me=$SID"
out=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/events")
[ "$out" = 401 ] || fail "an anonymous event stream gave $out, not 401"
curl -sS "http://127.0.0.1:$PORT/static/app.css" | grep -q "color: #123" || fail "static file"
out=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/static/missing.css")
[ "$out" = 404 ] || fail "missing static file gave $out"
out=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/static/")
[ "$out" != 200 ] || fail "the static dir is listed"

step "RPC on web.sock: l4d2ctl and python3-msgpack"
"$BUILD/l4d2ctl" --socket-dir "$TMP" ping web || fail "l4d2ctl ping web"
"$BUILD/l4d2ctl" --socket-dir "$TMP" --json version web | grep -q left4me-webd || fail "l4d2ctl version web"
$CHECK rpc "$TMP/web.sock" || fail "rpc checks"

step "API tokens over web.sock: l4d2ctl web token create, list, revoke (root only)"
CTL=("$BUILD/l4d2ctl" --socket-dir "$TMP")
for u in tka tkb; do
        LEFT4ME_ADMIN_PASSWORD=token-pw-1 "${CTL[@]}" web user create "$u" >/dev/null || fail "web user create $u"
done
# A server of tkb's, as if hostd had given the port (creating one needs hostd).
TKB_SERVER=$($PY - "$TMP/root/web/web.db" <<'PYEOF'
import sqlite3, sys
with sqlite3.connect(sys.argv[1]) as db:
    uid = db.execute("SELECT id FROM users WHERE username = 'tkb'").fetchone()[0]
    bp = db.execute("INSERT INTO blueprints (owner_id, name, created_usec, updated_usec) VALUES (?, 'bp', 1, 1)",
                    (uid,)).lastrowid
    print(db.execute("INSERT INTO servers (owner_id, blueprint_id, name, port, rcon_password, created_usec, "
                     "updated_usec) VALUES (?, ?, 'srv', 27999, 'pw', 1, 1)", (uid, bp)).lastrowid)
PYEOF
)
# token_fails WANT_RC PATTERN ARGS...: `l4d2ctl web token ARGS` exits WANT_RC, says PATTERN.
token_fails() {
        local want=$1 pat=$2 rc=0 out
        shift 2
        out=$("${CTL[@]}" web token "$@" 2>&1) && rc=0 || rc=$?
        [ "$rc" = "$want" ] || fail "web token $*: exit $rc, not $want: $out"
        grep -q -- "$pat" <<<"$out" || fail "web token $*: no '$pat' in: $out"
}
TOKEN=$("${CTL[@]}" web token create tka deploy --scope server.read,server.control --scope jobs.read \
        --expires 90d --allow 10.0.0.0/8 --allow ::1 2>"$TMP/token.err") || fail "web token create: $(cat "$TMP/token.err")"
[[ $TOKEN =~ ^l4m_[A-Za-z0-9_-]{43}$ ]] || fail "the secret on stdout is '$TOKEN'"
grep -Eq '^token [0-9]+ "deploy" for tka: server.read server.control jobs.read; expires 20[0-9-]+ [0-9:]+\. The secret is shown only now\.$' \
        "$TMP/token.err" || fail "web token create's summary: $(cat "$TMP/token.err")"
TOKEN_ID=$(sed -n 's/^token \([0-9]*\) .*/\1/p' "$TMP/token.err")
out=$("${CTL[@]}" web token list tka)
grep -Eq "^$TOKEN_ID +tka +deploy +server.read,server.control,jobs.read +all +20" <<<"$out" ||
        fail "web token list tka: $out"
grep -qF "$TOKEN" <<<"$out" && fail "web token list shows the secret"
out=$("${CTL[@]}" --json web token list)
grep -q '"allow":\["10.0.0.0/8","::1"\]' <<<"$out" || fail "web token list --json: $out"
grep -qF "${TOKEN#l4m_}" <<<"$out" && fail "web token list --json shows the secret"
"${CTL[@]}" --json web audit --kind token.create | grep -qF "${TOKEN#l4m_}" && fail "the audit log holds the secret"
grep -qF "${TOKEN#l4m_}" "$TMP/log" && fail "webd logged the secret"
"${CTL[@]}" --json web token create tkb ci --scope jobs.read |
        grep -Eq '"secret":"l4m_[A-Za-z0-9_-]{43}".*"scopes":\["jobs.read"\]' || fail "web token create --json"
token_fails 5 "name 'deploy' is taken" create tka deploy --scope server.read
token_fails 3 "unknown scope 'server.reed'.*server.console" create tka x --scope server.read,server.reed
token_fails 2 "at least one --scope.*blueprint.write" create tka x
token_fails 3 "'10.1.2.3/8' is not an address or a range" create tka x --scope server.read --allow 10.1.2.3/8
token_fails 3 "expires: '0d'" create tka x --scope server.read --expires 0d
token_fails 3 "expires: '367d' is longer than a year" create tka x --scope server.read --expires 367d
token_fails 3 "server $TKB_SERVER is not tka's" create tka x --scope server.read --server "$TKB_SERVER"
token_fails 4 "no server 99999" create tka x --scope server.read --server 99999
token_fails 4 "no user 'nobody-here'" create nobody-here x --scope server.read
token_fails 4 "no user 'nobody-here'" list nobody-here
"${CTL[@]}" web token create tkb mine --scope server.read --server "$TKB_SERVER" >/dev/null 2>&1 ||
        fail "a token for the user's own server"
"${CTL[@]}" web token list tkb | grep -Eq " mine +server.read +$TKB_SERVER " || fail "the server in web token list"
"${CTL[@]}" web token list | grep -qw x && fail "a refused token was stored"
# tkb has 2 (ci, mine): 48 more fill the quota, the 51st is refused.
for i in $(seq 48); do
        "${CTL[@]}" web token create tkb "q$i" --scope jobs.read >/dev/null 2>&1 || fail "token q$i of tkb"
done
token_fails 5 "at most 50 tokens per user" create tkb q49 --scope jobs.read
$CHECK hostile-tokens "$TMP/web.sock" tka || fail "hostile token.create params"
# Anyone but root is refused by webd (the socket is reachable for this check only, so the
# refusal is the method's, not the socket's mode).
chmod 711 "$TMP"
chmod 666 "$TMP/web.sock"
rc=0; out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "${CTL[@]}" web token list 2>&1) || rc=$?
[ "$rc" = 6 ] && grep -q "'token.list' is for root" <<<"$out" ||
        { chmod 700 "$TMP"; fail "token.list as uid 65534: exit $rc: $out"; }
rc=0; out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "${CTL[@]}" web token create tka y \
        --scope server.read 2>&1) || rc=$?
chmod 700 "$TMP"
[ "$rc" = 6 ] && grep -q "'token.create' is for root" <<<"$out" || fail "token.create as uid 65534: exit $rc: $out"
"${CTL[@]}" web token revoke "$TOKEN_ID" | grep -q "revoked token $TOKEN_ID" || fail "web token revoke"
"${CTL[@]}" web token list tka | grep -q deploy && fail "a revoked token is listed"
token_fails 4 "no token $TOKEN_ID" revoke "$TOKEN_ID"
token_fails 2 "not a token id" revoke x
"${CTL[@]}" --json web audit --kind token.revoke | grep -q "\"object\":\"token:$TOKEN_ID\"" ||
        fail "no token.revoke audit entry"
"${CTL[@]}" web token create tka again --scope server.read >/dev/null 2>&1 || fail "web token create again"
"${CTL[@]}" web user deactivate tka >/dev/null || fail "web user deactivate tka"
[ "$("${CTL[@]}" web token list tka | wc -l)" = 1 ] || fail "tka's tokens outlived the deactivation"
"${CTL[@]}" web token list tkb | grep -q " ci " || fail "deactivating tka took tkb's tokens"
token_fails 3 "deactivated" create tka again --scope server.read
"${CTL[@]}" web token --help | grep -q "web token revoke ID" || fail "web token --help"
"${CTL[@]}" web token create --help | grep -q -- "--allow CIDR" || fail "web token create --help"
"${CTL[@]}" web --help | grep -q "token create USER NAME" || fail "web --help lacks token"
alive || fail "webd died in the token checks"

step "hostile input on both sockets; the daemon keeps serving"
$CHECK hostile-rpc "$TMP/web.sock" || fail "hostile rpc"
$CHECK hostile-http "$PORT" || fail "hostile http"
alive || fail "webd died on hostile input"
$CHECK health "$PORT" >/dev/null || fail "/health after hostile input"
"$BUILD/l4d2ctl" --socket-dir "$TMP" ping web >/dev/null || fail "ping after hostile input"

step "connection limits (limits.max_connections = 16) on both sockets"
$CHECK limits "$PORT" "$TMP/web.sock" 16 || fail "connection limits"

step "many connections at once"
for i in $(seq 40); do curl -sS -o /dev/null "http://127.0.0.1:$PORT/health" & done
wait_jobs_ok=1
for j in $(jobs -p); do [ "$j" = "$PID" ] && continue; wait "$j" || wait_jobs_ok=0; done
[ $wait_jobs_ok = 1 ] || fail "a concurrent request failed"
alive || fail "webd died under 40 concurrent requests"

step "SIGTERM stops it cleanly"
kill -TERM "$PID"
wait_exit 5
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"

step "SIGTERM with an open SSE stream and an idle keep-alive connection: clean exit within the drain time"
start_webd 0
curl -sS -N -H "$COOKIE" --max-time 20 "http://127.0.0.1:$PORT/events" >"$TMP/sse" 2>&1 &
CURL=$!
$CHECK idle-socket "$PORT" 20 &
HOLD=$!
sleep 0.5
start=$(date +%s)
kill -TERM "$PID"
wait_exit 6
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM with open connections"
[ $(( $(date +%s) - start )) -le 5 ] || fail "stopping took more than 5 s"
wait $CURL && curl_rc=0 || curl_rc=$?
[ "$curl_rc" = 0 ] || fail "the event stream did not end cleanly (curl exit $curl_rc)"
kill $HOLD 2>/dev/null || true

# ---------------------------------------------------------------------------------------------
step "SSE: hello event, heartbeats, counted in sys.health"
start_webd 0 --sse-heartbeat 1
timeout 5 curl -sS -N -H "$COOKIE" --max-time 3 "http://127.0.0.1:$PORT/events" >"$TMP/sse" 2>/dev/null || true
grep -q '^event: hello$' "$TMP/sse" || fail "no hello event: $(cat "$TMP/sse")"
grep -q '^data: {"service":"left4me-webd"' "$TMP/sse" || fail "hello data: $(cat "$TMP/sse")"
[ "$(grep -c '^: ping$' "$TMP/sse")" -ge 2 ] || fail "fewer than 2 heartbeats in 3 s: $(cat "$TMP/sse")"
curl -sS -N -H "$COOKIE" --max-time 4 "http://127.0.0.1:$PORT/events" >/dev/null 2>&1 &
CURL=$!
sleep 1
"$BUILD/l4d2ctl" --socket-dir "$TMP" --json ping web | grep -q '"sse_streams": *1' ||
        { "$BUILD/l4d2ctl" --socket-dir "$TMP" --json ping web; fail "sse stream not counted"; }
wait $CURL || true
kill -TERM "$PID"; wait_exit 5

# ---------------------------------------------------------------------------------------------
step "idle exit: not while a keep-alive connection is in use, then after the idle time"
start_webd 2
$CHECK keepalive "$PORT" 4 || fail "keep-alive"
alive || fail "webd exited while a keep-alive connection was in use"
wait_exit 5
[ "$rc" = 0 ] || fail "exit status $rc after idle exit"
grep -q "No connections for 2 s, exiting" "$TMP/log" || fail "no idle-exit message"

step "idle exit: not while an SSE stream or an RPC connection is open"
start_webd 2 --sse-heartbeat 1
curl -sS -N -H "$COOKIE" --max-time 4 "http://127.0.0.1:$PORT/events" >/dev/null 2>&1 || true
alive || fail "webd exited while an SSE stream was open"
$CHECK hold-rpc "$TMP/web.sock" 3
alive || fail "webd exited while an RPC connection was open"
start=$(date +%s)
wait_exit 5
[ $(( $(date +%s) - start )) -ge 1 ] || fail "exited too early after the last connection"

step "idle exit: a silent HTTP connection counts too"
start_webd 1
$CHECK idle-socket "$PORT" 2.5
alive || fail "webd exited while an HTTP connection was open"
wait_exit 4

# ---------------------------------------------------------------------------------------------
step "the web UI: CSRF, one answer for every failed login, next, rate limits, sessions, admin, hostile forms, HTTP/2, stream caps (web_auth.py)"
rm -rf "$TMP/root"; mkdir -p "$TMP/root"
cat >>"$TMP/left4me.yaml" <<EOF
web: {trusted_proxies: [127.0.0.1]}
EOF
start_webd 0
$PY "$HERE/web_auth.py" "$PORT" "$TMP" "$BUILD" || fail "web_auth.py"
step "blueprints, servers and jobs without hostd, jobd and logd: the permission table, hostile fields, 503s (web_fleet.py)"
$PY "$HERE/web_fleet.py" "$PORT" "$TMP" "$BUILD" "$TMP/root/web/web.db" || fail "web_fleet.py"
step "overlays without hostd and jobd: scopes, the permission table, scripts, the in-use guard, seeding (web_overlays.py)"
$PY "$HERE/web_overlays.py" "$PORT" "$TMP" "$BUILD" "$TMP/root/web/web.db" "$HERE/../../deploy/script-overlays" ||
        fail "web_overlays.py"
step "API tokens and /api/v1/ without hostd and jobd: the scope table, Bearer only, revocation, expiry, the allow-list, the audit log (web_api.py)"
$PY "$HERE/web_api.py" "$PORT" "$TMP" "$BUILD" "$TMP/root/web/web.db" || fail "web_api.py"
SID=$(login carol carol-password-1)
kill -TERM "$PID"; wait_exit 5
start_webd 0
out=$(curl -sS -o /dev/null -w '%{http_code}' -H "Cookie: __Host-left4me=$SID" "http://127.0.0.1:$PORT/")
[ "$out" = 200 ] || fail "a session did not survive a restart of webd ($out)"
kill -TERM "$PID"; wait_exit 5

# ---------------------------------------------------------------------------------------------
step "TLS: HTTPS with the configured pair, HTTP/1.1 only (no h2 by ALPN); plain HTTP refused off loopback"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
        -days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>/dev/null || fail "openssl req"
cp "$TMP/left4me.yaml" "$TMP/plain.yaml"
printf 'web: {tls_cert: %s, tls_key: %s}\n' "$TMP/cert.pem" "$TMP/key.pem" >>"$TMP/left4me.yaml"
SCHEME=https start_webd 0
out=$(curl -sS --cacert "$TMP/cert.pem" --http2 -o /dev/null -w '%{http_code} %{http_version}' "https://127.0.0.1:$PORT/health")
[ "$out" = "200 1.1" ] || fail "HTTPS /health gave '$out', not '200 1.1'"
curl -sS -o /dev/null "http://127.0.0.1:$PORT/health" 2>/dev/null && fail "plain HTTP answered on the TLS port"
kill -TERM "$PID"; wait_exit 5
printf 'paths: {root: %s/root, run: %s}\nweb: {tls_cert: %s, tls_key: %s}\n' "$TMP" "$TMP" "$TMP/cert.pem" "$TMP/cert.pem" >"$TMP/badkey.yaml"
rc=0
"$BUILD/left4me-webd" --config "$TMP/badkey.yaml" --http "127.0.0.1:$(free_port)" >"$TMP/log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "a certificate as its key: exit $rc, not 1 (an abort is 134): $(cat "$TMP/log")"
grep -q "web.tls_key: cannot load" "$TMP/log" || fail "no clear message for a bad key: $(cat "$TMP/log")"
grep -q "Assertion" "$TMP/log" && fail "webd aborted on its way out: $(cat "$TMP/log")"
cp "$TMP/plain.yaml" "$TMP/left4me.yaml"
if "$BUILD/left4me-webd" --config "$TMP/left4me.yaml" --http "0.0.0.0:$(free_port)" >"$TMP/log" 2>&1; then
        fail "served plain HTTP on 0.0.0.0"
fi
grep -q "Refusing plain HTTP on 0.0.0.0" "$TMP/log" || fail "no clear message for plain HTTP off loopback"
printf 'paths: {root: %s/root, run: %s}\nweb: {behind_proxy: true}\n' "$TMP" "$TMP" >"$TMP/proxy.yaml"
P=$(free_port)
"$BUILD/left4me-webd" --config "$TMP/proxy.yaml" --http "0.0.0.0:$P" --idle-exit 0 >"$TMP/log" 2>&1 &
PP=$!
for _ in $(seq 50); do curl -sS -o /dev/null "http://127.0.0.1:$P/health" 2>/dev/null && break; sleep 0.1; done
curl -sS "http://127.0.0.1:$P/health" | grep -q '"ok"' || fail "behind_proxy: plain HTTP on 0.0.0.0 refused"
kill -TERM $PP; wait $PP || true

# ---------------------------------------------------------------------------------------------
step "development mode: --listen PATH --http ADDR:PORT"
PORT=$(free_port)
"$BUILD/left4me-webd" --config "$TMP/left4me.yaml" --listen "$TMP/dev.sock" --http "127.0.0.1:$PORT" \
        --idle-exit 2 --web-dir "$TMP/web" >"$TMP/log" 2>&1 &
PID=$!
for _ in $(seq 50); do [ -S "$TMP/dev.sock" ] && grep -q ready "$TMP/log" && break; sleep 0.1; done
$CHECK health "$PORT" >/dev/null || fail "dev /health"
$CHECK rpc "$TMP/dev.sock" >/dev/null || fail "dev rpc"
[ "$(stat -c %a "$TMP/dev.sock")" = 660 ] || fail "dev socket mode $(stat -c %a "$TMP/dev.sock")"
wait_exit 5
[ ! -e "$TMP/dev.sock" ] || fail "dev socket left behind"

step "unnamed sockets are told apart by family"
PORT=$(free_port)
rm -f "$TMP/web.sock"
systemd-socket-activate -E LSAN_OPTIONS -l "$TMP/web2.sock" -l "127.0.0.1:$PORT" "$BUILD/left4me-webd" \
        --config "$TMP/left4me.yaml" --idle-exit 0 >"$TMP/log" 2>&1 &
PID=$!
for _ in $(seq 50); do [ "$(grep -c '^Listening on' "$TMP/log" 2>/dev/null)" = 2 ] && break; sleep 0.1; done
$CHECK health "$PORT" >/dev/null || fail "unnamed: /health"
"$BUILD/l4d2ctl" --socket-dir "$TMP" ping web >/dev/null 2>&1 && fail "web.sock should not exist here"
ln -s web2.sock "$TMP/web.sock"
"$BUILD/l4d2ctl" --socket-dir "$TMP" ping web >/dev/null || fail "unnamed: rpc"
rm -f "$TMP/web.sock"
kill -TERM "$PID"; wait_exit 5

# ---------------------------------------------------------------------------------------------
step "start-up errors are refused with a message"
if "$BUILD/left4me-webd" --config "$TMP/left4me.yaml" >"$TMP/log" 2>&1; then fail "started without sockets"; fi
grep -q -- "--listen" "$TMP/log" || fail "no hint about --listen: $(cat "$TMP/log")"
if "$BUILD/left4me-webd" --config "$TMP/left4me.yaml" --http nonsense >"$TMP/log" 2>&1; then fail "bad --http"; fi
grep -q "ADDR:PORT" "$TMP/log" || fail "bad --http message: $(cat "$TMP/log")"
echo "limits: {idle_exit_sec: banana}" >"$TMP/bad.yaml"
if "$BUILD/left4me-webd" --config "$TMP/bad.yaml" --http "127.0.0.1:$(free_port)" >"$TMP/log" 2>&1; then
        fail "bad config accepted"
fi
grep -q "idle_exit_sec" "$TMP/log" || fail "bad config message does not name the key: $(cat "$TMP/log")"
if "$BUILD/left4me-webd" --idle-exit -5 >"$TMP/log" 2>&1; then fail "negative --idle-exit accepted"; fi
"$BUILD/left4me-webd" --help | grep -q -- "--http ADDR:PORT" || fail "--help"
"$BUILD/left4me-webd" --version | grep -q "^left4me-webd " || fail "--version"

echo "webd black-box: all checks passed"
