/* SPDX-License-Identifier: MIT */
/*
 * A2S codec and a small blocking query helper. See a2s.h for the contract.
 *
 * Parsing goes through a bounded cursor (struct cursor): every read checks the
 * bytes left first and fails with -EBADMSG, so no parser can read past the
 * datagram whatever the server sends.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/a2s.h"

/* How many S2C_CHALLENGE replies we answer before giving up on a server. */
#define A2S_CHALLENGE_ROUNDS 4

struct cursor {
        const uint8_t *p;
        size_t left;
};

static int cursor_u8(struct cursor *c, uint8_t *ret) {
        if (c->left < 1)
                return -EBADMSG;
        *ret = c->p[0];
        c->p++;
        c->left--;
        return 0;
}

static int cursor_u16(struct cursor *c, uint16_t *ret) {
        if (c->left < 2)
                return -EBADMSG;
        *ret = (uint16_t) (c->p[0] | (uint16_t) c->p[1] << 8);
        c->p += 2;
        c->left -= 2;
        return 0;
}

static int cursor_u32(struct cursor *c, uint32_t *ret) {
        if (c->left < 4)
                return -EBADMSG;
        *ret = (uint32_t) c->p[0] | (uint32_t) c->p[1] << 8 | (uint32_t) c->p[2] << 16 |
               (uint32_t) c->p[3] << 24;
        c->p += 4;
        c->left -= 4;
        return 0;
}

static int cursor_u64(struct cursor *c, uint64_t *ret) {
        uint32_t lo, hi;
        int r;

        r = cursor_u32(c, &lo);
        if (r < 0)
                return r;
        r = cursor_u32(c, &hi);
        if (r < 0)
                return r;
        *ret = (uint64_t) hi << 32 | lo;
        return 0;
}

/*
 * Copies a NUL-terminated string out of the packet into dst (size bytes). A
 * string without its NUL inside the packet is malformed. A string too long for
 * dst is cut at a UTF-8 character boundary and *truncated is set; cutting keeps
 * the stored value valid UTF-8 if the input was.
 */
static int cursor_string(struct cursor *c, char *dst, size_t size, bool *truncated) {
        const uint8_t *nul;
        size_t n, keep;

        nul = memchr(c->p, 0, c->left);
        if (!nul)
                return -EBADMSG;
        n = (size_t) (nul - c->p);

        keep = n;
        if (keep > size - 1) {
                keep = size - 1;
                /* Step back over UTF-8 continuation bytes (10xxxxxx) so the
                 * cut falls before a lead byte, never inside a sequence. */
                while (keep > 0 && (c->p[keep] & 0xC0) == 0x80)
                        keep--;
                *truncated = true;
        }
        memcpy(dst, c->p, keep);
        dst[keep] = 0;

        c->p += n + 1;
        c->left -= n + 1;
        return 0;
}

static void put_u32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
        p[2] = (uint8_t) (v >> 16);
        p[3] = (uint8_t) (v >> 24);
}

int a2s_build_info_request(void *buf, size_t size, bool with_challenge, uint32_t challenge) {
        size_t need = with_challenge ? A2S_INFO_REQUEST_MAX : A2S_INFO_REQUEST_SIZE;
        uint8_t *p = buf;

        if (!buf || size < need)
                return -ENOBUFS;
        put_u32(p, A2S_HEADER_SINGLE);
        p[4] = A2S_INFO_REQUEST;
        memcpy(p + 5, A2S_INFO_PAYLOAD, sizeof(A2S_INFO_PAYLOAD)); /* with its NUL */
        if (with_challenge)
                put_u32(p + A2S_INFO_REQUEST_SIZE, challenge);
        return (int) need;
}

int a2s_build_player_request(void *buf, size_t size, uint32_t challenge) {
        uint8_t *p = buf;

        if (!buf || size < A2S_PLAYER_REQUEST_SIZE)
                return -ENOBUFS;
        put_u32(p, A2S_HEADER_SINGLE);
        p[4] = A2S_PLAYER_REQUEST;
        put_u32(p + 5, challenge);
        return A2S_PLAYER_REQUEST_SIZE;
}

/* Checks the header and positions the cursor after the type byte. */
static int open_reply(const void *buf, size_t len, struct cursor *ret_cursor, uint8_t *ret_type) {
        struct cursor c = {.p = buf, .left = buf ? len : 0};
        uint32_t header;
        uint8_t type;
        int r;

        r = cursor_u32(&c, &header);
        if (r < 0)
                return r;
        if (header == A2S_HEADER_SPLIT)
                return -EMSGSIZE;
        if (header != A2S_HEADER_SINGLE)
                return -EBADMSG;
        r = cursor_u8(&c, &type);
        if (r < 0)
                return r;

        *ret_cursor = c;
        *ret_type = type;
        return 0;
}

