/* l4d2ctl web: the web UI's accounts and audit log, over web.sock (root only).
 *
 *   web user create NAME [--admin] [--must-change]
 *   web user passwd NAME [--must-change]
 *   web user activate|deactivate NAME
 *   web user list [--json]
 *   web audit [--user U] [--kind K] [--limit N] [--before ID] [--json]
 *   web seed-script-overlays DIR [--json]
 *
 * The password comes from $LEFT4ME_ADMIN_PASSWORD, else from a prompt without echo (asked
 * twice on a terminal), else from the first line of standard input. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "cli/cli.h"
#include "proto/client.h"
#include "proto/map.h"
#include "proto/rpc.h"

int cmd_web(int argc, char **argv, const struct cli_ctx *ctx);

#define PASSWORD_MAX 1024

static void usage(FILE *f) {
        fprintf(f, "Usage: l4d2ctl web COMMAND [ARGS]\n\n"
                   "The web UI's accounts and audit log (left4me-webd, web.sock; root only).\n\n"
                   "Commands:\n"
                   "  user create NAME [--admin] [--must-change]\n"
                   "                    a new account; the password is read as below\n"
                   "  user passwd NAME [--must-change]\n"
                   "                    set a password; the user's sessions end\n"
                   "  user activate NAME | user deactivate NAME\n"
                   "                    deactivating ends the user's sessions at once\n"
                   "  user list         every account\n"
                   "  audit [--user U] [--kind K] [--limit N] [--before ID]\n"
                   "                    the audit log, newest first\n"
                   "  seed-script-overlays DIR\n"
                   "                    every DIR/*.sh becomes a system script overlay (its name: a\n"
                   "                    '# name: ...' line among the first ten, else the file name);\n"
                   "                    run again, it refreshes their scripts and keeps their ids\n\n"
                   "Passwords: $LEFT4ME_ADMIN_PASSWORD if set, else a prompt without echo (twice on a\n"
                   "terminal), else the first line of standard input. At least 8 characters.\n"
                   "Every command takes --json.\n");
}

static const msgpack_object *get(const msgpack_object *map, const char *key) {
        return map && map->type == MSGPACK_OBJECT_MAP ? rpc_map_get(map, key) : NULL;
}

static void print_str(const msgpack_object *o, int width) {
        if (o && o->type == MSGPACK_OBJECT_STR)
                printf("%-*.*s", width, (int) o->via.str.size, o->via.str.ptr);
        else
                printf("%-*s", width, "-");
}

static bool is_true(const msgpack_object *o) {
        return o && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
}

static long long get_int(const msgpack_object *o) {
        if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                return (long long) o->via.u64;
        if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                return o->via.i64;
        return 0;
}

static void print_time(long long usec) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;
        char buf[32];

        if (usec <= 0 || !localtime_r(&t, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm) == 0)
                snprintf(buf, sizeof(buf), "-");
        printf("%-20s", buf);
}

/* Reads a line without echo on a terminal. -ENOTTY if stdin is not one. */
static int read_hidden(const char *prompt, char *buf, size_t n) {
        struct termios old, quiet;
        bool ok;

        if (tcgetattr(STDIN_FILENO, &old) < 0)
                return -ENOTTY;
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t) ECHO;
        fputs(prompt, stderr);
        fflush(stderr);
        (void) tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        ok = fgets(buf, (int) n, stdin) != NULL;
        (void) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
        if (!ok)
                return -EIO;
        buf[strcspn(buf, "\r\n")] = 0;
        return 0;
}

