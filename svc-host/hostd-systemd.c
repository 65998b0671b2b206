/* hostd's systemd client over sd-bus. See hostd-systemd.h.
 *
 * Each operation is a struct unit_op that walks through its steps on method replies; the
 * last step of start/stop waits for JobRemoved of the job it queued. Operations live in a
 * list on the bus object, so a lost connection or teardown completes or frees them all. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "svc-host/hostd-systemd.h"

#define JOB_TIMEOUT_USEC (120ULL * 1000000ULL)
#define RECENT_JOBS      32

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MGR  "org.freedesktop.systemd1.Manager"

enum op_kind { OP_START, OP_STOP, OP_STATUS, OP_TRANSIENT, OP_LIST };

enum op_step {
        /* No Reload after it: enablement is for the next boot, which reads the disk anyway, and
         * a Reload resets the start-rate counter of every unit, so a crash-looping server would
         * never hit its StartLimitBurst= while others are started or stopped. */
        STEP_FILES, /* EnableUnitFiles / DisableUnitFiles */
        STEP_RESET, /* ResetFailedUnit */
        STEP_JOB,   /* StartUnit / StopUnit */
        STEP_WAIT,  /* JobRemoved */
        STEP_UNIT_PROPS,
        STEP_SERVICE_PROPS,
};

struct unit_op {
        struct hostd_bus *bus;
        struct unit_op *next, *prev;
        enum op_kind kind;
        enum op_step step;
        bool file_op;
        char unit[256];
        char *job;
        sd_event_source *timer;
        unit_op_cb cb;
        unit_status_cb status_cb;
        unit_list_cb list_cb;
        void *userdata;
        struct unit_status st;
        struct unit_brief *list; /* OP_LIST's answer */
        size_t n_list;
};

struct recent_job {
        char *path;
        char result[32];
};

struct hostd_bus {
        sd_event *event;
        sd_bus *bus;
        bool broken;
        sd_event_source *drop_source;
        struct unit_op *ops;
        struct recent_job recent[RECENT_JOBS];
        unsigned recent_next;
};

static void op_free(struct unit_op *op) {
        struct hostd_bus *b = op->bus;

        if (op->prev)
                op->prev->next = op->next;
        else if (b->ops == op)
                b->ops = op->next;
        if (op->next)
                op->next->prev = op->prev;
        sd_event_source_disable_unref(op->timer);
        free(op->job);
        free(op->list);
        free(op);
}

/* Completes op: calls its callback once and frees it. */
static void op_finish(struct unit_op *op, int r, const char *result, const char *message) {
        if (op->kind == OP_STATUS) {
                if (op->status_cb)
                        op->status_cb(r, r >= 0 ? &op->st : NULL, message, op->userdata);
        } else if (op->kind == OP_LIST) {
                if (op->list_cb)
                        op->list_cb(r, r >= 0 ? op->list : NULL, r >= 0 ? op->n_list : 0, message,
                                    op->userdata);
        } else if (op->cb)
                op->cb(r, result, message, op->userdata);
        op_free(op);
}

static void bus_drop(struct hostd_bus *b) {
        if (!b->bus)
                return;
        (void) sd_bus_detach_event(b->bus);
        b->bus = sd_bus_flush_close_unref(b->bus);
        b->broken = false;
}

/* Fails every operation (the connection is gone). Never called from inside an op's own
 * callback chain while iterating. */
static void fail_all(struct hostd_bus *b, int r, const char *message) {
        while (b->ops)
                op_finish(b->ops, r, NULL, message);
}

/* Runs outside the bus's own dispatch: drops the dead connection and fails what waited on it. */
static int on_broken(sd_event_source *s, void *userdata) {
        struct hostd_bus *b = userdata;

        b->drop_source = sd_event_source_disable_unref(b->drop_source);
        bus_drop(b);
        fail_all(b, -ECONNRESET, "lost the connection to systemd");
        return 0;
}

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct hostd_bus *b = userdata;

        log_warning("Lost the connection to systemd");
        if (!b->broken && sd_event_add_defer(b->event, &b->drop_source, on_broken, b) >= 0)
                b->broken = true;
        return 0;
}

