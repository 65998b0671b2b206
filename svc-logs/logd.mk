# svc-logs: left4me-logd, the journal streaming daemon (issue 7).
# logd-jobs.c asks jobd about jobs through proto's sd-event client (in libleft4me).
LOGD_SRCS := svc-logs/logd.c svc-logs/logd-target.c svc-logs/logd-entry.c svc-logs/logd-stream.c \
             svc-logs/logd-jobs.c
LOGD_OBJS := $(LOGD_SRCS:%.c=$(BUILD)/obj/%.o)
BINS += $(BUILD)/left4me-logd

$(BUILD)/left4me-logd: $(LOGD_OBJS) $(LIBLEFT4ME)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,libsystemd msgpack yaml-0.1)

# l4d2ctl logs
CLI_SRCS += cli/cmd-logs.c
# cli/cli.mk was included before this file and expanded CLI_SRCS in its rule already.
$(BUILD)/l4d2ctl: $(BUILD)/obj/cli/cmd-logs.o
E2E += tests/e2e/logs-build.sh
