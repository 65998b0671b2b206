#include <stdio.h>

#include "base/log.h"
#include "proto/map.h"
#include "svc-jobs/jobd-exec.h"
#include "proto/client-sdevent.h"

struct exec {
        sd_event *event;
        char *host_socket;
        struct mp_limits limits;
        enum job_kind kind;
        struct job_payload payload;
        const struct exec_ops *ops;
        void *userdata;

        struct rpc_sdclient *host;
        uint32_t msgid; /* the step's call on host, while rpc_core_call_pending() */
        sd_event_source *start_source, *cancel_timer;
        unsigned step;
        bool cancel_requested, done;
        bool has_exit_code;
        int64_t exit_code;
};

static const char *const steps_install[] = {"game.install", NULL};
static const char *const steps_start[] = {"instance.initialize", "instance.start", NULL};
static const char *const steps_stop[] = {"instance.stop", NULL};
static const char *const steps_reset[] = {"instance.reset", NULL};
static const char *const steps_delete[] = {"instance.delete", NULL};
static const char *const steps_build[] = {"overlay.build", NULL};
static const char *const steps_overlay_delete[] = {"overlay.delete", NULL};

const char *const *exec_steps(enum job_kind kind) {
        switch (kind) {
        case JOB_INSTALL:
                return steps_install;
        case JOB_SERVER_START:
                return steps_start;
        case JOB_SERVER_STOP:
                return steps_stop;
        case JOB_SERVER_RESET:
                return steps_reset;
        case JOB_SERVER_DELETE:
                return steps_delete;
        case JOB_OVERLAY_BUILD:
                return steps_build;
        case JOB_OVERLAY_DELETE:
                return steps_overlay_delete;
        default:
                return NULL;
        }
}

static void line(struct exec *x, const char *stream, const char *fmt, ...) _printf_(3, 4);
static void line(struct exec *x, const char *stream, const char *fmt, ...) {
        char buf[JOB_LINE_MAX];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = job_line_vformat(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n >= 0)
                x->ops->on_line(x, stream, buf, (size_t) n, x->userdata);
}

static void finish(struct exec *x, enum job_state state, bool host_lost, const char *fmt, ...)
        _printf_(4, 5);
static void finish(struct exec *x, enum job_state state, bool host_lost, const char *fmt, ...) {
        struct exec_result r = {
                .state = state,
                .host_lost = host_lost,
                .has_exit_code = x->has_exit_code,
                .exit_code = x->exit_code,
        };
        va_list ap;

        if (x->done)
                return;
        x->done = true;
        x->cancel_timer = sd_event_source_disable_unref(x->cancel_timer);
        if (fmt) {
                va_start(ap, fmt);
                (void) vsnprintf(r.error, sizeof(r.error), fmt, ap);
                va_end(ap);
        }
        x->ops->on_done(x, &r, x->userdata);
}

/* Packs the params of step x->step. */
static void pack_params(struct exec *x, const char *method, struct rpc_buf *b) {
        const struct job_payload *p = &x->payload;
        struct rpc_map map;
        msgpack_packer *mpk = rpc_params_begin(&map, &b->pk);

        if (streq(method, "game.install"))
                ; /* no arguments */
        else if (streq(method, "instance.initialize")) {
                rpc_pack_kv_str(mpk, "name", p->server);
                rpc_pack_kv_str(mpk, "spec", p->spec);
        } else if (streq(method, "overlay.build")) {
                rpc_pack_kv_str(mpk, "id", p->overlay);
                rpc_pack_kv_str(mpk, "script", p->script);
                if (p->base)
                        rpc_pack_kv_str(mpk, "base", p->base);
        } else if (streq(method, "overlay.delete"))
                rpc_pack_kv_str(mpk, "id", p->overlay);
        else
                rpc_pack_kv_str(mpk, "name", p->server);
        (void) rpc_map_end(&map);
}

