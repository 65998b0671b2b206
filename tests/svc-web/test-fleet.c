/* Unit tests of blueprints, servers and overlays in web.db (svc-web/webd-fleet.c,
 * svc-web/webd-overlays.c), port allocation,
 * and spec rendering against original-left4me.md §3.2 (svc-web/webd-spec.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "proto/spec.h"
#include "svc-web/webd-db.h"
#include "svc-web/webd-fleet.h"
#include "svc-web/webd-overlays.h"
#include "svc-web/webd-spec.h"

static char dir[64], path[128];
static struct webd_db *db;
static int64_t alice, bob;

static void setup(void) {
        snprintf(dir, sizeof(dir), "/tmp/test-webd-fleet-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/web.db", dir);
        cr_assert_eq(webd_db_open(path, &db), 0);
        cr_assert_eq(webd_db_user_create(db, "alice", "h", false, false, 1, NULL, &alice), 0);
        cr_assert_eq(webd_db_user_create(db, "bob", "h", false, false, 1, NULL, &bob), 0);
}

static void teardown(void) {
        char p[160];

        db = webd_db_close(db);
        for (const char *const *s = (const char *const[]){"", "-wal", "-shm", NULL}; *s; s++) {
                snprintf(p, sizeof(p), "%s%s", path, *s);
                (void) unlink(p);
        }
        (void) rmdir(dir);
}

TestSuite(fleet, .init = setup, .fini = teardown);

static int64_t blueprint(int64_t owner, const char *name, size_t n, const char *const *overlays) {
        struct webd_blueprint b = {.owner_id = owner, .name = (char *) name, .arguments = "", .config = ""};
        int64_t id = 0;

        b.n_overlays = n;
        for (size_t i = 0; i < n; i++)
                snprintf(b.overlays[i].id, sizeof(b.overlays[i].id), "%s", overlays[i]);
        cr_assert_eq(webd_db_blueprint_create(db, &b, 5, NULL, &id), 0);
        return id;
}

static int64_t server(int64_t owner, int64_t bp, const char *name, unsigned port, unsigned *ret_port) {
        struct webd_server s = {.owner_id = owner,
                                .blueprint_id = bp,
                                .name = (char *) name,
                                .rcon_password = "pw",
                                .port = port};
        int64_t id = 0;

        cr_assert_eq(webd_db_server_create(db, &s, 27015, 27020, NULL, 0, 7, NULL, &id, ret_port), 0);
        return id;
}

Test(fleet, blueprint_round_trip_keeps_overlay_order) {
        const char *ov[] = {"top", "middle", "bottom"};
        int64_t id = blueprint(alice, "Versus", 3, ov);
        struct webd_blueprint b = {};

        cr_assert_eq(webd_db_blueprint_get(db, id, &b), 0);
        cr_assert_str_eq(b.name, "Versus");
        cr_assert_str_eq(b.owner_name, "alice");
        cr_assert_eq(b.n_overlays, 3);
        cr_assert_str_eq(b.overlays[0].id, "top");
        cr_assert_str_eq(b.overlays[2].id, "bottom");
        /* Reorder and expose: the stored order is the submitted order. */
        snprintf(b.overlays[0].id, sizeof(b.overlays[0].id), "bottom");
        snprintf(b.overlays[2].id, sizeof(b.overlays[2].id), "top");
        b.overlays[1].expose = true;
        cr_assert_eq(webd_db_blueprint_update(db, &b, 9, NULL), 0);
        webd_blueprint_done(&b);
        cr_assert_eq(webd_db_blueprint_get(db, id, &b), 0);
        cr_assert_str_eq(b.overlays[0].id, "bottom");
        cr_assert(b.overlays[1].expose);
        cr_assert_eq(b.updated_usec, 9);
        webd_blueprint_done(&b);
}

