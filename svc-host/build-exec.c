/* left4me-build-exec PROGRAM ARG...: the first thing a build's unit runs (ExecStart=), as the
 * build's user, inside its sandbox. It scopes the build with Landlock where the kernel can
 * (ABI 6, Linux 6.12): no connection to an abstract Unix socket and no signal to a process
 * outside the build's own Landlock domain. A build shares the host's network namespace, so
 * without this it reaches every abstract socket of the host (docs/sandbox.md, "Abstract Unix
 * sockets"). Then it execs PROGRAM.
 *
 * On an older kernel (Debian 12's 6.1 has ABI 2), or where Landlock is refused altogether
 * (systemd-nspawn 252's own seccomp filter does, unless told otherwise), it says so in one
 * line on stderr, which is the build's output, and runs the build as before: the scope is a
 * wall where it exists, not a condition for building. Anything else going wrong is a refusal
 * (exit 126): a half-applied sandbox is not run.
 *
 * Debian 12's <linux/landlock.h> predates the scope; the ABI below is the kernel's own. */
#include <errno.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#endif
#ifndef __NR_landlock_restrict_self
#define __NR_landlock_restrict_self 446
#endif

#define SCOPE_ABI                  6
#define SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define SCOPE_SIGNAL               (1ULL << 1)

/* struct landlock_ruleset_attr of ABI 6 and later. */
struct ruleset_attr_v6 {
        uint64_t handled_access_fs;
        uint64_t handled_access_net;
        uint64_t scoped;
};

static const char *step = "";

static int scope_self(void) {
        struct ruleset_attr_v6 attr = {.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL};
        long abi, fd;

        step = "landlock_create_ruleset(VERSION)";
        abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
        /* ENOSYS/EOPNOTSUPP: no Landlock in this kernel; EPERM: a seccomp filter around the whole
         * suite (a container's) refuses it. Either way nothing is applied, nothing half. */
        if (abi < 0 && (errno == ENOSYS || errno == EOPNOTSUPP || errno == EPERM)) {
                fprintf(stderr,
                        "left4me: Landlock is not available here (%s): abstract Unix sockets of the host "
                        "stay reachable from this build\n",
                        strerror(errno));
                return 0;
        }
        if (abi < 0)
                return -errno;
        if (abi < SCOPE_ABI) {
                fprintf(stderr,
                        "left4me: this kernel's Landlock (ABI %ld) cannot scope abstract Unix sockets (ABI "
                        "%d, "
                        "Linux 6.12): those of the host stay reachable from this build\n",
                        abi, SCOPE_ABI);
                return 0;
        }
        step = "landlock_create_ruleset";
        fd = syscall(__NR_landlock_create_ruleset, &attr, sizeof(attr), 0);
        if (fd < 0)
                return -errno;
        /* NoNewPrivileges= set it already; restrict_self needs it without CAP_SYS_ADMIN. */
        step = "landlock_restrict_self";
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
            syscall(__NR_landlock_restrict_self, (int) fd, 0) < 0) {
                int r = -errno;
                close((int) fd);
                return r;
        }
        close((int) fd);
        return 1;
}

int main(int argc, char **argv) {
        int r;

        if (argc < 2) {
                fprintf(stderr, "usage: left4me-build-exec PROGRAM [ARG...]\n");
                return 126;
        }
        r = scope_self();
        if (r < 0) {
                fprintf(stderr, "left4me: cannot scope this build with Landlock (%s: %s); not running it\n",
                        step, strerror(-r));
                return 126;
        }
        execv(argv[1], argv + 1);
        fprintf(stderr, "left4me: cannot run %s: %s\n", argv[1], strerror(errno));
        return 127;
}
