/* The overlayfs mount of one instance: the one-shot subcommands
 *
 *   left4me-hostd mount NAME     (left4me-server@NAME.service ExecStartPre=+)
 *   left4me-hostd umount NAME    (ExecStopPost=+)
 *
 * They run as root in the host's mount namespace (they enter PID 1's if started in another
 * one), so the mount is visible to the game unit and outlives hostd. mount re-validates
 * instance.env's L4D2_LOWERDIRS (at most 500 entries, each below installation/, overlays/
 * or workshop_cache/ after resolving symlinks), stages server.cfg and the server_<alias>.cfg
 * files into the upper dir, and mounts; it is a no-op when merged is already mounted
 * (Restart= cycles). umount unmounts if mounted (retrying EBUSY) and always removes the
 * kernel's root-owned work/work. Both are idempotent. */
#pragma once

#include "daemon/config.h"

int hostd_mount(const char *root, const char *name);
int hostd_umount(const char *root, const char *name);

/* The daemon_def.subcommand hook: argv[0] is "mount" or "umount", argv[1] the name.
 * Returns -ENOTSUP for anything else (daemon mode). */
int hostd_subcommand(int argc, char **argv, const struct l4m_config *cfg);
