# left4me-hostd: the privileged daemon (svc-host/), its unit tests and black-box tests.
HOSTD_SRCS := svc-host/hostd.c svc-host/hostd-status.c svc-host/hostd-umount.c svc-host/hostd-fs.c svc-host/hostd-instance.c svc-host/hostd-mount.c \
              svc-host/hostd-systemd.c svc-host/hostd-install.c svc-host/hostd-lines.c svc-host/hostd-self.c \
              svc-host/hostd-build.c svc-host/hostd-sandbox.c svc-host/hostd-overlay.c svc-host/hostd-unitrun.c svc-host/hostd-steamcmd.c \
              svc-host/hostd-pool.c svc-host/hostd-firewall.c svc-host/hostd-files.c
HOSTD_OBJS := $(HOSTD_SRCS:%.c=$(BUILD)/obj/%.o)
BINS += $(BUILD)/left4me-hostd $(BUILD)/left4me-build-exec

# hostd links no A2S code: it never parses what a game sends (tests/svc-host/blackbox.sh checks).
$(BUILD)/left4me-hostd: $(HOSTD_OBJS) $(LIBLEFT4ME)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,libsystemd msgpack yaml-0.1)

# What a build's unit runs first, inside the sandbox (svc-host/build-exec.c): no libraries.
$(BUILD)/left4me-build-exec: $(BUILD)/obj/svc-host/build-exec.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^

CLI_SRCS += cli/cmd-host.c

E2E += tests/e2e/host-lifecycle.sh tests/e2e/host-hostile.sh tests/e2e/server-isolation.sh tests/e2e/host-install.sh tests/e2e/host-stale-mount.sh tests/e2e/host-runtime-fs.sh tests/e2e/host-start-limit.sh \
       tests/e2e/host-generations.sh tests/e2e/host-files.sh

# Unit tests (Criterion).
UNIT_TESTS += $(BUILD)/test-hostd-instance $(BUILD)/test-hostd-build $(BUILD)/test-hostd-install $(BUILD)/test-hostd-files
$(BUILD)/test-hostd-instance: $(BUILD)/obj/tests/svc-host/test-hostd-instance.o $(BUILD)/obj/tests/svc-host/tmproot.o \
		$(BUILD)/obj/svc-host/hostd-fs.o $(BUILD)/obj/svc-host/hostd-instance.o $(BUILD)/obj/svc-host/hostd-overlay.o $(BUILD)/obj/svc-host/hostd-lines.o $(LIBLEFT4ME)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,criterion libsystemd msgpack yaml-0.1)

# Black-box tests: hostd under systemd-socket-activate with a temporary root.
BLACKBOX += tests/svc-host/blackbox.sh

# Sandboxed builds (issue 5): the property list, result mapping, overlay dir preparation and
# publishing; the isolation suite runs in the container tier.
$(BUILD)/test-hostd-build: $(BUILD)/obj/tests/svc-host/test-hostd-build.o $(BUILD)/obj/tests/svc-host/tmproot.o $(BUILD)/obj/tests/svc-host/busprops.o $(BUILD)/obj/svc-host/hostd-build.o \
		$(BUILD)/obj/svc-host/hostd-sandbox.o $(BUILD)/obj/svc-host/hostd-overlay.o $(BUILD)/obj/svc-host/hostd-pool.o $(BUILD)/obj/svc-host/hostd-firewall.o \
		$(BUILD)/obj/svc-host/hostd-fs.o $(BUILD)/obj/svc-host/hostd-instance.o \
		$(BUILD)/obj/svc-host/hostd-lines.o $(BUILD)/obj/svc-host/hostd-systemd.o $(BUILD)/obj/svc-host/hostd-unitrun.o $(LIBLEFT4ME)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,criterion libsystemd msgpack yaml-0.1)
E2E += tests/e2e/build-run.sh tests/e2e/build-isolation.sh tests/e2e/build-limits.sh tests/e2e/build-neighbours.sh tests/e2e/net-rules.sh tests/e2e/build-abstract.sh

# The game install (issue 11): the property list of steamcmd's transient units.
$(BUILD)/test-hostd-install: $(BUILD)/obj/tests/svc-host/test-hostd-install.o $(BUILD)/obj/tests/svc-host/busprops.o \
		$(BUILD)/obj/svc-host/hostd-steamcmd.o $(BUILD)/obj/svc-host/hostd-systemd.o $(LIBLEFT4ME)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,criterion libsystemd msgpack yaml-0.1)

# File operations on overlays and the merged view (issue 18): hostile paths, generations, uploads.
$(BUILD)/test-hostd-files: $(BUILD)/obj/tests/svc-host/test-hostd-files.o $(BUILD)/obj/tests/svc-host/tmproot.o \
		$(BUILD)/obj/svc-host/hostd-files.o $(BUILD)/obj/svc-host/hostd-overlay.o $(BUILD)/obj/svc-host/hostd-fs.o $(LIBLEFT4ME)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,criterion libsystemd msgpack yaml-0.1)