static int read_password(char *buf, size_t n) {
        const char *env = getenv("LEFT4ME_ADMIN_PASSWORD");
        char again[PASSWORD_MAX + 2];
        int r;

        if (env) {
                if (strlen(env) >= n)
                        return cli_usage("LEFT4ME_ADMIN_PASSWORD is longer than %d bytes", PASSWORD_MAX);
                snprintf(buf, n, "%s", env);
                return 0;
        }
        r = read_hidden("Password: ", buf, n);
        if (r == -ENOTTY) {
                if (!fgets(buf, (int) n, stdin))
                        return cli_usage(
                                "no password: set LEFT4ME_ADMIN_PASSWORD or give it on standard input");
                buf[strcspn(buf, "\r\n")] = 0;
                return 0;
        }
        if (r < 0)
                return cli_usage("no password was entered");
        r = read_hidden("Again: ", again, sizeof(again));
        if (r < 0 || !streq(buf, again)) {
                explicit_bzero(again, sizeof(again));
                return cli_usage("the passwords do not match");
        }
        explicit_bzero(again, sizeof(again));
        return 0;
}

static int call_web(const struct cli_ctx *ctx, const char *method, const struct rpc_buf *params,
                    struct rpc_reply *reply) {
        _cleanup_(rpc_client_freep) struct rpc_client *c = NULL;
        int r = cli_connect(ctx, "web", &c);

        if (r > 0)
                return r;
        return cli_call(ctx, c, method, params, NULL, NULL, reply);
}

/* Parses the options every subcommand shares: the index of the first operand (> 0), 0
 * after --help, or -exit code. */
struct opts {
        bool admin, must_change, json;
        const char *user, *kind;
        long long limit, before;
};

static int parse(int argc, char **argv, struct opts *o, const char *allowed) {
        static const struct option options[] = {{"admin", no_argument, NULL, 'a'},
                                                {"must-change", no_argument, NULL, 'm'},
                                                {"user", required_argument, NULL, 'u'},
                                                {"kind", required_argument, NULL, 'k'},
                                                {"limit", required_argument, NULL, 'n'},
                                                {"before", required_argument, NULL, 'b'},
                                                {"json", no_argument, NULL, 'j'},
                                                {"help", no_argument, NULL, 'h'},
                                                {}};
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "amu:k:n:b:jh", options, NULL)) >= 0) {
                if (c != 'h' && c != 'j' && c != '?' && !strchr(allowed, c))
                        return -cli_usage("%s: option not accepted here (see l4d2ctl web --help)",
                                          argv[optind - 1]);
                switch (c) {
                case 'a':
                        o->admin = true;
                        break;
                case 'm':
                        o->must_change = true;
                        break;
                case 'u':
                        o->user = optarg;
                        break;
                case 'k':
                        o->kind = optarg;
                        break;
                case 'n':
                        if (safe_atoi64(optarg, 1, 500, &o->limit) < 0)
                                return -cli_usage("--limit: '%s' is not 1..500", optarg);
                        break;
                case 'b':
                        if (safe_atoi64(optarg, 1, INT64_MAX, &o->before) < 0)
                                return -cli_usage("--before: '%s' is not an entry id", optarg);
                        break;
                case 'j':
                        o->json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        return -EXIT_USAGE;
                }
        }
        return optind;
}

