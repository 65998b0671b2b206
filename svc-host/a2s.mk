# A2S (Source server query) codec: pure library code plus a blocking query helper.
A2S_OBJS := $(BUILD)/obj/svc-host/a2s.o
LIBLEFT4ME_SRCS += svc-host/a2s.c

UNIT_TESTS += $(BUILD)/tests/test-a2s
$(BUILD)/tests/test-a2s: $(BUILD)/obj/tests/svc-host/test-a2s.o $(A2S_OBJS)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,criterion)
