/* left4me-hostd: the privileged daemon. It installs the game, writes instance files,
 * starts and stops the server units over sd-bus and reports their state, and (as the
 * one-shot subcommands "mount NAME" / "umount NAME" run by left4me-server@.service) mounts
 * and unmounts an instance's overlay.
 *
 * Every method re-validates its arguments (it never trusts its caller), is limited to root
 * and group left4me, and operations on the same instance are serialised: while one runs,
 * another on the same name is refused with "conflict" (jobd serialises its jobs by
 * resource keys anyway; a conflict here means two callers disagree, and failing loudly is
 * better than queueing behind an unknown). Reads (status, list) never wait for a lock. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/daemon.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/args.h"
#include "proto/map.h"
#include "proto/server.h"
#include "svc-host/hostd-build.h"
#include "svc-host/hostd-install.h"
#include "svc-host/hostd-instance.h"
#include "svc-host/hostd-mount.h"
#include "svc-host/hostd-query.h"
#include "proto/spec.h"
#include "svc-host/hostd-systemd.h"

#define A2S_TIMEOUT_USEC (300ULL * 1000ULL)
#define LIST_MAX         1000u

struct busy_name {
        struct busy_name *next;
        char name[NAME_LEN_MAX + 1];
        const char *op;
};

struct hostd {
        struct daemon *daemon;
        sd_event *event;
        const struct l4m_config *cfg;
        struct hostd_bus *bus;
        struct busy_name *busy;
        struct install_run *install;
        struct build_run *builds; /* one per overlay at most */
        unsigned n_builds;
        unsigned long long build_seq;
        bool root_ok;
        char self_exe[PATH_MAX];    /* for "left4me-hostd umount NAME" as a transient unit */
        char config_path[PATH_MAX]; /* the config it read, absolute; "" for the defaults */
};

/* ---- per-instance serialisation --------------------------------------------------------- */

static struct busy_name *busy_find(struct hostd *h, const char *name) {
        for (struct busy_name *b = h->busy; b; b = b->next)
                if (streq(b->name, name))
                        return b;
        return NULL;
}

/* Claims name for op; fails the call with "conflict" if another operation holds it. */
static int busy_claim(struct hostd *h, struct rpc_call *call, const char *name, const char *op) {
        struct busy_name *b = busy_find(h, name);

        if (b)
                return rpc_call_fail(call, RPC_CONFLICT, "instance '%s' is busy (%s in progress)", name,
                                     b->op);
        b = calloc(1, sizeof(*b));
        if (!b)
                return rpc_call_fail(call, RPC_INTERNAL, "out of memory");
        snprintf(b->name, sizeof(b->name), "%s", name);
        b->op = op;
        b->next = h->busy;
        h->busy = b;
        rpc_server_busy_ref(daemon_server(h->daemon));
        return 0;
}

static void busy_release(struct hostd *h, const char *name) {
        for (struct busy_name **p = &h->busy; *p; p = &(*p)->next)
                if (streq((*p)->name, name)) {
                        struct busy_name *b = *p;
                        *p = b->next;
                        free(b);
                        rpc_server_busy_unref(daemon_server(h->daemon));
                        return;
                }
}

/* ---- arguments -------------------------------------------------------------------------- */

static int check_name(const struct rpc_arg *a, void *field, struct rpc_error *e) {
        const char *s = *(char **) field;

        if (!name_is_valid(s))
                return rpc_error_set(e, RPC_INVALID, "%s: " NAME_MUST_MATCH, a->name);
        return 0;
}

struct name_args {
        char *name;
};

static const struct rpc_arg name_args_table[] = {
        {"name", RPC_ARG_STR, RPC_ARG_REQUIRED, offsetof(struct name_args, name), 1, NAME_LEN_MAX, 0,
         check_name},
};

struct init_args {
        char *name;
        struct rpc_bin spec;
};

static const struct rpc_arg init_args_table[] = {
        {"name", RPC_ARG_STR, RPC_ARG_REQUIRED, offsetof(struct init_args, name), 1, NAME_LEN_MAX, 0,
         check_name},
        {"spec", RPC_ARG_BIN, RPC_ARG_REQUIRED, offsetof(struct init_args, spec), 0, SPEC_MAX_BYTES, 0,
         NULL},
};

static int parse_name(struct rpc_call *call, const msgpack_object *params, struct name_args *a) {
        struct rpc_error e = {};

        if (rpc_args_parse(params, name_args_table, ELEMENTSOF(name_args_table), a, &e) < 0)
                return rpc_call_fail_error(call, &e);
        return 0;
}

static int check_root(struct hostd *h, struct rpc_call *call) {
        if (!h->root_ok)
                return rpc_call_fail(call, RPC_UNAVAILABLE,
                                     "paths.root '%s' is not usable (absolute, no ':' ',' "
                                     "whitespace or quotes)",
                                     h->cfg->root);
        return 0;
}

/* ---- instance.initialize ---------------------------------------------------------------- */

