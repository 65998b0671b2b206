#!/bin/sh
# sys.health round trips vs a raw socket echo; see bench/rpc-roundtrip.c.
exec "$BUILD/bench-rpc-roundtrip" "$BUILD/left4me-testd" "${BENCH_N:-20000}"
