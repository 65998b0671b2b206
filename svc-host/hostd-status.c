/* instance.status and instance.list: see hostd.h. Reads never take the instance lock. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "base/util.h"
#include "proto/args.h"
#include "proto/map.h"
#include "svc-host/hostd-instance.h"
#include "svc-host/hostd-overlay.h"
#include "svc-host/hostd-systemd.h"
#include "svc-host/hostd.h"

/* What the game itself says (A2S) is not asked here: the game runs community plugins, and
 * hostd, as root, parses nothing it sends. l4d2ctl and webd query it themselves. */
#define LIST_MAX 1000u

/* ---- status / list ---------------------------------------------------------------------- */

struct status_req {
        struct hostd *h;
        char name[NAME_LEN_MAX + 1];
        char unit[UNIT_NAME_MAX];
        struct instance_files files;
        bool have_unit;
        bool brief; /* states only (instance.list {brief}): no per-unit properties read */
        struct unit_status st;
        char systemd_error[256];
        void (*done)(struct status_req *s, void *userdata);
        void *userdata;
};

static const char *derived_state(const struct status_req *s) {
        const char *a = s->st.active_state;

        if (!s->have_unit)
                return "unknown";
        if (streq(a, "active"))
                return "running";
        if (streq(a, "activating") || streq(a, "reloading"))
                return "starting";
        if (streq(a, "deactivating"))
                return "stopping";
        if (streq(a, "failed"))
                return "failed";
        if (streq(a, "inactive"))
                return "stopped";
        return "unknown";
}

/* Nothing of the instance exists: no files and no unit systemd keeps state for. */
static bool status_is_absent(const struct status_req *s) {
        if (s->files.initialized || s->files.runtime)
                return false;
        if (!s->have_unit)
                return true;
        return (streq(s->st.active_state, "inactive") || streq(s->st.active_state, "")) &&
               !streq(s->st.unit_file_state, "enabled");
}

static void pack_str_or_nil(msgpack_packer *pk, const char *key, const char *v, bool have) {
        if (have && v && *v)
                rpc_pack_kv_str(pk, key, v);
        else
                rpc_pack_kv_nil(pk, key);
}

/* What the mounted run stacks, from runtime/NAME/layers (written by the mount): nil when not
 * mounted, or mounted without a record (by an older hostd). */
static void pack_layers(msgpack_packer *pk, const struct status_req *s) {
        _cleanup_close_ int rootfd = -1, rfd = -1, nfd = -1;
        _cleanup_free_ struct overlay_layer *l = NULL;
        size_t n = 0;

        rpc_pack_key(pk, "overlays");
        if (s->files.mounted) {
                rootfd = root_open(s->h->cfg->root);
                if (rootfd >= 0)
                        rfd = trusted_dir_open(rootfd, "runtime");
                if (rfd >= 0)
                        nfd = dir_open_nofollow(rfd, s->name);
        }
        if (nfd < 0 || layers_read(nfd, &l, &n) < 0) {
                msgpack_pack_nil(pk);
                return;
        }
        msgpack_pack_array(pk, n);
        for (size_t i = 0; i < n; i++) {
                struct rpc_map map;
                msgpack_packer *mpk = rpc_map_begin(&map, pk);
                rpc_pack_kv_str(mpk, "id", l[i].id);
                rpc_pack_kv_uint(mpk, "generation", l[i].generation);
                (void) rpc_map_end(&map);
        }
}

