/* A folder as a .zip, produced a slice at a time (pull-based): webd asks for the next bytes
 * when the client has taken the last ones, so a 10 GiB tree never sits in memory and one
 * call never keeps the loop long (it reads at most about `cap` bytes of file data).
 *
 * The tree is walked beneath the descriptor hostd hands over, with an explicit stack (no
 * recursion), every open relative to its parent's descriptor with O_NOFOLLOW: no symlink is
 * followed and nothing outside the tree is read. Symlinks, devices, FIFOs, sockets,
 * unreadable entries and whatever is over the caps (depth, entries, name bytes) are left
 * out and counted. Entries are stored, not deflated (see webd-zip.c); libarchive writes the
 * zip (data descriptors, zip64 where needed) into our buffer, never seeking.
 *
 * Not thread-safe; one object per download. */
#pragma once

#include <sys/types.h>

struct webd_zip;

/* Caps on what one archive may hold: a peer controls the tree's shape. */
#define WEBD_ZIP_MAX_DEPTH      64u                /* folders below the top one */
#define WEBD_ZIP_MAX_ENTRIES    100000u            /* entries looked at, kept or not */
#define WEBD_ZIP_MAX_PATH       4096u              /* bytes of one name in the archive */
#define WEBD_ZIP_MAX_NAME_BYTES (8u * 1024 * 1024) /* of all names: the central directory */

/* Takes dir_fd (closed by webd_zip_free, or here on error). root: the folder name used as the
 * top directory inside the archive ("" = entries at the top); one component, no '/'.
 * -ENOTDIR if dir_fd is not a directory, -EINVAL for a bad root. */
int webd_zip_new(int dir_fd, const char *root, struct webd_zip **ret);

/* Produces the next bytes of the archive into buf (up to cap bytes; webd passes at least
 * 64 KiB). Returns the number of bytes written (> 0), 0 when the archive is complete, or
 * -errno (and the same error on every later call: the archive is broken off). */
ssize_t webd_zip_next(struct webd_zip *z, void *buf, size_t cap);

/* Accepts NULL; returns NULL. Closes every descriptor the object holds. */
struct webd_zip *webd_zip_free(struct webd_zip *z);

/* What was left out: symlinks, devices, FIFOs, sockets, unreadable entries, names that are
 * not UTF-8 or too long, entries over the caps (a folder too deep counts once, its contents
 * not at all; reaching the entry cap counts once and ends the walk). */
unsigned webd_zip_skipped(const struct webd_zip *z);

/* Files that changed size while they were read: the archive holds exactly the size
 * announced in their header, zero-padded if the file shrank, cut if it grew, so the archive
 * stays valid but those files' bytes are not a snapshot. A read error midway counts here too. */
unsigned webd_zip_changed(const struct webd_zip *z);
