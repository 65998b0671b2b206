#include <stdarg.h>
#include <sys/stat.h>

#include "base/log.h"

static int max_level = LOG_INFO;
static bool journal_prefix;
static const char *log_ident = "left4me";

void log_setup(const char *ident) {
        const char *e = getenv("JOURNAL_STREAM");
        const char *lvl = getenv("LEFT4ME_LOG_LEVEL");
        struct stat st;

        log_ident = ident;
        /* JOURNAL_STREAM is "dev:ino" of the stream journald gave us; only trust it if stderr is it. */
        if (e && fstat(STDERR_FILENO, &st) == 0) {
                unsigned long long dev, ino;
                if (sscanf(e, "%llu:%llu", &dev, &ino) == 2 && dev == (unsigned long long) st.st_dev &&
                    ino == (unsigned long long) st.st_ino)
                        journal_prefix = true;
        }
        if (lvl) {
                if (streq(lvl, "debug"))
                        max_level = LOG_DEBUG;
                else if (streq(lvl, "info"))
                        max_level = LOG_INFO;
                else if (streq(lvl, "warning"))
                        max_level = LOG_WARNING;
                else if (streq(lvl, "err") || streq(lvl, "error"))
                        max_level = LOG_ERR;
        }
}

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...) {
        char buf[2048];
        va_list ap;
        int saved = errno;

        if (error < 0)
                error = -error;
        if (level > max_level)
                return -error;

        /* "%m" must mean the error we were handed, not whatever errno happens to hold. */
        errno = error;
        va_start(ap, fmt);
        (void) vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);

        if (journal_prefix)
                fprintf(stderr, "<%d>%s\n", level, buf);
        else
                fprintf(stderr, "%s: %s\n", log_ident, buf);
        (void) file;
        (void) line;
        errno = saved;
        return -error;
}
