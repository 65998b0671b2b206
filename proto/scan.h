/* Pre-validation of buffered MessagePack bytes.
 *
 * msgpack-c reserves memory from a container's claimed element count as soon as it sees
 * the header (a 5-byte array32 header can cost gigabytes). So nothing is handed to the
 * unpacker until this scanner has walked the bytes and found one complete message that
 * fits the limits. The scanner is resumable: feeding a message one byte at a time costs
 * O(total bytes), not O(n^2). It allocates nothing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MP_DEFAULT_MAX_BYTES (1024u * 1024u)
#define MP_DEFAULT_MAX_DEPTH 32u
#define MP_DEFAULT_MAX_ELEMS 65536u
#define MP_MAX_DEPTH_LIMIT   64u

struct mp_limits {
        size_t max_bytes;   /* a whole message, header to last byte */
        unsigned max_depth; /* nesting of arrays/maps; the top level counts as 1 */
        size_t max_elems;   /* objects in one message; bounds the unpacker's zone memory */
};

struct mp_scanner {
        struct mp_limits limits;
        size_t pos;                             /* bytes of the current message accepted so far */
        size_t elems;                           /* objects seen in the current message */
        uint64_t pending;                       /* children still expected, summed over the stack */
        unsigned depth;                         /* open containers */
        uint64_t remaining[MP_MAX_DEPTH_LIMIT]; /* children left per open container */
        bool started;
};

/* Fills in the defaults for zero fields and clamps max_depth to MP_MAX_DEPTH_LIMIT. */
void mp_limits_normalize(struct mp_limits *l);

void mp_scanner_init(struct mp_scanner *s, const struct mp_limits *limits);

/* Resets for the next message (after a complete one was consumed). */
void mp_scanner_reset(struct mp_scanner *s);

/* Scans buf[0..len), where buf starts at the current message's first byte and holds
 * every byte received for it so far (the same prefix on every call, growing).
 * Returns the message length (> 0) once it is complete, 0 if more bytes are needed,
 *   -EMSGSIZE  the message is or must become larger than max_bytes,
 *   -ELOOP     nesting deeper than max_depth,
 *   -E2BIG     more than max_elems objects,
 *   -EBADMSG   a byte that is not MessagePack (0xc1). */
long mp_scan(struct mp_scanner *s, const uint8_t *buf, size_t len);

/* One-shot convenience for a buffer that should hold exactly one message: returns its length,
 * 0 if incomplete, or the errors above. */
long mp_scan_buffer(const uint8_t *buf, size_t len, const struct mp_limits *limits);

/* What a scan error means, for the error the peer is sent: "message too large", ... */
const char *mp_scan_strerror(long r);
