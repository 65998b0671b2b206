/* l4d2ctl's host commands (the host service, left4me-hostd):
 *
 *   install                        install/update the game (streams steamcmd's output)
 *   initialize NAME -f SPEC.yaml   validate a spec and write the instance's files ("-" = stdin)
 *   start|stop|delete|reset NAME   control an instance's server unit
 *   status NAME [--json]           the unit's and the game's state
 *   spec NAME [--json]             the instance's stored spec.yaml
 *   list [--json]                  status of every instance
 *   overlay build ID -f SCRIPT     run SCRIPT in the build sandbox over overlays/ID ("-" = stdin)
 *   overlay delete ID              remove overlays/ID
 *
 * install, start, stop, delete, reset and overlay build take --queue: they then submit a job
 * to the job service (left4me-jobd) and follow it to its end instead of calling hostd (exit
 * 0 succeeded, 1 failed, 9 cancelled; Ctrl-C stops watching, the job goes on: exit 130).
 * "start NAME --queue -f SPEC" initializes and starts in one job; without -f the instance's
 * current spec.yaml is fetched from hostd (instance.spec) and submitted again.
 *
 * Every top-level name above but "overlay" dispatches to cmd_host(); argv[0] says which.
 * "overlay" dispatches to cmd_overlay(). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "cli/cli.h"
#include "base/util.h"
#include "proto/a2s.h"
#include "proto/utf8.h"
#include "proto/client.h"
#include "proto/map.h"
#include "proto/names.h"
#include "proto/rpc.h"

int cmd_host(int argc, char **argv, const struct cli_ctx *ctx);
int cmd_overlay(int argc, char **argv, const struct cli_ctx *ctx);
int cli_jobs_submit_and_watch(const struct cli_ctx *ctx, const char *kind, ...); /* cli/cmd-jobs.c */

#define SPEC_FILE_MAX (1024 * 1024)
/* start/stop wait for the systemd job (hostd gives up after 120 s). */
#define UNIT_TIMEOUT_MS 150000

/* ---- small msgpack readers -------------------------------------------------------------- */

static const char *get_str(const msgpack_object *map, const char *key, int *ret_len) {
        const msgpack_object *v = map ? rpc_map_get(map, key) : NULL;

        if (!v || v->type != MSGPACK_OBJECT_STR) {
                *ret_len = 0;
                return NULL;
        }
        *ret_len = (int) MIN(v->via.str.size, 4096u);
        return v->via.str.ptr;
}

