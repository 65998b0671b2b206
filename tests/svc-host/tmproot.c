#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/wait.h>

#include "tests/svc-host/tmproot.h"

char *root;

int run_shell(const char *cmd) {
        int status;
        pid_t pid = fork();

        if (pid == 0) {
                execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
                _exit(127);
        }
        if (pid < 0 || waitpid(pid, &status, 0) < 0)
                return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void sh(const char *fmt, ...) {
        char *cmd = NULL, *full = NULL;
        va_list ap;

        va_start(ap, fmt);
        cr_assert(vasprintf(&cmd, fmt, ap) > 0);
        va_end(ap);
        cr_assert(asprintf(&full, "set -e; cd '%s'; %s", root, cmd) > 0);
        cr_assert_eq(run_shell(full), 0, "failed: %s", cmd);
        free(cmd);
        free(full);
}
