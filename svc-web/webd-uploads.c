/* See webd-uploads.h. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "svc-web/webd-uploads.h"

struct webd_uploads {
        struct webd_upload slot[WEBD_UPLOADS_MAX];
        bool used[WEBD_UPLOADS_MAX];
        unsigned n;
};

int webd_uploads_new(struct webd_uploads **ret) {
        struct webd_uploads *u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        *ret = u;
        return 0;
}

void webd_uploads_remove(struct webd_uploads *u, struct webd_upload *up) {
        size_t i = (size_t) (up - u->slot);

        if (i >= WEBD_UPLOADS_MAX || !u->used[i])
                return;
        safe_close(up->fd);
        free(up->path);
        sodium_memzero(up, sizeof(*up));
        up->fd = -1;
        u->used[i] = false;
        u->n--;
}

struct webd_uploads *webd_uploads_free(struct webd_uploads *u) {
        if (!u)
                return NULL;
        for (unsigned i = 0; i < WEBD_UPLOADS_MAX; i++)
                if (u->used[i])
                        webd_uploads_remove(u, &u->slot[i]);
        free(u);
        return NULL;
}

unsigned webd_uploads_count(const struct webd_uploads *u) {
        return u ? u->n : 0;
}

static bool host_token_ok(const char *t) {
        size_t n = strlen(t);
        if (n == 0 || n > WEBD_UPLOAD_HOST_TOKEN)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
                      (t[i] >= '0' && t[i] <= '9') || t[i] == '-' || t[i] == '_'))
                        return false;
        return true;
}

int webd_uploads_add(struct webd_uploads *u, int64_t user_id, int64_t overlay_id, const char *host_token,
                     int fd, uint64_t size, const char *path, uint64_t now_usec, struct webd_upload **ret) {
        unsigned mine = 0, free_slot = WEBD_UPLOADS_MAX;
        uint8_t raw[WEBD_UPLOAD_TOKEN_HEX / 2];
        struct webd_upload *up;

        if (fd < 0)
                return -EBADF;
        if (!host_token_ok(host_token) || !path || !*path) {
                safe_close(fd);
                return -EINVAL;
        }
        for (unsigned i = 0; i < WEBD_UPLOADS_MAX; i++) {
                if (!u->used[i])
                        free_slot = MIN(free_slot, i);
                else if (u->slot[i].user_id == user_id)
                        mine++;
        }
        if (mine >= WEBD_UPLOADS_PER_USER || free_slot == WEBD_UPLOADS_MAX) {
                safe_close(fd);
                return mine >= WEBD_UPLOADS_PER_USER ? -EMFILE : -EBUSY;
        }
        up = &u->slot[free_slot];
        *up = (struct webd_upload){
                .user_id = user_id, .overlay_id = overlay_id, .fd = fd, .size = size, .last_usec = now_usec};
        up->path = strdup(path);
        if (!up->path) {
                safe_close(fd);
                up->fd = -1;
                return -ENOMEM;
        }
        snprintf(up->host_token, sizeof(up->host_token), "%s", host_token);
        randombytes_buf(raw, sizeof(raw));
        sodium_bin2hex(up->token, sizeof(up->token), raw, sizeof(raw));
        u->used[free_slot] = true;
        u->n++;
        *ret = up;
        return 0;
}

uint64_t webd_uploads_pending_bytes(const struct webd_uploads *u, int64_t user_id) {
        uint64_t sum = 0;

        for (unsigned i = 0; i < WEBD_UPLOADS_MAX; i++)
                if (u->used[i] && u->slot[i].user_id == user_id)
                        sum += u->slot[i].size;
        return sum;
}

struct webd_upload *webd_uploads_find(struct webd_uploads *u, const char *token, int64_t user_id,
                                      int64_t overlay_id) {
        if (!token || strlen(token) != WEBD_UPLOAD_TOKEN_HEX)
                return NULL;
        for (unsigned i = 0; i < WEBD_UPLOADS_MAX; i++) {
                struct webd_upload *up = &u->slot[i];
                /* Constant time: the token is what keeps one upload from another's slices. */
                if (u->used[i] && sodium_memcmp(up->token, token, WEBD_UPLOAD_TOKEN_HEX) == 0 &&
                    up->user_id == user_id && up->overlay_id == overlay_id)
                        return up;
        }
        return NULL;
}

unsigned webd_uploads_expire(struct webd_uploads *u, uint64_t now_usec,
                             void (*gone)(const struct webd_upload *up, void *userdata), void *userdata) {
        unsigned n = 0;

        for (unsigned i = 0; i < WEBD_UPLOADS_MAX; i++) {
                struct webd_upload *up = &u->slot[i];
                if (!u->used[i] || up->busy || up->last_usec + WEBD_UPLOAD_IDLE_USEC > now_usec)
                        continue;
                if (gone)
                        gone(up, userdata);
                webd_uploads_remove(u, up);
                n++;
        }
        return n;
}

int webd_upload_write(struct webd_upload *up, uint64_t offset, const void *data, size_t len,
                      uint64_t now_usec) {
        const char *p = data;

        if (up->fd < 0 || up->busy)
                return -EBADF;
        if (offset != up->offset)
                return -ESPIPE;
        if (len > up->size - up->offset)
                return -EFBIG;
        while (len > 0) {
                ssize_t k = pwrite(up->fd, p, len, (off_t) up->offset);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                p += k;
                len -= (size_t) k;
                up->offset += (uint64_t) k;
        }
        up->last_usec = now_usec;
        return 0;
}

void webd_upload_close(struct webd_upload *up) {
        up->fd = safe_close(up->fd);
}
