/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of svc-host/a2s.c: request bytes against the Valve Developer Wiki
 * "Server queries" page, replies decoded field by field, every truncation and
 * every single-bit flip of valid replies (each parse gets a heap buffer of
 * exactly the packet's length, so `make asan` catches any over-read), the
 * player cap, and the blocking query helper against a scripted UDP peer.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/a2s.h"

/* ---- requests ----------------------------------------------------------------- */

/* Wiki: "FF FF FF FF 54 53 6F 75 72 63 65 20 45 6E 67 69 6E 65 20 51 75 65 72 79 00" */
static const uint8_t wiki_info_request[] = {
        0xFF, 0xFF, 0xFF, 0xFF, 0x54, 0x53, 0x6F, 0x75, 0x72, 0x63, 0x65, 0x20, 0x45,
        0x6E, 0x67, 0x69, 0x6E, 0x65, 0x20, 0x51, 0x75, 0x65, 0x72, 0x79, 0x00,
};

Test(a2s_request, info_without_challenge) {
        uint8_t buf[64];
        int n = a2s_build_info_request(buf, sizeof(buf), false, 0);

        cr_assert_eq(n, 25);
        cr_assert_eq(memcmp(buf, wiki_info_request, sizeof(wiki_info_request)), 0);
}

Test(a2s_request, info_with_challenge) {
        uint8_t buf[64], want[29];
        int n = a2s_build_info_request(buf, sizeof(buf), true, 0x4A0B0C0Du);

        memcpy(want, wiki_info_request, 25);
        want[25] = 0x0D; /* little-endian */
        want[26] = 0x0C;
        want[27] = 0x0B;
        want[28] = 0x4A;
        cr_assert_eq(n, 29);
        cr_assert_eq(memcmp(buf, want, sizeof(want)), 0);
}

Test(a2s_request, player) {
        static const uint8_t ask[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x55, 0xFF, 0xFF, 0xFF, 0xFF};
        static const uint8_t with[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x55, 0x4B, 0xA1, 0xD5, 0x22};
        uint8_t buf[16];

        cr_assert_eq(a2s_build_player_request(buf, sizeof(buf), A2S_CHALLENGE_ASK), 9);
        cr_assert_eq(memcmp(buf, ask, sizeof(ask)), 0);
        cr_assert_eq(a2s_build_player_request(buf, sizeof(buf), 0x22D5A14Bu), 9);
        cr_assert_eq(memcmp(buf, with, sizeof(with)), 0);
}

Test(a2s_request, short_buffers) {
        uint8_t buf[64];

        cr_assert_eq(a2s_build_info_request(buf, 24, false, 0), -ENOBUFS);
        cr_assert_eq(a2s_build_info_request(buf, 28, true, 1), -ENOBUFS);
        cr_assert_eq(a2s_build_info_request(buf, 25, false, 0), 25);
        cr_assert_eq(a2s_build_info_request(NULL, 64, false, 0), -ENOBUFS);
        cr_assert_eq(a2s_build_player_request(buf, 8, 1), -ENOBUFS);
}

/* ---- replies ------------------------------------------------------------------ */

/* A copy of p in a heap block of exactly n bytes: any read past it is an ASan error. */
static uint8_t *exact(const void *p, size_t n) {
        uint8_t *b = malloc(n ? n : 1);

        cr_assert_not_null(b);
        if (n)
                memcpy(b, p, n);
        return b;
}

static int parse_info_exact(const void *p, size_t n, struct a2s_info *info) {
        uint8_t *b = exact(p, n);
        int r = a2s_parse_info(b, n, info);

        free(b);
        return r;
}

static int parse_player_exact(const void *p, size_t n, struct a2s_player *pl, size_t max, size_t *count,
                              size_t *total) {
        uint8_t *b = exact(p, n);
        int r = a2s_parse_player(b, n, pl, max, count, total);

        free(b);
        return r;
}

/*
 * An L4D2 dedicated server's INFO reply, byte by byte (the layout srcds sends:
 * protocol 17, EDF 0xB1 = port + SteamID + keywords + GameID).
 */
static const uint8_t l4d2_info[] = {
        0xFF, 0xFF, 0xFF, 0xFF, 'I',  17,   'L',  'e',  'f', 't', '4', 'M', 'e', ' ', '#', '1', 0, /* name */
        'c',  '1',  'm',  '1',  '_',  'h',  'o',  't',  'e', 'l', 0,                               /* map */
        'l',  'e',  'f',  't',  '4',  'd',  'e',  'a',  'd', '2', 0,                /* folder */
        'L',  'e',  'f',  't',  ' ',  '4',  ' ',  'D',  'e', 'a', 'd', ' ', '2', 0, /* game */
        0x26, 0x02,                                                                 /* appid 550 */
        3,    8,    1,                                                              /* players, max, bots */
        'd',  'l',  0,    1,                                              /* type, env, visibility, vac */
        '2',  '.',  '2',  '.',  '4',  '.',  '3',  0,                      /* version */
        0xB1,                                                             /* EDF */
        0x87, 0x69,                                                       /* port 27015 */
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x01,                   /* SteamID */
        'c',  'o',  'o',  'p',  ',',  's',  'e',  'c',  'u', 'r', 'e', 0, /* keywords */
        0x26, 0x02, 0,    0,    0,    0,    0,    0,                      /* GameID 550 */
};
#define L4D2_INFO_VERSION_END 70 /* offset just past the version's NUL */

Test(a2s_info, l4d2_reply) {
        struct a2s_info info;

        cr_assert_eq(parse_info_exact(l4d2_info, sizeof(l4d2_info), &info), 0);
        cr_assert_eq(info.protocol, 17);
        cr_assert_str_eq(info.name, "Left4Me #1");
        cr_assert_str_eq(info.map, "c1m1_hotel");
        cr_assert_str_eq(info.folder, "left4dead2");
        cr_assert_str_eq(info.game, "Left 4 Dead 2");
        cr_assert_eq(info.appid, 550);
        cr_assert_eq(info.players, 3);
        cr_assert_eq(info.max_players, 8);
        cr_assert_eq(info.bots, 1);
        cr_assert_eq(info.server_type, 'd');
        cr_assert_eq(info.environment, 'l');
        cr_assert_eq(info.visibility, 0);
        cr_assert_eq(info.vac, 1);
        cr_assert_str_eq(info.version, "2.2.4.3");
        cr_assert_eq(info.edf, 0xB1);
        cr_assert_eq(info.port, 27015);
        cr_assert_eq(info.steamid, 0x0140000000000001ull);
        cr_assert_str_eq(info.keywords, "coop,secure");
        cr_assert_eq(info.gameid, 550);
        cr_assert_eq(info.sourcetv_port, 0);
        cr_assert(!info.truncated);
        cr_assert_eq(l4d2_info[L4D2_INFO_VERSION_END - 1], 0);
        cr_assert_eq(l4d2_info[L4D2_INFO_VERSION_END], 0xB1);
}

Test(a2s_info, sourcetv_and_trailing_bytes) {
        static const uint8_t p[] =
                {
                        0xFF, 0xFF, 0xFF, 0xFF, 'I',  17,   'n', 0,   'm', 0,   'f',
                        0,    'g',  0,    0x26, 0x02, 0,    4,   0,   'd', 'w', 1,
                        0,    'v',  0,    0x40, 0x90, 0x69, 'S', 'T', 'V', 0, /* SourceTV port 27024, name */
                        0xAA, 0xBB,                                           /* trailing junk: ignored */
                };
        struct a2s_info info;

        cr_assert_eq(parse_info_exact(p, sizeof(p), &info), 0);
        cr_assert_eq(info.edf, 0x40);
        cr_assert_eq(info.sourcetv_port, 27024);
        cr_assert_str_eq(info.sourcetv_name, "STV");
        cr_assert_eq(info.environment, 'w');
        cr_assert_eq(info.visibility, 1);
}

Test(a2s_info, no_edf_byte) {
        struct a2s_info info;

        cr_assert_eq(parse_info_exact(l4d2_info, L4D2_INFO_VERSION_END, &info), 0);
        cr_assert_eq(info.edf, 0);
        cr_assert_str_eq(info.version, "2.2.4.3");
}

Test(a2s_info, every_truncation_is_refused) {
        for (size_t n = 0; n < sizeof(l4d2_info); n++) {
                struct a2s_info info;
                int r = parse_info_exact(l4d2_info, n, &info);

                if (n == L4D2_INFO_VERSION_END)
                        cr_assert_eq(r, 0, "length %zu", n);
                else
                        cr_assert_eq(r, -EBADMSG, "length %zu gave %d", n, r);
        }
}

Test(a2s_info, bit_flips_never_crash) {
        uint8_t p[sizeof(l4d2_info)];

        for (size_t i = 0; i < sizeof(l4d2_info); i++)
                for (unsigned bit = 0; bit < 8; bit++) {
                        struct a2s_info info;
                        int r;

                        memcpy(p, l4d2_info, sizeof(p));
                        p[i] ^= (uint8_t) (1u << bit);
                        r = parse_info_exact(p, sizeof(p), &info);
                        cr_assert(r == 0 || r == -EBADMSG || r == -ENOMSG || r == -EMSGSIZE,
                                  "byte %zu bit %u gave %d", i, bit, r);
                        if (r == 0) {
                                cr_assert_lt(strlen(info.name), A2S_STRING_MAX);
                                cr_assert_lt(strlen(info.keywords), A2S_STRING_MAX);
                        }
                }
}

Test(a2s_info, random_garbage_never_crashes) {
        uint32_t x = 12345;

        for (unsigned round = 0; round < 20000; round++) {
                uint8_t p[200];
                size_t n;
                struct a2s_info info;
                struct a2s_player pl[4];
                size_t count;

                for (size_t i = 0; i < sizeof(p); i++) {
                        x = x * 1103515245u + 12345u;
                        p[i] = (uint8_t) (x >> 16);
                        if (i < 4)
                                p[i] = 0xFF; /* keep the header valid most of the time */
                }
                if (round % 3 == 0)
                        p[4] = 'I';
                else if (round % 3 == 1)
                        p[4] = 'D';
                n = (x >> 8) % sizeof(p);
                (void) parse_info_exact(p, n, &info);
                (void) parse_player_exact(p, n, pl, 4, &count, NULL);
        }
}

Test(a2s_info, wrong_type_and_headers) {
        static const uint8_t challenge[] = {0xFF, 0xFF, 0xFF, 0xFF, 'A', 1, 2, 3, 4};
        static const uint8_t split[] = {0xFE, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x00,
                                        0x00, 2,    0,    0xE0, 0x04, 0xFF};
        static const uint8_t bad_header[] = {0x00, 0xFF, 0xFF, 0xFF, 'I', 17, 0};
        static const uint8_t goldsrc[] = {0xFF, 0xFF, 0xFF, 0xFF, 'm', '1', 0};
        struct a2s_info info;

        cr_assert_eq(parse_info_exact(challenge, sizeof(challenge), &info), -ENOMSG);
        cr_assert_eq(parse_info_exact(split, sizeof(split), &info), -EMSGSIZE);
        cr_assert_eq(parse_info_exact(bad_header, sizeof(bad_header), &info), -EBADMSG);
        cr_assert_eq(parse_info_exact(goldsrc, sizeof(goldsrc), &info), -ENOMSG);
        cr_assert_eq(a2s_parse_info(l4d2_info, sizeof(l4d2_info), NULL), -EINVAL);
        cr_assert_eq(a2s_parse_info(NULL, 10, &info), -EBADMSG);
}

Test(a2s_info, output_untouched_on_failure) {
        struct a2s_info info;

        memset(&info, 0x5A, sizeof(info));
        cr_assert_eq(parse_info_exact(l4d2_info, sizeof(l4d2_info) - 1, &info), -EBADMSG);
        cr_assert_eq(info.protocol, 0x5A);
}

Test(a2s_info, long_strings_are_cut_on_utf8_boundaries) {
        uint8_t p[1400];
        size_t n = 0;
        struct a2s_info info;

        memcpy(p,
               "\xFF\xFF\xFF\xFF"
               "I\x11",
               6);
        n = 6;
        /* name: 254 ASCII bytes, then a 3-byte UTF-8 character (U+20AC) that
         * would straddle the 255-byte limit, then more. */
        memset(p + n, 'x', 254);
        n += 254;
        memcpy(p + n,
               "\xE2\x82\xAC"
               "tail",
               7);
        n += 7;
        p[n++] = 0;
        memcpy(p + n,
               "m\0f\0g\0\x26\x02\x01\x04\x00"
               "dl\x00\x01"
               "v\0",
               17);
        n += 17;

        cr_assert_eq(parse_info_exact(p, n, &info), 0);
        cr_assert(info.truncated);
        cr_assert_eq(strlen(info.name), 254);
        cr_assert_str_eq(info.map, "m");
        cr_assert_str_eq(info.version, "v");
        cr_assert_eq(info.players, 1);
}

/* ---- challenge ------------------------------------------------------------- */

Test(a2s_challenge, parse) {
        static const uint8_t p[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x41, 0x4B, 0xA1, 0xD5, 0x22};
        uint32_t c = 0;

        cr_assert_eq(a2s_reply_type(p, sizeof(p)), 'A');
        cr_assert_eq(a2s_parse_challenge(p, sizeof(p), &c), 0);
        cr_assert_eq(c, 0x22D5A14Bu);
        for (size_t n = 0; n < sizeof(p); n++) {
                uint8_t *b = exact(p, n);

                cr_assert_eq(a2s_parse_challenge(b, n, &c), -EBADMSG, "length %zu", n);
                free(b);
        }
        cr_assert_eq(a2s_parse_challenge(l4d2_info, sizeof(l4d2_info), &c), -ENOMSG);
}

Test(a2s_challenge, reply_type) {
        static const uint8_t split[] = {0xFE, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 1, 0};

        cr_assert_eq(a2s_reply_type(l4d2_info, sizeof(l4d2_info)), 'I');
        cr_assert_eq(a2s_reply_type(split, sizeof(split)), -EMSGSIZE);
        cr_assert_eq(a2s_reply_type(l4d2_info, 4), -EBADMSG);
        cr_assert_eq(a2s_reply_type(NULL, 0), -EBADMSG);
}

/* ---- players ----------------------------------------------------------------- */

static const uint8_t l4d2_players[] = {
        0xFF, 0xFF, 0xFF, 0xFF, 'D',  3,   0,    'C',  'o',  'a',  'c',  'h',  0,    0x05, 0,    0,
        0,    0x00, 0x00, 0x48, 0x41, /* 5, 12.5 s */
        0,    'E',  'l',  'l',  'i',  's', 0,    0xFE, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x80, 0x3F, /* -2, 1.0 s
                                                                                                  */
        1,    0,    0,    0,    0,    0,   0x00, 0x00, 0x00, 0x00, /* empty name */
};

Test(a2s_player, parse) {
        struct a2s_player pl[8];
        size_t count = 0, total = 0;

        cr_assert_eq(parse_player_exact(l4d2_players, sizeof(l4d2_players), pl, 8, &count, &total), 0);
        cr_assert_eq(count, 3);
        cr_assert_eq(total, 3);
        cr_assert_str_eq(pl[0].name, "Coach");
        cr_assert_eq(pl[0].score, 5);
        cr_assert_float_eq(pl[0].duration, 12.5f, 1e-6);
        cr_assert_str_eq(pl[1].name, "Ellis");
        cr_assert_eq(pl[1].score, -2);
        cr_assert_float_eq(pl[1].duration, 1.0f, 1e-6);
        cr_assert_str_eq(pl[2].name, "");
        cr_assert_eq(pl[2].index, 1);
}

Test(a2s_player, cap_is_honoured) {
        struct a2s_player pl[3];
        size_t count = 99, total = 0;

        memset(pl, 0x5A, sizeof(pl));
        cr_assert_eq(parse_player_exact(l4d2_players, sizeof(l4d2_players), pl, 2, &count, &total), 0);
        cr_assert_eq(count, 2);
        cr_assert_eq(total, 3);
        cr_assert_str_eq(pl[1].name, "Ellis");
        cr_assert_eq(pl[2].index, 0x5A, "wrote past the cap");

        cr_assert_eq(parse_player_exact(l4d2_players, sizeof(l4d2_players), NULL, 0, &count, &total), 0);
        cr_assert_eq(count, 0);
        cr_assert_eq(total, 3);
        cr_assert_eq(a2s_parse_player(l4d2_players, sizeof(l4d2_players), NULL, 1, &count, NULL), -EINVAL);
        cr_assert_eq(a2s_parse_player(l4d2_players, sizeof(l4d2_players), pl, 1, NULL, NULL), -EINVAL);
}

Test(a2s_player, empty_list) {
        static const uint8_t p[] = {0xFF, 0xFF, 0xFF, 0xFF, 'D', 0};
        size_t count = 9, total = 9;

        cr_assert_eq(parse_player_exact(p, sizeof(p), NULL, 0, &count, &total), 0);
        cr_assert_eq(count, 0);
        cr_assert_eq(total, 0);
}

Test(a2s_player, every_truncation_is_refused) {
        struct a2s_player pl[8];
        size_t count, total;

        for (size_t n = 0; n < sizeof(l4d2_players); n++)
                cr_assert_eq(parse_player_exact(l4d2_players, n, pl, 8, &count, &total), -EBADMSG,
                             "length %zu", n);
}

Test(a2s_player, bit_flips_never_crash) {
        uint8_t p[sizeof(l4d2_players)];

        for (size_t i = 0; i < sizeof(p); i++)
                for (unsigned bit = 0; bit < 8; bit++) {
                        struct a2s_player pl[2];
                        size_t count = 0, total = 0;
                        int r;

                        memcpy(p, l4d2_players, sizeof(p));
                        p[i] ^= (uint8_t) (1u << bit);
                        r = parse_player_exact(p, sizeof(p), pl, 2, &count, &total);
                        cr_assert(r == 0 || r == -EBADMSG || r == -ENOMSG || r == -EMSGSIZE,
                                  "byte %zu bit %u gave %d", i, bit, r);
                        if (r == 0)
                                cr_assert_leq(count, 2);
                }
}

/* ---- the blocking helper against a scripted peer ---------------------------- */

enum peer_mode {
        PEER_CHALLENGE,        /* challenge first, then answer (L4D2's default) */
        PEER_LEGACY,           /* answer the 25-byte request directly */
        PEER_ALWAYS_CHALLENGE, /* never satisfied */
        PEER_SILENT,           /* never answers */
        PEER_SPLIT,            /* answers with a split packet */
};

static pid_t peer_pid;

/* Forks a UDP responder on 127.0.0.1; returns its port. */
static uint16_t start_peer(enum peer_mode mode) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_DGRAM, 0);

        cr_assert_geq(fd, 0);
        cr_assert_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        cr_assert_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);

        peer_pid = fork();
        cr_assert_geq(peer_pid, 0);
        if (peer_pid == 0) {
                static const uint8_t challenge[] = {0xFF, 0xFF, 0xFF, 0xFF, 'A', 0x78, 0x56, 0x34, 0x12};
                static const uint8_t split[] = {0xFE, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0, 2, 0, 0xE0, 0x04};

                for (;;) {
                        struct sockaddr_in from;
                        socklen_t flen = sizeof(from);
                        uint8_t buf[64];
                        ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *) &from, &flen);
                        const void *reply = NULL;
                        size_t rlen = 0;
                        bool has = n == 29 && memcmp(buf + 25, challenge + 5, 4) == 0;
                        bool player_ok = n == 9 && buf[4] == 'U' && memcmp(buf + 5, challenge + 5, 4) == 0;

                        if (n < 0)
                                _exit(1);
                        switch (mode) {
                        case PEER_SILENT:
                                continue;
                        case PEER_SPLIT:
                                reply = split, rlen = sizeof(split);
                                break;
                        case PEER_ALWAYS_CHALLENGE:
                                reply = challenge, rlen = sizeof(challenge);
                                break;
                        case PEER_LEGACY:
                        case PEER_CHALLENGE:
                                if (buf[4] == 'U')
                                        reply = player_ok ? (const void *) l4d2_players : challenge,
                                        rlen = player_ok ? sizeof(l4d2_players) : sizeof(challenge);
                                else if (mode == PEER_LEGACY || has)
                                        reply = l4d2_info, rlen = sizeof(l4d2_info);
                                else
                                        reply = challenge, rlen = sizeof(challenge);
                                break;
                        }
                        (void) sendto(fd, reply, rlen, 0, (struct sockaddr *) &from, flen);
                }
        }
        close(fd);
        return ntohs(sa.sin_port);
}