Test(fleet, blueprint_names_unique_per_owner) {
        struct webd_blueprint b = {.owner_id = alice, .name = "Same"};
        int64_t id;

        blueprint(alice, "Same", 0, NULL);
        cr_assert_eq(webd_db_blueprint_create(db, &b, 5, NULL, &id), -EEXIST);
        b.owner_id = bob;
        cr_assert_eq(webd_db_blueprint_create(db, &b, 5, NULL, &id), 0);
        /* A duplicate overlay is refused, and nothing is stored. */
        b.name = "Dup";
        b.n_overlays = 2;
        snprintf(b.overlays[0].id, sizeof(b.overlays[0].id), "x");
        snprintf(b.overlays[1].id, sizeof(b.overlays[1].id), "x");
        cr_assert_eq(webd_db_blueprint_create(db, &b, 5, NULL, &id), -EINVAL);
}

Test(fleet, blueprint_in_use_is_not_deleted) {
        int64_t bp = blueprint(alice, "A", 0, NULL), sid = server(alice, bp, "one", 0, NULL);
        struct webd_blueprint b = {};

        cr_assert_eq(webd_db_blueprint_delete(db, bp, NULL), -EBUSY);
        cr_assert_eq(webd_db_blueprint_get(db, bp, &b), 0);
        cr_assert_eq(b.n_servers, 1);
        webd_blueprint_done(&b);
        cr_assert_eq(webd_db_server_delete(db, sid, NULL), 0);
        cr_assert_eq(webd_db_blueprint_delete(db, bp, NULL), 0);
        cr_assert_eq(webd_db_blueprint_get(db, bp, &b), -ENOENT);
}

Test(fleet, ports_are_allocated_unique_and_bounded) {
        int64_t bp = blueprint(alice, "A", 0, NULL);
        struct webd_server s = {.owner_id = alice, .blueprint_id = bp, .name = "x", .rcon_password = "pw"};
        unsigned host[] = {27016}, port = 0;
        int64_t id;

        server(alice, bp, "a", 0, &port);
        cr_assert_eq(port, 27015);
        /* The host's port 27016 is skipped. */
        s.name = "b";
        cr_assert_eq(webd_db_server_create(db, &s, 27015, 27020, host, 1, 7, NULL, &id, &port), 0);
        cr_assert_eq(port, 27017);
        /* An explicit port: taken in web.db, taken on the host, outside the range. */
        s.name = "c";
        s.port = 27015;
        cr_assert_eq(webd_db_server_create(db, &s, 27015, 27020, host, 1, 7, NULL, &id, &port), -EADDRINUSE);
        s.port = 27016;
        cr_assert_eq(webd_db_server_create(db, &s, 27015, 27020, host, 1, 7, NULL, &id, &port), -EADDRINUSE);
        s.port = 28000;
        cr_assert_eq(webd_db_server_create(db, &s, 27015, 27020, host, 1, 7, NULL, &id, &port), -ERANGE);
        /* Exhaust the range: 27018..27020 left. */
        s.port = 0;
        for (int i = 0; i < 3; i++) {
                char name[8];
                snprintf(name, sizeof(name), "f%d", i);
                s.name = name;
                cr_assert_eq(webd_db_server_create(db, &s, 27015, 27020, host, 1, 7, NULL, &id, &port), 0);
        }
        s.name = "last";
        cr_assert_eq(webd_db_server_create(db, &s, 27015, 27020, host, 1, 7, NULL, &id, &port), -ENOSPC);
        cr_assert_eq(webd_port_pick(10, 12, (unsigned[]){10, 11}, 2, (unsigned[]){12}, 1), 0);
        cr_assert_eq(webd_port_pick(10, 12, (unsigned[]){11}, 1, NULL, 0), 10);
        cr_assert_eq(webd_port_pick(0, 12, NULL, 0, NULL, 0), 0);
}

