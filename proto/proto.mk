LIBLEFT4ME_SRCS += proto/scan.c proto/rpc.c proto/args.c proto/server.c proto/client.c proto/client-core.c proto/client-sdevent.c proto/server-sdevent.c