static void stop_peer(void) {
        if (peer_pid > 0) {
                kill(peer_pid, SIGKILL);
                waitpid(peer_pid, NULL, 0);
                peer_pid = 0;
        }
}

Test(a2s_query, challenge_round, .fini = stop_peer) {
        struct a2s_info info;

        cr_assert_eq(a2s_query_info("127.0.0.1", start_peer(PEER_CHALLENGE), 2000, &info), 0);
        cr_assert_str_eq(info.map, "c1m1_hotel");
        cr_assert_eq(info.appid, 550);
}

Test(a2s_query, legacy_server, .fini = stop_peer) {
        struct a2s_info info;

        cr_assert_eq(a2s_query_info("127.0.0.1", start_peer(PEER_LEGACY), 2000, &info), 0);
        cr_assert_str_eq(info.name, "Left4Me #1");
}

Test(a2s_query, players_with_cap, .fini = stop_peer) {
        struct a2s_player pl[2];
        size_t count = 0, total = 0;

        cr_assert_eq(a2s_query_players("127.0.0.1", start_peer(PEER_CHALLENGE), 2000, pl, 2, &count, &total),
                     0);
        cr_assert_eq(count, 2);
        cr_assert_eq(total, 3);
        cr_assert_str_eq(pl[0].name, "Coach");
}

