#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "tests/proto/testd-run.h"

static char dir[64], sock_path[100], cfg_path[100];
static pid_t pid = -1;

static bool can_connect(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok;

        memcpy(sa.sun_path, path, MIN(strlen(path), sizeof(sa.sun_path) - 1));
        ok = fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;
        safe_close(fd);
        return ok;
}

const char *testd_start(void) {
        int fd;

        snprintf(dir, sizeof(dir), "/tmp/test-testd-XXXXXX");
        if (!mkdtemp(dir))
                return NULL;
        snprintf(sock_path, sizeof(sock_path), "%s/test.sock", dir);
        snprintf(cfg_path, sizeof(cfg_path), "%s/left4me.yaml", dir);
        fd = open(cfg_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600); /* an empty config: defaults */
        if (fd < 0)
                return NULL;
        safe_close(fd);
        pid = fork();
        if (pid < 0)
                return NULL;
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (null >= 0)
                        (void) dup2(null, STDERR_FILENO);
                execl(LEFT4ME_TESTD, "left4me-testd", "--config", cfg_path, "--listen", sock_path,
                      "--idle-exit", "0", (char *) NULL);
                _exit(127);
        }
        for (int i = 0; i < 500; i++) {
                if (can_connect(sock_path))
                        return sock_path;
                usleep(10000);
        }
        return NULL;
}

void testd_kill(void) {
        if (pid > 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                pid = -1;
        }
}

void testd_cleanup(void) {
        testd_kill();
        (void) unlink(sock_path);
        (void) unlink(cfg_path);
        (void) rmdir(dir);
}
