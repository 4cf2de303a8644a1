#define _GNU_SOURCE
#include "profd_sys.h"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/statfs.h>
#include <linux/magic.h>

int32_t profd_gettid(void) { return (int32_t)syscall(SYS_gettid); }

uint64_t profd_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int profd_peer_credentials(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    *pid = cred.pid;
    *uid = cred.uid;
    *gid = cred.gid;
    return 0;
}

int profd_pidfd_open(int32_t pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

int profd_peer_pidfd(int fd) {
    int pidfd = -1;
    socklen_t len = sizeof(pidfd);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) != 0) return -1;
    return pidfd;
}

int profd_accept_nonblocking(int listen_fd) {
    return accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int profd_pipe_nonblocking(int fds[2]) {
    return pipe2(fds, O_NONBLOCK | O_CLOEXEC);
}

ssize_t profd_send_with_fd(int sock, const void *buffer, size_t length, int fd) {
    struct iovec iov = { .iov_base = (void *)buffer, .iov_len = length };
    union { struct cmsghdr align; char bytes[CMSG_SPACE(sizeof(int))]; } control;
    memset(&control, 0, sizeof(control));
    struct msghdr message = { .msg_iov = &iov, .msg_iovlen = 1,
                              .msg_control = control.bytes, .msg_controllen = sizeof(control.bytes) };
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &fd, sizeof(int));
    return sendmsg(sock, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
}

ssize_t profd_recv_with_fd(int sock, void *buffer, size_t length, int *received_fd) {
    *received_fd = -1;
    struct iovec iov = { .iov_base = buffer, .iov_len = length };
    // Room for a few fds: a client may send more than one; all but the first are closed here.
    union { struct cmsghdr align; char bytes[CMSG_SPACE(8 * sizeof(int))]; } control;
    struct msghdr message = { .msg_iov = &iov, .msg_iovlen = 1,
                              .msg_control = control.bytes, .msg_controllen = sizeof(control.bytes) };
    ssize_t n = recvmsg(sock, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) return n;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
            if (*received_fd < 0) *received_fd = fd; else close(fd);
        }
    }
    return n;
}

int profd_is_procfs(int fd) {
    struct statfs info;
    if (fstatfs(fd, &info) != 0) return 0;
    return info.f_type == PROC_SUPER_MAGIC;
}

#include <stdlib.h>
#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

uint32_t *profd_peer_groups(int fd, int32_t *count) {
    socklen_t size = 32 * sizeof(gid_t);
    for (int attempt = 0; attempt < 8; attempt++) {
        gid_t *groups = malloc(size > 0 ? size : sizeof(gid_t));
        if (!groups) { *count = -1; return NULL; }
        socklen_t length = size;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &length) == 0) {
            *count = (int32_t)(length / sizeof(gid_t));
            if (*count == 0) { free(groups); return NULL; }
            return (uint32_t *)groups;
        }
        int error = errno;
        free(groups);
        // ERANGE: the kernel wrote the size it needs into `length`.
        if (error != ERANGE) { errno = error; *count = -1; return NULL; }
        size = length > size ? length : size * 2;
    }
    errno = ERANGE;
    *count = -1;
    return NULL;
}

#include <sys/mman.h>

int profd_sealed_memfd(const char *name, const void *bytes, size_t length) {
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -1;
    size_t offset = 0;
    while (offset < length) {
        ssize_t written = write(fd, (const char *)bytes + offset, length - offset);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) { int error = errno; close(fd); errno = error; return -1; }
        offset += (size_t)written;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0
        || lseek(fd, 0, SEEK_SET) != 0) {
        int error = errno; close(fd); errno = error; return -1;
    }
    return fd;
}
