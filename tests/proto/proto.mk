# Protocol tests: Criterion unit tests of the scanner/codec/args, and a test daemon for
# black-box tests of the server side.
FIXTURES += $(BUILD)/left4me-testd
UNIT_TESTS += $(BUILD)/test-proto
BLACKBOX += tests/proto/blackbox.sh tests/proto/daemons.sh

$(BUILD)/left4me-testd: $(BUILD)/obj/tests/proto/testd.o $(LIBLEFT4ME)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,libsystemd msgpack yaml-0.1)

TEST_PROTO_SRCS := tests/proto/test-client-core.c tests/proto/test-client-sdevent.c tests/proto/testd-run.c \
                   tests/proto/test-scan.c tests/proto/test-rpc.c tests/proto/test-args.c tests/proto/test-config.c \
                   tests/proto/test-daemon.c tests/proto/test-names.c tests/proto/test-spec.c tests/proto/test-map.c tests/proto/test-fdpass.c
# The adapter tests (here and in tests/svc-web/) run the test daemon; testd-run.c starts it.
$(BUILD)/obj/tests/proto/testd-run.o: ALL_CFLAGS += -DLEFT4ME_TESTD='"$(abspath $(BUILD))/left4me-testd"'
$(BUILD)/test-proto: $(TEST_PROTO_SRCS:%.c=$(BUILD)/obj/%.o) $(LIBLEFT4ME) | $(BUILD)/left4me-testd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,criterion libsystemd msgpack yaml-0.1)

# libFuzzer: the scanner + decoder + server core (tests/proto/fuzz-rpc.c), built with clang.
FUZZ_SRCS := proto/utf8.c proto/scan.c proto/rpc.c proto/map.c proto/args.c proto/server.c base/util.c tests/proto/fuzz-rpc.c
FUZZ_TIME ?= 60
$(BUILD)-fuzz/fuzz-rpc: $(FUZZ_SRCS) $(wildcard proto/*.h base/*.h)
	@mkdir -p $(@D)
	clang -std=gnu17 -g -O1 -D_GNU_SOURCE -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-o $@ $(FUZZ_SRCS) $(call pc_libs,msgpack)

# The client side: what servers send back (tests/proto/fuzz-client.c) into the client core.
FUZZ_CLIENT_SRCS := proto/utf8.c proto/scan.c proto/rpc.c proto/map.c proto/client-core.c base/util.c tests/proto/fuzz-client.c
$(BUILD)-fuzz/fuzz-client: $(FUZZ_CLIENT_SRCS) $(wildcard proto/*.h base/*.h)
	@mkdir -p $(@D)
	clang -std=gnu17 -g -O1 -D_GNU_SOURCE -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-o $@ $(FUZZ_CLIENT_SRCS) $(call pc_libs,msgpack)

.PHONY: fuzz fuzz-client test-fuzz-smoke
# On demand: `make fuzz FUZZ_TIME=600`. New inputs go to build-fuzz/corpus, not the tree.
fuzz: $(BUILD)-fuzz/fuzz-rpc
	@mkdir -p $(BUILD)-fuzz/corpus
	$(BUILD)-fuzz/fuzz-rpc -max_total_time=$(FUZZ_TIME) -max_len=8192 $(BUILD)-fuzz/corpus tests/proto/corpus

fuzz-client: $(BUILD)-fuzz/fuzz-client
	@mkdir -p $(BUILD)-fuzz/corpus-client
	$(BUILD)-fuzz/fuzz-client -max_total_time=$(FUZZ_TIME) -max_len=8192 $(BUILD)-fuzz/corpus-client \
		tests/proto/corpus-client

# A short run of each target inside `make test`: finds regressions in the framing code quickly.
FUZZ_SMOKE = @mkdir -p $(BUILD)-fuzz/$(2); \
	if $(BUILD)-fuzz/$(1) -max_total_time=15 -max_len=8192 -print_final_stats=1 $(BUILD)-fuzz/$(2) \
		tests/proto/$(2) >$(BUILD)-fuzz/smoke-$(1).log 2>&1; then \
		grep -E "^stat::(number_of_executed_units|peak_rss_mb)" $(BUILD)-fuzz/smoke-$(1).log; \
		echo "fuzz smoke $(1): PASS"; \
	else tail -n 40 $(BUILD)-fuzz/smoke-$(1).log; echo "fuzz smoke $(1): FAIL"; exit 1; fi

test-fuzz-smoke: $(BUILD)-fuzz/fuzz-rpc $(BUILD)-fuzz/fuzz-client
	$(call FUZZ_SMOKE,fuzz-rpc,corpus)
	$(call FUZZ_SMOKE,fuzz-client,corpus-client)
