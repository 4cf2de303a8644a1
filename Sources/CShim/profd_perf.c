#define _GNU_SOURCE
#include "profd_perf.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int profd_perf_open_cpu_clock(int32_t tid, int32_t cpu, uint64_t period_ns, uint32_t wakeup_bytes) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.sample_period = period_ns;
    attr.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |
                       PERF_SAMPLE_CALLCHAIN | PERF_SAMPLE_STACK_USER;
    // The two words at the user stack pointer: where a frameless leaf (or one caught in its prologue or at
    // `ret`) keeps its return address, which frame-pointer unwinding skips.
    attr.sample_stack_user = PROFD_PERF_STACK_WORDS * 8;
    attr.disabled = 1;
    attr.inherit = 1;
    attr.exclude_kernel = 0;
    attr.exclude_hv = 1;
    attr.exclude_callchain_kernel = 1;
    attr.use_clockid = 1;
    attr.clockid = CLOCK_MONOTONIC;
    attr.sample_id_all = 1;
    attr.task = 1;
    attr.comm = 1;
    // PERF_RECORD_SWITCH whenever a sampled thread leaves or enters a CPU (with the sample_id trailer, so
    // pid/tid/time/cpu): exact off-CPU intervals. A switch is written by the event of the CPU it happens on.
    attr.context_switch = 1;
    attr.watermark = 1;
    attr.wakeup_watermark = wakeup_bytes;
    return (int)syscall(SYS_perf_event_open, &attr, (pid_t)tid, (int)cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

int profd_perf_enable(int fd) { return ioctl(fd, PERF_EVENT_IOC_ENABLE, 0); }

int profd_perf_disable(int fd) { return ioctl(fd, PERF_EVENT_IOC_DISABLE, 0); }

int profd_perf_set_output(int fd, int target_fd) { return ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, target_fd); }

void *profd_perf_mmap(int fd, size_t length) {
    void *base = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return base == MAP_FAILED ? NULL : base;
}

int profd_perf_munmap(void *base, size_t length) { return munmap(base, length); }

uint64_t profd_perf_ring_head(const void *base) {
    const struct perf_event_mmap_page *page = base;
    return __atomic_load_n(&page->data_head, __ATOMIC_ACQUIRE);
}

void profd_perf_ring_set_tail(void *base, uint64_t tail) {
    struct perf_event_mmap_page *page = base;
    __atomic_store_n(&page->data_tail, tail, __ATOMIC_RELEASE);
}

uint64_t profd_perf_ring_tail(const void *base) {
    const struct perf_event_mmap_page *page = base;
    return __atomic_load_n(&page->data_tail, __ATOMIC_RELAXED);
}