static int user_cmd(const char *sub, int argc, char **argv, const struct cli_ctx *ctx) {
        struct opts o = {.json = ctx->json};
        struct rpc_reply reply = {};
        struct rpc_buf params;
        struct rpc_map map;
        msgpack_packer *mpk;
        char password[PASSWORD_MAX + 2] = "";
        const char *method, *name;
        bool needs_password;
        int i, r;

        if (streq(sub, "list")) {
                i = parse(argc, argv, &o, "");
                if (i <= 0)
                        return -i;
                if (i < argc)
                        return cli_usage("web user list: unexpected argument '%s'", argv[i]);
                rpc_buf_init(&params, 0);
                mpk = rpc_params_begin(&map, &params.pk);
                (void) mpk;
                (void) rpc_map_end(&map);
                r = call_web(ctx, "user.list", &params, &reply);
                rpc_buf_done(&params);
                if (r > 0)
                        return r;
                if (o.json)
                        cli_print_json(reply.result);
                else {
                        const msgpack_object *users = get(reply.result, "users");
                        printf("%-5s %-24s %-8s %-12s %-20s\n", "ID", "USER", "ROLE", "STATE", "CREATED");
                        for (uint32_t k = 0;
                             users && users->type == MSGPACK_OBJECT_ARRAY && k < users->via.array.size;
                             k++) {
                                const msgpack_object *u = &users->via.array.ptr[k];
                                printf("%-5lld ", get_int(get(u, "id")));
                                print_str(get(u, "username"), 24);
                                printf(" %-8s %-12s ", is_true(get(u, "admin")) ? "admin" : "regular",
                                       is_true(get(u, "active"))
                                               ? (is_true(get(u, "must_change_password")) ? "must-change"
                                                                                          : "active")
                                               : "deactivated");
                                print_time(get_int(get(u, "created_usec")));
                                printf("\n");
                        }
                }
                rpc_reply_done(&reply);
                return EXIT_OK;
        }

        if (streq(sub, "create")) {
                method = "user.create";
                needs_password = true;
                i = parse(argc, argv, &o, "am");
        } else if (streq(sub, "passwd")) {
                method = "user.passwd";
                needs_password = true;
                i = parse(argc, argv, &o, "m");
        } else if (streq(sub, "activate") || streq(sub, "deactivate")) {
                method = streq(sub, "activate") ? "user.activate" : "user.deactivate";
                needs_password = false;
                i = parse(argc, argv, &o, "");
        } else
                return cli_usage(
                        "web user: unknown command '%s' (create, passwd, activate, deactivate, list)", sub);
        if (i <= 0)
                return -i;
        if (i + 1 != argc)
                return cli_usage("web user %s: give exactly one NAME", sub);
        name = argv[i];
        if (needs_password) {
                r = read_password(password, sizeof(password));
                if (r != 0)
                        return r;
        }
        rpc_buf_init(&params, 0);
        mpk = rpc_params_begin(&map, &params.pk);
        rpc_pack_kv_str(mpk, "username", name);
        if (needs_password)
                rpc_pack_kv_str(mpk, "password", password);
        if (o.admin)
                rpc_pack_kv_bool(mpk, "admin", true);
        if (o.must_change)
                rpc_pack_kv_bool(mpk, "must_change", true);
        (void) rpc_map_end(&map);
        explicit_bzero(password, sizeof(password));
        r = call_web(ctx, method, &params, &reply);
        if (params.data)
                explicit_bzero(params.data, params.len);
        rpc_buf_done(&params);
        if (r > 0)
                return r;
        if (o.json)
                cli_print_json(reply.result);
        else if (streq(sub, "create"))
                printf("created user %s (id %lld)%s\n", name, get_int(get(reply.result, "id")),
                       o.admin ? ", an administrator" : "");
        else
                printf("%s: %s\n", name,
                       streq(sub, "passwd")     ? "password set; their sessions were ended"
                       : streq(sub, "activate") ? "activated"
                                                : "deactivated; their sessions were ended");
        rpc_reply_done(&reply);
        return EXIT_OK;
}

