# daemon/: the layer above proto/: the suite's config file and the daemon skeleton.
LIBLEFT4ME_SRCS += daemon/config.c daemon/daemon.c
