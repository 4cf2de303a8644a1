// Small wrappers for process and socket facts that Swift cannot reach portably.
#ifndef PROFD_SYS_H
#define PROFD_SYS_H

#include <stdint.h>
#include <sys/types.h>

/// The calling thread's kernel thread id. Wraps `gettid(2)`.
int32_t profd_gettid(void);

/// `CLOCK_MONOTONIC` in nanoseconds: the clock the sampler stamps samples with.
uint64_t profd_monotonic_ns(void);

/// Kernel-verified identity of a Unix socket peer. Wraps `getsockopt(SO_PEERCRED)`.
/// Returns 0 on success, or -1 with errno set.
int profd_peer_credentials(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid);

/// Opens a pidfd for `pid`. Wraps `pidfd_open(2)`. Returns -1 with errno set on failure.
int profd_pidfd_open(int32_t pid);

/// A pidfd for the process at the other end of a connected Unix socket, as it was when it connected
/// (`SO_PEERPIDFD`, Linux 6.5+). Returns -1 with errno set: `ENOPROTOOPT` on older kernels (the caller then
/// falls back to `pidfd_open`), `ESRCH` when that process has already exited.
int profd_peer_pidfd(int fd);

#endif

#ifndef PROFD_SYS_H_NET
#define PROFD_SYS_H_NET
/// Accepts a connection as a non-blocking, close-on-exec fd. Wraps `accept4(2)`.
int profd_accept_nonblocking(int listen_fd);

/// Creates a non-blocking, close-on-exec pipe. Wraps `pipe2(2)`.
int profd_pipe_nonblocking(int fds[2]);
#endif

#ifndef PROFD_SYS_H_FDPASS
#define PROFD_SYS_H_FDPASS
#include <sys/types.h>
/// Sends `length` bytes with `fd` attached (SCM_RIGHTS), without blocking or raising SIGPIPE.
/// Wraps `sendmsg(2)`; returns the bytes sent or -1 with errno set.
ssize_t profd_send_with_fd(int sock, const void *buffer, size_t length, int fd);

/// Receives bytes without blocking; a file descriptor that came with them (SCM_RIGHTS) is stored in
/// `*received_fd` (close-on-exec), or -1. Extra fds are closed. Wraps `recvmsg(2)`.
ssize_t profd_recv_with_fd(int sock, void *buffer, size_t length, int *received_fd);

/// 1 if `fd` is a file of procfs (so its contents come from the kernel, not from whoever passed it).
int profd_is_procfs(int fd);
#endif

#ifndef PROFD_SYS_H_GROUPS
#define PROFD_SYS_H_GROUPS
#include <stdint.h>
/// The supplementary groups of a Unix socket peer, as the kernel recorded them at connect. Wraps
/// `getsockopt(SO_PEERGROUPS)`, growing the buffer on ERANGE. Returns a malloc'ed array of `*count`
/// gids (free it with `free`; NULL with `*count` 0 when there are none), or NULL with `*count` -1 and
/// errno set on failure.
uint32_t *profd_peer_groups(int fd, int32_t *count);
#endif

#ifndef PROFD_SYS_H_MEMFD
#define PROFD_SYS_H_MEMFD
#include <stddef.h>
/// A sealed, close-on-exec memfd holding `length` bytes of `bytes`, its offset at 0: a reply too big for
/// one message, passed as an fd. Returns -1 with errno set on failure.
int profd_sealed_memfd(const char *name, const void *bytes, size_t length);
#endif
