/* A folder as a streamed .zip (webd-zip.h). libarchive writes the format; we walk the tree
 * and feed it, and its write callback appends into z->out, which webd_zip_next hands out.
 *
 * Why libarchive: its zip writer never seeks (every entry gets a data descriptor after its
 * data, zip64 fields where a size or offset passes 4 GiB), so it can write to a callback;
 * libzip wants a seekable output file.
 *
 * Why stored, not deflated: webd is one thread for every request, and the trees are game
 * content (.vpk, .bsp, sounds) that deflate barely shrinks; storing costs a CRC and a copy
 * per byte, so a download is bound by the network, not by webd's only core.
 *
 * Memory per download: the out buffer (about one slice, plus the central directory at the
 * end, which libarchive holds anyway and which the caps bound), a 64 KiB read buffer, and
 * one DIR per open folder (at most WEBD_ZIP_MAX_DEPTH + 1). */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "proto/utf8.h"
#include "svc-web/webd-zip.h"

#define READ_CHUNK (64u * 1024)
/* The out buffer never needs more than a slice plus the central directory, which the name
 * and entry caps bound well below this; past it something is wrong, and we stop. */
#define OUT_MAX (64u * 1024 * 1024)

enum zip_state {
        ZIP_WALK, /* the next entry comes from the folder on top of the stack */
        ZIP_FILE, /* a regular file's data is being copied */
        ZIP_DONE, /* the central directory is written: nothing more to add */
};

struct zip_frame {
        DIR *dir;
        size_t path_len; /* z->path[0..path_len) is this folder's prefix, "" or ending in '/' */
};

struct webd_zip {
        struct archive *ar;
        struct archive_entry *entry;
        enum zip_state state;
        int error;     /* sticky: once set, every call returns it */
        int write_err; /* what made our write callback fail, for the error libarchive reports */
        bool discard;  /* freeing: whatever libarchive still writes is dropped */

        struct zip_frame stack[WEBD_ZIP_MAX_DEPTH + 1];
        unsigned depth; /* frames in use; stack[0] is the top folder */
        char path[WEBD_ZIP_MAX_PATH + 1];

        int file_fd;
        uint64_t file_left; /* bytes still owed to the current file's entry */
        uint64_t file_size; /* as announced in its header */
        bool file_short;    /* it ended early (or a read failed): the rest is zeros */

        unsigned entries; /* looked at, kept or not */
        size_t name_bytes;
        unsigned skipped, changed;

        uint8_t *out;
        size_t out_pos, out_len, out_cap;
        uint8_t rbuf[READ_CHUNK];
};

static int archive_err(struct webd_zip *z) {
        int e;

        if (z->write_err < 0)
                return z->write_err;
        e = archive_errno(z->ar);
        return e > 0 ? -e : -EIO;
}

static la_ssize_t zip_write_cb(struct archive *a, void *userdata, const void *p, size_t n) {
        struct webd_zip *z = userdata;

        if (z->discard || n == 0)
                return (la_ssize_t) n;
        if (n > OUT_MAX - z->out_len) {
                z->write_err = -ENOBUFS;
                archive_set_error(a, ENOBUFS, "zip output over %u bytes", OUT_MAX);
                return -1;
        }
        if (z->out_len + n > z->out_cap) {
                size_t cap = MAX(z->out_cap * 2, z->out_len + n);
                uint8_t *o;

                cap = MIN(MAX(cap, (size_t) 128 * 1024), (size_t) OUT_MAX);
                o = realloc(z->out, cap);
                if (!o) {
                        z->write_err = -ENOMEM;
                        archive_set_error(a, ENOMEM, "zip output buffer");
                        return -1;
                }
                z->out = o;
                z->out_cap = cap;
        }
        memcpy(z->out + z->out_len, p, n);
        z->out_len += n;
        return (la_ssize_t) n;
}

/* Writes the header of the entry named z->path[0..len); FAILED (libarchive refused this one
 * entry, nothing written) comes back as 1 so the caller skips it. */
