#include <limits.h>
#include <time.h>

#include "base/util.h"

int safe_atoi64(const char *s, long long min, long long max, long long *ret) {
        char *end;
        long long v;

        if (isempty(s))
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (*end != '\0' || end == s)
                return -EINVAL;
        if (errno == ERANGE || v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static unsigned long long clock_usec(clockid_t id) {
        struct timespec ts;
        (void) clock_gettime(id, &ts);
        return (unsigned long long) ts.tv_sec * 1000000ULL + (unsigned long long) ts.tv_nsec / 1000ULL;
}

unsigned long long now_usec(void) {
        return clock_usec(CLOCK_MONOTONIC);
}

unsigned long long realtime_usec(void) {
        return clock_usec(CLOCK_REALTIME);
}

int loop_write(int fd, const void *buf, size_t n) {
        const char *p = buf;
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}
