import ProfClient
import ProfdProtocol
import ProfdTestKit

/// A client configuration for tests: a socket in a fresh temp dir and fast timers.
func testConfiguration(
    socketPath: String,
    flushInterval: Duration = .milliseconds(2),
    reconnectInterval: Duration = .milliseconds(50)
) -> ProfClient.Configuration {
    var configuration = ProfClient.Configuration(service: "client-tests")
    configuration.socketPath = socketPath
    configuration.flushInterval = flushInterval
    configuration.reconnectInterval = reconnectInterval
    return configuration
}

/// A fresh socket path that nothing listens on yet.
func freshSocketPath() throws -> String {
    try TestDaemon.temporaryDirectory() + "/profd.sock"
}

/// Polls `condition` every 5 ms until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while clock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return condition()
}

extension TestDaemon.Snapshot {
    /// Messages of connection `index`, or none if it does not exist.
    func connection(_ index: Int) -> [ProfdMessage] {
        connections.indices.contains(index) ? connections[index] : []
    }

    var spanBegins: [SpanBegin] { messages.compactMap { if case .spanBegin(let m) = $0 { m } else { nil } } }
    var spanEnds: [SpanEnd] { messages.compactMap { if case .spanEnd(let m) = $0 { m } else { nil } } }
}

extension [ProfdMessage] {
    /// True if the messages start with `hello` (service "client-tests") and `startSession` at `frequencyHz`.
    func startsSession(frequencyHz: UInt32 = 1000) -> Bool {
        count >= 2
            && self[0] == .hello(Hello(protocolVersion: 1, service: "client-tests"))
            && { if case .startSession(let start) = self[1] { start.frequencyHz == frequencyHz } else { false } }()
    }
}
