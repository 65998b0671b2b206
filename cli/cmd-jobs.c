/* l4d2ctl jobs: the job service (left4me-jobd, jobs.sock).
 *
 *   jobs list   [--owner O] [--subject S] [--state S] [--kind K] [--limit N] [--before ID] [--json]
 *   jobs show   ID [--json]           the job and its whole log
 *   jobs watch  ID [--after-seq N] [--json]
 *   jobs cancel ID [--json]
 *   jobs submit KIND [--owner O] [--server N] [--spec FILE] [--overlay N] [--overlays A,B]
 *               [--script FILE] [--base empty|current] [--subject S]... [--wait] [--json]
 *
 * watch and submit --wait exit 0 when the job succeeded, 1 when it failed, 9 when it was
 * cancelled. cli_jobs_submit_and_watch() is the same for other commands' --queue. */
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
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

int cmd_jobs(int argc, char **argv, const struct cli_ctx *ctx);
int cli_jobs_submit_and_watch(const struct cli_ctx *ctx, const char *kind, ...);

#define MAX_SUBJECTS 16
#define FILE_MAX     (512 * 1024)

static void usage(FILE *f) {
        fprintf(f, "Usage: l4d2ctl jobs COMMAND [ARGS]\n\n"
                   "Jobs are durable, scheduled work run by the job service (left4me-jobd).\n\n"
                   "Commands:\n"
                   "  list [--owner O] [--subject S] [--state S] [--kind K] [--limit N] [--before ID]\n"
                   "                    newest first; --before pages on (see next_before_id)\n"
                   "  show ID           the job and its log\n"
                   "  watch ID [--after-seq N]\n"
                   "                    print the log and follow it until the job ends\n"
                   "  cancel ID         cancel a queued or running job\n"
                   "  submit KIND [--owner O] [--server N] [--spec FILE] [--overlay N]\n"
                   "         [--overlays A,B] [--script FILE] [--base empty|current]\n"
                   "         [--subject S]... [--wait]\n"
                   "                    KIND: install, server.start (--server, --spec), server.stop,\n"
                   "                    server.reset, server.delete (--server), overlay.build (--overlay,\n"
                   "                    --script, --base), overlay.delete (--overlay); --overlays lists\n"
                   "                    the overlays a server uses; --base current starts the build\n"
                   "                    from the overlay's current generation (default: empty)\n\n"
                   "Every command takes --json. watch and submit --wait exit 0 if the job succeeded,\n"
                   "1 if it failed, 9 if it was cancelled.\n");
}

/* ---- small helpers ----------------------------------------------------------------------- */

static const msgpack_object *get(const msgpack_object *map, const char *key) {
        return map && map->type == MSGPACK_OBJECT_MAP ? rpc_map_get(map, key) : NULL;
}

/* A string field as "%.*s" arguments; "-" if absent or not a string. */
#define STRF(o)                                                                                             \
        (o && o->type == MSGPACK_OBJECT_STR ? (int) o->via.str.size : 1),                                   \
                (o && o->type == MSGPACK_OBJECT_STR ? o->via.str.ptr : "-")

static bool get_int(const msgpack_object *map, const char *key, long long *ret) {
        const msgpack_object *o = get(map, key);
        if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                *ret = (long long) o->via.u64;
        else if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                *ret = o->via.i64;
        else
                return false;
        return true;
}

static bool str_is(const msgpack_object *o, const char *s) {
        return o && rpc_obj_is_str(o, s);
}

static void fmt_time(long long usec, char *buf, size_t n) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;
        if (usec <= 0 || !localtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                snprintf(buf, n, "-");
}

static int parse_id(const char *s, long long *ret) {
        if (safe_atoi64(s, 1, INT64_MAX, ret) < 0)
                return cli_usage("'%s' is not a job id", s);
        return 0;
}

