/* l4d2ctl logs: journal entries of a server, a build, a job's units or one of our services,
 * from the log service (left4me-logd, logs.sock).
 *
 *   logs NAME [--lines N] [--follow|--no-follow] [--all-invocations | --invocation ID]
 *             [--since T] [--after-cursor C] [--unit server|build|service] [--json]
 *   logs --job ID [--lines N] [--follow] [--since T] [--after-cursor C] [--json]
 *
 * NAME is an instance name (default), a build unit (--unit build) or host|jobs|logs|web
 * (--unit service). Without --since/--after-cursor it prints the last N entries (200);
 * with them, every entry from there on (at most N if --lines is given). --follow then
 * streams new entries until interrupted, and says when the server restarted. */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "base/util.h"
#include "proto/client.h"
#include "proto/map.h"
#include "proto/rpc.h"

int cmd_logs(int argc, char **argv, const struct cli_ctx *ctx);

#define PAGE_LINES 1000

struct logs_opts {
        const char *kind; /* server, build, service, job */
        const char *name;
        long long job_id; /* kind job */
        long long lines;  /* -1: not given */
        bool follow;
        const char *invocation; /* NULL: the service's default */
        long long since_usec;   /* -1: none */
        const char *after_cursor;
        bool json;
        bool tty;
        /* while running */
        char last_cursor[256];
        unsigned long long printed;
        long long limit; /* entries still to print, -1: unlimited */
};

static void usage(FILE *f) {
        fprintf(f, "Usage: l4d2ctl logs NAME [OPTIONS]\n"
                   "       l4d2ctl logs --job ID [OPTIONS]\n\n"
                   "Prints the journal of a game server (its current run by default), a build unit,\n"
                   "the units a job ran (while it ran) or one of left4me's services.\n\n"
                   "Options:\n"
                   "  -n, --lines N          the last N entries (default 200, at most 10000); with\n"
                   "                         --since/--after-cursor: at most N entries from there\n"
                   "  -f, --follow           keep printing new entries (and restarts) until interrupted\n"
                   "      --no-follow        print and exit (the default)\n"
                   "  -a, --all-invocations  every run of the unit, not only the current one\n"
                   "      --invocation ID    one run, by its 32-hex-digit invocation id\n"
                   "  -S, --since T          entries from time T: @EPOCH, 'YYYY-MM-DD[ HH:MM[:SS]]'\n"
                   "                         (local time) or -N[s|m|h|d] (that long ago)\n"
                   "      --after-cursor C   entries after journal cursor C (from an earlier --json)\n"
                   "  -u, --unit KIND        what NAME is: server (default), build (a unit name\n"
                   "                         left4me-build-<overlay>-<n>.service), service (host,\n"
                   "                         jobs, logs or web)\n"
                   "  -j, --job ID           the units job ID ran (a build's, a server's), from its\n"
                   "                         start to its end; --follow ends when the job has ended\n"
                   "      --json             one JSON object per line: entries {cursor, realtime_usec,\n"
                   "                         priority, invocation_id, message[, truncated]}; with\n"
                   "                         --follow also {type: invocation|lost|caught_up, ...}\n");
}

