#!/bin/sh
# The folder download (svc-web/webd-zip.c) as webd drives it: 64 KiB slices through
# webd_zip_next into /dev/null, for a 1 GiB file of random bytes and for 5000 small files
# (1-8 KiB) in 50 folders. Beside it, `zip -0 -r -` (Info-ZIP, stored, to a pipe) and
# `bsdtar --format zip` (libarchive's own front end) of the same trees, where installed.
# The trees are in a temp dir on the same file system; the page cache is warm (each
# tree is read once before it is timed), so this is the CPU cost, not the disk's.
# BENCH_ZIP_MB changes the size of the big file.
set -eu
BUILD=${BUILD:-build}
mb=${BENCH_ZIP_MB:-1024}
tmp=$(mktemp -d /tmp/l4m-bench-zip-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

mkdir "$tmp/big" "$tmp/small"
head -c $((mb * 1024 * 1024)) /dev/urandom >"$tmp/big/big.bin"
/usr/bin/python3 - "$tmp/small" <<'PY'
import os, random, sys
random.seed(1)
for i in range(5000):
    d = os.path.join(sys.argv[1], "d%02d" % (i % 50))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%04d.cfg" % i), "wb") as f:
        f.write(os.urandom(random.randint(1024, 8192)))
PY

now() { date +%s.%N; }
# rate WHAT START END BYTES
rate() { awk -v w="$1" -v s="$2" -v e="$3" -v b="$4" 'BEGIN { t = e - s; printf "  %-34s %d bytes, %.2f s, %.0f MB/s\n", w, b, t, b / t / 1e6 }'; }

for t in big small; do
        size=$(du -sb "$tmp/$t" | cut -f1)
        echo "zip: tree '$t' ($size bytes of files)"
        cat "$tmp/$t"/*/* "$tmp/$t"/* >/dev/null 2>&1 || true
        printf '  webd_zip_next, 64 KiB slices:      '
        "$BUILD/bench-zip" "$tmp/$t" 65536
        if command -v zip >/dev/null; then
                s=$(now)
                n=$(cd "$tmp" && zip -q -0 -r - "$t" | wc -c)
                e=$(now)
                rate "zip -0 -r - | wc -c:" "$s" "$e" "$n"
        fi
        if command -v bsdtar >/dev/null; then
                s=$(now)
                (cd "$tmp" && bsdtar --format zip --options zip:compression=store -cf - "$t" >/dev/null)
                e=$(now)
                rate "bsdtar --format zip (store):" "$s" "$e" "$size"
        fi
done
