#include <errno.h>
#include <string.h>

#include "proto/scan.h"

void mp_limits_normalize(struct mp_limits *l) {
        if (l->max_bytes == 0)
                l->max_bytes = MP_DEFAULT_MAX_BYTES;
        if (l->max_depth == 0)
                l->max_depth = MP_DEFAULT_MAX_DEPTH;
        if (l->max_depth > MP_MAX_DEPTH_LIMIT)
                l->max_depth = MP_MAX_DEPTH_LIMIT;
        if (l->max_elems == 0)
                l->max_elems = MP_DEFAULT_MAX_ELEMS;
}

void mp_scanner_init(struct mp_scanner *s, const struct mp_limits *limits) {
        memset(s, 0, sizeof(*s));
        if (limits)
                s->limits = *limits;
        mp_limits_normalize(&s->limits);
}

void mp_scanner_reset(struct mp_scanner *s) {
        struct mp_limits l = s->limits;
        mp_scanner_init(s, &l);
}

static uint64_t read_be(const uint8_t *p, unsigned n) {
        uint64_t v = 0;
        for (unsigned i = 0; i < n; i++)
                v = (v << 8) | p[i];
        return v;
}

/* Describes the object whose first byte is b: how many bytes of header follow the type byte
 * (a length field), a fixed payload size, or how many children it opens. */
enum kind { K_SCALAR, K_BYTES, K_CONTAINER, K_INVALID };

struct shape {
        enum kind kind;
        unsigned lenbytes; /* size of the length field (K_BYTES / K_CONTAINER with explicit count) */
        uint64_t fixed;    /* payload bytes after the header (K_SCALAR), or fixed count (fix types) */
        unsigned extra;    /* extra header bytes after the length field (ext type byte) */
        unsigned per;      /* children per count unit (2 for maps) */
};

static struct shape shape_of(uint8_t b) {
        if (b <= 0x7f || b >= 0xe0)
                return (struct shape){K_SCALAR, 0, 0, 0, 0};
        if (b <= 0x8f)
                return (struct shape){K_CONTAINER, 0, b & 0x0f, 0, 2};
        if (b <= 0x9f)
                return (struct shape){K_CONTAINER, 0, b & 0x0f, 0, 1};
        if (b <= 0xbf)
                return (struct shape){K_SCALAR, 0, b & 0x1f, 0, 0};
        switch (b) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
                return (struct shape){K_SCALAR, 0, 0, 0, 0};
        case 0xc4:
        case 0xd9:
                return (struct shape){K_BYTES, 1, 0, 0, 0};
        case 0xc5:
        case 0xda:
                return (struct shape){K_BYTES, 2, 0, 0, 0};
        case 0xc6:
        case 0xdb:
                return (struct shape){K_BYTES, 4, 0, 0, 0};
        case 0xc7:
                return (struct shape){K_BYTES, 1, 0, 1, 0};
        case 0xc8:
                return (struct shape){K_BYTES, 2, 0, 1, 0};
        case 0xc9:
                return (struct shape){K_BYTES, 4, 0, 1, 0};
        case 0xca:
        case 0xce:
        case 0xd2:
                return (struct shape){K_SCALAR, 0, 4, 0, 0};
        case 0xcb:
        case 0xcf:
        case 0xd3:
                return (struct shape){K_SCALAR, 0, 8, 0, 0};
        case 0xcc:
        case 0xd0:
                return (struct shape){K_SCALAR, 0, 1, 0, 0};
        case 0xcd:
        case 0xd1:
                return (struct shape){K_SCALAR, 0, 2, 0, 0};
        case 0xd4:
                return (struct shape){K_SCALAR, 0, 2, 0, 0};
        case 0xd5:
                return (struct shape){K_SCALAR, 0, 3, 0, 0};
        case 0xd6:
                return (struct shape){K_SCALAR, 0, 5, 0, 0};
        case 0xd7:
                return (struct shape){K_SCALAR, 0, 9, 0, 0};
        case 0xd8:
                return (struct shape){K_SCALAR, 0, 17, 0, 0};
        case 0xdc:
                return (struct shape){K_CONTAINER, 2, 0, 0, 1};
        case 0xdd:
                return (struct shape){K_CONTAINER, 4, 0, 0, 1};
        case 0xde:
                return (struct shape){K_CONTAINER, 2, 0, 0, 2};
        case 0xdf:
                return (struct shape){K_CONTAINER, 4, 0, 0, 2};
        default: /* 0xc1 is "never used" */
                return (struct shape){K_INVALID, 0, 0, 0, 0};
        }
}

