/* l4d2ctl web: the web UI's accounts and audit log, over web.sock (root only).
 *
 *   web user create NAME [--admin] [--must-change]
 *   web user passwd NAME [--must-change]
 *   web user activate|deactivate NAME
 *   web user list [--json]
 *   web audit [--user U] [--kind K] [--object O] [--limit N] [--before ID] [--json]
 *   web token create USER NAME --scope S... [--server ID]... [--expires D] [--allow CIDR]...
 *   web token list [USER] [--json]
 *   web token revoke ID
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

/* webd's vocabulary (svc-web/webd-tokens.h), for the help text: webd checks the names. */
#define TOKEN_SCOPES                                                                                        \
        "server.read server.control server.console files.read files.write blueprint.read "                  \
        "blueprint.write jobs.read"
/* webd's caps on one token (webd-tokens.h; 4 per scope name: lists may overlap). */
#define TOKEN_SCOPE_ARGS_MAX 32
#define TOKEN_SERVERS_MAX    64
#define TOKEN_ALLOW_MAX      16

static void usage(FILE *f) {
        fprintf(f, "Usage: l4d2ctl web COMMAND [ARGS]\n\n"
                   "The web UI's accounts and audit log (left4me-webd, web.sock; root only).\n\n"
                   "Commands:\n"
                   "  user create NAME [--admin] [--must-change]\n"
                   "                    a new account; the password is read as below\n"
                   "  user passwd NAME [--must-change]\n"
                   "                    set a password; the user's sessions end\n"
                   "  user activate NAME | user deactivate NAME\n"
                   "                    deactivating ends the user's sessions and deletes their API tokens\n"
                   "  user list         every account\n"
                   "  audit [--user U] [--kind K] [--object O] [--limit N] [--before ID]\n"
                   "                    the audit log, newest first\n"
                   "  token create USER NAME --scope S... [--server ID]... [--expires D] [--allow CIDR]...\n"
                   "                    an API token acting as USER; prints its secret, only now\n"
                   "  token list [USER] API tokens (every user's, or USER's), without secrets\n"
                   "  token revoke ID   the token stops working at once\n"
                   "                    (l4d2ctl web token --help for the details)\n"
                   "  seed-script-overlays DIR\n"
                   "                    every DIR/*.sh becomes a system script overlay (its name: a\n"
                   "                    '# name: ...' line among the first ten, else the file name);\n"
                   "                    run again, it refreshes their scripts and keeps their ids\n\n"
                   "Passwords: $LEFT4ME_ADMIN_PASSWORD if set, else a prompt without echo (twice on a\n"
                   "terminal), else the first line of standard input. At least 8 characters.\n"
                   "Every command takes --json.\n");
}

static void token_create_usage(FILE *f) {
        fprintf(f, "Usage: l4d2ctl web token create USER NAME --scope S [--scope S]... [--server ID]...\n"
                   "                                [--expires DURATION] [--allow CIDR]... [--json]\n\n"
                   "A new API token acting as USER (never beyond what USER may), named NAME (unique per\n"
                   "user, at most 64 bytes). Its secret goes alone to standard output, so\n"
                   "TOKEN=$(l4d2ctl web token create ...) works, and a summary to standard error; with\n"
                   "--json, the whole result. web.db keeps only a hash: the secret is shown only now.\n\n"
                   "  --scope S        what it may do; repeat it, or give a comma-separated list. Scopes:\n"
                   "                   " TOKEN_SCOPES "\n"
                   "  --server ID      only this server (one of USER's; repeat for more, at most 64);\n"
                   "                   default: every server USER may touch\n"
                   "  --expires D      a lifetime: a number and s, m, h, d or w (90d, 12h; at most\n"
                   "                   366d); default: until revoked\n"
                   "  --allow CIDR     only from this address or range (10.0.0.0/8, 2001:db8::/32;\n"
                   "                   repeat for more, at most 16); default: any address\n");
}

static void token_list_usage(FILE *f) {
        fprintf(f, "Usage: l4d2ctl web token list [USER] [--json]\n\n"
                   "Every user's API tokens, or USER's: their scopes, servers, expiry and last use. Never\n"
                   "their secrets.\n");
}

static void token_revoke_usage(FILE *f) {
        fprintf(f, "Usage: l4d2ctl web token revoke ID [--json]\n\n"
                   "Deletes API token ID (see l4d2ctl web token list): it stops working at once.\n");
}