static int method_initialize(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct hostd *h = userdata;
        struct init_args a = {};
        struct instance_spec spec = {};
        struct rpc_error e = {};
        msgpack_packer *pk;
        int r;

        if (rpc_args_parse(params, init_args_table, ELEMENTSOF(init_args_table), &a, &e) < 0)
                return rpc_call_fail_error(call, &e);
        r = check_root(h, call);
        if (r < 0)
                goto finish;
        r = spec_parse(a.spec.ptr, a.spec.len, h->cfg->port_start, h->cfg->port_end, &spec, &e);
        if (r < 0) {
                r = rpc_call_fail_error(call, &e);
                goto finish;
        }
        r = busy_claim(h, call, a.name, "initialize");
        if (r < 0)
                goto finish;
        r = instance_initialize(h->cfg->root, a.name, a.spec.ptr, a.spec.len, &spec, &e);
        busy_release(h, a.name);
        if (r < 0) {
                log_full_errno(e.code == RPC_INVALID ? LOG_INFO : LOG_ERR, 0, "initialize '%s': %s", a.name,
                               e.message);
                r = rpc_call_fail_error(call, &e);
                goto finish;
        }
        log_info("Initialized instance '%s' (port %u, %zu overlay(s))", a.name, spec.port, spec.n_overlays);
        pk = rpc_call_result(call);
        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, pk);
        rpc_pack_kv_str(mpk, "name", a.name);
        rpc_pack_kv_uint(mpk, "port", spec.port);
        rpc_pack_kv_uint(mpk, "overlays", spec.n_overlays);
        rpc_pack_kv_uint(mpk, "arguments", strv_length(spec.arguments));
        (void) rpc_map_end(&map);
        r = rpc_call_reply(call);
finish:
        instance_spec_done(&spec);
        rpc_args_free(init_args_table, ELEMENTSOF(init_args_table), &a);
        return r;
}

/* ---- start / stop / delete / reset -------------------------------------------------------- */

enum unit_call_kind { CALL_START, CALL_STOP, CALL_DELETE, CALL_RESET };
static const char *const call_names[] = {"start", "stop", "delete", "reset"};

struct unit_call {
        struct hostd *h;
        struct rpc_call *call;
        enum unit_call_kind kind;
        char name[NAME_LEN_MAX + 1];
        char unit[128];
        char note[512]; /* why a stale mount was not unmounted (added to a conflict) */
};

static bool bus_unreachable(int r) {
        return r == -ENOENT || r == -ECONNREFUSED || r == -ENOTCONN || r == -ECONNRESET || r == -EACCES ||
               r == -ENOMEDIUM || r == -EHOSTDOWN;
}

static void unit_call_free(struct unit_call *u) {
        busy_release(u->h, u->name);
        free(u);
}

static void finish_removal(struct unit_call *u) {
        struct rpc_error e = {};
        msgpack_packer *pk;
        bool existed = false;
        int r;

        r = instance_remove(u->h->cfg->root, u->name, &existed, &e);
        if (r < 0) {
                log_error("%s '%s': %s", call_names[u->kind], u->name, e.message);
                if (e.code == RPC_CONFLICT && u->note[0])
                        (void) rpc_call_fail(u->call, RPC_CONFLICT, "%s; %s", e.message, u->note);
                else
                        (void) rpc_call_fail_error(u->call, &e);
                return;
        }
        log_info("%s instance '%s'%s", u->kind == CALL_DELETE ? "Deleted" : "Reset", u->name,
                 existed ? "" : " (nothing was there)");
        pk = rpc_call_result(u->call);
        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, pk);
        rpc_pack_kv_str(mpk, "name", u->name);
        rpc_pack_kv_str(mpk, "unit", u->unit);
        rpc_pack_kv_bool(mpk, "existed", existed);
        (void) rpc_map_end(&map);
        (void) rpc_call_reply(u->call);
}

/* ---- delete/reset of an instance whose overlay is still mounted -------------------------
 *
 * When runtime/NAME/merged is still mounted after the unit stopped (a failed ExecStopPost, a
 * mount made by hand), hostd cannot unmount it itself: ProtectSystem= gives it a private mount
 * namespace (a slave of the host's: it sees the host's mounts, but its umount would only
 * remove its own copy) and RestrictNamespaces= forbids setns(). So it runs "left4me-hostd
 * umount NAME" as a short transient service, which systemd starts in PID 1's namespace as
 * root, waits for its start job (a oneshot's job ends with its process), then re-checks. */

#define UMOUNT_TIMEOUT_USEC (60ULL * 1000000ULL)

static int umount_unit_name(const char *name, char *buf, size_t len) {
        int n = snprintf(buf, len, "left4me-umount-%s.service", name);
        return n < 0 || (size_t) n >= len ? -ENAMETOOLONG : 0;
}

