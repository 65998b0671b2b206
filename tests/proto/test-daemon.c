/* The skeleton's pieces that need no loop: --listen's socket (a stale socket file is
 * replaced, any other file is refused and kept) and the one idle-exit range. */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/daemon.h"

static char dir[] = "/tmp/l4m-test-daemon-XXXXXX";

static void make_dir(void) {
        cr_assert_not_null(mkdtemp(dir));
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        return remove(path) < 0 ? -1 : 0;
}

static void remove_dir(void) {
        (void) nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(listen_unix, .init = make_dir, .fini = remove_dir);

Test(listen_unix, binds_mode_0660) {
        char path[256];
        struct stat st;
        int fd;

        snprintf(path, sizeof(path), "%s/a.sock", dir);
        fd = daemon_listen_unix(path);
        cr_assert_geq(fd, 0, "%s", strerror(-fd));
        cr_assert_eq(lstat(path, &st), 0);
        cr_assert(S_ISSOCK(st.st_mode));
        cr_assert_eq(st.st_mode & 0777, 0660);
        close(fd);
}

Test(listen_unix, refuses_and_keeps_a_regular_file) {
        char path[256], buf[16] = "";
        FILE *f;
        int fd;

        snprintf(path, sizeof(path), "%s/precious", dir);
        f = fopen(path, "w");
        cr_assert_not_null(f);
        fputs("data\n", f);
        fclose(f);
        fd = daemon_listen_unix(path);
        cr_assert_eq(fd, -EADDRINUSE);
        f = fopen(path, "r");
        cr_assert_not_null(f);
        cr_assert_not_null(fgets(buf, sizeof(buf), f));
        fclose(f);
        cr_assert_str_eq(buf, "data\n");
}

Test(listen_unix, refuses_a_directory) {
        char path[256];

        snprintf(path, sizeof(path), "%s/sub", dir);
        cr_assert_eq(mkdir(path, 0700), 0);
        cr_assert_lt(daemon_listen_unix(path), 0);
        cr_assert_eq(access(path, F_OK), 0);
}

Test(listen_unix, replaces_a_stale_socket) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int s, fd;

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/stale.sock", dir);
        s = socket(AF_UNIX, SOCK_STREAM, 0);
        cr_assert_eq(bind(s, (struct sockaddr *) &sa, sizeof(sa)), 0);
        close(s); /* the file stays behind, as after a killed daemon */
        fd = daemon_listen_unix(sa.sun_path);
        cr_assert_geq(fd, 0, "%s", strerror(-fd));
        close(fd);
}

Test(listen_unix, path_too_long) {
        char path[200];

        memset(path, 'a', sizeof(path) - 1);
        path[sizeof(path) - 1] = 0;
        cr_assert_eq(daemon_listen_unix(path), -ENAMETOOLONG);
}

Test(idle_exit, config_range_is_the_options_range) {
        static const struct {
                const char *yaml;
                int ok;
        } cases[] = {
                {"limits: {idle_exit_sec: 0}\n", 1},
                {"limits: {idle_exit_sec: 86400}\n", 1},
                {"limits: {idle_exit_sec: 86401}\n", 0},
                {"limits: {idle_exit_sec: -1}\n", 0},
        };

        cr_assert_eq(L4M_IDLE_EXIT_MAX_SEC, 86400u);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct l4m_config c;
                char err[600] = "";
                int r;

                cr_assert_eq(config_init_defaults(&c), 0);
                r = config_load_string(&c, cases[i].yaml, strlen(cases[i].yaml), "left4me.yaml", err,
                                       sizeof(err), NULL, NULL);
                if (cases[i].ok)
                        cr_assert_eq(r, 0, "%s: %s", cases[i].yaml, err);
                else {
                        cr_assert_lt(r, 0, "%s accepted", cases[i].yaml);
                        cr_assert(strstr(err, "idle_exit_sec"), "%s", err);
                }
                config_done(&c);
        }
}