Test(fleet, server_names_unique_per_owner_and_blueprint_must_be_the_owners) {
        int64_t a = blueprint(alice, "A", 0, NULL), b = blueprint(bob, "B", 0, NULL), id;
        struct webd_server s = {.owner_id = alice, .blueprint_id = a, .name = "dup", .rcon_password = "pw"};
        struct webd_server got = {};

        server(alice, a, "dup", 0, NULL);
        cr_assert_eq(webd_db_server_create(db, &s, 27015, 27020, NULL, 0, 7, NULL, &id, NULL), -EEXIST);
        /* Bob's blueprint under alice's server: refused, as if it did not exist. */
        s.name = "other";
        s.blueprint_id = b;
        cr_assert_eq(webd_db_server_create(db, &s, 27015, 27020, NULL, 0, 7, NULL, &id, NULL), -ENOENT);
        s.owner_id = bob;
        s.name = "dup";
        cr_assert_eq(webd_db_server_create(db, &s, 27015, 27020, NULL, 0, 7, NULL, &id, NULL), 0);
        /* Reassigning alice's server to bob's blueprint fails too. */
        cr_assert_eq(webd_db_server_get(db, 1, &got), 0);
        got.blueprint_id = b;
        cr_assert_eq(webd_db_server_update(db, &got, 9, NULL), -ENOENT);
        webd_server_done(&got);
        cr_assert_eq(webd_db_server_get(db, 1, &got), 0);
        cr_assert_eq(got.blueprint_id, a);
        webd_server_done(&got);
}

Test(fleet, desired_state_and_owner_counts) {
        int64_t bp = blueprint(alice, "A", 0, NULL), sid = server(alice, bp, "s", 0, NULL);
        struct webd_server s = {};
        unsigned ns = 9, nb = 9;

        cr_assert_eq(webd_db_server_set_desired(db, sid, WEBD_DESIRED_RUNNING, 42, "abc", 10, NULL), 0);
        cr_assert_eq(webd_db_server_set_desired(db, sid, WEBD_DESIRED_STOPPED, 43, NULL, 11, NULL), 0);
        cr_assert_eq(webd_db_server_get(db, sid, &s), 0);
        cr_assert_eq(s.desired, WEBD_DESIRED_STOPPED);
        cr_assert_eq(s.last_job_id, 43);
        cr_assert_str_eq(s.run_spec_hash, "abc"); /* a stop keeps the hash of the last start */
        webd_server_done(&s);
        cr_assert_eq(webd_db_server_set_desired(db, 999, WEBD_DESIRED_RUNNING, 1, NULL, 1, NULL), -ENOENT);
        cr_assert_eq(webd_db_user_owns(db, alice, &ns, &nb), 0);
        cr_assert_eq(ns, 1);
        cr_assert_eq(nb, 1);
        cr_assert_eq(webd_db_user_owns(db, bob, &ns, &nb), 0);
        cr_assert_eq(ns + nb, 0);
        /* A user who owns rows is not deleted behind the page's back. */
        cr_assert_neq(webd_db_user_delete(db, alice, NULL), 0);
}

/* ---- spec rendering --------------------------------------------------------------------- */

static struct webd_blueprint spec_bp(void) {
        struct webd_blueprint b = {.name = "V",
                                   .arguments = " +map  c1m1_hotel\t-tickrate 60 ",
                                   .config = "sv_cheats 0\r\n\nsv_region \"3\"\n",
                                   .n_overlays = 3};
        snprintf(b.overlays[0].id, sizeof(b.overlays[0].id), "top");
        snprintf(b.overlays[1].id, sizeof(b.overlays[1].id), "mid");
        snprintf(b.overlays[2].id, sizeof(b.overlays[2].id), "bottom");
        b.overlays[0].expose = b.overlays[2].expose = true;
        return b;
}

