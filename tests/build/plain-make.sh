#!/bin/bash
# A plain `make` in a clean copy of the tree builds every program `make all` names (the
# *.mk files define rules of their own; the first one read must not become the default
# goal), and leaves `all` up to date.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The files a clean checkout has: tracked and new ones, not what .gitignore leaves out.
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
        (cd "$src" && git ls-files -z -co --exclude-standard | xargs -0 cp --parents -t "$tmp" 2>/dev/null) ||
                { echo "FAIL: cannot copy the tree"; exit 1; }
else
        tar -C "$src" --exclude=./build --exclude=./build-asan --exclude=./build-fuzz -cf - . | tar -C "$tmp" -xf -
fi
[ ! -e "$tmp/build" ] || { echo "FAIL: the copy already has a build/"; exit 1; }
# The npm packages are installed dependencies (make deps), like the Debian ones: the copy
# uses this tree's.
[ -d "$src/node_modules" ] && ln -s "$src/node_modules" "$tmp/node_modules"

# No BUILD= from the caller (run-tests.sh exports one): the default, inside the copy.
if ! (cd "$tmp" && env -u BUILD -u MAKEFLAGS -u MAKELEVEL make >"$tmp/.make.log" 2>&1); then
        tail -n 30 "$tmp/.make.log"
        echo "FAIL: plain make failed"
        exit 1
fi
programs=$(cd "$tmp" && env -u BUILD -u MAKEFLAGS -u MAKELEVEL make -s print-programs)
n=0 missing=0
for p in $programs; do
        n=$((n + 1))
        if [ -x "$tmp/$p" ]; then echo "ok: $p"; else echo "FAIL: plain make did not build $p"; missing=$((missing + 1)); fi
done
[ "$n" -ge 8 ] || { echo "FAIL: only $n programs listed by print-programs: $programs"; exit 1; }
[ "$missing" = 0 ] || exit 1
if ! (cd "$tmp" && env -u BUILD -u MAKEFLAGS -u MAKELEVEL make -q all); then
        echo "FAIL: after a plain make, 'make -q all' says something is out of date"
        exit 1
fi
echo "ok: plain make built all $n programs; 'all' is up to date"
