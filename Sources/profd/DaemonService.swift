import Foundation
import ServiceLifecycle

/// The daemon as a swift-service-lifecycle `Service`: its blocking event loop runs on a thread of its
/// own, and SIGTERM/SIGINT (graceful shutdown, delivered by the `ServiceGroup`) ask it to finish the
/// open sessions' reports and return.
struct DaemonService: Service, CustomStringConvertible {
    let daemon: Daemon

    var description: String { "profd" }

    func run() async throws {
        let daemon = self.daemon
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let thread = Thread {
                        do {
                            try daemon.run()
                            continuation.resume()
                        } catch {
                            continuation.resume(throwing: error)
                        }
                    }
                    thread.name = "profd-loop"
                    thread.start()
                }
            } onGracefulShutdown: {
                daemon.requestShutdown()
            }
        } onCancel: {
            daemon.requestShutdown()
        }
    }
}
