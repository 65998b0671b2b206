/* Entry encoding: see logd-entry.h. */
#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "proto/rpc.h"
#include "proto/map.h"
#include "proto/utf8.h"
#include "svc-logs/logd-entry.h"

/* Looks up field (without '=') of the current entry: points *ret into the journal's
 * memory (valid until the next journal call). */
static int get_field(sd_journal *j, const char *field, const char **ret, size_t *ret_len) {
        const void *d;
        size_t l, fl = strlen(field);
        int r = sd_journal_get_data(j, field, &d, &l);
        if (r < 0)
                return r;
        if (l < fl + 1 || memcmp(d, field, fl) != 0 || ((const char *) d)[fl] != '=')
                return -EBADMSG;
        *ret = (const char *) d + fl + 1;
        *ret_len = l - fl - 1;
        return 0;
}

static void copy_id128(const char *v, size_t l, char ret[LOGD_ID128_LEN + 1]) {
        ret[0] = '\0';
        if (l != LOGD_ID128_LEN)
                return;
        for (size_t i = 0; i < l; i++) {
                char c = v[i];
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                        return;
        }
        memcpy(ret, v, l);
        ret[l] = '\0';
}

int logd_entry_read_invocation(sd_journal *j, char ret[LOGD_ID128_LEN + 1]) {
        const char *v;
        size_t l;

        ret[0] = '\0';
        /* The trusted field, set by journald from the cgroup, for the unit's own processes. */
        if (get_field(j, "_SYSTEMD_INVOCATION_ID", &v, &l) >= 0) {
                const char *u;
                size_t ul;

                /* A build's output line written by hostd (logd-target.h): it belongs to the build,
                 * not to hostd's run, whose id it carries; the build's is not known. */
                if (get_field(j, "_SYSTEMD_UNIT", &u, &ul) >= 0 && ul == STRLEN(LOGD_HOST_UNIT) &&
                    memcmp(u, LOGD_HOST_UNIT, ul) == 0 && get_field(j, LOGD_BUILD_UNIT_FIELD, &u, &ul) >= 0)
                        return 0;
                copy_id128(v, l, ret);
                return 0;
        }
        /* systemd's own messages about the unit carry INVOCATION_ID=; it is trusted only
         * when the sender is PID 1 (our matches require _PID=1 for those entries, but a
         * read of "all" must not let a unit forge it either). */
        if (get_field(j, "_PID", &v, &l) >= 0 && l == 1 && v[0] == '1' &&
            get_field(j, "INVOCATION_ID", &v, &l) >= 0)
                copy_id128(v, l, ret);
        return 0;
}

int logd_entry_read(sd_journal *j, struct logd_entry *e) {
        _cleanup_free_ char *cursor = NULL;
        const char *v;
        size_t l;
        int r;

        r = sd_journal_get_cursor(j, &cursor);
        if (r < 0)
                return r;
        l = strlen(cursor);
        if (l >= sizeof e->cursor)
                return -E2BIG;
        memcpy(e->cursor, cursor, l + 1);

        r = sd_journal_get_realtime_usec(j, &e->realtime_usec);
        if (r < 0)
                return r;

        e->priority = -1;
        if (get_field(j, "PRIORITY", &v, &l) >= 0 && l == 1 && v[0] >= '0' && v[0] <= '7')
                e->priority = v[0] - '0';

        (void) logd_entry_read_invocation(j, e->invocation_id);

        e->truncated = false;
        e->message_len = 0;
        if (get_field(j, "MESSAGE", &v, &l) >= 0)
                e->message_len = utf8_sanitize(v, l, e->message, LOGD_MESSAGE_MAX, &e->truncated);
        e->message[e->message_len] = '\0';
        return 0;
}

void logd_entry_pack(msgpack_packer *pk, const struct logd_entry *e, const char *type) {
        struct rpc_map map;
        msgpack_packer *mpk = rpc_map_begin(&map, pk);
        if (type)
                rpc_pack_kv_str(mpk, "type", type);
        rpc_pack_kv_str(mpk, "cursor", e->cursor);
        rpc_pack_kv_uint(mpk, "realtime_usec", e->realtime_usec);
        if (e->priority >= 0)
                rpc_pack_kv_int(mpk, "priority", e->priority);
        else
                rpc_pack_kv_nil(mpk, "priority");
        if (e->invocation_id[0])
                rpc_pack_kv_str(mpk, "invocation_id", e->invocation_id);
        else
                rpc_pack_kv_nil(mpk, "invocation_id");
        rpc_pack_key(mpk, "message");
        rpc_pack_strn(mpk, e->message, e->message_len);
        if (e->truncated)
                rpc_pack_kv_bool(mpk, "truncated", true);
        (void) rpc_map_end(&map);
}

size_t logd_entry_packed_size(const struct logd_entry *e) {
        /* keys and fixed fields < 128 bytes; str headers at most 5 bytes each */
        return 128 + strlen(e->cursor) + 5 + LOGD_ID128_LEN + 5 + e->message_len + 5;
}
