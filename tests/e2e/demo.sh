#!/bin/bash
# tests/e2e/demo.sh [start|stop|shell|status|stop-dir DIR]: the suite in a booted systemd
# container (the same one as the e2e tier), left running for you to try.
#   start   (default; `make run`) boot, install, start left4me.target, then detach
#   shell   a root shell inside (l4d2ctl, systemctl, journalctl work there)
#   status  systemctl status of the suite inside
#   stop    power the container off, unmount, remove its files
# The container has a network of its own (so it can load the suite's nftables rules without
# touching the host's); a systemd-socket-proxyd on the host forwards 127.0.0.1:8080 into
# it, so webd is on http://127.0.0.1:8080 here.
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
                kill "$(cat "$E2E_DIR/proxy.pid" 2>/dev/null)" 2>/dev/null
                e2e_teardown "$E2E_DIR"; rm -f "$STATE"
                return 1
        fi
}

# demo_seed: make the suite usable at once: the stand-in game installed through hostd (the
# real steamcmd cannot be downloaded here), an overlay built in the sandbox, and one server
# running on port 27015 from it. A failure here leaves the suite running and says so.
demo_seed() {
        local L=/var/lib/left4me T=$E2E_PREFIX/lib/left4me/testing
        ct install -o left4me-steam -g left4me-steam -m 0755 "$T/fake-steamcmd" $L/steam/steamcmd.sh &&
                ct install -o left4me-steam -g left4me-steam -m 0755 "$T/fake-srcds" $L/steam/fake-srcds || return 1
        # The container's / is an overlayfs, which cannot hold overlay upper dirs.
        ct mountpoint -q $L/runtime || ct mount -t tmpfs -o mode=0755 tmpfs $L/runtime || return 1
        ct l4d2ctl install >/dev/null || return 1
        printf '%s\n' 'mkdir -p left4dead2/cfg' \
                'echo "sv_motd_unload_on_dismissal 1" > left4dead2/cfg/server.cfg' \
                'echo "built in the sandbox at $(date)" > left4dead2/demo-overlay.txt' |
                ct_sh "cat > /root/demo-build.sh" || return 1
        ct l4d2ctl overlay build demo -f /root/demo-build.sh >/dev/null || return 1
        printf '%s\n' 'port: 27015' 'overlays: [{path: demo, alias: overlay_demo}]' \
                'config: ["exec server_overlay_demo", "hostname \"left4me demo\""]' |
                ct_sh "cat > /root/demo-spec.yaml" || return 1
        ct l4d2ctl initialize demo -f /root/demo-spec.yaml >/dev/null &&
                ct l4d2ctl start demo >/dev/null || return 1
}

# The first admin, made the way an operator makes it (no browser needed), with a fresh
# password; and a self-signed pair for when the web UI leaves loopback.
demo_admin() {
        DEMO_PASSWORD=$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | head -c 16)
        ct sh -c "LEFT4ME_ADMIN_PASSWORD='$DEMO_PASSWORD' l4d2ctl web user create admin --admin" >/dev/null || return 1
        ct "$E2E_PREFIX/lib/left4me/left4me-tls-selfsigned" localhost >/dev/null
        # The example script overlays, as system overlays an admin builds from /overlays.
        ct l4d2ctl web seed-script-overlays "$E2E_PREFIX/share/left4me/script-overlays" >/dev/null || true
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
        e2e_boot "left4me-demo-$$" --private-network \
                --system-call-filter="landlock_create_ruleset landlock_restrict_self" || failed
        e2e_install || failed
        e2e_setup 30 || failed
        seeded=yes
        demo_seed || seeded=no
        admin=yes
        demo_admin || admin=no
        # The host's 127.0.0.1:8080, bound here, served by a proxy that runs in the
        # container's network namespace and connects to webd's socket there.
        setsid systemd-socket-activate -l 127.0.0.1:8080 -- \
                nsenter -t "$E2E_PID1" -n /lib/systemd/systemd-socket-proxyd 127.0.0.1:8080 \
                >"$E2E_DIR/proxy.log" 2>&1 </dev/null &
        echo $! >"$E2E_DIR/proxy.pid"
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
  Log in:     $([ $admin = yes ] && echo "admin / $DEMO_PASSWORD   (more users: $0 shell, then l4d2ctl web user create NAME)" ||
                echo "NOT set up: $0 shell, then l4d2ctl web user create admin --admin")
  Shell:      $0 shell        (or: nsenter -t $E2E_PID1 -a bash)
  Try:        $0 shell  then  l4d2ctl ping; l4d2ctl status demo; l4d2ctl logs demo;
              l4d2ctl jobs list; systemctl status 'left4me-*'
  Game:       $([ $seeded = yes ] && echo "server 'demo' (the stand-in game) on udp/tcp 27015 inside: $0 shell quakestat -a2s 127.0.0.1:27015" ||
                echo "NOT set up (see '$0 shell' and journalctl -u left4me-host)")
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
        kill "$(cat "$E2E_DIR/proxy.pid" 2>/dev/null)" 2>/dev/null
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
