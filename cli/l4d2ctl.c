#include <getopt.h>
#include <limits.h>
#include <stdarg.h>

#include "cli/cli.h"
#include "base/log.h"
#include "base/util.h"
#include "proto/map.h"

int cmd_ping(int argc, char **argv, const struct cli_ctx *ctx);
int cmd_version(int argc, char **argv, const struct cli_ctx *ctx);
static int cmd_call(int argc, char **argv, const struct cli_ctx *ctx);

#include "cli/commands.h"

static const struct cli_command core_commands[] = {
        {"ping", "check that services answer: ping [host|jobs|logs|web]...", cmd_ping},
        {"version", "print the versions of l4d2ctl and the running services", cmd_version},
        {"call", "call any method: call SERVICE METHOD [KEY=VALUE]...", cmd_call},
};

int cli_exit_code(enum rpc_code code) {
        switch (code) {
        case RPC_OK:
                return EXIT_OK;
        case RPC_INVALID:
                return EXIT_INVALID;
        case RPC_NOT_FOUND:
                return EXIT_NOT_FOUND;
        case RPC_CONFLICT:
                return EXIT_CONFLICT;
        case RPC_DENIED:
                return EXIT_DENIED;
        case RPC_UNAVAILABLE:
                return EXIT_UNAVAILABLE;
        case RPC_TIMEOUT:
                return EXIT_TIMEOUT;
        case RPC_CANCELLED:
                return EXIT_CANCELLED;
        default:
                return EXIT_FAILED;
        }
}

int cli_fail(const struct rpc_error *e, const char *context) {
        if (context)
                fprintf(stderr, "l4d2ctl: %s: %s (%s)\n", context, e->message, rpc_code_to_string(e->code));
        else
                fprintf(stderr, "l4d2ctl: %s (%s)\n", e->message, rpc_code_to_string(e->code));
        return cli_exit_code(e->code);
}

int cli_usage(const char *fmt, ...) {
        va_list ap;
        fputs("l4d2ctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs(" (see 'l4d2ctl --help')\n", stderr);
        return EXIT_USAGE;
}

int cli_connect(const struct cli_ctx *ctx, const char *service, struct rpc_client **ret) {
        char path[512];
        int r;

        if (ctx->socket_dir)
                r = snprintf(path, sizeof(path), "%s/%s.sock", ctx->socket_dir, service) >=
                                    (int) sizeof(path)
                            ? -ENAMETOOLONG
                            : 0;
        else
                r = config_socket_path(&ctx->config, service, path, sizeof(path));
        if (r < 0) {
                fprintf(stderr, "l4d2ctl: socket path for '%s' is too long\n", service);
                return EXIT_USAGE;
        }
        r = rpc_client_connect(path, ctx->timeout_ms, ret);
        if (r == -EACCES || r == -EPERM) {
                fprintf(stderr,
                        "l4d2ctl: permission denied on %s: run as root or as a member of group "
                        "'left4me'\n",
                        path);
                return EXIT_DENIED;
        }
        if (r == -ENOENT || r == -ECONNREFUSED) {
                /* webd has two sockets; its RPC one is the -rpc unit, not left4me-web.socket
                 * (that one is HTTP). */
                fprintf(stderr,
                        "l4d2ctl: the %s service is unavailable: nothing listens on %s (is "
                        "left4me-%s%s.socket running?)\n",
                        service, path, service, streq(service, "web") ? "-rpc" : "");
                return EXIT_UNAVAILABLE;
        }
        if (r == -ETIMEDOUT) {
                fprintf(stderr, "l4d2ctl: the %s service did not accept a connection within %d ms\n",
                        service, ctx->timeout_ms);
                return EXIT_TIMEOUT;
        }
        if (r < 0) {
                fprintf(stderr, "l4d2ctl: cannot connect to %s: %s\n", path, strerror(-r));
                return EXIT_UNAVAILABLE;
        }
        return 0;
}

int cli_call(const struct cli_ctx *ctx, struct rpc_client *c, const char *method,
             const struct rpc_buf *params, rpc_notify_cb on_notify, void *userdata,
             struct rpc_reply *reply) {
        struct rpc_error e;
        int r = rpc_client_call(c, method, params, ctx->timeout_ms, on_notify, userdata, reply, &e);
        if (r < 0) {
                rpc_reply_done(reply);
                return cli_fail(&e, method);
        }
        if (reply->failed) {
                r = cli_fail(&reply->error, method);
                rpc_reply_done(reply);
                return r;
        }
        return 0;
}

/* ---- JSON output --------------------------------------------------------------------------- */

static void json_string(FILE *f, const char *s, size_t n) {
        fputc('"', f);
        for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char) s[i];
                switch (ch) {
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                case '\r':
                        fputs("\\r", f);
                        break;
                case '\t':
                        fputs("\\t", f);
                        break;
                default:
                        if (ch < 0x20 || ch == 0x7f)
                                fprintf(f, "\\u%04x", ch);
                        else
                                fputc(ch, f);
                }
        }
        fputc('"', f);
}