Test(fleet, an_adopted_server_keeps_its_instance_name) {
        int64_t bp = blueprint(alice, "Bp", 0, NULL), web = server(alice, bp, "web one", 0, NULL), id = 0;
        struct webd_server s = {.owner_id = alice,
                                .blueprint_id = bp,
                                .name = "demo",
                                .rcon_password = "pw",
                                .port = 40000, /* outside the range: an adopted one keeps its port */
                                .instance = "demo"};
        struct webd_server got = {};
        char name[80], want[32];

        cr_assert_eq(webd_db_server_create(db, &s, 1, 65535, NULL, 0, 7, NULL, &id, NULL), 0);
        cr_assert_eq(webd_db_server_get(db, id, &got), 0);
        cr_assert_str_eq(got.instance, "demo");
        webd_server_done(&got);
        cr_assert_eq(webd_db_server_get(db, web, &got), 0);
        webd_host_name(web, want, sizeof(want));
        cr_assert_str_eq(got.instance, want);
        webd_server_done(&got);
        cr_assert_eq(webd_db_server_id_of(db, "demo"), id);
        cr_assert_eq(webd_db_server_id_of(db, want), web);
        webd_host_name(id, want, sizeof(want));
        cr_assert_eq(webd_db_server_id_of(db, want), 0, "an adopted server is not web-<its id>");
        cr_assert_eq(webd_db_server_id_of(db, "nosuch"), 0);
        cr_assert_eq(webd_db_server_instance(db, id, name, sizeof(name)), 0);
        cr_assert_str_eq(name, "demo");
        cr_assert_eq(webd_db_server_instance(db, 9999, name, sizeof(name)), -ENOENT);
        /* One server per instance; never one of webd's own names; a name l4d2ctl could make. */
        s.name = "demo 2", s.port = 40001;
        cr_assert_eq(webd_db_server_create(db, &s, 1, 65535, NULL, 0, 7, NULL, &id, NULL), -EEXIST);
        s.instance = "web-77";
        cr_assert_eq(webd_db_server_create(db, &s, 1, 65535, NULL, 0, 7, NULL, &id, NULL), -EINVAL);
        s.instance = "../etc";
        cr_assert_eq(webd_db_server_create(db, &s, 1, 65535, NULL, 0, 7, NULL, &id, NULL), -EINVAL);
}

static int64_t overlay(int64_t owner, const char *name) {
        struct webd_overlay o = {.owner_id = owner, .type = WEBD_OVERLAY_SCRIPT, .name = (char *) name};
        int64_t id = 0;

        cr_assert_eq(webd_db_overlay_create(db, &o, 3, NULL, &id), 0);
        return id;
}

static int count_cb(const struct webd_overlay *o, void *userdata) {
        (*(unsigned *) userdata)++;
        cr_assert_null(o->script); /* lists come without scripts */
        return 0;
}

Test(fleet, overlay_names_unique_per_scope_and_lists_by_viewer) {
        struct webd_overlay dup = {.owner_id = alice, .type = WEBD_OVERLAY_SCRIPT, .name = "Maps"};
        struct webd_overlay sys = {.owner_id = 0, .type = WEBD_OVERLAY_SCRIPT, .name = "Maps"};
        int64_t a = overlay(alice, "Maps"), id = 0;
        unsigned n = 0;

        cr_assert_gt(a, 0);
        cr_assert_eq(webd_db_overlay_create(db, &dup, 3, NULL, &id), -EEXIST);
        overlay(bob, "Maps");                                            /* another owner: fine */
        cr_assert_eq(webd_db_overlay_create(db, &sys, 3, NULL, &id), 0); /* the system scope: fine */
        cr_assert_eq(webd_db_overlay_create(db, &sys, 3, NULL, &id), -EEXIST);
        sys.name = "";
        cr_assert_eq(webd_db_overlay_create(db, &sys, 3, NULL, &id), -EINVAL);
        sys.name = "x", sys.type = _WEBD_OVERLAY_TYPE_MAX;
        cr_assert_eq(webd_db_overlay_create(db, &sys, 3, NULL, &id), -EINVAL);
        dup.owner_id = 9999; /* no such user */
        dup.name = "Orphan";
        cr_assert_eq(webd_db_overlay_create(db, &dup, 3, NULL, &id), -ENOENT);
        cr_assert_eq(webd_db_overlay_list(db, alice, false, count_cb, &n), 0);
        cr_assert_eq(n, 2); /* alice's and the system one, not bob's */
        n = 0;
        cr_assert_eq(webd_db_overlay_list(db, alice, true, count_cb, &n), 0);
        cr_assert_eq(n, 3);
        cr_assert_eq(webd_db_overlay_update(db, a, "Maps 2", "echo hi\n", 4, NULL), 0);
        {
                struct webd_overlay o = {};
                cr_assert_eq(webd_db_overlay_get(db, a, &o), 0);
                cr_assert_str_eq(o.name, "Maps 2");
                cr_assert_str_eq(o.script, "echo hi\n");
                cr_assert_str_eq(o.owner_name, "alice");
                webd_overlay_done(&o);
        }
        cr_assert_eq(webd_db_overlay_update(db, a, "Maps 2", NULL, 5, NULL),
                     0); /* rename keeps the script */
        cr_assert_eq(webd_db_overlay_update(db, 9999, "x", NULL, 5, NULL), -ENOENT);
        cr_assert_eq(webd_db_overlay_get(db, 9999, &dup), -ENOENT);
}