/* Pops finished containers: called after an object completes. */
static void complete_one(struct mp_scanner *s) {
        while (s->depth > 0) {
                s->remaining[s->depth - 1]--;
                s->pending--;
                if (s->remaining[s->depth - 1] > 0)
                        return;
                s->depth--; /* that container is complete, which completes one child of its parent */
        }
}

long mp_scan(struct mp_scanner *s, const uint8_t *buf, size_t len) {
        const struct mp_limits *l = &s->limits;

        for (;;) {
                size_t p = s->pos;
                struct shape sh;
                uint64_t count, payload;
                size_t hdr;

                if (s->started && s->depth == 0)
                        return (long) s->pos; /* complete */
                if (p >= len)
                        return p >= l->max_bytes ? -EMSGSIZE : 0;

                sh = shape_of(buf[p]);
                if (sh.kind == K_INVALID)
                        return -EBADMSG;
                if (s->elems + 1 > l->max_elems)
                        return -E2BIG;

                hdr = 1 + sh.lenbytes + sh.extra;
                if (p + hdr > l->max_bytes)
                        return -EMSGSIZE;
                if (p + hdr > len)
                        return 0;

                switch (sh.kind) {
                case K_SCALAR:
                        payload = sh.fixed;
                        if (p + hdr + payload > l->max_bytes)
                                return -EMSGSIZE;
                        if (p + hdr + payload > len)
                                return 0;
                        s->pos = p + hdr + payload;
                        s->elems++;
                        s->started = true;
                        complete_one(s);
                        break;
                case K_BYTES:
                        payload = read_be(buf + p + 1, sh.lenbytes);
                        if (payload > l->max_bytes || p + hdr + payload > l->max_bytes)
                                return -EMSGSIZE;
                        if (p + hdr + payload > len)
                                return 0;
                        s->pos = p + hdr + payload;
                        s->elems++;
                        s->started = true;
                        complete_one(s);
                        break;
                case K_CONTAINER:
                        count = sh.lenbytes ? read_be(buf + p + 1, sh.lenbytes) : sh.fixed;
                        count *= sh.per;
                        s->pos = p + hdr;
                        s->elems++;
                        s->started = true;
                        if (count == 0) {
                                complete_one(s);
                                break;
                        }
                        if (s->depth >= l->max_depth)
                                return -ELOOP;
                        /* Every child takes at least one byte: a claim that cannot fit is refused
                         * before anything could be reserved for it. */
                        if (count > l->max_elems || s->pending + count > l->max_bytes - s->pos)
                                return count > l->max_elems ? -E2BIG : -EMSGSIZE;
                        if (s->elems + s->pending + count > l->max_elems)
                                return -E2BIG;
                        s->remaining[s->depth++] = count;
                        s->pending += count;
                        break;
                default:
                        return -EBADMSG;
                }
        }
}

long mp_scan_buffer(const uint8_t *buf, size_t len, const struct mp_limits *limits) {
        struct mp_scanner s;
        mp_scanner_init(&s, limits);
        return mp_scan(&s, buf, len);
}

const char *mp_scan_strerror(long r) {
        switch (r) {
        case -EMSGSIZE:
                return "message too large";
        case -ELOOP:
                return "message nested too deeply";
        case -E2BIG:
                return "message has too many elements";
        default:
                return "malformed MessagePack";
        }
}
