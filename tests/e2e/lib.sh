# shellcheck shell=bash
# tests/e2e/lib.sh: the real-systemd tier (see docs/ and the testbed notes).
#
# Two halves:
#   - the harness (e2e_*): boot systemd in systemd-nspawn over an overlay of the host's
#     root, install the suite into it, tear everything down again. Used by run.sh and
#     demo.sh.
#   - helpers for scenario scripts (ct, wait_for, assert_*, journal, ...). A scenario is
#     a bash script that sources this file and runs with E2E_PID1 (the container's
#     systemd) in its environment; it exits 0 for PASS.
#
# Writes land in the overlay's upper dir only; the host's / is never written to.

E2E_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_REPO=$(cd "$E2E_SRC/../.." && pwd)
: "${E2E_IDLE:=3}"             # limits.idle_exit_sec of the test config
: "${E2E_TMP:=/var/tmp}"       # where the overlay dirs go (must be a disk, not a tmpfs)
: "${E2E_PREFIX:=/usr/local}"
E2E_CT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# shellcheck disable=SC2034 # used by the scenarios
# Units the suite installs (server@ is a template: verified as an instance).
E2E_SERVICES="host jobs logs web"
# shellcheck disable=SC2034
E2E_UNITS="left4me-host.socket left4me-host.service left4me-jobs.socket left4me-jobs.service
left4me-logs.socket left4me-logs.service left4me-web.socket left4me-web-rpc.socket
left4me-web.service left4me.target l4d2-game.slice l4d2-build.slice left4me-firewall.service"

e2e_log() { printf 'e2e: %s\n' "$*" >&2; }

# ---- scenario helpers ------------------------------------------------------------------

# Runs a command inside the container (all its namespaces), with a clean environment so
# nothing of the caller's (LEFT4ME_CONFIG, SYSTEMD_*) leaks in.
ct() {
        [ -n "${E2E_PID1:-}" ] || { echo "ct: E2E_PID1 is not set (not inside run.sh?)" >&2; return 125; }
        nsenter -t "$E2E_PID1" -a -- env -i PATH="$E2E_CT_PATH" HOME=/root LANG=C.UTF-8 \
                SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}
# Same, through sh -c.
ct_sh() { ct sh -c "$*"; }
# Runs a command inside as another user with only that user's groups (not via a login).
ct_as() {
        local user=$1; shift
        ct setpriv --reuid="$user" --regid="$(ct id -gn "$user")" --init-groups -- "$@"
}
# need_operator: user l4m-op, a member of group left4me (an operator who uses l4d2ctl).
need_operator() {
        ct id l4m-op >/dev/null 2>&1 || ct useradd -M -G left4me l4m-op || fail "useradd l4m-op"
}
# Runs a command as one of the daemons' users, with the groups its unit gives it
# (SupplementaryGroups=left4me, so it reaches the sockets as the daemon does).
ct_daemon() {
        local user=$1; shift
        ct setpriv --reuid="$user" --regid="$user" --groups=left4me -- "$@"
}

# wait_for SECONDS CMD...: polls CMD every 0.2 s until it succeeds; fails after SECONDS.
wait_for() {
        local limit=$1; shift
        local deadline=$(( $(date +%s%N) + limit * 1000000000 ))
        while :; do
                "$@" >/dev/null 2>&1 && return 0
                [ "$(date +%s%N)" -lt "$deadline" ] || break
                sleep 0.2
        done
        echo "wait_for: timed out after ${limit}s: $*" >&2
        return 1
}