/* Exit code for a job's final state. */
static int state_exit(const msgpack_object *job) {
        const msgpack_object *st = get(job, "state");
        if (str_is(st, "succeeded"))
                return EXIT_OK;
        if (str_is(st, "cancelled"))
                return EXIT_CANCELLED;
        return EXIT_FAILED;
}

static int call_jobs(const struct cli_ctx *ctx, const char *method, const struct rpc_buf *params,
                     int timeout_ms, rpc_notify_cb on_notify, void *userdata, struct rpc_reply *reply) {
        _cleanup_(rpc_client_freep) struct rpc_client *c = NULL;
        struct cli_ctx lctx = *ctx;
        int r;

        r = cli_connect(ctx, "jobs", &c);
        if (r > 0)
                return r;
        lctx.timeout_ms = timeout_ms; /* watching waits as long as the job runs */
        return cli_call(&lctx, c, method, params, on_notify, userdata, reply);
}

/* ---- printing ---------------------------------------------------------------------------- */

static void print_line(const msgpack_object *l) {
        const msgpack_object *stream = get(l, "stream"), *text = get(l, "line");
        FILE *f = str_is(stream, "stderr") ? stderr : stdout;

        if (str_is(stream, "step") || str_is(stream, "info"))
                fprintf(f, "-- %.*s\n", STRF(text));
        else
                fprintf(f, "%.*s\n", STRF(text));
        fflush(f);
}

static void print_job_summary(const msgpack_object *job) {
        const msgpack_object *subjects = get(job, "subjects"), *err = get(job, "error");
        const msgpack_object *sub = get(job, "submitter");
        char created[32], finished[32];
        long long id = 0, v;

        (void) get_int(job, "id", &id);
        fmt_time(get_int(job, "created_usec", &v) ? v : 0, created, sizeof(created));
        fmt_time(get_int(job, "finished_usec", &v) ? v : 0, finished, sizeof(finished));
        printf("job %lld: %.*s, %.*s\n", id, STRF(get(job, "kind")), STRF(get(job, "state")));
        printf("  owner     %.*s\n", STRF(get(job, "owner")));
        if (sub && sub->type == MSGPACK_OBJECT_MAP && get_int(sub, "uid", &v)) {
                long long pid = 0;
                struct passwd *pw = getpwuid((uid_t) v);
                (void) get_int(sub, "pid", &pid);
                printf("  submitted by uid %lld%s%s%s, pid %lld\n", v, pw ? " (" : "", pw ? pw->pw_name : "",
                       pw ? ")" : "", pid);
        }
        printf("  subjects ");
        for (uint32_t i = 0;
             subjects && subjects->type == MSGPACK_OBJECT_ARRAY && i < subjects->via.array.size; i++)
                printf(" %.*s", STRF((&subjects->via.array.ptr[i])));
        printf("\n  created   %s\n  finished  %s\n", created, finished);
        {
                const msgpack_object *pl = get(job, "payload");
                const msgpack_object *base = pl && pl->type == MSGPACK_OBJECT_MAP ? get(pl, "base") : NULL;
                if (base && base->type == MSGPACK_OBJECT_STR)
                        printf("  base      %.*s\n", STRF(base));
        }
        if (get_int(job, "attempts", &v))
                printf("  attempts  %lld\n", v);
        if (get_int(job, "exit_code", &v))
                printf("  exit code %lld\n", v);
        if (err && err->type == MSGPACK_OBJECT_STR)
                printf("  error     %.*s\n", STRF(err));
}

static void print_final(const msgpack_object *job) {
        const msgpack_object *err = get(job, "error");
        long long id = 0;

        (void) get_int(job, "id", &id);
        if (err && err->type == MSGPACK_OBJECT_STR && !str_is(get(job, "state"), "succeeded"))
                fprintf(stderr, "l4d2ctl: job %lld %.*s: %.*s\n", id, STRF(get(job, "state")), STRF(err));
        else
                printf("job %lld %.*s\n", id, STRF(get(job, "state")));
}