static bool get_uint(const msgpack_object *map, const char *key, uint64_t *ret) {
        const msgpack_object *v = map ? rpc_map_get(map, key) : NULL;

        if (!v || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return false;
        *ret = v->via.u64;
        return true;
}

static bool get_bool(const msgpack_object *map, const char *key) {
        const msgpack_object *v = map ? rpc_map_get(map, key) : NULL;
        return v && v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean;
}

#define S(map, key, out_len) get_str((map), (key), &(out_len))

/* ---- usage ------------------------------------------------------------------------------ */

#define QUEUE_HELP                                                                                          \
        "With --queue the operation becomes a job of the job service (left4me-jobd): it waits\n"            \
        "for conflicting jobs (an install, a build of an overlay the server uses, another job on\n"         \
        "the same server), its output is followed until it ends, and the exit status is 0\n"                \
        "succeeded, 1 failed, 9 cancelled. Ctrl-C then only stops watching: the job goes on\n"              \
        "('l4d2ctl jobs watch ID' follows it again, 'l4d2ctl jobs cancel ID' cancels it).\n"

static int usage(const char *cmd) {
        if (streq(cmd, "install"))
                printf("Usage: l4d2ctl install [--queue] [--json]\n\n"
                       "Installs or updates the game with steamcmd (windows, then linux payloads), "
                       "streaming\n"
                       "its output. Ctrl-C cancels (the host kills steamcmd).\n\n" QUEUE_HELP);
        else if (streq(cmd, "start"))
                printf("Usage: l4d2ctl start NAME [--json]\n"
                       "       l4d2ctl start NAME --queue [-f SPEC.yaml] [--json]\n\n"
                       "Enables and starts the instance's server unit and waits for systemd's job.\n\n"
                       "With --queue -f SPEC.yaml one job initializes the instance with SPEC ('-' = stdin)\n"
                       "and starts it; it also waits for builds of the overlays SPEC uses. Without -f\n"
                       "the instance's current spec (what 'l4d2ctl spec NAME' prints) is submitted again.\n"
                       "\n" QUEUE_HELP);
        else if (streq(cmd, "stop") || streq(cmd, "delete") || streq(cmd, "reset"))
                printf("Usage: l4d2ctl %s NAME [--queue] [--json]\n\n%s\n\n" QUEUE_HELP, cmd,
                       streq(cmd, "stop")     ? "Disables and stops the instance's server unit."
                       : streq(cmd, "delete") ? "Stops the instance and removes its files."
                                              : "Stops the instance and wipes its files (the next start "
                                                "re-initializes).");
        else if (streq(cmd, "initialize"))
                printf("Usage: l4d2ctl initialize NAME -f SPEC.yaml [--json]\n\n"
                       "Validates the instance spec (port, overlays, arguments, config) and writes\n"
                       "/var/lib/left4me/instances/NAME/. '-f -' reads the spec from stdin.\n");
        else if (streq(cmd, "status"))
                printf("Usage: l4d2ctl status NAME [--json]\n\n"
                       "Shows the server unit's state, the overlay mount and the game's A2S answer.\n");
        else if (streq(cmd, "spec"))
                printf("Usage: l4d2ctl spec NAME [--json]\n\n"
                       "Prints the instance's stored spec (the YAML given to initialize), as it is.\n");
        else if (streq(cmd, "list"))
                printf("Usage: l4d2ctl list [--json]\n\nShows every instance.\n");
        else
                printf("Usage: l4d2ctl %s NAME [--json]\n", cmd);
        return EXIT_OK;
}

/* ---- install ---------------------------------------------------------------------------- */

static int on_install_notify(const msgpack_object *payload, void *userdata) {
        const bool *json = userdata;
        int sl, ll;
        const char *stream = S(payload, "stream", sl), *line = S(payload, "line", ll);

        if (*json) {
                cli_print_json(payload);
                fflush(stdout);
                return 0;
        }
        if (!line)
                return 0;
        if (stream && sl == 6 && strneq(stream, "stderr", 6))
                fprintf(stderr, "%.*s\n", ll, line);
        else if (stream && sl == 4 && strneq(stream, "step", 4))
                printf("==> %.*s\n", ll, line);
        else
                printf("%.*s\n", ll, line);
        fflush(stdout);
        return 0;
}

static int do_install(const struct cli_ctx *ctx, struct rpc_client *c, bool json) {
        struct cli_ctx lctx = *ctx;
        struct rpc_reply reply;
        int r;

        lctx.timeout_ms = -1; /* steamcmd can be silent for minutes while it validates */
        r = cli_call(&lctx, c, "game.install", NULL, on_install_notify, &json, &reply);
        if (r > 0)
                return r;
        if (json)
                cli_print_json(reply.result);
        else
                printf("installation complete\n");
        rpc_reply_done(&reply);
        return EXIT_OK;
}

/* ---- initialize ------------------------------------------------------------------------- */

/* The params {key: name, text_key: text} of instance.initialize and overlay.build into a fresh
 * b. Returns 0, or EXIT_FAILED with b freed. */
/* base: overlay.build's base, or NULL to leave it out. */
static int pack_named_text(struct rpc_buf *b, const char *key, const char *name, const char *text_key,
                           const char *text, size_t len, const char *base) {
        struct rpc_map map;
        msgpack_packer *mpk;

        rpc_buf_init(b, 0);
        mpk = rpc_params_begin(&map, &b->pk);
        rpc_pack_kv_str(mpk, key, name);
        rpc_pack_key(mpk, text_key);
        rpc_pack_strn(mpk, text, len);
        if (base)
                rpc_pack_kv_str(mpk, "base", base);
        if (rpc_map_end(&map) < 0 || !rpc_buf_ok(b)) {
                rpc_buf_done(b);
                return EXIT_FAILED;
        }
        return 0;
}

static int read_spec(const char *path, char **ret, size_t *ret_len) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t n;

        if (streq(path, "-"))
                f = fdopen(dup(STDIN_FILENO), "r");
        else
                f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "l4d2ctl: cannot open '%s': %s\n", path, strerror(errno));
                return EXIT_FAILED;
        }
        buf = malloc(SPEC_FILE_MAX + 1);
        if (!buf)
                return EXIT_FAILED;
        n = fread(buf, 1, SPEC_FILE_MAX + 1, f);
        if (ferror(f)) {
                fprintf(stderr, "l4d2ctl: cannot read '%s': %s\n", path, strerror(errno));
                return EXIT_FAILED;
        }
        if (n > SPEC_FILE_MAX) {
                fprintf(stderr, "l4d2ctl: '%s' is larger than 1 MiB\n", path);
                return EXIT_INVALID;
        }
        buf[n] = 0; /* room for it: the buffer holds SPEC_FILE_MAX + 1 bytes */
        *ret = TAKE_PTR(buf);
        *ret_len = n;
        return 0;
}

static int do_initialize(const struct cli_ctx *ctx, struct rpc_client *c, const char *name, const char *file,
                         bool json) {
        _cleanup_free_ char *spec = NULL;
        struct rpc_buf b;
        struct rpc_reply reply;
        size_t len = 0;
        uint64_t port = 0, overlays = 0;
        int r;

        r = read_spec(file, &spec, &len);
        if (r > 0)
                return r;
        r = pack_named_text(&b, "name", name, "spec", spec, len, NULL);
        if (r > 0)
                return r;
        r = cli_call(ctx, c, "instance.initialize", &b, NULL, NULL, &reply);
        rpc_buf_done(&b);
        if (r > 0)
                return r;
        if (json)
                cli_print_json(reply.result);
        else {
                (void) get_uint(reply.result, "port", &port);
                (void) get_uint(reply.result, "overlays", &overlays);
                printf("initialized %s (port %" PRIu64 ", %" PRIu64 " overlay%s)\n", name, port, overlays,
                       overlays == 1 ? "" : "s");
        }
        rpc_reply_done(&reply);
        return EXIT_OK;
}