static void recent_add(struct hostd_bus *b, const char *path, const char *result) {
        struct recent_job *j = &b->recent[b->recent_next++ % RECENT_JOBS];

        free(j->path);
        j->path = strdup(path);
        snprintf(j->result, sizeof(j->result), "%s", result);
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct hostd_bus *b = userdata;
        const char *path, *unit, *result;
        uint32_t id;
        int r;

        r = sd_bus_message_read(m, "uoss", &id, &path, &unit, &result);
        if (r < 0)
                return 0;
        for (struct unit_op *op = b->ops; op; op = op->next)
                if (op->step == STEP_WAIT && op->job && streq(op->job, path)) {
                        op_finish(op, 0, result, NULL);
                        return 0;
                }
        recent_add(b, path, result); /* in case its StartUnit reply is still being handled */
        return 0;
}

static int bus_get(struct hostd_bus *b, sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        if (b->broken)
                return -ENOTCONN; /* being dropped: the next call reconnects */
        if (b->bus && !sd_bus_is_open(b->bus))
                bus_drop(b);
        if (b->bus) {
                *ret = b->bus;
                return 0;
        }

        if (geteuid() == 0 && access("/run/systemd/private", F_OK) >= 0) {
                r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, "unix:path=/run/systemd/private");
                if (r >= 0)
                        r = sd_bus_start(bus);
                if (r < 0)
                        bus = sd_bus_flush_close_unref(bus);
        }
        if (!bus) {
                r = sd_bus_open_system(&bus);
                if (r < 0)
                        return r;
        }
        r = sd_bus_attach_event(bus, b->event, 0);
        if (r < 0)
                return r;
        r = sd_bus_match_signal_async(bus, NULL, NULL, SD_PATH, SD_MGR, "JobRemoved", on_job_removed, NULL,
                                      b);
        if (r < 0)
                return r;
        r = sd_bus_match_signal(bus, NULL, NULL, "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local",
                                "Disconnected", on_disconnected, b);
        if (r < 0)
                return r;
        /* Ask for the signals (a no-op reply we do not wait for). */
        r = sd_bus_call_method_async(bus, NULL, SD_DEST, SD_PATH, SD_MGR, "Subscribe", NULL, NULL, "");
        if (r < 0)
                return r;
        b->bus = TAKE_PTR(bus);
        b->broken = false;
        *ret = b->bus;
        return 0;
}

int hostd_bus_new(sd_event *e, struct hostd_bus **ret) {
        struct hostd_bus *b = calloc(1, sizeof(*b));

        if (!b)
                return -ENOMEM;
        b->event = sd_event_ref(e);
        *ret = b;
        return 0;
}

struct hostd_bus *hostd_bus_free(struct hostd_bus *b) {
        if (!b)
                return NULL;
        b->drop_source = sd_event_source_disable_unref(b->drop_source);
        fail_all(b, -ECANCELED, "hostd is shutting down");
        bus_drop(b);
        for (unsigned i = 0; i < RECENT_JOBS; i++)
                free(b->recent[i].path);
        sd_event_unref(b->event);
        free(b);
        return NULL;
}

