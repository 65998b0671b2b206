/* Concurrent jobs.submit load for bench/jobs-bench-socket.py: C submitters, so the figure
 * is jobd's and not a Python client's. Forks CONCURRENCY children; each opens its own
 * connection to jobs.sock and submits its share of N server.stop jobs one at a time (each
 * waits for its acknowledgement: a submitter that pipelined would not be a user). A job's
 * acknowledgement is jobd's promise that it is durable; the caller checks the count in the
 * database afterwards.
 *
 * Prints one line: "<jobs/s> <p50 us> <p99 us> <max us> <failed>". Usage:
 *   jobs-submit-load SOCKET CONCURRENCY N [TAG]   (TAG makes server names unique per run) */
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "base/util.h"
#include "proto/client.h"
#include "proto/rpc.h"

static int cmp_u64(const void *a, const void *b) {
        unsigned long long x = *(const unsigned long long *) a, y = *(const unsigned long long *) b;
        return x < y ? -1 : x > y;
}

/* One submitter: n submits on one connection; latencies into lat, failures counted. */
static int submitter(const char *path, int worker, int n, const char *tag, unsigned long long *lat) {
        struct rpc_client *c;
        struct rpc_error e;
        int r, failed = 0;

        r = rpc_client_connect(path, 5000, &c);
        if (r < 0) {
                fprintf(stderr, "connect %s: %s\n", path, strerror(-r));
                return n;
        }
        for (int i = 0; i < n; i++) {
                char server[64];
                struct rpc_reply rep;
                struct rpc_buf p;
                unsigned long long s;

                snprintf(server, sizeof(server), "%s-%d-%d", tag, worker, i);
                rpc_buf_init(&p, 0);
                rpc_pack_params_map(&p.pk, 3);
                rpc_pack_kv_str(&p.pk, "kind", "server.stop");
                rpc_pack_kv_str(&p.pk, "owner", "bench");
                rpc_pack_key(&p.pk, "payload");
                msgpack_pack_map(&p.pk, 1);
                rpc_pack_kv_str(&p.pk, "server", server);
                s = now_usec();
                r = rpc_client_call(c, "jobs.submit", &p, 30000, NULL, NULL, &rep, &e);
                lat[i] = now_usec() - s;
                rpc_buf_done(&p);
                if (r < 0) {
                        fprintf(stderr, "submit: %s\n", e.message);
                        failed += n - i;
                        break;
                }
                if (rep.failed) {
                        fprintf(stderr, "submit failed: %s\n", rep.error.message);
                        failed++;
                }
                rpc_reply_done(&rep);
        }
        rpc_client_free(c);
        return failed;
}

int main(int argc, char **argv) {
        long long conc, n;
        unsigned long long *lat, t0, dt;
        const char *tag = argc > 4 ? argv[4] : "b";
        int per, failed = 0, status;

        if (argc < 4 || safe_atoi64(argv[2], 1, 256, &conc) < 0 ||
            safe_atoi64(argv[3], 1, 10000000, &n) < 0) {
                fprintf(stderr, "usage: %s SOCKET CONCURRENCY N [TAG]\n", argv[0]);
                return 2;
        }
        per = (int) (n / conc);
        n = per * conc;
        /* Shared with the children: each writes its own slice. */
        lat = mmap(NULL, (size_t) n * sizeof(*lat), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
                   0);
        if (lat == MAP_FAILED)
                return 1;
        t0 = now_usec();
        for (int w = 0; w < conc; w++) {
                pid_t pid = fork();
                if (pid < 0)
                        return 1;
                if (pid == 0) {
                        int f = submitter(argv[1], w, per, tag, lat + (size_t) w * per);
                        _exit(MIN(f, 255)); /* MIN evaluates its arguments twice */
                }
        }
        while (wait(&status) > 0)
                failed += WIFEXITED(status) ? WEXITSTATUS(status) : per;
        dt = now_usec() - t0;
        qsort(lat, (size_t) n, sizeof(*lat), cmp_u64);
        printf("%.0f %llu %llu %llu %d\n", (double) n / ((double) dt / 1e6), lat[n / 2], lat[(n * 99) / 100],
               lat[n - 1], failed);
        return failed ? 1 : 0;
}
