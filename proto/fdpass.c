#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/fdpass.h"

ssize_t fdpass_send(int sock, const void *buf, size_t n, int flags, int fd) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct iovec iov = {.iov_base = (void *) buf, .iov_len = n};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        ssize_t k;

        if (fd >= 0) {
                mh.msg_control = control.buf;
                mh.msg_controllen = sizeof(control.buf);
                control.h.cmsg_level = SOL_SOCKET;
                control.h.cmsg_type = SCM_RIGHTS;
                control.h.cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(&control.h), &fd, sizeof(int));
        }
        k = sendmsg(sock, &mh, flags);
        return k < 0 ? -errno : k;
}

ssize_t fdpass_recv(int sock, void *buf, size_t n, int flags, int fds[FDPASS_MAX_FDS], size_t *ret_n_fds) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(FDPASS_MAX_FDS * sizeof(int))];
        } control;
        struct iovec iov = {.iov_base = buf, .iov_len = n};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = control.buf,
                            .msg_controllen = sizeof(control.buf)};
        size_t got = 0;
        ssize_t k;

        *ret_n_fds = 0;
        k = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
        if (k < 0)
                return -errno;
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
                size_t m;
                if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
                        continue;
                m = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < m; i++) {
                        int fd;
                        memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
                        if (got < FDPASS_MAX_FDS)
                                fds[got++] = fd;
                        else
                                close(fd);
                }
        }
        if (mh.msg_flags & MSG_CTRUNC) {
                while (got > 0)
                        close(fds[--got]);
                *ret_n_fds = FDPASS_MAX_FDS + 1;
                return k;
        }
        *ret_n_fds = got;
        return k;
}
