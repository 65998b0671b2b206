#!/bin/bash
# jobd takes a caller's identity from the kernel (SO_PEERCRED), not from what it claims: an
# operator (a member of group left4me other than root) submits only as cli:<login>, cannot
# pose as a web user, and cannot see, watch or cancel another operator's jobs, whose ids it
# also does not get through coalescing; webd's user may act for web users only; logd's
# may read any job; root may do anything. jobd records who submitted. The web UI's overlays
# (web-<id>) are webd's: an operator can neither build nor delete one, through hostd or jobd.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_cli
need_daemon jobs
need_daemon host
L=/var/lib/left4me
cleanup() {
        ct userdel alice 2>/dev/null
        ct userdel bob 2>/dev/null
        ct l4d2ctl overlay delete web-1 >/dev/null 2>&1
}
trap cleanup EXIT
for u in alice bob; do
        ct id "$u" >/dev/null 2>&1 || ct useradd -M -G left4me "$u" || fail "useradd $u"
done
# job_id JSON: the first "id" of a `jobs submit --json` result is the job's.
job_id() { grep -o '"id": *[0-9]*' <<<"$1" | head -n 1 | grep -o '[0-9]*$'; }
# owner_is JSON OWNER WHAT
owner_is() { grep -q "\"owner\": *\"$2\"" <<<"$1" && ok "$3: owner $2" || fail "$3: owner is not $2: $1"; }

echo "--- an operator submits as itself, and only as itself"
out=$(ct_as alice l4d2ctl jobs submit server.stop --server nosuch1 --json) || fail "alice's submit: $out"
id=$(job_id "$out")
[ -n "$id" ] || fail "no job id in: $out"
owner_is "$out" cli:alice "alice's job"
alice_uid=$(ct id -u alice)
grep -Eq "\"submitter\": *\{\"uid\": *$alice_uid, *\"pid\": *[1-9]" <<<"$out" ||
        fail "the job does not record alice (uid $alice_uid) as its submitter: $out"
ok "jobd records the submitting peer (uid $alice_uid)"
rc=0; out=$(ct_as alice l4d2ctl jobs submit server.stop --server nosuch1 --owner web:carol 2>&1) || rc=$?
[ "$rc" = 6 ] || fail "alice posing as web:carol: expected exit 6 (denied), got $rc: $out"
assert_contains "$out" "only as 'cli:alice'" "the refusal"
rc=0; out=$(ct_as alice l4d2ctl jobs submit server.stop --server nosuch1 --owner cli:bob 2>&1) || rc=$?
[ "$rc" = 6 ] || fail "alice posing as cli:bob: expected exit 6, got $rc: $out"

echo "--- another operator can neither see nor cancel it"
for cmd in "show $id" "cancel $id" "watch $id"; do
        rc=0; out=$(ct_as bob timeout 20 l4d2ctl jobs $cmd 2>&1) || rc=$?
        [ "$rc" = 6 ] || fail "bob: jobs $cmd: expected exit 6 (denied), got $rc: $out"
        assert_contains "$out" "belongs to another owner" "bob: jobs $cmd"
done
list=$(ct_as bob l4d2ctl jobs list --json) || fail "bob's list: $list"
grep -q "\"id\": *$id[,}]" <<<"$list" && fail "bob's list shows alice's job $id: $list"
ok "bob's list leaves out alice's job"
rc=0; out=$(ct_as bob l4d2ctl jobs list --owner cli:alice 2>&1) || rc=$?
[ "$rc" = 6 ] || fail "bob listing cli:alice: expected exit 6, got $rc: $out"
assert_rc 0 "alice sees her own job" ct_as alice l4d2ctl jobs show "$id"

echo "--- webd acts for web users only; logd reads; root acts for anyone"
out=$(ct_daemon left4me-web l4d2ctl jobs submit server.stop --server nosuch2 --owner web:carol --json) ||
        fail "left4me-web as web:carol: $out"
