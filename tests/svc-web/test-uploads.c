/* The table of uploads in progress (webd-uploads.h): caps per user and in all, tokens that
 * find only their own user's upload, slices written in order and within the declared size,
 * the quiet-period expiry, and no descriptor left open. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <unistd.h>

#include "svc-web/webd-uploads.h"

static int tmpfile_fd(void) {
        char path[] = "/tmp/l4m-upload-XXXXXX";
        int fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        unlink(path);
        return fd;
}

static bool fd_open(int fd) {
        return fcntl(fd, F_GETFD) >= 0;
}

static void setup(void) {
        cr_assert_geq(sodium_init(), 0);
}

TestSuite(uploads, .init = setup);

Test(uploads, caps_per_user_and_in_all) {
        struct webd_uploads *u;
        struct webd_upload *up;
        int fd;

        cr_assert_eq(webd_uploads_new(&u), 0);
        for (unsigned i = 0; i < WEBD_UPLOADS_PER_USER; i++)
                cr_assert_eq(webd_uploads_add(u, 1, 7, "h1", tmpfile_fd(), 10, "a/b", 0, &up), 0);
        fd = tmpfile_fd();
        cr_assert_eq(webd_uploads_add(u, 1, 7, "h1", fd, 10, "a/b", 0, &up), -EMFILE);
        cr_assert(!fd_open(fd), "a refused upload's descriptor is still open");
        for (int64_t user = 2; webd_uploads_count(u) < WEBD_UPLOADS_MAX; user++)
                cr_assert_eq(webd_uploads_add(u, user, 7, "h", tmpfile_fd(), 10, "x", 0, &up), 0);
        fd = tmpfile_fd();
        cr_assert_eq(webd_uploads_add(u, 999, 7, "h", fd, 10, "x", 0, &up), -EBUSY);
        cr_assert(!fd_open(fd));
        fd = tmpfile_fd();
        cr_assert_eq(webd_uploads_add(u, 1, 7, "bad token!", fd, 10, "x", 0, &up), -EINVAL);
        cr_assert(!fd_open(fd));
        webd_uploads_free(u);
}

Test(uploads, declared_sizes_add_up_per_user) {
        struct webd_uploads *u;
        struct webd_upload *a, *b;

        cr_assert_eq(webd_uploads_new(&u), 0);
        cr_assert_eq(webd_uploads_pending_bytes(u, 1), 0);
        cr_assert_eq(webd_uploads_add(u, 1, 7, "h1", tmpfile_fd(), 10, "a", 0, &a), 0);
        cr_assert_eq(webd_uploads_add(u, 1, 8, "h2", tmpfile_fd(), 1ull << 40, "b", 0, &b), 0);
        cr_assert_eq(webd_uploads_add(u, 2, 7, "h3", tmpfile_fd(), 5, "a", 0, &(struct webd_upload *){0}),
                     0);
        cr_assert_eq(webd_uploads_pending_bytes(u, 1), 10 + (1ull << 40));
        cr_assert_eq(webd_uploads_pending_bytes(u, 2), 5);
        webd_uploads_remove(u, b);
        cr_assert_eq(webd_uploads_pending_bytes(u, 1), 10, "a removed upload reserves nothing");
        cr_assert_eq(webd_uploads_pending_bytes(u, 3), 0);
        webd_uploads_free(u);
}

Test(uploads, a_token_finds_only_its_own_users_upload) {
        struct webd_uploads *u;
        struct webd_upload *up, *other;
        char token[WEBD_UPLOAD_TOKEN_HEX + 1];

        cr_assert_eq(webd_uploads_new(&u), 0);
        cr_assert_eq(webd_uploads_add(u, 1, 7, "h1", tmpfile_fd(), 10, "a", 0, &up), 0);
        cr_assert_eq(webd_uploads_add(u, 2, 7, "h2", tmpfile_fd(), 10, "a", 0, &other), 0);
        cr_assert_eq(strlen(up->token), WEBD_UPLOAD_TOKEN_HEX);
        cr_assert_str_neq(up->token, other->token);
        snprintf(token, sizeof(token), "%s", up->token);
        cr_assert_eq(webd_uploads_find(u, token, 1, 7), up);
        cr_assert_null(webd_uploads_find(u, token, 2, 7), "another user found it");
        cr_assert_null(webd_uploads_find(u, token, 1, 8), "found under another overlay");
        token[0] = token[0] == 'a' ? 'b' : 'a';
        cr_assert_null(webd_uploads_find(u, token, 1, 7), "a wrong token found it");
        cr_assert_null(webd_uploads_find(u, "short", 1, 7));
        cr_assert_null(webd_uploads_find(u, NULL, 1, 7));
        webd_uploads_free(u);
}

Test(uploads, slices_in_order_within_the_size) {
        struct webd_uploads *u;
        struct webd_upload *up;
        char back[16] = "";
        int fd = tmpfile_fd(), copy = dup(fd);

        cr_assert_eq(webd_uploads_new(&u), 0);
        cr_assert_eq(webd_uploads_add(u, 1, 7, "h1", fd, 10, "a", 0, &up), 0);
        cr_assert_eq(webd_upload_write(up, 0, "hello", 5, 1), 0);
        cr_assert_eq(webd_upload_write(up, 0, "hello", 5, 2), -ESPIPE, "a slice written twice");
        cr_assert_eq(webd_upload_write(up, 9, "x", 1, 2), -ESPIPE, "a gap");
        cr_assert_eq(webd_upload_write(up, 5, "worlds", 6, 2), -EFBIG, "past the declared size");
        cr_assert_eq(up->offset, 5u, "a refused slice moved the offset");
        cr_assert_eq(webd_upload_write(up, 5, "world", 5, 3), 0);
        cr_assert_eq(up->offset, 10u);
        cr_assert_eq(pread(copy, back, sizeof(back) - 1, 0), 10);
        cr_assert_str_eq(back, "helloworld");
        webd_upload_close(up);
        cr_assert(!fd_open(fd));
        cr_assert_eq(webd_upload_write(up, 10, "", 0, 4), -EBADF, "written after the close");
        close(copy);
        webd_uploads_free(u);
}

static unsigned gone_calls;
static void on_gone(const struct webd_upload *up, void *ud) {
        gone_calls++;
        cr_assert_str_eq(up->host_token, "old");
}

Test(uploads, quiet_ones_expire_not_busy_ones) {
        struct webd_uploads *u;
        struct webd_upload *old, *fresh, *busy;
        int fd = tmpfile_fd();

        cr_assert_eq(webd_uploads_new(&u), 0);
        cr_assert_eq(webd_uploads_add(u, 1, 7, "old", fd, 10, "a", 0, &old), 0);
        cr_assert_eq(
                webd_uploads_add(u, 1, 7, "fresh", tmpfile_fd(), 10, "a", WEBD_UPLOAD_IDLE_USEC, &fresh), 0);
        cr_assert_eq(webd_uploads_add(u, 1, 7, "busy", tmpfile_fd(), 10, "a", 0, &busy), 0);
        busy->busy = true;
        cr_assert_eq(webd_uploads_expire(u, WEBD_UPLOAD_IDLE_USEC + 1, on_gone, NULL), 1u);
        cr_assert_eq(gone_calls, 1u);
        cr_assert(!fd_open(fd), "the expired upload's descriptor is open");
        cr_assert_eq(webd_uploads_count(u), 2u);
        webd_uploads_free(u);
}