/* ---- start / stop / delete / reset ------------------------------------------------------ */

/* Calls a method whose only argument is one string (a name or an id). */
static int call_one(const struct cli_ctx *ctx, struct rpc_client *c, const char *method, const char *key,
                    const char *value, struct rpc_reply *reply) {
        struct rpc_buf b;
        int r;

        rpc_buf_init(&b, 0);
        struct rpc_map map;
        msgpack_packer *mpk = rpc_params_begin(&map, &b.pk);
        rpc_pack_kv_str(mpk, key, value);
        (void) rpc_map_end(&map);
        r = cli_call(ctx, c, method, &b, NULL, NULL, reply);
        rpc_buf_done(&b);
        return r;
}

static int do_unit(const struct cli_ctx *ctx, struct rpc_client *c, const char *cmd, const char *name,
                   bool json) {
        struct cli_ctx lctx = *ctx;
        char method[64];
        struct rpc_reply reply;
        int r;

        if (lctx.timeout_ms >= 0 && lctx.timeout_ms < UNIT_TIMEOUT_MS)
                lctx.timeout_ms = UNIT_TIMEOUT_MS;
        snprintf(method, sizeof(method), "instance.%s", cmd);
        r = call_one(&lctx, c, method, "name", name, &reply);
        if (r > 0)
                return r;
        if (json)
                cli_print_json(reply.result);
        else if (streq(cmd, "delete") || streq(cmd, "reset"))
                printf("%s %s%s\n", streq(cmd, "delete") ? "deleted" : "reset", name,
                       get_bool(reply.result, "existed") ? "" : " (nothing was there)");
        else
                printf("%s %s\n", streq(cmd, "start") ? "started" : "stopped", name);
        rpc_reply_done(&reply);
        return EXIT_OK;
}

/* ---- status / list ---------------------------------------------------------------------- */

static void format_since(uint64_t usec, char *buf, size_t len) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;

        if (!usec || !localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S %Z", &tm))
                snprintf(buf, len, "-");
}

/* What the game says about itself, asked by l4d2ctl on loopback (hostd parses nothing the
 * game sends): only for a running unit with a port. */
#define A2S_TIMEOUT_MS 300

struct game_answer {
        bool asked, have;
        struct a2s_info info;
        char error[64];
};

/* A string the game sent, fit for a terminal: valid UTF-8, control characters as '?'. */
static void game_text(const char *in, char *out, size_t size) {
        size_t n = utf8_sanitize(in, strnlen(in, A2S_STRING_MAX), out, size - 1, NULL);

        out[n] = 0;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) out[i] < 0x20 || out[i] == 0x7f)
                        out[i] = '?';
}

static void ask_game(const msgpack_object *s, struct game_answer *g) {
        uint64_t port = 0;
        int la, r;
        const char *as = S(s, "active_state", la);

        *g = (struct game_answer){};
        if (!as || la != 6 || memcmp(as, "active", 6) != 0 || !get_uint(s, "port", &port) || port == 0 ||
            port > 65535)
                return;
        g->asked = true;
        r = a2s_query_info("127.0.0.1", (uint16_t) port, A2S_TIMEOUT_MS, &g->info);
        if (r >= 0) {
                g->have = true;
                return;
        }
        snprintf(g->error, sizeof(g->error), "%s",
                 r == -ETIMEDOUT      ? "no answer within 300 ms"
                 : r == -ECONNREFUSED ? "nothing listens on the port"
                 : r == -EBADMSG      ? "a malformed answer"
                                      : strerror(-r));
}

/* The status as hostd sent it, plus a2s and a2s_error, as JSON. */
static void print_status_json(const msgpack_object *s, const struct game_answer *g) {
        msgpack_unpacked u;
        struct rpc_buf b;
        uint32_t n = s->type == MSGPACK_OBJECT_MAP ? s->via.map.size : 0;

        rpc_buf_init(&b, 0);
        msgpack_pack_map(&b.pk, n + 2);
        for (uint32_t i = 0; i < n; i++) {
                msgpack_pack_object(&b.pk, s->via.map.ptr[i].key);
                msgpack_pack_object(&b.pk, s->via.map.ptr[i].val);
        }
        rpc_pack_key(&b.pk, "a2s");
        if (g->have) {
                const struct a2s_info *i = &g->info;
                msgpack_pack_map(&b.pk, 9);
                rpc_pack_kv_str(&b.pk, "name", i->name);
                rpc_pack_kv_str(&b.pk, "map", i->map);
                rpc_pack_kv_str(&b.pk, "game", i->game);
                rpc_pack_kv_str(&b.pk, "version", i->version);
                rpc_pack_kv_uint(&b.pk, "players", i->players);
                rpc_pack_kv_uint(&b.pk, "max_players", i->max_players);
                rpc_pack_kv_uint(&b.pk, "bots", i->bots);
                rpc_pack_kv_bool(&b.pk, "password", i->visibility != 0);
                rpc_pack_kv_bool(&b.pk, "vac", i->vac != 0);
        } else
                msgpack_pack_nil(&b.pk);
        if (g->error[0])
                rpc_pack_kv_str(&b.pk, "a2s_error", g->error);
        else
                rpc_pack_kv_nil(&b.pk, "a2s_error");
        msgpack_unpacked_init(&u);
        if (rpc_buf_ok(&b) && msgpack_unpack_next(&u, b.data, b.len, NULL) == MSGPACK_UNPACK_SUCCESS)
                cli_print_json(&u.data);
        else
                cli_print_json(s);
        msgpack_unpacked_destroy(&u);
        rpc_buf_done(&b);
}