/* ---- watch ------------------------------------------------------------------------------- */

struct watch_ctx {
        bool json;
};

static int on_watch_notify(const msgpack_object *payload, void *userdata) {
        struct watch_ctx *w = userdata;

        if (w->json) {
                cli_print_json(payload);
                fflush(stdout);
        } else if (str_is(get(payload, "type"), "line"))
                print_line(payload);
        return 0;
}

static int do_watch(const struct cli_ctx *ctx, long long id, long long after_seq, bool json) {
        struct watch_ctx w = {.json = json};
        struct rpc_reply reply = {};
        struct rpc_buf params;
        int r;

        rpc_buf_init(&params, 0);
        struct rpc_map map;
        msgpack_packer *mpk = rpc_params_begin(&map, &params.pk);
        rpc_pack_kv_int(mpk, "id", id);
        rpc_pack_kv_int(mpk, "after_seq", after_seq);
        (void) rpc_map_end(&map);
        /* A job can be silent for long (a download): wait as long as it takes. */
        r = call_jobs(ctx, "jobs.watch", &params, -1, on_watch_notify, &w, &reply);
        rpc_buf_done(&params);
        if (r > 0)
                return r;
        if (json)
                cli_print_json(reply.result);
        else
                print_final(get(reply.result, "job"));
        r = state_exit(get(reply.result, "job"));
        rpc_reply_done(&reply);
        return r;
}

/* ---- commands ---------------------------------------------------------------------------- */

static int jobs_list(int argc, char **argv, const struct cli_ctx *ctx) {
        static const struct option options[] = {{"owner", required_argument, NULL, 'o'},
                                                {"subject", required_argument, NULL, 's'},
                                                {"state", required_argument, NULL, 'S'},
                                                {"kind", required_argument, NULL, 'k'},
                                                {"limit", required_argument, NULL, 'n'},
                                                {"before", required_argument, NULL, 'b'},
                                                {"json", no_argument, NULL, 'j'},
                                                {"help", no_argument, NULL, 'h'},
                                                {}};
        const char *owner = NULL, *subject = NULL, *state = NULL, *kind = NULL;
        long long limit = -1, before = -1;
        bool json = ctx->json;
        struct rpc_reply reply = {};
        const msgpack_object *jobs;
        struct rpc_buf params;
        int c, r;

        optind = 0; /* glibc: re-initialize (argument permutation state too) */
        while ((c = getopt_long(argc, argv, "o:s:S:k:n:b:jh", options, NULL)) >= 0)
                switch (c) {
                case 'o':
                        owner = optarg;
                        break;
                case 's':
                        subject = optarg;
                        break;
                case 'S':
                        state = optarg;
                        break;
                case 'k':
                        kind = optarg;
                        break;
                case 'n':
                        if (safe_atoi64(optarg, 1, 500, &limit) < 0)
                                return cli_usage("--limit: '%s' is not 1..500", optarg);
                        break;
                case 'b':
                        if (parse_id(optarg, &before) != 0)
                                return EXIT_USAGE;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_OK;
                default:
                        return EXIT_USAGE;
                }
        if (optind < argc)
                return cli_usage("jobs list: unexpected argument '%s'", argv[optind]);
        rpc_buf_init(&params, 0);
        struct rpc_map map;
        msgpack_packer *mpk = rpc_params_begin(&map, &params.pk);
        if (owner)
                rpc_pack_kv_str(mpk, "owner", owner);
        if (subject)
                rpc_pack_kv_str(mpk, "subject", subject);
        if (state)
                rpc_pack_kv_str(mpk, "state", state);
        if (kind)
                rpc_pack_kv_str(mpk, "kind", kind);
        if (limit > 0)
                rpc_pack_kv_int(mpk, "limit", limit);
        if (before > 0)
                rpc_pack_kv_int(mpk, "before_id", before);
        (void) rpc_map_end(&map);
        r = call_jobs(ctx, "jobs.list", &params, ctx->timeout_ms, NULL, NULL, &reply);
        rpc_buf_done(&params);
        if (r > 0)
                return r;
        if (json) {
                cli_print_json(reply.result);
                rpc_reply_done(&reply);
                return EXIT_OK;
        }
        jobs = get(reply.result, "jobs");
        printf("%-8s %-11s %-14s %-20s %-19s %s\n", "ID", "STATE", "KIND", "SUBJECTS", "CREATED", "OWNER");
        for (uint32_t i = 0; jobs && jobs->type == MSGPACK_OBJECT_ARRAY && i < jobs->via.array.size; i++) {
                const msgpack_object *j = &jobs->via.array.ptr[i], *subj = get(j, "subjects");
                char created[32], subjects[128] = "";
                long long id = 0, v;
                size_t len = 0;

                (void) get_int(j, "id", &id);
                fmt_time(get_int(j, "created_usec", &v) ? v : 0, created, sizeof(created));
                for (uint32_t k = 0; subj && subj->type == MSGPACK_OBJECT_ARRAY &&
                                     k < subj->via.array.size && len < sizeof(subjects);
                     k++)
                        len += (size_t) snprintf(subjects + len, sizeof(subjects) - len, "%s%.*s",
                                                 k ? "," : "", STRF((&subj->via.array.ptr[k])));
                printf("%-8lld %-11.*s %-14.*s %-20s %-19s %.*s\n", id, STRF(get(j, "state")),
                       STRF(get(j, "kind")), subjects[0] ? subjects : "-", created, STRF(get(j, "owner")));
        }
        {
                long long next;
                if (get_int(reply.result, "next_before_id", &next))
                        printf("(more: --before %lld)\n", next);
        }
        rpc_reply_done(&reply);
        return EXIT_OK;
}

