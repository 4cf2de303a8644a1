import Foundation
import ProfClient
@testable import ProfdTracing
import Testing
import Tracing

@Suite struct RouteNamingTests {
    @Test func routeAttributeWithMethodNamesTheReport() {
        let attributes: SpanAttributes = ["http.route": "/users/{id}", "http.request.method": "GET", "url.path": "/users/42"]
        #expect(RouteNaming.route(operationName: "HTTP GET route not found", attributes: attributes, style: .colon)
                == "GET /users/:id")
        #expect(RouteNaming.route(operationName: "x", attributes: attributes, style: .asReported) == "GET /users/{id}")
    }

    @Test func hummingbirdNotFoundIsOneUnmatchedReport() {
        let attributes: SpanAttributes = ["http.route": "NotFound", "http.request.method": "GET", "url.path": "/nope"]
        #expect(RouteNaming.route(operationName: "NotFound", attributes: attributes, style: .colon) == "GET (unmatched)")
    }

    @Test func olderMethodKeyAndMissingMethod() {
        #expect(RouteNaming.route(operationName: "x", attributes: ["http.route": "/a/{b}", "http.method": "POST"], style: .colon)
                == "POST /a/:b")
        #expect(RouteNaming.route(operationName: "x", attributes: ["http.route": "/a"], style: .colon) == "/a")
    }

    @Test func operationNameIsTheFallback() {
        let method: SpanAttributes = ["http.request.method": "GET"]
        // Hummingbird renames its span to the matched route; a path gets the method in front.
        #expect(RouteNaming.route(operationName: "/orders/{id}/items", attributes: method, style: .colon)
                == "GET /orders/:id/items")
        // Any other name is kept as it is.
        #expect(RouteNaming.route(operationName: "HTTP GET route not found", attributes: method, style: .colon)
                == "HTTP GET route not found")
        #expect(RouteNaming.route(operationName: "GET /users/{id}", attributes: method, style: .colon) == "GET /users/:id")
        // An empty http.route does not count.
        #expect(RouteNaming.route(operationName: "/x", attributes: ["http.route": ""], style: .colon) == "/x")
    }

    @Test func parameterStyle() {
        #expect(RouteNaming.styled("/a/{id}/b/{name}", .colon) == "/a/:id/b/:name")
        // Only whole-segment captures, as ProfdHummingbird does: other forms stay as Hummingbird spells them.
        #expect(RouteNaming.styled("/img/{name}.jpg", .colon) == "/img/{name}.jpg")
        #expect(RouteNaming.styled("/plain/*", .colon) == "/plain/*")
        #expect(RouteNaming.styled("/open/{", .colon) == "/open/{")
        #expect(RouteNaming.styled("/{}", .colon) == "/{}")
        #expect(RouteNaming.styled("/{a/b}", .colon) == "/{a/b}")
        #expect(RouteNaming.styled("/{{x}}", .colon) == "/{{x}}")
        #expect(RouteNaming.styled("/a/{id}", .asReported) == "/a/{id}")
    }

    @Test func status() {
        #expect(RouteNaming.status(attributes: ["http.response.status_code": 404], isError: false) == 404)
        #expect(RouteNaming.status(attributes: ["http.status_code": .int32(201)], isError: false) == 201)
        #expect(RouteNaming.status(attributes: ["http.response.status_code": "503"], isError: false) == 503)
        // The attribute wins over the span status; the span status wins over nothing.
        #expect(RouteNaming.status(attributes: ["http.response.status_code": 400], isError: true) == 400)
        #expect(RouteNaming.status(attributes: [:], isError: true) == 500)
        #expect(RouteNaming.status(attributes: [:], isError: false) == 0)
    }
}

@Suite struct ProfdTracerSpanTests {
    /// A client whose socket leads nowhere: spans are buffered (and later dropped), which is all these tests need.
    private func client() -> ProfClient {
        var configuration = ProfClient.Configuration(service: "profd-tracing-unit")
        configuration.socketPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("profd-tracing-absent-\(UUID().uuidString.prefix(8)).sock").path
        return ProfClient(configuration: configuration)
    }

    @Test func onlyServerSpansRecordWhileProfiling() {
        let profiler = client()
        defer { profiler.shutdown() }
        let tracer = ProfdTracer(profiler)

        let before = tracer.startSpan("GET /a", context: .topLevel, ofKind: .server)
        #expect(!before.isRecording, "profiling is not started")
        before.end()

        profiler.start()
        let internalSpan = tracer.startSpan("work", context: .topLevel, ofKind: .internal)
        let clientSpan = tracer.startSpan("GET upstream", context: .topLevel, ofKind: .client)
        #expect(!internalSpan.isRecording && !clientSpan.isRecording)
        internalSpan.attributes["http.route"] = "/ignored"
        #expect(internalSpan.attributes.get("http.route") == nil)
        internalSpan.end()
        clientSpan.end()
        #expect(profiler.statistics.spansRecorded == 0)

        let server = tracer.startSpan("HTTP GET route not found", context: .topLevel, ofKind: .server)
        #expect(server.isRecording)
        #expect(profiler.statistics.spansRecorded == 1)
        server.attributes["http.request.method"] = "GET"
        server.updateAttributes { $0["http.route"] = "/users/{id}" }
        server.operationName = "/users/{id}"
        #expect(server.operationName == "/users/{id}")
        #expect(server.attributes.get("http.route") == .string("/users/{id}"))
        let copy = server
        copy.end()
        #expect(!server.isRecording, "copies share the span")
        server.end()  // a second end does nothing
        #expect(profiler.statistics.spansRecorded == 1)
    }

    @Test func spansAreUsableFromManyThreads() async {
        let profiler = client()
        defer { profiler.shutdown() }
        profiler.start()
        let span = ProfdTracer(profiler).startSpan("/x", context: .topLevel, ofKind: .server)
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<8 {
                group.addTask {
                    for round in 0..<200 {
                        // Each get and each set is atomic; a get-modify-set (`span.attributes[key] = v`,
                        // `updateAttributes`) is not, for this span as for any other, so write whole values.
                        span.attributes = ["writer": .int64(Int64(index)), "round": .int64(Int64(round))]
                        span.operationName = "/x/\(index)"
                        span.setStatus(.init(code: round % 2 == 0 ? .ok : .error))
                        _ = span.attributes.get("writer")
                        _ = span.isRecording
                    }
                    span.end()
                }
            }
        }
        #expect(!span.isRecording)
        #expect(span.attributes.get("round") == .int64(199))
        #expect(span.operationName.hasPrefix("/x/"))
    }
}