static int obj_int(const msgpack_object *o, int64_t *ret) {
        if (!o)
                return -ENOENT;
        if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
                *ret = (int64_t) o->via.u64;
        else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                *ret = o->via.i64;
        else
                return -EINVAL;
        return 0;
}

/* A short printable rendering of a string field of a result (for step lines). */
static void obj_str(const msgpack_object *map, const char *key, char *buf, size_t size) {
        const msgpack_object *o = map && map->type == MSGPACK_OBJECT_MAP ? rpc_map_get(map, key) : NULL;
        if (o && o->type == MSGPACK_OBJECT_STR)
                snprintf(buf, size, "%.*s", (int) MIN(o->via.str.size, 200u), o->via.str.ptr);
        else
                snprintf(buf, size, "?");
}

static void run_step(struct exec *x);

/* Passes on a `unit` field of a notification or result map, if there is one. */
static void report_unit(struct exec *x, const msgpack_object *map) {
        const msgpack_object *u = map && map->type == MSGPACK_OBJECT_MAP ? rpc_map_get(map, "unit") : NULL;

        if (u && u->type == MSGPACK_OBJECT_STR && x->ops->on_unit)
                x->ops->on_unit(x, u->via.str.ptr, u->via.str.size, x->userdata);
}

static void on_notify(struct rpc_core *core, uint32_t msgid, const msgpack_object *payload, void *userdata) {
        struct exec *x = userdata;
        const msgpack_object *stream, *text;
        char name[8] = "stdout";

        if (payload->type != MSGPACK_OBJECT_MAP)
                return;
        report_unit(x, payload);
        stream = rpc_map_get(payload, "stream");
        text = rpc_map_get(payload, "line");
        if (!text || text->type != MSGPACK_OBJECT_STR)
                return;
        if (stream && stream->type == MSGPACK_OBJECT_STR &&
            job_stream_valid(stream->via.str.ptr, stream->via.str.size)) {
                memcpy(name, stream->via.str.ptr, stream->via.str.size);
                name[stream->via.str.size] = 0;
        }
        x->ops->on_line(x, name, text->via.str.ptr, text->via.str.size, x->userdata);
}

/* Interprets a successful result of method; returns false if the job must stop as failed
 * (or cancelled) because of what it says. */
static bool handle_result(struct exec *x, const char *method, const msgpack_object *res) {
        const msgpack_object *o = res && res->type == MSGPACK_OBJECT_MAP ? res : NULL;
        char a[256], b[256], c[256];
        int64_t v;

        if (streq(method, "game.install")) {
                if (o && obj_int(rpc_map_get(o, "exit_code"), &v) >= 0)
                        x->has_exit_code = true, x->exit_code = v;
                line(x, "info", "game.install: done");
        } else if (streq(method, "overlay.build")) {
                if (o && obj_int(rpc_map_get(o, "exit_code"), &v) >= 0)
                        x->has_exit_code = true, x->exit_code = v;
                obj_str(o, "result", a, sizeof(a));
                line(x, "info", "overlay.build: %s", a);
                if (streq(a, "cancelled")) {
                        finish(x, JOB_CANCELLED, false, "build cancelled");
                        return false;
                }
                if (!streq(a, "success")) {
                        const msgpack_object *err = o ? rpc_map_get(o, "error") : NULL;
                        if (err && err->type == MSGPACK_OBJECT_STR)
                                finish(x, JOB_FAILED, false, "build %s: %.*s", a,
                                       (int) MIN(err->via.str.size, 300u), err->via.str.ptr);
                        else
                                finish(x, JOB_FAILED, false, "build %s", a);
                        return false;
                }
        } else if (streq(method, "instance.initialize")) {
                obj_str(o, "name", a, sizeof(a));
                if (o && obj_int(rpc_map_get(o, "port"), &v) >= 0)
                        line(x, "info", "instance.initialize: server '%s' on port %lld", a, (long long) v);
                else
                        line(x, "info", "instance.initialize: server '%s'", a);
        } else if (streq(method, "instance.start") || streq(method, "instance.stop")) {
                /* hostd answers {unit, active_state, sub_state} (the documented contract) or
                 * {name, unit, result} (the systemd job's result): show whichever came. */
                obj_str(o, "unit", a, sizeof(a));
                if (o && rpc_map_get(o, "active_state")) {
                        obj_str(o, "active_state", b, sizeof(b));
                        obj_str(o, "sub_state", c, sizeof(c));
                        line(x, "info", "%s: %s is %s (%s)", method, a, b, c);
                } else {
                        obj_str(o, "result", b, sizeof(b));
                        line(x, "info", "%s: %s: %s", method, a, b);
                }
        } else if (streq(method, "overlay.delete")) {
                const msgpack_object *existed = o ? rpc_map_get(o, "existed") : NULL;
                bool was = existed && existed->type == MSGPACK_OBJECT_BOOLEAN && existed->via.boolean;
                line(x, "info", "overlay.delete: overlay '%s' %s", x->payload.overlay,
                     was ? "deleted" : "was not there");
        } else
                line(x, "info", "%s: done", method);
        return true;
}

