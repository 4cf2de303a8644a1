import ArgumentParser
import Foundation
import Hummingbird
import ProfClient
import ProfdHummingbird

/// `profd-demo`: a Hummingbird server whose requests profd profiles per route, through `ProfdMiddleware`.
@main
struct DemoServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profd-demo",
        abstract: "A real Hummingbird server that profiles itself through profd.",
        discussion: """
            Routes: GET /compute (randomNumber() vs addNumbers(_:_:), like pyinstrument's example), \
            GET /hash (CPU in hashPayload(rounds:)), GET /health (never profiled). Reports are named \
            "GET /compute" and "GET /hash". Profiling starts at launch; SIGTERM or SIGINT stops the server, \
            stops the session and prints where profd wrote the reports.
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

    @Option(help: "Share of requests to profile, 0...100 (every n-th request, not a random draw).")
    var sampledPercentage: Double = 100

    @Option(help: "Report formats, comma-separated: text, json, html.")
    var formats: String = "text,json"

    @Option(help: "Keep a report of its own for every request at least this slow, in milliseconds.")
    var slowRequestMs: Int?

    @Option(help: "Keep a report of its own for this share (0...100) of the other requests, picked by profd.")
    var keptPercentage: Double = 0

    @Flag(inversion: .prefixedNo, help: "Keep a report of its own for every request that ends with status ≥ 500.")
    var keepServerErrors = true

    @Flag(help: "profd logs each kept request's text tree in its own log.")
    var logKeptRequests = false

    @Option(help: "File name of each kept request's report: {route} {method} {status} {ms} {id} {time}.")
    var reportFileName: String = "{time}-{route}-{id}"

    @Option(help: "Profile only routes matching this pattern (\"GET /compute\", \"GET /*\"); repeatable.")
    var includeRoute: [String] = []

    @Option(help: "Never profile routes matching this pattern; repeatable. GET /health is always excluded.")
    var excludeRoute: [String] = []

    @Option(help: "Threads of the pool that runs profiled requests (default: one per CPU).")
    var executorThreads: Int?

    @Flag(help: "Run without profd: no session, no middleware (the baseline of the throughput benchmark).")
    var noProfiling = false

    @Flag(help: "Print one line per profiled request (route, status, wall time) to standard error.")
    var printEachRequest = false

    func validate() throws {
        guard (0...100).contains(sampledPercentage) else {
            throw ValidationError("--sampled-percentage must be within 0...100")
        }
        _ = try reportFormats()
        if let slowRequestMs, slowRequestMs < 0 { throw ValidationError("--slow-request-ms must not be negative") }
        guard (0...100).contains(keptPercentage) else { throw ValidationError("--kept-percentage must be within 0...100") }
        if let executorThreads, executorThreads < 1 { throw ValidationError("--executor-threads must be at least 1") }
    }

    func reportFormats() throws -> ReportFormats {
        var result: ReportFormats = []
        for name in formats.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) {
            switch name {
            case "text", "txt": result.insert(.text)
            case "json": result.insert(.json)
            case "html": result.insert(.html)
            default: throw ValidationError("unknown report format '\(name)' (text, json, html)")
            }
        }
        guard !result.isEmpty else { throw ValidationError("--formats names no format") }
        return result
    }

    func run() async throws {
        var clientConfiguration = ProfClient.Configuration(service: "profd-demo")
        clientConfiguration.socketPath = socket
        clientConfiguration.frequencyHz = frequency
        clientConfiguration.sampledPercentage = sampledPercentage
        clientConfiguration.formats = try reportFormats()
        clientConfiguration.slowRequestThreshold = slowRequestMs.map { .milliseconds($0) }
        clientConfiguration.reportFileName = reportFileName
        clientConfiguration.keptPercentage = keptPercentage
        clientConfiguration.keepServerErrors = keepServerErrors
        clientConfiguration.logKeptRequests = logKeptRequests
        clientConfiguration.includedRoutes = includeRoute
        // The load balancer's health checks would only add noise to the reports.
        clientConfiguration.excludedRoutes = ["GET /health"] + excludeRoute
        clientConfiguration.printEachRequest = printEachRequest
        if let executorThreads { clientConfiguration.executorThreads = executorThreads }
        let profiler = ProfClient(configuration: clientConfiguration)
        if !noProfiling { profiler.start() }

        let iterations = computeIterations
        let rounds = hashRounds
        let router = Router()
        // First, so that it wraps every route below (Router applies middleware to routes added after it).
        // It names each report after the matched route ("GET /compute") and records the response status.
        if !noProfiling { router.add(middleware: ProfdMiddleware(profiler: profiler)) }
        router.get("/compute") { _, _ -> String in
            "total \(compute(iterations: iterations))\n"
        }
        router.get("/hash") { _, _ -> String in
            "hash \(String(hashPayload(rounds: rounds), radix: 16))\n"
        }
        router.get("/health") { _, _ -> String in "ok\n" }

        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "profd-demo"))
        print("profd-demo listening on http://127.0.0.1:\(port) (profd socket \(socket))")
        try await app.runService()

        // Graceful shutdown: stop the session so profd writes the reports, and say where they are.
        if noProfiling {
            print("profd-demo: ran without profiling")
        } else if let result = profiler.stop(timeout: .seconds(60)) {
            print("profd-demo: session \(result.sessionId) reports in \(result.reportDirectory)")
        } else {
            print("profd-demo: profd did not confirm the reports (is profd running?)")
        }
        let stats = profiler.statistics
        print("profd-demo: spans recorded \(stats.spansRecorded), sent \(stats.spansSent), dropped \(stats.spansDropped)")
        profiler.shutdown()
    }
}
