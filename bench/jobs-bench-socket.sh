#!/bin/sh
# End-to-end jobd throughput through its socket (see jobs-bench-socket.py).
exec /usr/bin/python3 "$(dirname "$0")/jobs-bench-socket.py" "${JOBS_BENCH_N:-1000}"