# fail MSG: the scenario (or the subshell it runs in) stops here.
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
        if [ "$1" = "$2" ]; then ok "$3 = '$2'"; else fail "$3: expected '$1', got '$2'"; fi
}
# assert_contains HAYSTACK NEEDLE WHAT
assert_contains() {
        case $1 in
        *"$2"*) ok "$3 contains '$2'" ;;
        *) fail "$3: '$2' not in: $1" ;;
        esac
}
# assert_rc EXPECTED WHAT CMD...: runs CMD, checks its exit status (prints its output).
assert_rc() {
        local want=$1 what=$2; shift 2
        local out rc=0
        out=$("$@" 2>&1) || rc=$?
        if [ "$rc" = "$want" ]; then ok "$what: exit $rc${out:+ ($(echo "$out" | head -n 3 | tr '\n' ' '))}"
        else fail "$what: expected exit $want, got $rc: $out"; fi
}
# summary LINE...: printed by run.sh after all scenarios, pass or fail (figures, notes).
summary() {
        echo "$*"
        [ -n "${E2E_SUMMARY:-}" ] && echo "$*" >>"$E2E_SUMMARY"
        return 0
}
# unit_state UNIT: ActiveState of a unit inside (active, inactive, failed, activating...).
unit_state() { ct systemctl show -P ActiveState "$1" 2>/dev/null; }
unit_is() { [ "$(unit_state "$2")" = "$1" ]; }
# journal UNIT...: the container's journal for those units.
journal() {
        local args=() u
        for u in "$@"; do args+=(-u "$u"); done
        ct journalctl --no-pager -o short-precise -n 200 "${args[@]}"
}
# need_file PATH WHAT: fails clearly when something the scenario needs is not installed.
need_file() {
        ct test -e "$1" || fail "$1 is not installed in the container: $2"
}
need_cli() { need_file "$E2E_PREFIX/bin/l4d2ctl" "l4d2ctl not built yet (cli/)"; }
# daemon_of SERVICE: host -> left4me-hostd, jobs -> left4me-jobd, ...
daemon_of() { echo "left4me-${1%s}d"; }
need_daemon() {
        local d; d=$(daemon_of "$1")
        need_file "$E2E_PREFIX/lib/left4me/$d" "$d not built yet (svc-$1/)"
}
# The container's / is an overlayfs, which cannot hold overlay upper dirs: runtime/ on a tmpfs.
runtime_on_tmpfs() {
        ct mountpoint -q /var/lib/left4me/runtime ||
                ct mount -t tmpfs -o mode=0755 tmpfs /var/lib/left4me/runtime || fail "tmpfs on runtime/"
}
# stand_ins: the fake steamcmd where paths.steamcmd points (steamcmd writes next to itself, so
# it lives in the left4me-steam-owned steam dir, as the real one does) and fake-srcds beside it.
stand_ins() {
        local t=$E2E_PREFIX/lib/left4me/testing
        need_file "$t/fake-steamcmd" "make install-fixtures"
        need_file "$t/fake-srcds" "make install-fixtures"
        ct install -o left4me-steam -g left4me-steam -m 0755 "$t/fake-steamcmd" /var/lib/left4me/steam/steamcmd.sh ||
                fail "copy steamcmd"
        ct install -o left4me-steam -g left4me-steam -m 0755 "$t/fake-srcds" /var/lib/left4me/steam/fake-srcds ||
                fail "copy fake-srcds"
}
# game_installed: the stand-ins, and the game installed through hostd unless it is already.
game_installed() {
        ct test -x /var/lib/left4me/installation/srcds_run && return 0
        stand_ins
        ct l4d2ctl install >/dev/null || fail "l4d2ctl install"
}
# building ID: the directory the running build of overlay ID writes, its newest generation
# (overlays/.gen/ID/N; overlays/ID becomes it only once the build succeeded). A test that
# releases a waiting build puts its file there.
building() { echo "/var/lib/left4me/overlays/.gen/$1/$(ct ls -1 "/var/lib/left4me/overlays/.gen/$1" 2>/dev/null | sort -n | tail -n 1)"; }

# ping SERVICE: l4d2ctl ping inside the container, as root.
ping_svc() { ct l4d2ctl ping "$1"; }

# ---- harness ----------------------------------------------------------------------------

# Says why this machine cannot boot the container, or nothing.
e2e_cannot_boot() {
        [ "$(id -u)" = 0 ] || { echo "not root (needs mount(2) and systemd-nspawn)"; return; }
        command -v systemd-nspawn >/dev/null || { echo "no systemd-nspawn (apt-get install systemd-container)"; return; }
        command -v nsenter >/dev/null || { echo "no nsenter (util-linux)"; return; }
        grep -qw overlay /proc/filesystems 2>/dev/null || modprobe overlay 2>/dev/null ||
                { echo "no overlayfs in this kernel"; return; }
        [ -x /lib/systemd/systemd ] || { echo "no /lib/systemd/systemd on the host to boot"; return; }
}

