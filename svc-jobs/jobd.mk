# svc-jobs: left4me-jobd, the durable job queue and executor (docs/jobs.md), its CLI
# subcommands, tests and benchmarks.
JOBD_CORE_SRCS := svc-jobs/jobd-job.c svc-jobs/jobd-sched.c svc-jobs/jobd-db.c
JOBD_SRCS := $(JOBD_CORE_SRCS) svc-jobs/jobd-exec.c svc-jobs/jobd-manager.c \
             svc-jobs/jobd-dispatch.c svc-jobs/jobd-watch.c
JOBD_CORE_OBJS := $(JOBD_CORE_SRCS:%.c=$(BUILD)/obj/%.o)
JOBD_OBJS := $(JOBD_SRCS:%.c=$(BUILD)/obj/%.o)
JOBD_LIBS = $(call pc_libs,libsystemd msgpack yaml-0.1 sqlite3)

BINS += $(BUILD)/left4me-jobd
CLI_SRCS += cli/cmd-jobs.c
# cli/cli.mk's link rule expanded CLI_SRCS before this file was read: add the object to
# l4d2ctl's prerequisites directly (its recipe links $^).
$(BUILD)/l4d2ctl: $(BUILD)/obj/cli/cmd-jobs.o

$(BUILD)/left4me-jobd: $(BUILD)/obj/svc-jobs/jobd.o $(JOBD_OBJS) $(LIBLEFT4ME)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(JOBD_LIBS)

# Unit tests: the pure model, the scheduler, the database layer.
UNIT_TESTS += $(BUILD)/tests/test-jobd
TEST_JOBD_SRCS := tests/svc-jobs/test-jobd-job.c tests/svc-jobs/test-jobd-sched.c tests/svc-jobs/test-jobd-db.c
$(BUILD)/tests/test-jobd: $(TEST_JOBD_SRCS:%.c=$(BUILD)/obj/%.o) $(JOBD_CORE_OBJS) $(LIBLEFT4ME)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,criterion msgpack sqlite3 yaml-0.1)

# Black-box: jobd under systemd-socket-activate with a hostd stand-in; the crash loop.
BLACKBOX += tests/svc-jobs/blackbox.sh tests/svc-jobs/crashloop.sh

# Benchmarks: storage layer and raw SQLite (C), end to end through the socket (script).
BENCHES += $(BUILD)/bench/jobs-bench-db bench/jobs-bench-socket.sh
$(BUILD)/bench/jobs-bench-db: $(BUILD)/obj/bench/jobs-bench-db.o $(JOBD_CORE_OBJS) $(LIBLEFT4ME)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,msgpack sqlite3 yaml-0.1)
# The concurrent submitters the socket benchmark drives jobd with.
$(BUILD)/bench/jobs-submit-load: $(BUILD)/obj/bench/jobs-submit-load.o $(LIBLEFT4ME)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,msgpack yaml-0.1 libsystemd)
bench/jobs-bench-socket.sh: $(BUILD)/bench/jobs-submit-load $(BUILD)/bench/jobs-bench-db $(BUILD)/left4me-jobd

# The real-systemd tier: install, server start/stop/delete through jobd with the fake game,
# idle exit, cancel of a running install, SIGKILL under a running install; a build delaying
# two concurrent server starts through the lifecycle commands' --queue.
E2E += tests/e2e/jobs-lifecycle.sh tests/e2e/jobs-build-delays-servers.sh tests/e2e/jobs-identity.sh