static void on_reply(struct rpc_core *core, uint32_t msgid, const struct rpc_core_reply *r, void *userdata) {
        struct exec *x = userdata;
        const char *method = exec_steps(x->kind)[x->step];

        if (r->transport_error < 0) {
                line(x, "stderr", "%s: %s", method, r->error.message);
                if (x->cancel_requested)
                        finish(x, JOB_CANCELLED, false, "cancelled");
                else
                        finish(x, JOB_FAILED, true, "%s: %s", method, r->error.message);
                return;
        }
        if (r->failed) {
                if (r->error.code == RPC_CANCELLED) {
                        line(x, "info", "%s: cancelled", method);
                        finish(x, JOB_CANCELLED, false, "cancelled");
                        return;
                }
                line(x, "stderr", "%s failed (%s): %s", method, rpc_code_to_string(r->error.code),
                     r->error.message);
                /* A host service that went away under systemd (restart, idle exit racing us) answers
                 * "unavailable": same as losing the connection. */
                finish(x, JOB_FAILED, r->error.code == RPC_UNAVAILABLE, "%s: %s: %s", method,
                       rpc_code_to_string(r->error.code), r->error.message);
                return;
        }
        report_unit(x, r->result);
        if (!handle_result(x, method, r->result))
                return;
        x->step++;
        if (!exec_steps(x->kind)[x->step]) {
                finish(x, JOB_SUCCEEDED, false, NULL);
                return;
        }
        if (x->cancel_requested) {
                line(x, "info", "cancelled before %s", exec_steps(x->kind)[x->step]);
                finish(x, JOB_CANCELLED, false, "cancelled");
                return;
        }
        run_step(x);
}

static void run_step(struct exec *x) {
        const char *method = exec_steps(x->kind)[x->step];
        struct rpc_buf params;
        int r;

        if (!x->host) {
                struct rpc_core_config cfg = {.limits = x->limits, .peer_name = "host service"};
                r = rpc_sdclient_new(x->event, x->host_socket, &cfg, &x->host);
                if (r < 0) {
                        line(x, "stderr", "cannot connect to the host service at '%s': %s", x->host_socket,
                             strerror(-r));
                        finish(x, JOB_FAILED, true, "host service unavailable: %s", strerror(-r));
                        return;
                }
        }
        line(x, "step", "Step: %s", method);
        rpc_buf_init(&params, 0);
        pack_params(x, method, &params);
        r = rpc_buf_ok(&params) ? rpc_core_call(rpc_sdclient_core(x->host), method, &params, on_notify,
                                                on_reply, x, &x->msgid)
                                : -ENOMEM;
        rpc_buf_done(&params);
        if (r < 0) {
                line(x, "stderr", "%s: cannot send the request: %s", method, strerror(-r));
                finish(x, JOB_FAILED, true, "%s: %s", method, strerror(-r));
        }
}