void cli_fprint_json(FILE *f, const msgpack_object *o) {
        switch (o->type) {
        case MSGPACK_OBJECT_NIL:
                fputs("null", f);
                break;
        case MSGPACK_OBJECT_BOOLEAN:
                fputs(o->via.boolean ? "true" : "false", f);
                break;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
                fprintf(f, "%llu", (unsigned long long) o->via.u64);
                break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
                fprintf(f, "%lld", (long long) o->via.i64);
                break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
                fprintf(f, "%.17g", o->via.f64);
                break;
        case MSGPACK_OBJECT_STR:
                json_string(f, o->via.str.ptr, o->via.str.size);
                break;
        case MSGPACK_OBJECT_BIN:
                json_string(f, o->via.bin.ptr, o->via.bin.size);
                break;
        case MSGPACK_OBJECT_ARRAY:
                fputc('[', f);
                for (uint32_t i = 0; i < o->via.array.size; i++) {
                        if (i)
                                fputc(',', f);
                        cli_fprint_json(f, &o->via.array.ptr[i]);
                }
                fputc(']', f);
                break;
        case MSGPACK_OBJECT_MAP:
                fputc('{', f);
                for (uint32_t i = 0; i < o->via.map.size; i++) {
                        const msgpack_object *k = &o->via.map.ptr[i].key;
                        if (i)
                                fputc(',', f);
                        if (k->type == MSGPACK_OBJECT_STR)
                                json_string(f, k->via.str.ptr, k->via.str.size);
                        else {
                                /* JSON keys are strings: render others as their JSON text, quoted. */
                                fputs("\"?\"", f);
                        }
                        fputc(':', f);
                        cli_fprint_json(f, &o->via.map.ptr[i].val);
                }
                fputc('}', f);
                break;
        default:
                fputs("null", f);
                break;
        }
}

void cli_print_json(const msgpack_object *o) {
        cli_fprint_json(stdout, o);
        fputc('\n', stdout);
}

static int print_notify(const msgpack_object *payload, void *userdata) {
        cli_print_json(payload);
        fflush(stdout);
        return 0;
}

/* ---- ping / version ------------------------------------------------------------------------- */

static const char *const all_services[] = {"host", "jobs", "logs", "web"};

static bool valid_service(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(all_services); i++)
                if (streq(s, all_services[i]))
                        return true;
        return false;
}