# e2e_boot NAME [nspawn options...]: overlay + systemd-nspawn --boot in the background.
# Sets E2E_DIR, E2E_ROOT, E2E_NSPAWN_PID, E2E_PID1, E2E_MACHINE.
e2e_boot() {
        E2E_MACHINE=$1; shift
        E2E_DIR=$(mktemp -d "$E2E_TMP/$E2E_MACHINE.XXXXXX") || return 1
        E2E_ROOT=$E2E_DIR/root
        mkdir -p "$E2E_DIR/upper" "$E2E_DIR/work" "$E2E_ROOT"
        # The repository must be reachable inside only for convenience; everything the
        # tests use is installed with DESTDIR below, so a /work on another mount is fine.
        mount -t overlay overlay -o "lowerdir=/,upperdir=$E2E_DIR/upper,workdir=$E2E_DIR/work" "$E2E_ROOT" ||
                { e2e_log "cannot mount the overlay on $E2E_ROOT"; return 1; }
        e2e_mask_host_units
        # A left4me installed on the host itself must not leak in as state.
        rm -rf "$E2E_ROOT/var/lib/left4me" "$E2E_ROOT/run/left4me"
        e2e_log "booting $E2E_MACHINE in $E2E_DIR"
        # setsid: own session, so a Ctrl-C at the terminal reaches only us, and we stop it.
        setsid systemd-nspawn -D "$E2E_ROOT" --boot --register=no --keep-unit --link-journal=no \
                --machine="$E2E_MACHINE" --console=read-only "$@" \
                </dev/null >"$E2E_DIR/nspawn.log" 2>&1 &
        E2E_NSPAWN_PID=$!
        echo "$E2E_NSPAWN_PID" >"$E2E_DIR/nspawn.pid"

        E2E_PID1=
        for _ in $(seq 1 100); do
                E2E_PID1=$(ps -o pid= --ppid "$E2E_NSPAWN_PID" 2>/dev/null | head -n 1 | tr -d ' ')
                [ -n "$E2E_PID1" ] && [ "$(cat /proc/"$E2E_PID1"/comm 2>/dev/null)" = systemd ] && break
                E2E_PID1=
                kill -0 "$E2E_NSPAWN_PID" 2>/dev/null || break
                sleep 0.1
        done
        if [ -z "$E2E_PID1" ]; then
                e2e_log "systemd-nspawn did not start systemd; its log:"
                tail -n 30 "$E2E_DIR/nspawn.log" >&2
                return 1
        fi
        echo "$E2E_PID1" >"$E2E_DIR/pid1"
        export E2E_PID1 E2E_ROOT E2E_DIR E2E_MACHINE
        local st
        for _ in $(seq 1 300); do
                st=$(ct systemctl is-system-running 2>/dev/null)
                case $st in running | degraded) break ;; esac
                sleep 0.2
        done
        case $st in
        running) ;;
        degraded)
                e2e_log "container is degraded (tests go on); failed units and errors:"
                ct systemctl list-units --state=failed --all --no-pager --no-legend >&2
                ct journalctl -b -p err --no-pager -n 10 >&2 ;;
        *)
                e2e_log "container did not finish booting (state: ${st:-none}); nspawn log:"
                tail -n 30 "$E2E_DIR/nspawn.log" >&2
                return 1 ;;
        esac
        e2e_log "container up: nspawn pid $E2E_NSPAWN_PID, its systemd is pid $E2E_PID1 on the host"
}

