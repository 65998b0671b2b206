/* The sandbox of steamcmd: the properties of the transient units an install runs
 * (hostd-install.h), left4me-install-<n>-<step>.service, as user left4me-steam. docs/host.md
 * ("Install") says what each directive does and why; docs/security.md why hostd's own unit
 * needs none of the network or the 32-bit system calls this one has. Pure sd-bus message
 * building; no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-bus.h>

#include "proto/names.h"

#define INSTALL_UNIT_PREFIX "left4me-install-"

/* One ExecStart= line: argv[0] is the path; a failure of an ignore_failure line does not fail
 * the unit. */
struct steamcmd_command {
        char **argv;
        bool ignore_failure;
};

/* What the unit is made of. Paths are host paths, absolute. */
struct steamcmd_unit_spec {
        const char *description;
        const char *user;         /* User= and Group= */
        const char *home;         /* the user's home: $HOME, the working directory; bound read-write */
        const char *root;         /* paths.root: replaced by an empty tmpfs ... */
        const char *install_dir;  /* ... with this bound back read-write */
        const char *steamcmd_dir; /* bound back read-only, if not inside home or install_dir; NULL: none */
        const struct steamcmd_command *commands;
        size_t n_commands;        /* one: Type=exec; more: Type=oneshot, run in order */
        int stdout_fd, stderr_fd; /* < 0: not passed (journal) */
        /* BindsTo= this unit (hostd's own): steamcmd is stopped when hostd's unit stops or
         * fails, as when it was hostd's child, so a hostd started again never finds an
         * install it does not know still writing. NULL: none (hostd run by hand). */
        const char *binds_to;
};

/* Appends the unit's properties as (sv) entries into an open a(sv) container. -EINVAL for a
 * spec that misses a path or has no command. Exposed for the unit tests. */
int steamcmd_append_properties(sd_bus_message *m, const struct steamcmd_unit_spec *s);

/* Whether path is dir itself or below it (both absolute, no trailing slash on dir but "/"). */
bool path_is_inside(const char *path, const char *dir);
