#!/bin/bash
# Runs one tier of tests: each argument is a test program or script.
# Prints one line per test and a summary; exits non-zero if any failed.
set -u
tier=$1; shift
pass=0; fail=0; failed=()
for t in "$@"; do
        start=$(date +%s%N)
        log=$(mktemp)
        if "$t" >"$log" 2>&1; then
                rc=0
        else
                rc=$?
        fi
        ms=$(( ($(date +%s%N) - start) / 1000000 ))
        dur=$((ms / 1000)).$(( (ms % 1000) / 100 ))
        if [ "$tier" = bench ]; then
                cat "$log"
        fi
        if [ $rc -eq 0 ]; then
                pass=$((pass + 1))
                printf '  PASS  %-50s %6ss\n' "$t" "$dur"
                [ -n "${VERBOSE:-}" ] && cat "$log"
        else
                fail=$((fail + 1)); failed+=("$t")
                printf '  FAIL  %-50s %6ss (exit %d)\n' "$t" "$dur" "$rc"
                sed 's/^/        | /' "$log" | tail -n 80
        fi
        rm -f "$log"
done
echo "$tier: $pass passed, $fail failed"
[ $fail -eq 0 ]
