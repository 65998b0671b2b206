/* left4me-webd: argument parsing; everything else is in webd.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "base/util.h"
#include "svc-web/webd.h"

static void help(void) {
        printf("Usage: %s [OPTIONS]\n"
               "\n"
               "The left4me web service: HTTP (the web UI, GET /health) and the admin RPC socket.\n"
               "Normally started by systemd with two sockets named 'http' and 'rpc'\n"
               "(left4me-web.socket, left4me-web-rpc.socket); exits when idle.\n"
               "\n"
               "  -c, --config PATH      configuration file (default: $LEFT4ME_CONFIG or %s)\n"
               "  -l, --listen PATH      without systemd: bind the RPC socket at PATH\n"
               "      --http ADDR:PORT   without systemd: bind HTTP at ADDR:PORT (e.g. 127.0.0.1:8080)\n"
               "  -i, --idle-exit SEC    exit after SEC seconds without connections (0: never;\n"
               "                         default: limits.idle_exit_sec of the config)\n"
               "      --web-dir DIR      static files served under /static/ (default: %s)\n"
               "      --sse-heartbeat SEC  seconds between event-stream heartbeats (default: %u)\n"
               "  -h, --help             show this help\n"
               "  -V, --version          show the version\n",
               WEBD_NAME, LEFT4ME_DEFAULT_CONFIG, LEFT4ME_WEBDIR, SSE_DEFAULT_HEARTBEAT_MS / 1000u);
}

/* Returns 1 to run, 0 to exit successfully (--help), < 0 on a usage error. */
static int parse_argv(int argc, char **argv, struct webd_options *o) {
        enum { ARG_HTTP = 0x100, ARG_WEB_DIR, ARG_SSE_HEARTBEAT };
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"listen", required_argument, NULL, 'l'},
                {"http", required_argument, NULL, ARG_HTTP},
                {"idle-exit", required_argument, NULL, 'i'},
                {"web-dir", required_argument, NULL, ARG_WEB_DIR},
                {"sse-heartbeat", required_argument, NULL, ARG_SSE_HEARTBEAT},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "c:l:i:hV", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        o->config_path = optarg;
                        break;
                case 'l':
                        o->listen_path = optarg;
                        break;
                case ARG_HTTP:
                        o->http_addr = optarg;
                        break;
                case 'i':
                        if (safe_atoi64(optarg, 0, L4M_IDLE_EXIT_MAX_SEC, &o->idle_exit_sec) < 0)
                                return log_error_errno(-EINVAL, "--idle-exit: '%s' is not 0..%u seconds.",
                                                       optarg, L4M_IDLE_EXIT_MAX_SEC);
                        break;
                case ARG_WEB_DIR:
                        o->web_dir = optarg;
                        break;
                case ARG_SSE_HEARTBEAT:
                        if (safe_atoi64(optarg, 1, 3600, &o->sse_heartbeat_sec) < 0)
                                return log_error_errno(
                                        -EINVAL, "--sse-heartbeat: '%s' is not 1..3600 seconds.", optarg);
                        break;
                case 'h':
                        help();
                        return 0;
                case 'V':
                        printf("%s %s (%s)\n", WEBD_NAME, LEFT4ME_VERSION, LEFT4ME_GIT_REV);
                        return 0;
                default:
                        return -EINVAL; /* getopt printed why */
                }
        }
        if (optind < argc)
                return log_error_errno(-EINVAL, "Unexpected argument '%s'; see --help.", argv[optind]);
        return 1;
}

static int run(int argc, char **argv) {
        struct webd_options o = {.idle_exit_sec = -1, .sse_heartbeat_sec = -1};
        int r;

        log_setup(WEBD_NAME);
        r = parse_argv(argc, argv, &o);
        if (r <= 0)
                return r;
        return webd_run(&o);
}

int main(int argc, char **argv) {
        return run(argc, argv) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