static void print_status(const msgpack_object *s, const struct game_answer *g) {
        int l1, l2, l3, l4, l5, l6;
        const char *name = S(s, "name", l1), *state = S(s, "state", l2), *as = S(s, "active_state", l3),
                   *ss = S(s, "sub_state", l4), *unit = S(s, "unit", l5), *ufs = S(s, "unit_file_state", l6);
        uint64_t v;
        char since[64];
        int le, li;
        const char *err = S(s, "systemd_error", le), *inv = S(s, "invocation_id", li);

        printf("%.*s: %.*s", l1, name ?: "", l2, state ?: "?");
        if (as)
                printf(" (%.*s/%.*s)", l3, as, l4, ss ?: "");
        if (get_uint(s, "since_usec", &v)) {
                format_since(v, since, sizeof(since));
                printf(" since %s", since);
        }
        printf("\n");
        printf("  unit      %.*s", l5, unit ?: "");
        if (ufs)
                printf(" (%.*s)", l6, ufs);
        if (get_uint(s, "main_pid", &v))
                printf(", main pid %" PRIu64, v);
        if (inv)
                printf(", invocation %.*s", li, inv);
        printf("\n");
        if (err)
                printf("  systemd   %.*s\n", le, err);
        printf("  files     %s", get_bool(s, "initialized") ? "initialized" : "not initialized");
        if (get_uint(s, "port", &v))
                printf(", port %" PRIu64, v);
        printf(", overlay %s\n", get_bool(s, "mounted") ? "mounted" : "not mounted");
        if (get_uint(s, "memory_bytes", &v))
                printf("  memory    %.1f MiB", (double) v / (1024.0 * 1024.0));
        else
                printf("  memory    -");
        if (get_uint(s, "cpu_usec", &v))
                printf(", cpu %.1f s", (double) v / 1e6);
        if (get_uint(s, "restarts", &v))
                printf(", restarts %" PRIu64, v);
        printf("\n");
        if (g->have) {
                char hostname[A2S_STRING_MAX], map[A2S_STRING_MAX];
                /* The game's strings are the game's: no control characters on our terminal. */
                game_text(g->info.name, hostname, sizeof(hostname));
                game_text(g->info.map, map, sizeof(map));
                printf("  game      map %s, %u/%u players, %u bots, \"%s\"\n", map, g->info.players,
                       g->info.max_players, g->info.bots, hostname);
        } else if (g->asked)
                printf("  game      no A2S answer: %s\n", g->error);
}

static int do_status(const struct cli_ctx *ctx, struct rpc_client *c, const char *name, bool json) {
        struct rpc_reply reply;
        int r;

        r = call_one(ctx, c, "instance.status", "name", name, &reply);
        if (r > 0)
                return r;
        {
                struct game_answer g;
                ask_game(reply.result, &g);
                if (json)
                        print_status_json(reply.result, &g);
                else
                        print_status(reply.result, &g);
        }
        rpc_reply_done(&reply);
        return EXIT_OK;
}

/* The stored spec of an instance (instance.spec): *ret is NUL-terminated. */
static int fetch_spec(const struct cli_ctx *ctx, struct rpc_client *c, const char *name, char **ret,
                      size_t *ret_len, struct rpc_reply *ret_reply) {
        const msgpack_object *v;
        int r;

        r = call_one(ctx, c, "instance.spec", "name", name, ret_reply);
        if (r > 0)
                return r;
        v = rpc_map_get(ret_reply->result, "spec");
        if (!v || (v->type != MSGPACK_OBJECT_STR && v->type != MSGPACK_OBJECT_BIN)) {
                fprintf(stderr, "l4d2ctl: instance.spec: the answer has no spec\n");
                rpc_reply_done(ret_reply);
                return EXIT_FAILED;
        }
        *ret = malloc(v->via.str.size + 1);
        if (*ret) {
                memcpy(*ret, v->via.str.ptr, v->via.str.size);
                (*ret)[v->via.str.size] = 0;
        } else {
                rpc_reply_done(ret_reply);
                return EXIT_FAILED;
        }
        *ret_len = v->via.str.size;
        return 0;
}