/* Parses --since: @EPOCH, -N[smhd], or a local date/time. */
static int parse_since(const char *s, long long *ret) {
        long long v;
        if (s[0] == '@') {
                if (safe_atoi64(s + 1, 0, LLONG_MAX / 1000000, &v) < 0)
                        return -EINVAL;
                *ret = v * 1000000;
                return 0;
        }
        if (s[0] == '-') {
                char num[32];
                size_t n = strlen(s + 1);
                long long mult = 1;
                if (n == 0 || n >= sizeof num)
                        return -EINVAL;
                memcpy(num, s + 1, n + 1);
                switch (num[n - 1]) {
                case 's':
                        mult = 1;
                        num[n - 1] = 0;
                        break;
                case 'm':
                        mult = 60;
                        num[n - 1] = 0;
                        break;
                case 'h':
                        mult = 3600;
                        num[n - 1] = 0;
                        break;
                case 'd':
                        mult = 86400;
                        num[n - 1] = 0;
                        break;
                default:
                        break;
                }
                if (safe_atoi64(num, 0, 100LL * 365 * 86400, &v) < 0)
                        return -EINVAL;
                *ret = (long long) realtime_usec() - v * mult * 1000000;
                if (*ret < 0)
                        *ret = 0;
                return 0;
        }
        static const char *const formats[] = {"%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                                              "%Y-%m-%dT%H:%M", "%Y-%m-%d"};
        for (size_t i = 0; i < ELEMENTSOF(formats); i++) {
                struct tm tm = {};
                const char *end = strptime(s, formats[i], &tm);
                if (!end || *end)
                        continue;
                tm.tm_isdst = -1;
                time_t t = mktime(&tm);
                if (t == (time_t) -1)
                        return -EINVAL;
                *ret = (long long) t * 1000000;
                return 0;
        }
        return -EINVAL;
}

static const msgpack_object *field(const msgpack_object *map, const char *key) {
        return map && map->type == MSGPACK_OBJECT_MAP ? rpc_map_get(map, key) : NULL;
}

static bool field_str(const msgpack_object *map, const char *key, const char **ret, size_t *ret_len) {
        const msgpack_object *v = field(map, key);
        if (!v || v->type != MSGPACK_OBJECT_STR)
                return false;
        *ret = v->via.str.ptr;
        *ret_len = v->via.str.size;
        return true;
}

/* Writes a message; on a terminal, control characters other than tab and newline are
 * shown escaped so a log line cannot drive the terminal. */
static void print_message(const char *s, size_t n, bool tty) {
        if (!tty) {
                fwrite(s, 1, n, stdout);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
                        printf("\\x%02x", c);
                else
                        putchar(c);
        }
}

static void print_entry(struct logs_opts *o, const msgpack_object *e) {
        const msgpack_object *t = field(e, "realtime_usec"), *p = field(e, "priority");
        const char *msg = "", *cur;
        size_t msg_len = 0, cur_len;

        if (field_str(e, "cursor", &cur, &cur_len) && cur_len < sizeof o->last_cursor) {
                memcpy(o->last_cursor, cur, cur_len);
                o->last_cursor[cur_len] = 0;
        }
        o->printed++;
        if (o->json) {
                cli_print_json(e);
                return;
        }
        if (t && t->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
                time_t sec = (time_t) (t->via.u64 / 1000000);
                struct tm tm;
                char buf[64];
                if (localtime_r(&sec, &tm) && strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm) > 0)
                        printf("%s ", buf);
        }
        if (p && p->type == MSGPACK_OBJECT_POSITIVE_INTEGER && p->via.u64 <= 3)
                printf("%s", p->via.u64 <= 2 ? "[crit] " : "[err] ");
        (void) field_str(e, "message", &msg, &msg_len);
        print_message(msg, msg_len, o->tty);
        if (field(e, "truncated"))
                printf(" [truncated]");
        putchar('\n');
}

static int on_notify(const msgpack_object *payload, void *userdata) {
        struct logs_opts *o = userdata;
        const char *type = "";
        size_t type_len = 0;

        (void) field_str(payload, "type", &type, &type_len);
        if (type_len == 5 && strneq(type, "entry", 5)) {
                print_entry(o, payload);
        } else if (o->json) {
                cli_print_json(payload);
        } else if (type_len == 10 && strneq(type, "invocation", 10)) {
                const char *id = "";
                size_t id_len = 0;
                (void) field_str(payload, "invocation_id", &id, &id_len);
                printf("-- the unit restarted: invocation %.*s --\n", (int) id_len, id);
        } else if (type_len == 4 && strneq(type, "lost", 4)) {
                printf("-- entries were lost: the journal deleted them before they were read --\n");
        }
        fflush(stdout);
        if (o->limit >= 0 && o->printed >= (unsigned long long) o->limit && !o->follow)
                return -ECANCELED;
        return 0;
}