static int write_header(struct webd_zip *z, size_t len, mode_t mode, int64_t size, const struct stat *st) {
        int r;

        z->path[len] = '\0';
        archive_entry_clear(z->entry);
        archive_entry_set_pathname_utf8(z->entry, z->path);
        archive_entry_set_mode(z->entry, mode);
        archive_entry_set_size(z->entry, size);
        archive_entry_set_mtime(z->entry, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
        r = archive_write_header(z->ar, z->entry);
        if (r == ARCHIVE_FAILED)
                return 1;
        if (r < ARCHIVE_WARN)
                return archive_err(z);
        return 0;
}

static void pop_all(struct webd_zip *z) {
        while (z->depth > 0)
                (void) closedir(z->stack[--z->depth].dir);
}

static int finish(struct webd_zip *z) {
        pop_all(z);
        z->state = ZIP_DONE;
        if (archive_write_close(z->ar) != ARCHIVE_OK)
                return archive_err(z);
        return 0;
}

/* Opens the folder `name` below `top` and pushes it, its header written. Returns 0 also when
 * it was skipped (counted). */
static int enter_dir(struct webd_zip *z, struct zip_frame *top, const char *name, size_t len,
                     const struct stat *st) {
        _cleanup_close_ int fd = -1;
        struct stat st2;
        DIR *d;
        int r;

        if (z->depth > WEBD_ZIP_MAX_DEPTH) {
                z->skipped++;
                return 0;
        }
        fd = openat(dirfd(top->dir), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        /* The fstat catches a folder swapped for another between fstatat and openat. */
        if (fd < 0 || fstat(fd, &st2) < 0 || st2.st_dev != st->st_dev || st2.st_ino != st->st_ino) {
                z->skipped++;
                return 0;
        }
        memcpy(z->path + top->path_len, name, len);
        z->path[top->path_len + len] = '/';
        r = write_header(z, top->path_len + len + 1, AE_IFDIR | 0755, 0, &st2);
        if (r != 0) {
                z->skipped += r > 0;
                return MIN(r, 0);
        }
        (void) archive_write_finish_entry(z->ar);
        d = fdopendir(fd);
        if (!d)
                return negative_errno();
        TAKE_FD(fd);
        z->stack[z->depth++] = (struct zip_frame){.dir = d, .path_len = top->path_len + len + 1};
        return 0;
}

/* Opens the regular file `name` below `top` and writes its header: ZIP_FILE then copies it. */
static int enter_file(struct webd_zip *z, struct zip_frame *top, const char *name, size_t len,
                      const struct stat *st) {
        _cleanup_close_ int fd = -1;
        struct stat st2;
        int r;

        /* O_NONBLOCK: should a FIFO take the file's place after the fstatat, opening it does
         * not wait for a writer (the fstat below then rejects it). */
        fd = openat(dirfd(top->dir), name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st2) < 0 || !S_ISREG(st2.st_mode) || st2.st_dev != st->st_dev ||
            st2.st_ino != st->st_ino) {
                z->skipped++;
                return 0;
        }
        memcpy(z->path + top->path_len, name, len);
        r = write_header(z, top->path_len + len, AE_IFREG | ((st2.st_mode & 0111) ? 0755 : 0644),
                         st2.st_size, &st2);
        if (r != 0) {
                z->skipped += r > 0;
                return MIN(r, 0);
        }
        z->file_size = z->file_left = (uint64_t) st2.st_size;
        z->file_short = false;
        z->file_fd = TAKE_FD(fd);
        z->state = ZIP_FILE;
        return 0;
}

/* One entry of the walk: the next name in the folder on top, or the end of that folder. */
static int step_walk(struct webd_zip *z) {
        struct zip_frame *top = &z->stack[z->depth - 1];
        struct dirent *de;
        struct stat st;
        size_t len;

        errno = 0;
        de = readdir(top->dir);
        if (!de) {
                if (errno != 0)
                        z->skipped++; /* the rest of this folder could not be read */
                (void) closedir(top->dir);
                z->depth--;
                return z->depth == 0 ? finish(z) : 0;
        }
        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                return 0;
        if (z->entries >= WEBD_ZIP_MAX_ENTRIES) {
                /* Counting the rest would mean walking all of it; the cap is there so we don't. */
                z->skipped++;
                return finish(z);
        }
        z->entries++;

        len = strlen(de->d_name);
        /* +1: a folder's '/'. The name bytes bound the central directory libarchive keeps. */
        if (top->path_len + len + 1 > WEBD_ZIP_MAX_PATH ||
            top->path_len + len + 1 > WEBD_ZIP_MAX_NAME_BYTES - z->name_bytes ||
            !utf8_is_valid(de->d_name, len)) {
                z->skipped++;
                return 0;
        }
        if (fstatat(dirfd(top->dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                z->skipped++;
                return 0;
        }
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
                /* Symlinks above all: neither their target nor a link entry goes in. */
                z->skipped++;
                return 0;
        }
        z->name_bytes += top->path_len + len + 1;
        return S_ISDIR(st.st_mode) ? enter_dir(z, top, de->d_name, len, &st)
                                   : enter_file(z, top, de->d_name, len, &st);
}

/* Copies up to *budget bytes of the current file into the archive. Exactly the announced size
 * goes in whatever the file does meanwhile: zeros where it came up short, nothing past it. */
static int step_file(struct webd_zip *z, size_t *budget) {
        size_t want = (size_t) MIN((uint64_t) MIN(*budget, sizeof(z->rbuf)), z->file_left);
        ssize_t n = 0;
        struct stat st;

        if (want > 0 && !z->file_short) {
                do
                        n = read(z->file_fd, z->rbuf, want);
                while (n < 0 && errno == EINTR);
                if (n <= 0) {
                        z->file_short = true;
                        z->changed++;
                        n = 0;
                }
        }
        if (z->file_short) {
                memset(z->rbuf, 0, want);
                n = (ssize_t) want;
        }
        if (n > 0) {
                if (archive_write_data(z->ar, z->rbuf, (size_t) n) != n)
                        return archive_err(z);
                z->file_left -= (uint64_t) n;
                *budget -= (size_t) n;
        }
        if (z->file_left > 0)
                return 0;

        if (!z->file_short && fstat(z->file_fd, &st) == 0 && (uint64_t) st.st_size > z->file_size)
                z->changed++;
        z->file_fd = safe_close(z->file_fd);
        z->state = ZIP_WALK;
        if (archive_write_finish_entry(z->ar) < ARCHIVE_WARN)
                return archive_err(z);
        return 0;
}

int webd_zip_new(int dir_fd, const char *root, struct webd_zip **ret) {
        _cleanup_close_ int fd = dir_fd;
        struct webd_zip *z;
        struct stat st;
        size_t root_len;
        DIR *d;
        int r;

        if (fd < 0 || !ret)
                return -EBADF;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        root = root ? root : "";
        root_len = strlen(root);
        if (root_len > 255 || strchr(root, '/') || streq(root, ".") || streq(root, "..") ||
            !utf8_is_valid(root, root_len))
                return -EINVAL;

        z = calloc(1, sizeof(*z));
        if (!z)
                return -ENOMEM;
        z->file_fd = -1;
        z->ar = archive_write_new();
        z->entry = archive_entry_new();
        if (!z->ar || !z->entry) {
                webd_zip_free(z);
                return -ENOMEM;
        }
        /* bytes_per_block 0: no blocking, every write goes straight to our callback (and the
         * last block is not padded). hdrcharset: names are UTF-8 and marked so (bit 11),
         * whatever webd's locale. */
        if (archive_write_set_format_zip(z->ar) != ARCHIVE_OK ||
            archive_write_set_options(z->ar, "zip:compression=store,zip:hdrcharset=UTF-8") != ARCHIVE_OK ||
            archive_write_set_bytes_per_block(z->ar, 0) != ARCHIVE_OK ||
            archive_write_open(z->ar, z, NULL, zip_write_cb, NULL) != ARCHIVE_OK) {
                r = archive_err(z);
                webd_zip_free(z);
                return r;
        }

        d = fdopendir(fd);
        if (!d) {
                r = negative_errno();
                webd_zip_free(z);
                return r;
        }
        TAKE_FD(fd);
        z->stack[z->depth++] = (struct zip_frame){.dir = d, .path_len = root_len ? root_len + 1 : 0};
        if (root_len > 0) {
                memcpy(z->path, root, root_len);
                z->path[root_len] = '/';
                r = write_header(z, root_len + 1, AE_IFDIR | 0755, 0, &st);
                if (r == 0 && archive_write_finish_entry(z->ar) < ARCHIVE_WARN)
                        r = archive_err(z);
                if (r != 0) {
                        webd_zip_free(z);
                        return r > 0 ? -EINVAL : r;
                }
        }
        *ret = z;
        return 0;
}

ssize_t webd_zip_next(struct webd_zip *z, void *buf, size_t cap) {
        size_t budget = cap, n;

        if (!z || !buf || cap == 0)
                return -EINVAL;
        if (z->error < 0)
                return z->error;

        if (z->out_pos > 0) {
                memmove(z->out, z->out + z->out_pos, z->out_len - z->out_pos);
                z->out_len -= z->out_pos;
                z->out_pos = 0;
        }
        /* Work until a slice is ready or ~cap bytes of files were read. Entries that produce
         * nothing (skipped ones) cost no budget; the entry cap bounds them. */
        while (z->out_len < cap && z->state != ZIP_DONE && budget > 0) {
                int r = z->state == ZIP_WALK ? step_walk(z) : step_file(z, &budget);

                if (r < 0) {
                        z->error = r;
                        return r;
                }
        }

        n = MIN(cap, z->out_len - z->out_pos);
        memcpy(buf, z->out + z->out_pos, n);
        z->out_pos += n;
        return (ssize_t) n;
}

struct webd_zip *webd_zip_free(struct webd_zip *z) {
        if (!z)
                return NULL;
        /* archive_write_free closes the archive, writing a central directory nobody will read. */
        z->discard = true;
        if (z->ar)
                (void) archive_write_free(z->ar);
        if (z->entry)
                archive_entry_free(z->entry);
        pop_all(z);
        safe_close(z->file_fd);
        free(z->out);
        free(z);
        return NULL;
}

unsigned webd_zip_skipped(const struct webd_zip *z) {
        return z ? z->skipped : 0;
}

unsigned webd_zip_changed(const struct webd_zip *z) {
        return z ? z->changed : 0;
}
