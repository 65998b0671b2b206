#!/bin/bash
# tests/e2e/demo.sh [start|stop|shell|status|stop-dir DIR]: the suite in a booted systemd
# container (the same one as the e2e tier), left running for you to try.
#   start   (default; `make run`) boot, install, start left4me.target, then detach
#   shell   a root shell inside (l4d2ctl, systemctl, journalctl work there)
#   status  systemctl status of the suite inside
#   stop    power the container off, unmount, remove its files
# The container shares the host's network, so webd is on http://127.0.0.1:8080 here.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

STATE_DIR=${LEFT4ME_DEMO_STATE:-/run/left4me-demo}
STATE=$STATE_DIR/state

load_state() {
        [ -r "$STATE" ] || { echo "demo: not running (no $STATE)" >&2; return 1; }
        # shellcheck disable=SC1090
        . "$STATE"
        export E2E_DIR E2E_ROOT E2E_PID1 E2E_MACHINE
        if ! kill -0 "$(cat "$E2E_DIR/nspawn.pid" 2>/dev/null)" 2>/dev/null; then
                echo "demo: the container is gone (stale $STATE); cleaning up" >&2
                e2e_teardown "$E2E_DIR"; rm -f "$STATE"
                return 1
        fi
}

cmd=${1:-start}
case $cmd in
start)
        if [ -r "$STATE" ] && load_state 2>/dev/null; then
                echo "demo: already running (machine $E2E_MACHINE). '$0 stop' first, or '$0 shell'."
                exit 0
        fi
        why=$(e2e_cannot_boot)
        if [ -n "$why" ]; then
                echo "demo: cannot boot a systemd container here: $why" >&2
                exit 1
        fi
        if ss -ltnH 'sport = :8080' 2>/dev/null | grep -q .; then
                echo "demo: something on the host already listens on port 8080:" >&2
                ss -ltnp 'sport = :8080' >&2
                exit 1
        fi
        trap 'e2e_log "interrupted; tearing down"; e2e_teardown; exit 1' INT TERM HUP
        failed() { e2e_log "demo start failed; tearing down"; e2e_teardown; exit 1; }
        e2e_boot "left4me-demo-$$" || failed
        e2e_install || failed
        e2e_setup 30 || failed
        trap - INT TERM HUP
        mkdir -p "$STATE_DIR"
        printf 'E2E_DIR=%q\nE2E_ROOT=%q\nE2E_PID1=%q\nE2E_MACHINE=%q\n' \
                "$E2E_DIR" "$E2E_ROOT" "$E2E_PID1" "$E2E_MACHINE" >"$STATE"
        ok=no
        for _ in $(seq 1 50); do
                if curl -fsS -m 2 http://127.0.0.1:8080/health >/dev/null 2>&1; then ok=yes; break; fi
                sleep 0.2
        done
        cat <<EOM

  left4me is running in container $E2E_MACHINE (systemd pid $E2E_PID1 on the host).
  Web UI:     http://127.0.0.1:8080/   (health: $([ $ok = yes ] && echo answers || echo "NOT answering yet; see '$0 status'"))
  Shell:      $0 shell        (or: nsenter -t $E2E_PID1 -a bash)
  Try:        $0 shell  then  l4d2ctl ping; systemctl status 'left4me-*'; journalctl -u left4me-web
  Status:     $0 status
  Stop:       $0 stop
  Files:      $E2E_DIR (overlay of /; nothing is written to the host)
EOM
        ;;
shell)
        load_state || exit 1
        shift
        if [ $# -gt 0 ]; then ct "$@"; else
                nsenter -t "$E2E_PID1" -a -- env -i PATH="$E2E_CT_PATH" HOME=/root TERM="${TERM:-xterm}" \
                        LANG=C.UTF-8 PS1="[$E2E_MACHINE \\w]# " bash --norc -i
        fi
        ;;
status)
        load_state || exit 1
        ct systemctl --no-pager list-units 'left4me*' 'l4d2*'
        ;;
stop)
        load_state || exit 0
        e2e_teardown "$E2E_DIR"
        rm -f "$STATE"
        echo "demo: stopped $E2E_MACHINE"
        ;;
stop-dir)
        # For a container kept by run.sh (E2E_KEEP=1).
        [ -n "${2:-}" ] || { echo "usage: $0 stop-dir DIR" >&2; exit 2; }
        e2e_teardown "$2"
        ;;
*)
        echo "usage: $0 [start|stop|shell [CMD...]|status|stop-dir DIR]" >&2
        exit 2
        ;;
esac
