/* Unit tests of svc-host/hostd-spec.c: parsing and validation of spec.yaml (every field,
 * hostile input), rendering of instance.env and server.cfg against golden files, lower dir
 * order, and the instance.env readers the mount helper uses.
 *
 * Golden files live in tests/svc-host/golden/; UPDATE_GOLDEN=1 rewrites them. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "proto/spec.h"

#define PMIN 27015
#define PMAX 27115
#define ROOT "/var/lib/left4me"

static int parse(const char *text, struct instance_spec *s, struct rpc_error *e) {
        *s = (struct instance_spec){};
        *e = (struct rpc_error){};
        return spec_parse(text, strlen(text), PMIN, PMAX, s, e);
}

/* Expects text to be refused with a message containing needle. */
static void refused(const char *text, const char *needle) {
        struct instance_spec s;
        struct rpc_error e;
        int r = parse(text, &s, &e);

        cr_assert_eq(r, -EINVAL, "accepted: %s", text);
        cr_assert_eq(e.code, RPC_INVALID, "code %d for: %s", e.code, text);
        cr_assert(strstr(e.message, needle), "message '%s' lacks '%s' (spec: %s)", e.message, needle, text);
}

static void accepted(const char *text, struct instance_spec *s) {
        struct rpc_error e;
        int r = parse(text, s, &e);
        cr_assert_eq(r, 0, "refused (%s): %s", e.message, text);
}

Test(spec, minimal) {
        struct instance_spec s;

        accepted("port: 27015\n", &s);
        cr_assert_eq(s.port, 27015);
        cr_assert_eq(s.n_overlays, 0);
        cr_assert_not_null(s.arguments);
        cr_assert_null(s.arguments[0]);
        cr_assert_not_null(s.config);
        cr_assert_null(s.config[0]);
        instance_spec_done(&s);
}

Test(spec, full_and_unknown_keys_ignored) {
        struct instance_spec s;

        accepted("# a comment\n"
                 "name_is_not_here: x\n"
                 "port: 27115\n"
                 "overlays:\n"
                 "  - standard\n"
                 "  - {path: \"12\", alias: overlay_12}\n"
                 "  - path: competitive/base\n"
                 "    color: blue\n"
                 "  - {path: users/42/custom, alias: ~}\n"
                 "arguments: [+map, c1m1_hotel, -tickrate, \"100\"]\n"
                 "config:\n"
                 "  - exec server_overlay_12\n"
                 "  - 'hostname \"Ünïcödé ☃ server\"'\n"
                 "  - \"\"\n"
                 "extra: {deep: [1, [2, [3, {x: y}]]]}\n",
                 &s);
        cr_assert_eq(s.port, 27115);
        cr_assert_eq(s.n_overlays, 4);
        cr_assert_str_eq(s.overlays[0].path, "standard");
        cr_assert_null(s.overlays[0].alias);
        cr_assert_str_eq(s.overlays[1].path, "12");
        cr_assert_str_eq(s.overlays[1].alias, "overlay_12");
        cr_assert_str_eq(s.overlays[2].path, "competitive/base");
        cr_assert_null(s.overlays[3].alias);
        cr_assert_eq(strv_length(s.arguments), 4);
        cr_assert_str_eq(s.arguments[3], "100");
        cr_assert_eq(strv_length(s.config), 3);
        cr_assert_str_eq(s.config[1], "hostname \"Ünïcödé ☃ server\"");
        cr_assert_str_eq(s.config[2], "");
        instance_spec_done(&s);
}

Test(spec, null_lists) {
        struct instance_spec s;

        accepted("port: 27015\noverlays:\narguments: ~\nconfig: null\n", &s);
        cr_assert_eq(s.n_overlays, 0);
        cr_assert_null(s.arguments[0]);
        cr_assert_null(s.config[0]);
        instance_spec_done(&s);
}

