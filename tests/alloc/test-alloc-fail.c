/* Allocation-failure injection, in the manner of SQLite's malloc tests: each scenario runs
 * with the Nth allocation failing, for N = 1, 2, ... until a run completes without reaching
 * an injected failure. Every run must end in an error (never a wrong success), must not
 * crash, and must not leak: the program is built with AddressSanitizer, whose leak checker
 * fails it at exit if any run left memory behind.
 *
 * Our objects and msgpack-c (linked statically for this) reach malloc, calloc, realloc,
 * strdup, strndup and asprintf through -Wl,--wrap, so their calls come here; SQLite gets the
 * same countdown through SQLITE_CONFIG_MALLOC. Two modes: only the Nth allocation fails, or
 * the Nth and every one after it (the "persistent" mode: nothing can be retried).
 *
 * Scenarios: the decoder (scanner, unpacker, envelope, typed arguments) and the server core
 * answering a request; the client core with calls and a stream in flight; and jobd's queue
 * (a payload parsed, its keys and subjects derived, stored in jobs.db, updated, read back). */
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "proto/args.h"
#include "proto/client-core.h"
#include "proto/server.h"
#include "svc-jobs/jobd-db.h"
#include "svc-jobs/jobd-job.h"

/* ---- the countdown ------------------------------------------------------------------------ */

static long countdown = -1; /* allocations left before the failing one; -1: off */
static bool persistent;
static bool injected;        /* a failure was injected in this run */
static bool injected_sqlite; /* ... by SQLite's hook (SQLite may absorb those: see below) */
static long allocs;          /* allocations asked for in this run */
static long injected_at;     /* the allocation that failed first */
static long decided_at;      /* allocations done when the scenario had its result */

/* Called by a scenario once its result is known, before it tears down: a failure injected
 * after this point can only be checked for leaks and crashes, not reported. */
static void decided(void) {
        decided_at = allocs;
}

static bool should_fail(void) {
        allocs++;
        if (countdown < 0)
                return false;
        if (countdown == 0) {
                if (!persistent)
                        countdown = -1;
                if (!injected)
                        injected_at = allocs;
                injected = true;
                return true;
        }
        countdown--;
        return false;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_asprintf(char **ret, const char *fmt, ...) _printf_(2, 3);

void *__wrap_malloc(size_t n) {
        return should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m) {
        return should_fail() ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n) {
        return should_fail() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s) {
        return should_fail() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n) {
        return should_fail() ? NULL : __real_strndup(s, n);
}

int __wrap_asprintf(char **ret, const char *fmt, ...) {
        va_list ap;
        int r;

        if (should_fail()) {
                *ret = NULL;
                return -1;
        }
        va_start(ap, fmt);
        r = vasprintf(ret, fmt, ap);
        va_end(ap);
        return r;
}

static sqlite3_mem_methods sqlite_default;

static void *sqlite_malloc(int n) {
        if (should_fail()) {
                injected_sqlite = true;
                return NULL;
        }
        return sqlite_default.xMalloc(n);
}

static void *sqlite_realloc(void *p, int n) {
        if (should_fail()) {
                injected_sqlite = true;
                return NULL;
        }
        return sqlite_default.xRealloc(p, n);
}

static void sqlite_hook(void) {
        sqlite3_mem_methods m;

        if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_default) != SQLITE_OK)
                abort();
        m = sqlite_default;
        m.xMalloc = sqlite_malloc;
        m.xRealloc = sqlite_realloc;
        /* Lookaside would serve small allocations from a preallocated pool, out of reach. */
        if (sqlite3_config(SQLITE_CONFIG_MALLOC, &m) != SQLITE_OK ||
            sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0) != SQLITE_OK)
                abort();
}

/* ---- scenario 1: the decoder and the server core ---------------------------------------- */

struct echo_args {
        char *name;
        char **tags;
        int64_t port;
};

