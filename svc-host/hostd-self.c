/* hostd checks at start-up that it has the privileges it needs and no more: uid 0, and the
 * capabilities of its unit's CapabilityBoundingSet= (units/left4me-host.service.in). One
 * missing means an operation would fail half-way (a mount, a chown) with a confusing error,
 * so it refuses to start, naming it. More than those means the unit's sandbox was widened (a
 * drop-in) or hostd was started by hand: under systemd it refuses, by hand it warns, so the
 * black-box tests and an admin's debugging run still work. */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "svc-host/hostd-self.h"

static const struct {
        int cap;
        const char *name;
} needed[] = {
        {CAP_SYS_ADMIN, "CAP_SYS_ADMIN"},
        {CAP_CHOWN, "CAP_CHOWN"},
        {CAP_FOWNER, "CAP_FOWNER"},
        {CAP_DAC_OVERRIDE, "CAP_DAC_OVERRIDE"},
        /* No CAP_KILL, CAP_SETUID, CAP_SETGID: steamcmd is no longer a child hostd drops to
         * left4me-steam and kills, but a transient unit systemd runs (hostd-install.h). */
};

static bool is_needed(int cap) {
        for (size_t i = 0; i < ELEMENTSOF(needed); i++)
                if (needed[i].cap == cap)
                        return true;
        return false;
}

int hostd_check_privileges(bool under_systemd) {
        struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
        char extra[512] = "";
        size_t n = 0;

        if (geteuid() != 0)
                return log_error_errno(
                        -EPERM,
                        "left4me-hostd must run as root (uid %u here): it mounts overlays and "
                        "hands directories to the game and build users",
                        (unsigned) geteuid());
        if (syscall(SYS_capget, &hdr, data) < 0)
                return log_error_errno(-errno, "Cannot read this process's capabilities: %m");
        for (size_t i = 0; i < ELEMENTSOF(needed); i++) {
                int c = needed[i].cap;
                if (!(data[c / 32].effective & (1u << (c % 32))))
                        return log_error_errno(-EPERM,
                                               "left4me-hostd lacks %s, which it needs (see "
                                               "CapabilityBoundingSet= in left4me-host.service)",
                                               needed[i].name);
        }
        for (int c = 0; c <= CAP_LAST_CAP; c++) {
                if (is_needed(c) || prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1)
                        continue;
                n += (size_t) snprintf(extra + n, n < sizeof(extra) ? sizeof(extra) - n : 0, "%s%d",
                                       n ? "," : "", c);
                if (n >= sizeof(extra))
                        break;
        }
        if (!extra[0])
                return 0;
        if (under_systemd)
                return log_error_errno(
                        -EPERM,
                        "left4me-hostd has capabilities it does not need in its bounding set "
                        "(numbers %s): its unit's CapabilityBoundingSet= was widened; refusing "
                        "to run with more than it needs",
                        extra);
        log_warning("Started by hand with capabilities hostd does not need (numbers %s); under systemd "
                    "this is refused",
                    extra);
        return 0;
}
