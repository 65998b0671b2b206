#!/bin/bash
# The web UI's core loop under a real systemd with hostd, jobd, logd and webd, the stand-in
# game and Debian's Chromium (tests/browser/servers.ct.mjs, run inside the container): an
# admin installs, a user composes a blueprint with two overlays, creates, starts, watches,
# stops, resets and deletes a server; another user sees none of it. Then what an operator
# may not do to a web server's instance, and a stopped jobd: the page says so and recovers.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
need_cli
for d in host jobs logs web; do need_daemon "$d"; done
L=/var/lib/left4me
url=http://127.0.0.1:8080
runtime_on_tmpfs
stand_ins

for u in "ct-admin ct-admin-password --admin" "alice alice-password-1" "bob bob-password-1"; do
        set -- $u
        ct sh -c "LEFT4ME_ADMIN_PASSWORD='$2' l4d2ctl web user create $1 ${3:-}" >/dev/null ||
                fail "l4d2ctl web user create $1"
done
# Two overlays, built as any overlay is (so they exist the way hostd publishes them); the
# top one ships a server.cfg to expose.
for o in cttop ctbottom; do
        ct_sh "printf 'mkdir -p left4dead2/cfg; echo \"sv_tag $o\" > left4dead2/cfg/server.cfg\n' >/tmp/$o.sh"
        out=$(ct l4d2ctl jobs submit overlay.build --overlay $o --script /tmp/$o.sh --wait 2>&1) ||
                fail "build of $o: $out"
done
ok "overlays built"

state=$(ct mktemp)
out=$(ct env L4M_URL=$url L4M_STATE="$state" BUILD="$E2E_REPO/build" \
        node --test --test-concurrency=1 --test-reporter=spec "$E2E_REPO/tests/browser/servers.ct.mjs" 2>&1)
rc=$?
echo "$out" | sed 's/^/  browser| /'
[ $rc = 0 ] || { journal left4me-web.service | tail -n 40; fail "the browser scenario failed"; }
ok "browser: install, blueprint, server start/stop/reset/delete, another user"

echo "--- an operator may not act on a web server's instance"
need_operator
ct_sh "printf 'port: 27077\n' >/tmp/w77.yaml && chmod 644 /tmp/w77.yaml"
out=$(ct_as l4m-op l4d2ctl initialize web-77 -f /tmp/w77.yaml 2>&1) && fail "an operator initialized web-77"
assert_contains "$out" "belongs to the web UI" "hostd refuses web-77 to an operator"
out=$(ct_as l4m-op l4d2ctl jobs submit server.start --server web-77 --spec /tmp/w77.yaml 2>&1) &&
        fail "an operator queued a start of web-77"
assert_contains "$out" "belongs to the web UI" "jobd refuses web-77 to an operator"

echo "--- followers of one job share one watch; a late one resumes by Last-Event-ID"
ct_sh "printf 'for i in \$(seq 1 120); do echo line \$i; sleep 0.03; done\n' >/tmp/slow.sh"
job=$(ct l4d2ctl jobs submit overlay.build --overlay ctslow --script /tmp/slow.sh --json | grep -o '"id": *[0-9]*' |
        head -n 1 | grep -o '[0-9]*$')
[ -n "$job" ] || fail "no build job"
C=$(web_login ct-admin ct-admin-password)
ct sh -c "curl -sN -m 30 -H '$C' $url/jobs/$job/events >/tmp/f1.txt 2>&1 &"
ct sh -c "curl -sN -m 30 -H '$C' $url/jobs/$job/events >/tmp/f2.txt 2>&1 &"
sleep 1.5
health=$(ct l4d2ctl --json ping web)
assert_contains "$health" '"jobs_watched":1' "one watch for two followers ($health)"
mid=$(ct sh -c "grep -o '^id: [0-9]*' /tmp/f1.txt | tail -n 1 | cut -d' ' -f2")
[ -n "$mid" ] || fail "the first follower has no lines yet"
ct sh -c "curl -sN -m 30 -H '$C' -H 'Last-Event-ID: $mid' $url/jobs/$job/events >/tmp/f3.txt 2>&1 &"
wait_for 30 ct sh -c "grep -q '^event: end' /tmp/f1.txt && grep -q '^event: end' /tmp/f3.txt && grep -q '^event: end' /tmp/f2.txt" ||
        fail "the followers did not all see the end"