static const struct rpc_arg echo_args[] = {
        {"name", RPC_ARG_STR, RPC_ARG_REQUIRED | RPC_ARG_UTF8, offsetof(struct echo_args, name), 1, 64},
        {"tags", RPC_ARG_STRV, 0, offsetof(struct echo_args, tags), 0, 8, 32},
        {"port", RPC_ARG_INT, 0, offsetof(struct echo_args, port), 1, 65535},
};

static int m_echo(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct echo_args a = {};
        struct rpc_error e;
        msgpack_packer *pk;
        int r;

        if (rpc_args_parse(params, echo_args, ELEMENTSOF(echo_args), &a, &e) < 0)
                return rpc_call_fail_error(call, &e);
        pk = rpc_call_result(call);
        (void) msgpack_pack_map(pk, 2);
        rpc_pack_kv_str(pk, "name", a.name);
        rpc_pack_kv_int(pk, "port", a.port);
        r = rpc_call_reply(call);
        rpc_args_free(echo_args, ELEMENTSOF(echo_args), &a);
        return r;
}

static const struct rpc_method methods[] = {{"t.echo", m_echo, RPC_MAY_ANYONE}};

static void pack_echo_request(struct rpc_buf *b, uint32_t msgid) {
        rpc_pack_request_head(&b->pk, msgid, "t.echo");
        rpc_pack_params_map(&b->pk, 3);
        rpc_pack_kv_str(&b->pk, "name", "server-one");
        rpc_pack_key(&b->pk, "tags");
        (void) msgpack_pack_array(&b->pk, 2);
        rpc_pack_str(&b->pk, "a");
        rpc_pack_str(&b->pk, "b");
        rpc_pack_kv_int(&b->pk, "port", 27015);
}

/* Decodes one response from buf and checks it is the success m_echo gives. */
static int check_echo_response(const char *data, size_t len, uint32_t msgid) {
        msgpack_unpacked u;
        struct rpc_msg m;
        struct rpc_error e;
        bool has_id;
        size_t off = 0;
        long n;
        int r = -EBADMSG;

        n = mp_scan_buffer((const uint8_t *) data, len, NULL);
        if (n <= 0)
                return -EBADMSG;
        msgpack_unpacked_init(&u);
        if (msgpack_unpack_next(&u, data, (size_t) n, &off) != MSGPACK_UNPACK_SUCCESS)
                r = -ENOMEM;
        else if (rpc_msg_decode(&u.data, &m, &has_id, &e) == 0 && m.type == RPC_RESPONSE &&
                 m.msgid == msgid && rpc_error_decode(m.error, &e) == 0 &&
                 rpc_obj_is_str(rpc_map_get(m.result, "name"), "server-one"))
                r = 0;
        msgpack_unpacked_destroy(&u);
        return r;
}

static int scenario_decoder(void) {
        struct rpc_server_config cfg = {.methods = methods, .n_methods = ELEMENTSOF(methods)};
        _cleanup_(rpc_server_freep) struct rpc_server *s = NULL;
        struct rpc_peer peer = {.uid = 1000, .gid = 1000};
        struct rpc_conn *c = NULL;
        struct rpc_buf b;
        const char *out;
        size_t len;
        int r;

        /* The request itself, decoded by hand: scanner, unpacker, envelope, arguments. */
        rpc_buf_init(&b, 0);
        pack_echo_request(&b, 7);
        if (!rpc_buf_ok(&b)) {
                rpc_buf_done(&b);
                return -ENOMEM;
        }
        {
                struct echo_args a = {};
                msgpack_unpacked u;
                struct rpc_msg m;
                struct rpc_error e;
                bool has_id;
                size_t off = 0;

                msgpack_unpacked_init(&u);
                if (mp_scan_buffer((const uint8_t *) b.data, b.len, NULL) != (long) b.len ||
                    msgpack_unpack_next(&u, b.data, b.len, &off) != MSGPACK_UNPACK_SUCCESS)
                        r = -ENOMEM;
                else if (rpc_msg_decode(&u.data, &m, &has_id, &e) < 0)
                        r = -EBADMSG;
                else
                        r = rpc_args_parse(m.params, echo_args, ELEMENTSOF(echo_args), &a, &e);
                if (r >= 0 && (!a.name || !streq(a.name, "server-one") || !a.tags || !a.tags[1]))
                        r = -EBADMSG;
                rpc_args_free(echo_args, ELEMENTSOF(echo_args), &a);
                msgpack_unpacked_destroy(&u);
        }
        if (r < 0) {
                rpc_buf_done(&b);
                return r;
        }

        /* The same bytes through the server core, a few at a time. */
        r = rpc_server_new(&cfg, &s);
        if (r >= 0)
                r = rpc_conn_new(s, &peer, NULL, NULL, &c);
        for (size_t off = 0; r >= 0 && off < b.len; off += 5)
                r = rpc_conn_feed(c, b.data + off, MIN((size_t) 5, b.len - off));
        if (r >= 0) {
                out = rpc_conn_output(c, &len);
                r = check_echo_response(out, len, 7);
        }
        decided();
        rpc_conn_free(c);
        rpc_buf_done(&b);
        return r;
}