static int umount_props(sd_bus_message *m, void *userdata) {
        struct unit_call *u = userdata;
        const char *config = u->h->config_path[0] ? u->h->config_path : NULL;
        char desc[128];
        char *argv[6];
        size_t n = 0;
        int r;

        argv[n++] = u->h->self_exe;
        if (config) {
                argv[n++] = "--config";
                argv[n++] = (char *) config;
        }
        argv[n++] = "umount";
        argv[n++] = u->name;
        argv[n] = NULL;
        snprintf(desc, sizeof(desc), "left4me: unmount the stale overlay of '%s'", u->name);
        r = sd_bus_message_append(m, "(sv)", "Description", "s", desc);
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)", "Type", "s", "oneshot");
        /* Gone once over, failed or not: the next delete can use the name again; the journal
         * keeps its lines (journalctl -u left4me-umount-NAME.service). */
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)", "CollectMode", "s", "inactive-or-failed");
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)", "TimeoutStartUSec", "t", UMOUNT_TIMEOUT_USEC);
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)", "StandardInput", "s", "null");
        if (r >= 0)
                r = unit_prop_exec_start(m, argv);
        return r;
}

static void on_umount_done(int r, const char *result, const char *message, void *userdata) {
        struct unit_call *u = userdata;
        char unit[128];

        (void) umount_unit_name(u->name, unit, sizeof(unit));
        if (r < 0) {
                snprintf(u->note, sizeof(u->note), "cannot run %s: %s", unit, message ?: strerror(-r));
                log_error("%s '%s': %s", call_names[u->kind], u->name, u->note);
        } else if (!streq(result, "done")) {
                snprintf(u->note, sizeof(u->note), "%s ended with '%s' (see journalctl -u %s)", unit, result,
                         unit);
                log_error("%s '%s': %s", call_names[u->kind], u->name, u->note);
        } else
                log_info("%s '%s': unmounted the stale overlay with %s", call_names[u->kind], u->name, unit);
        finish_removal(u); /* re-checks: still mounted is a conflict */
        unit_call_free(u);
}

static void on_stale_status(int r, const struct unit_status *st, const char *message, void *userdata) {
        struct unit_call *u = userdata;
        char unit[128];

        if (r < 0) {
                snprintf(u->note, sizeof(u->note), "cannot read the state of %s: %s", u->unit,
                         message ?: strerror(-r));
                log_warning("%s '%s': %s; not unmounting", call_names[u->kind], u->name, u->note);
                goto removal;
        }
        if (!streq(st->active_state, "inactive") && !streq(st->active_state, "failed") &&
            !streq(st->load_state, "not-found")) {
                snprintf(u->note, sizeof(u->note), "%s is %s", u->unit, st->active_state);
                log_warning("%s '%s': %s, not unmounting its overlay", call_names[u->kind], u->name,
                            u->note);
                goto removal;
        }
        if (!u->h->self_exe[0] || umount_unit_name(u->name, unit, sizeof(unit)) < 0) {
                snprintf(u->note, sizeof(u->note), "hostd cannot name its own program to unmount it");
                log_warning("%s '%s': %s", call_names[u->kind], u->name, u->note);
                goto removal;
        }
        log_notice("%s '%s': %s is %s but runtime/%s/merged is still mounted; unmounting it with %s",
                   call_names[u->kind], u->name, u->unit, st->active_state[0] ? st->active_state : "gone",
                   u->name, unit);
        r = unit_start_transient(u->h->bus, unit, umount_props, u, on_umount_done, u);
        if (r >= 0)
                return;
        snprintf(u->note, sizeof(u->note), "cannot start %s: %s", unit, strerror(-r));
        log_error("%s '%s': %s", call_names[u->kind], u->name, u->note);
removal:
        finish_removal(u); /* answers conflict while mounted */
        unit_call_free(u);
}

static void on_unit_done(int r, const char *result, const char *message, void *userdata) {
        struct unit_call *u = userdata;
        msgpack_packer *pk;

        if (u->kind == CALL_DELETE || u->kind == CALL_RESET) {
                struct instance_files f = {};

                /* Stop failures are tolerated (a half-initialised instance must still be
                 * removable); removal itself refuses while the overlay is mounted. */
                if (r < 0 && !bus_unreachable(r))
                        log_warning("%s '%s': stopping %s failed, going on: %s", call_names[u->kind],
                                    u->name, u->unit, message ?: strerror(-r));
                else if (r >= 0 && !streq(result, "done"))
                        log_warning("%s '%s': stop job of %s ended with '%s', going on", call_names[u->kind],
                                    u->name, u->unit, result);
                /* Still mounted: unmount it if the unit is really over. */
                if (!(r < 0 && bus_unreachable(r)) && instance_inspect(u->h->cfg->root, u->name, &f) >= 0 &&
                    f.mounted && unit_get_status(u->h->bus, u->unit, on_stale_status, u) >= 0)
                        return;
                finish_removal(u);
                unit_call_free(u);
                return;
        }

        if (r < 0) {
                log_error("%s '%s': %s", call_names[u->kind], u->name, message ?: strerror(-r));
                (void) rpc_call_fail(u->call,
                                     r == -ETIMEDOUT      ? RPC_TIMEOUT
                                     : bus_unreachable(r) ? RPC_UNAVAILABLE
                                                          : RPC_INTERNAL,
                                     "%s %s: %s", call_names[u->kind], u->unit, message ?: strerror(-r));
        } else if (!streq(result, "done")) {
                log_error("%s '%s': job ended with '%s'", call_names[u->kind], u->name, result);
                (void) rpc_call_fail(u->call,
                                     streq(result, "canceled")  ? RPC_CANCELLED
                                     : streq(result, "timeout") ? RPC_TIMEOUT
                                                                : RPC_INTERNAL,
                                     "%s %s: the job ended with '%s' (see 'l4d2ctl logs %s' or "
                                     "journalctl -u %s)",
                                     call_names[u->kind], u->unit, result, u->name, u->unit);
        } else {
                log_info("%s: %s done", u->unit, call_names[u->kind]);
                pk = rpc_call_result(u->call);
                struct rpc_map map;
                msgpack_packer *mpk = rpc_map_begin(&map, pk);
                rpc_pack_kv_str(mpk, "name", u->name);
                rpc_pack_kv_str(mpk, "unit", u->unit);
                rpc_pack_kv_str(mpk, "result", result);
                (void) rpc_map_end(&map);
                (void) rpc_call_reply(u->call);
        }
        unit_call_free(u);
}