ids() { ct sh -c "grep -o '^id: [0-9]*' $1 | cut -d' ' -f2 | tr '\n' ' '"; }
last=$(ct sh -c "grep -o '^id: [0-9]*' /tmp/f1.txt | tail -n 1 | cut -d' ' -f2")
assert_eq "$(seq -s ' ' 1 "$last") " "$(ids /tmp/f1.txt)" "the first follower: every line once, in order"
assert_eq "$(ids /tmp/f1.txt)" "$(ids /tmp/f2.txt)" "the second follower: the same lines"
assert_eq "$(seq -s ' ' $((mid + 1)) "$last") " "$(ids /tmp/f3.txt)" "the late follower: from after its id, no gap, no duplicate"
summary "web: 3 followers of job $job ($last lines) over one jobs.watch; the late one resumed after line $mid"

echo "--- jobd restarted in the middle of a followed job: the shared watch resumes, no gap, no duplicate"
job=$(ct l4d2ctl jobs submit overlay.build --overlay ctslow2 --script /tmp/slow.sh --json | grep -o '"id": *[0-9]*' |
        head -n 1 | grep -o '[0-9]*$')
[ -n "$job" ] || fail "no build job"
ct sh -c "curl -sN -m 40 -H '$C' $url/jobs/$job/events >/tmp/r1.txt 2>&1 &"
wait_for 10 ct sh -c "grep -q '^id: 5$' /tmp/r1.txt" || fail "the follower has no lines"
ct systemctl restart left4me-jobs.service || fail "restart jobd"
wait_for 40 ct sh -c "grep -q '^event: end' /tmp/r1.txt" || fail "the follower did not see the end"
last=$(ct sh -c "grep -o '^id: [0-9]*' /tmp/r1.txt | tail -n 1 | cut -d' ' -f2")
assert_eq "$(seq -s ' ' 1 "$last") " "$(ids /tmp/r1.txt)" "every line once, in order, across jobd's restart"
# Written by the restarted jobd: the watch was made again and went on from its last line.
assert_contains "$(ct cat /tmp/r1.txt)" "jobd stopped while this job was running" "the line the new jobd wrote"
summary "web: a follower of job $job kept its $last lines whole across a jobd restart"

echo "--- jobd stopped and its socket gone: pages say so at once, then recover"
echo "--- delete while a start is queued: the start is cancelled first, then the delete runs"
csrf=$(ct curl -sS -H "$C" "$url/servers" | grep -o 'name="csrf_token" value="[^"]*"' | head -n 1 |
        sed 's/.*value="//; s/"$//')
bp=$(ct curl -sS -o /dev/null -w '%{redirect_url}' -H "$C" --data-urlencode "csrf_token=$csrf" \
        --data-urlencode name=adminbp "$url/blueprints" | grep -o '/blueprints/[0-9]*' | grep -o '[0-9]*$')
[ -n "$bp" ] || fail "no blueprint made"
loc=$(ct curl -sS -o /dev/null -w '%{redirect_url}' -H "$C" --data-urlencode "csrf_token=$csrf" \
        --data-urlencode name=queued --data-urlencode blueprint_id="$bp" "$url/servers")