/* ---- scenario 2: the client core ------------------------------------------------------------ */

struct outcome {
        unsigned replies, notifies;
        bool bad;
};

static void cc_notify(struct rpc_core *c, uint32_t msgid, const msgpack_object *payload, void *userdata) {
        struct outcome *o = userdata;
        o->notifies++;
}

static void cc_reply(struct rpc_core *c, uint32_t msgid, const struct rpc_core_reply *rep, void *userdata) {
        struct outcome *o = userdata;
        o->replies++;
        if (rep->failed || !rpc_obj_is_str(rpc_map_get(rep->result, "name"), "server-one"))
                o->bad = true;
}

static int scenario_client(void) {
        _cleanup_(rpc_core_freep) struct rpc_core *c = NULL;
        struct outcome o = {};
        struct rpc_buf params, in;
        uint32_t ids[3];
        int r;

        rpc_buf_init(&params, 0);
        rpc_buf_init(&in, 0);
        rpc_pack_params_map(&params.pk, 1);
        rpc_pack_kv_str(&params.pk, "name", "server-one");
        r = rpc_buf_ok(&params) ? rpc_core_new(NULL, NULL, NULL, &c) : -ENOMEM;
        for (int i = 0; r >= 0 && i < 3; i++)
                r = rpc_core_call(c, i == 1 ? "t.stream" : "t.echo", &params, cc_notify, cc_reply, &o,
                                  &ids[i]);
        if (r >= 0)
                r = rpc_core_cancel(c, ids[1]);
        if (r >= 0) {
                /* What a server sends back: two stream items, then the answers, out of order. */
                for (int i = 0; i < 2; i++) {
                        rpc_pack_stream_notify_head(&in.pk, "t.stream", ids[1]);
                        (void) msgpack_pack_map(&in.pk, 1);
                        rpc_pack_kv_str(&in.pk, "line", "tick");
                }
                for (int i = 2; i >= 0; i--) {
                        rpc_pack_response_head(&in.pk, ids[i]);
                        (void) msgpack_pack_map(&in.pk, 1);
                        rpc_pack_kv_str(&in.pk, "name", "server-one");
                }
                if (!rpc_buf_ok(&in))
                        r = -ENOMEM;
        }
        for (size_t off = 0; r >= 0 && off < in.len; off += 7)
                r = rpc_core_feed(c, in.data + off, MIN((size_t) 7, in.len - off));
        if (r >= 0 && (o.replies != 3 || o.notifies != 2))
                r = -EIO;
        if (o.bad)
                r = -EIO;
        decided();
        rpc_buf_done(&params);
        rpc_buf_done(&in);
        return r;
}

/* ---- scenario 3: jobd's queue ----------------------------------------------------------- */

static char db_dir[64], db_path[128];