int a2s_reply_type(const void *buf, size_t len) {
        struct cursor c;
        uint8_t type;
        int r;

        r = open_reply(buf, len, &c, &type);
        if (r < 0)
                return r;
        return type;
}

int a2s_parse_challenge(const void *buf, size_t len, uint32_t *ret_challenge) {
        struct cursor c;
        uint32_t challenge;
        uint8_t type;
        int r;

        r = open_reply(buf, len, &c, &type);
        if (r < 0)
                return r;
        if (type != A2S_CHALLENGE_REPLY)
                return -ENOMSG;
        r = cursor_u32(&c, &challenge);
        if (r < 0)
                return r;
        if (ret_challenge)
                *ret_challenge = challenge;
        return 0;
}

int a2s_parse_info(const void *buf, size_t len, struct a2s_info *ret) {
        struct a2s_info info = {};
        struct cursor c;
        uint8_t type, server_type, environment;
        int r;

        if (!ret)
                return -EINVAL;
        r = open_reply(buf, len, &c, &type);
        if (r < 0)
                return r;
        if (type != A2S_INFO_REPLY)
                return -ENOMSG;

        if ((r = cursor_u8(&c, &info.protocol)) < 0 ||
            (r = cursor_string(&c, info.name, sizeof(info.name), &info.truncated)) < 0 ||
            (r = cursor_string(&c, info.map, sizeof(info.map), &info.truncated)) < 0 ||
            (r = cursor_string(&c, info.folder, sizeof(info.folder), &info.truncated)) < 0 ||
            (r = cursor_string(&c, info.game, sizeof(info.game), &info.truncated)) < 0 ||
            (r = cursor_u16(&c, &info.appid)) < 0 || (r = cursor_u8(&c, &info.players)) < 0 ||
            (r = cursor_u8(&c, &info.max_players)) < 0 || (r = cursor_u8(&c, &info.bots)) < 0 ||
            (r = cursor_u8(&c, &server_type)) < 0 || (r = cursor_u8(&c, &environment)) < 0 ||
            (r = cursor_u8(&c, &info.visibility)) < 0 || (r = cursor_u8(&c, &info.vac)) < 0 ||
            (r = cursor_string(&c, info.version, sizeof(info.version), &info.truncated)) < 0)
                return r;
        info.server_type = (char) server_type;
        info.environment = (char) environment;

        /* The EDF byte is optional: old servers end the reply after version. */
        if (c.left == 0)
                goto done;
        (void) cursor_u8(&c, &info.edf);

        /* Present fields come in this fixed order, whatever the bit order. */
        if (info.edf & A2S_EDF_PORT && (r = cursor_u16(&c, &info.port)) < 0)
                return r;
        if (info.edf & A2S_EDF_STEAMID && (r = cursor_u64(&c, &info.steamid)) < 0)
                return r;
        if (info.edf & A2S_EDF_SOURCETV &&
            ((r = cursor_u16(&c, &info.sourcetv_port)) < 0 ||
             (r = cursor_string(&c, info.sourcetv_name, sizeof(info.sourcetv_name), &info.truncated)) < 0))
                return r;
        if (info.edf & A2S_EDF_KEYWORDS &&
            (r = cursor_string(&c, info.keywords, sizeof(info.keywords), &info.truncated)) < 0)
                return r;
        if (info.edf & A2S_EDF_GAMEID && (r = cursor_u64(&c, &info.gameid)) < 0)
                return r;

        /* Trailing bytes after the known fields are ignored: later engine
         * versions may append data, and nothing we need lives there. */
done:
        *ret = info;
        return 0;
}

int a2s_parse_player(const void *buf, size_t len, struct a2s_player *players, size_t max, size_t *ret_count,
                     size_t *ret_total) {
        struct cursor c;
        uint8_t type, count;
        size_t stored = 0;
        int r;

        if (!ret_count || (max > 0 && !players))
                return -EINVAL;
        r = open_reply(buf, len, &c, &type);
        if (r < 0)
                return r;
        if (type != A2S_PLAYER_REPLY)
                return -ENOMSG;
        r = cursor_u8(&c, &count);
        if (r < 0)
                return r;

        for (unsigned i = 0; i < count; i++) {
                struct a2s_player p = {};
                uint32_t score, duration;

                if ((r = cursor_u8(&c, &p.index)) < 0 ||
                    (r = cursor_string(&c, p.name, sizeof(p.name), &p.truncated)) < 0 ||
                    (r = cursor_u32(&c, &score)) < 0 || (r = cursor_u32(&c, &duration)) < 0)
                        return r;
                /* Two's complement and IEEE 754 binary32 on the wire; copy the
                 * bits rather than convert the values. */
                memcpy(&p.score, &score, sizeof(p.score));
                memcpy(&p.duration, &duration, sizeof(p.duration));

                if (stored < max)
                        players[stored++] = p;
        }

        *ret_count = stored;
        if (ret_total)
                *ret_total = count;
        return 0;
}