static int do_spec(const struct cli_ctx *ctx, struct rpc_client *c, const char *name, bool json) {
        _cleanup_free_ char *spec = NULL;
        struct rpc_reply reply;
        size_t len = 0;
        int r;

        r = fetch_spec(ctx, c, name, &spec, &len, &reply);
        if (r > 0)
                return r;
        if (json)
                cli_print_json(reply.result);
        else if (fwrite(spec, 1, len, stdout) != len || fflush(stdout) != 0) {
                rpc_reply_done(&reply);
                return EXIT_FAILED;
        }
        rpc_reply_done(&reply);
        return EXIT_OK;
}

static int do_list(const struct cli_ctx *ctx, struct rpc_client *c, bool json) {
        struct rpc_reply reply;
        int r;

        r = cli_call(ctx, c, "instance.list", NULL, NULL, NULL, &reply);
        if (r > 0)
                return r;
        if (json)
                cli_print_json(reply.result);
        else if (reply.result->type == MSGPACK_OBJECT_ARRAY) {
                printf("%-20s %-9s %-6s %-7s %-24s %s\n", "NAME", "STATE", "PORT", "MOUNTED", "MAP",
                       "PLAYERS");
                for (uint32_t i = 0; i < reply.result->via.array.size; i++) {
                        const msgpack_object *s = &reply.result->via.array.ptr[i];
                        const msgpack_object *a2s = rpc_map_get(s, "a2s");
                        int ln, ls, lm = 1;
                        const char *n = S(s, "name", ln), *st = S(s, "state", ls), *map = "-";
                        char port[16] = "-", players[32] = "-";
                        uint64_t v, mp = 0;

                        if (get_uint(s, "port", &v))
                                snprintf(port, sizeof(port), "%" PRIu64, v);
                        if (a2s && a2s->type == MSGPACK_OBJECT_MAP) {
                                map = S(a2s, "map", lm) ?: "-";
                                if (get_uint(a2s, "players", &v) && get_uint(a2s, "max_players", &mp))
                                        snprintf(players, sizeof(players), "%" PRIu64 "/%" PRIu64, v, mp);
                        }
                        printf("%-20.*s %-9.*s %-6s %-7s %-24.*s %s\n", ln, n ?: "", ls, st ?: "", port,
                               get_bool(s, "mounted") ? "yes" : "no", lm, map, players);
                }
        }
        rpc_reply_done(&reply);
        return EXIT_OK;
}

/* ---- --queue: the same operations as jobs of left4me-jobd -------------------------------- */

/* Ctrl-C while following a job: the job is durable work of the job service and goes on; say
 * so and how to get it back (async-signal-safe: write + _exit). */
static void on_sigint_queued(int sig) {
        static const char msg[] = "\nl4d2ctl: stopped watching; the job goes on in the job service. "
                                  "Follow it again with 'l4d2ctl jobs watch ID' or cancel it with "
                                  "'l4d2ctl jobs cancel ID' (ID: as printed above, or see 'l4d2ctl jobs "
                                  "list').\n";
        (void) sig;
        (void) !write(STDERR_FILENO, msg, sizeof(msg) - 1);
        _exit(128 + SIGINT);
}

/* Before following a job: line-buffered stdout, so "job N queued" is out before the job sends
 * anything (it may wait long) and nothing is lost to the _exit of a Ctrl-C; then the handler. */
static void queue_prepare(void) {
        struct sigaction sa = {.sa_handler = on_sigint_queued};

        (void) setvbuf(stdout, NULL, _IOLBF, 0);
        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGINT, &sa, NULL);
}

/* Appends the overlay id of ref (its first path component, if that is a valid overlay id
 * that is not listed yet) to the comma-separated list. */
static void overlays_add(char *list, size_t size, const char *ref, size_t ref_len) {
        const char *slash = memchr(ref, '/', ref_len);
        size_t n = slash ? (size_t) (slash - ref) : ref_len, len = strlen(list);

        if (!name_is_valid_n(ref, n))
                return;
        for (const char *p = list; *p;) {
                const char *comma = strchrnul(p, ',');
                if ((size_t) (comma - p) == n && strneq(p, ref, n))
                        return;
                p = *comma ? comma + 1 : comma;
        }
        if (len + !!len + n + 1 > size)
                return;
        snprintf(list + len, size - len, "%s%.*s", len ? "," : "", (int) n, ref);
}

static const yaml_node_t *yaml_map_get(yaml_document_t *d, const yaml_node_t *map, const char *key) {
        if (!map || map->type != YAML_MAPPING_NODE)
                return NULL;
        for (const yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
             p++) {
                const yaml_node_t *k = yaml_document_get_node(d, p->key);
                if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == strlen(key) &&
                    memcmp(k->data.scalar.value, key, k->data.scalar.length) == 0)
                        return yaml_document_get_node(d, p->value);
        }
        return NULL;
}

/* The overlay ids a spec uses ("a,b"; "" for none): the first path component of each
 * `overlays` ref, as far as it names an overlay that `overlay build` can make. They become
 * the job's shared overlay:<id> keys, so the start waits for builds of them. hostd validates
 * the spec itself: a spec that does not parse here just gets no overlay keys. */