int unit_prop_open(sd_bus_message *m, const char *name, const char *sig) {
        int r = sd_bus_message_open_container(m, 'r', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", name);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', sig);
        return r;
}

int unit_prop_close(sd_bus_message *m) {
        int r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

int unit_prop_exec_start(sd_bus_message *m, char **argv) {
        int r = unit_prop_open(m, "ExecStart", "a(sasb)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sasb)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'r', "sasb");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", argv[0]);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, argv);
        if (r >= 0)
                r = sd_bus_message_append(m, "b", 0); /* a failure is not ignored */
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = unit_prop_close(m);
        return r;
}

int unit_prop_bool(sd_bus_message *m, const char *name, bool v) {
        return sd_bus_message_append(m, "(sv)", name, "b", (int) v);
}

int unit_prop_str(sd_bus_message *m, const char *name, const char *v) {
        return sd_bus_message_append(m, "(sv)", name, "s", v);
}

int unit_prop_u64(sd_bus_message *m, const char *name, uint64_t v) {
        return sd_bus_message_append(m, "(sv)", name, "t", v);
}

int unit_prop_strv(sd_bus_message *m, const char *name, char **v) {
        int r = unit_prop_open(m, name, "as");
        if (r >= 0)
                r = sd_bus_message_append_strv(m, v);
        if (r >= 0)
                r = unit_prop_close(m);
        return r;
}

int unit_prop_list(sd_bus_message *m, const char *name, bool allow, char **v) {
        int r = unit_prop_open(m, name, "(bas)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'r', "bas");
        if (r >= 0)
                r = sd_bus_message_append(m, "b", (int) allow);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, v);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = unit_prop_close(m);
        return r;
}

int unit_prop_binds(sd_bus_message *m, const char *name, const struct unit_bind *b, size_t n) {
        int r = unit_prop_open(m, name, "a(ssbt)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(ssbt)");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = sd_bus_message_append(m, "(ssbt)", b[i].source, b[i].dest, (int) b[i].ignore_missing,
                                          (uint64_t) 0);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = unit_prop_close(m);
        return r;
}

int unit_prop_tmpfs(sd_bus_message *m, char **path_options) {
        int r = unit_prop_open(m, "TemporaryFileSystem", "a(ss)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(ss)");
        for (size_t i = 0; r >= 0 && path_options[i] && path_options[i + 1]; i += 2)
                r = sd_bus_message_append(m, "(ss)", path_options[i], path_options[i + 1]);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = unit_prop_close(m);
        return r;
}

int unit_prop_ip_list(sd_bus_message *m, const char *name, const char *const *cidrs, size_t n) {
        int r = unit_prop_open(m, name, "a(iayu)");

        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(iayu)");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const char *slash = strchr(cidrs[i], '/');
                int family = strchr(cidrs[i], ':') ? AF_INET6 : AF_INET;
                unsigned char bytes[16];
                long long prefix;
                char addr[64];

                if (!slash || (size_t) (slash - cidrs[i]) >= sizeof(addr))
                        return -EINVAL;
                snprintf(addr, sizeof(addr), "%.*s", (int) (slash - cidrs[i]), cidrs[i]);
                if (inet_pton(family, addr, bytes) != 1 ||
                    safe_atoi64(slash + 1, 0, family == AF_INET ? 32 : 128, &prefix) < 0)
                        return -EINVAL;
                r = sd_bus_message_open_container(m, 'r', "iayu");
                if (r >= 0)
                        r = sd_bus_message_append(m, "i", (int32_t) family);
                if (r >= 0)
                        r = sd_bus_message_append_array(m, 'y', bytes, family == AF_INET ? 4 : 16);
                if (r >= 0)
                        r = sd_bus_message_append(m, "u", (uint32_t) prefix);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = unit_prop_close(m);
        return r;
}

/* ---- start / stop ---------------------------------------------------------------------- */

static int op_next(struct unit_op *op);

static int on_job_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        struct unit_op *op = userdata;

        op_finish(op, -ETIMEDOUT, NULL, "the systemd job did not finish within 120 s");
        return 0;
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct unit_op *op = userdata;
        const sd_bus_error *err = sd_bus_message_get_error(m);
        char msg[384];
        int r;

        if (err) {
                bool no_unit = sd_bus_error_has_name(err, "org.freedesktop.systemd1.NoSuchUnit") ||
                               sd_bus_error_has_name(err, "org.freedesktop.systemd1.LoadFailed");

                if (op->kind == OP_STOP && no_unit && (op->step == STEP_JOB || op->step == STEP_FILES)) {
                        if (op->step == STEP_JOB) {
                                op_finish(op, 0, "done", NULL); /* unknown unit: stopped */
                                return 0;
                        }
                } else if (op->step == STEP_RESET) {
                        /* ResetFailedUnit fails for a unit that is not loaded: fine. */
                } else {
                        snprintf(msg, sizeof(msg), "systemd: %s", err->message ?: err->name);
                        op_finish(op,
                                  sd_bus_error_has_name(err, "org.freedesktop.systemd1.UnitExists")
                                          ? -EEXIST
                                          : -sd_bus_message_get_errno(m) ?: -EIO,
                                  NULL, msg);
                        return 0;
                }
        }

        if (!err && op->step == STEP_JOB) {
                const char *job;

                r = sd_bus_message_read(m, "o", &job);
                if (r < 0) {
                        op_finish(op, r, NULL, "systemd: unexpected reply to StartUnit/StopUnit");
                        return 0;
                }
                op->job = strdup(job);
                if (!op->job) {
                        op_finish(op, -ENOMEM, NULL, "out of memory");
                        return 0;
                }
                for (unsigned i = 0; i < RECENT_JOBS; i++) {
                        struct recent_job *j = &op->bus->recent[i];
                        if (j->path && streq(j->path, job)) {
                                char result[32];
                                snprintf(result, sizeof(result), "%s", j->result);
                                op_finish(op, 0, result, NULL);
                                return 0;
                        }
                }
                op->step = STEP_WAIT;
                r = sd_event_add_time_relative(op->bus->event, &op->timer, CLOCK_MONOTONIC, JOB_TIMEOUT_USEC,
                                               0, on_job_timeout, op);
                if (r < 0)
                        op_finish(op, r, NULL, "cannot arm the job timer");
                return 0;
        }

        op->step++;
        r = op_next(op);
        if (r < 0)
                op_finish(op, r, NULL, "cannot talk to systemd");
        return 0;
}