Test(spec, bad_documents) {
        refused("", "port: is required");
        refused("   \n# only a comment\n", "port: is required");
        refused("~\n", "port: is required");
        refused("- a\n- b\n", "must be a mapping");
        refused("just a string\n", "must be a mapping");
        refused("overlays: []\n", "port: is required");
        refused("port: 27015\n---\nport: 27016\n", "exactly one YAML document");
        refused("port: [\n", "port");
        refused("port: 27015\nconfig: [a, \n", "spec: line");
        refused("port: 27015\n\tconfig: []\n", "spec: line");
        refused("{port: 27015, port: 27016}\n", "port: given twice");
        refused("port: 27015\nconfig: []\nconfig: []\n", "config: given twice");
        refused("[1]: x\nport: 27015\n", "keys must be strings");
}

Test(spec, bad_port) {
        refused("port: 80\n", "port: 80 is outside the allowed range 27015-27115");
        refused("port: 27116\n", "outside");
        refused("port: 0\n", "outside");
        refused("port: 99999\n", "outside");
        refused("port: 123456\n", "port: must be a number");
        refused("port: -27015\n", "port: must be a number");
        refused("port: 27015.0\n", "port: must be a number");
        refused("port: 0x6997\n", "port: must be a number");
        refused("port: abc\n", "port: must be a number");
        refused("port: ~\n", "port: must be a number");
        refused("port: [27015]\n", "port: must be a number");
        refused("port: {a: 1}\n", "port: must be a number");
}

Test(spec, bad_overlays) {
        refused("port: 27015\noverlays: standard\n", "overlays: must be a list");
        refused("port: 27015\noverlays: {a: b}\n", "overlays: must be a list");
        refused("port: 27015\noverlays: [/etc]\n", "overlays[0]: must be a relative path");
        refused("port: 27015\noverlays: [ok, ../installation]\n", "overlays[1]: must be a relative path");
        refused("port: 27015\noverlays: [a/../../b]\n", "overlays[0]");
        refused("port: 27015\noverlays: [..]\n", "overlays[0]");
        refused("port: 27015\noverlays: [.]\n", "overlays[0]");
        refused("port: 27015\noverlays: [a/./b]\n", "overlays[0]");
        refused("port: 27015\noverlays: [a//b]\n", "overlays[0]");
        refused("port: 27015\noverlays: [a/]\n", "overlays[0]");
        refused("port: 27015\noverlays: [\"\"]\n", "overlays[0]");
        refused("port: 27015\noverlays: [\"a b\"]\n", "overlays[0]");
        refused("port: 27015\noverlays: [\"a:b\"]\n", "overlays[0]");
        refused("port: 27015\noverlays: [\"a,b\"]\n", "overlays[0]");
        refused("port: 27015\noverlays: [\"a\\\\b\"]\n", "overlays[0]");
        refused("port: 27015\noverlays: [\"ü\"]\n", "overlays[0]");
        refused("port: 27015\noverlays: [\"a\\nb\"]\n", "overlays[0]");
        refused("port: 27015\noverlays: [[a]]\n", "overlays[0]: must be a string or a mapping");
        refused("port: 27015\noverlays: [{alias: x}]\n", "overlays[0].path: is required");
        refused("port: 27015\noverlays: [{path: /etc}]\n", "overlays[0].path: must be a relative path");
        refused("port: 27015\noverlays: [{path: [a]}]\n", "overlays[0].path: must be a string");
        refused("port: 27015\noverlays: [{path: a, alias: \"bad alias\"}]\n", "overlays[0].alias");
        refused("port: 27015\noverlays: [{path: a, alias: \"../x\"}]\n", "overlays[0].alias");
        refused("port: 27015\noverlays: [{path: a, path: b}]\n", "overlays[0].path: given twice");
        refused("port: 27015\noverlays: [a, b, a]\n", "overlays[2]: 'a' is already overlays[0]");
        refused("port: 27015\noverlays: [{path: a, alias: x}, {path: b, alias: x}]\n",
                "overlays[1].alias: 'x' is already used by overlays[0]");
}

Test(spec, ref_length) {
        char ref[300], text[400];
        struct instance_spec s;

        memset(ref, 'a', 255);
        ref[255] = 0;
        snprintf(text, sizeof(text), "port: 27015\noverlays: [%s]\n", ref);
        accepted(text, &s);
        instance_spec_done(&s);
        memset(ref, 'a', 256);
        ref[256] = 0;
        snprintf(text, sizeof(text), "port: 27015\noverlays: [%s]\n", ref);
        refused(text, "overlays[0]");
}

