#if canImport(Glibc)
import Glibc
#endif
internal import CProfdShim

/// A pthread mutex and condition variable timed on `CLOCK_MONOTONIC`: for the waits that must block a thread.
final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits (lock held) until `condition()` is true or `deadlineNs` (monotonic) passes; returns `condition()`.
    func wait(untilNs deadlineNs: UInt64, _ condition: () -> Bool) -> Bool {
        while !condition() {
            guard profd_monotonic_ns() < deadlineNs else { return false }
            var ts = timespec(tv_sec: Int(deadlineNs / 1_000_000_000), tv_nsec: Int(deadlineNs % 1_000_000_000))
            _ = pthread_cond_timedwait(self.condition, mutex, &ts)
        }
        return true
    }

    /// Wakes one waiter; call with the lock held.
    func signal() {
        pthread_cond_signal(condition)
    }

    /// Wakes all waiters; call with the lock held.
    func broadcast() {
        pthread_cond_broadcast(condition)
    }
}

/// A value set once by one thread and awaited, with a timeout, by others.
final class OneShot<Value: Sendable>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var value: Value?

    /// Sets the value if none is set yet and wakes the waiters. Later calls are ignored.
    func complete(_ newValue: Value) {
        lock.withLock {
            guard value == nil else { return }
            value = newValue
            lock.broadcast()
        }
    }

    /// The value, waiting up to `timeoutNs`; nil on timeout.
    func wait(timeoutNs: UInt64) -> Value? {
        let (deadline, overflow) = profd_monotonic_ns().addingReportingOverflow(timeoutNs)
        return lock.withLock {
            _ = lock.wait(untilNs: overflow ? .max : deadline) { value != nil }
            return value
        }
    }
}

/// Wakes the flusher thread early (on start, stop, shutdown) from its timed sleep.
final class Wakeup: @unchecked Sendable {
    private let lock = ConditionLock()
    private var pending = false

    /// Ends the current or next `sleep` early.
    func signal() {
        lock.withLock {
            pending = true
            lock.broadcast()
        }
    }

    /// Sleeps up to `timeoutNs` or until `signal()`.
    func sleep(timeoutNs: UInt64) {
        let (deadline, overflow) = profd_monotonic_ns().addingReportingOverflow(timeoutNs)
        lock.withLock {
            _ = lock.wait(untilNs: overflow ? .max : deadline) { pending }
            pending = false
        }
    }
}

/// Starts a pthread running `body`. Wraps `pthread_create(3)`; nil if it fails.
///
/// ProfClient's threads are plain pthreads, not the cooperative pool: they block (on sockets and
/// condition variables) and must never starve the app's tasks.
func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t? {
    final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
    let context = Unmanaged.passRetained(Body(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { context in
        guard let context else { return nil }
        Unmanaged<Body>.fromOpaque(context).takeRetainedValue().run()
        return nil
    }, context)
    guard result == 0 else {
        Unmanaged<Body>.fromOpaque(context).release()
        return nil
    }
    return thread
}
