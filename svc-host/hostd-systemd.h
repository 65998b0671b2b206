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
#include <stdint.h>
#include <systemd/sd-event.h>

struct hostd_bus;

int hostd_bus_new(sd_event *e, struct hostd_bus **ret);
struct hostd_bus *hostd_bus_free(struct hostd_bus *b);

/* r < 0: the operation could not be done (message says why; -ENOTCONN/-ECONNREFUSED/-ENOENT:
 * systemd unreachable; -ETIMEDOUT: the job did not finish in time). r >= 0: the job ran and
 * result is its result. */
typedef void (*unit_op_cb)(int r, const char *result, const char *message, void *userdata);

/* [EnableUnitFiles + Reload,] ResetFailedUnit, StartUnit(replace), wait for the job. */
int unit_start(struct hostd_bus *b, const char *unit, bool enable, unit_op_cb cb, void *userdata);
/* [DisableUnitFiles + Reload,] StopUnit(replace), wait for the job. A unit systemd does not
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
};

typedef void (*unit_status_cb)(int r, const struct unit_status *st, const char *message, void *userdata);
/* Reads the properties of the unit (loading it if needed). */
int unit_get_status(struct hostd_bus *b, const char *unit, unit_status_cb cb, void *userdata);

/* The unit name of an instance: "left4me-server@NAME.service". */
int server_unit_name(const char *name, char *buf, size_t len);