static char *many_overlays(unsigned n) {
        size_t cap = 64 + (size_t) n * 16;
        char *t = malloc(cap);
        size_t o = (size_t) snprintf(t, cap, "port: 27015\noverlays:\n");

        for (unsigned i = 0; i < n; i++)
                o += (size_t) snprintf(t + o, cap - o, "  - o%u\n", i);
        return t;
}

Test(spec, layers_limit) {
        _cleanup_free_ char *ok = many_overlays(SPEC_MAX_OVERLAYS);
        _cleanup_free_ char *t500 = many_overlays(500);
        _cleanup_free_ char *t501 = many_overlays(501);
        struct instance_spec s;
        _cleanup_strv_free_ char **lower = NULL;

        accepted(ok, &s);
        cr_assert_eq(s.n_overlays, 499);
        cr_assert_eq(spec_lowerdirs(&s, ROOT, &lower), 0);
        cr_assert_eq(strv_length(lower), SPEC_MAX_LAYERS, "499 overlays + the installation = 500 layers");
        instance_spec_done(&s);
        refused(t500, "at most 499 overlays (500 layers with the installation)");
        refused(t501, "at most 499 overlays");
}

Test(spec, bad_arguments) {
        refused("port: 27015\narguments: +map\n", "arguments: must be a list");
        refused("port: 27015\narguments: [\"+map c1m1\"]\n", "arguments[0]");
        refused("port: 27015\narguments: [ok, \"$HOME\"]\n", "arguments[1]");
        refused("port: 27015\narguments: [\"a\\\"b\"]\n", "arguments[0]");
        refused("port: 27015\narguments: [\"it's\"]\n", "arguments[0]");
        refused("port: 27015\narguments: [\"a\\\\b\"]\n", "arguments[0]");
        refused("port: 27015\narguments: [\"`id`\"]\n", "arguments[0]");
        refused("port: 27015\narguments: [\"\"]\n", "arguments[0]");
        refused("port: 27015\narguments: [\"a\\tb\"]\n", "arguments[0]");
        refused("port: 27015\narguments: [\"a\\u00a0b\\x01\"]\n", "arguments[0]");
        refused("port: 27015\narguments: [{a: b}]\n", "arguments[0]: must be a string");
        refused("port: 27015\narguments: [[a]]\n", "arguments[0]: must be a string");
}

/* A spec with port 27033 and "+hostport 27034" came up on 27034: what hostd sets on the
 * command line may not be repeated after it, in any case or prefix. */
Test(spec, arguments_may_not_override_what_hostd_sets) {
        static const char *const bad[] = {"+hostport",   "-port",    "+ip",    "-ip",   "+HostPort", "-PORT",
                                          "+clientport", "+tv_port", "-sport", "-game", "+hostip"};
        struct instance_spec s;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char text[200], want[64];
                snprintf(text, sizeof(text),
                         "port: 27033\narguments: [+map, c1m1_hotel, \"%s\", \"27034\"]\n", bad[i]);
                snprintf(want, sizeof(want), "arguments[2]: '%s' is set by left4me", bad[i]);
                refused(text, want);
        }
        /* Look-alikes are fine: a value, a longer cvar, no prefix. */
        accepted("port: 27033\narguments: [+map, port, +hostportx, -portal, ip, +sv_lan, \"0\"]\n", &s);
        cr_assert_eq(strv_length(s.arguments), 7);
        instance_spec_done(&s);
        cr_assert_str_eq(spec_argument_reserved("+hostport"), "hostport");
        cr_assert_null(spec_argument_reserved("hostport"));
}

Test(spec, too_many_arguments) {
        char text[2048];
        size_t o = (size_t) snprintf(text, sizeof(text), "port: 27015\narguments:\n");

        for (int i = 0; i < 65; i++)
                o += (size_t) snprintf(text + o, sizeof(text) - o, "  - a%d\n", i);
        refused(text, "arguments: at most 64 entries");
}

