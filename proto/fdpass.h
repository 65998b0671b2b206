/* Descriptors with RPC answers (docs/protocol.md, "Descriptors"): hostd hands webd an open
 * file instead of its bytes. The descriptor travels as SCM_RIGHTS with the first byte of the
 * answer it belongs to; these wrap sendmsg()/recvmsg() for the transports. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Descriptors one recvmsg() accepts; more (a hostile peer) are closed and reported as
 * *ret_n_fds == FDPASS_MAX_FDS + 1. */
#define FDPASS_MAX_FDS 4

/* send() of buf with fd (if >= 0) attached to its first byte. Returns the bytes sent or
 * -errno (EAGAIN with MSG_DONTWAIT: nothing sent, the descriptor neither). */
ssize_t fdpass_send(int sock, const void *buf, size_t n, int flags, int fd);
/* recv() that also takes descriptors (close-on-exec) into fds[FDPASS_MAX_FDS]. Returns the
 * bytes received (0: EOF) or -errno; *ret_n_fds how many descriptors came, each the caller's
 * to close. A truncated control message (more than fit) closes what did arrive and sets
 * *ret_n_fds to FDPASS_MAX_FDS + 1. */
ssize_t fdpass_recv(int sock, void *buf, size_t n, int flags, int fds[FDPASS_MAX_FDS], size_t *ret_n_fds);
