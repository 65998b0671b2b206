/* left4me-logd: serves journal entries of our units (game servers, overlay builds, our
 * own services) on logs.sock: logs.read and logs.follow. Runs as user left4me with the
 * supplementary group systemd-journal; owns nothing. See docs/logs.md. */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "daemon/daemon.h"
#include "base/log.h"
#include "base/util.h"
#include "proto/args.h"
#include "svc-logs/logd-stream.h"

/* Hidden, for tests and benchmarks: read the journal files of this directory instead of
 * the system journal (and never ask systemd for invocation ids). */
static const char *arg_journal_dir = NULL;

struct target_args {
        char *kind, *name, *unit;
        int64_t id;
};

static const struct rpc_arg target_table[] = {
        {"kind", RPC_ARG_STR, RPC_ARG_REQUIRED | RPC_ARG_PRINTABLE, offsetof(struct target_args, kind), 1,
         16},
        {"name", RPC_ARG_STR, RPC_ARG_PRINTABLE, offsetof(struct target_args, name), 1, 64},
        {"unit", RPC_ARG_STR, RPC_ARG_PRINTABLE, offsetof(struct target_args, unit), 1, UNIT_NAME_MAX - 1},
        {"id", RPC_ARG_INT, 0, offsetof(struct target_args, id), 1, INT64_MAX},
};

struct logs_args {
        const msgpack_object *target;
        int64_t lines;
        int64_t since_usec;
        char *after_cursor;
        char *invocation;
};

static const struct rpc_arg logs_table[] = {
        {"target", RPC_ARG_MAP, RPC_ARG_REQUIRED, offsetof(struct logs_args, target), 0, 3},
        {"lines", RPC_ARG_INT, RPC_ARG_NULLABLE, offsetof(struct logs_args, lines), 0, LOGD_LINES_MAX},
        {"since_usec", RPC_ARG_INT, RPC_ARG_NULLABLE, offsetof(struct logs_args, since_usec), 0, INT64_MAX},
        {"after_cursor", RPC_ARG_STR, RPC_ARG_NULLABLE | RPC_ARG_PRINTABLE,
         offsetof(struct logs_args, after_cursor), 1, 255},
        {"invocation", RPC_ARG_STR, RPC_ARG_NULLABLE | RPC_ARG_PRINTABLE,
         offsetof(struct logs_args, invocation), 1, 32},
};

/* Parses and validates the arguments shared by logs.read and logs.follow into req
 * (req->after_cursor points into *a, which the caller frees after use). */
static int parse_request(const msgpack_object *params, struct logs_args *a, struct target_args *t,
                         struct logd_request *req, struct rpc_error *e) {
        int r;

        *a = (struct logs_args){.lines = LOGD_LINES_DEFAULT, .since_usec = -1};
        r = rpc_args_parse(params, logs_table, ELEMENTSOF(logs_table), a, e);
        if (r < 0)
                return r;

        /* The target is a map of named fields itself: parse it like params ([ {..} ]). */
        msgpack_object wrap = {.type = MSGPACK_OBJECT_ARRAY,
                               .via.array = {.size = 1, .ptr = (msgpack_object *) a->target}};
        r = rpc_args_parse(&wrap, target_table, ELEMENTSOF(target_table), t, e);
        if (r < 0) {
                char m[RPC_ERROR_MESSAGE_MAX];
                snprintf(m, sizeof m, "%s", e->message);
                return rpc_error_set(e, RPC_INVALID, "target.%s", m);
        }

        *req = (struct logd_request){
                .lines = a->lines, .since_usec = a->since_usec, .after_cursor = a->after_cursor};
        r = logd_target_parse(t->kind, t->name, t->unit, t->id, &req->target, e);
        if (r < 0)
                return r;
        r = logd_inv_parse(&req->target, a->invocation, &req->inv_mode, req->inv_id, e);
        if (r < 0)
                return r;
        if (a->after_cursor && a->since_usec >= 0)
                return rpc_error_set(e, RPC_INVALID, "after_cursor: cannot be combined with since_usec");
        return 0;
}

