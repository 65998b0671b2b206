#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "proto/client-sdevent.h"

#define READ_CHUNK (64u * 1024u)

struct rpc_sdclient {
        sd_event_source *io;
        int fd;
        bool connecting;
        bool dead;         /* the core is broken: no more I/O */
        bool in_io;        /* on_io is on the stack */
        bool free_pending; /* rpc_sdclient_free() ran inside on_io */
        const char *peer_name;
        struct rpc_core *core;
};

static void update_events(struct rpc_sdclient *c) {
        size_t n = 0;
        uint32_t ev = EPOLLIN;

        if (!c->io || c->dead || c->free_pending)
                return;
        if (c->core)
                (void) rpc_core_output(c->core, &n);
        if (c->connecting || n > 0)
                ev |= EPOLLOUT;
        (void) sd_event_source_set_io_events(c->io, ev);
}

static void on_want_write(struct rpc_core *core, void *transport) {
        /* Only arm: the loop writes on its next iteration, never from inside the core. */
        update_events(transport);
}

static const struct rpc_core_ops sdclient_ops = {
        .want_write = on_want_write,
};

static void really_free(struct rpc_sdclient *c) {
        sd_event_source_disable_unref(c->io);
        rpc_core_free(c->core);
        safe_close(c->fd);
        free(c);
}

struct rpc_sdclient *rpc_sdclient_free(struct rpc_sdclient *c) {
        if (!c)
                return NULL;
        if (c->in_io) {
                /* Inside a callback of ours: stop all I/O now, release memory once on_io
                 * returns. The core defers its own free the same way. */
                c->free_pending = true;
                c->core = rpc_core_free(c->core);
                if (c->io)
                        (void) sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
                return NULL;
        }
        really_free(c);
        return NULL;
}

void rpc_sdclient_freep(struct rpc_sdclient **c) {
        *c = rpc_sdclient_free(*c);
}

struct rpc_core *rpc_sdclient_core(struct rpc_sdclient *c) {
        return c ? c->core : NULL;
}

/* Whether on_io must stop: freed from a callback, or the connection is over. */
static bool gone(struct rpc_sdclient *c) {
        if (c->free_pending)
                return true;
        if (rpc_core_broken(c->core) < 0) {
                c->dead = true;
                (void) sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
                return true;
        }
        return false;
}

static int flush_out(struct rpc_sdclient *c) {
        for (;;) {
                size_t n;
                const void *p = rpc_core_output(c->core, &n);
                ssize_t k;

                if (n == 0)
                        return 0;
                k = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return -errno;
                }
                rpc_core_consumed(c->core, (size_t) k);
        }
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct rpc_sdclient *c = userdata;
        int r;

        c->in_io = true;
        if (c->connecting && (revents & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
                int err = 0;
                socklen_t len = sizeof(err);
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                        err = errno;
                if (err != 0) {
                        rpc_core_fail(c->core, -err, "cannot connect to the %s: %s", c->peer_name,
                                      strerror(err));
                        goto finish;
                }
                c->connecting = false;
        }
        if (revents & EPOLLOUT) {
                r = flush_out(c);
                if (r < 0) {
                        rpc_core_fail(c->core, r, "lost the connection to the %s: %s", c->peer_name,
                                      strerror(-r));
                        goto finish;
                }
        }
        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
                for (;;) {
                        char buf[READ_CHUNK];
                        ssize_t k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k < 0 && errno == EAGAIN)
                                break;
                        if (k < 0) {
                                r = -errno;
                                rpc_core_fail(c->core, r, "lost the connection to the %s: %s", c->peer_name,
                                              strerror(-r));
                                goto finish;
                        }
                        if (k == 0) {
                                rpc_core_eof(c->core);
                                goto finish;
                        }
                        (void) rpc_core_feed(c->core, buf, (size_t) k);
                        if (gone(c))
                                goto finish;
                }
finish:
        c->in_io = false;
        if (c->free_pending) {
                really_free(c);
                return 0;
        }
        if (!gone(c))
                update_events(c);
        return 0;
}

int rpc_sdclient_new(sd_event *e, const char *path, const struct rpc_core_config *cfg,
                     struct rpc_sdclient **ret) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct rpc_sdclient *c;
        size_t n = strlen(path);
        int r;

        if (n == 0 || n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, n);

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->fd = -1;
        c->peer_name = cfg && cfg->peer_name ? cfg->peer_name : "service";
        r = rpc_core_new(cfg, &sdclient_ops, c, &c->core);
        if (r < 0)
                goto fail;
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (c->fd < 0) {
                r = -errno;
                goto fail;
        }
        if (connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                if (errno != EAGAIN && errno != EINPROGRESS) {
                        r = -errno;
                        goto fail;
                }
                c->connecting = true;
        }
        r = sd_event_add_io(e, &c->io, c->fd, EPOLLIN | (c->connecting ? EPOLLOUT : 0), on_io, c);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(c->io, "rpc-client");
        *ret = c;
        return 0;
fail:
        really_free(c);
        return r;
}