owner_is "$out" web:carol "a web user's job"
rc=0; out=$(ct_daemon left4me-web l4d2ctl jobs submit server.stop --server nosuch2 --owner cli:alice 2>&1) || rc=$?
[ "$rc" = 6 ] || fail "webd posing as cli:alice: expected exit 6, got $rc: $out"
assert_contains "$out" "only as web:<user>" "webd's refusal"
assert_rc 0 "root sees alice's job" ct l4d2ctl jobs show "$id"
# webd applies its own users' rules, and logd reads any job's units.
assert_rc 0 "webd sees alice's job" ct_daemon left4me-web l4d2ctl jobs show "$id"
assert_rc 0 "logd reads alice's job (jobs.get, for its units)" ct_daemon left4me-logs l4d2ctl call jobs jobs.get id="$id"
rc=0; out=$(ct_daemon left4me-logs l4d2ctl jobs submit server.stop --server nosuch2 --owner web:carol 2>&1) || rc=$?
[ "$rc" = 6 ] || fail "logd submitting: expected exit 6, got $rc: $out"
rc=0; out=$(ct_daemon left4me-jobs l4d2ctl jobs list 2>&1) || rc=$?
[ "$rc" = 6 ] || fail "jobd's own user listing jobs: expected exit 6, got $rc: $out"
out=$(ct l4d2ctl jobs submit server.stop --server nosuch3 --owner cli:alice --json) || fail "root as cli:alice: $out"
owner_is "$out" cli:alice "root acting for alice"
grep -Eq '"submitter": *\{"uid": *0,' <<<"$out" || fail "root's job for alice does not name root as submitter: $out"
assert_contains "$(ct l4d2ctl jobs show "$(job_id "$out")")" "submitted by uid 0 (root)" "jobs show names the submitter"
assert_contains "$(journal left4me-jobs.service)" "for 'cli:alice' by uid $(ct id -u alice)" \
        "jobd logs who submitted"
echo "--- the web UI's overlays are webd's (and root's), not an operator's"
ct_sh "printf 'echo hi >\"\$OVERLAY/hi\"\n' >/tmp/web1.sh && chmod 644 /tmp/web1.sh"
web_refused() { # WHAT CMD...: denied (exit 6), naming the web UI
        local what=$1 rc=0 out; shift
        out=$("$@" 2>&1) || rc=$?
        [ "$rc" = 6 ] || fail "$what: expected exit 6 (denied), got $rc: $out"
        assert_contains "$out" "overlay 'web-1' belongs to the web UI" "$what is refused"
}
web_refused "an operator's overlay build web-1" ct_as alice l4d2ctl overlay build web-1 -f /tmp/web1.sh
web_refused "an operator's overlay delete web-1" ct_as alice l4d2ctl overlay delete web-1
web_refused "an operator's overlay.build job of web-1" \
        ct_as alice l4d2ctl jobs submit overlay.build --overlay web-1 --script /tmp/web1.sh
web_refused "an operator's overlay.delete job of web-1" ct_as alice l4d2ctl jobs submit overlay.delete --overlay web-1
assert_rc 0 "an operator may build web1 (not of the web's form)" \
        ct_as alice l4d2ctl overlay build web1 -f /tmp/web1.sh
assert_rc 0 "and delete it" ct_as alice l4d2ctl overlay delete web1
assert_rc 0 "root builds web-1" ct l4d2ctl overlay build web-1 -f /tmp/web1.sh
assert_rc 0 "root's overlay.build job of web-1" \
        ct l4d2ctl jobs submit overlay.build --overlay web-1 --script /tmp/web1.sh --wait
assert_rc 0 "webd's overlay.delete job of web-1" \
        ct_daemon left4me-web l4d2ctl jobs submit overlay.delete --overlay web-1 --owner web:carol --wait
ct test ! -e $L/overlays/web-1 -a ! -e $L/overlays/.gen/web-1 || fail "web-1 is still there after its delete job"
out=$(ct l4d2ctl jobs submit overlay.delete --overlay web-1 --wait 2>&1) || fail "root's delete of a missing overlay: $out"
assert_contains "$out" "overlay 'web-1' was not there" "a delete of what is gone succeeds"
assert_rc 0 "root deletes web-1 (gone already)" ct l4d2ctl overlay delete web-1
exit 0
