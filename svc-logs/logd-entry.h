/* One journal entry as logd sends it:
 *   {cursor, realtime_usec, priority, invocation_id, message [, truncated: true]}
 * (a follow notification adds type: "entry" in front). The message is always valid
 * UTF-8: journal messages are arbitrary bytes (journald stores anything a process
 * wrote), so invalid sequences become U+FFFD, and a message longer than
 * LOGD_MESSAGE_MAX bytes is cut at a character boundary and flagged truncated. NUL and
 * other control characters are kept (the msgpack string is length-delimited); the CLI
 * escapes them when printing to a terminal.
 *
 * logd_entry_pack() is pure; logd_entry_read() reads the current entry of an sd_journal and
 * makes its message valid with utf8_sanitize() (proto/utf8.h). */
#pragma once

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-journal.h>

#include "svc-logs/logd-target.h"

#define LOGD_MESSAGE_MAX (16u * 1024u)
#define LOGD_CURSOR_MAX  256 /* journald's cursors are ~130 bytes */

struct logd_entry {
        char cursor[LOGD_CURSOR_MAX];
        uint64_t realtime_usec;
        int priority;                           /* 0..7, or -1 when the entry has none */
        char invocation_id[LOGD_ID128_LEN + 1]; /* "" when unknown */
        bool truncated;
        size_t message_len;
        char message[LOGD_MESSAGE_MAX + 4];
};

/* Fills e from the journal's current entry (after sd_journal_next/previous returned > 0).
 * Returns 0, or < 0 if the entry cannot be read (corrupt: the caller skips it). */
int logd_entry_read(sd_journal *j, struct logd_entry *e);

/* Reads only what the follow filter needs: the entry's invocation id. */
int logd_entry_read_invocation(sd_journal *j, char ret[LOGD_ID128_LEN + 1]);

/* Packs e as one map; with type non-NULL the map starts with {type: <type>, ...}. */
void logd_entry_pack(msgpack_packer *pk, const struct logd_entry *e, const char *type);

/* An upper bound of logd_entry_pack()'s output for e, for byte budgets. */
size_t logd_entry_packed_size(const struct logd_entry *e);