static void pack_status(msgpack_packer *pk, const struct status_req *s) {
        const struct unit_status *st = &s->st;
        bool u = s->have_unit;

        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, pk);
        rpc_pack_kv_str(mpk, "name", s->name);
        rpc_pack_kv_str(mpk, "unit", s->unit);
        rpc_pack_kv_str(mpk, "state", derived_state(s));
        rpc_pack_kv_bool(mpk, "initialized", s->files.initialized);
        rpc_pack_kv_bool(mpk, "mounted", s->files.mounted);
        if (s->files.port)
                rpc_pack_kv_uint(mpk, "port", s->files.port);
        else
                rpc_pack_kv_nil(mpk, "port");
        pack_str_or_nil(mpk, "active_state", st->active_state, u);
        pack_str_or_nil(mpk, "sub_state", st->sub_state, u);
        pack_str_or_nil(mpk, "load_state", st->load_state, u);
        pack_str_or_nil(mpk, "unit_file_state", st->unit_file_state, u);
        if (u && !s->brief)
                rpc_pack_kv_bool(mpk, "enabled", streq(st->unit_file_state, "enabled"));
        else
                rpc_pack_kv_nil(mpk, "enabled");
        pack_str_or_nil(mpk, "invocation_id", st->invocation_id, u);
        if (u && st->main_pid > 0)
                rpc_pack_kv_uint(mpk, "main_pid", st->main_pid);
        else
                rpc_pack_kv_nil(mpk, "main_pid");
        {
                uint64_t since = streq(st->active_state, "active") && st->active_enter_usec
                                         ? st->active_enter_usec
                                         : st->since_usec;
                if (u && since > 0)
                        rpc_pack_kv_uint(mpk, "since_usec", since);
                else
                        rpc_pack_kv_nil(mpk, "since_usec");
        }
        if (u && !s->brief)
                rpc_pack_kv_uint(mpk, "restarts", st->n_restarts);
        else
                rpc_pack_kv_nil(mpk, "restarts");
        if (u && st->memory_bytes != UINT64_MAX)
                rpc_pack_kv_uint(mpk, "memory_bytes", st->memory_bytes);
        else
                rpc_pack_kv_nil(mpk, "memory_bytes");
        if (u && st->cpu_nsec != UINT64_MAX)
                rpc_pack_kv_uint(mpk, "cpu_usec", st->cpu_nsec / 1000);
        else
                rpc_pack_kv_nil(mpk, "cpu_usec");
        pack_str_or_nil(mpk, "systemd_error", s->systemd_error, true);
        pack_layers(mpk, s);
        (void) rpc_map_end(&map);
}

static void on_unit_status(int r, const struct unit_status *st, const char *message, void *userdata) {
        struct status_req *s = userdata;

        if (r < 0)
                snprintf(s->systemd_error, sizeof(s->systemd_error), "%s", message ?: strerror(-r));
        else {
                s->st = *st;
                s->have_unit = true;
        }
        s->done(s, s->userdata);
}

/* Gathers one instance's status; calls done exactly once (possibly before returning). */
static void status_gather(struct status_req *s) {
        int r;

        (void) server_unit_name(s->name, s->unit, sizeof(s->unit));
        s->st.memory_bytes = UINT64_MAX;
        s->st.cpu_nsec = UINT64_MAX;
        (void) instance_inspect(s->h->cfg->root, s->name, &s->files);
        r = unit_get_status(s->h->bus, s->unit, on_unit_status, s);
        if (r < 0) {
                snprintf(s->systemd_error, sizeof(s->systemd_error), "systemd is unreachable: %s",
                         strerror(-r));
                s->done(s, s->userdata);
        }
}

struct status_call {
        struct rpc_call *call;
        struct status_req req;
};

static void on_status_done(struct status_req *s, void *userdata) {
        struct status_call *c = userdata;

        if (status_is_absent(s))
                (void) rpc_call_fail(c->call, RPC_NOT_FOUND, "instance '%s' does not exist", s->name);
        else {
                pack_status(rpc_call_result(c->call), s);
                (void) rpc_call_reply(c->call);
        }
        rpc_server_busy_unref(daemon_server(s->h->daemon));
        free(c);
}

int hostd_method_status(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct hostd *h = userdata;
        struct name_args a = {};
        struct status_call *c;
        int r;

        r = method_name_args(h, call, params, &a);
        if (r < 0)
                return r;
        c = calloc(1, sizeof(*c));
        if (!c) {
                r = rpc_call_fail(call, RPC_INTERNAL, "out of memory");
                goto finish;
        }
        c->call = call;
        c->req.h = h;
        c->req.done = on_status_done;
        c->req.userdata = c;
        snprintf(c->req.name, sizeof(c->req.name), "%s", a.name);
        rpc_call_defer(call);
        rpc_server_busy_ref(daemon_server(h->daemon));
        status_gather(&c->req);
        r = 0;
finish:
        name_args_free(&a);
        return r;
}

struct list_call {
        struct hostd *h;
        struct rpc_call *call;
        size_t n, pending;
        bool started;
        struct status_req *reqs;
};

