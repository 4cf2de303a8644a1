import ProfClient
import Tracing

/// How a server span's route and status are read from its attributes and name when it ends.
enum RouteNaming {
    /// OpenTelemetry's matched route pattern.
    static let routeKey = "http.route"
    /// The request method: the current OpenTelemetry key, then the older one.
    static let methodKeys = ["http.request.method", "http.method"]
    /// What Hummingbird puts in `http.route` when no route matched.
    static let hummingbirdNotFound = "NotFound"
    /// The route name of requests that matched no route, as ProfdHummingbird names them.
    static let unmatchedRoute = ProfClient.unmatchedRoute
    /// The response status: the current OpenTelemetry key, then the older one.
    static let statusKeys = ["http.response.status_code", "http.status_code"]

    /// The report's route name: `"<method> <http.route>"`, else the operation name (after the method when the
    /// name is a path). Route parameters are rewritten according to `style`; Hummingbird's `NotFound`
    /// becomes `(unmatched)`, so that every URL no route matched shares one report.
    static func route(operationName: String, attributes: SpanAttributes, style: ProfdTracer.RouteParameterStyle) -> String {
        let method = methodKeys.lazy.compactMap { string(attributes.get($0)) }.first { !$0.isEmpty } ?? ""
        if let route = string(attributes.get(routeKey)), !route.isEmpty {
            let name = route == hummingbirdNotFound ? unmatchedRoute : styled(route, style)
            return ProfClient.routeName(method: method, route: name)
        }
        let name = styled(operationName, style)
        return name.hasPrefix("/") ? ProfClient.routeName(method: method, route: name) : name
    }

    /// The HTTP status: the status attribute, else 500 for an error status, else 0 (unknown).
    static func status(attributes: SpanAttributes, isError: Bool) -> Int {
        if let status = statusKeys.lazy.compactMap({ integer(attributes.get($0)) }).first {
            return status
        }
        return isError ? 500 : 0
    }

    /// `path` with every whole-segment capture `{name}` written as `:name` for `.colon` (other forms, such as
    /// `{name}.jpg`, stay as they are); unchanged for `.asReported`. The same rule as ProfdHummingbird's.
    static func styled(_ path: String, _ style: ProfdTracer.RouteParameterStyle) -> String {
        guard style == .colon, path.contains("{") else { return path }
        return path.split(separator: "/", omittingEmptySubsequences: false).map { segment -> String in
            guard segment.count > 2, segment.first == "{", segment.last == "}" else { return String(segment) }
            let name = segment.dropFirst().dropLast()
            guard !name.contains("{"), !name.contains("}") else { return String(segment) }
            return ":" + name
        }.joined(separator: "/")
    }

    private static func string(_ attribute: SpanAttribute?) -> String? {
        switch attribute {
        case .string(let value): return value
        case .stringConvertible(let value): return value.description
        default: return nil
        }
    }

    private static func integer(_ attribute: SpanAttribute?) -> Int? {
        switch attribute {
        case .int32(let value): return Int(value)
        case .int64(let value): return Int(exactly: value)
        case .string(let value): return Int(value)
        case .stringConvertible(let value): return Int(value.description)
        default: return nil
        }
    }
}
