# daemon/: the layer above proto/: the suite's config file and the daemon skeleton with its
# two loop bindings (sd-event; h2o's evloop, with the RPC transport for it).
LIBLEFT4ME_SRCS += daemon/config.c daemon/daemon.c daemon/daemon-sdevent.c
LIBLEFT4ME_SRCS += daemon/daemon-h2o.c daemon/rpc-h2o.c
# jobs.db's and web.db's shared SQLite helpers: only the programs with a database link them.
LIBLEFT4ME_SRCS += daemon/sqlite.c

# Only programs that pick daemon_loop_h2o link these objects (and libh2o-evloop).
$(BUILD)/obj/daemon/daemon-h2o.o $(BUILD)/obj/daemon/rpc-h2o.o: ALL_CFLAGS += $(call pc_cflags,libh2o-evloop)
