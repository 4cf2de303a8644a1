// libsystemd for the daemon only: ProfClient, which apps link, never depends on this target, so an app
// never links libsystemd because of profd.
#ifndef PROFD_SYSTEMD_H
#define PROFD_SYSTEMD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <systemd/sd-login.h>

/// Sends `state` ("READY=1", "WATCHDOG=1", "STATUS=…") to the service manager. Wraps `sd_notify(0, …)`.
/// Returns > 0 if sent, 0 when not run by a service manager, < 0 (a negative errno) on failure.
int profd_sd_notify(const char *state);

/// The watchdog interval systemd asked for (WATCHDOG_USEC for this pid), in microseconds, or 0 when
/// the watchdog is off. Wraps `sd_watchdog_enabled`.
uint64_t profd_sd_watchdog_usec(void);

/// The first listening fd systemd passed whose name is `name` (FileDescriptorName=), or the first
/// passed fd when none has that name; -1 when nothing was passed. Unused fds are closed. Wraps
/// `sd_listen_fds_with_names`; checks the fd with `sd_is_socket_unix` (a listening stream socket).
/// `passed` receives how many fds systemd passed. The chosen fd is made non-blocking and close-on-exec.
int profd_sd_adopt_listener(const char *name, int *passed);

/// One journal entry from `count` "FIELD=value" items. Wraps `sd_journal_sendv`. Returns 0 or a negative errno.
int profd_sd_journal_sendv(const struct iovec *items, int count);

/// The systemd unit of `pid` ("demo.service"), copied into `buffer` (NUL-terminated, truncated to fit).
/// Wraps `sd_pid_get_unit`. Returns 0 or a negative errno (-ENODATA when the process is in no unit).
int profd_sd_pid_unit(pid_t pid, char *buffer, size_t size);

#endif