static char *spec_overlay_ids(const char *spec, size_t len) {
        yaml_parser_t parser;
        yaml_document_t doc;
        const yaml_node_t *seq;
        size_t size = 64 * 66;
        char *list = calloc(1, size);

        if (!list)
                return NULL;
        if (!yaml_parser_initialize(&parser))
                return list;
        yaml_parser_set_input_string(&parser, (const unsigned char *) spec, len);
        if (!yaml_parser_load(&parser, &doc)) {
                yaml_parser_delete(&parser);
                return list;
        }
        seq = yaml_map_get(&doc, yaml_document_get_root_node(&doc), "overlays");
        for (const yaml_node_item_t *i =
                     seq && seq->type == YAML_SEQUENCE_NODE ? seq->data.sequence.items.start : NULL;
             i && i < seq->data.sequence.items.top; i++) {
                const yaml_node_t *item = yaml_document_get_node(&doc, *i);
                if (item && item->type == YAML_MAPPING_NODE)
                        item = yaml_map_get(&doc, item, "path");
                if (item && item->type == YAML_SCALAR_NODE)
                        overlays_add(list, size, (const char *) item->data.scalar.value,
                                     item->data.scalar.length);
        }
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        return list;
}

/* The spec for "start NAME --queue" without -f: the one hostd stored at initialize
 * (instance.spec; any member of group left4me may read it). */
static int read_instance_spec(const struct cli_ctx *ctx, const char *name, char **ret, size_t *ret_len) {
        _cleanup_(rpc_client_freep) struct rpc_client *c = NULL;
        struct rpc_reply reply;
        int r;

        r = cli_connect(ctx, "host", &c);
        if (r > 0)
                return r;
        r = fetch_spec(ctx, c, name, ret, ret_len, &reply);
        if (r == EXIT_NOT_FOUND)
                fprintf(stderr, "l4d2ctl: start --queue: give the spec with -f SPEC.yaml\n");
        if (r > 0)
                return r;
        rpc_reply_done(&reply);
        return 0;
}

static int queue_start(const struct cli_ctx *ctx, const char *name, const char *file) {
        _cleanup_free_ char *spec = NULL, *overlays = NULL;
        size_t len = 0;
        int r;

        r = file ? read_spec(file, &spec, &len) : read_instance_spec(ctx, name, &spec, &len);
        if (r > 0)
                return r;
        if (memchr(spec, 0, len)) {
                fprintf(stderr, "l4d2ctl: start: the spec contains a NUL byte\n");
                return EXIT_INVALID;
        }
        overlays = spec_overlay_ids(spec, len);
        if (!overlays)
                return EXIT_FAILED;
        queue_prepare();
        /* No overlays: the NULL in the key's place ends the list. */
        return cli_jobs_submit_and_watch(ctx, "server.start", "server", name, "spec", spec,
                                         overlays[0] ? "overlays" : NULL, overlays, NULL);
}

/* install, stop, delete, reset through the job service. stop/delete/reset carry no overlay
 * ids: they do not read overlays, so they need not wait for builds. */
static int queue_simple(const struct cli_ctx *ctx, const char *cmd, const char *name) {
        char kind[32];

        queue_prepare();
        if (streq(cmd, "install"))
                return cli_jobs_submit_and_watch(ctx, "install", NULL);
        snprintf(kind, sizeof(kind), "server.%s", cmd);
        return cli_jobs_submit_and_watch(ctx, kind, "server", name, NULL);
}

/* ---- dispatch --------------------------------------------------------------------------- */

int cmd_host(int argc, char **argv, const struct cli_ctx *ctx) {
        static const struct option options[] = {{"json", no_argument, NULL, 'j'},
                                                {"file", required_argument, NULL, 'f'},
                                                {"queue", no_argument, NULL, 'q'},
                                                {"help", no_argument, NULL, 'h'},
                                                {}};
        _cleanup_(rpc_client_freep) struct rpc_client *c = NULL;
        const char *cmd = argv[0], *file = NULL, *name = NULL;
        bool json = ctx->json, wants_name, queue = false;
        struct cli_ctx qctx = *ctx;
        int opt, r;

        optind = 0; /* full re-initialisation: main() parsed its own options in '+' mode */
        while ((opt = getopt_long(argc, argv, "jf:qh", options, NULL)) >= 0)
                switch (opt) {
                case 'j':
                        json = true;
                        break;
                case 'f':
                        file = optarg;
                        break;
                case 'q':
                        queue = true;
                        break;
                case 'h':
                        return usage(cmd);
                default:
                        return EXIT_USAGE;
                }
        wants_name = !streq(cmd, "install") && !streq(cmd, "list");
        if (wants_name) {
                if (optind + 1 != argc)
                        return cli_usage("%s: expected one instance NAME", cmd);
                name = argv[optind];
        } else if (optind != argc)
                return cli_usage("%s: takes no arguments", cmd);
        if (queue) {
                if (!streq(cmd, "install") && !streq(cmd, "start") && !streq(cmd, "stop") &&
                    !streq(cmd, "delete") && !streq(cmd, "reset"))
                        return cli_usage("%s: --queue is only for install, start, stop, delete, reset "
                                         "and overlay build",
                                         cmd);
                if (file && !streq(cmd, "start"))
                        return cli_usage("%s: -f is only for initialize and start --queue", cmd);
                qctx.json = json;
                if (streq(cmd, "start"))
                        return queue_start(&qctx, name, file);
                return queue_simple(&qctx, cmd, name);
        }
        if (streq(cmd, "initialize") && !file)
                return cli_usage("initialize: -f SPEC.yaml is required ('-' for stdin)");
        if (file && streq(cmd, "start"))
                return cli_usage("start: -f (initialize and start in one go) needs --queue; or run "
                                 "'initialize NAME -f SPEC' first");
        if (file && !streq(cmd, "initialize"))
                return cli_usage("%s: -f is only for initialize and start --queue", cmd);

        r = cli_connect(ctx, "host", &c);
        if (r > 0)
                return r;
        if (streq(cmd, "install"))
                return do_install(ctx, c, json);
        if (streq(cmd, "initialize"))
                return do_initialize(ctx, c, name, file, json);
        if (streq(cmd, "status"))
                return do_status(ctx, c, name, json);
        if (streq(cmd, "spec"))
                return do_spec(ctx, c, name, json);
        if (streq(cmd, "list"))
                return do_list(ctx, c, json);
        return do_unit(ctx, c, cmd, name, json);
}

