# shellcheck shell=bash
# tests/e2e/build-lib.sh: helpers of the build sandbox scenarios (build-*.sh); sourced after
# lib.sh. Not a scenario itself.
#
# A build script is written into the container and run with `l4d2ctl overlay build`. Hostile
# scripts start with PRELUDE: `try WHAT CMD...` runs CMD and prints "ESCAPE: WHAT" if it
# succeeded, "blocked: WHAT (...)" otherwise; the script exits 42 if anything escaped. A
# hostile test therefore asserts three things: the build ran to its end (result success,
# so every attempt was made), no ESCAPE line, and an unchanged host (snapshot_host before
# and after).

L=/var/lib/left4me
# The build users' pool (docs/sandbox.md, "One uid per build"): left4me-build-0 .. -15.
POOL_USERS=$(seq -f 'left4me-build-%g' -s, 0 15)
# build_procs: the processes of any build user (pgrep -a), empty if none.
build_procs() { ct pgrep -a -u "$POOL_USERS"; }

PRELUDE='esc=0
try() { what=$1; shift; if out=$("$@" 2>&1); then echo "ESCAPE: $what: $out" | head -c 300; echo; esc=1; else echo "blocked: $what ($(echo "$out" | tail -n 1 | head -c 120))"; fi; }
# perl syscall(NR, args...): exit 0 if the call returned >= 0, else print errno.
sys() { perl -e '"'"'@a = map { /^0x/ ? hex($_) : $_ + 0 } @ARGV; $r = syscall(shift @a, @a); if ($r < 0) { print "errno $!\n"; exit 1 } exit 0'"'"' "$@"; }
'
PRELUDE="$PRELUDE"'sys 39 >/dev/null || { echo "the syscall probe (getpid) is broken"; exit 3; }
'
EPILOGUE='echo "done, escapes=$esc"; [ $esc = 0 ] || exit 42'

# put_script NAME TEXT: /tmp/NAME.sh in the container.
put_script() { printf '%s\n' "$2" | ct sh -c "cat >/tmp/$1.sh"; }

# run_build ID NAME [ARGS...]: runs /tmp/NAME.sh over overlay ID (ARGS: more l4d2ctl options,
# e.g. --from-current); sets OUT (stdout+stderr) and RC.
run_build() {
        local id=$1 name=$2
        shift 2
        RC=0
        OUT=$(ct l4d2ctl overlay build "$id" -f "/tmp/$name.sh" "$@" 2>&1) || RC=$?
        echo "$OUT" | sed 's/^/    | /'
}

# hostile ID NAME BODY: PRELUDE + BODY + EPILOGUE, then the three assertions.
hostile() {
        local id=$1 name=$2 body=$3 before after
        before=$(snapshot_host "$id")
        put_script "$name" "$PRELUDE$body
$EPILOGUE"
        run_build "$id" "$name"
        after=$(snapshot_host "$id")
        case $OUT in *ESCAPE:*) fail "$name: an attempt succeeded" ;; esac
        [ "$RC" = 0 ] || fail "$name: the script did not run to its end (exit $RC)"
        assert_contains "$OUT" "done, escapes=0" "$name"
        if [ "$before" != "$after" ]; then
                diff <(echo "$before") <(echo "$after") | head -n 20 >&2
                fail "$name: the host changed"
        fi
        ok "$name: every attempt failed, nothing changed on the host"
}

# snapshot_host [ID]: owners, modes, sizes, mtimes and hashes of what a build must never
# touch: /var/lib/left4me (without overlays/ID, its generations overlays/.gen/ID, and tmp/,
# where hostd writes the script; overlays/ and overlays/.gen themselves change when a generation
# becomes current or is collected, their entries are compared),
# /etc, /run/left4me, /root, /home, /srv, /opt. jobd's own directory is left out: jobd (socket-
# activated, idle-exiting) creates and removes its -wal and -shm whenever it starts, build or
# not; what a test plants there (jobs/secret.db) stays in.
snapshot_host() {
        local id=${1:-none}
        ct sh -c "find $L /etc /run/left4me /root /home /srv /opt \
                \( -path $L/overlays/$id -o -path $L/overlays/.gen/$id -o -path $L/tmp -o -path $L/jobs \) -prune -o \
                \( -path $L/overlays -o -path $L/overlays/.gen \) -printf '%p %m %U %G %y\n' -o \
                -printf '%p %m %U %G %s %T@ %y\n' 2>/dev/null | sort; \
                find $L/jobs -name secret.db -printf '%p %m %U %G %s %T@ %y\n' 2>/dev/null; \
                find $L \( -path $L/overlays/$id -o -path $L/overlays/.gen/$id -o -path $L/jobs/jobs.db \) -prune -o -type f -name '*.db' \
                        -exec sha256sum {} + 2>/dev/null | sort"
}

# unit_of ID: the running build unit of overlay ID (empty if none).
unit_of() {
        ct systemctl list-units --all --no-legend --plain "left4me-build-$1-*" 2>/dev/null | awk '{print $1}' | head -n 1
}