/* ---- blocking query helper ---------------------------------------------- */

static int64_t now_ms(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int udp_connect(const char *host, uint16_t port) {
        struct addrinfo hints = {
                .ai_family = AF_UNSPEC,
                .ai_socktype = SOCK_DGRAM,
                .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
        };
        struct addrinfo *ai = NULL;
        char service[8];
        int fd, r;

        if (!host || port == 0)
                return -EINVAL;
        r = snprintf(service, sizeof(service), "%u", (unsigned) port);
        if (r < 0 || (size_t) r >= sizeof(service))
                return -EINVAL;
        /* Numeric only: a monitoring loop must never block on DNS. */
        if (getaddrinfo(host, service, &hints, &ai) != 0 || !ai)
                return -EINVAL;

        fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
                r = -errno;
                freeaddrinfo(ai);
                return r;
        }
        /* connect() filters out datagrams from anyone but the server and turns
         * an ICMP port-unreachable into ECONNREFUSED on the next recv. */
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
                r = -errno;
                freeaddrinfo(ai);
                (void) close(fd);
                return r;
        }
        freeaddrinfo(ai);
        return fd;
}

/* Waits for one datagram until deadline. Returns its length or -errno. */
static int recv_until(int fd, uint8_t *buf, size_t size, int64_t deadline) {
        for (;;) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                int64_t left = deadline - now_ms();
                ssize_t n;
                int r;

                if (left <= 0)
                        return -ETIMEDOUT;
                r = poll(&pfd, 1, (int) (left > 60000 ? 60000 : left));
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (r == 0)
                        continue;
                /* MSG_TRUNC makes recv() report the datagram's real length,
                 * so an oversized reply is refused, not parsed cut short. */
                n = recv(fd, buf, size, MSG_TRUNC);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                if ((size_t) n > size)
                        return -EMSGSIZE;
                return (int) n;
        }
}

/*
 * Sends the request type (INFO or PLAYER), answers S2C_CHALLENGE rounds, and
 * leaves the final reply in buf. Returns its length or -errno.
 */
static int a2s_exchange(const char *host, uint16_t port, int timeout_ms, uint8_t kind, uint8_t *buf,
                        size_t size) {
        uint8_t req[A2S_INFO_REQUEST_MAX];
        int64_t deadline;
        int fd, r, n = 0;

        if (timeout_ms < 0)
                return -EINVAL;
        deadline = now_ms() + timeout_ms;
        fd = udp_connect(host, port);
        if (fd < 0)
                return fd;

        if (kind == A2S_INFO_REQUEST)
                r = a2s_build_info_request(req, sizeof(req), false, 0);
        else
                r = a2s_build_player_request(req, sizeof(req), A2S_CHALLENGE_ASK);

        for (unsigned round = 0;; round++) {
                uint32_t challenge;

                if (r < 0)
                        goto finish;
                if (send(fd, req, (size_t) r, 0) < 0) {
                        r = -errno;
                        goto finish;
                }
                n = recv_until(fd, buf, size, deadline);
                if (n < 0) {
                        r = n;
                        goto finish;
                }
                r = a2s_parse_challenge(buf, (size_t) n, &challenge);
                if (r == -ENOMSG) {
                        r = n; /* a real reply; the caller parses it */
                        goto finish;
                }
                if (r < 0)
                        goto finish;
                if (round + 1 >= A2S_CHALLENGE_ROUNDS) {
                        r = -EPROTO; /* the server keeps sending challenges */
                        goto finish;
                }
                if (kind == A2S_INFO_REQUEST)
                        r = a2s_build_info_request(req, sizeof(req), true, challenge);
                else
                        r = a2s_build_player_request(req, sizeof(req), challenge);
        }

finish:
        (void) close(fd);
        return r;
}

int a2s_query_info(const char *host, uint16_t port, int timeout_ms, struct a2s_info *ret) {
        uint8_t buf[4096];
        int n;

        if (!ret)
                return -EINVAL;
        n = a2s_exchange(host, port, timeout_ms, A2S_INFO_REQUEST, buf, sizeof(buf));
        if (n < 0)
                return n;
        return a2s_parse_info(buf, (size_t) n, ret);
}

int a2s_query_players(const char *host, uint16_t port, int timeout_ms, struct a2s_player *players,
                      size_t max, size_t *ret_count, size_t *ret_total) {
        uint8_t buf[4096];
        int n;

        if (!ret_count || (max > 0 && !players))
                return -EINVAL;
        n = a2s_exchange(host, port, timeout_ms, A2S_PLAYER_REQUEST, buf, sizeof(buf));
        if (n < 0)
                return n;
        return a2s_parse_player(buf, (size_t) n, players, max, ret_count, ret_total);
}
