#if canImport(Glibc)
import Glibc
#endif
import Logging

/// Test-only fault injection, off unless the environment says `PROFD_TEST_FAULT_HOOKS=1`.
///
/// With it on, SIGUSR2 stalls the event loop for good, as a deadlock would: the loop stops feeding
/// systemd's watchdog, and the real-systemd test checks that systemd restarts profd within
/// `WatchdogSec=`. Without it, SIGUSR2 is ignored.
///
/// With it on, `PROFD_TEST_DENY_PROC_MAPS=1` also makes profd behave as if `/proc/PID/maps` and
/// `/proc/PID/exe` of its clients were unreadable (as they are on kernels where CAP_PERFMON does not
/// grant that access), so the client's passed maps fd is what symbolizes the report.
enum FaultHooks {
    nonisolated(unsafe) private static var stallRequested: sig_atomic_t = 0

    static let environmentVariable = "PROFD_TEST_FAULT_HOOKS"

    /// Set once at startup (before any session), read by sessions on the loop thread.
    nonisolated(unsafe) private(set) static var denyProcMaps = false

    static func installIfEnabled(logger: Logger) {
        guard let value = getenv(environmentVariable), String(cString: value) == "1" else {
            signal(SIGUSR2, SIG_IGN)
            return
        }
        denyProcMaps = getenv("PROFD_TEST_DENY_PROC_MAPS").map { String(cString: $0) == "1" } ?? false
        logger.warning("test fault hooks are on: SIGUSR2 stalls the event loop", metadata: [
            "profd.fault_hooks": "1", "profd.deny_proc_maps": "\(denyProcMaps)",
        ])
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
