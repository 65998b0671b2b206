# bench/logs-*: logd backfill rate beside journalctl, follow latency (svc-logs).
BENCHES += bench/logs-bench