static int audit_cmd(int argc, char **argv, const struct cli_ctx *ctx) {
        struct opts o = {.json = ctx->json};
        struct rpc_reply reply = {};
        struct rpc_buf params;
        struct rpc_map map;
        msgpack_packer *mpk;
        const msgpack_object *entries;
        int i, r;

        i = parse(argc, argv, &o, "uknb");
        if (i <= 0)
                return -i;
        if (i < argc)
                return cli_usage("web audit: unexpected argument '%s'", argv[i]);
        rpc_buf_init(&params, 0);
        mpk = rpc_params_begin(&map, &params.pk);
        if (o.user)
                rpc_pack_kv_str(mpk, "actor", o.user);
        if (o.kind)
                rpc_pack_kv_str(mpk, "kind", o.kind);
        if (o.limit > 0)
                rpc_pack_kv_int(mpk, "limit", o.limit);
        if (o.before > 0)
                rpc_pack_kv_int(mpk, "before_id", o.before);
        (void) rpc_map_end(&map);
        r = call_web(ctx, "audit.list", &params, &reply);
        rpc_buf_done(&params);
        if (r > 0)
                return r;
        if (o.json) {
                cli_print_json(reply.result);
                rpc_reply_done(&reply);
                return EXIT_OK;
        }
        entries = get(reply.result, "entries");
        printf("%-6s %-20s %-16s %-18s %-12s %-10s %s\n", "ID", "WHEN", "WHO", "WHAT", "OBJECT", "RESULT",
               "FROM");
        for (uint32_t k = 0; entries && entries->type == MSGPACK_OBJECT_ARRAY && k < entries->via.array.size;
             k++) {
                const msgpack_object *e = &entries->via.array.ptr[k];
                printf("%-6lld ", get_int(get(e, "id")));
                print_time(get_int(get(e, "at_usec")));
                printf(" ");
                print_str(get(e, "actor"), 16);
                printf(" ");
                print_str(get(e, "kind"), 18);
                printf(" ");
                print_str(get(e, "object"), 12);
                printf(" ");
                print_str(get(e, "result"), 10);
                printf(" ");
                print_str(get(e, "address"), 0);
                printf("\n");
        }
        if (get_int(get(reply.result, "next_before_id")) > 0)
                printf("(older entries: --before %lld)\n", get_int(get(reply.result, "next_before_id")));
        rpc_reply_done(&reply);
        return EXIT_OK;
}

/* ---- seed-script-overlays ----------------------------------------------------------------------- */

#define SEED_SCRIPT_MAX (256 * 1024) /* webd's cap on a script */
#define SEED_NAME_MAX   128

/* The overlay name of a seed script: "# name: X" among its first ten lines, else the file
 * name without ".sh". */
static void seed_name(const char *file, const char *text, char *buf, size_t len) {
        const char *p = text;

        for (int line = 0; line < 10 && *p; line++) {
                const char *end = strchr(p, '\n') ?: p + strlen(p);
                if (strneq(p, "# name:", 7)) {
                        const char *v = p + 7;
                        while (v < end && *v == ' ')
                                v++;
                        snprintf(buf, len, "%.*s", (int) (end - v), v);
                        buf[strcspn(buf, "\r")] = 0;
                        if (*buf)
                                return;
                }
                p = *end ? end + 1 : end;
        }
        snprintf(buf, len, "%.*s", (int) (strlen(file) - 3), file);
}

static int seed_filter(const struct dirent *d) {
        size_t n = strlen(d->d_name);
        return d->d_name[0] != '.' && n > 3 && streq(d->d_name + n - 3, ".sh");
}