static int handle(struct rpc_call *call, const msgpack_object *params, void *userdata, bool follow) {
        struct logd *l = userdata;
        struct logs_args a;
        struct target_args t = {.id = -1};
        struct logd_request req;
        struct rpc_error e;
        int r;

        r = parse_request(params, &a, &t, &req, &e);
        if (r >= 0)
                r = follow ? logd_follow(l, call, &req) : logd_read(l, call, &req);
        else
                (void) rpc_call_fail_error(call, &e);
        rpc_args_free(target_table, ELEMENTSOF(target_table), &t);
        rpc_args_free(logs_table, ELEMENTSOF(logs_table), &a);
        return 0;
}

static int on_logs_read(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        return handle(call, params, userdata, false);
}

static int on_logs_follow(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        return handle(call, params, userdata, true);
}

static const struct rpc_method methods[] = {
        /* Operators, and webd for its users (it decides which of their logs they may see). */
        {"logs.read", on_logs_read, RPC_MAY_ADMIN | RPC_MAY(RPC_CALLER_WEBD)},
        {"logs.follow", on_logs_follow, RPC_MAY_ADMIN | RPC_MAY(RPC_CALLER_WEBD)},
};

/* Our resident anonymous memory, for sys.health (the stalled-follower tests watch it;
 * the journal's mmapped files are file-backed and not counted). */
static uint64_t rss_anon_bytes(void) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        unsigned long long kb;

        if (!f)
                return 0;
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "RssAnon: %llu kB", &kb) == 1)
                        return kb * 1024;
        return 0;
}

static void on_health(struct daemon *d, void *userdata, msgpack_packer *pk) {
        struct logd_stats s;

        logd_get_stats(userdata, &s);
        rpc_pack_kv_uint(pk, "followers", s.followers);
        rpc_pack_kv_uint(pk, "paused_followers", s.paused);
        rpc_pack_kv_uint(pk, "entries_sent", s.entries_sent);
        rpc_pack_kv_uint(pk, "lost_notices", s.lost);
        rpc_pack_kv_uint(pk, "journal_wakeups", s.wakeups);
        rpc_pack_kv_uint(pk, "journal_invalidations", s.invalidations);
        rpc_pack_kv_uint(pk, "current_from_bus", s.current_from_bus);
        rpc_pack_kv_uint(pk, "current_from_journal", s.current_from_journal);
        rpc_pack_kv_uint(pk, "rss_anon_bytes", rss_anon_bytes());
}

static int on_setup(struct daemon *d, void **ret_userdata) {
        struct logd *l;
        int r;

        r = logd_new(daemon_event(d), arg_journal_dir, !arg_journal_dir, &l);
        if (r < 0)
                return r;
        /* The job target asks jobd (jobs.get) which units a job ran. */
        char jobs[PATH_MAX];
        r = config_socket_path(daemon_config(d), "jobs", jobs, sizeof jobs);
        if (r >= 0)
                r = logd_set_jobs_socket(l, jobs, daemon_config(d)->max_message_bytes);
        if (r < 0) {
                logd_free(l);
                return r;
        }
        *ret_userdata = l;
        return 0;
}

static void on_teardown(struct daemon *d, void *userdata) {
        logd_free(userdata);
}

/* --journal-dir DIR (tests: a directory of journal files instead of the system journal),
 * hidden from --help. */
enum { ARG_JOURNAL_DIR = 0x100 };

static const struct option options[] = {
        {"journal-dir", required_argument, NULL, ARG_JOURNAL_DIR},
        {},
};

static int on_option(int c, const char *arg) {
        if (c != ARG_JOURNAL_DIR)
                return -EINVAL;
        arg_journal_dir = arg;
        return 0;
}

static const struct daemon_def def = {
        .name = "left4me-logd",
        .service = "logs",
        .description = "serves the journal of left4me's servers, builds and services",
        .methods = methods,
        .n_methods = ELEMENTSOF(methods),
        .options = options,
        .option = on_option,
        .setup = on_setup,
        .teardown = on_teardown,
        .health = on_health,
};

int main(int argc, char **argv) {
        return daemon_main(argc, argv, &def) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
