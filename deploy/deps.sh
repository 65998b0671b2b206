#!/bin/sh
# Installs the Debian 12 packages that building, testing and the demo need.
# Idempotent: installs only what is missing, and says what it does.
set -eu

PKGS="build-essential pkg-config clang clang-format libfuzzer-14-dev
libsystemd-dev libmsgpack-dev libyaml-dev libsqlite3-dev libh2o-evloop-dev libcriterion-dev libsodium-dev libarchive-dev
libcurl4-openssl-dev libssl-dev openssl systemd systemd-container systemd-journal-remote python3-msgpack qstat
curl sqlite3 iproute2 nftables util-linux valgrind bash coreutils tar gzip unzip wrk hyperfine
chromium-headless-shell fonts-dejavu-core
scdoc debhelper lintian fakeroot"
# libarchive-dev: webd's folder download, a .zip streamed as the client reads (the runtime
# library, libarchive13, comes with it; the Debian package gets it from ${shlibs:Depends}).
# scdoc: the manual pages (docs/man/*.scd -> build/man/), a small C tool with no runtime
# dependencies, so a plain `make` needs nothing heavier. debhelper, lintian, fakeroot:
# `make deb` (debian/, dpkg-buildpackage) and the lint of the package it makes.
# node and npm: Debian's packages unless a node (with its own npm) is already there.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        PKGS="$PKGS nodejs npm"
fi

missing=""
for p in $PKGS; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
                missing="$missing $p"
        fi
done

# The npm packages (package-lock.json): htmx and CodeMirror for the web UI (esbuild bundles
# the editor at build time), playwright-core and axe-core for the browser tier. Installed again only when the lock file is newer than the install.
npm_deps() {
        here=$(cd "$(dirname "$0")/.." && pwd)
        if [ -f "$here/node_modules/.package-lock.json" ] &&
                [ ! "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
                echo "deps: npm packages are installed"
                return 0
        fi
        echo "deps: npm ci (package-lock.json)"
        (cd "$here" && npm ci --no-audit --no-fund)
}

if [ -z "$missing" ]; then
        echo "deps: all build and test packages are installed"
        npm_deps
        exit 0
fi

if [ "$(id -u)" != 0 ]; then
        echo "deps: missing packages:$missing" >&2
        echo "deps: run as root, or: sudo apt-get install -y$missing" >&2
        exit 1
fi

echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends $missing; then
        apt-get update
        apt-get install -y --no-install-recommends $missing
fi
npm_deps