static void db_remove(void) {
        static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
        char p[200];

        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                snprintf(p, sizeof(p), "%s%s", db_path, suffixes[i]);
                (void) unlink(p);
        }
}

/* Before each run, without injection: a fresh, migrated jobs.db. Creating the schema takes
 * thousands of SQLite allocations that would make the sweep slow and test SQLite more than
 * us; opening an existing database still goes through jobd_db_open's checks. */
static int queue_prepare(void) {
        static char template[160];
        static bool have_template;
        _cleanup_fclose_ FILE *in = NULL, *out = NULL;
        char buf[65536];
        size_t n;

        if (!have_template) {
                struct jobd_db *db;
                int r;

                db_remove();
                r = jobd_db_open(db_path, &db);
                jobd_db_close(db);
                if (r < 0)
                        return r;
                snprintf(template, sizeof(template), "%s/template.db", db_dir);
                if (rename(db_path, template) < 0)
                        return -errno;
                have_template = true;
        }
        /* A copy of the file is much quicker than creating the schema again. */
        db_remove();
        in = fopen(template, "re");
        out = fopen(db_path, "we");
        if (!in || !out)
                return -errno;
        while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
                if (fwrite(buf, 1, n, out) != n)
                        return -EIO;
        return ferror(in) || fflush(out) != 0 ? -EIO : 0;
}

static int list_cb(const struct job_record *j, void *userdata) {
        (*(unsigned *) userdata)++;
        return 0;
}

static int scenario_queue(void) {
        struct job_payload p = {};
        struct job_key *keys = NULL;
        size_t n_keys = 0;
        char *keys_text = NULL, **subjects = NULL;
        struct jobd_db *db = NULL;
        struct job_record j = {}, got = {};
        struct rpc_buf pb, payload;
        struct rpc_error e;
        msgpack_unpacked u;
        size_t off = 0;
        unsigned listed = 0;
        int r;

        rpc_buf_init(&pb, 0);
        rpc_buf_init(&payload, 0);
        msgpack_unpacked_init(&u);
        (void) msgpack_pack_map(&pb.pk, 3);
        rpc_pack_kv_str(&pb.pk, "server", "alpha");
        rpc_pack_kv_str(&pb.pk, "spec", "port: 27015\n");
        rpc_pack_key(&pb.pk, "overlays");
        (void) msgpack_pack_array(&pb.pk, 1);
        rpc_pack_str(&pb.pk, "maps");
        r = rpc_buf_ok(&pb) ? 0 : -ENOMEM;
        if (r >= 0 && msgpack_unpack_next(&u, pb.data, pb.len, &off) != MSGPACK_UNPACK_SUCCESS)
                r = -ENOMEM;
        if (r >= 0)
                r = job_payload_parse(JOB_SERVER_START, &u.data, &p, &e);
        if (r >= 0)
                r = job_keys_derive(JOB_SERVER_START, &p, &keys, &n_keys);
        if (r >= 0)
                r = job_keys_format(keys, n_keys, &keys_text);
        if (r >= 0)
                r = job_subjects_derive(JOB_SERVER_START, &p, NULL, &subjects);
        if (r >= 0) {
                job_payload_pack(&p, &payload.pk);
                r = rpc_buf_ok(&payload) ? 0 : -ENOMEM;
        }
        if (r >= 0)
                r = jobd_db_open(db_path, &db);
        if (r >= 0) {
                j = (struct job_record){
                        .kind = JOB_SERVER_START,
                        .owner = (char *) "alice",
                        .subjects = subjects,
                        .keys = keys_text,
                        .payload = payload.data,
                        .payload_len = payload.len,
                        .created_usec = 1000,
                };
                r = jobd_db_insert(db, &j);
        }
        if (r >= 0) {
                struct job_line line = {
                        .seq = 1, .stream = "step", .text = "Step: instance.start", .usec = 1001};
                j.state = JOB_RUNNING;
                j.started_usec = 1001;
                r = jobd_db_update(db, &j, JOB_QUEUED, &line);
        }
        if (r >= 0) {
                struct job_line line = {.seq = 2, .stream = "stdout", .text = "hello", .usec = 1002};
                r = jobd_db_append_line(db, j.id, &line);
        }
        if (r >= 0)
                r = jobd_db_get(db, j.id, &got);
        if (r >= 0) {
                struct job_payload back = {};
                r = job_payload_unpack(got.kind, got.payload, got.payload_len, &back);
                if (r >= 0 && (got.state != JOB_RUNNING || got.last_seq != 2 || !back.server ||
                               !streq(back.server, "alpha") || !got.subjects || !got.subjects[0]))
                        r = -EIO;
                job_payload_done(&back);
        }
        if (r >= 0)
                r = jobd_db_list(db, &(struct job_filter){.state = -1, .kind = -1, .limit = 10}, list_cb,
                                 &listed);
        if (r >= 0 && listed != 1)
                r = -EIO;
        decided();
        job_record_done(&got);
        jobd_db_close(db);
        strv_free(subjects);
        free(keys_text);
        job_keys_free(keys, n_keys);
        job_payload_done(&p);
        msgpack_unpacked_destroy(&u);
        rpc_buf_done(&pb);
        rpc_buf_done(&payload);
        return r;
}