/* Issues the call of op's current step. */
static int op_next(struct unit_op *op) {
        sd_bus *bus = op->bus->bus;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        if (op->step == STEP_FILES && !op->file_op)
                op->step = STEP_RESET;
        if (op->kind == OP_STOP && op->step == STEP_RESET)
                op->step = STEP_JOB;

        switch (op->step) {
        case STEP_FILES:
                r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MGR,
                                                   op->kind == OP_START ? "EnableUnitFiles"
                                                                        : "DisableUnitFiles");
                if (r < 0)
                        return r;
                r = sd_bus_message_append_strv(m, (char *[]){op->unit, NULL});
                if (r < 0)
                        return r;
                if (op->kind == OP_START)
                        r = sd_bus_message_append(m, "bb", false, true); /* not runtime, force */
                else
                        r = sd_bus_message_append(m, "b", false);
                if (r < 0)
                        return r;
                return sd_bus_call_async(bus, NULL, m, on_reply, op, 0);
        case STEP_RESET:
                return sd_bus_call_method_async(bus, NULL, SD_DEST, SD_PATH, SD_MGR, "ResetFailedUnit",
                                                on_reply, op, "s", op->unit);
        case STEP_JOB:
                return sd_bus_call_method_async(bus, NULL, SD_DEST, SD_PATH, SD_MGR,
                                                op->kind == OP_START ? "StartUnit" : "StopUnit", on_reply,
                                                op, "ss", op->unit, "replace");
        default:
                return -EINVAL;
        }
}

static int op_new(struct hostd_bus *b, enum op_kind kind, const char *unit, struct unit_op **ret) {
        struct unit_op *op;
        sd_bus *bus;
        int r;

        if (strlen(unit) >= sizeof(op->unit))
                return -ENAMETOOLONG;
        r = bus_get(b, &bus);
        if (r < 0)
                return r;
        op = calloc(1, sizeof(*op));
        if (!op)
                return -ENOMEM;
        op->bus = b;
        op->kind = kind;
        snprintf(op->unit, sizeof(op->unit), "%s", unit);
        op->next = b->ops;
        if (b->ops)
                b->ops->prev = op;
        b->ops = op;
        *ret = op;
        return 0;
}

