# bench/web-*: webd benchmarks (wrk against GET /health; the web UI: an authenticated page, RSS, logins hashing).
BENCHES += bench/web-health bench/web-ui bench/web-fleet bench/web-files