Test(spec, bad_config) {
        refused("port: 27015\nconfig: \"sv_cheats 0\"\n", "config: must be a list");
        refused("port: 27015\nconfig: [\"a\\nrcon_password x\"]\n", "config[0]");
        refused("port: 27015\nconfig: [ok, \"a\\rb\"]\n", "config[1]");
        refused("port: 27015\nconfig: [\"a\\tb\"]\n", "config[0]");
        refused("port: 27015\nconfig: [\"a\\x7fb\"]\n", "config[0]");
        refused("port: 27015\nconfig: [\"\\x01\"]\n", "config[0]");
        refused("port: 27015\nconfig: [\"a\\0b\"]\n", "config[0]: contains a NUL byte");
        refused("port: 27015\nconfig: [[a]]\n", "config[0]: must be a string");
}

Test(spec, long_config_line) {
        size_t n = SPEC_MAX_LINE_LEN + 1;
        char *text = malloc(n + 64);
        struct instance_spec s;
        int o = snprintf(text, n + 64, "port: 27015\nconfig:\n  - ");

        memset(text + o, 'x', n - 1);
        memcpy(text + o + n - 1, "\n", 2);
        accepted(text, &s); /* exactly 4096 bytes */
        instance_spec_done(&s);
        memset(text + o, 'x', n);
        memcpy(text + o + n, "\n", 2);
        refused(text, "config[0]");
        free(text);
}

Test(spec, aliases_and_anchors) {
        refused("port: &p 27015\n", "anchors are not allowed");
        refused("port: 27015\na: &a [x]\nconfig: *a\n", "anchors are not allowed");
        refused("port: 27015\nconfig: *a\n", "spec: line");
        refused("port: 27015\nx: &big {a: b}\n", "anchors are not allowed");
}

Test(spec, bytes) {
        struct instance_spec s;
        struct rpc_error e;
        const char nul[] = "port: 27015\0\nconfig: []\n";
        const char bad_utf8[] = "port: 27015\nconfig: [\"\xff\xfe\"]\n";

        cr_assert_eq(spec_parse(nul, sizeof(nul) - 1, PMIN, PMAX, &s, &e), -EINVAL);
        cr_assert(strstr(e.message, "NUL"));
        cr_assert_eq(spec_parse(bad_utf8, strlen(bad_utf8), PMIN, PMAX, &s, &e), -EINVAL);
        cr_assert(strstr(e.message, "UTF-8"));
}

Test(spec, huge_input) {
        size_t n = SPEC_MAX_BYTES + 1;
        char *text = malloc(n + 1);
        struct instance_spec s;
        struct rpc_error e;

        memset(text, '#', n);
        memcpy(text, "port: 27015\n#", 13);
        text[n] = 0;
        cr_assert_eq(spec_parse(text, n, PMIN, PMAX, &s, &e), -EINVAL);
        cr_assert(strstr(e.message, "larger than"));
        /* Exactly the limit is read (a long comment). */
        cr_assert_eq(spec_parse(text, n - 1, PMIN, PMAX, &s, &e), 0, "%s", e.message);
        instance_spec_done(&s);
        free(text);
}

Test(spec, many_config_lines) {
        size_t cap = 64 + (SPEC_MAX_CONFIG + 1) * 8;
        char *text = malloc(cap);
        size_t o = (size_t) snprintf(text, cap, "port: 27015\nconfig:\n");
        struct instance_spec s;

        for (unsigned i = 0; i < SPEC_MAX_CONFIG; i++)
                o += (size_t) snprintf(text + o, cap - o, "- c%u\n", i % 10);
        accepted(text, &s);
        cr_assert_eq(strv_length(s.config), SPEC_MAX_CONFIG);
        instance_spec_done(&s);
        snprintf(text + o, cap - o, "- extra\n");
        refused(text, "config: at most 4096 entries");
        free(text);
}

Test(spec, deep_nesting_in_ignored_key) {
        size_t depth = 20000;
        char *text = malloc(depth * 2 + 64);
        struct instance_spec s;
        struct rpc_error e;
        size_t o = (size_t) snprintf(text, depth * 2 + 64, "port: 27015\nx: ");
        int r;

        memset(text + o, '[', depth);
        memset(text + o + depth, ']', depth);
        text[o + 2 * depth] = 0;
        r = spec_parse(text, strlen(text), PMIN, PMAX, &s, &e);
        /* Either is fine; it must neither crash nor leak. */
        if (r == 0)
                instance_spec_done(&s);
        free(text);
}