static void token_usage(FILE *f) {
        token_create_usage(f);
        fputc('\n', f);
        token_list_usage(f);
        fputc('\n', f);
        token_revoke_usage(f);
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

/* Local time, or zero (for 0 and anything unprintable). */
static const char *format_time(long long usec, const char *zero, char *buf, size_t n) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;

        if (usec <= 0 || !localtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                snprintf(buf, n, "%s", zero);
        return buf;
}

static void print_time(long long usec) {
        char buf[32];

        printf("%-20s", format_time(usec, "-", buf, sizeof(buf)));
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

/* Calls method and frees params (wiped first: they may hold a password). */
static int call_web(const struct cli_ctx *ctx, const char *method, struct rpc_buf *params,
                    struct rpc_reply *reply) {
        _cleanup_(rpc_client_freep) struct rpc_client *c = NULL;
        int r = cli_connect(ctx, "web", &c);

        if (r <= 0)
                r = cli_call(ctx, c, method, params, NULL, NULL, reply);
        if (params->data)
                explicit_bzero(params->data, params->len);
        rpc_buf_done(params);
        return r;
}

/* Parses the options every subcommand shares: the index of the first operand (> 0), 0
 * after --help, or -exit code. */
struct opts {
        bool admin, must_change, json;
        const char *user, *kind, *object;
        long long limit, before;
        /* web token create */
        const char *scopes[TOKEN_SCOPE_ARGS_MAX], *allow[TOKEN_ALLOW_MAX], *expires;
        size_t n_scopes, n_servers, n_allow;
        long long servers[TOKEN_SERVERS_MAX];
        void (*help)(FILE *f); /* --help: the subcommand's own text; NULL: web's */
};

/* Adds the names of a --scope (one, or a comma-separated list). */
static int add_scopes(struct opts *o, char *arg) {
        for (char *p = arg, *next; p; p = next) {
                next = strchr(p, ',');
                if (next)
                        *next++ = 0;
                if (!*p)
                        continue;
                if (o->n_scopes == TOKEN_SCOPE_ARGS_MAX)
                        return -cli_usage("--scope: at most %d names", TOKEN_SCOPE_ARGS_MAX);
                o->scopes[o->n_scopes++] = p;
        }
        return 0;
}

static int parse(int argc, char **argv, struct opts *o, const char *allowed) {
        static const struct option options[] = {
                {"admin", no_argument, NULL, 'a'},        {"must-change", no_argument, NULL, 'm'},
                {"user", required_argument, NULL, 'u'},   {"kind", required_argument, NULL, 'k'},
                {"object", required_argument, NULL, 'o'}, {"limit", required_argument, NULL, 'n'},
                {"before", required_argument, NULL, 'b'}, {"scope", required_argument, NULL, 'S'},
                {"server", required_argument, NULL, 'I'}, {"expires", required_argument, NULL, 'E'},
                {"allow", required_argument, NULL, 'W'},  {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},         {}};
        int c, r;

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
                case 'o':
                        o->object = optarg;
                        break;
                case 'n':
                        if (safe_atoi64(optarg, 1, 500, &o->limit) < 0)
                                return -cli_usage("--limit: '%s' is not 1..500", optarg);
                        break;
                case 'b':
                        if (safe_atoi64(optarg, 1, INT64_MAX, &o->before) < 0)
                                return -cli_usage("--before: '%s' is not an entry id", optarg);
                        break;
                case 'S':
                        r = add_scopes(o, optarg);
                        if (r < 0)
                                return r;
                        break;
                case 'I':
                        if (o->n_servers == TOKEN_SERVERS_MAX)
                                return -cli_usage("--server: at most %d servers", TOKEN_SERVERS_MAX);
                        if (safe_atoi64(optarg, 1, INT64_MAX, &o->servers[o->n_servers]) < 0)
                                return -cli_usage("--server: '%s' is not a server id", optarg);
                        o->n_servers++;
                        break;
                case 'E':
                        o->expires = optarg;
                        break;
                case 'W':
                        if (o->n_allow == TOKEN_ALLOW_MAX)
                                return -cli_usage("--allow: at most %d ranges", TOKEN_ALLOW_MAX);
                        o->allow[o->n_allow++] = optarg;
                        break;
                case 'j':
                        o->json = true;
                        break;
                case 'h':
                        (o->help ?: usage)(stdout);
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
        if (r > 0)
                return r;
        if (o.json)
                cli_print_json(reply.result);
        else if (streq(sub, "create"))
                printf("created user %s (id %lld)%s\n", name, get_int(get(reply.result, "id")),
                       o.admin ? ", an administrator" : "");
        else
                printf("%s: %s\n", name,
                       streq(sub, "passwd") ? "password set; their sessions were ended"
                       : streq(sub, "activate")
                               ? "activated"
                               : "deactivated; their sessions were ended and their API tokens deleted");
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

        i = parse(argc, argv, &o, "ukonb");
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
        if (o.object)
                rpc_pack_kv_str(mpk, "object", o.object);
        if (o.limit > 0)
                rpc_pack_kv_int(mpk, "limit", o.limit);
        if (o.before > 0)
                rpc_pack_kv_int(mpk, "before_id", o.before);
        (void) rpc_map_end(&map);
        r = call_web(ctx, "audit.list", &params, &reply);
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
                if (get(e, "token") && get(e, "token")->type == MSGPACK_OBJECT_STR) {
                        printf(" (API token ");
                        print_str(get(e, "token"), 0);
                        printf(")");
                }
                printf("\n");
        }
        if (get_int(get(reply.result, "next_before_id")) > 0)
                printf("(older entries: --before %lld)\n", get_int(get(reply.result, "next_before_id")));
        rpc_reply_done(&reply);
        return EXIT_OK;
}

/* ---- token -------------------------------------------------------------------------------------- */

/* The strings of an array joined by sep into buf ("" for none or not an array; ints too). */
static const char *join(const msgpack_object *a, const char *sep, char *buf, size_t len) {
        size_t n = 0;

        buf[0] = 0;
        for (uint32_t k = 0; a && a->type == MSGPACK_OBJECT_ARRAY && k < a->via.array.size && n < len; k++) {
                const msgpack_object *o = &a->via.array.ptr[k];
                if (o->type == MSGPACK_OBJECT_STR)
                        n += (size_t) snprintf(buf + n, len - n, "%s%.*s", n ? sep : "",
                                               (int) o->via.str.size, o->via.str.ptr);
                else
                        n += (size_t) snprintf(buf + n, len - n, "%s%lld", n ? sep : "", get_int(o));
        }
        return buf;
}

static int token_create(int argc, char **argv, const struct cli_ctx *ctx) {
        struct opts o = {.json = ctx->json, .help = token_create_usage};
        struct rpc_reply reply = {};
        struct rpc_buf params;
        struct rpc_map map;
        msgpack_packer *mpk;
        const msgpack_object *secret;
        char scopes[512], when[32];
        long long expires;
        int i, r;

        i = parse(argc, argv, &o, "SIEW");
        if (i <= 0)
                return -i;
        if (i + 2 != argc)
                return cli_usage("web token create: give USER and NAME");
        if (o.n_scopes == 0)
                return cli_usage("web token create: give at least one --scope (%s)", TOKEN_SCOPES);
        rpc_buf_init(&params, 0);
        mpk = rpc_params_begin(&map, &params.pk);
        rpc_pack_kv_str(mpk, "username", argv[i]);
        rpc_pack_kv_str(mpk, "name", argv[i + 1]);
        rpc_pack_key(mpk, "scopes");
        msgpack_pack_array(mpk, o.n_scopes);
        for (size_t k = 0; k < o.n_scopes; k++)
                rpc_pack_str(mpk, o.scopes[k]);
        if (o.n_servers > 0) {
                rpc_pack_key(mpk, "servers");
                msgpack_pack_array(mpk, o.n_servers);
                for (size_t k = 0; k < o.n_servers; k++)
                        msgpack_pack_int64(mpk, o.servers[k]);
        }
        if (o.expires)
                rpc_pack_kv_str(mpk, "expires", o.expires);
        if (o.n_allow > 0) {
                rpc_pack_key(mpk, "allow");
                msgpack_pack_array(mpk, o.n_allow);
                for (size_t k = 0; k < o.n_allow; k++)
                        rpc_pack_str(mpk, o.allow[k]);
        }
        (void) rpc_map_end(&map);
        r = call_web(ctx, "token.create", &params, &reply);
        if (r > 0)
                return r;
        secret = get(reply.result, "secret");
        if (o.json)
                cli_print_json(reply.result);
        else if (secret && secret->type == MSGPACK_OBJECT_STR) {
                /* Alone on stdout, so TOKEN=$(...) takes exactly the secret. */
                printf("%.*s\n", (int) secret->via.str.size, secret->via.str.ptr);
                expires = get_int(get(reply.result, "expires_usec"));
                fprintf(stderr, "token %lld \"%s\" for %s: %s; expires %s. The secret is shown only now.\n",
                        get_int(get(reply.result, "id")), argv[i + 1], argv[i],
                        join(get(reply.result, "scopes"), " ", scopes, sizeof(scopes)),
                        format_time(expires, "never", when, sizeof(when)));
        } else {
                fprintf(stderr, "l4d2ctl: web token create: the answer has no secret\n");
                r = EXIT_FAILED;
        }
        fflush(stdout);
        if (secret && secret->type == MSGPACK_OBJECT_STR)
                explicit_bzero((char *) secret->via.str.ptr, secret->via.str.size);
        rpc_reply_done(&reply);
        return r;
}

static int token_list(int argc, char **argv, const struct cli_ctx *ctx) {
        struct opts o = {.json = ctx->json, .help = token_list_usage};
        struct rpc_reply reply = {};
        struct rpc_buf params;
        struct rpc_map map;
        msgpack_packer *mpk;
        const msgpack_object *tokens;
        int i, r;

        i = parse(argc, argv, &o, "");
        if (i <= 0)
                return -i;
        if (i + 1 < argc)
                return cli_usage("web token list: unexpected argument '%s'", argv[i + 1]);
        rpc_buf_init(&params, 0);
        mpk = rpc_params_begin(&map, &params.pk);
        if (i < argc)
                rpc_pack_kv_str(mpk, "username", argv[i]);
        (void) rpc_map_end(&map);
        r = call_web(ctx, "token.list", &params, &reply);
        if (r > 0)
                return r;
        if (o.json) {
                cli_print_json(reply.result);
                rpc_reply_done(&reply);
                return EXIT_OK;
        }
        tokens = get(reply.result, "tokens");
        printf("%-5s %-16s %-20s %-32s %-10s %-19s %s\n", "ID", "USER", "NAME", "SCOPES", "SERVERS",
               "EXPIRES", "LAST USED");
        for (uint32_t k = 0; tokens && tokens->type == MSGPACK_OBJECT_ARRAY && k < tokens->via.array.size;
             k++) {
                const msgpack_object *t = &tokens->via.array.ptr[k], *addr = get(t, "last_used_address");
                char scopes[512], servers[1536], when[32];
                long long last = get_int(get(t, "last_used_usec"));

                printf("%-5lld ", get_int(get(t, "id")));
                print_str(get(t, "username"), 16);
                printf(" ");
                print_str(get(t, "name"), 20);
                printf(" %-32s", join(get(t, "scopes"), ",", scopes, sizeof(scopes)));
                join(get(t, "servers"), ",", servers, sizeof(servers));
                printf(" %-10s", servers[0] ? servers : "all");
                printf(" %-19s", format_time(get_int(get(t, "expires_usec")), "never", when, sizeof(when)));
                printf(" %s", format_time(last, "never", when, sizeof(when)));
                if (last > 0 && addr && addr->type == MSGPACK_OBJECT_STR)
                        printf(" from %.*s", (int) addr->via.str.size, addr->via.str.ptr);
                printf("\n");
        }
        rpc_reply_done(&reply);
        return EXIT_OK;
}

static int token_revoke(int argc, char **argv, const struct cli_ctx *ctx) {
        struct opts o = {.json = ctx->json, .help = token_revoke_usage};
        struct rpc_reply reply = {};
        struct rpc_buf params;
        struct rpc_map map;
        msgpack_packer *mpk;
        long long id;
        int i, r;

        i = parse(argc, argv, &o, "");
        if (i <= 0)
                return -i;
        if (i + 1 != argc)
                return cli_usage("web token revoke: give exactly one token ID");
        if (safe_atoi64(argv[i], 1, INT64_MAX, &id) < 0)
                return cli_usage("web token revoke: '%s' is not a token id", argv[i]);
        rpc_buf_init(&params, 0);
        mpk = rpc_params_begin(&map, &params.pk);
        rpc_pack_kv_int(mpk, "id", id);
        (void) rpc_map_end(&map);
        r = call_web(ctx, "token.revoke", &params, &reply);
        if (r > 0)
                return r;
        if (o.json)
                cli_print_json(reply.result);
        else
                printf("revoked token %lld\n", id);
        rpc_reply_done(&reply);
        return EXIT_OK;
}

static int token_cmd(int argc, char **argv, const struct cli_ctx *ctx) {
        if (argc < 2)
                return cli_usage("web token: give a command (create, list, revoke)");
        if (streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")) {
                token_usage(stdout);
                return EXIT_OK;
        }
        if (streq(argv[1], "create"))
                return token_create(argc - 1, argv + 1, ctx);
        if (streq(argv[1], "list"))
                return token_list(argc - 1, argv + 1, ctx);
        if (streq(argv[1], "revoke"))
                return token_revoke(argc - 1, argv + 1, ctx);
        return cli_usage("web token: unknown command '%s' (create, list, revoke)", argv[1]);
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
        if (streq(argv[1], "token"))
                return token_cmd(argc - 1, argv + 1, ctx);
        if (streq(argv[1], "seed-script-overlays"))
                return seed_cmd(argc - 1, argv + 1, ctx);
        return cli_usage("web: unknown command '%s' (user, audit, token, seed-script-overlays)", argv[1]);
}
