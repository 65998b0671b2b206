/* The sandbox of a build: the properties of its transient unit (docs/sandbox.md says what each
 * directive does and why). Pure sd-bus message building; no I/O. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "proto/names.h"

/* The owner of a published overlay; a build itself runs as a leased user (hostd-pool.h). */
#define BUILD_USER           L4M_USER_BUILD
#define BUILD_SLICE          "l4d2-build.slice"
#define BUILD_SCRIPT_MAX     (1024u * 1024u)
#define BUILD_SANDBOX_RESOLV "/etc/left4me/sandbox-resolv.conf"
/* The network rules a build must not run without (hostd-firewall.h): Requires= and After=. */
#define BUILD_NET_RULES_UNIT "left4me-firewall.service"
/* Installed next to left4me-hostd; ExecStart= runs it first (svc-host/build-exec.c). */
#define BUILD_EXEC_HELPER "left4me-build-exec"

struct build_limits {
        uint64_t memory_max;        /* bytes; MemoryMax (MemorySwapMax is always 0) */
        unsigned tasks_max;         /* TasksMax */
        unsigned cpu_quota_percent; /* CPUQuota */
        unsigned runtime_max_sec;   /* RuntimeMaxSec: the walltime kill */
};

/* What the transient unit is made of. Paths are host paths. */
struct build_unit_spec {
        const char *description;
        const char *user;        /* User= and Group= (the lease's own group) */
        const char *slice;       /* Slice=; NULL: BUILD_SLICE */
        const char *exec_helper; /* absolute path of left4me-build-exec, run before bash */
        const char *overlay_dir; /* bound read-write at /overlay */
        const char *script_path; /* bound read-only at /script.sh */
        const char *resolv_conf; /* bound read-only at /etc/resolv.conf; NULL: the host's, if any */
        struct build_limits limits;
        int stdout_fd, stderr_fd; /* < 0: not passed (journal) */
};

/* Appends the unit's properties as (sv) entries into an open a(sv) container: the complete
 * sandbox. Exposed for the unit tests. */
int build_append_properties(sd_bus_message *m, const struct build_unit_spec *s);
