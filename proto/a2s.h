/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A2S: the Source engine's UDP server query protocol, as far as left4me uses it
 * (A2S_INFO and A2S_PLAYER against our own game servers on loopback).
 *
 * The codec half (a2s_build_*, a2s_parse_*) is pure: no I/O, no allocation, no
 * logging. Every parser takes an untrusted datagram and its length, never
 * reads outside it, and returns 0 or a negative errno:
 *
 *   -EBADMSG          truncated or malformed packet
 *   -ENOMSG           well-formed, but another reply type than the one asked for
 *   -EMSGSIZE         a split (multi-packet, header -2) reply: refused on purpose,
 *                     since a loopback L4D2 server's INFO/PLAYER replies fit in one
 *                     datagram and reassembly (and bzip2) is attack surface we
 *                     do not need
 *   -ENOBUFS          (builders) the output buffer is too small
 *
 * Strings in replies are NUL-terminated byte strings (UTF-8 by convention). They
 * are copied into fixed arrays; a longer string is cut at A2S_STRING_MAX - 1
 * bytes without splitting a UTF-8 sequence, and the struct says so in
 * `truncated`.
 *
 * Wire format (all integers little-endian), from the Valve Developer Wiki
 * "Server queries":
 *   request  INFO:    FF FF FF FF 54 "Source Engine Query\0" [int32 challenge]
 *   request  PLAYER:  FF FF FF FF 55 int32 challenge   (FF FF FF FF asks for one)
 *   reply    CHALLENGE: FF FF FF FF 41 int32 challenge
 *   reply    INFO:    FF FF FF FF 49 ... (see struct a2s_info)
 *   reply    PLAYER:  FF FF FF FF 44 byte count {byte index, string name,
 *                     int32 score, float32 duration}*
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define A2S_HEADER_SINGLE 0xFFFFFFFFu /* int32 -1: one datagram */
#define A2S_HEADER_SPLIT  0xFFFFFFFEu /* int32 -2: one part of a split reply */

/* The challenge value that asks the server for a real one. */
#define A2S_CHALLENGE_ASK 0xFFFFFFFFu

/* Packet type bytes. */
enum {
        A2S_INFO_REQUEST = 0x54,    /* 'T' */
        A2S_PLAYER_REQUEST = 0x55,  /* 'U' */
        A2S_CHALLENGE_REPLY = 0x41, /* 'A', S2C_CHALLENGE */
        A2S_INFO_REPLY = 0x49,      /* 'I', Source layout (GoldSrc 'm' is not supported) */
        A2S_PLAYER_REPLY = 0x44,    /* 'D' */
};

/* Extra data flags of the INFO reply. */
enum {
        A2S_EDF_PORT = 0x80,
        A2S_EDF_STEAMID = 0x10,
        A2S_EDF_SOURCETV = 0x40,
        A2S_EDF_KEYWORDS = 0x20,
        A2S_EDF_GAMEID = 0x01,
};

#define A2S_INFO_PAYLOAD        "Source Engine Query"
#define A2S_INFO_REQUEST_SIZE   25 /* without challenge */
#define A2S_INFO_REQUEST_MAX    29 /* with challenge */
#define A2S_PLAYER_REQUEST_SIZE 9
#define A2S_PACKET_MAX          1400 /* largest single-datagram payload srcds sends */
#define A2S_STRING_MAX          256  /* bytes per stored string, including the NUL */

struct a2s_info {
        uint8_t protocol;
        char name[A2S_STRING_MAX];
        char map[A2S_STRING_MAX];
        char folder[A2S_STRING_MAX];
        char game[A2S_STRING_MAX];
        uint16_t appid;
        uint8_t players; /* Source counts bots here too */
        uint8_t max_players;
        uint8_t bots;
        char server_type;   /* 'd' dedicated, 'l' listen, 'p' SourceTV relay */
        char environment;   /* 'l' linux, 'w' windows, 'm'/'o' mac */
        uint8_t visibility; /* 1 = password protected */
        uint8_t vac;        /* 1 = VAC secured */
        char version[A2S_STRING_MAX];

        /* Extra data: each field is valid only when its bit is set in edf. */
        uint8_t edf;
        uint16_t port;
        uint64_t steamid;
        uint16_t sourcetv_port;
        char sourcetv_name[A2S_STRING_MAX];
        char keywords[A2S_STRING_MAX];
        uint64_t gameid;

        bool truncated; /* some string was cut to fit */
};

struct a2s_player {
        uint8_t index;
        char name[A2S_STRING_MAX];
        int32_t score;
        float duration; /* seconds connected */
        bool truncated;
};

/*
 * Builders. They write into buf (size bytes) and return the request length,
 * or -ENOBUFS. An INFO request without challenge is the legacy 25-byte form
 * that every server understands; servers that require a challenge answer it
 * with S2C_CHALLENGE. PLAYER always carries a challenge: pass A2S_CHALLENGE_ASK
 * to be given one.
 */
int a2s_build_info_request(void *buf, size_t size, bool with_challenge, uint32_t challenge);
int a2s_build_player_request(void *buf, size_t size, uint32_t challenge);

/*
 * Returns the reply type byte (A2S_*_REPLY or any other value >= 0) of a
 * single-datagram packet, -EMSGSIZE for a split packet, -EBADMSG otherwise.
 */
int a2s_reply_type(const void *buf, size_t len);

/* Parses S2C_CHALLENGE. */
int a2s_parse_challenge(const void *buf, size_t len, uint32_t *ret_challenge);

/* Parses an INFO reply into *ret (written only on success). */
int a2s_parse_info(const void *buf, size_t len, struct a2s_info *ret);

/*
 * Parses a PLAYER reply. Stores at most max players into players[] (which may be
 * NULL when max is 0); every entry is still validated. *ret_count gets the number
 * stored, *ret_total (may be NULL) the number the server listed. The output is
 * written only on success; players[] may be partly overwritten on failure.
 */
int a2s_parse_player(const void *buf, size_t len, struct a2s_player *players, size_t max, size_t *ret_count,
                     size_t *ret_total);

/*
 * Blocking helpers for loopback monitoring: one UDP socket, connect()ed to
 * host:port (a numeric IPv4 or IPv6 address; no DNS on purpose), poll() with an
 * overall deadline of timeout_ms. They answer challenges (at most a few rounds,
 * then -EPROTO), so they work with servers that require the A2S_INFO challenge
 * (L4D2's default since 2021) and with ones that do not.
 * Errors: -EINVAL (bad host), -ETIMEDOUT, -ECONNREFUSED (ICMP port unreachable:
 * nothing listens), -EPROTO, the parsers' errors, or a socket errno.
 */
int a2s_query_info(const char *host, uint16_t port, int timeout_ms, struct a2s_info *ret);
int a2s_query_players(const char *host, uint16_t port, int timeout_ms, struct a2s_player *players,
                      size_t max, size_t *ret_count, size_t *ret_total);
