#!/bin/bash
# Who may call what (docs/architecture.md, "Who may call what"): every method of hostd, jobd
# and logd, called by every kind of caller, against the table below, which is written out
# here rather than read from the code. Each call carries an unknown argument, so a caller
# that is let in gets "invalid" (exit 3) and nothing happens; one that is not gets "denied"
# (exit 6) with a message naming who may.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_cli
need_operator
for s in host jobs logs web; do need_daemon "$s"; done

# run_as CALLER CMD...: root, op (an operator), or a daemon's user with its unit's groups.
run_as() {
        local who=$1; shift
        case $who in
        root) ct "$@" ;;
        op) ct_as l4m-op "$@" ;;
        jobd) ct_daemon left4me-jobs "$@" ;;
        logd) ct_daemon left4me-logs "$@" ;;
        webd) ct_daemon left4me-web "$@" ;;
        *) fail "run_as: unknown caller $who" ;;
        esac
}

CALLERS="root op jobd logd webd"
# SERVICE METHOD: the callers that may (the rest must be denied).
TABLE="
host instance.initialize root op jobd
host instance.start      root op jobd
host instance.stop       root op jobd
host instance.delete     root op jobd
host instance.reset      root op jobd
host game.install        root op jobd
host overlay.build       root op jobd
host overlay.delete      root op jobd
host instance.status     root op jobd webd
host instance.spec       root op jobd webd
host instance.list       root op jobd webd
host overlay.list        root op jobd webd
host file.list           root op webd
host file.read           root op webd
host file.write          root op webd
host file.mkdir          root op webd
host file.rename         root op webd
host file.move           root op webd
host file.delete         root op webd
host file.open           root op webd
host file.upload         root op webd
host file.commit         root op webd
host file.abort          root op webd
host instance.files      root op webd
host instance.open       root op webd
host instance.changes    root op webd
jobs jobs.submit         root op webd
jobs jobs.get            root op webd logd
jobs jobs.list           root op webd
jobs jobs.log            root op webd
jobs jobs.watch          root op webd
jobs jobs.cancel         root op webd
logs logs.read           root op webd
logs logs.follow         root op webd
"
n=0
while read -r svc method allowed; do
        [ -n "$svc" ] || continue
        for who in $CALLERS; do
                rc=0; out=$(run_as "$who" timeout 20 l4d2ctl call "$svc" "$method" l4m_probe=1 2>&1) || rc=$?
                case " $allowed " in
                *" $who "*)
                        [ "$rc" = 3 ] || fail "$who: $svc $method: expected exit 3 (let in, bad argument), got $rc: $out"
                        assert_contains "$out" "l4m_probe" "$who: $svc $method is let in" >/dev/null ;;
                *)
                        [ "$rc" = 6 ] || fail "$who: $svc $method: expected exit 6 (denied), got $rc: $out"
                        assert_contains "$out" "permission denied: '$method' is for root, operators" \
                                "$who: $svc $method is refused" >/dev/null
                        assert_contains "$out" "(you are $who)" "the refusal names $who" >/dev/null ;;
                esac
                n=$((n + 1))
        done
done <<<"$TABLE"
ok "$n calls answered as the table says"

echo "--- sys.* is open to every caller on every socket"
for svc in host jobs logs web; do
        for who in $CALLERS; do
                assert_rc 0 "$who: $svc sys.health" run_as "$who" l4d2ctl call "$svc" sys.health >/dev/null
        done
done

echo "--- the game's and the builds' users do not get in at all"
for u in left4me-game left4me-build left4me-build-0 left4me-build-15 left4me-steam; do
        for svc in host jobs logs web; do
                rc=0; out=$(ct setpriv --reuid="$u" --regid="$u" --clear-groups -- l4d2ctl call "$svc" sys.health 2>&1) || rc=$?
                [ "$rc" = 6 ] || fail "$u: $svc: expected exit 6, got $rc: $out"
        done
        ok "$u is refused by every socket"
done
exit 0
