# Protocol round-trip benchmark (bench/rpc-roundtrip.c): `make bench` runs every entry of BENCHES.
BENCHES += bench/rpc-roundtrip.sh

$(BUILD)/bench-rpc-roundtrip: $(BUILD)/obj/bench/rpc-roundtrip.o $(LIBLEFT4ME)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,msgpack yaml-0.1 libsystemd)
bench/rpc-roundtrip.sh: $(BUILD)/bench-rpc-roundtrip $(BUILD)/left4me-testd

# Cold start of each daemon under the real systemd of the e2e container (needs root; skipped
# like the e2e tier where the container cannot boot): bench/cold-start, docs/performance.md.
BENCHES += bench/cold-start

# How costs grow with the number of servers (20, 100 stand-in games; SCALING_STEPS): bench/scaling,
# docs/scaling.md. Same container and root requirement as bench/cold-start.
BENCHES += bench/scaling