/* ---- the loop ------------------------------------------------------------------------------ */

static int sweep(const char *name, int (*prepare)(void), int (*scenario)(void), bool sqlite_may_absorb) {
        unsigned long benign = 0;

        for (int mode = 0; mode < 2; mode++) {
                long n;

                persistent = mode == 1;
                for (n = 0;; n++) {
                        int r;

                        if (prepare && prepare() < 0) {
                                fprintf(stderr, "%s: cannot prepare the run\n", name);
                                return -1;
                        }
                        injected = injected_sqlite = false;
                        allocs = injected_at = 0;
                        decided_at = -1;
                        countdown = n;
                        r = scenario();
                        countdown = -1;
                        if (!injected) {
                                if (r < 0) {
                                        fprintf(stderr, "%s: fails without any injected failure: %s\n", name,
                                                strerror(-r));
                                        return -1;
                                }
                                break;
                        }
                        if (r >= 0 && decided_at >= 0 && injected_at > decided_at)
                                continue; /* in the teardown: LSan checks it left nothing behind */
                        if (r >= 0) {
                                /* SQLite treats some allocation failures as benign (a cache that
                                 * stays smaller) and completes the statement correctly; the
                                 * scenario checked what it read back. Ours never may. */
                                if (sqlite_may_absorb && injected_sqlite && !persistent) {
                                        benign++;
                                        continue;
                                }
                                fprintf(stderr, "%s: allocation %ld failed (%s) but the run succeeded\n",
                                        name, n + 1, persistent ? "and all after it" : "only it");
                                return -1;
                        }
                }
                printf("%s: %s: %ld allocations, each failure gave an error\n", name,
                       persistent ? "fail the Nth and after" : "fail the Nth", n);
        }
        if (benign > 0)
                printf("%s: %lu failures inside SQLite were absorbed by it (results checked)\n", name,
                       benign);
        return 0;
}

int main(void) {
        int failed = 0;

        sqlite_hook();
        /* tmpfs if there is one: jobs.db fsyncs every commit, thousands of times here. */
        snprintf(db_dir, sizeof(db_dir), "%s/test-alloc-fail-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(db_dir))
                return EXIT_FAILURE;
        snprintf(db_path, sizeof(db_path), "%s/jobs.db", db_dir);

        failed |= sweep("decoder+server", NULL, scenario_decoder, false) < 0;
        failed |= sweep("client core", NULL, scenario_client, false) < 0;
        failed |= sweep("jobd queue", queue_prepare, scenario_queue, true) < 0;

        db_remove();
        {
                char t[160];
                snprintf(t, sizeof(t), "%s/template.db", db_dir);
                (void) unlink(t);
        }
        (void) rmdir(db_dir);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