/* `jobs show|cancel [--json] ID`: parses the arguments and calls method with {id}. Returns an
 * exit code (> 0), or 0 with *reply filled in. */
static int call_with_id(int argc, char **argv, const struct cli_ctx *ctx, const char *method, bool *json,
                        long long *ret_id, struct rpc_reply *reply) {
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {}};
        struct rpc_buf params;
        int c, r;

        optind = 0; /* glibc: re-initialize (argument permutation state too) */
        while ((c = getopt_long(argc, argv, "jh", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        *json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return -1;
                default:
                        return EXIT_USAGE;
                }
        if (optind + 1 != argc)
                return cli_usage("jobs %s: expected one job id", argv[0]);
        if (parse_id(argv[optind], ret_id) != 0)
                return EXIT_USAGE;
        rpc_buf_init(&params, 0);
        struct rpc_map map;
        msgpack_packer *mpk = rpc_params_begin(&map, &params.pk);
        rpc_pack_kv_int(mpk, "id", *ret_id);
        (void) rpc_map_end(&map);
        r = call_jobs(ctx, method, &params, ctx->timeout_ms, NULL, NULL, reply);
        rpc_buf_done(&params);
        return r;
}

static int jobs_show(int argc, char **argv, const struct cli_ctx *ctx) {
        bool json = ctx->json;
        struct rpc_reply reply = {};
        struct rpc_buf params;
        long long id, after = 0;
        int r;

        r = call_with_id(argc, argv, ctx, "jobs.get", &json, &id, &reply);
        if (r != 0)
                return r < 0 ? EXIT_OK : r;
        if (json) {
                cli_print_json(reply.result);
                rpc_reply_done(&reply);
                return EXIT_OK;
        }
        print_job_summary(get(reply.result, "job"));
        rpc_reply_done(&reply);

        /* The log, page by page. */
        for (;;) {
                const msgpack_object *lines;
                long long next = after;
                bool done;

                rpc_buf_init(&params, 0);
                struct rpc_map map;
                msgpack_packer *mpk = rpc_params_begin(&map, &params.pk);
                rpc_pack_kv_int(mpk, "id", id);
                rpc_pack_kv_int(mpk, "after_seq", after);
                (void) rpc_map_end(&map);
                r = call_jobs(ctx, "jobs.log", &params, ctx->timeout_ms, NULL, NULL, &reply);
                rpc_buf_done(&params);
                if (r > 0)
                        return r;
                lines = get(reply.result, "lines");
                for (uint32_t i = 0;
                     lines && lines->type == MSGPACK_OBJECT_ARRAY && i < lines->via.array.size; i++)
                        print_line(&lines->via.array.ptr[i]);
                (void) get_int(reply.result, "next_seq", &next);
                done = !lines || lines->type != MSGPACK_OBJECT_ARRAY || lines->via.array.size == 0 ||
                       next <= after;
                rpc_reply_done(&reply);
                if (done)
                        break;
                after = next;
        }
        return EXIT_OK;
}

static int jobs_watch(int argc, char **argv, const struct cli_ctx *ctx) {
        static const struct option options[] = {{"after-seq", required_argument, NULL, 'a'},
                                                {"json", no_argument, NULL, 'j'},
                                                {"help", no_argument, NULL, 'h'},
                                                {}};
        bool json = ctx->json;
        long long id, after = 0;
        int c;

        optind = 0; /* glibc: re-initialize (argument permutation state too) */
        while ((c = getopt_long(argc, argv, "a:jh", options, NULL)) >= 0)
                switch (c) {
                case 'a':
                        if (safe_atoi64(optarg, 0, INT64_MAX, &after) < 0)
                                return cli_usage("--after-seq: '%s' is not a number", optarg);
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_OK;
                default:
                        return EXIT_USAGE;
                }
        if (optind + 1 != argc)
                return cli_usage("jobs watch: expected one job id");
        if (parse_id(argv[optind], &id) != 0)
                return EXIT_USAGE;
        return do_watch(ctx, id, after, json);
}

static int jobs_cancel(int argc, char **argv, const struct cli_ctx *ctx) {
        bool json = ctx->json;
        struct rpc_reply reply = {};
        long long id;
        int r;

        r = call_with_id(argc, argv, ctx, "jobs.cancel", &json, &id, &reply);
        if (r != 0)
                return r < 0 ? EXIT_OK : r;
        if (json)
                cli_print_json(reply.result);
        else
                printf("job %lld: %.*s\n", id, STRF(get(get(reply.result, "job"), "state")));
        rpc_reply_done(&reply);
        return EXIT_OK;
}

/* ---- submit ------------------------------------------------------------------------------ */

struct submit_opts {
        const char *kind, *owner, *server, *overlay, *overlays, *base;
        char *spec, *script; /* file contents */
        const char *subjects[MAX_SUBJECTS];
        size_t n_subjects;
        bool wait, json;
};

static int read_file(const char *path, char **ret) {
        _cleanup_fclose_ FILE *f = streq(path, "-") ? NULL : fopen(path, "re");
        FILE *in = streq(path, "-") ? stdin : f;
        _cleanup_free_ char *buf = NULL;
        size_t n;

        if (!in) {
                fprintf(stderr, "l4d2ctl: cannot read '%s': %m\n", path);
                return EXIT_USAGE;
        }
        buf = malloc(FILE_MAX + 1);
        if (!buf)
                return EXIT_FAILED;
        n = fread(buf, 1, FILE_MAX + 1, in);
        if (n > FILE_MAX) {
                fprintf(stderr, "l4d2ctl: '%s' is larger than %d bytes\n", path, FILE_MAX);
                return EXIT_USAGE;
        }
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

static char *default_owner(void) {
        struct passwd *pw = getpwuid(getuid());
        char *s;
        if (pw && asprintf(&s, "cli:%s", pw->pw_name) >= 0)
                return s;
        if (asprintf(&s, "cli:%u", (unsigned) getuid()) >= 0)
                return s;
        return NULL;
}

/* Submits; prints the job (or, with wait, follows it). */
static int do_submit(const struct cli_ctx *ctx, struct submit_opts *o) {
        _cleanup_free_ char *owner = NULL;
        struct rpc_reply reply = {};
        struct rpc_buf params;
        long long id = 0;
        int r;

        if (!o->owner) {
                owner = default_owner();
                if (!owner)
                        return EXIT_FAILED;
        }
        rpc_buf_init(&params, 0);
        struct rpc_map map;
        msgpack_packer *mpk = rpc_params_begin(&map, &params.pk);
        rpc_pack_kv_str(mpk, "kind", o->kind);
        rpc_pack_kv_str(mpk, "owner", o->owner ?: owner);
        if (o->n_subjects > 0) {
                rpc_pack_key(mpk, "subjects");
                msgpack_pack_array(mpk, o->n_subjects);
                for (size_t i = 0; i < o->n_subjects; i++)
                        rpc_pack_str(mpk, o->subjects[i]);
        }
        rpc_pack_key(mpk, "payload");
        struct rpc_map inner;
        msgpack_packer *ipk = rpc_map_begin(&inner, mpk);
        if (o->server)
                rpc_pack_kv_str(ipk, "server", o->server);
        if (o->overlay)
                rpc_pack_kv_str(ipk, "overlay", o->overlay);
        if (o->spec)
                rpc_pack_kv_str(ipk, "spec", o->spec);
        if (o->script)
                rpc_pack_kv_str(ipk, "script", o->script);
        if (o->base)
                rpc_pack_kv_str(ipk, "base", o->base);
        if (o->overlays) {
                /* "a,b,c" → ["a", "b", "c"] (empty items are kept: jobd names the bad one) */
                size_t n = 1;
                for (const char *p = o->overlays; *p; p++)
                        n += *p == ',';
                rpc_pack_key(ipk, "overlays");
                msgpack_pack_array(ipk, n);
                for (const char *p = o->overlays;;) {
                        const char *comma = strchrnul(p, ',');
                        rpc_pack_strn(ipk, p, (size_t) (comma - p));
                        if (!*comma)
                                break;
                        p = comma + 1;
                }
        }
        (void) rpc_map_end(&inner);
        (void) rpc_map_end(&map);
        r = call_jobs(ctx, "jobs.submit", &params, ctx->timeout_ms, NULL, NULL, &reply);
        rpc_buf_done(&params);
        if (r > 0)
                return r;
        (void) get_int(get(reply.result, "job"), "id", &id);
        if (!o->wait) {
                const msgpack_object *co = get(reply.result, "coalesced");
                if (o->json)
                        cli_print_json(reply.result);
                else
                        printf("job %lld %s\n", id,
                               co && co->type == MSGPACK_OBJECT_BOOLEAN && co->via.boolean
                                       ? "(already queued)"
                                       : "queued");
                rpc_reply_done(&reply);
                return EXIT_OK;
        }
        rpc_reply_done(&reply);
        if (!o->json) {
                printf("job %lld queued\n", id);
                fflush(stdout); /* before the wait, which may be long and end in a Ctrl-C */
        }
        return do_watch(ctx, id, 0, o->json);
}

static int jobs_submit(int argc, char **argv, const struct cli_ctx *ctx) {
        static const struct option options[] = {
                {"owner", required_argument, NULL, 'o'},    {"server", required_argument, NULL, 's'},
                {"spec", required_argument, NULL, 'f'},     {"overlay", required_argument, NULL, 'O'},
                {"overlays", required_argument, NULL, 'L'}, {"script", required_argument, NULL, 'x'},
                {"base", required_argument, NULL, 'B'},     {"subject", required_argument, NULL, 'T'},
                {"wait", no_argument, NULL, 'w'},           {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},           {}};
        struct submit_opts o = {.json = ctx->json};
        int c, r;

        optind = 0; /* glibc: re-initialize (argument permutation state too) */
        while ((c = getopt_long(argc, argv, "o:s:f:O:L:x:B:T:wjh", options, NULL)) >= 0)
                switch (c) {
                case 'B':
                        o.base = optarg;
                        break;
                case 'o':
                        o.owner = optarg;
                        break;
                case 's':
                        o.server = optarg;
                        break;
                case 'O':
                        o.overlay = optarg;
                        break;
                case 'L':
                        o.overlays = optarg;
                        break;
                case 'f':
                        free(o.spec);
                        o.spec = NULL;
                        r = read_file(optarg, &o.spec);
                        if (r != 0)
                                goto finish;
                        break;
                case 'x':
                        free(o.script);
                        o.script = NULL;
                        r = read_file(optarg, &o.script);
                        if (r != 0)
                                goto finish;
                        break;
                case 'T':
                        if (o.n_subjects == MAX_SUBJECTS) {
                                r = cli_usage("at most %d --subject", MAX_SUBJECTS);
                                goto finish;
                        }
                        o.subjects[o.n_subjects++] = optarg;
                        break;
                case 'w':
                        o.wait = true;
                        break;
                case 'j':
                        o.json = true;
                        break;
                case 'h':
                        usage(stdout);
                        r = EXIT_OK;
                        goto finish;
                default:
                        r = EXIT_USAGE;
                        goto finish;
                }
        if (optind + 1 != argc) {
                r = cli_usage("jobs submit: expected one KIND");
                goto finish;
        }
        o.kind = argv[optind];
        r = do_submit(ctx, &o);
finish:
        free(o.spec);
        free(o.script);
        return r;
}

/* For lifecycle commands' --queue (cli/cmd-host.c): submits a job of kind with payload fields
 * given as key, value pairs ending with NULL ("overlays" takes "a,b,c"), then follows it like
 * `jobs watch`. The owner is "cli:<user>". Returns the exit code. */
int cli_jobs_submit_and_watch(const struct cli_ctx *ctx, const char *kind, ...) {
        struct submit_opts o = {.kind = kind, .wait = true, .json = ctx->json};
        const char *k;
        va_list ap;
        int r;

        va_start(ap, kind);
        while ((k = va_arg(ap, const char *))) {
                const char *v = va_arg(ap, const char *);
                if (streq(k, "server"))
                        o.server = v;
                else if (streq(k, "overlay"))
                        o.overlay = v;
                else if (streq(k, "overlays"))
                        o.overlays = v;
                else if (streq(k, "spec"))
                        o.spec = (char *) v;
                else if (streq(k, "script"))
                        o.script = (char *) v;
                else if (streq(k, "base"))
                        o.base = v;
                else if (streq(k, "owner"))
                        o.owner = v;
                else {
                        va_end(ap);
                        return cli_usage("internal: unknown job field '%s'", k);
                }
        }
        va_end(ap);
        r = do_submit(ctx, &o);
        return r;
}

int cmd_jobs(int argc, char **argv, const struct cli_ctx *ctx) {
        static const struct {
                const char *name;
                int (*run)(int argc, char **argv, const struct cli_ctx *ctx);
        } sub[] = {
                {"list", jobs_list},     {"show", jobs_show},     {"watch", jobs_watch},
                {"cancel", jobs_cancel}, {"submit", jobs_submit},
        };

        if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h")) {
                usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? EXIT_USAGE : EXIT_OK;
        }
        for (size_t i = 0; i < ELEMENTSOF(sub); i++)
                if (streq(argv[1], sub[i].name))
                        return sub[i].run(argc - 1, argv + 1, ctx);
        return cli_usage("jobs: unknown command '%s'", argv[1]);
}