/* ---- overlay build / delete --------------------------------------------------------------- */

#define SCRIPT_FILE_MAX (1024 * 1024)

static int overlay_usage(void) {
        printf("Usage: l4d2ctl overlay build ID -f SCRIPT [--from-current] [--queue] [--json]\n"
               "       l4d2ctl overlay delete ID [--json]\n"
               "       l4d2ctl overlay list [--json]\n\n"
               "build runs SCRIPT (bash; '-f -' reads it from stdin) in the build sandbox: a transient\n"
               "systemd service as a build user that can write /overlay (a new generation of ID) and\n"
               "nothing else; it becomes overlays/ID only if the build succeeds, and a running server\n"
               "keeps the generation it started with until it is restarted. The new generation starts\n"
               "empty, or with --from-current as the current one (its files hardlinked and read-only\n"
               "to the build: replace a file with rm and a new one, never edit it in place; the old\n"
               "generation never changes). Its output is shown as\n"
               "it comes; Ctrl-C stops it. Exit status: 0 success,\n"
               "1 the script failed or ran out of memory, 8 killed at sandbox.runtime_max_sec,\n"
               "9 cancelled, 5 a build of ID is running already.\n"
               "delete removes overlays/ID with all its generations (refused while it is being built\n"
               "or a mounted server uses it: exit status 5, the servers named).\n"
               "list shows the current generation of every overlay and when it was built.\n\n"
               "build --queue submits an overlay.build job to the job service instead: it waits for\n"
               "running jobs of servers that use ID (and they wait for it); an identical build that\n"
               "is still queued is joined, not queued twice. Exit status 0 succeeded, 1 failed\n"
               "(also timeout, oom), 9 cancelled; Ctrl-C stops watching and the job goes on.\n");
        return EXIT_OK;
}

