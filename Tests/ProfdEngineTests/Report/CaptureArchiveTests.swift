import Foundation
import ProfdEngine
import Testing

@Suite("Capture archive: the raw capture stored beside the reports")
struct CaptureArchiveTests {
    /// The fixture capture with run slices and context switches, so every section of the archive is used.
    private func capture() -> Capture {
        var capture = ReportFixtures.capture()
        capture.slices = [RunSliceRecord(span: 1, threadId: 12, beginNs: 1_500, endNs: 2_500)]
        capture.add(ContextSwitch(tid: 12, timeNs: 1_700, kind: .switchOut))
        capture.add(ContextSwitch(tid: 12, timeNs: 1_800, kind: .switchIn))
        capture.threadNames = [11: "NIO-ELT-0-#0", 12: "profd-pool"]
        return capture
    }

    private func archive() -> CaptureArchive {
        let capture = capture()
        let reports = ReportBuilder(metadata: ReportFixtures.metadata, capture: capture).build(symbolize: ReportFixtures.symbolize)
        return CaptureArchive(metadata: ReportFixtures.metadata, options: ReportOptions(formats: [.html], slowThresholdNs: 900),
                              capture: capture, framesByStack: reports.framesByStack, symbolize: ReportFixtures.symbolize)
    }

    @Test("reports built again from the decoded archive are the same, byte for byte")
    func roundTrip() throws {
        let original = ReportBuilder(metadata: ReportFixtures.metadata, capture: capture(), options: ReportOptions(slowThresholdNs: 900))
            .build(symbolize: ReportFixtures.symbolize)
        let decoded = try CaptureArchive.decode(try archive().encoded())
        #expect(decoded.options == ReportOptions(formats: [.html], slowThresholdNs: 900))
        #expect(decoded.capture.threadNames == [11: "NIO-ELT-0-#0", 12: "profd-pool"])
        #expect(decoded.capture.switches.count == 2)
        let rebuilt = decoded.build()
        let text = TextRenderer()
        #expect(text.render(rebuilt.session) == text.render(original.session))
        #expect(rebuilt.routes.map(text.render) == original.routes.map(text.render))
        #expect(rebuilt.requests.map(text.render) == original.requests.map(text.render))
        #expect(try JSONRenderer().render(rebuilt.routes[0]) == JSONRenderer().render(original.routes[0]))
    }

    @Test("other options at rebuild time: a route filter applied after the fact")
    func rebuildWithOtherOptions() throws {
        let decoded = try CaptureArchive.decode(try archive().encoded())
        let rebuilt = decoded.build(options: ReportOptions(excludedRoutes: ["/hash"]))
        #expect(rebuilt.routes.map(\.scope) == [.route("/compute")])
        #expect(rebuilt.session.metadata.excludedSamples == 5)
    }

    @Test("every truncation and a flipped byte in each section fail with a clear error, never a trap")
    func malformed() throws {
        let bytes = try archive().encoded()
        for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 400)) {
            #expect(throws: EngineError.self) { try CaptureArchive.decode(Array(bytes.prefix(length))) }
        }
        #expect(throws: EngineError.self) { try CaptureArchive.decode(bytes + [0]) }
        var badMagic = bytes
        badMagic[0] = UInt8(ascii: "X")
        #expect(throws: EngineError(.captureMalformed, "not a profd capture (bad magic)")) { try CaptureArchive.decode(badMagic) }
        var newer = bytes
        newer[8] = 2
        #expect(throws: EngineError(.captureMalformed, "capture version 2 is not supported (this profctl reads 1)")) {
            try CaptureArchive.decode(newer)
        }
        // A forged sample count far beyond the data is refused before anything is reserved.
        var random = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var corrupt = bytes
            corrupt[Int.random(in: 12..<corrupt.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
            _ = try? CaptureArchive.decode(corrupt)  // must not trap; may or may not throw
        }
    }
}
