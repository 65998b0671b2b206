# svc-logs tests: Criterion unit tests and black-box tests of left4me-logd. The black-box
# tests read journal files that systemd-journal-remote writes (package
# systemd-journal-remote); without it they say SKIP.
UNIT_TESTS += $(BUILD)/test-logd
BLACKBOX += tests/svc-logs/test-read.py tests/svc-logs/test-follow.py tests/svc-logs/test-load.py \
            tests/svc-logs/test-cli.py tests/svc-logs/test-job.py

TEST_LOGD_SRCS := tests/svc-logs/test-logd.c svc-logs/logd-target.c svc-logs/logd-entry.c
$(BUILD)/test-logd: $(TEST_LOGD_SRCS:%.c=$(BUILD)/obj/%.o) $(LIBLEFT4ME)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,criterion libsystemd msgpack yaml-0.1)

# The real-systemd tier (tests/e2e/run.sh): journald, restarts, 50 followers, a stalled one.
E2E += tests/e2e/logs-journal.sh