static int unit_method(struct rpc_call *call, const msgpack_object *params, struct hostd *h,
                       enum unit_call_kind kind) {
        struct name_args a = {};
        struct unit_call *u;
        int r;

        r = parse_name(call, params, &a);
        if (r < 0)
                return r;
        r = check_root(h, call);
        if (r < 0)
                goto finish;

        if (kind == CALL_START) {
                struct instance_files f = {};
                r = instance_inspect(h->cfg->root, a.name, &f);
                if (r < 0 || !f.initialized) {
                        r = rpc_call_fail(call, RPC_NOT_FOUND, "instance '%s' is not initialized", a.name);
                        goto finish;
                }
        }

        r = busy_claim(h, call, a.name, call_names[kind]);
        if (r < 0)
                goto finish;
        u = calloc(1, sizeof(*u));
        if (!u) {
                busy_release(h, a.name);
                r = rpc_call_fail(call, RPC_INTERNAL, "out of memory");
                goto finish;
        }
        u->h = h;
        u->call = call;
        u->kind = kind;
        snprintf(u->name, sizeof(u->name), "%s", a.name);
        (void) server_unit_name(a.name, u->unit, sizeof(u->unit));

        if (kind == CALL_START)
                r = unit_start(h->bus, u->unit, true, on_unit_done, u);
        else
                r = unit_stop(h->bus, u->unit, true, on_unit_done, u);
        if (r < 0) {
                if ((kind == CALL_DELETE || kind == CALL_RESET) && bus_unreachable(r)) {
                        /* No systemd to ask: nothing of ours can be running under it. */
                        log_info("%s '%s': systemd is unreachable (%s); removing the files only",
                                 call_names[kind], a.name, strerror(-r));
                        finish_removal(u);
                        unit_call_free(u);
                        r = 0;
                        goto finish;
                }
                r = rpc_call_fail(call, bus_unreachable(r) ? RPC_UNAVAILABLE : RPC_INTERNAL,
                                  "cannot reach systemd: %s", strerror(-r));
                unit_call_free(u);
                goto finish;
        }
        rpc_call_defer(call);
        r = 0;
finish:
        rpc_args_free(name_args_table, ELEMENTSOF(name_args_table), &a);
        return r;
}

static int method_start(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        return unit_method(call, params, userdata, CALL_START);
}

static int method_stop(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        return unit_method(call, params, userdata, CALL_STOP);
}

static int method_delete(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        return unit_method(call, params, userdata, CALL_DELETE);
}

static int method_reset(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        return unit_method(call, params, userdata, CALL_RESET);
}

/* ---- instance.spec ------------------------------------------------------------------------ */

static int method_spec(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct hostd *h = userdata;
        _cleanup_free_ char *text = NULL;
        struct name_args a = {};
        struct rpc_error e = {};
        msgpack_packer *pk;
        size_t len = 0;
        int r;

        r = parse_name(call, params, &a);
        if (r < 0)
                return r;
        r = check_root(h, call);
        if (r < 0)
                goto finish;
        r = instance_read_spec(h->cfg->root, a.name, &text, &len, &e);
        if (r < 0) {
                if (e.code != RPC_NOT_FOUND)
                        log_error("spec '%s': %s", a.name, e.message);
                r = rpc_call_fail_error(call, &e);
                goto finish;
        }
        pk = rpc_call_result(call);
        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, pk);
        rpc_pack_kv_str(mpk, "name", a.name);
        rpc_pack_key(mpk, "spec");
        rpc_pack_strn(mpk, text, len);
        (void) rpc_map_end(&map);
        r = rpc_call_reply(call);
finish:
        rpc_args_free(name_args_table, ELEMENTSOF(name_args_table), &a);
        return r;
}

/* ---- status / list ---------------------------------------------------------------------- */

