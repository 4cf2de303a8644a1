import CSystemd

/// What profd tells systemd (`sd_notify`): readiness, a status line for `systemctl status`, watchdog
/// keep-alives and the start of shutdown. Every call is a no-op when no service manager runs us.
struct ServiceManager {
    /// How often the event loop must say `WATCHDOG=1` (half of `WatchdogSec=`), or nil when the
    /// watchdog is off.
    let watchdogPeriodNs: UInt64?

    init() {
        let usec = profd_sd_watchdog_usec()
        watchdogPeriodNs = usec > 0 ? usec * 1000 / 2 : nil
    }

    /// `READY=1` with the first status line: the socket is adopted and the state directory recovered.
    func ready(status: String) {
        send("READY=1\nSTATUS=\(Self.oneLine(status))")
    }

    func status(_ text: String) {
        send("STATUS=\(Self.oneLine(text))")
    }

    /// Sent from the event loop itself, so a stuck loop stops the keep-alives and systemd restarts us.
    func watchdog() {
        send("WATCHDOG=1")
    }

    func stopping(status: String) {
        send("STOPPING=1\nSTATUS=\(Self.oneLine(status))")
    }

    private func send(_ state: String) {
        _ = profd_sd_notify(state)
    }

    /// A status is one `KEY=value` line of the notify datagram: a newline would start a new key.
    static func oneLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }
}

/// Socket activation: the listening socket systemd opened for `profd.socket`.
enum SocketActivation {
    /// The name `profd.socket` gives its socket (`FileDescriptorName=profd`).
    static let descriptorName = "profd"

    /// The passed listening fd (non-blocking, close-on-exec), or nil when systemd passed none.
    static func adoptListener() -> Int32? {
        var passed: Int32 = 0
        let fd = profd_sd_adopt_listener(descriptorName, &passed)
        return fd >= 0 ? fd : nil
    }
}

/// The systemd unit a process runs in (`demo.service`), from its cgroup; nil outside any unit.
func systemdUnit(ofPid pid: Int32) -> String? {
    var buffer = [CChar](repeating: 0, count: 256)
    guard profd_sd_pid_unit(pid, &buffer, buffer.count) == 0 else { return nil }
    let unit = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return unit.isEmpty ? nil : unit
}
