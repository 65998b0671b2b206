#!/bin/bash
# Runs the browser tier: every tests/browser/*.test.mjs, one file at a time (each launches
# one browser; two at once would double the ~400 MiB and the launch time on 2 cores).
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium-headless-shell}
missing=
[ -x "$chromium" ] || missing="$missing $chromium (apt-get install chromium-headless-shell)"
command -v node >/dev/null || missing="$missing node"
[ -f "$repo/node_modules/playwright-core/package.json" ] || missing="$missing node_modules/playwright-core (npm ci)"
if [ -n "$missing" ]; then
        echo "browser: missing:$missing; run 'make deps'" >&2
        exit 1
fi
rm -rf "${BUILD:?}/browser"
echo "browser: $("$chromium" --version 2>/dev/null), playwright-core $(node -p "require('$repo/node_modules/playwright-core/package.json').version")"
cd "$repo" && exec node --test --test-concurrency=1 --test-reporter=spec "$here"/*.test.mjs
