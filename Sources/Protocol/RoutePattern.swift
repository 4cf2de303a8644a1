/// Glob matching of route names, shared by the client (what it prints) and the daemon (what it reports): `*` matches any run of characters (slashes included); everything else
/// matches itself. `"GET /api/*"` matches `"GET /api/users/:id"`.
public enum RoutePattern {
    public static func matches(_ route: String, pattern: String) -> Bool {
        let text = Array(route.unicodeScalars)
        let glob = Array(pattern.unicodeScalars)
        // Iterative wildcard matching with one backtrack point: linear in practice, never exponential.
        var t = 0, g = 0
        var starG = -1, starT = 0
        while t < text.count {
            if g < glob.count, glob[g] != "*", glob[g] == text[t] {
                t += 1; g += 1
            } else if g < glob.count, glob[g] == "*" {
                starG = g; starT = t; g += 1
            } else if starG >= 0 {
                starT += 1; t = starT; g = starG + 1
            } else {
                return false
            }
        }
        while g < glob.count, glob[g] == "*" { g += 1 }
        return g == glob.count
    }
}

extension RoutePattern {
    /// The route filter the client and the daemon share: a route is kept unless an excluded pattern matches
    /// it, and, when there are included patterns, only if one of them matches.
    public static func selects(_ route: String, included: [String], excluded: [String]) -> Bool {
        if excluded.contains(where: { matches(route, pattern: $0) }) { return false }
        return included.isEmpty || included.contains(where: { matches(route, pattern: $0) })
    }
}