static int do_overlay_build(const struct cli_ctx *ctx, struct rpc_client *c, const char *id,
                            const char *file, bool from_current, bool json) {
        struct cli_ctx lctx = *ctx;
        _cleanup_free_ char *script = NULL;
        struct rpc_buf b;
        struct rpc_reply reply;
        size_t len = 0;
        int64_t code = -1;
        const msgpack_object *ec;
        char result[32] = "?", why[320] = "";
        int r, rl, el;
        const char *res, *err;

        r = read_spec(file, &script, &len); /* same limits: 1 MiB of text */
        if (r > 0)
                return r;
        r = pack_named_text(&b, "id", id, "script", script, len, from_current ? OVERLAY_BASE_CURRENT : NULL);
        if (r > 0)
                return r;
        lctx.timeout_ms = -1; /* a build may be silent for as long as its walltime allows */
        r = cli_call(&lctx, c, "overlay.build", &b, on_install_notify, &json, &reply);
        rpc_buf_done(&b);
        if (r > 0)
                return r;
        res = S(reply.result, "result", rl);
        if (res)
                snprintf(result, sizeof(result), "%.*s", rl, res);
        err = S(reply.result, "error", el);
        if (err)
                snprintf(why, sizeof(why), ": %.*s", MIN(el, 300), err);
        ec = rpc_map_get(reply.result, "exit_code");
        if (ec && ec->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                code = (int64_t) ec->via.u64;
        else if (ec && ec->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                code = ec->via.i64;
        if (json)
                cli_print_json(reply.result);
        else if (code >= 0)
                printf("build of %s: %s (exit code %" PRId64 ")%s\n", id, result, code, why);
        else
                printf("build of %s: %s%s\n", id, result, why);
        rpc_reply_done(&reply);
        if (streq(result, "success"))
                return EXIT_OK;
        if (streq(result, "timeout"))
                return EXIT_TIMEOUT;
        if (streq(result, "cancelled"))
                return EXIT_CANCELLED;
        return EXIT_FAILED;
}

/* overlay build --queue: an overlay.build job (it waits for running jobs of servers that use
 * the overlay; an identical build already queued is joined rather than queued twice). */
static int queue_overlay_build(const struct cli_ctx *ctx, const char *id, const char *file,
                               bool from_current, bool json) {
        struct cli_ctx qctx = *ctx;
        _cleanup_free_ char *script = NULL;
        size_t len = 0;
        int r;

        r = read_spec(file, &script, &len);
        if (r > 0)
                return r;
        if (memchr(script, 0, len)) {
                fprintf(stderr, "l4d2ctl: overlay build: the script contains a NUL byte\n");
                return EXIT_INVALID;
        }
        qctx.json = json;
        queue_prepare();
        if (from_current)
                return cli_jobs_submit_and_watch(&qctx, "overlay.build", "overlay", id, "script", script,
                                                 "base", OVERLAY_BASE_CURRENT, NULL);
        return cli_jobs_submit_and_watch(&qctx, "overlay.build", "overlay", id, "script", script, NULL);
}

static int do_overlay_delete(const struct cli_ctx *ctx, struct rpc_client *c, const char *id, bool json) {
        struct rpc_reply reply;
        int r;

        r = call_one(ctx, c, "overlay.delete", "id", id, &reply);
        if (r > 0)
                return r;
        if (json)
                cli_print_json(reply.result);
        else
                printf("deleted overlay %s%s\n", id,
                       get_bool(reply.result, "existed") ? "" : " (nothing was there)");
        rpc_reply_done(&reply);
        return EXIT_OK;
}

static int do_overlay_list(const struct cli_ctx *ctx, struct rpc_client *c, bool json) {
        struct rpc_reply reply;
        int r;

        r = cli_call(ctx, c, "overlay.list", NULL, NULL, NULL, &reply);
        if (r > 0)
                return r;
        if (json)
                cli_print_json(reply.result);
        else if (reply.result->type == MSGPACK_OBJECT_ARRAY) {
                printf("%-32s %10s  %s\n", "ID", "GENERATION", "BUILT");
                for (uint32_t i = 0; i < reply.result->via.array.size; i++) {
                        const msgpack_object *o = &reply.result->via.array.ptr[i];
                        char built[32] = "-";
                        uint64_t g = 0, us = 0;
                        int ln;
                        const char *id = S(o, "id", ln);

                        (void) get_uint(o, "generation", &g);
                        if (get_uint(o, "built_usec", &us) && us > 0) {
                                time_t t = (time_t) (us / 1000000ULL);
                                struct tm tm;
                                if (localtime_r(&t, &tm))
                                        strftime(built, sizeof(built), "%Y-%m-%d %H:%M:%S", &tm);
                        }
                        printf("%-32.*s %10" PRIu64 "  %s\n", ln, id ?: "", g, built);
                }
        }
        rpc_reply_done(&reply);
        return EXIT_OK;
}

int cmd_overlay(int argc, char **argv, const struct cli_ctx *ctx) {
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},  {"file", required_argument, NULL, 'f'},
                {"queue", no_argument, NULL, 'q'}, {"from-current", no_argument, NULL, 'C'},
                {"help", no_argument, NULL, 'h'},  {}};
        _cleanup_(rpc_client_freep) struct rpc_client *c = NULL;
        const char *file = NULL, *sub, *id;
        bool json = ctx->json, queue = false, from_current = false;
        int opt, r;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "jf:qh", options, NULL)) >= 0)
                switch (opt) {
                case 'j':
                        json = true;
                        break;
                case 'f':
                        file = optarg;
                        break;
                case 'q':
                        queue = true;
                        break;
                case 'C':
                        from_current = true;
                        break;
                case 'h':
                        return overlay_usage();
                default:
                        return EXIT_USAGE;
                }
        if (optind >= argc)
                return cli_usage("overlay: expected 'build ID -f SCRIPT', 'delete ID' or 'list'");
        sub = argv[optind];
        if (streq(sub, "list")) {
                if (optind + 1 != argc || file || queue)
                        return cli_usage("overlay list: takes no arguments but --json");
                r = cli_connect(ctx, "host", &c);
                if (r > 0)
                        return r;
                return do_overlay_list(ctx, c, json);
        }
        if (!streq(sub, "build") && !streq(sub, "delete"))
                return cli_usage("overlay: unknown subcommand '%s' (build, delete, list)", sub);
        if (optind + 2 != argc)
                return cli_usage("overlay %s: expected one overlay ID", sub);
        id = argv[optind + 1];
        if (streq(sub, "build") && !file)
                return cli_usage("overlay build: -f SCRIPT is required ('-' for stdin)");
        if (streq(sub, "delete") && file)
                return cli_usage("overlay delete: -f is only for build");
        if (queue && !streq(sub, "build"))
                return cli_usage("overlay %s: --queue is only for build", sub);
        if (from_current && !streq(sub, "build"))
                return cli_usage("overlay %s: --from-current is only for build", sub);
        if (queue)
                return queue_overlay_build(ctx, id, file, from_current, json);
        r = cli_connect(ctx, "host", &c);
        if (r > 0)
                return r;
        if (streq(sub, "build"))
                return do_overlay_build(ctx, c, id, file, from_current, json);
        return do_overlay_delete(ctx, c, id, json);
}