qs=$(echo "$loc" | grep -o '/servers/[0-9]*' | grep -o '[0-9]*$')
[ -n "$qs" ] || fail "no server made: $loc"
ct_sh "echo 20 >$L/steam/fake-steamcmd.delay"
inst=$(ct l4d2ctl jobs submit install --json | grep -o '"id": *[0-9]*' | head -n 1 | grep -o '[0-9]*$')
[ -n "$inst" ] || fail "install to hold the queue"
start=$(ct curl -sS -o /dev/null -w '%{redirect_url}' -H "$C" --data-urlencode "csrf_token=$csrf" "$url/servers/$qs/start" |
        grep -o '/jobs/[0-9]*' | grep -o '[0-9]*$')
[ -n "$start" ] || fail "no start job"
assert_contains "$(ct l4d2ctl jobs show "$start")" "queued" "the start waits behind the install"
loc=$(ct curl -sS -o /dev/null -w '%{redirect_url}' -H "$C" --data-urlencode "csrf_token=$csrf" "$url/servers/$qs/delete")
assert_contains "$loc" "m=server-deleting" "delete"
assert_contains "$(ct l4d2ctl jobs show "$start")" "cancelled" "the queued start, after the delete"
assert_contains "$(ct l4d2ctl jobs list --subject server:web-$qs)" "server.delete" "the delete job"
ct rm -f $L/steam/fake-steamcmd.delay
ct l4d2ctl jobs cancel "$inst" >/dev/null 2>&1
wait_for 30 sh -c "nsenter -t $E2E_PID1 -a l4d2ctl jobs show $inst | grep -q cancelled" ||
        fail "the install did not end after its cancel"
ok "a queued start was cancelled by the delete"

echo "--- an admin removes an instance made with l4d2ctl (unmanaged)"
ct_sh "printf 'port: 27090\n' >/tmp/ctcli.yaml"
ct l4d2ctl initialize ctcli -f /tmp/ctcli.yaml >/dev/null || fail "initialize ctcli"
# The page's host list may be a second old (webd-hostlist.c).
listed() { ct curl -sS -H "$C" "$url/admin" | grep -q "<code>ctcli</code>"; }
wait_for 5 listed || fail "/admin does not list the unmanaged instance"
page=$(ct curl -sS -H "$C" "$url/admin")
assert_contains "$page" 'action="/admin/instances/ctcli/delete"' "/admin offers to remove it"
job=$(ct curl -sS -o /dev/null -w '%{redirect_url}' -H "$C" --data-urlencode "csrf_token=$csrf" \
        "$url/admin/instances/ctcli/delete" | grep -o '/jobs/[0-9]*' | grep -o '[0-9]*$')
[ -n "$job" ] || fail "no delete job for ctcli"
wait_for 30 sh -c "nsenter -t $E2E_PID1 -a l4d2ctl jobs show $job | grep -q succeeded" ||
        fail "removing ctcli: $(ct l4d2ctl jobs show "$job")"
ct test -e $L/instances/ctcli && fail "instances/ctcli is still there"
assert_eq 404 "$(ct curl -sS -o /dev/null -w '%{http_code}' -H "$C" --data-urlencode "csrf_token=$csrf" \
        "$url/admin/instances/..%2Fetc/delete")" "a hostile instance name"
ok "an unmanaged instance removed from /admin"

echo "--- an admin adopts an instance made with l4d2ctl: a server of the blueprint's owner, same name"
ct_sh "printf 'port: 27091\n' >/tmp/ctadopt.yaml"
ct l4d2ctl initialize ctadopt -f /tmp/ctadopt.yaml >/dev/null || fail "initialize ctadopt"
adoptable() { ct curl -sS -H "$C" "$url/admin" | grep -q 'action="/admin/instances/ctadopt/adopt"'; }
wait_for 5 adoptable || fail "/admin offers no adoption of ctadopt"
assert_eq 409 "$(ct curl -sS -o /dev/null -w '%{http_code}' -H "$C" --data-urlencode "csrf_token=$csrf" \
        --data-urlencode blueprint_id="$bp" "$url/admin/instances/web-999/adopt")" "a web name is not adopted"
assert_eq 404 "$(ct curl -sS -o /dev/null -w '%{http_code}' -H "$C" --data-urlencode "csrf_token=$csrf" \
        --data-urlencode blueprint_id="$bp" "$url/admin/instances/nosuch/adopt")" "a missing instance"
