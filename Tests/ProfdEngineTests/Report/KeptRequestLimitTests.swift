import Foundation
import ProfdEngine
import Testing

/// `--max-kept-requests-per-session` in the report builder: when more requests qualify than the limit,
/// the errors and the slowest keep a report, and the rest are counted.
@Suite("Kept requests beyond the per-session limit")
struct KeptRequestLimitTests {
    /// Ten finished /work requests, 10 µs apart, every one slow enough for a 0 ns threshold. Span 3 is
    /// the fastest but failed (503); spans 10 and 2 are the slowest; spans 5 and 7 tie.
    static let wallNsById: [UInt64: UInt64] = [1: 500, 2: 900, 3: 100, 4: 700, 5: 300, 6: 800, 7: 300, 8: 600, 9: 400, 10: 1_000]

    static func capture() -> Capture {
        var capture = Capture()
        capture.spans = (1...10 as ClosedRange<UInt64>).map { id in
            let begin = id * 10_000
            return SpanRecord(spanId: id, route: "/work", threadId: 11, beginNs: begin, endNs: begin + wallNsById[id]!,
                              endThreadId: 11, status: id == 3 ? 503 : 200)
        }
        for id in 1...10 as ClosedRange<UInt64> {
            capture.add(tid: 11, timeNs: id * 10_000 + 50, addresses: [0x1003] + ReportFixtures.base, inKernel: false)
        }
        return capture
    }

    static func build(limit: Int?) -> ReportBuilder.Reports {
        ReportBuilder(metadata: ReportFixtures.metadata, capture: capture(), options: ReportOptions(slowThresholdNs: 0),
                      maximumKeptRequests: limit).build(symbolize: ReportFixtures.symbolize)
    }

    static func keptIds(_ reports: ReportBuilder.Reports) -> [UInt64] {
        reports.requests.compactMap { if case .request(let kept) = $0.scope { kept.spanId } else { nil } }
    }

    @Test("a limit of 3 keeps the server error and the two slowest, in start order, and counts the other 7")
    func errorsThenSlowest() throws {
        let reports = Self.build(limit: 3)
        #expect(Self.keptIds(reports) == [2, 3, 10])
        #expect(reports.session.keptRequests.map(\.spanId) == [2, 3, 10])
        #expect(reports.session.metadata.skippedKeptRequests == 7)
        // The skipped ones lose only their own file: the route and the session still count all ten.
        #expect(reports.session.requests.count == 10)
        #expect(reports.routes.first?.requests.count == 10)
        #expect(reports.routes.first?.samples == 10)
        let text = TextRenderer().render(reports.session)
        #expect(text.contains("kept requests: 3 with a report of their own, 7 more qualified but were skipped"), "\(text)")
        let json = try JSONRenderer().render(reports.session)
        let document = try JSONDecoder().decode(JSONRenderer.Document.self, from: Data(json.utf8))
        #expect(document.session.skippedKeptRequests == 7)
    }

    @Test("ties in wall time go to the earliest request, so the same capture always keeps the same requests")
    func deterministicTies() {
        // Error 3, then 10, 2, 6, 4, 8, 1, 9, then 5 and 7 tie at 300 ns: 5 began first.
        #expect(Self.keptIds(Self.build(limit: 9)) == [1, 2, 3, 4, 5, 6, 8, 9, 10])
        #expect(Self.keptIds(Self.build(limit: 9)) == Self.keptIds(Self.build(limit: 9)))
    }

    @Test("no limit keeps all and leaves the count out; a limit of 0 keeps none; a limit above the count skips none")
    func edges() {
        let unlimited = Self.build(limit: nil)
        #expect(unlimited.requests.count == 10)
        #expect(unlimited.session.metadata.skippedKeptRequests == nil)
        #expect(!TextRenderer().render(unlimited.session).contains("kept requests:"))
        let none = Self.build(limit: 0)
        #expect(none.requests.isEmpty && none.session.keptRequests.isEmpty)
        #expect(none.session.metadata.skippedKeptRequests == 10)
        let roomy = Self.build(limit: 50)
        #expect(roomy.requests.count == 10)
        #expect(roomy.session.metadata.skippedKeptRequests == 0)
        #expect(!TextRenderer().render(roomy.session).contains("kept requests:"))
    }
}
