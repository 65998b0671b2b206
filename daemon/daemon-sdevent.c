/* The skeleton's sd-event binding (hostd, jobd, logd, the test daemon): the default loop,
 * the RPC transport of proto/server-sdevent.c, the signalfd as an io source, and a one-shot
 * timer for idle exit. */
#include <sys/signalfd.h>

#include "base/log.h"
#include "daemon/daemon-loop.h"
#include "proto/server-sdevent.h"

struct sdevent_binding {
        sd_event *event;
        struct rpc_sdevent *rpc;
        sd_event_source *signals, *idle_timer;
};

static struct sdevent_binding *B(struct daemon *d) {
        return d->loop_data;
}

sd_event *daemon_event(struct daemon *d) {
        return d->loop == &daemon_loop_sdevent && d->loop_data ? B(d)->event : NULL;
}

static int on_idle_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        daemon_on_idle_timer(userdata);
        return 0;
}

static int sdevent_init(struct daemon *d) {
        struct sdevent_binding *b = calloc(1, sizeof(*b));
        int r;

        if (!b)
                return -ENOMEM;
        d->loop_data = b;
        r = sd_event_default(&b->event);
        if (r < 0)
                return r;
        r = rpc_sdevent_new(b->event, d->server, &b->rpc);
        if (r < 0)
                return r;
        if (d->idle_usec > 0) {
                r = sd_event_add_time_relative(b->event, &b->idle_timer, CLOCK_MONOTONIC, d->idle_usec, 0,
                                               on_idle_timer, d);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_enabled(b->idle_timer, SD_EVENT_OFF);
        }
        return 0;
}

static int sdevent_add_rpc_listener(struct daemon *d, int fd) {
        return rpc_sdevent_add_listener(B(d)->rpc, fd);
}

static int on_signalfd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct signalfd_siginfo si;

        while (read(fd, &si, sizeof(si)) == (ssize_t) sizeof(si))
                daemon_on_signal(userdata, (int) si.ssi_signo);
        return 0;
}

static int sdevent_watch_signals(struct daemon *d, int sfd) {
        struct sdevent_binding *b = B(d);
        int r = sd_event_add_io(b->event, &b->signals, sfd, EPOLLIN, on_signalfd, d);

        if (r < 0) {
                safe_close(sfd);
                return log_error_errno(r, "Failed to watch the signalfd: %m");
        }
        (void) sd_event_source_set_io_fd_own(b->signals, true);
        return 0;
}

static void sdevent_set_idle_timer(struct daemon *d, bool armed) {
        struct sdevent_binding *b = B(d);
        int enabled = SD_EVENT_OFF;
        uint64_t now;

        if (!b->idle_timer)
                return;
        if (!armed) {
                (void) sd_event_source_set_enabled(b->idle_timer, SD_EVENT_OFF);
                return;
        }
        /* Already counting down: idleness did not end in between, so the deadline stands. */
        if (sd_event_source_get_enabled(b->idle_timer, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return;
        if (sd_event_now(b->event, CLOCK_MONOTONIC, &now) < 0)
                return;
        (void) sd_event_source_set_time(b->idle_timer, now + d->idle_usec);
        (void) sd_event_source_set_enabled(b->idle_timer, SD_EVENT_ONESHOT);
}

static int sdevent_run_once(struct daemon *d) {
        return sd_event_run(B(d)->event, UINT64_MAX);
}

static void sdevent_stop_listening(struct daemon *d) {
        rpc_sdevent_stop_listening(B(d)->rpc);
}

static void sdevent_shutdown(struct daemon *d) {
        struct sdevent_binding *b = B(d);

        b->rpc = rpc_sdevent_free(b->rpc);
        b->signals = sd_event_source_disable_unref(b->signals);
        b->idle_timer = sd_event_source_disable_unref(b->idle_timer);
}

static void sdevent_free(struct daemon *d) {
        struct sdevent_binding *b = B(d);

        sdevent_shutdown(d);
        sd_event_unref(b->event);
        free(b);
        d->loop_data = NULL;
}

const struct daemon_loop daemon_loop_sdevent = {
        .init = sdevent_init,
        .add_rpc_listener = sdevent_add_rpc_listener,
        .watch_signals = sdevent_watch_signals,
        .set_idle_timer = sdevent_set_idle_timer,
        .run_once = sdevent_run_once,
        .stop_listening = sdevent_stop_listening,
        .shutdown = sdevent_shutdown,
        .free = sdevent_free,
};