static int call_simple(const struct cli_ctx *ctx, const char *service, const char *method, bool json) {
        _cleanup_(rpc_client_freep) struct rpc_client *c = NULL;
        struct rpc_reply reply;
        unsigned long long t0 = now_usec();
        int r;

        r = cli_connect(ctx, service, &c);
        if (r > 0)
                return r;
        r = cli_call(ctx, c, method, NULL, NULL, NULL, &reply);
        if (r > 0)
                return r;
        if (json)
                cli_print_json(reply.result);
        else {
                const msgpack_object *name = rpc_map_get(reply.result, "service");
                const msgpack_object *ver = rpc_map_get(reply.result, "version");
                const msgpack_object *pid = rpc_map_get(reply.result, "pid");
                printf("%-5s ok  %.*s %.*s", service,
                       name && name->type == MSGPACK_OBJECT_STR ? (int) name->via.str.size : 0,
                       name && name->type == MSGPACK_OBJECT_STR ? name->via.str.ptr : "",
                       ver && ver->type == MSGPACK_OBJECT_STR ? (int) ver->via.str.size : 0,
                       ver && ver->type == MSGPACK_OBJECT_STR ? ver->via.str.ptr : "");
                if (pid && pid->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                        printf(" (pid %llu)", (unsigned long long) pid->via.u64);
                printf(" %.1f ms\n", (double) (now_usec() - t0) / 1000.0);
        }
        rpc_reply_done(&reply);
        return 0;
}

static int run_on_services(int argc, char **argv, const struct cli_ctx *ctx, const char *method,
                           const char *usage) {
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {}};
        bool json = ctx->json;
        int c, worst = 0;

        optind = 1;
        while ((c = getopt_long(argc, argv, "+jh", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'h':
                        printf("%s", usage);
                        return 0;
                default:
                        return EXIT_USAGE;
                }
        for (int i = optind; i < argc; i++)
                if (!valid_service(argv[i]))
                        return cli_usage("%s: unknown service '%s' (expected host, jobs, logs or web)",
                                         argv[0], argv[i]);
        if (optind == argc) {
                for (size_t i = 0; i < ELEMENTSOF(all_services); i++) {
                        int r = call_simple(ctx, all_services[i], method, json);
                        if (r > worst)
                                worst = r;
                }
                return worst;
        }
        for (int i = optind; i < argc; i++) {
                int r = call_simple(ctx, argv[i], method, json);
                if (r > worst)
                        worst = r;
        }
        return worst;
}

int cmd_ping(int argc, char **argv, const struct cli_ctx *ctx) {
        return run_on_services(argc, argv, ctx, "sys.health",
                               "Usage: l4d2ctl ping [--json] [host|jobs|logs|web]...\n\n"
                               "Calls sys.health on each named service (all four by default), which starts\n"
                               "a service that is idle. Exits 0 when all answer.\n");
}

int cmd_version(int argc, char **argv, const struct cli_ctx *ctx) {
        if (argc == 1)
                printf("l4d2ctl %s (%s)\n", LEFT4ME_VERSION, LEFT4ME_GIT_REV);
        return run_on_services(argc, argv, ctx, "sys.version",
                               "Usage: l4d2ctl version [--json] [host|jobs|logs|web]...\n");
}

/* l4d2ctl call SERVICE METHOD [KEY=VALUE | KEY:=STRING]...: any method, for operators and
 * scripts. VALUE is an integer, true, false or null if it looks like one, else a string;
 * KEY:=STRING is always a string. */
static int cmd_call(int argc, char **argv, const struct cli_ctx *ctx) {
        _cleanup_(rpc_client_freep) struct rpc_client *c = NULL;
        struct rpc_buf params;
        struct rpc_reply reply;
        int r;

        if (argc >= 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
                printf("Usage: l4d2ctl call SERVICE METHOD [KEY=VALUE | KEY:=STRING]...\n\n"
                       "Calls any method and prints its result as JSON; stream items are printed as\n"
                       "JSON lines as they arrive. VALUE is read as an integer, true, false or null\n"
                       "when it looks like one, else as a string; KEY:=STRING is always a string.\n");
                return EXIT_OK;
        }
        if (argc < 3)
                return cli_usage("call: expected SERVICE METHOD [KEY=VALUE]...");
        for (const char *p = argv[1]; *p; p++)
                if (!(*p >= 'a' && *p <= 'z'))
                        return cli_usage("call: '%s' is not a service name", argv[1]);
        rpc_buf_init(&params, 0);
        struct rpc_map map;
        msgpack_packer *mpk = rpc_params_begin(&map, &params.pk);
        for (int i = 3; i < argc; i++) {
                char *eq = strchr(argv[i], '=');
                bool force_str = false;
                long long v;
                const char *val;
                size_t klen;

                if (!eq || eq == argv[i]) {
                        rpc_map_done(&map);
                        rpc_buf_done(&params);
                        return cli_usage("call: '%s' is not KEY=VALUE", argv[i]);
                }
                klen = (size_t) (eq - argv[i]);
                if (klen > 0 && argv[i][klen - 1] == ':') {
                        force_str = true;
                        klen--;
                }
                rpc_pack_strn(mpk, argv[i], klen);
                val = eq + 1;
                if (!force_str && safe_atoi64(val, LLONG_MIN, LLONG_MAX, &v) == 0)
                        (void) msgpack_pack_int64(mpk, v);
                else if (!force_str && streq(val, "true"))
                        (void) msgpack_pack_true(mpk);
                else if (!force_str && streq(val, "false"))
                        (void) msgpack_pack_false(mpk);
                else if (!force_str && streq(val, "null"))
                        (void) msgpack_pack_nil(mpk);
                else
                        rpc_pack_str(mpk, val);
        }
        (void) rpc_map_end(&map);
        r = cli_connect(ctx, argv[1], &c);
        if (r > 0) {
                rpc_buf_done(&params);
                return r;
        }
        r = cli_call(ctx, c, argv[2], &params, print_notify, NULL, &reply);
        rpc_buf_done(&params);
        if (r > 0)
                return r;
        cli_print_json(reply.result);
        rpc_reply_done(&reply);
        return EXIT_OK;
}

/* ---- main ------------------------------------------------------------------------------------ */

static void help(void) {
        printf("l4d2ctl: control a left4me host (Left 4 Dead 2 servers).\n\n"
               "Usage: l4d2ctl [GLOBAL OPTIONS] COMMAND [ARGS...]\n\n"
               "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(core_commands); i++)
                printf("  %-12s %s\n", core_commands[i].name, core_commands[i].summary);
        for (const struct cli_command *k = area_commands; k->name; k++)
                printf("  %-12s %s\n", k->name, k->summary);
        printf("\nGlobal options:\n"
               "  -c, --config PATH      configuration file (default: $LEFT4ME_CONFIG or %s)\n"
               "  -S, --socket-dir DIR   directory of the service sockets (default: paths.run)\n"
               "  -t, --timeout SEC      give up after SEC seconds without an answer (default 30)\n"
               "      --json             machine-readable output\n"
               "  -h, --help             show this help ('l4d2ctl COMMAND --help' for a command)\n"
               "  -V, --version          show the version\n\n"
               "Exit codes: 0 ok, 1 failed, 2 usage, 3 invalid, 4 not found, 5 conflict,\n"
               "6 permission denied, 7 service unavailable, 8 timeout, 9 cancelled.\n",
               LEFT4ME_DEFAULT_CONFIG);
}

static void config_warn(const char *msg, void *userdata) {
        (void) userdata;
        fprintf(stderr, "l4d2ctl: warning: %s\n", msg);
}

int main(int argc, char **argv) {
        static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                                {"socket-dir", required_argument, NULL, 'S'},
                                                {"timeout", required_argument, NULL, 't'},
                                                {"json", no_argument, NULL, 'j'},
                                                {"help", no_argument, NULL, 'h'},
                                                {"version", no_argument, NULL, 'V'},
                                                {}};
        struct cli_ctx ctx = {.timeout_ms = 30000};
        const char *config_path = NULL;
        char err[600];
        long long v;
        int c, r;

        log_setup("l4d2ctl");
        while ((c = getopt_long(argc, argv, "+c:S:t:hV", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        config_path = optarg;
                        break;
                case 'S':
                        ctx.socket_dir = optarg;
                        break;
                case 't':
                        if (safe_atoi64(optarg, 0, 86400, &v) < 0)
                                return cli_usage("--timeout: '%s' is not a number of seconds (0..86400)",
                                                 optarg);
                        ctx.timeout_ms = v == 0 ? -1 : (int) (v * 1000);
                        break;
                case 'j':
                        ctx.json = true;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                case 'V':
                        printf("l4d2ctl %s (%s)\n", LEFT4ME_VERSION, LEFT4ME_GIT_REV);
                        return EXIT_OK;
                default:
                        return EXIT_USAGE;
                }
        if (optind >= argc) {
                help();
                return EXIT_USAGE;
        }

        if (config_init_defaults(&ctx.config) < 0) {
                fprintf(stderr, "l4d2ctl: out of memory\n");
                return EXIT_FAILED;
        }
        r = config_load(&ctx.config, config_path, err, sizeof(err), config_warn, NULL);
        if (r == -EACCES) {
                /* The configuration is root:left4me 0640: the usual cause is a user who is not
                 * in the group yet (or has not logged in again since being added). */
                fprintf(stderr,
                        "l4d2ctl: you may not read the configuration (%s).\n"
                        "Run as root, or as a member of group 'left4me': as root, "
                        "usermod -aG left4me %s, then log in again.\n",
                        err, getenv("USER") ? getenv("USER") : "USER");
                config_done(&ctx.config);
                return EXIT_DENIED;
        }
        if (r < 0) {
                fprintf(stderr, "l4d2ctl: bad configuration: %s\n", err);
                config_done(&ctx.config);
                return EXIT_INVALID;
        }

        argc -= optind;
        argv += optind;
        r = -1;
        for (size_t i = 0; i < ELEMENTSOF(core_commands) && r < 0; i++)
                if (streq(argv[0], core_commands[i].name))
                        r = core_commands[i].run(argc, argv, &ctx);
        for (const struct cli_command *k = area_commands; k->name && r < 0; k++)
                if (streq(argv[0], k->name))
                        r = k->run(argc, argv, &ctx);
        if (r < 0)
                r = cli_usage("unknown command '%s'", argv[0]);
        config_done(&ctx.config);
        return r;
}
