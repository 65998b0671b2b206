#!/bin/bash
# tests/e2e/run.sh SCENARIO...: boots one systemd container (see lib.sh), installs the
# suite into it, runs each scenario script in turn and prints PASS/FAIL for each. The
# container is always torn down: on success, on failure, on Ctrl-C.
#
# Environment: BUILD (build dir, default ./build), E2E_IDLE (idle exit of the test config,
# default 3 s), CI (if set, a machine that cannot boot the container is a failure, not a
# skip), E2E_KEEP=1 (on failure, keep the container running and print how to enter it),
# VERBOSE=1 (print the output of passing scenarios too).
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

if [ $# -eq 0 ]; then
        set -- "$E2E_SRC"/[0-9]*.sh
fi

why=$(e2e_cannot_boot)
if [ -n "$why" ]; then
        verdict=SKIPPED; [ -n "${CI:-}" ] && verdict="FAILED (CI is set)"
        echo "##################################################################" >&2
        echo "## e2e: $verdict: cannot boot a systemd container here:" >&2
        echo "##   $why" >&2
        echo "##################################################################" >&2
        [ -z "${CI:-}" ]
        exit
fi

keep=0
cleanup() {
        local rc=$?
        trap - EXIT INT TERM
        if [ "$keep" = 1 ]; then
                e2e_log "E2E_KEEP: container left running. Enter it with:"
                e2e_log "  nsenter -t $E2E_PID1 -a bash"
                e2e_log "stop it with: $E2E_SRC/demo.sh stop-dir $E2E_DIR"
        else
                e2e_teardown "${E2E_DIR:-}"
        fi
        exit "$rc"
}
trap cleanup EXIT
trap 'echo; e2e_log "interrupted"; exit 130' INT TERM HUP

# --private-network: a loopback of its own, so port 8080 inside never meets the host's
# (or another run's) port 8080. --system-call-filter: nspawn 252's own seccomp allow list
# lacks Landlock, which a build's left4me-build-exec uses (a real host's systemd has no such
# outer filter; tests/e2e/build-abstract.sh).
e2e_boot "left4me-e2e-$$" --private-network --system-call-filter="landlock_create_ruleset landlock_restrict_self" ||
        exit 1
e2e_install || exit 1
if ! e2e_setup "$E2E_IDLE"; then
        e2e_log "setting up the suite failed"
        exit 1
fi

export E2E_SUMMARY=$E2E_DIR/summary
: >"$E2E_SUMMARY"
pass=0; failn=0; failed=()
for t in "$@"; do
        name=$(basename "$t")
        log=$E2E_DIR/$name.log
        start=$(date +%s%N)
        since=$(ct date '+%Y-%m-%d %H:%M:%S')
        # Own process group is not needed: the scenario runs in the foreground.
        if bash "$t" >"$log" 2>&1; then rc=0; else rc=$?; fi
        ms=$(( ($(date +%s%N) - start) / 1000000 ))
        dur=$((ms / 1000)).$(( (ms % 1000) / 100 ))
        if [ $rc -eq 0 ]; then
                pass=$((pass + 1))
                printf '  PASS  %-50s %6ss\n' "$name" "$dur"
                [ -n "${VERBOSE:-}" ] && sed 's/^/        | /' "$log"
        else
                failn=$((failn + 1)); failed+=("$name")
                printf '  FAIL  %-50s %6ss (exit %d)\n' "$name" "$dur" "$rc"
                sed 's/^/        | /' "$log" | tail -n 80
                echo "        | --- journal of the left4me units during $name (last 60 lines) ---"
                ct journalctl --no-pager -o short-precise --since "$since" -n 60 -u 'left4me-*' -u 'l4d2-*' 2>&1 |
                        sed 's/^/        | /'
        fi
done
if [ -s "$E2E_SUMMARY" ]; then sed 's/^/  /' "$E2E_SUMMARY"; fi
echo "e2e: $pass passed, $failn failed${failed[*]:+ (${failed[*]})}"
if [ $failn -ne 0 ] && [ -n "${E2E_KEEP:-}" ]; then keep=1; fi
[ $failn -eq 0 ]
