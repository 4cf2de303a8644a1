#if canImport(Glibc)
import Glibc
#endif
import Logging

/// Test-only fault injection, off unless the environment says `PROFD_TEST_FAULT_HOOKS=1`.
///
/// With it on, SIGUSR2 stalls the event loop for good, as a deadlock would: the loop stops feeding
/// systemd's watchdog, and the real-systemd test checks that systemd restarts profd within
/// `WatchdogSec=`. Without it, SIGUSR2 is ignored.
enum FaultHooks {
    nonisolated(unsafe) private static var stallRequested: sig_atomic_t = 0

    static let environmentVariable = "PROFD_TEST_FAULT_HOOKS"

    static func installIfEnabled(logger: Logger) {
        guard let value = getenv(environmentVariable), String(cString: value) == "1" else {
            signal(SIGUSR2, SIG_IGN)
            return
        }
        logger.warning("test fault hooks are on: SIGUSR2 stalls the event loop", metadata: ["profd.fault_hooks": "1"])
        let handler: @convention(c) (Int32) -> Void = { _ in FaultHooks.stallRequested = 1 }
        signal(SIGUSR2, handler)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGUSR2)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Called by the loop after each poll: never returns once SIGUSR2 arrived.
    static func stallIfRequested() {
        guard stallRequested != 0 else { return }
        while true { sleep(3600) }
    }
}
