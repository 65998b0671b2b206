/* Nonblocking A2S_INFO. See hostd-query.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/util.h"
#include "svc-host/hostd-query.h"

#define MAX_CHALLENGES 3

struct a2s_query {
        int fd;
        sd_event_source *io, *timer;
        unsigned rounds;
        a2s_done_cb cb;
        void *userdata;
};

static void query_finish(struct a2s_query *q, int r, const struct a2s_info *info) {
        a2s_done_cb cb = q->cb;
        void *ud = q->userdata;

        q->io = sd_event_source_disable_unref(q->io);
        q->timer = sd_event_source_disable_unref(q->timer);
        safe_close(q->fd);
        free(q);
        cb(r, info, ud);
}

static int query_send(struct a2s_query *q, bool with_challenge, uint32_t challenge) {
        uint8_t req[A2S_INFO_REQUEST_MAX];
        int n = a2s_build_info_request(req, sizeof(req), with_challenge, challenge);

        if (n < 0)
                return n;
        if (send(q->fd, req, (size_t) n, MSG_DONTWAIT) < 0)
                return -errno;
        return 0;
}

static int on_readable(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct a2s_query *q = userdata;
        uint8_t buf[A2S_PACKET_MAX + 64];
        struct a2s_info *info;
        uint32_t challenge;
        ssize_t n;
        int r, type;

        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return 0;
                query_finish(q, -errno, NULL);
                return 0;
        }
        type = a2s_reply_type(buf, (size_t) n);
        if (type == A2S_CHALLENGE_REPLY) {
                if (++q->rounds > MAX_CHALLENGES) {
                        query_finish(q, -EPROTO, NULL);
                        return 0;
                }
                r = a2s_parse_challenge(buf, (size_t) n, &challenge);
                if (r >= 0)
                        r = query_send(q, true, challenge);
                if (r < 0)
                        query_finish(q, r, NULL);
                return 0;
        }
        if (type != A2S_INFO_REPLY)
                return 0; /* a stray datagram: keep waiting until the deadline */
        info = malloc(sizeof(*info));
        if (!info) {
                query_finish(q, -ENOMEM, NULL);
                return 0;
        }
        r = a2s_parse_info(buf, (size_t) n, info);
        query_finish(q, r, r >= 0 ? info : NULL);
        free(info);
        return 0;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        query_finish(userdata, -ETIMEDOUT, NULL);
        return 0;
}

int a2s_query_start(sd_event *e, uint16_t port, uint64_t timeout_usec, a2s_done_cb cb, void *userdata) {
        struct sockaddr_in sa = {
                .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        struct a2s_query *q;
        int r;

        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->cb = cb;
        q->userdata = userdata;
        q->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (q->fd < 0) {
                r = -errno;
                goto fail;
        }
        if (connect(q->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                r = -errno;
                goto fail;
        }
        r = sd_event_add_io(e, &q->io, q->fd, EPOLLIN, on_readable, q);
        if (r >= 0)
                r = sd_event_add_time_relative(e, &q->timer, CLOCK_MONOTONIC, timeout_usec, 0, on_deadline,
                                               q);
        if (r >= 0)
                r = query_send(q, false, 0);
        if (r < 0)
                goto fail;
        return 0;
fail:
        q->io = sd_event_source_disable_unref(q->io);
        q->timer = sd_event_source_disable_unref(q->timer);
        safe_close(q->fd);
        free(q);
        return r;
}
