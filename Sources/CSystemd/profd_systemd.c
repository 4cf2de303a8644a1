#include "profd_systemd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

int profd_sd_notify(const char *state) {
    return sd_notify(0, state);
}

uint64_t profd_sd_watchdog_usec(void) {
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0) return 0;
    return usec;
}

static int is_unix_listener(int fd) {
    return sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0;
}

int profd_sd_adopt_listener(const char *name, int *passed) {
    char **names = NULL;
    int n = sd_listen_fds_with_names(1, &names);
    if (passed) *passed = n > 0 ? n : 0;
    if (n <= 0) { free(names); return -1; }
    int chosen = -1;
    for (int i = 0; i < n && chosen < 0; i++) {
        int fd = SD_LISTEN_FDS_START + i;
        if (name && names && names[i] && strcmp(names[i], name) == 0 && is_unix_listener(fd)) chosen = fd;
    }
    for (int i = 0; i < n && chosen < 0; i++) {
        if (is_unix_listener(SD_LISTEN_FDS_START + i)) chosen = SD_LISTEN_FDS_START + i;
    }
    for (int i = 0; i < n; i++) {
        int fd = SD_LISTEN_FDS_START + i;
        if (fd != chosen) close(fd);
        if (names) free(names[i]);
    }
    free(names);
    if (chosen >= 0) {
        // systemd passes blocking fds without FD_CLOEXEC: the event loop accepts until EAGAIN, and
        // nothing we might spawn should inherit the listener.
        fcntl(chosen, F_SETFD, FD_CLOEXEC);
        fcntl(chosen, F_SETFL, fcntl(chosen, F_GETFL) | O_NONBLOCK);
    }
    return chosen;
}

int profd_sd_journal_sendv(const struct iovec *items, int count) {
    return sd_journal_sendv(items, count);
}

int profd_sd_pid_unit(pid_t pid, char *buffer, size_t size) {
    char *unit = NULL;
    int r = sd_pid_get_unit(pid, &unit);
    if (r < 0) return r;
    if (size > 0) {
        strncpy(buffer, unit, size - 1);
        buffer[size - 1] = 0;
    }
    free(unit);
    return 0;
}
