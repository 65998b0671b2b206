/* Streams a folder through webd_zip_next (svc-web/webd-zip.c) the way webd does, one slice
 * of `cap` bytes at a time, and prints the archive's size, the time, MB/s and the longest
 * single call (what one download can hold webd's loop for). The bytes go to /dev/null or,
 * with a third argument, to that file (to check it). bench/zip.sh runs it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "svc-web/webd-zip.h"

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
        struct webd_zip *z = NULL;
        unsigned long long total = 0, calls = 0;
        double t0, worst = 0;
        size_t cap;
        char *buf;
        ssize_t n;
        int fd, out, r;

        if (argc < 3) {
                fprintf(stderr, "usage: %s DIR SLICE_BYTES [OUT.zip]\n", argv[0]);
                return 2;
        }
        cap = strtoul(argv[2], NULL, 10);
        buf = malloc(cap);
        fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        out = open(argc > 3 ? argv[3] : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (!buf || cap == 0 || fd < 0 || out < 0) {
                fprintf(stderr, "zip-bench: %s\n", strerror(errno));
                return 1;
        }
        t0 = now();
        r = webd_zip_new(fd, "tree", &z);
        if (r < 0) {
                fprintf(stderr, "webd_zip_new: %s\n", strerror(-r));
                return 1;
        }
        for (;;) {
                double t = now();

                n = webd_zip_next(z, buf, cap);
                t = now() - t;
                worst = t > worst ? t : worst;
                if (n <= 0)
                        break;
                calls++;
                total += (unsigned long long) n;
                if (write(out, buf, (size_t) n) != n) {
                        fprintf(stderr, "write: %s\n", strerror(errno));
                        return 1;
                }
        }
        if (n < 0) {
                fprintf(stderr, "webd_zip_next: %s\n", strerror((int) -n));
                return 1;
        }
        t0 = now() - t0;
        printf("%llu bytes in %llu slices, %.2f s, %.0f MB/s, longest call %.2f ms, skipped %u\n", total,
               calls, t0, (double) total / t0 / 1e6, worst * 1e3, webd_zip_skipped(z));
        webd_zip_free(z);
        close(out);
        free(buf);
        return 0;
}
