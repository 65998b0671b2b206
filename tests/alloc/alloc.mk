# Allocation-failure injection (tests/alloc/test-alloc-fail.c) over the decoder, the server and
# client cores and jobd's queue. Built with AddressSanitizer whatever BUILD is, so that its leak
# checker sees every failure path; msgpack-c is linked statically so that its allocations go
# through the same --wrap'ed functions as ours.
UNIT_TESTS += $(BUILD)/test-alloc-fail

ALLOC_FAIL_SRCS := tests/alloc/test-alloc-fail.c proto/utf8.c proto/names.c proto/spec.c proto/scan.c proto/rpc.c \
                   proto/map.c proto/args.c proto/server.c proto/client-core.c daemon/sqlite.c base/util.c base/log.c svc-jobs/jobd-job.c svc-jobs/jobd-db.c
ALLOC_FAIL_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup,--wrap=asprintf
$(BUILD)/test-alloc-fail: $(ALLOC_FAIL_SRCS) $(wildcard proto/*.h base/*.h svc-jobs/*.h)
	@mkdir -p $(@D)
	$(CC) $(filter-out -O2,$(ALL_CFLAGS)) -O1 -fsanitize=address -fno-omit-frame-pointer $(ALLOC_FAIL_WRAP) \
		-o $@ $(ALLOC_FAIL_SRCS) -Wl,-Bstatic $(call pc_libs,msgpack) -Wl,-Bdynamic \
		$(call pc_libs,sqlite3 libsystemd yaml-0.1)
