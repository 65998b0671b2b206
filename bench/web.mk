# bench/web-*: webd benchmarks (wrk against GET /health).
BENCHES += bench/web-health
