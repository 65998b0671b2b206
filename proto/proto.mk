LIBLEFT4ME_SRCS += proto/utf8.c proto/names.c proto/spec.c proto/scan.c proto/rpc.c proto/map.c proto/args.c proto/server.c proto/client.c proto/server-sdevent.c
