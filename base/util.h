/* Small helpers shared by every program: ownership via __attribute__((cleanup)),
 * the negative-errno convention, and string equality. Kept deliberately short. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f)    __attribute__((cleanup(f)))
#define _unused_        __attribute__((unused))
#define _printf_(a, b)  __attribute__((format(printf, a, b)))
#define _noreturn_      __attribute__((noreturn))
#define _likely_(x)     __builtin_expect(!!(x), 1)
#define _unlikely_(x)   __builtin_expect(!!(x), 0)
#define ELEMENTSOF(x)   (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b)       ((a) < (b) ? (a) : (b))
#define MAX(a, b)       ((a) > (b) ? (a) : (b))
#define streq(a, b)     (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)
#define STRLEN(s)       (sizeof(s) - 1)

/* Hands ownership out of a _cleanup_ variable: returns the value and resets the variable. */
#define TAKE_PTR(p)                                                                                         \
        ({                                                                                                  \
                __typeof__(p) _tp_ = (p);                                                                   \
                (p) = NULL;                                                                                 \
                _tp_;                                                                                       \
        })
#define TAKE_FD(fd)                                                                                         \
        ({                                                                                                  \
                int _tf_ = (fd);                                                                            \
                (fd) = -1;                                                                                  \
                _tf_;                                                                                       \
        })

/* Converts a libc "-1 and errno" return into our "-errno" one. */
#define RET_NERRNO(expr)                                                                                    \
        ({                                                                                                  \
                __typeof__(expr) _r_ = (expr);                                                              \
                _r_ < 0 ? -errno : _r_;                                                                     \
        })

static inline int negative_errno(void) {
        /* errno is never 0 after a failure we report; guard anyway so callers never see success. */
        return errno > 0 ? -errno : -EIO;
}

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -1;
}

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void strv_free(char **v) {
        if (!v)
                return;
        for (char **i = v; *i; i++)
                free(*i);
        free(v);
}
static inline void strv_freep(char ***v) {
        strv_free(*v);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)

static inline size_t strv_length(char *const *v) {
        size_t n = 0;
        if (v)
                while (v[n])
                        n++;
        return n;
}

static inline bool isempty(const char *s) {
        return !s || !*s;
}

/* Parses a decimal number into [min, max]; -EINVAL on junk, -ERANGE outside the range. */
int safe_atoi64(const char *s, long long min, long long max, long long *ret);

/* Monotonic and wall clocks in microseconds. */
unsigned long long now_usec(void);
unsigned long long realtime_usec(void);

/* Writes all of buf to fd, retrying on EINTR and short writes. */
int loop_write(int fd, const void *buf, size_t n);