Test(fleet, a_blueprint_stacks_only_overlays_its_owner_may_use) {
        int64_t mine = overlay(alice, "Mine"), theirs = overlay(bob, "Theirs"), id = 0;
        struct webd_overlay s = {.type = WEBD_OVERLAY_SCRIPT, .name = "Sys"};
        char ref[32];
        const char *refs[1] = {ref};
        struct webd_blueprint b = {
                .owner_id = alice, .name = "B", .arguments = "", .config = "", .n_overlays = 1};
        unsigned n = 0;

        cr_assert_eq(webd_db_overlay_create(db, &s, 3, NULL, &id), 0);
        webd_host_name(theirs, b.overlays[0].id, sizeof(b.overlays[0].id));
        cr_assert_eq(webd_db_blueprint_create(db, &b, 5, NULL, NULL), -EACCES);
        webd_host_name(id, ref, sizeof(ref));
        blueprint(alice, "With system", 1, refs);
        webd_host_name(mine, ref, sizeof(ref));
        int64_t bp = blueprint(alice, "With mine", 1, refs);
        cr_assert_eq(webd_db_overlay_usable(db, mine, alice), 1);
        cr_assert_eq(webd_db_overlay_usable(db, mine, bob), 0);
        cr_assert_eq(webd_db_overlay_usable(db, 9999, alice), 0);
        /* In use: neither deleted nor marked for deletion. */
        cr_assert_eq(webd_db_overlay_delete(db, mine, NULL), -EBUSY);
        cr_assert_eq(webd_db_overlay_set_deleting(db, mine, 7, 6, NULL), -EBUSY);
        {
                struct webd_blueprint cur = {};
                cr_assert_eq(webd_db_blueprint_get(db, bp, &cur), 0);
                cur.n_overlays = 0;
                cr_assert_eq(webd_db_blueprint_update(db, &cur, 6, NULL), 0);
                webd_blueprint_done(&cur);
        }
        /* Being removed: no longer stacked by a new save. */
        cr_assert_eq(webd_db_overlay_set_deleting(db, mine, 7, 6, NULL), 0);
        cr_assert_eq(webd_db_overlay_usable(db, mine, alice), 0);
        webd_host_name(mine, b.overlays[0].id, sizeof(b.overlays[0].id));
        b.name = "Late";
        cr_assert_eq(webd_db_blueprint_create(db, &b, 5, NULL, NULL), -EACCES);
        cr_assert_eq(webd_db_user_overlays(db, alice, &n), 0);
        cr_assert_eq(n, 1);
        cr_assert_eq(webd_db_overlay_delete(db, mine, NULL), 0);
        cr_assert_eq(webd_db_overlay_delete(db, mine, NULL), -ENOENT);
        cr_assert_eq(webd_db_user_overlays(db, alice, &n), 0);
        cr_assert_eq(n, 0);
}