static void pack_request(struct rpc_buf *b, const struct logs_opts *o, long long lines, const char *after) {
        rpc_buf_clear(b);
        struct rpc_map map;
        msgpack_packer *mpk = rpc_params_begin(&map, &b->pk);
        rpc_pack_key(mpk, "target");
        struct rpc_map inner;
        msgpack_packer *ipk = rpc_map_begin(&inner, mpk);
        rpc_pack_kv_str(ipk, "kind", o->kind);
        if (streq(o->kind, "job"))
                rpc_pack_kv_int(ipk, "id", o->job_id);
        else
                rpc_pack_kv_str(ipk, streq(o->kind, "build") ? "unit" : "name", o->name);
        (void) rpc_map_end(&inner);
        rpc_pack_kv_int(mpk, "lines", lines);
        if (o->invocation)
                rpc_pack_kv_str(mpk, "invocation", o->invocation);
        if (after)
                rpc_pack_kv_str(mpk, "after_cursor", after);
        else if (o->since_usec >= 0)
                rpc_pack_kv_int(mpk, "since_usec", o->since_usec);
        (void) rpc_map_end(&map);
}

/* logs.read, page by page when reading forward from --since/--after-cursor. */
static int do_read(const struct cli_ctx *ctx, struct rpc_client *c, struct logs_opts *o) {
        bool forward = o->since_usec >= 0 || o->after_cursor;
        const char *after = o->after_cursor;
        struct rpc_buf params;
        int r = 0;

        rpc_buf_init(&params, 0);
        for (;;) {
                struct rpc_reply reply;
                long long lines = !forward ? (o->lines >= 0 ? o->lines : 200)
                                  : o->limit >= 0
                                          ? MIN(o->limit - (long long) o->printed, (long long) PAGE_LINES)
                                          : PAGE_LINES;
                if (forward && lines <= 0)
                        break;
                pack_request(&params, o, lines, after);
                r = cli_call(ctx, c, "logs.read", &params, NULL, NULL, &reply);
                if (r > 0)
                        break;
                const msgpack_object *entries = field(reply.result, "entries"),
                                     *more = field(reply.result, "more");
                if (entries && entries->type == MSGPACK_OBJECT_ARRAY)
                        for (uint32_t i = 0; i < entries->via.array.size; i++)
                                print_entry(o, &entries->via.array.ptr[i]);
                bool again = forward && more && more->type == MSGPACK_OBJECT_BOOLEAN && more->via.boolean &&
                             o->last_cursor[0];
                rpc_reply_done(&reply);
                fflush(stdout);
                if (!again)
                        break;
                after = o->last_cursor;
        }
        rpc_buf_done(&params);
        return r;
}

static int do_follow(const struct cli_ctx *ctx, struct rpc_client *c, struct logs_opts *o) {
        struct rpc_buf params;
        struct rpc_reply reply;
        struct rpc_error e;
        int r;

        rpc_buf_init(&params, 0);
        pack_request(&params, o, o->lines >= 0 ? o->lines : 200, o->after_cursor);
        /* Silence is normal while following: no timeout. */
        r = rpc_client_call(c, "logs.follow", &params, -1, on_notify, o, &reply, &e);
        rpc_buf_done(&params);
        if (r < 0)
                return cli_fail(&e, "logs.follow");
        if (reply.failed) {
                r = cli_fail(&reply.error, "logs.follow");
                rpc_reply_done(&reply);
                return r;
        }
        /* Only a job's follow ends by itself: once the job ended, with {cursor, job: {id, state}}. */
        if (o->json)
                cli_print_json(reply.result);
        else {
                const char *st = "?";
                size_t st_len = 1;
                (void) field_str(field(reply.result, "job"), "state", &st, &st_len);
                printf("-- job %lld ended: %.*s --\n", o->job_id, (int) st_len, st);
        }
        fflush(stdout);
        rpc_reply_done(&reply);
        return EXIT_OK;
}

