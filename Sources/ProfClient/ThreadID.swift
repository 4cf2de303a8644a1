#if canImport(Glibc)
import Glibc
#endif
internal import CProfdShim

/// The calling thread's kernel thread id, cached per thread so the hot path makes no system call.
enum ThreadID {
    /// A thread-specific slot holding `tid` as a pointer bit pattern; nil if no key could be created.
    private static let key: pthread_key_t? = {
        var key = pthread_key_t()
        guard pthread_key_create(&key, nil) == 0 else { return nil }
        // A forked child's only thread has a new tid but inherits the forking thread's slot: clear it.
        pthread_atfork(nil, nil) { if let key = ThreadID.key { pthread_setspecific(key, nil) } }
        return key
    }()

    /// `gettid()` of the calling thread: one system call on a thread's first use, a TLS read after that.
    static var current: UInt32 {
        guard let key else { return UInt32(bitPattern: profd_gettid()) }
        if let cached = pthread_getspecific(key) {
            return UInt32(truncatingIfNeeded: UInt(bitPattern: cached))
        }
        let tid = profd_gettid()
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: UInt(UInt32(bitPattern: tid))))
        return UInt32(bitPattern: tid)
    }
}