static int on_start(sd_event_source *s, void *userdata) {
        struct exec *x = userdata;

        x->start_source = sd_event_source_disable_unref(x->start_source);
        if (x->cancel_requested) {
                finish(x, JOB_CANCELLED, false, "cancelled");
                return 0;
        }
        run_step(x);
        return 0;
}

static int on_cancel_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        struct exec *x = userdata;

        x->cancel_timer = sd_event_source_disable_unref(x->cancel_timer);
        line(x, "info", "the host service did not confirm the cancel in time; dropped the connection");
        x->host = rpc_sdclient_free(x->host);
        finish(x, JOB_CANCELLED, false, "cancelled");
        return 0;
}

void exec_cancel(struct exec *x) {
        uint64_t now;

        if (x->done || x->cancel_requested)
                return;
        x->cancel_requested = true;
        if (!x->host || !rpc_core_call_pending(rpc_sdclient_core(x->host), x->msgid))
                return; /* between steps or not started: checked before the next one */
        if (rpc_core_cancel(rpc_sdclient_core(x->host), x->msgid) < 0)
                log_debug("Could not send rpc.cancel to the host service, will drop the connection.");
        if (sd_event_now(x->event, CLOCK_MONOTONIC, &now) >= 0)
                (void) sd_event_add_time(x->event, &x->cancel_timer, CLOCK_MONOTONIC,
                                         now + EXEC_CANCEL_TIMEOUT_USEC, 0, on_cancel_timeout, x);
}

static int strdup_opt(const char *s, char **ret) {
        *ret = NULL;
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int payload_copy(const struct job_payload *p, struct job_payload *ret) {
        struct job_payload c = {};
        size_t n = strv_length(p->overlays);

        if (strdup_opt(p->server, &c.server) < 0 || strdup_opt(p->overlay, &c.overlay) < 0 ||
            strdup_opt(p->spec, &c.spec) < 0 || strdup_opt(p->script, &c.script) < 0)
                goto oom;
        if (p->overlays) {
                c.overlays = calloc(n + 1, sizeof(char *));
                if (!c.overlays)
                        goto oom;
                for (size_t i = 0; i < n; i++)
                        if (strdup_opt(p->overlays[i], &c.overlays[i]) < 0)
                                goto oom;
        }
        *ret = c;
        return 0;
oom:
        job_payload_done(&c);
        return -ENOMEM;
}

int exec_new(sd_event *e, const char *host_socket, const struct mp_limits *limits, enum job_kind kind,
             const struct job_payload *p, const struct exec_ops *ops, void *userdata, struct exec **ret) {
        struct exec *x;
        int r;

        if (!exec_steps(kind))
                return -EINVAL;
        x = calloc(1, sizeof(*x));
        if (!x)
                return -ENOMEM;
        x->event = sd_event_ref(e);
        x->kind = kind;
        x->ops = ops;
        x->userdata = userdata;
        x->limits = limits ? *limits : (struct mp_limits){};
        x->host_socket = strdup(host_socket);
        if (!x->host_socket) {
                r = -ENOMEM;
                goto fail;
        }
        r = payload_copy(p, &x->payload);
        if (r < 0)
                goto fail;
        r = sd_event_add_defer(e, &x->start_source, on_start, x);
        if (r < 0)
                goto fail;
        *ret = x;
        return 0;
fail:
        exec_free(x);
        return r;
}

struct exec *exec_free(struct exec *x) {
        if (!x)
                return NULL;
        sd_event_source_disable_unref(x->start_source);
        sd_event_source_disable_unref(x->cancel_timer);
        rpc_sdclient_free(x->host);
        job_payload_done(&x->payload);
        free(x->host_socket);
        sd_event_unref(x->event);
        free(x);
        return NULL;
}
