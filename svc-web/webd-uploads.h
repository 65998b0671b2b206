/* Uploads in progress: a large file goes up from the browser in slices (PUTs of at most
 * limits.max_message_bytes, the body limit h2o 2.2.5 applies to every request before any
 * handler runs, so it stays small for unauthenticated requests too) written through the
 * descriptor hostd handed out (file.upload: an unnamed file beneath the overlay), then
 * committed by hostd (file.commit) once webd has closed its copy. docs/web.md, "Uploads".
 *
 * The table is in memory: an upload is a descriptor, which does not survive webd anyway.
 * Each belongs to one user and one overlay, is found by a random token, is capped (per user,
 * in all, and at the size declared when it began) and is dropped after a quiet period. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WEBD_UPLOADS_MAX       32u /* hostd keeps as many */
#define WEBD_UPLOADS_PER_USER  4u
#define WEBD_UPLOAD_IDLE_USEC  (15ull * 60 * 1000000) /* no slice for that long: dropped */
#define WEBD_UPLOAD_TOKEN_HEX  32u
#define WEBD_UPLOAD_HOST_TOKEN 64u

struct webd_upload {
        char token[WEBD_UPLOAD_TOKEN_HEX + 1];
        char host_token[WEBD_UPLOAD_HOST_TOKEN + 1]; /* hostd's name for it */
        int64_t user_id, overlay_id;
        int fd;             /* writable until the commit; -1 after */
        uint64_t size;      /* declared when it began */
        uint64_t offset;    /* bytes written so far, in order */
        char *path;         /* where it goes in the overlay */
        uint64_t last_usec; /* the last slice (CLOCK_MONOTONIC) */
        bool busy;          /* a commit is with hostd */
};

struct webd_uploads;

int webd_uploads_new(struct webd_uploads **ret);
/* Closes every descriptor; calls nothing on hostd (its own timeout drops them). */
struct webd_uploads *webd_uploads_free(struct webd_uploads *u);
unsigned webd_uploads_count(const struct webd_uploads *u);
/* The sizes user_id's uploads in progress declared, added up. */
uint64_t webd_uploads_pending_bytes(const struct webd_uploads *u, int64_t user_id);

/* Adds an upload, taking fd (closed on error). -EMFILE: this user has WEBD_UPLOADS_PER_USER
 * already; -EBUSY: WEBD_UPLOADS_MAX in all; -EINVAL: a bad host token or path. */
int webd_uploads_add(struct webd_uploads *u, int64_t user_id, int64_t overlay_id, const char *host_token,
                     int fd, uint64_t size, const char *path, uint64_t now_usec, struct webd_upload **ret);
/* The upload with this token of this user and overlay, or NULL (a token of another user is
 * not found either). */
struct webd_upload *webd_uploads_find(struct webd_uploads *u, const char *token, int64_t user_id,
                                      int64_t overlay_id);
void webd_uploads_remove(struct webd_uploads *u, struct webd_upload *up);
/* Removes the uploads quiet since before now - WEBD_UPLOAD_IDLE_USEC (not one being
 * committed), calling gone() with each first (to tell hostd). Returns how many. */
unsigned webd_uploads_expire(struct webd_uploads *u, uint64_t now_usec,
                             void (*gone)(const struct webd_upload *up, void *userdata), void *userdata);

/* Writes one slice at offset: -ESPIPE unless offset is where the upload stands (the client
 * resumes from webd_upload.offset), -EFBIG past the declared size, -EBADF once committing,
 * or the write's -errno. */
int webd_upload_write(struct webd_upload *up, uint64_t offset, const void *data, size_t len,
                      uint64_t now_usec);
/* Closes webd's descriptor before the commit (hostd refuses while a writer holds one). */
void webd_upload_close(struct webd_upload *up);