static int unit_job(struct hostd_bus *b, enum op_kind kind, const char *unit, bool files, unit_op_cb cb,
                    void *userdata) {
        struct unit_op *op;
        int r;

        r = op_new(b, kind, unit, &op);
        if (r < 0)
                return r;
        op->file_op = files;
        op->cb = cb;
        op->userdata = userdata;
        op->step = STEP_FILES;
        r = op_next(op);
        if (r < 0) {
                op->cb = NULL; /* the caller learns it from r */
                op_free(op);
        }
        return r;
}

int unit_start(struct hostd_bus *b, const char *unit, bool enable, unit_op_cb cb, void *userdata) {
        return unit_job(b, OP_START, unit, enable, cb, userdata);
}

int unit_stop(struct hostd_bus *b, const char *unit, bool disable, unit_op_cb cb, void *userdata) {
        return unit_job(b, OP_STOP, unit, disable, cb, userdata);
}

/* ---- status ---------------------------------------------------------------------------- */

static void read_str_prop(sd_bus_message *m, char *buf, size_t len) {
        const char *s;

        if (sd_bus_message_read(m, "v", "s", &s) >= 0)
                snprintf(buf, len, "%s", s);
        else
                (void) sd_bus_message_skip(m, "v");
}

static void read_u64_prop(sd_bus_message *m, uint64_t *v) {
        if (sd_bus_message_read(m, "v", "t", v) < 0)
                (void) sd_bus_message_skip(m, "v");
}

static void read_u32_prop(sd_bus_message *m, uint32_t *v) {
        if (sd_bus_message_read(m, "v", "u", v) < 0)
                (void) sd_bus_message_skip(m, "v");
}

static void read_i32_prop(sd_bus_message *m, int32_t *v) {
        if (sd_bus_message_read(m, "v", "i", v) < 0)
                (void) sd_bus_message_skip(m, "v");
}

static int parse_props_into(struct unit_status *st, sd_bus_message *m) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *name;

                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        return r;
                if (streq(name, "LoadState"))
                        read_str_prop(m, st->load_state, sizeof(st->load_state));
                else if (streq(name, "ActiveState"))
                        read_str_prop(m, st->active_state, sizeof(st->active_state));
                else if (streq(name, "SubState"))
                        read_str_prop(m, st->sub_state, sizeof(st->sub_state));
                else if (streq(name, "UnitFileState"))
                        read_str_prop(m, st->unit_file_state, sizeof(st->unit_file_state));
                else if (streq(name, "StateChangeTimestamp"))
                        read_u64_prop(m, &st->since_usec);
                else if (streq(name, "ActiveEnterTimestamp"))
                        read_u64_prop(m, &st->active_enter_usec);
                else if (streq(name, "MainPID"))
                        read_u32_prop(m, &st->main_pid);
                else if (streq(name, "NRestarts"))
                        read_u32_prop(m, &st->n_restarts);
                else if (streq(name, "MemoryCurrent"))
                        read_u64_prop(m, &st->memory_bytes);
                else if (streq(name, "CPUUsageNSec"))
                        read_u64_prop(m, &st->cpu_nsec);
                else if (streq(name, "Result"))
                        read_str_prop(m, st->result, sizeof(st->result));
                else if (streq(name, "ExecMainCode"))
                        read_i32_prop(m, &st->exec_main_code);
                else if (streq(name, "ExecMainStatus"))
                        read_i32_prop(m, &st->exec_main_status);
                else if (streq(name, "InvocationID")) {
                        const void *p;
                        size_t n;

                        r = sd_bus_message_enter_container(m, 'v', "ay");
                        if (r < 0)
                                return r;
                        r = sd_bus_message_read_array(m, 'y', &p, &n);
                        if (r < 0)
                                return r;
                        st->invocation_id[0] = 0;
                        if (n == 16)
                                for (size_t i = 0; i < 16; i++)
                                        snprintf(st->invocation_id + 2 * i, 3, "%02x",
                                                 ((const uint8_t *) p)[i]);
                        r = sd_bus_message_exit_container(m);
                        if (r < 0)
                                return r;
                } else {
                        r = sd_bus_message_skip(m, "v");
                        if (r < 0)
                                return r;
                }
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int on_props(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct unit_op *op = userdata;
        const sd_bus_error *err = sd_bus_message_get_error(m);
        _cleanup_free_ char *path = NULL;
        char msg[384];
        int r;

        if (err) {
                snprintf(msg, sizeof(msg), "systemd: %s", err->message ?: err->name);
                op_finish(op, -sd_bus_message_get_errno(m) ?: -EIO, NULL, msg);
                return 0;
        }
        r = parse_props_into(&op->st, m);
        if (r < 0) {
                op_finish(op, r, NULL, "systemd: malformed properties");
                return 0;
        }
        if (op->step == STEP_SERVICE_PROPS) {
                op_finish(op, 0, NULL, NULL);
                return 0;
        }
        op->step = STEP_SERVICE_PROPS;
        r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", op->unit, &path);
        if (r >= 0)
                r = sd_bus_call_method_async(op->bus->bus, NULL, SD_DEST, path,
                                             "org.freedesktop.DBus.Properties", "GetAll", on_props, op, "s",
                                             "org.freedesktop.systemd1.Service");
        if (r < 0)
                op_finish(op, r, NULL, "cannot talk to systemd");
        return 0;
}