loc=$(ct curl -sS -o /dev/null -w '%{redirect_url}' -H "$C" --data-urlencode "csrf_token=$csrf" \
        --data-urlencode blueprint_id="$bp" "$url/admin/instances/ctadopt/adopt")
as=$(echo "$loc" | grep -o '/servers/[0-9]*' | grep -o '[0-9]*$')
[ -n "$as" ] || fail "adopt: $loc"
assert_contains "$loc" "m=server-adopted" "adopted"
assert_eq 409 "$(ct curl -sS -o /dev/null -w '%{http_code}' -H "$C" --data-urlencode "csrf_token=$csrf" \
        --data-urlencode blueprint_id="$bp" "$url/admin/instances/ctadopt/adopt")" "adopted twice"
page=$(ct curl -sS -H "$C" "$url/servers/$as")
assert_contains "$page" "<dd>ctadopt</dd>" "the server keeps the instance's name"
assert_contains "$page" "<dd>27091</dd>" "and its port"
ct curl -sS -H "$C" "$url/admin" | grep -q "<code>ctadopt</code>" && fail "/admin still lists ctadopt as unmanaged"
job=$(ct curl -sS -o /dev/null -w '%{redirect_url}' -H "$C" --data-urlencode "csrf_token=$csrf" "$url/servers/$as/start" |
        grep -o '/jobs/[0-9]*' | grep -o '[0-9]*$')
[ -n "$job" ] || fail "no start job for the adopted server"
wait_for 60 sh -c "nsenter -t $E2E_PID1 -a l4d2ctl jobs show $job | grep -q succeeded" ||
        fail "starting the adopted server: $(ct l4d2ctl jobs show "$job")"
assert_contains "$(ct l4d2ctl status ctadopt)" "running" "the adopted instance runs under its own name"
loc=$(ct curl -sS -o /dev/null -w '%{redirect_url}' -H "$C" --data-urlencode "csrf_token=$csrf" "$url/servers/$as/delete")
assert_contains "$loc" "m=server-deleting" "delete the adopted server"
gone() { ! nsenter -t "$E2E_PID1" -a test -e "$L/instances/ctadopt"; }
wait_for 60 gone || fail "instances/ctadopt is still there"
ok "an unmanaged instance adopted, started under its name, deleted"

# jobd restarted under webd's open (idle) connection: the next page gets a new connection.
assert_eq 200 "$(ct curl -sS -o /dev/null -w '%{http_code}' -H "$C" "$url/admin/jobs")" \
        "/admin/jobs"
ct systemctl restart left4me-jobs.service || fail "restart jobd"
assert_eq 200 "$(ct curl -sS -o /dev/null -w '%{http_code}' -H "$C" "$url/admin/jobs")" \
        "/admin/jobs right after jobd restarted under webd's connection"
ct systemctl stop left4me-jobs.socket left4me-jobs.service || fail "stop jobd"
t0=$(date +%s%N)
code=$(ct curl -sS -o /tmp/jobs.html -w '%{http_code}' -H "$C" "$url/admin/jobs")
took=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_eq 503 "$code" "/admin/jobs with jobd gone"
assert_contains "$(ct cat /tmp/jobs.html)" "job service is unavailable" "the 503 page"
[ "$took" -lt 2000 ] || fail "/admin/jobs took $took ms with jobd gone"
assert_eq 200 "$(ct curl -sS -o /dev/null -w '%{http_code}' -H "$C" "$url/servers")" \
        "/servers with jobd gone"
ct systemctl start left4me-jobs.socket || fail "start jobs.socket"
assert_eq 200 "$(ct curl -sS -o /dev/null -w '%{http_code}' -H "$C" "$url/admin/jobs")" \
        "/admin/jobs once socket activation is back"
summary "web: a page with jobd gone answered 503 in ${took} ms and recovered"