# Masks, in the upper layer, the host's services that would otherwise start inside
# (a database server, timers, gettys): a quiet, fast container.
e2e_mask_host_units() {
        local d=$E2E_ROOT/etc/systemd/system u
        mkdir -p "$d"
        for u in "$d"/multi-user.target.wants/* "$d"/timers.target.wants/* "$d"/default.target.wants/*; do
                [ -e "$u" ] || [ -L "$u" ] || continue
                u=$(basename "$u")
                case $u in *.target | left4me* | l4d2*) continue ;; esac
                ln -sfn /dev/null "$d/$u"
        done
        for u in console-getty.service getty@.service systemd-tmpfiles-clean.timer apt-daily.timer \
                apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer \
                systemd-timesyncd.service postgresql.service cron.service ssh.service; do
                ln -sfn /dev/null "$d/$u"
        done
}

# e2e_install: make install install-fixtures into the container's root.
e2e_install() {
        local build=${BUILD:-$E2E_REPO/build}
        local mk=(make -s -C "$E2E_REPO" BUILD="$build" PREFIX="$E2E_PREFIX" DESTDIR="$E2E_ROOT")
        e2e_log "installing: make install install-fixtures DESTDIR=$E2E_ROOT"
        if ! "${mk[@]}" install install-fixtures >"$E2E_DIR/install.log" 2>&1; then
                cat "$E2E_DIR/install.log" >&2
                e2e_log "!!! 'make install' failed (is the tree building?). Installing what exists"
                e2e_log "!!! instead; scenarios that need a missing program will fail."
                "${mk[@]}" install-units install-config install-docs install-bins install-fixtures >&2 ||
                        { e2e_log "even the partial install failed"; return 1; }
        else
                grep -i 'skipped\|warning' "$E2E_DIR/install.log" >&2 || true
        fi
}

# e2e_setup [IDLE]: users, dirs, a test config, then enable --now left4me.target.
e2e_setup() {
        local idle=${1:-$E2E_IDLE}
        ct systemd-sysusers || { e2e_log "systemd-sysusers failed"; return 1; }
        mkdir -p "$E2E_ROOT/etc/left4me"
        cat >"$E2E_ROOT/etc/left4me/left4me.yaml" <<EOF
# written by tests/e2e/lib.sh: short idle time for the activation tests
paths:
  root: /var/lib/left4me
  steamcmd: /var/lib/left4me/steam/steamcmd.sh
  run: /run/left4me
ports: {start: 27015, end: 27115}
web: {bind: 127.0.0.1, port: 8080}
limits: {idle_exit_sec: $idle, max_message_bytes: 1048576, max_connections: 64}
jobs: {workers: 4}
sandbox: {memory_max: 4G, tasks_max: 512, cpu_quota: 200%, runtime_max_sec: 3600}
EOF
        ct systemd-tmpfiles --create || { e2e_log "systemd-tmpfiles --create failed"; return 1; }
        ct systemctl daemon-reload || return 1
        ct systemctl enable --now left4me.target || {
                e2e_log "enable --now left4me.target failed"
                journal 'left4me-*' >&2
                return 1
        }
}

# e2e_teardown: stop the container (by its pid), unmount, remove the temp dir. Idempotent.
e2e_teardown() {
        local dir=${1:-${E2E_DIR:-}} pid
        [ -n "$dir" ] && [ -d "$dir" ] || return 0
        pid=$(cat "$dir/nspawn.pid" 2>/dev/null)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
                # SIGTERM makes nspawn ask the container's systemd to power off.
                kill -TERM "$pid" 2>/dev/null
                for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
                if kill -0 "$pid" 2>/dev/null; then
                        e2e_log "container did not stop in 10 s; killing it"
                        kill -KILL "$pid" 2>/dev/null
                        for _ in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
                fi
        fi
        if mountpoint -q "$dir/root"; then
                umount "$dir/root" 2>/dev/null || umount -l "$dir/root" ||
                        e2e_log "could not unmount $dir/root"
        fi
        if mountpoint -q "$dir/root"; then
                e2e_log "left $dir in place (still mounted)"
        else
                rm -rf --one-file-system "$dir"
        fi
}

# web_login USER PASSWORD: logs in through the form (its double-submit token) against the web UI
# at $url inside the container; prints the session's cookie header line.
web_login() {
        local tok sid
        tok=$(ct curl -sS "$url/login" | grep -o 'name="csrf_token" value="[^"]*"' | sed 's/.*value="//; s/"$//')
        sid=$(ct curl -sS -o /dev/null -D - -H "Cookie: __Host-left4me-login=$tok" --data-urlencode "csrf_token=$tok" \
                --data-urlencode "username=$1" --data-urlencode "password=$2" "$url/login" |
                tr -d '\r' | sed -n 's/^set-cookie: __Host-left4me=\([0-9a-f]*\);.*/\1/ip')
        [ -n "$sid" ] || fail "no session for $1"
        echo "Cookie: __Host-left4me=$sid"
}