int unit_get_status(struct hostd_bus *b, const char *unit, unit_status_cb cb, void *userdata) {
        _cleanup_free_ char *path = NULL;
        struct unit_op *op;
        int r;

        r = op_new(b, OP_STATUS, unit, &op);
        if (r < 0)
                return r;
        op->status_cb = cb;
        op->userdata = userdata;
        op->step = STEP_UNIT_PROPS;
        op->st.memory_bytes = UINT64_MAX;
        op->st.cpu_nsec = UINT64_MAX;
        r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit, &path);
        if (r >= 0)
                r = sd_bus_call_method_async(b->bus, NULL, SD_DEST, path, "org.freedesktop.DBus.Properties",
                                             "GetAll", on_props, op, "s", "org.freedesktop.systemd1.Unit");
        if (r < 0) {
                op->status_cb = NULL;
                op_free(op);
        }
        return r;
}

/* ---- many units' states at once -------------------------------------------------------- */

#define LIST_UNITS_MAX 4096u

static int on_list_units(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct unit_op *op = userdata;
        const sd_bus_error *err = sd_bus_message_get_error(m);
        const char *name, *desc, *load, *active, *sub;
        char msg[384];
        size_t alloc = 0;
        int r;

        if (err) {
                snprintf(msg, sizeof(msg), "systemd: %s", err->message ?: err->name);
                op_finish(op, -sd_bus_message_get_errno(m) ?: -EIO, NULL, msg);
                return 0;
        }
        r = sd_bus_message_enter_container(m, 'a', "(ssssssouso)");
        while (r >= 0 && (r = sd_bus_message_read(m, "(ssssssouso)", &name, &desc, &load, &active, &sub,
                                                  NULL, NULL, NULL, NULL, NULL)) > 0) {
                struct unit_brief *u;
                if (op->n_list >= LIST_UNITS_MAX)
                        continue; /* hostd lists at most 1000 instances anyway */
                if (op->n_list == alloc) {
                        size_t na = alloc ? alloc * 2 : 64;
                        struct unit_brief *nv = realloc(op->list, na * sizeof(*nv));
                        if (!nv) {
                                r = -ENOMEM;
                                break;
                        }
                        op->list = nv;
                        alloc = na;
                }
                u = &op->list[op->n_list++];
                snprintf(u->name, sizeof(u->name), "%s", name);
                snprintf(u->load_state, sizeof(u->load_state), "%s", load);
                snprintf(u->active_state, sizeof(u->active_state), "%s", active);
                snprintf(u->sub_state, sizeof(u->sub_state), "%s", sub);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r < 0)
                op_finish(op, r, NULL, "systemd: malformed unit list");
        else
                op_finish(op, 0, NULL, NULL);
        return 0;
}

