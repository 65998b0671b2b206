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

#include "daemon/daemon.h"
#include "base/log.h"
#include "base/util.h"
#include "proto/args.h"
#include "proto/map.h"
#include "proto/server.h"
#include "svc-host/hostd-build.h"
#include "svc-host/hostd-files.h"
#include "svc-host/hostd-install.h"
#include "svc-host/hostd-instance.h"
#include "svc-host/hostd-mount.h"
#include "proto/spec.h"
#include "svc-host/hostd-systemd.h"
#include "svc-host/hostd-self.h"
#include "svc-host/hostd.h"

/* ---- per-instance serialisation --------------------------------------------------------- */

static struct busy_name *busy_find(struct hostd *h, const char *name) {
        for (struct busy_name *b = h->busy; b; b = b->next)
                if (streq(b->name, name))
                        return b;
        return NULL;
}

/* Claims name for op; fails the call with "conflict" if another operation holds it. */
int busy_claim(struct hostd *h, struct rpc_call *call, const char *name, const char *op) {
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

void busy_release(struct hostd *h, const char *name) {
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

/* A new server's name: short enough for its dynamic user (proto/names.h). Existing ones are
 * named by name_args_table, so an older, longer one can still be stopped and deleted. */
static int check_server_name(const struct rpc_arg *a, void *field, struct rpc_error *e) {
        const char *s = *(char **) field;
        int r = check_name(a, field, e);

        if (r >= 0 && !server_name_is_valid(s))
                return rpc_error_set(e, RPC_INVALID, "%s: " SERVER_NAME_MUST, a->name);
        return r;
}

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
         check_server_name},
        {"spec", RPC_ARG_BIN, RPC_ARG_REQUIRED, offsetof(struct init_args, spec), 0, SPEC_MAX_BYTES, 0,
         NULL},
};

void name_args_free(struct name_args *a) {
        rpc_args_free(name_args_table, ELEMENTSOF(name_args_table), a);
}

static int check_root(struct hostd *h, struct rpc_call *call) {
        if (!h->root_ok)
                return rpc_call_fail(call, RPC_UNAVAILABLE,
                                     "paths.root '%s' is not usable (absolute, no ':' ',' "
                                     "whitespace or quotes)",
                                     h->cfg->root);
        return 0;
}

int method_args(struct hostd *h, struct rpc_call *call, const msgpack_object *params,
                const struct rpc_arg *args, size_t n, void *out) {
        struct rpc_error e = {};
        int r;

        if (rpc_args_parse(params, args, n, out, &e) < 0)
                return rpc_call_fail_error(call, &e);
        r = check_root(h, call);
        if (r < 0 && n > 0)
                rpc_args_free(args, n, out);
        return r;
}

int method_name_args(struct hostd *h, struct rpc_call *call, const msgpack_object *params,
                     struct name_args *a) {
        return method_args(h, call, params, name_args_table, ELEMENTSOF(name_args_table), a);
}

/* Changes to a web UI instance ("web-<id>") come from jobd (for webd's users) or root, never
 * from an operator directly: the web UI decides who may act on them. */
static int refuse_web_instance(struct rpc_call *call, const char *name) {
        if (!name_is_web(name) || rpc_call_peer(call)->caller != RPC_CALLER_OPERATOR)
                return 0;
        return rpc_call_fail(call, RPC_DENIED, "instance '%s' belongs to the web UI: act on it there", name);
}

/* The web UI's overlays ("web-<id>") likewise: built and deleted through webd's jobs. */
static int refuse_web_overlay(struct rpc_call *call, const char *id) {
        if (!name_is_web(id) || rpc_call_peer(call)->caller != RPC_CALLER_OPERATOR)
                return 0;
        return rpc_call_fail(call, RPC_DENIED, "overlay '%s' belongs to the web UI: act on it there", id);
}

/* ---- instance.initialize ---------------------------------------------------------------- */

