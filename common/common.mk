LIBLEFT4ME_SRCS += common/util.c common/log.c common/config.c common/daemon.c
