/* Unmounting a stale overlay for delete/reset: see hostd.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "svc-host/hostd-systemd.h"
#include "svc-host/hostd.h"

/* ---- delete/reset of an instance whose overlay is still mounted -------------------------
 *
 * When runtime/NAME/merged is still mounted after the unit stopped (a failed ExecStopPost, a
 * mount made by hand), hostd cannot unmount it itself: ProtectSystem= gives it a private mount
 * namespace (a slave of the host's: it sees the host's mounts, but its umount would only
 * remove its own copy) and RestrictNamespaces= forbids setns(). So it runs "left4me-hostd
 * umount NAME" as a short transient service, which systemd starts in PID 1's namespace as
 * root, waits for its start job (a oneshot's job ends with its process), then re-checks. */

#define UMOUNT_TIMEOUT_USEC (60ULL * 1000000ULL)

static int umount_unit_name(const char *name, char *buf, size_t len) {
        int n = snprintf(buf, len, "left4me-umount-%s.service", name);
        return n < 0 || (size_t) n >= len ? -ENAMETOOLONG : 0;
}

static int umount_props(sd_bus_message *m, void *userdata) {
        struct unit_call *u = userdata;
        const char *config = u->h->config_path[0] ? u->h->config_path : NULL;
        char desc[128];
        char *argv[6];
        size_t n = 0;
        int r;

        argv[n++] = u->h->self_exe;
        if (config) {
                argv[n++] = "--config";
                argv[n++] = (char *) config;
        }
        argv[n++] = "umount";
        argv[n++] = u->name;
        argv[n] = NULL;
        snprintf(desc, sizeof(desc), "left4me: unmount the stale overlay of '%s'", u->name);
        r = sd_bus_message_append(m, "(sv)", "Description", "s", desc);
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)", "Type", "s", "oneshot");
        /* Gone once over, failed or not: the next delete can use the name again; the journal
         * keeps its lines (journalctl -u left4me-umount-NAME.service). */
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)", "CollectMode", "s", "inactive-or-failed");
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)", "TimeoutStartUSec", "t", UMOUNT_TIMEOUT_USEC);
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)", "StandardInput", "s", "null");
        if (r >= 0)
                r = unit_prop_exec_start(m, argv);
        return r;
}

static void on_umount_done(int r, const char *result, const char *message, void *userdata) {
        struct unit_call *u = userdata;
        char unit[UNIT_NAME_MAX];

        (void) umount_unit_name(u->name, unit, sizeof(unit));
        if (r < 0) {
                snprintf(u->note, sizeof(u->note), "cannot run %s: %s", unit, message ?: strerror(-r));
                log_error("%s '%s': %s", unit_call_names[u->kind], u->name, u->note);
        } else if (!streq(result, "done")) {
                snprintf(u->note, sizeof(u->note), "%s ended with '%s' (see journalctl -u %s)", unit, result,
                         unit);
                log_error("%s '%s': %s", unit_call_names[u->kind], u->name, u->note);
        } else
                log_info("%s '%s': unmounted the stale overlay with %s", unit_call_names[u->kind], u->name,
                         unit);
        finish_removal(u); /* re-checks: still mounted is a conflict */
        unit_call_free(u);
}

static void on_stale_status(int r, const struct unit_status *st, const char *message, void *userdata) {
        struct unit_call *u = userdata;
        char unit[UNIT_NAME_MAX];

        if (r < 0) {
                snprintf(u->note, sizeof(u->note), "cannot read the state of %s: %s", u->unit,
                         message ?: strerror(-r));
                log_warning("%s '%s': %s; not unmounting", unit_call_names[u->kind], u->name, u->note);
                goto removal;
        }
        if (!streq(st->active_state, "inactive") && !streq(st->active_state, "failed") &&
            !streq(st->load_state, "not-found")) {
                snprintf(u->note, sizeof(u->note), "%s is %s", u->unit, st->active_state);
                log_warning("%s '%s': %s, not unmounting its overlay", unit_call_names[u->kind], u->name,
                            u->note);
                goto removal;
        }
        if (!u->h->self_exe[0] || umount_unit_name(u->name, unit, sizeof(unit)) < 0) {
                snprintf(u->note, sizeof(u->note), "hostd cannot name its own program to unmount it");
                log_warning("%s '%s': %s", unit_call_names[u->kind], u->name, u->note);
                goto removal;
        }
        log_notice("%s '%s': %s is %s but runtime/%s/merged is still mounted; unmounting it with %s",
                   unit_call_names[u->kind], u->name, u->unit,
                   st->active_state[0] ? st->active_state : "gone", u->name, unit);
        r = unit_start_transient(u->h->bus, unit, umount_props, u, on_umount_done, u);
        if (r >= 0)
                return;
        snprintf(u->note, sizeof(u->note), "cannot start %s: %s", unit, strerror(-r));
        log_error("%s '%s': %s", unit_call_names[u->kind], u->name, u->note);
removal:
        finish_removal(u); /* answers conflict while mounted */
        unit_call_free(u);
}

int stale_mount_unmount(struct unit_call *u) {
        return unit_get_status(u->h->bus, u->unit, on_stale_status, u);
}