struct status_req {
        struct hostd *h;
        char name[NAME_LEN_MAX + 1];
        char unit[128];
        struct instance_files files;
        bool have_unit;
        struct unit_status st;
        char systemd_error[256];
        bool have_a2s;
        struct a2s_info a2s;
        char a2s_error[64];
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
        if (u)
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
        if (u)
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
        rpc_pack_key(mpk, "a2s");
        if (s->have_a2s) {
                const struct a2s_info *i = &s->a2s;
                struct rpc_map inner;
                msgpack_packer *ipk = rpc_map_begin(&inner, mpk);
                rpc_pack_kv_str(ipk, "name", i->name);
                rpc_pack_kv_str(ipk, "map", i->map);
                rpc_pack_kv_str(ipk, "game", i->game);
                rpc_pack_kv_str(ipk, "version", i->version);
                rpc_pack_kv_uint(ipk, "players", i->players);
                rpc_pack_kv_uint(ipk, "max_players", i->max_players);
                rpc_pack_kv_uint(ipk, "bots", i->bots);
                rpc_pack_kv_bool(ipk, "password", i->visibility != 0);
                rpc_pack_kv_bool(ipk, "vac", i->vac != 0);
                (void) rpc_map_end(&inner);
        } else
                msgpack_pack_nil(mpk);
        pack_str_or_nil(mpk, "a2s_error", s->a2s_error, true);
        (void) rpc_map_end(&map);
}

static void on_a2s(int r, const struct a2s_info *info, void *userdata) {
        struct status_req *s = userdata;

        if (r >= 0) {
                s->a2s = *info;
                s->have_a2s = true;
        } else
                snprintf(s->a2s_error, sizeof(s->a2s_error), "%s",
                         r == -ETIMEDOUT      ? "no answer within 300 ms"
                         : r == -ECONNREFUSED ? "nothing listens on the port"
                                              : strerror(-r));
        s->done(s, s->userdata);
}