Test(spec, bit_flips_never_crash) {
        const char *base = "port: 27015\noverlays:\n  - standard\n  - {path: \"12\", alias: overlay_12}\n"
                           "arguments: [+map, c1m1_hotel]\nconfig: [\"hostname x\", \"sv_cheats 0\"]\n";
        size_t n = strlen(base);
        char *t = malloc(n + 1);

        for (size_t i = 0; i < n; i++)
                for (int bit = 0; bit < 8; bit++) {
                        struct instance_spec s;
                        struct rpc_error e;

                        memcpy(t, base, n + 1);
                        t[i] ^= (char) (1 << bit);
                        if (spec_parse(t, n, PMIN, PMAX, &s, &e) == 0)
                                instance_spec_done(&s);
                        /* and every truncation */
                        if (bit == 0 && spec_parse(base, i, PMIN, PMAX, &s, &e) == 0)
                                instance_spec_done(&s);
                }
        free(t);
}

Test(spec, roots) {
        cr_assert(spec_root_is_valid("/var/lib/left4me"));
        cr_assert(spec_root_is_valid("/tmp/x.y_z-1"));
        cr_assert_not(spec_root_is_valid("var/lib"));
        cr_assert_not(spec_root_is_valid("/a:b"));
        cr_assert_not(spec_root_is_valid("/a,b"));
        cr_assert_not(spec_root_is_valid("/a b"));
        cr_assert_not(spec_root_is_valid("/a\"b"));
        cr_assert_not(spec_root_is_valid(""));
}

/* ---- rendering --------------------------------------------------------------------------- */

