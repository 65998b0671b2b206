#!/bin/bash
# Each service can be restarted or stopped alone: the others keep answering, and a
# request arriving while a service restarts is still answered (the socket holds it).
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
need_cli
for s in $E2E_SERVICES; do need_daemon "$s"; done

# ping_loop SERVICE N OUTFILE: N pings in a row, one exit status per line.
ping_loop() {
        for _ in $(seq 1 "$2"); do
                ct l4d2ctl ping "$1" >/dev/null 2>>"$3.err"; echo $? >>"$3"
                sleep 0.05
        done
}
all_zero() {
        local bad
        bad=$(grep -vc '^0$' "$1" || true)
        [ "$bad" = 0 ] || { echo "exit statuses: $(sort "$1" | uniq -c | tr '\n' ' ')"; head -n 5 "$1.err" 2>/dev/null; return 1; }
}

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

for pair in "host jobs" "jobs logs" "logs web" "web host"; do
        read -r victim other <<<"$pair"
        echo "--- restart $victim while $other is in use"
        ping_svc "$other" >/dev/null || fail "ping $other before the test"
        ping_loop "$other" 20 "$tmp/$other.rc" &
        loop=$!
        # A request racing the restart of the victim: it waits in the socket's backlog.
        ( sleep 0.1; ct l4d2ctl ping "$victim" >/dev/null 2>"$tmp/race.err"; echo $? >"$tmp/race.rc" ) &
        racer=$!
        ct systemctl restart "left4me-$victim.service" || fail "systemctl restart left4me-$victim.service"
        wait "$racer"; wait "$loop"
        all_zero "$tmp/$other.rc" || fail "pings of $other failed while $victim restarted"
        ok "20 pings of $other answered while $victim restarted"
        assert_eq 0 "$(cat "$tmp/race.rc")" "ping $victim racing its restart ($(cat "$tmp/race.err"))"
        rm -f "$tmp"/*.rc "$tmp"/*.err
        assert_rc 0 "ping $victim after restart" ping_svc "$victim"

        echo "--- stop $victim while $other is in use"
        ping_loop "$other" 10 "$tmp/$other.rc" &
        loop=$!
        ct systemctl stop "left4me-$victim.service" || fail "systemctl stop left4me-$victim.service"
        wait "$loop"
        all_zero "$tmp/$other.rc" || fail "pings of $other failed while $victim stopped"
        ok "pings of $other answered while $victim stopped"
        rm -f "$tmp"/*.rc "$tmp"/*.err
        assert_eq active "$(unit_state "left4me-$victim.socket")" "left4me-$victim.socket after stopping the service"
        assert_rc 0 "ping $victim after stop (socket re-activates it)" ping_svc "$victim"
done

echo "--- a service whose socket is gone: clear error, the others unaffected"
ct systemctl stop left4me-host.socket left4me-host.service || fail "stop host socket"
rc=0; out=$(ct l4d2ctl ping host 2>&1) || rc=$?
echo "l4d2ctl ping host -> exit $rc: $out"
assert_eq 7 "$rc" "ping host with its socket stopped (unavailable)"
[ -n "$out" ] || fail "no message for an unavailable service"
for s in jobs logs web; do assert_rc 0 "ping $s while host is down" ping_svc "$s"; done
ct systemctl start left4me-host.socket || fail "start host socket again"
assert_rc 0 "ping host after its socket is back" ping_svc host
