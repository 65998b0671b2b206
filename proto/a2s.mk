# A2S (Source server query): the codec and a blocking query (proto/a2s.c), in the shared
# library for l4d2ctl and the unprivileged daemons; hostd parses nothing a game sends.
A2S_OBJS := $(BUILD)/obj/proto/a2s.o
LIBLEFT4ME_SRCS += proto/a2s.c

UNIT_TESTS += $(BUILD)/tests/test-a2s
$(BUILD)/tests/test-a2s: $(BUILD)/obj/tests/proto/test-a2s.o $(A2S_OBJS)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,criterion)