int cmd_logs(int argc, char **argv, const struct cli_ctx *ctx) {
        enum { OPT_NO_FOLLOW = 0x100, OPT_INVOCATION, OPT_AFTER_CURSOR, OPT_JSON };
        static const struct option options[] = {{"lines", required_argument, NULL, 'n'},
                                                {"follow", no_argument, NULL, 'f'},
                                                {"no-follow", no_argument, NULL, OPT_NO_FOLLOW},
                                                {"all-invocations", no_argument, NULL, 'a'},
                                                {"invocation", required_argument, NULL, OPT_INVOCATION},
                                                {"since", required_argument, NULL, 'S'},
                                                {"after-cursor", required_argument, NULL, OPT_AFTER_CURSOR},
                                                {"unit", required_argument, NULL, 'u'},
                                                {"json", no_argument, NULL, OPT_JSON},
                                                {"job", required_argument, NULL, 'j'},
                                                {"help", no_argument, NULL, 'h'},
                                                {}};
        _cleanup_(rpc_client_freep) struct rpc_client *c = NULL;
        struct logs_opts o = {.kind = "server",
                              .lines = -1,
                              .since_usec = -1,
                              .json = ctx->json,
                              .limit = -1,
                              .job_id = -1};
        bool unit_given = false;
        int opt, r;

        optind = 0; /* 0, not 1: glibc then re-initializes fully (the core parsed with '+') */
        while ((opt = getopt_long(argc, argv, "n:faS:u:j:h", options, NULL)) >= 0)
                switch (opt) {
                case 'n':
                        if (safe_atoi64(optarg, 0, 10000, &o.lines) < 0)
                                return cli_usage("logs: --lines: '%s' is not a number 0..10000", optarg);
                        break;
                case 'f':
                        o.follow = true;
                        break;
                case OPT_NO_FOLLOW:
                        o.follow = false;
                        break;
                case 'a':
                        o.invocation = "all";
                        break;
                case OPT_INVOCATION:
                        o.invocation = optarg;
                        break;
                case 'S':
                        if (parse_since(optarg, &o.since_usec) < 0)
                                return cli_usage(
                                        "logs: --since: '%s' is not @EPOCH, YYYY-MM-DD[ HH:MM[:SS]] "
                                        "or -N[smhd]",
                                        optarg);
                        break;
                case OPT_AFTER_CURSOR:
                        o.after_cursor = optarg;
                        break;
                case 'u':
                        if (!streq(optarg, "server") && !streq(optarg, "build") && !streq(optarg, "service"))
                                return cli_usage("logs: --unit: '%s' is not server, build or service",
                                                 optarg);
                        o.kind = optarg;
                        unit_given = true;
                        break;
                case 'j':
                        if (safe_atoi64(optarg, 1, INT64_MAX, &o.job_id) < 0)
                                return cli_usage("logs: --job: '%s' is not a job id (1 or more)", optarg);
                        break;
                case OPT_JSON:
                        o.json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_OK;
                default:
                        return EXIT_USAGE;
                }
        if (o.job_id > 0) {
                if (optind != argc)
                        return cli_usage("logs: --job ID takes no NAME");
                if (unit_given)
                        return cli_usage("logs: --job and --unit exclude each other");
                if (o.invocation && !streq(o.invocation, "all"))
                        return cli_usage(
                                "logs: --job reads every run within the job's time; no --invocation");
                o.kind = "job";
                o.invocation = NULL;
        } else if (optind != argc - 1)
                return cli_usage("logs: expected one NAME (or --job ID)");
        if (o.since_usec >= 0 && o.after_cursor)
                return cli_usage("logs: --since and --after-cursor exclude each other");
        o.name = o.job_id > 0 ? NULL : argv[optind];
        o.tty = isatty(STDOUT_FILENO);
        if ((o.since_usec >= 0 || o.after_cursor) && o.lines >= 0)
                o.limit = o.lines;

        r = cli_connect(ctx, "logs", &c);
        if (r > 0)
                return r;
        return o.follow ? do_follow(ctx, c, &o) : do_read(ctx, c, &o);
}
