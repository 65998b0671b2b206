# Protocol tests: Criterion unit tests of the scanner/codec/args, and a test daemon for
# black-box tests of the server side.
FIXTURES += $(BUILD)/left4me-testd
UNIT_TESTS += $(BUILD)/test-proto
BLACKBOX += tests/proto/blackbox.sh

$(BUILD)/left4me-testd: $(BUILD)/obj/tests/proto/testd.o $(LIBLEFT4ME)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,libsystemd msgpack yaml-0.1)

TEST_PROTO_SRCS := tests/proto/test-scan.c tests/proto/test-rpc.c tests/proto/test-args.c tests/proto/test-config.c
$(BUILD)/test-proto: $(TEST_PROTO_SRCS:%.c=$(BUILD)/obj/%.o) $(LIBLEFT4ME)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,criterion libsystemd msgpack yaml-0.1)