static void on_unit_status(int r, const struct unit_status *st, const char *message, void *userdata) {
        struct status_req *s = userdata;

        if (r < 0)
                snprintf(s->systemd_error, sizeof(s->systemd_error), "%s", message ?: strerror(-r));
        else {
                s->st = *st;
                s->have_unit = true;
        }
        if (s->have_unit && streq(s->st.active_state, "active") && s->files.port > 0) {
                r = a2s_query_start(s->h->event, (uint16_t) s->files.port, A2S_TIMEOUT_USEC, on_a2s, s);
                if (r >= 0)
                        return;
                snprintf(s->a2s_error, sizeof(s->a2s_error), "%s", strerror(-r));
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

static int method_status(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct hostd *h = userdata;
        struct name_args a = {};
        struct status_call *c;
        int r;

        r = parse_name(call, params, &a);
        if (r < 0)
                return r;
        r = check_root(h, call);
        if (r < 0)
                goto finish;
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
        rpc_args_free(name_args_table, ELEMENTSOF(name_args_table), &a);
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

static int method_list(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct hostd *h = userdata;
        _cleanup_strv_free_ char **names = NULL;
        struct rpc_error e = {};
        struct list_call *l;
        int r;

        if (rpc_args_parse(params, NULL, 0, NULL, &e) < 0)
                return rpc_call_fail_error(call, &e);
        r = check_root(h, call);
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

/* ---- game.install ------------------------------------------------------------------------- */

struct install_run {
        struct hostd *h;
        struct rpc_call *call;
        struct hostd_install *proc;
        bool abandoned;
        unsigned long long lines;
};

static void on_install_line(const char *stream, const char *line, void *userdata) {
        struct install_run *ir = userdata;
        msgpack_packer *pk;

        ir->lines++;
        if (streq(stream, "step"))
                log_info("install: %s", line);
        if (ir->abandoned)
                return;
        pk = rpc_call_notify(ir->call);
        if (!pk)
                return;
        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, pk);
        rpc_pack_kv_str(mpk, "stream", stream);
        rpc_pack_kv_str(mpk, "line", line);
        (void) rpc_map_end(&map);
}

static int on_install_free(sd_event_source *s, void *userdata) {
        struct install_run *ir = userdata;

        sd_event_source_disable_unref(s);
        install_free(ir->proc);
        free(ir);
        return 0;
}

static void on_install_done(int r, const char *message, void *userdata) {
        struct install_run *ir = userdata;
        struct hostd *h = ir->h;
        msgpack_packer *pk;

        if (r >= 0) {
                log_info("Install finished (%llu lines of output)", ir->lines);
                pk = rpc_call_result(ir->call);
                struct rpc_map map;
                msgpack_packer *mpk = rpc_map_begin(&map, pk);
                rpc_pack_kv_str(mpk, "result", "done");
                rpc_pack_kv_uint(mpk, "lines", ir->lines);
                (void) rpc_map_end(&map);
                (void) rpc_call_reply(ir->call);
        } else {
                log_full_errno(r == -ECANCELED ? LOG_NOTICE : LOG_ERR, 0, "Install: %s", message);
                (void) rpc_call_fail(ir->call, r == -ECANCELED ? RPC_CANCELLED : RPC_INTERNAL, "%s",
                                     message);
        }
        h->install = NULL;
        rpc_server_busy_unref(daemon_server(h->daemon));
        /* Not from inside the process object's own callback: free at a safe point. */
        {
                sd_event_source *s = NULL;
                if (sd_event_add_defer(h->event, &s, on_install_free, ir) < 0) {
                        log_warning("Cannot schedule freeing the install state, leaking it");
                }
        }
}

static void on_install_abandon(struct rpc_call *call, void *userdata) {
        struct install_run *ir = userdata;

        log_notice("Install: the caller left or cancelled; killing steamcmd");
        ir->abandoned = true;
        install_cancel(ir->proc);
}

static int method_install(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct hostd *h = userdata;
        struct install_params p = {.steamcmd = h->cfg->steamcmd, .root = h->cfg->root, .user = INSTALL_USER};
        struct rpc_error e = {};
        struct install_run *ir;
        char err[512] = "";
        int r;

        if (rpc_args_parse(params, NULL, 0, NULL, &e) < 0)
                return rpc_call_fail_error(call, &e);
        r = check_root(h, call);
        if (r < 0)
                return r;
        if (h->install)
                return rpc_call_fail(call, RPC_CONFLICT, "an install is already running");
        ir = calloc(1, sizeof(*ir));
        if (!ir)
                return rpc_call_fail(call, RPC_INTERNAL, "out of memory");
        ir->h = h;
        ir->call = call;
        r = install_start(h->event, &p, on_install_line, on_install_done, ir, &ir->proc, err, sizeof(err));
        if (r < 0) {
                free(ir);
                log_error("Install: %s", err[0] ? err : strerror(-r));
                return rpc_call_fail(call, r == -ENOENT || r == -ESRCH ? RPC_UNAVAILABLE : RPC_INTERNAL,
                                     "%s", err[0] ? err : strerror(-r));
        }
        log_info("Install started (steamcmd %s, pid %s)", h->cfg->steamcmd, "in its own group");
        h->install = ir;
        rpc_server_busy_ref(daemon_server(h->daemon));
        rpc_call_defer(call);
        rpc_call_set_abandon(call, on_install_abandon, ir);
        return 0;
}

/* ---- overlay.build / overlay.delete ------------------------------------------------------- */

#define BUILDS_MAX 16u

struct build_run {
        struct build_run *next;
        struct hostd *h;
        struct rpc_call *call;
        struct build *build;
        char id[NAME_LEN_MAX + 1];
        bool abandoned;
        unsigned long long lines;
        sd_event_source *free_source;
};

struct build_args {
        char *id;
        struct rpc_bin script;
};

static const struct rpc_arg build_args_table[] = {
        {"id", RPC_ARG_STR, RPC_ARG_REQUIRED, offsetof(struct build_args, id), 1, NAME_LEN_MAX, 0,
         check_name},
        {"script", RPC_ARG_BIN, RPC_ARG_REQUIRED, offsetof(struct build_args, script), 0, BUILD_SCRIPT_MAX,
         0, NULL},
};

struct id_args {
        char *id;
};

static const struct rpc_arg id_args_table[] = {
        {"id", RPC_ARG_STR, RPC_ARG_REQUIRED, offsetof(struct id_args, id), 1, NAME_LEN_MAX, 0, check_name},
};

static struct build_run *build_find(struct hostd *h, const char *id) {
        for (struct build_run *br = h->builds; br; br = br->next)
                if (streq(br->id, id))
                        return br;
        return NULL;
}

static void build_run_unlink(struct hostd *h, struct build_run *br) {
        for (struct build_run **p = &h->builds; *p; p = &(*p)->next)
                if (*p == br) {
                        *p = br->next;
                        h->n_builds--;
                        rpc_server_busy_unref(daemon_server(h->daemon));
                        return;
                }
}

static void on_build_line(const char *stream, const char *line, void *userdata) {
        struct build_run *br = userdata;
        msgpack_packer *pk;

        br->lines++;
        if (br->abandoned)
                return;
        pk = rpc_call_notify(br->call);
        if (!pk)
                return;
        /* hostd's own lines name the transient unit, so a caller (jobd) knows it while the
         * build runs: {stream: "info", line, unit}. */
        bool unit = streq(stream, "info") && br->build;
        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, pk);
        rpc_pack_kv_str(mpk, "stream", stream);
        rpc_pack_kv_str(mpk, "line", line);
        if (unit)
                rpc_pack_kv_str(mpk, "unit", build_unit(br->build));
        (void) rpc_map_end(&map);
}

static int on_build_free(sd_event_source *s, void *userdata) {
        struct build_run *br = userdata;

        sd_event_source_disable_unref(s);
        build_free(br->build);
        free(br);
        return 0;
}

static void on_build_done(int r, enum build_result result, int exit_code, const char *message,
                          void *userdata) {
        struct build_run *br = userdata;
        struct hostd *h = br->h;
        msgpack_packer *pk;

        if (r < 0) {
                log_error("Build of overlay '%s': %s", br->id, message);
                (void) rpc_call_fail(br->call,
                                     r == -EEXIST         ? RPC_CONFLICT
                                     : bus_unreachable(r) ? RPC_UNAVAILABLE
                                     : r == -ETIMEDOUT    ? RPC_TIMEOUT
                                                          : RPC_INTERNAL,
                                     "%s", message);
        } else if (result == BUILD_CANCELLED) {
                log_notice("Build of overlay '%s' cancelled (%s)", br->id, message);
                (void) rpc_call_fail(br->call, RPC_CANCELLED, "build of overlay '%s' cancelled", br->id);
        } else {
                log_full_errno(result == BUILD_SUCCESS ? LOG_INFO : LOG_NOTICE, 0,
                               "Build of overlay '%s': %s (%llu lines)", br->id, message, br->lines);
                pk = rpc_call_result(br->call);
                struct rpc_map map;
                msgpack_packer *mpk = rpc_map_begin(&map, pk);
                rpc_pack_kv_str(mpk, "result", build_result_to_string(result));
                rpc_pack_key(mpk, "exit_code");
                if (exit_code >= 0)
                        msgpack_pack_int(mpk, exit_code);
                else
                        msgpack_pack_nil(mpk);
                rpc_pack_kv_str(mpk, "unit", build_unit(br->build));
                rpc_pack_kv_uint(mpk, "lines", br->lines);
                (void) rpc_map_end(&map);
                (void) rpc_call_reply(br->call);
        }
        build_run_unlink(h, br);
        if (sd_event_add_defer(h->event, &br->free_source, on_build_free, br) < 0)
                log_warning("Cannot schedule freeing the build state, leaking it");
}

static void on_build_abandon(struct rpc_call *call, void *userdata) {
        struct build_run *br = userdata;

        log_notice("Build of overlay '%s': the caller left or cancelled; stopping %s", br->id,
                   build_unit(br->build));
        br->abandoned = true;
        build_cancel(br->build);
}

static int method_overlay_build(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct hostd *h = userdata;
        struct build_args a = {};
        struct rpc_error e = {};
        struct build_run *br = NULL;
        struct build_params p;
        int r;

        if (rpc_args_parse(params, build_args_table, ELEMENTSOF(build_args_table), &a, &e) < 0)
                return rpc_call_fail_error(call, &e);
        r = check_root(h, call);
        if (r < 0)
                goto finish;
        if (build_find(h, a.id)) {
                r = rpc_call_fail(call, RPC_CONFLICT, "overlay '%s' is being built already", a.id);
                goto finish;
        }
        if (h->n_builds >= BUILDS_MAX) {
                r = rpc_call_fail(call, RPC_UNAVAILABLE, "%u builds are running already", h->n_builds);
                goto finish;
        }
        br = calloc(1, sizeof(*br));
        if (!br) {
                r = rpc_call_fail(call, RPC_INTERNAL, "out of memory");
                goto finish;
        }
        br->h = h;
        br->call = call;
        snprintf(br->id, sizeof(br->id), "%s", a.id);
        /* The run number: seconds at the first build, then counting (unique per hostd run and,
         * unless builds average more than one a second, across restarts). */
        if (h->build_seq == 0)
                h->build_seq = realtime_usec() / 1000000ULL;
        p = (struct build_params){
                .event = h->event,
                .bus = h->bus,
                .root = h->cfg->root,
                .id = a.id,
                .script = a.script.ptr,
                .script_len = a.script.len,
                .limits = {.memory_max = h->cfg->sandbox_memory_max,
                           .tasks_max = h->cfg->sandbox_tasks_max,
                           .cpu_quota_percent = h->cfg->sandbox_cpu_quota_percent,
                           .runtime_max_sec = h->cfg->sandbox_runtime_max_sec},
                .n = ++h->build_seq,
        };
        r = build_start(&p, on_build_line, on_build_done, br, &br->build, &e);
        if (r < 0) {
                free(br);
                log_full_errno(e.code == RPC_INVALID ? LOG_INFO : LOG_ERR, 0, "Build of overlay '%s': %s",
                               a.id, e.message);
                r = rpc_call_fail_error(call, &e);
                goto finish;
        }
        log_info("Build of overlay '%s' started as %s", a.id, build_unit(br->build));
        br->next = h->builds;
        h->builds = br;
        h->n_builds++;
        rpc_server_busy_ref(daemon_server(h->daemon));
        rpc_call_defer(call);
        rpc_call_set_abandon(call, on_build_abandon, br);
        r = 0;
finish:
        rpc_args_free(build_args_table, ELEMENTSOF(build_args_table), &a);
        return r;
}

static int method_overlay_delete(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct hostd *h = userdata;
        struct id_args a = {};
        struct rpc_error e = {};
        msgpack_packer *pk;
        bool existed = false;
        int r;

        if (rpc_args_parse(params, id_args_table, ELEMENTSOF(id_args_table), &a, &e) < 0)
                return rpc_call_fail_error(call, &e);
        r = check_root(h, call);
        if (r < 0)
                goto finish;
        if (build_find(h, a.id)) {
                r = rpc_call_fail(call, RPC_CONFLICT, "overlay '%s' is being built", a.id);
                goto finish;
        }
        r = overlay_remove(h->cfg->root, a.id, &existed, &e);
        if (r < 0) {
                log_error("Delete overlay '%s': %s", a.id, e.message);
                r = rpc_call_fail_error(call, &e);
                goto finish;
        }
        log_info("Deleted overlay '%s'%s", a.id, existed ? "" : " (nothing was there)");
        pk = rpc_call_result(call);
        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, pk);
        rpc_pack_kv_str(mpk, "id", a.id);
        rpc_pack_kv_bool(mpk, "existed", existed);
        (void) rpc_map_end(&map);
        r = rpc_call_reply(call);
finish:
        rpc_args_free(id_args_table, ELEMENTSOF(id_args_table), &a);
        return r;
}

/* ---- daemon ----------------------------------------------------------------------------- */

static const struct rpc_method methods[] = {
        {"instance.initialize", method_initialize, RPC_ACCESS_GROUP},
        {"instance.start", method_start, RPC_ACCESS_GROUP},
        {"instance.stop", method_stop, RPC_ACCESS_GROUP},
        {"instance.delete", method_delete, RPC_ACCESS_GROUP},
        {"instance.reset", method_reset, RPC_ACCESS_GROUP},
        {"instance.status", method_status, RPC_ACCESS_GROUP},
        {"instance.spec", method_spec, RPC_ACCESS_GROUP},
        {"instance.list", method_list, RPC_ACCESS_GROUP},
        {"game.install", method_install, RPC_ACCESS_GROUP},
        {"overlay.build", method_overlay_build, RPC_ACCESS_GROUP},
        {"overlay.delete", method_overlay_delete, RPC_ACCESS_GROUP},
};

static int setup(struct daemon *d, void **ret_userdata) {
        struct hostd *h;
        sigset_t ss;
        int r;

        h = calloc(1, sizeof(*h));
        if (!h)
                return log_error_errno(-ENOMEM, "Out of memory");
        h->daemon = d;
        h->event = daemon_event(d);
        h->cfg = daemon_config(d);
        h->root_ok = spec_root_is_valid(h->cfg->root);
        {
                ssize_t n = readlink("/proc/self/exe", h->self_exe, sizeof(h->self_exe) - 1);
                const char *del = " (deleted)";
                size_t dl = strlen(del);

                /* Replaced by an upgrade while running: the new program at the same path. */
                h->self_exe[n > 0 ? n : 0] = 0;
                if (n > 0 && (size_t) n > dl && streq(h->self_exe + n - dl, del))
                        h->self_exe[n - dl] = 0;
                /* The unit runs in /, so a relative --config is made absolute. */
                if (h->cfg->source_path && !realpath(h->cfg->source_path, h->config_path))
                        snprintf(h->config_path, sizeof(h->config_path), "%s", h->cfg->source_path);
                if (h->self_exe[0] != '/') {
                        log_warning("Cannot read /proc/self/exe; stale mounts will not be unmounted");
                        h->self_exe[0] = 0;
                }
        }
        if (!h->root_ok)
                log_error("paths.root '%s' cannot be used (absolute, without ':' ',' whitespace or quotes); "
                          "instance operations will fail",
                          h->cfg->root);
        /* sd_event_add_child() needs SIGCHLD blocked; children unblock it before exec. */
        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        (void) sigprocmask(SIG_BLOCK, &ss, NULL);
        r = hostd_bus_new(h->event, &h->bus);
        if (r < 0) {
                free(h);
                return log_error_errno(r, "Cannot set up the systemd client: %m");
        }
        *ret_userdata = h;
        return 0;
}

static void teardown(struct daemon *d, void *userdata) {
        struct hostd *h = userdata;

        if (!h)
                return;
        if (h->install) {
                install_free(h->install->proc);
                free(h->install);
        }
        while (h->builds) {
                struct build_run *br = h->builds;
                h->builds = br->next;
                build_free(br->build); /* asks systemd to stop a unit still running */
                free(br);
        }
        h->bus = hostd_bus_free(h->bus);
        while (h->busy) {
                struct busy_name *b = h->busy;
                h->busy = b->next;
                free(b);
        }
        free(h);
}

static size_t health(struct daemon *d, void *userdata, msgpack_packer *pk) {
        struct hostd *h = userdata ?: daemon_userdata(d);
        size_t busy = 0;

        if (!h)
                return 0;
        if (!pk)
                return 3;
        for (struct busy_name *b = h->busy; b; b = b->next)
                busy++;
        rpc_pack_kv_uint(pk, "busy_instances", busy);
        rpc_pack_kv_bool(pk, "installing", h->install != NULL);
        rpc_pack_kv_uint(pk, "builds", h->n_builds);
        return 3;
}

static const struct daemon_def def = {
        .name = "left4me-hostd",
        .service = "host",
        .description = "left4me host service: game install, instances, overlay mounts, server units",
        .methods = methods,
        .n_methods = ELEMENTSOF(methods),
        .setup = setup,
        .teardown = teardown,
        .health = health,
        .subcommand = hostd_subcommand,
        .subcommand_help = "  mount NAME     mount the overlay of instance NAME (left4me-server@.service "
                           "ExecStartPre)\n"
                           "  umount NAME    unmount it and clean work/work (ExecStopPost)\n",
};

int main(int argc, char **argv) {
        return daemon_main(argc, argv, &def) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
