// perf_event_open(2) and its ring buffer, for the sampler. Swift cannot call the variadic syscall/ioctl,
// fill the bitfields of `struct perf_event_attr`, or do acquire/release loads on the mmap'd control page.
#ifndef PROFD_PERF_H
#define PROFD_PERF_H

#include <stddef.h>
#include <stdint.h>

/// Words of user stack captured per sample (from the stack pointer up).
#define PROFD_PERF_STACK_WORDS 2

/// Opens a sampling `cpu-clock` event on thread `tid`, CPU `cpu`. Wraps `perf_event_open(2)`.
/// The event starts disabled, inherits into threads `tid` creates, stamps samples with CLOCK_MONOTONIC and
/// records IP, TID, TIME, CPU and the user callchain; it also emits FORK/EXIT/COMM records, and a SWITCH record
/// (`context_switch`) each time a sampled thread is switched out of or into a CPU.
/// `period_ns` is CPU time per sample; `wakeup_bytes` is the ring fill level that makes poll readable.
/// Returns the event fd, or -1 with errno set.
int profd_perf_open_cpu_clock(int32_t tid, int32_t cpu, uint64_t period_ns, uint32_t wakeup_bytes);

/// Enables the event and its inherited children. Wraps `ioctl(PERF_EVENT_IOC_ENABLE)`. 0, or -1 with errno.
int profd_perf_enable(int fd);

/// Disables the event and its inherited children. Wraps `ioctl(PERF_EVENT_IOC_DISABLE)`. 0, or -1 with errno.
int profd_perf_disable(int fd);

/// Sends the records of `fd` into the ring of `target_fd` (same CPU). Wraps `ioctl(PERF_EVENT_IOC_SET_OUTPUT)`.
/// 0, or -1 with errno.
int profd_perf_set_output(int fd, int target_fd);

/// Maps the control page plus `length - page size` data bytes of the event's ring. Wraps `mmap(2)`.
/// Returns NULL with errno set on failure.
void *profd_perf_mmap(int fd, size_t length);

/// Unmaps a ring mapped by `profd_perf_mmap`. Wraps `munmap(2)`.
int profd_perf_munmap(void *base, size_t length);

/// The kernel's write position in the ring (acquire load of `data_head`).
uint64_t profd_perf_ring_head(const void *base);

/// Hands bytes up to `tail` back to the kernel (release store of `data_tail`).
void profd_perf_ring_set_tail(void *base, uint64_t tail);

/// The reader position last stored in `data_tail`.
uint64_t profd_perf_ring_tail(const void *base);

#endif