Test(fleet, seeding_is_idempotent_and_keeps_ids) {
        struct webd_overlay o = {};
        int64_t id1 = 0, id2 = 0;
        bool created = false;

        cr_assert_eq(webd_db_overlay_seed(db, "Tickrate", "v1", 3, NULL, &id1, &created), 0);
        cr_assert(created);
        cr_assert_eq(webd_db_overlay_seed(db, "Tickrate", "v2", 4, NULL, &id2, &created), 0);
        cr_assert_not(created);
        cr_assert_eq(id1, id2);
        cr_assert_eq(webd_db_overlay_get(db, id1, &o), 0);
        cr_assert_str_eq(o.script, "v2");
        cr_assert_eq(o.owner_id, 0);
        webd_overlay_done(&o);
        /* A private overlay of that name is not the system one. */
        overlay(alice, "Other");
        cr_assert_eq(webd_db_overlay_seed(db, "Other", "x", 5, NULL, &id2, &created), 0);
        cr_assert(created);
        cr_assert_neq(id2, id1);
}

Test(spec, renders_section_3_2_in_order) {
        struct webd_blueprint b = spec_bp();
        struct webd_server s = {
                .name = "My \"srv\"", .owner_name = "alice", .port = 27016, .rcon_password = "Rc0n"};
        struct instance_spec p = {};
        struct rpc_error e = {};
        char *text = NULL, err[256];

        cr_assert_eq(webd_spec_render(&b, &s, &text, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(spec_parse(text, strlen(text), 1, 65535, &p, &e), 0, "%s", e.message);
        cr_assert_eq(p.port, 27016);
        cr_assert_eq(p.n_overlays, 3);
        cr_assert_str_eq(p.overlays[0].path, "top");
        cr_assert_str_eq(p.overlays[0].alias, "overlay_top");
        cr_assert_null(p.overlays[1].alias);
        cr_assert_str_eq(p.overlays[2].alias, "overlay_bottom");
        cr_assert_str_eq(p.arguments[0], "+map");
        cr_assert_str_eq(p.arguments[1], "c1m1_hotel");
        cr_assert_str_eq(p.arguments[3], "60");
        cr_assert_null(p.arguments[4]);
        /* exec lines bottom first (the top layer's cfg runs last and wins), then the
         * blueprint's lines, the hostname, and rcon_password last. */
        cr_assert_str_eq(p.config[0], "exec server_overlay_bottom");
        cr_assert_str_eq(p.config[1], "exec server_overlay_top");
        cr_assert_str_eq(p.config[2], "sv_cheats 0");
        cr_assert_str_eq(p.config[3], "sv_region \"3\"");
        cr_assert_str_eq(p.config[4], "hostname \"alice My 'srv'\"");
        cr_assert_str_eq(p.config[5], "rcon_password \"Rc0n\"");
        cr_assert_null(p.config[6]);
        instance_spec_done(&p);
        free(text);

        s.hostname = "Custom host";
        cr_assert_eq(webd_spec_render(&b, &s, &text, err, sizeof(err)), 0);
        cr_assert(strstr(text, "hostname \\\"Custom host\\\""), "%s", text);
        free(text);
}

Test(spec, empty_blueprint_renders) {
        struct webd_blueprint b = {.name = "E"};
        struct webd_server s = {.name = "n", .owner_name = "u", .port = 27015, .rcon_password = "x"};
        char *text = NULL, err[256];
        char h1[WEBD_SPEC_HASH_HEX], h2[WEBD_SPEC_HASH_HEX];

        cr_assert_eq(webd_spec_render(&b, &s, &text, err, sizeof(err)), 0, "%s", err);
        cr_assert(strstr(text, "overlays: []\narguments: []\n"), "%s", text);
        webd_spec_hash(text, h1);
        webd_spec_hash("other", h2);
        cr_assert_eq(strlen(h1), 32);
        cr_assert_str_neq(h1, h2);
        free(text);
}

Test(spec, blueprint_checks_name_the_problem) {
        struct webd_blueprint b = spec_bp();
        char err[256];

        cr_assert_eq(webd_check_blueprint(&b, err, sizeof(err)), 0);
        b.arguments = "+hostport 1";
        cr_assert_eq(webd_check_blueprint(&b, err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "hostport"), "%s", err);
        b.arguments = "$(reboot)";
        cr_assert_eq(webd_check_blueprint(&b, err, sizeof(err)), -EINVAL);
        b.arguments = "";
        b.config = "ok\nbad\x01line";
        cr_assert_eq(webd_check_blueprint(&b, err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "line 2"), "%s", err);
        b.config = "";
        snprintf(b.overlays[1].id, sizeof(b.overlays[1].id), "top");
        cr_assert_eq(webd_check_blueprint(&b, err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "twice"), "%s", err);
        snprintf(b.overlays[1].id, sizeof(b.overlays[1].id), "../etc");
        cr_assert_eq(webd_check_blueprint(&b, err, sizeof(err)), -EINVAL);
}

Test(spec, names_and_hostnames) {
        char big[200];

        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        cr_assert_null(webd_check_name("<script>alert(1)</script>"));
        cr_assert_null(webd_check_name("it's \"quoted\" — ünïcode"));
        cr_assert_not_null(webd_check_name(""));
        cr_assert_not_null(webd_check_name(big));
        cr_assert_not_null(webd_check_name("evil\u202Egnp.exe"));
        cr_assert_not_null(webd_check_name("tab\there"));
        cr_assert_not_null(webd_check_name("\xff\xfe"));
        cr_assert_null(webd_check_hostname(""));
        cr_assert_not_null(webd_check_hostname("a\"b"));
}

Test(spec, instance_names) {
        char buf[32];

        webd_host_name(42, buf, sizeof(buf));
        cr_assert_str_eq(buf, "web-42");
        cr_assert(server_name_is_valid(buf));
        cr_assert_eq(webd_host_id("web-42"), 42);
        cr_assert_eq(webd_host_id("web-042"), 0);
        cr_assert_eq(webd_host_id("web-"), 0);
        cr_assert_eq(webd_host_id("web-4x"), 0);
        cr_assert_eq(webd_host_id("demo"), 0);
}

static int count_object(const struct webd_audit *a, void *userdata) {
        (*(int *) userdata)++;
        return 0;
}

/* A create's audit entry names the row it made (the caller passes a placeholder), so the
 * server's, blueprint's and overlay's own history starts with their creation. */
Test(fleet, create_entries_name_the_new_row) {
        struct webd_audit a = {
                .at_usec = 1, .actor = "alice", .kind = "x.create", .object = "x:new", .result = "ok"};
        struct webd_blueprint b = {.owner_id = alice, .name = "audited", .arguments = "", .config = ""};
        struct webd_server s = {.owner_id = alice, .name = "audited", .rcon_password = "pw"};
        struct webd_overlay o = {.owner_id = alice, .type = WEBD_OVERLAY_FILES, .name = "audited"};
        int64_t bp = 0, sid = 0, ov = 0;
        char want[3][48];
        int n;

        cr_assert_eq(webd_db_blueprint_create(db, &b, 5, &a, &bp), 0);
        s.blueprint_id = bp;
        cr_assert_eq(webd_db_server_create(db, &s, 27015, 27020, NULL, 0, 7, &a, &sid, NULL), 0);
        cr_assert_eq(webd_db_overlay_create(db, &o, 8, &a, &ov), 0);
        snprintf(want[0], sizeof(want[0]), "blueprint:%lld", (long long) bp);
        snprintf(want[1], sizeof(want[1]), "server:%lld", (long long) sid);
        snprintf(want[2], sizeof(want[2]), "overlay:%lld", (long long) ov);
        for (int i = 0; i < 3; i++) {
                n = 0;
                cr_assert_eq(webd_db_audit_query(db, &(struct webd_audit_filter){.object = want[i]},
                                                 count_object, &n, NULL),
                             0);
                cr_assert_eq(n, 1, "no entry for %s", want[i]);
        }
        n = 0;
        cr_assert_eq(webd_db_audit_query(db, &(struct webd_audit_filter){.object = "x:new"}, count_object,
                                         &n, NULL),
                     0);
        cr_assert_eq(n, 0, "a placeholder object was stored");
}
