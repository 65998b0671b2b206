#!/bin/bash
# Socket activation and re-activation of each daemon: the socket listens while the
# service is inactive; `l4d2ctl ping X` starts it; after the idle time it exits on its own
# (cleanly) while the socket keeps listening; the next ping starts it again.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
need_cli

idle=$E2E_IDLE
# The first exit may wait for a peer's connection to close (webd holds jobd, say): allow
# a few idle periods, plus systemd's own latency.
settle=$((idle * 3 + 10))

check() {
        local s=$1 svc=left4me-$1.service sock=left4me-$1.socket
        need_daemon "$s"
        assert_eq active "$(unit_state "$sock")" "$sock"
        ct test -S "/run/left4me/$s.sock" || fail "/run/left4me/$s.sock is not a socket"
        wait_for "$settle" unit_is inactive "$svc" || fail "$svc did not become inactive (is: $(unit_state "$svc"))"
        ok "$svc inactive before the first request"
        assert_rc 0 "l4d2ctl ping $s (activates)" ping_svc "$s"
        local st; st=$(unit_state "$svc")
        case $st in active | deactivating | inactive) ok "$svc after ping: $st" ;;
        *) fail "$svc after ping: $st" ;; esac
        local inv1; inv1=$(ct systemctl show -P InvocationID "$svc")
        [ -n "$inv1" ] || fail "$svc has no InvocationID: it was never started"
        wait_for "$settle" unit_is inactive "$svc" || fail "$svc did not exit after idling (is: $(unit_state "$svc"))"
        assert_eq success "$(ct systemctl show -P Result "$svc")" "$svc Result after idle exit"
        assert_eq 0 "$(ct systemctl show -P ExecMainStatus "$svc")" "$svc exit status after idle exit"
        assert_eq active "$(unit_state "$sock")" "$sock still listening after the idle exit"
        assert_rc 0 "l4d2ctl ping $s (re-activates)" ping_svc "$s"
        local inv2; inv2=$(ct systemctl show -P InvocationID "$svc")
        [ "$inv1" != "$inv2" ] || fail "$svc was not started again (same InvocationID $inv1)"
        ok "$svc started again (new invocation)"
        if [ "$s" = web ]; then
                # The HTTP socket activates the same service.
                wait_for "$settle" unit_is inactive "$svc" || fail "$svc did not exit after idling"
                local body
                body=$(ct curl -fsS -m 10 http://127.0.0.1:8080/health) || fail "GET /health on the HTTP socket failed"
                ok "GET /health (activating webd over HTTP): $body"
        fi
}

rc=0
for s in $E2E_SERVICES; do
        echo "--- $s"
        ( check "$s" ) || { rc=1; echo "FAIL: $s"; journal "left4me-$s.service" "left4me-$s.socket" | tail -n 20; }
done
exit $rc