static int method_initialize(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct hostd *h = userdata;
        struct init_args a = {};
        struct instance_spec spec = {};
        struct rpc_error e = {};
        msgpack_packer *pk;
        int r;

        r = method_args(h, call, params, init_args_table, ELEMENTSOF(init_args_table), &a);
        if (r < 0)
                return r;
        r = refuse_web_instance(call, a.name);
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

const char *const unit_call_names[] = {"start", "stop", "delete", "reset"};

bool bus_unreachable(int r) {
        return r == -ENOENT || r == -ECONNREFUSED || r == -ENOTCONN || r == -ECONNRESET || r == -EACCES ||
               r == -ENOMEDIUM || r == -EHOSTDOWN;
}

void unit_call_free(struct unit_call *u) {
        busy_release(u->h, u->name);
        free(u);
}

void finish_removal(struct unit_call *u) {
        struct rpc_error e = {};
        msgpack_packer *pk;
        bool existed = false;
        int r;

        r = instance_remove(u->h->cfg->root, u->name, &existed, &e);
        if (r < 0) {
                log_error("%s '%s': %s", unit_call_names[u->kind], u->name, e.message);
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

static void on_failed_start_stopped(int r, const char *result, const char *message, void *userdata) {
        struct unit_call *u = userdata;

        if (r < 0 || !streq(result, "done"))
                log_warning("start '%s': stopping %s after its failed mount: %s", u->name, u->unit,
                            r < 0 ? (message ?: strerror(-r)) : result);
        (void) rpc_call_fail(u->call, RPC_INTERNAL,
                             "start %s: %s; the unit is stopped and disabled, so it does not retry: fix "
                             "the cause, then start it again",
                             u->unit, u->note);
        unit_call_free(u);
}

/* A start whose ExecStartPre= mount failed would retry (Restart=on-failure) with the same
 * result until someone looks in the journal: when the mount left its reason, stop and disable
 * the unit, and answer with that reason. Returns true when it took over the call. */
static bool start_failed_in_mount(struct unit_call *u) {
        const unsigned long long slack = 1000000; /* file times are coarser than the clock */
        int r;

        r = instance_mount_error(u->h->cfg->root, u->name,
                                 u->started_usec > slack ? u->started_usec - slack : 0, u->note,
                                 sizeof(u->note));
        if (r <= 0)
                return false;
        log_error("start '%s': the mount failed: %s; stopping %s", u->name, u->note, u->unit);
        return unit_stop(u->h->bus, u->unit, true, on_failed_start_stopped, u) >= 0;
}

static void on_unit_done(int r, const char *result, const char *message, void *userdata) {
        struct unit_call *u = userdata;
        msgpack_packer *pk;

        if (u->kind == CALL_DELETE || u->kind == CALL_RESET) {
                struct instance_files f = {};

                /* Stop failures are tolerated (a half-initialised instance must still be
                 * removable); removal itself refuses while the overlay is mounted. */
                if (r < 0 && !bus_unreachable(r))
                        log_warning("%s '%s': stopping %s failed, going on: %s", unit_call_names[u->kind],
                                    u->name, u->unit, message ?: strerror(-r));
                else if (r >= 0 && !streq(result, "done"))
                        log_warning("%s '%s': stop job of %s ended with '%s', going on",
                                    unit_call_names[u->kind], u->name, u->unit, result);
                /* Still mounted: unmount it if the unit is really over. */
                if (!(r < 0 && bus_unreachable(r)) && instance_inspect(u->h->cfg->root, u->name, &f) >= 0 &&
                    f.mounted && stale_mount_unmount(u) >= 0)
                        return;
                finish_removal(u);
                unit_call_free(u);
                return;
        }

        if (u->kind == CALL_START && r >= 0 && !streq(result, "done") && start_failed_in_mount(u))
                return;
        if (r < 0) {
                log_error("%s '%s': %s", unit_call_names[u->kind], u->name, message ?: strerror(-r));
                (void) rpc_call_fail(u->call,
                                     r == -ETIMEDOUT      ? RPC_TIMEOUT
                                     : bus_unreachable(r) ? RPC_UNAVAILABLE
                                                          : RPC_INTERNAL,
                                     "%s %s: %s", unit_call_names[u->kind], u->unit,
                                     message ?: strerror(-r));
        } else if (!streq(result, "done")) {
                log_error("%s '%s': job ended with '%s'", unit_call_names[u->kind], u->name, result);
                (void) rpc_call_fail(u->call,
                                     streq(result, "canceled")  ? RPC_CANCELLED
                                     : streq(result, "timeout") ? RPC_TIMEOUT
                                                                : RPC_INTERNAL,
                                     "%s %s: the job ended with '%s' (see 'l4d2ctl logs %s' or "
                                     "journalctl -u %s)",
                                     unit_call_names[u->kind], u->unit, result, u->name, u->unit);
        } else {
                log_info("%s: %s done", u->unit, unit_call_names[u->kind]);
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

        r = method_name_args(h, call, params, &a);
        if (r < 0)
                return r;
        r = refuse_web_instance(call, a.name);
        if (r < 0)
                goto finish;

        if (kind == CALL_START) {
                struct instance_files f = {};
                r = instance_inspect(h->cfg->root, a.name, &f);
                if (r < 0 || !f.initialized) {
                        r = rpc_call_fail(call, RPC_NOT_FOUND, "instance '%s' is not initialized", a.name);
                        goto finish;
                }
                /* The unit's sandbox names runtime/NAME before its ExecStartPre= could create it:
                 * recreate it when it is gone (runtime/ moved to another file system, say). */
                if (!f.runtime) {
                        _cleanup_close_ int rootfd = root_open(h->cfg->root), rfd = -1;
                        struct rpc_error e = {};

                        rfd = rootfd < 0 ? rootfd : runtime_ensure(rootfd, a.name, &e);
                        if (rfd < 0) {
                                r = rootfd < 0 ? rpc_call_fail(call, RPC_INTERNAL, "cannot open %s: %s",
                                                               h->cfg->root, strerror(-rootfd))
                                               : rpc_call_fail_error(call, &e);
                                goto finish;
                        }
                }
        }

        r = busy_claim(h, call, a.name, unit_call_names[kind]);
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
        u->started_usec = realtime_usec();
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
                                 unit_call_names[kind], a.name, strerror(-r));
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
        name_args_free(&a);
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

        r = method_name_args(h, call, params, &a);
        if (r < 0)
                return r;
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
        name_args_free(&a);
        return r;
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
                (void) rpc_call_fail(ir->call,
                                     r == -ECANCELED      ? RPC_CANCELLED
                                     : r == -EEXIST       ? RPC_CONFLICT
                                     : bus_unreachable(r) ? RPC_UNAVAILABLE
                                     : r == -ETIMEDOUT    ? RPC_TIMEOUT
                                                          : RPC_INTERNAL,
                                     "%s", message);
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

        log_notice("Install: the caller left or cancelled; stopping %s (killing steamcmd)",
                   install_unit(ir->proc));
        ir->abandoned = true;
        install_cancel(ir->proc);
}

static int method_install(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct hostd *h = userdata;
        struct install_params p;
        struct install_run *ir;
        char err[512] = "";
        int r;

        r = method_args(h, call, params, NULL, 0, NULL);
        if (r < 0)
                return r;
        if (h->install)
                return rpc_call_fail(call, RPC_CONFLICT, "an install is already running");
        ir = calloc(1, sizeof(*ir));
        if (!ir)
                return rpc_call_fail(call, RPC_INTERNAL, "out of memory");
        ir->h = h;
        ir->call = call;
        /* The run number, as for builds: unique per hostd run and across restarts. */
        if (h->install_seq == 0)
                h->install_seq = realtime_usec() / 1000000ULL;
        p = (struct install_params){
                .event = h->event,
                .bus = h->bus,
                .steamcmd = h->cfg->steamcmd,
                .root = h->cfg->root,
                .user = INSTALL_USER,
                .n = ++h->install_seq,
        };
        r = install_start(&p, on_install_line, on_install_done, ir, &ir->proc, err, sizeof(err));
        if (r < 0) {
                free(ir);
                log_error("Install: %s", err[0] ? err : strerror(-r));
                return rpc_call_fail(call,
                                     r == -ENOENT || r == -ESRCH || bus_unreachable(r) ? RPC_UNAVAILABLE
                                     : r == -EEXIST                                    ? RPC_CONFLICT
                                                                                       : RPC_INTERNAL,
                                     "%s", err[0] ? err : strerror(-r));
        }
        log_info("Install started (steamcmd %s in %s)", h->cfg->steamcmd, install_unit(ir->proc));
        h->install = ir;
        rpc_server_busy_ref(daemon_server(h->daemon));
        rpc_call_defer(call);
        rpc_call_set_abandon(call, on_install_abandon, ir);
        return 0;
}

/* ---- overlay.build / overlay.delete ------------------------------------------------------- */

/* One build per build user (hostd-pool.h). */
#define BUILDS_MAX L4M_BUILD_USERS

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
        char *base; /* NULL: empty */
};

static int check_base(const struct rpc_arg *a, void *field, struct rpc_error *e) {
        const char *s = *(char **) field;

        if (s && !overlay_base_is_valid(s))
                return rpc_error_set(e, RPC_INVALID, "%s: " OVERLAY_BASE_MUST, a->name);
        return 0;
}

static const struct rpc_arg build_args_table[] = {
        {"id", RPC_ARG_STR, RPC_ARG_REQUIRED, offsetof(struct build_args, id), 1, NAME_LEN_MAX, 0,
         check_name},
        {"script", RPC_ARG_BIN, RPC_ARG_REQUIRED, offsetof(struct build_args, script), 0, BUILD_SCRIPT_MAX,
         0, NULL},
        {"base", RPC_ARG_STR, RPC_ARG_NULLABLE, offsetof(struct build_args, base), 1, 16, 0, check_base},
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

bool hostd_overlay_building(struct hostd *h, const char *id) {
        return build_find(h, id) != NULL;
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
                /* The generation it made current; nil when it failed (the old one stays). */
                if (build_generation(br->build) > 0)
                        rpc_pack_kv_uint(mpk, "generation", build_generation(br->build));
                else
                        rpc_pack_kv_nil(mpk, "generation");
                /* Why a script that succeeded still failed the build (the size cap, publishing). */
                if (build_error(br->build))
                        rpc_pack_kv_str(mpk, "error", build_error(br->build));
                else
                        rpc_pack_kv_nil(mpk, "error");
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

        r = method_args(h, call, params, build_args_table, ELEMENTSOF(build_args_table), &a);
        if (r < 0)
                return r;
        r = refuse_web_overlay(call, a.id);
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
                .pool = &h->build_pool,
                .exec_helper = h->build_exec[0] ? h->build_exec : NULL,
                .root = h->cfg->root,
                .id = a.id,
                .script = a.script.ptr,
                .script_len = a.script.len,
                .limits = {.memory_max = h->cfg->sandbox_memory_max,
                           .tasks_max = h->cfg->sandbox_tasks_max,
                           .cpu_quota_percent = h->cfg->sandbox_cpu_quota_percent,
                           .runtime_max_sec = h->cfg->sandbox_runtime_max_sec},
                .overlay_max_bytes = h->cfg->sandbox_overlay_max_bytes,
                .from_current = a.base && streq(a.base, OVERLAY_BASE_CURRENT),
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

        r = method_args(h, call, params, id_args_table, ELEMENTSOF(id_args_table), &a);
        if (r < 0)
                return r;
        r = refuse_web_overlay(call, a.id);
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

/* ---- overlay.list ------------------------------------------------------------------------ */

/* The current generation of every overlay: [{id, generation, built_usec}], by id. What a
 * mounted server stacks is in its instance.status (overlays); the two differ when it needs a
 * restart to see a newer build. */
static int method_overlay_list(struct rpc_call *call, const msgpack_object *params, void *userdata) {
        struct hostd *h = userdata;
        _cleanup_free_ struct overlay_info *v = NULL;
        _cleanup_close_ int rootfd = -1;
        msgpack_packer *pk;
        size_t n = 0;
        int r;

        r = method_args(h, call, params, NULL, 0, NULL);
        if (r < 0)
                return r;
        rootfd = root_open(h->cfg->root);
        if (rootfd < 0)
                return rpc_call_fail(call, RPC_INTERNAL, "cannot open %s: %s", h->cfg->root,
                                     strerror(-rootfd));
        r = overlay_list(rootfd, &v, &n);
        if (r < 0) {
                log_error_errno(r, "overlay.list: %m");
                return rpc_call_fail(call, RPC_INTERNAL, "cannot list overlays/: %s%s", strerror(-r),
                                     r == -E2BIG ? " (more than 10000)" : "");
        }
        pk = rpc_call_result(call);
        msgpack_pack_array(pk, n);
        for (size_t i = 0; i < n; i++) {
                struct rpc_map map;
                msgpack_packer *mpk = rpc_map_begin(&map, pk);
                rpc_pack_kv_str(mpk, "id", v[i].id);
                rpc_pack_kv_uint(mpk, "generation", v[i].generation);
                rpc_pack_kv_uint(mpk, "built_usec", v[i].built_usec);
                if (v[i].bytes != UINT64_MAX)
                        rpc_pack_kv_uint(mpk, "bytes", v[i].bytes);
                else
                        rpc_pack_kv_nil(mpk, "bytes");
                (void) rpc_map_end(&map);
        }
        return rpc_call_reply(call);
}

/* ---- daemon ----------------------------------------------------------------------------- */

/* Who may call what (docs/host.md, "Callers"): changes to the host come from jobd, where
 * the work is recorded, or from an operator; webd reads, and acts only through jobd. */
#define HOST_CHANGES (RPC_MAY_ADMIN | RPC_MAY(RPC_CALLER_JOBD))
#define HOST_READS   (HOST_CHANGES | RPC_MAY(RPC_CALLER_WEBD))
/* Files overlays are edited in the browser: webd calls these itself (on web-<id> only), as do
 * root and operators (never on web-<id>); jobd has no use for them (hostd-files.c). */
#define HOST_FILES (RPC_MAY_ADMIN | RPC_MAY(RPC_CALLER_WEBD))

static const struct rpc_method methods[] = {
        {"instance.initialize", method_initialize, HOST_CHANGES},
        {"instance.start", method_start, HOST_CHANGES},
        {"instance.stop", method_stop, HOST_CHANGES},
        {"instance.delete", method_delete, HOST_CHANGES},
        {"instance.reset", method_reset, HOST_CHANGES},
        {"instance.status", hostd_method_status, HOST_READS},
        {"instance.spec", method_spec, HOST_READS},
        {"instance.list", hostd_method_list, HOST_READS},
        {"game.install", method_install, HOST_CHANGES},
        {"overlay.build", method_overlay_build, HOST_CHANGES},
        {"overlay.delete", method_overlay_delete, HOST_CHANGES},
        {"overlay.list", method_overlay_list, HOST_READS},
        {"file.list", hostd_method_file_list, HOST_FILES},
        {"file.read", hostd_method_file_read, HOST_FILES},
        {"file.write", hostd_method_file_write, HOST_FILES},
        {"file.mkdir", hostd_method_file_mkdir, HOST_FILES},
        {"file.rename", hostd_method_file_rename, HOST_FILES},
        {"file.move", hostd_method_file_move, HOST_FILES},
        {"file.delete", hostd_method_file_delete, HOST_FILES},
        {"file.open", hostd_method_file_open, HOST_FILES},
        {"file.upload", hostd_method_file_upload, HOST_FILES},
        {"file.commit", hostd_method_file_commit, HOST_FILES},
        {"file.abort", hostd_method_file_abort, HOST_FILES},
        {"instance.files", hostd_method_instance_files, HOST_FILES},
        {"instance.open", hostd_method_instance_open, HOST_FILES},
        {"instance.changes", hostd_method_instance_changes, HOST_FILES},
};

static int setup(struct daemon *d, void **ret_userdata) {
        struct hostd *h;
        sigset_t ss;
        int r;

        /* INVOCATION_ID: systemd started us, so the unit's bounding set is what we should have. */
        r = hostd_check_privileges(getenv("INVOCATION_ID") != NULL);
        if (r < 0)
                return r;
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
                } else {
                        /* Installed side by side (deploy/deploy.mk), and so in the build dir. */
                        const char *slash = strrchr(h->self_exe, '/');
                        snprintf(h->build_exec, sizeof(h->build_exec), "%.*s/" BUILD_EXEC_HELPER,
                                 (int) (slash - h->self_exe), h->self_exe);
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
        files_uploads_free(h);
        h->bus = hostd_bus_free(h->bus);
        while (h->busy) {
                struct busy_name *b = h->busy;
                h->busy = b->next;
                free(b);
        }
        free(h);
}

static void health(struct daemon *d, void *userdata, msgpack_packer *pk) {
        struct hostd *h = userdata ?: daemon_userdata(d);
        size_t busy = 0;

        if (!h)
                return;
        for (struct busy_name *b = h->busy; b; b = b->next)
                busy++;
        rpc_pack_kv_uint(pk, "busy_instances", busy);
        rpc_pack_kv_bool(pk, "installing", h->install != NULL);
        rpc_pack_kv_uint(pk, "builds", h->n_builds);
        rpc_pack_kv_uint(pk, "uploads", h->n_uploads);
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
                           "  umount NAME    unmount it and clean work/work (ExecStopPost)\n"
                           "  firewall       print the nftables rule set (left4me-firewall.service)\n",
};

int main(int argc, char **argv) {
        return daemon_main(argc, argv, &def) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