/* Reads DIR/name (a regular file, at most SEED_SCRIPT_MAX bytes) into buf. */
static int read_seed(int dirfd, const char *name, char *buf, size_t size, size_t *ret_len) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        struct stat st;
        size_t n = 0;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADF;
        if (st.st_size > SEED_SCRIPT_MAX)
                return -EFBIG;
        while (n < size - 1) {
                ssize_t k = read(fd, buf + n, size - 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        if (n > SEED_SCRIPT_MAX)
                return -EFBIG;
        buf[n] = 0;
        if (strlen(buf) != n)
                return -EILSEQ; /* a NUL: not a text file */
        *ret_len = n;
        return 0;
}

static int seed_cmd(int argc, char **argv, const struct cli_ctx *ctx) {
        struct opts o = {.json = ctx->json};
        _cleanup_(rpc_client_freep) struct rpc_client *c = NULL;
        _cleanup_close_ int dirfd = -1;
        _cleanup_free_ char *text = NULL;
        struct dirent **names = NULL;
        int i, n, r, rc = EXIT_OK, printed = 0;

        i = parse(argc, argv, &o, "");
        if (i <= 0)
                return -i;
        if (i != argc - 1)
                return cli_usage("web seed-script-overlays: give one directory");
        dirfd = open(argv[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0) {
                fprintf(stderr, "l4d2ctl: %s: %s\n", argv[i], strerror(errno));
                return EXIT_NOT_FOUND;
        }
        n = scandirat(dirfd, ".", &names, seed_filter, alphasort);
        if (n < 0) {
                fprintf(stderr, "l4d2ctl: %s: %s\n", argv[i], strerror(errno));
                return EXIT_FAILED;
        }
        if (n == 0) {
                free(names);
                fprintf(stderr, "l4d2ctl: %s has no *.sh files\n", argv[i]);
                return EXIT_NOT_FOUND;
        }
        text = malloc(SEED_SCRIPT_MAX + 2);
        r = text ? cli_connect(ctx, "web", &c) : EXIT_FAILED;
        if (r > 0) {
                rc = r;
                n = 0;
        }
        if (o.json)
                printf("[");
        for (int k = 0; k < n; k++) {
                const char *file = names[k]->d_name;
                char name[SEED_NAME_MAX + 1];
                struct rpc_reply reply = {};
                struct rpc_buf params;
                struct rpc_map map;
                msgpack_packer *mpk;
                size_t len = 0;

                r = read_seed(dirfd, file, text, SEED_SCRIPT_MAX + 2, &len);
                if (r < 0) {
                        fprintf(stderr, "l4d2ctl: %s/%s: %s\n", argv[i], file,
                                r == -EFBIG    ? "larger than 256 KiB"
                                : r == -EILSEQ ? "not a text file"
                                : r == -EBADF  ? "not a regular file"
                                               : strerror(-r));
                        rc = EXIT_INVALID;
                        continue;
                }
                seed_name(file, text, name, sizeof(name));
                rpc_buf_init(&params, 2 * SEED_SCRIPT_MAX);
                mpk = rpc_params_begin(&map, &params.pk);
                rpc_pack_kv_str(mpk, "name", name);
                rpc_pack_kv_str(mpk, "script", text);
                (void) rpc_map_end(&map);
                r = cli_call(ctx, c, "overlay.seed", &params, NULL, NULL, &reply);
                rpc_buf_done(&params);
                if (r > 0) {
                        fprintf(stderr, "l4d2ctl: (while seeding %s/%s)\n", argv[i], file);
                        rc = r;
                        continue;
                }
                if (o.json) {
                        msgpack_object f = {.type = MSGPACK_OBJECT_STR,
                                            .via.str = {.size = (uint32_t) strlen(file), .ptr = file}};
                        printf("%s{\"file\":", printed++ ? "," : "");
                        cli_fprint_json(stdout, &f);
                        printf(",\"result\":");
                        cli_fprint_json(stdout, reply.result);
                        printf("}");
                } else
                        printf("%-8s %-40s id %lld (%s)\n",
                               is_true(get(reply.result, "created")) ? "created" : "updated", name,
                               get_int(get(reply.result, "id")), file);
                rpc_reply_done(&reply);
        }
        if (o.json)
                printf("]\n");
        for (int k = 0; k < (n > 0 ? n : 0); k++)
                free(names[k]);
        free(names);
        return rc;
}

int cmd_web(int argc, char **argv, const struct cli_ctx *ctx) {
        if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")) {
                usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? EXIT_USAGE : EXIT_OK;
        }
        if (streq(argv[1], "user")) {
                if (argc < 3)
                        return cli_usage(
                                "web user: give a command (create, passwd, activate, deactivate, list)");
                return user_cmd(argv[2], argc - 2, argv + 2, ctx);
        }
        if (streq(argv[1], "audit"))
                return audit_cmd(argc - 1, argv + 1, ctx);
        if (streq(argv[1], "seed-script-overlays"))
                return seed_cmd(argc - 1, argv + 1, ctx);
        return cli_usage("web: unknown command '%s' (user, audit, seed-script-overlays)", argv[1]);
}
