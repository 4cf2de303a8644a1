import ArgumentParser
import Foundation
import Hummingbird
import ProfClient

/// `profd-demo`: a Hummingbird server whose requests profd profiles per route.
@main
struct DemoServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profd-demo",
        abstract: "A real Hummingbird server that profiles itself through profd.",
        discussion: """
            Routes: GET /compute (randomNumber() vs addNumbers(_:_:), like pyinstrument's example), \
            GET /hash (CPU in hashPayload(rounds:)). Profiling starts at launch; SIGTERM or SIGINT stops \
            the server, stops the session and prints where profd wrote the reports.
            """)

    @Option(help: "TCP port to listen on (127.0.0.1).")
    var port: Int = 8080

    @Option(help: "profd's control socket.")
    var socket: String = "/run/profd/profd.sock"

    @Option(help: "Sampling frequency to ask profd for, in Hz.")
    var frequency: Int = 1000

    @Option(help: "Iterations of the /compute loop per request.")
    var computeIterations: Int = 2000

    @Option(help: "Rounds of hashing per /hash request.")
    var hashRounds: Int = 40

    func run() async throws {
        var clientConfiguration = ProfClient.Configuration(service: "profd-demo")
        clientConfiguration.socketPath = socket
        let profiler = ProfClient(configuration: clientConfiguration)
        profiler.start(frequencyHz: frequency)

        let iterations = computeIterations
        let rounds = hashRounds
        let router = Router()
        router.get("/compute") { _, _ -> String in
            // The handler runs synchronously on one thread, so the span's (thread, time) window holds
            // exactly this request's samples.
            let total = profiler.withSpan(route: "/compute") { compute(iterations: iterations) }
            return "total \(total)\n"
        }
        router.get("/hash") { _, _ -> String in
            let hash = profiler.withSpan(route: "/hash") { hashPayload(rounds: rounds) }
            return "hash \(String(hash, radix: 16))\n"
        }
        router.get("/health") { _, _ -> String in "ok\n" }

        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "profd-demo"))
        print("profd-demo listening on http://127.0.0.1:\(port) (profd socket \(socket))")
        try await app.runService()

        // Graceful shutdown: stop the session so profd writes the reports, and say where they are.
        if let result = profiler.stop(timeout: .seconds(60)) {
            print("profd-demo: session \(result.sessionId) reports in \(result.reportDirectory)")
        } else {
            print("profd-demo: profd did not confirm the reports (is profd running?)")
        }
        let stats = profiler.statistics
        print("profd-demo: spans recorded \(stats.spansRecorded), sent \(stats.spansSent), dropped \(stats.spansDropped)")
        profiler.shutdown()
    }
}
