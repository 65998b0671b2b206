/* The SSE generator inside a real h2o context, over a socketpair: a client that stops
 * reading must not make webd buffer without bound; events past the per-stream cap are
 * dropped and counted, and the client is told with one "overflow" event once it reads
 * again. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "svc-web/webd-auth.h"
#include "svc-web/webd-db.h"
#include "svc-web/webd-http.h"
#include "svc-web/webd.h"

static struct webd w;
static struct l4m_config config;
static int client = -1;

static void run_loop(int iterations) {
        for (int i = 0; i < iterations; i++)
                (void) h2o_evloop_run(w.loop, 1);
}

/* Event streams are for logged-in users: a web.db with one user and one session, whose
 * cookie the request carries. */
static char db_dir[] = "/tmp/test-sse-XXXXXX";

static void make_session(char cookie[AUTH_SESSION_COOKIE_LEN + 1]) {
        char *dir = db_dir, path[64];
        char csrf[AUTH_CSRF_LEN + 1];
        int64_t uid;
        uint64_t now = realtime_usec();
        struct webd_session s = {.csrf = csrf,
                                 .created_usec = (int64_t) now,
                                 .last_seen_usec = (int64_t) now,
                                 .idle_expires_usec = (int64_t) now + 3600000000,
                                 .absolute_expires_usec = (int64_t) now + 3600000000,
                                 .address = (char *) "test",
                                 .user_agent = (char *) "test"};

        cr_assert_eq(auth_init(), 0);
        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/web.db", dir);
        cr_assert_eq(webd_db_open(path, &w.db), 0);
        cr_assert_eq(webd_db_user_create(w.db, "alice", "$argon2id$v=19$m=19456,t=2,p=1$x$y", false, false,
                                         (int64_t) now, NULL, &uid),
                     0);
        cr_assert_eq(auth_session_new(cookie, s.id_hash), 0);
        auth_csrf_new(csrf);
        s.user_id = uid;
        cr_assert_eq(webd_db_session_create(w.db, &s), 0);
}

static void setup(void) {
        int sv[2], small = 4096;
        h2o_socket_t *sock;
        char cookie[AUTH_SESSION_COOKIE_LEN + 1], req[256];

        memset(&w, 0, sizeof(w));
        make_session(cookie);
        snprintf(req, sizeof(req), "GET /events HTTP/1.1\r\nHost: test\r\nCookie: __Host-left4me=%s\r\n\r\n",
                 cookie);
        cr_assert_eq(config_init_defaults(&config), 0);
        w.config = &config;
        w.web_dir = (char *) "/nonexistent";
        w.loop = h2o_evloop_create();
        cr_assert_eq(webd_http_init(&w), 0);

        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        /* Small kernel buffers so that backpressure reaches the stream quickly. */
        (void) setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
        (void) setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
        sock = h2o_evloop_socket_create(w.loop, sv[0], 0);
        h2o_accept(&w.accept_ctx, sock);
        client = sv[1];
        cr_assert_eq(write(client, req, strlen(req)), (ssize_t) strlen(req));
        for (int i = 0; i < 200 && w.sse.n_streams == 0; i++)
                run_loop(1);
        cr_assert_eq(w.sse.n_streams, 1, "the /events stream did not start");
}

/* Each test runs in a process of its own (Criterion): the database goes with it. */
static void teardown(void) {
        char p[96];

        w.db = webd_db_close(w.db);
        for (const char *const *x = (const char *const[]){"", "-wal", "-shm", NULL}; *x; x++) {
                snprintf(p, sizeof(p), "%s/web.db%s", db_dir, *x);
                (void) unlink(p);
        }
        (void) rmdir(db_dir);
}

TestSuite(sse_stream, .init = setup, .fini = teardown, .timeout = 20);

Test(sse_stream, slow_client_is_capped_and_told) {
        char payload[1024], buf[65536];
        unsigned long long published = 0;
        size_t got = 0;
        bool overflow = false, hello = false;
        char tail[256] = "";

        memset(payload, 'x', sizeof(payload));
        /* 4 MiB of events at a client that reads nothing. */
        for (int i = 0; i < 4096; i++) {
                published += sse_hub_publish(&w.sse, "sys", NULL, "line", payload, sizeof(payload));
                if (i % 64 == 0)
                        run_loop(1);
        }
        run_loop(5);
        cr_assert_gt(w.sse.events_dropped, 0, "nothing was dropped: the stream buffers without bound");
        cr_assert_lt(published, 4096, "every event was accepted");
        cr_assert_eq(w.sse.n_streams, 1, "the slow stream was dropped instead of capped");

        /* Now the client reads everything; the overflow notice must arrive. */
        (void) fcntl(client, F_SETFL, O_NONBLOCK);
        for (int i = 0; i < 2000 && !overflow; i++) {
                ssize_t n;

                run_loop(1);
                while ((n = read(client, buf, sizeof(buf) - 1)) > 0) {
                        size_t tl = strlen(tail);

                        buf[n] = '\0';
                        got += (size_t) n;
                        if (strstr(buf, "event: hello"))
                                hello = true;
                        /* Search across read boundaries: keep a short tail. */
                        if (strstr(buf, "event: overflow\ndata: {\"dropped\":") ||
                            strstr(tail, "event: overflow")) {
                                overflow = true;
                                break;
                        }
                        if (n >= 200) {
                                memcpy(tail, buf + n - 200, 200);
                                tail[200] = '\0';
                        } else if (tl + (size_t) n < sizeof(tail)) {
                                memcpy(tail + tl, buf, (size_t) n + 1);
                        } else {
                                memcpy(tail, buf, (size_t) n + 1);
                        }
                }
        }
        cr_assert(hello, "no hello event");
        cr_assert(overflow, "no overflow event after %zu bytes", got);
        /* What reached the client is bounded by the cap plus what sat in kernel buffers. */
        cr_assert_lt(got, (size_t) SSE_DEFAULT_MAX_PENDING * 2 + 256 * 1024, "read %zu bytes", got);
}