Test(a2s_query, endless_challenges, .fini = stop_peer) {
        struct a2s_info info;

        cr_assert_eq(a2s_query_info("127.0.0.1", start_peer(PEER_ALWAYS_CHALLENGE), 2000, &info), -EPROTO);
}

Test(a2s_query, timeout, .fini = stop_peer) {
        struct a2s_info info;

        cr_assert_eq(a2s_query_info("127.0.0.1", start_peer(PEER_SILENT), 200, &info), -ETIMEDOUT);
}

Test(a2s_query, split_refused, .fini = stop_peer) {
        struct a2s_info info;

        cr_assert_eq(a2s_query_info("127.0.0.1", start_peer(PEER_SPLIT), 2000, &info), -EMSGSIZE);
}

Test(a2s_query, nothing_listening) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sa);
        struct a2s_info info;
        int fd = socket(AF_INET, SOCK_DGRAM, 0);

        /* Find a free port, then close it: the kernel answers port-unreachable. */
        cr_assert_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        cr_assert_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        close(fd);
        cr_assert_eq(a2s_query_info("127.0.0.1", ntohs(sa.sin_port), 2000, &info), -ECONNREFUSED);
}

Test(a2s_query, bad_arguments) {
        struct a2s_info info;

        cr_assert_eq(a2s_query_info("localhost", 27015, 100, &info), -EINVAL); /* numeric only */
        cr_assert_eq(a2s_query_info("127.0.0.1", 0, 100, &info), -EINVAL);
        cr_assert_eq(a2s_query_info(NULL, 27015, 100, &info), -EINVAL);
        cr_assert_eq(a2s_query_info("127.0.0.1", 27015, 100, NULL), -EINVAL);
        cr_assert_eq(a2s_query_info("127.0.0.1", 27015, -1, &info), -EINVAL);
}
