/* hostd's systemd client over sd-bus, fully asynchronous in the sd-event loop.
 *
 * The connection is made on first use (the private socket /run/systemd/private when root,
 * else the system bus) and again after it was lost, so hostd starts and serves file
 * operations without systemd (the black-box tests) and survives a dbus restart. A unit
 * operation is a chain of method calls ending with a job; the operation completes when
 * the job's JobRemoved signal arrives, with the job's result ("done", "failed",
 * "canceled", "timeout", "dependency", "skipped"). Nothing here blocks. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "proto/names.h"

struct hostd_bus;

int hostd_bus_new(sd_event *e, struct hostd_bus **ret);
struct hostd_bus *hostd_bus_free(struct hostd_bus *b);

/* r < 0: the operation could not be done (message says why; -ENOTCONN/-ECONNREFUSED/-ENOENT:
 * systemd unreachable; -ETIMEDOUT: the job did not finish in time). r >= 0: the job ran and
 * result is its result. */
typedef void (*unit_op_cb)(int r, const char *result, const char *message, void *userdata);

/* [EnableUnitFiles,] ResetFailedUnit, StartUnit(replace), wait for the job. */
int unit_start(struct hostd_bus *b, const char *unit, bool enable, unit_op_cb cb, void *userdata);
/* [DisableUnitFiles,] StopUnit(replace), wait for the job. A unit systemd does not
 * know counts as stopped. */
int unit_stop(struct hostd_bus *b, const char *unit, bool disable, unit_op_cb cb, void *userdata);

struct unit_status {
        char load_state[32];
        char active_state[32];
        char sub_state[32];
        char unit_file_state[32];
        char invocation_id[33]; /* hex, "" if none */
        uint32_t main_pid;
        uint64_t since_usec; /* realtime: when it entered its current state; 0 unknown */
        uint64_t active_enter_usec;
        uint32_t n_restarts;
        uint64_t memory_bytes; /* UINT64_MAX: unknown */
        uint64_t cpu_nsec;     /* UINT64_MAX: unknown */
        /* org.freedesktop.systemd1.Service: why it last stopped ("success", "exit-code",
         * "signal", "core-dump", "timeout", "oom-kill", "resources", ...), and how its main
         * process ended (ExecMainCode: CLD_EXITED/CLD_KILLED/CLD_DUMPED, 0 = not yet). */
        char result[32];
        int32_t exec_main_code;
        int32_t exec_main_status;
};

typedef void (*unit_status_cb)(int r, const struct unit_status *st, const char *message, void *userdata);
/* Reads the properties of the unit (loading it if needed). */
int unit_get_status(struct hostd_bus *b, const char *unit, unit_status_cb cb, void *userdata);

/* The states of the loaded units whose names match pattern: one ListUnitsByPatterns call,
 * however many there are (a unit that is not loaded is not listed: it is inactive). */
struct unit_brief {
        char name[256];
        char load_state[32], active_state[32], sub_state[32];
};
typedef void (*unit_list_cb)(int r, const struct unit_brief *v, size_t n, const char *message,
                             void *userdata);
int unit_list_states(struct hostd_bus *b, const char *pattern, unit_list_cb cb, void *userdata);

/* StartTransientUnit(unit, "fail", properties, []) and wait for its start job, like
 * unit_start. append() adds the properties: it is called with the message positioned inside
 * the a(sv) array and appends complete (sv) entries; fds appended with type 'h' are
 * duplicated into the message, so the caller may close its own copies once this returns.
 * A unit of that name that exists already fails with -EEXIST. */
typedef int (*unit_props_cb)(sd_bus_message *m, void *userdata);
int unit_start_transient(struct hostd_bus *b, const char *unit, unit_props_cb append, void *append_userdata,
                         unit_op_cb cb, void *userdata);

/* Building blocks for unit_props_cb: a property whose value is a container opens the (sv)
 * entry, its name and the variant (with signature sig); the caller appends the value and
 * closes both with unit_prop_close(). */
int unit_prop_open(sd_bus_message *m, const char *name, const char *sig);
int unit_prop_close(sd_bus_message *m);
/* ExecStart= running argv (argv[0] is the path), a failure not ignored. */
int unit_prop_exec_start(sd_bus_message *m, char **argv);

/* More building blocks, each appending one complete (sv) entry: a boolean, a string, a u64, a
 * string list (as), an allow (true) or deny (false) list of names ((bas): SystemCallFilter=,
 * RestrictAddressFamilies=), binds (a(ssbt): BindPaths=, BindReadOnlyPaths=; not recursive),
 * TemporaryFileSystem= from NULL-terminated path, options pairs, and an address list
 * (a(iayu): IPAddressDeny=) from "address/prefix" strings (-EINVAL for a bad one). */
struct unit_bind {
        const char *source, *dest;
        bool ignore_missing;
};
int unit_prop_bool(sd_bus_message *m, const char *name, bool v);
int unit_prop_str(sd_bus_message *m, const char *name, const char *v);
int unit_prop_u64(sd_bus_message *m, const char *name, uint64_t v);
int unit_prop_strv(sd_bus_message *m, const char *name, char **v);
int unit_prop_list(sd_bus_message *m, const char *name, bool allow, char **v);
int unit_prop_binds(sd_bus_message *m, const char *name, const struct unit_bind *b, size_t n);
int unit_prop_tmpfs(sd_bus_message *m, char **path_options);
int unit_prop_ip_list(sd_bus_message *m, const char *name, const char *const *cidrs, size_t n);

/* Calls changed() with the properties a PropertiesChanged signal of the unit carries
 * (systemd sends them to subscribed clients; fields not in the signal are left empty:
 * "" strings, 0 numbers), until *ret_slot is unreferenced. The watch dies silently with
 * the connection: callers keep a slow timer as a fallback. */
typedef void (*unit_changed_cb)(const struct unit_status *changed, void *userdata);
int unit_watch(struct hostd_bus *b, const char *unit, unit_changed_cb changed, void *userdata,
               sd_bus_slot **ret_slot);

/* ResetFailedUnit, fire and forget: a failed transient unit is collected. */
int unit_reset_failed(struct hostd_bus *b, const char *unit);

/* Operations started with this userdata will not call back (their owner is going away). */
void unit_ops_forget(struct hostd_bus *b, void *userdata);
