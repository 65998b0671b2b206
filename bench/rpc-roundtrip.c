/* Round-trip benchmark of the protocol stack: sys.health over one Unix connection to a
 * daemon built on daemon/daemon.c (left4me-testd), against the physical floor: a child that
 * echoes the same request bytes back over the same kind of socket. Prints requests/s,
 * p50/p99 latency for both and the ratio. Not a test: it asserts nothing about speed. */
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "base/util.h"
#include "proto/client.h"
#include "proto/rpc.h"

#define N_WARMUP 2000

static int cmp_u64(const void *a, const void *b) {
        unsigned long long x = *(const unsigned long long *) a, y = *(const unsigned long long *) b;
        return x < y ? -1 : x > y;
}

static void report(const char *what, unsigned long long *lat, int n, unsigned long long total_usec) {
        qsort(lat, (size_t) n, sizeof(*lat), cmp_u64);
        printf("%-28s %9.0f req/s   p50 %6.1f us   p99 %6.1f us\n", what, n / (total_usec / 1e6),
               (double) lat[n / 2], (double) lat[(n * 99) / 100]);
}

static double run_rpc(const char *path, int n, unsigned long long *lat) {
        struct rpc_client *c;
        struct rpc_error e;
        unsigned long long t0 = 0;
        int r = rpc_client_connect(path, 5000, &c);
        if (r < 0) {
                fprintf(stderr, "connect %s: %s\n", path, strerror(-r));
                exit(1);
        }
        for (int i = 0; i < N_WARMUP + n; i++) {
                struct rpc_reply rep;
                unsigned long long s = now_usec();
                if (i == N_WARMUP)
                        t0 = now_usec();
                r = rpc_client_call(c, "sys.health", NULL, 5000, NULL, NULL, &rep, &e);
                if (r < 0 || rep.failed) {
                        fprintf(stderr, "call failed: %s\n", e.message);
                        exit(1);
                }
                rpc_reply_done(&rep);
                if (i >= N_WARMUP)
                        lat[i - N_WARMUP] = now_usec() - s;
        }
        t0 = now_usec() - t0;
        rpc_client_free(c);
        return (double) t0;
}

/* The floor: write the request, read back as many bytes as the real reply has. */
static double run_echo(size_t req_len, size_t reply_len, int n, unsigned long long *lat) {
        int sv[2];
        pid_t pid;
        char req[256], buf[4096];
        unsigned long long t0 = 0;

        memset(req, 0x90, sizeof(req));
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                exit(1);
        pid = fork();
        if (pid == 0) {
                /* Echo server: answer each request with reply_len bytes, like the daemon would. */
                char rbuf[4096], out[4096];
                memset(out, 0x90, sizeof(out));
                close(sv[0]);
                for (;;) {
                        size_t got = 0;
                        while (got < req_len) {
                                ssize_t k = read(sv[1], rbuf, req_len - got);
                                if (k <= 0)
                                        _exit(0);
                                got += (size_t) k;
                        }
                        if (loop_write(sv[1], out, reply_len) < 0)
                                _exit(0);
                }
        }
        close(sv[1]);
        for (int i = 0; i < N_WARMUP + n; i++) {
                unsigned long long s = now_usec();
                size_t got = 0;
                if (i == N_WARMUP)
                        t0 = now_usec();
                (void) loop_write(sv[0], req, req_len);
                while (got < reply_len) {
                        ssize_t k = read(sv[0], buf, reply_len - got);
                        if (k <= 0)
                                exit(1);
                        got += (size_t) k;
                }
                if (i >= N_WARMUP)
                        lat[i - N_WARMUP] = now_usec() - s;
        }
        t0 = now_usec() - t0;
        close(sv[0]);
        waitpid(pid, NULL, 0);
        return (double) t0;
}

int main(int argc, char **argv) {
        const char *daemon = argc > 1 ? argv[1] : "build/left4me-testd";
        long long n_arg = 20000;
        int n;
        char dir[] = "/tmp/l4m-bench-XXXXXX", path[128];
        unsigned long long *lat;
        double t_rpc, t_echo;
        struct rpc_buf req;
        pid_t pid;

        if (argc > 2 && safe_atoi64(argv[2], 100, 10000000, &n_arg) < 0) {
                fprintf(stderr, "usage: %s DAEMON [N]\n", argv[0]);
                return 2;
        }
        n = (int) n_arg;
        lat = calloc((size_t) n, sizeof(*lat));
        if (!lat || !mkdtemp(dir))
                return 1;
        snprintf(path, sizeof(path), "%s/bench.sock", dir);
        pid = fork();
        if (pid == 0) {
                execl(daemon, daemon, "--listen", path, "--idle-exit", "0", "--config", "/dev/null",
                      (char *) NULL);
                _exit(127);
        }
        for (int i = 0; i < 500 && access(path, F_OK) < 0; i++)
                usleep(10000);

        printf("sys.health round trips over one AF_UNIX connection, %d requests after %d warm-up\n", n,
               N_WARMUP);
        t_rpc = run_rpc(path, n, lat);
        report("left4me rpc (sys.health)", lat, n, (unsigned long long) t_rpc);

        /* Same sizes as the real exchange: a request with empty params and a ~110-byte reply. */
        rpc_buf_init(&req, 0);
        rpc_pack_request_head(&req.pk, 1, "sys.health");
        (void) msgpack_pack_array(&req.pk, 0);
        t_echo = run_echo(req.len, 110, n, lat);
        report("raw socket echo (floor)", lat, n, (unsigned long long) t_echo);
        printf("ratio: left4me rpc takes %.2fx the time of the raw echo per round trip\n", t_rpc / t_echo);

        rpc_buf_done(&req);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        unlink(path);
        rmdir(dir);
        free(lat);
        return 0;
}