int unit_list_states(struct hostd_bus *b, const char *pattern, unit_list_cb cb, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        struct unit_op *op;
        int r;

        r = op_new(b, OP_LIST, pattern, &op);
        if (r < 0)
                return r;
        op->list_cb = cb;
        op->userdata = userdata;
        r = sd_bus_message_new_method_call(b->bus, &m, SD_DEST, SD_PATH, SD_MGR, "ListUnitsByPatterns");
        if (r >= 0)
                r = sd_bus_message_append(m, "as", 0); /* any state */
        if (r >= 0)
                r = sd_bus_message_append(m, "as", 1, pattern);
        if (r >= 0)
                r = sd_bus_call_async(b->bus, NULL, m, on_list_units, op, 0);
        if (r < 0) {
                op->list_cb = NULL;
                op_free(op);
        }
        return r;
}

/* ---- transient units ------------------------------------------------------------------- */

int unit_start_transient(struct hostd_bus *b, const char *unit, unit_props_cb append, void *append_userdata,
                         unit_op_cb cb, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        struct unit_op *op;
        int r;

        r = op_new(b, OP_TRANSIENT, unit, &op);
        if (r < 0)
                return r;
        op->cb = cb;
        op->userdata = userdata;
        op->step = STEP_JOB;
        r = sd_bus_message_new_method_call(b->bus, &m, SD_DEST, SD_PATH, SD_MGR, "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", unit, "fail");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = append(m, append_userdata);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0); /* no auxiliary units */
        if (r >= 0)
                r = sd_bus_call_async(b->bus, NULL, m, on_reply, op, 0);
        if (r < 0) {
                op->cb = NULL; /* the caller learns it from r */
                op_free(op);
        }
        return r;
}

struct unit_watch_ctx {
        unit_changed_cb changed;
        void *userdata;
};

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct unit_watch_ctx *w = userdata;
        struct unit_status st = {.memory_bytes = UINT64_MAX, .cpu_nsec = UINT64_MAX};
        const char *iface;

        if (sd_bus_message_read(m, "s", &iface) < 0 || parse_props_into(&st, m) < 0)
                return 0;
        w->changed(&st, w->userdata);
        return 0;
}

static void watch_ctx_free(void *p) {
        free(p);
}

int unit_watch(struct hostd_bus *b, const char *unit, unit_changed_cb changed, void *userdata,
               sd_bus_slot **ret_slot) {
        _cleanup_free_ char *path = NULL;
        struct unit_watch_ctx *w;
        sd_bus_slot *slot = NULL;
        sd_bus *bus;
        int r;

        r = bus_get(b, &bus);
        if (r < 0)
                return r;
        r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit, &path);
        if (r < 0)
                return r;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->changed = changed;
        w->userdata = userdata;
        /* Synchronous AddMatch would block; the async form may lose the first signals until
         * the bus daemon acknowledged it, but on systemd's private socket there is no bus
         * daemon and the match is local. */
        r = sd_bus_match_signal_async(bus, &slot, NULL, path, "org.freedesktop.DBus.Properties",
                                      "PropertiesChanged", on_properties_changed, NULL, w);
        if (r < 0) {
                free(w);
                return r;
        }
        (void) sd_bus_slot_set_destroy_callback(slot, watch_ctx_free);
        *ret_slot = slot;
        return 0;
}

int unit_reset_failed(struct hostd_bus *b, const char *unit) {
        sd_bus *bus;
        int r;

        r = bus_get(b, &bus);
        if (r < 0)
                return r;
        return sd_bus_call_method_async(bus, NULL, SD_DEST, SD_PATH, SD_MGR, "ResetFailedUnit", NULL, NULL,
                                        "s", unit);
}

void unit_ops_forget(struct hostd_bus *b, void *userdata) {
        for (struct unit_op *op = b->ops; op; op = op->next)
                if (op->userdata == userdata) {
                        op->cb = NULL;
                        op->status_cb = NULL;
                }
}
