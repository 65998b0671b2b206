#!/bin/bash
# systemd-analyze security of each service (figures for docs/security.md), with a ceiling
# per unit so hardening cannot silently regress; and webd's /health over HTTP.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

# Ceilings: the measured figure (docs/security.md) plus a little slack. (steamcmd's units are
# measured while one runs, in host-install.sh.)
declare -A ceiling=(
        [left4me-host.service]=1.9
        [left4me-jobs.service]=0.5
        [left4me-logs.service]=0.5
        [left4me-web.service]=1.5
        [left4me-server@test.service]=1.6
        [left4me-firewall.service]=1.8
)
rc=0
summary "$(printf '%-32s %s' 'systemd-analyze security:' 'exposure (ceiling)')"
for u in left4me-host.service left4me-jobs.service left4me-logs.service left4me-web.service left4me-server@test.service \
        left4me-firewall.service; do
        line=$(ct systemd-analyze security --no-pager "$u" 2>&1 | grep 'Overall exposure level') ||
                { echo "FAIL: systemd-analyze security $u gave no figure"; rc=1; continue; }
        fig=$(echo "$line" | sed -E 's/.*: ([0-9.]+) ([A-Z]+).*/\1 \2/')
        summary "$(printf '  %-30s %s (%s)' "$u" "$fig" "${ceiling[$u]}")"
        if awk -v a="${fig% *}" -v b="${ceiling[$u]}" 'BEGIN { exit !(a > b) }'; then
                echo "FAIL: $u exposure ${fig% *} is above its ceiling ${ceiling[$u]}"; rc=1
        fi
done
if [ -n "${VERBOSE:-}" ]; then
        for u in left4me-host.service left4me-web.service; do
                ct systemd-analyze security --no-pager "$u" | grep -v '^✓'
        done
fi

echo "--- webd over HTTP"
need_daemon web
body=$(ct curl -fsS -m 10 -D "/tmp/health.hdr" http://127.0.0.1:8080/health) || fail "curl http://127.0.0.1:8080/health failed"
head=$(ct head -n 1 /tmp/health.hdr)
assert_contains "$head" " 200" "HTTP status line"
echo "body: $body"
case $body in "{"*) ok "/health answers JSON" ;; *) fail "/health body is not JSON: $body" ;; esac
exit $rc