static void list_maybe_done(struct list_call *l) {
        msgpack_packer *pk;

        if (!l->started || l->pending > 0)
                return;
        pk = rpc_call_result(l->call);
        msgpack_pack_array(pk, l->n);
        for (size_t i = 0; i < l->n; i++)
                pack_status(pk, &l->reqs[i]);
        (void) rpc_call_reply(l->call);
        rpc_server_busy_unref(daemon_server(l->h->daemon));
        free(l->reqs);
        free(l);
}

static void on_list_item_done(struct status_req *s, void *userdata) {
        struct list_call *l = userdata;

        l->pending--;
        list_maybe_done(l);
}

/* The brief list: every instance's files, and one ListUnitsByPatterns for all the states. */
static void on_list_states(int r, const struct unit_brief *v, size_t n, const char *message,
                           void *userdata) {
        struct list_call *l = userdata;

        for (size_t i = 0; i < l->n; i++) {
                struct status_req *s = &l->reqs[i];
                if (r < 0) {
                        snprintf(s->systemd_error, sizeof(s->systemd_error), "%s", message ?: strerror(-r));
                        continue;
                }
                s->have_unit = true;
                /* Not listed: not loaded, so inactive (systemd would load it only to say so). */
                snprintf(s->st.active_state, sizeof(s->st.active_state), "inactive");
                snprintf(s->st.sub_state, sizeof(s->st.sub_state), "dead");
                for (size_t j = 0; j < n; j++)
                        if (streq(v[j].name, s->unit)) {
                                snprintf(s->st.load_state, sizeof(s->st.load_state), "%s", v[j].load_state);
                                snprintf(s->st.active_state, sizeof(s->st.active_state), "%s",
                                         v[j].active_state);
                                snprintf(s->st.sub_state, sizeof(s->st.sub_state), "%s", v[j].sub_state);
                                break;
                        }
        }
        l->pending = 0;
        list_maybe_done(l);
}

struct list_args {
        bool brief;
};

static const struct rpc_arg list_args_table[] = {
        {"brief", RPC_ARG_BOOL, 0, offsetof(struct list_args, brief), 0, 0, 0, NULL},
};

int hostd_method_list(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct hostd *h = userdata;
        _cleanup_strv_free_ char **names = NULL;
        struct list_args a = {};
        struct list_call *l;
        int r;

        r = method_args(h, call, params, list_args_table, ELEMENTSOF(list_args_table), &a);
        if (r < 0)
                return r;
        r = instance_list(h->cfg->root, &names);
        if (r < 0)
                return rpc_call_fail(call, RPC_INTERNAL, "cannot list %s/instances: %s", h->cfg->root,
                                     strerror(-r));
        l = calloc(1, sizeof(*l));
        if (!l)
                return rpc_call_fail(call, RPC_INTERNAL, "out of memory");
        l->h = h;
        l->call = call;
        l->n = MIN(strv_length(names), LIST_MAX);
        l->reqs = calloc(l->n + 1, sizeof(struct status_req));
        if (!l->reqs) {
                free(l);
                return rpc_call_fail(call, RPC_INTERNAL, "out of memory");
        }
        rpc_call_defer(call);
        rpc_server_busy_ref(daemon_server(h->daemon));
        if (a.brief) {
                for (size_t i = 0; i < l->n; i++) {
                        struct status_req *s = &l->reqs[i];
                        s->h = h;
                        s->brief = true;
                        snprintf(s->name, sizeof(s->name), "%s", names[i]);
                        (void) server_unit_name(s->name, s->unit, sizeof(s->unit));
                        s->st.memory_bytes = UINT64_MAX;
                        s->st.cpu_nsec = UINT64_MAX;
                        (void) instance_inspect(h->cfg->root, s->name, &s->files);
                }
                l->started = true;
                l->pending = 1;
                r = unit_list_states(h->bus, "left4me-server@*.service", on_list_states, l);
                if (r < 0)
                        on_list_states(r, NULL, 0, "systemd is unreachable", l);
                return 0;
        }
        l->pending = l->n;
        for (size_t i = 0; i < l->n; i++) {
                struct status_req *s = &l->reqs[i];
                s->h = h;
                s->done = on_list_item_done;
                s->userdata = l;
                snprintf(s->name, sizeof(s->name), "%s", names[i]);
                status_gather(s);
        }
        l->started = true;
        list_maybe_done(l);
        return 0;
}