static char *golden_path(const char *name) {
        char *p = NULL;
        const char *dir = getenv("GOLDEN_DIR") ?: "tests/svc-host/golden";
        cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

static void check_golden(const char *name, const char *got) {
        _cleanup_free_ char *path = golden_path(name);
        _cleanup_free_ char *want = NULL;
        FILE *f;
        size_t n;

        if (getenv("UPDATE_GOLDEN")) {
                f = fopen(path, "we");
                cr_assert_not_null(f, "cannot write %s", path);
                fputs(got, f);
                fclose(f);
                return;
        }
        f = fopen(path, "re");
        cr_assert_not_null(f, "missing golden file %s (UPDATE_GOLDEN=1 writes it)", path);
        want = calloc(1, 65536);
        n = fread(want, 1, 65535, f);
        fclose(f);
        want[n] = 0;
        cr_assert_str_eq(got, want, "%s differs", path);
}

Test(render, full) {
        struct instance_spec s;
        _cleanup_free_ char *env = NULL, *cfg = NULL;

        accepted("port: 27020\n"
                 "overlays: [standard, {path: \"12\", alias: overlay_12}, users/42/custom]\n"
                 "arguments: [+map, c1m1_hotel, -tickrate, \"100\", +sv_lan, \"0\"]\n"
                 "config:\n"
                 "  - exec server_overlay_12\n"
                 "  - 'hostname \"Ünïcödé ☃ server\"'\n"
                 "  - rcon_password s3cret\n"
                 "  - \"\"\n"
                 "  - // a comment; with a semicolon\n",
                 &s);
        cr_assert_eq(spec_render_env(&s, ROOT, &env), 0);
        cr_assert_eq(spec_render_server_cfg(&s, &cfg), 0);
        check_golden("full.env", env);
        check_golden("full.server.cfg", cfg);
        instance_spec_done(&s);
}

Test(render, minimal) {
        struct instance_spec s;
        _cleanup_free_ char *env = NULL, *cfg = NULL;

        accepted("port: 27015\n", &s);
        cr_assert_eq(spec_render_env(&s, ROOT, &env), 0);
        cr_assert_eq(spec_render_server_cfg(&s, &cfg), 0);
        check_golden("minimal.env", env);
        cr_assert_str_eq(cfg, "", "server.cfg is always written, empty without config");
        instance_spec_done(&s);
}

Test(render, lowerdir_order) {
        struct instance_spec s;
        _cleanup_strv_free_ char **lower = NULL;

        accepted("port: 27015\noverlays: [top, {path: middle/x, alias: m}, bottom]\n", &s);
        cr_assert_eq(spec_lowerdirs(&s, "/r", &lower), 0);
        cr_assert_eq(strv_length(lower), 4);
        cr_assert_str_eq(lower[0], "/r/overlays/top");
        cr_assert_str_eq(lower[1], "/r/overlays/middle/x");
        cr_assert_str_eq(lower[2], "/r/overlays/bottom");
        cr_assert_str_eq(lower[3], "/r/installation", "the installation is the bottom layer");
        instance_spec_done(&s);
}

Test(render, env_round_trip) {
        struct instance_spec s;
        _cleanup_free_ char *env = NULL;
        _cleanup_strv_free_ char **lower = NULL;
        unsigned port = 0;

        accepted("port: 27099\noverlays: [a, b/c]\n", &s);
        cr_assert_eq(spec_render_env(&s, ROOT, &env), 0);
        cr_assert_eq(env_parse_lowerdirs(env, strlen(env), &lower), 0);
        cr_assert_eq(strv_length(lower), 3);
        cr_assert_str_eq(lower[0], ROOT "/overlays/a");
        cr_assert_str_eq(lower[1], ROOT "/overlays/b/c");
        cr_assert_str_eq(lower[2], ROOT "/installation");
        cr_assert_eq(env_parse_port(env, strlen(env), &port), 0);
        cr_assert_eq(port, 27099);
        instance_spec_done(&s);
}

/* ---- instance.env readers (the mount helper's input) --------------------------------------- */

static int lowers(const char *text, char ***ret) {
        return env_parse_lowerdirs(text, strlen(text), ret);
}

Test(env, lowerdirs) {
        char **v = NULL;

        cr_assert_eq(lowers("L4D2_PORT=1\nL4D2_LOWERDIRS=/a:/b\n", &v), 0);
        cr_assert_eq(strv_length(v), 2);
        cr_assert_str_eq(v[1], "/b");
        strv_free(v);
        cr_assert_eq(lowers("L4D2_LOWERDIRS=/a", &v), 0, "no final newline");
        strv_free(v);
        cr_assert_eq(lowers("L4D2_PORT=1\n", &v), -ENOENT);
        cr_assert_eq(lowers("XL4D2_LOWERDIRS=/a\n", &v), -ENOENT);
        cr_assert_eq(lowers("L4D2_LOWERDIRS=\n", &v), -EINVAL);
        cr_assert_eq(lowers("L4D2_LOWERDIRS=/a::/b\n", &v), -EINVAL);
        cr_assert_eq(lowers("L4D2_LOWERDIRS=/a:\n", &v), -EINVAL);
        cr_assert_eq(lowers("L4D2_LOWERDIRS=:/a\n", &v), -EINVAL);
}

Test(env, lowerdirs_limit) {
        size_t cap = 16 + 501 * 3;
        char *t = malloc(cap);
        char **v = NULL;
        size_t o = (size_t) snprintf(t, cap, "L4D2_LOWERDIRS=");

        for (int i = 0; i < 500; i++)
                o += (size_t) snprintf(t + o, cap - o, "%s/a", i ? ":" : "");
        cr_assert_eq(lowers(t, &v), 0);
        cr_assert_eq(strv_length(v), 500);
        strv_free(v);
        snprintf(t + o, cap - o, ":/a");
        cr_assert_eq(lowers(t, &v), -E2BIG);
        free(t);
}

Test(env, port) {
        unsigned p = 0;

        cr_assert_eq(env_parse_port("L4D2_PORT=27015\n", 16, &p), 0);
        cr_assert_eq(p, 27015);
        cr_assert_eq(env_parse_port("L4D2_PORT=\n", 11, &p), -EINVAL);
        cr_assert_eq(env_parse_port("L4D2_PORT=0\n", 12, &p), -EINVAL);
        cr_assert_eq(env_parse_port("L4D2_PORT=70000\n", 16, &p), -EINVAL);
        cr_assert_eq(env_parse_port("L4D2_PORT=1a\n", 13, &p), -EINVAL);
        cr_assert_eq(env_parse_port("L4D2_ARGS=x\n", 12, &p), -ENOENT);
}
