import Foundation
import ProfdEngine
import Testing

/// Sessions profctl attached to a process without ProfClient: no spans, one whole-process tree.
@Suite("attach-mode reports")
struct AttachReportTests {
    func reports(mode: String?) -> ReportBuilder.Reports {
        var capture = Capture()
        for time in 0..<6 { capture.add(tid: 7, timeNs: UInt64(time), addresses: [0x20, 0x10], inKernel: false) }
        for time in 0..<2 { capture.add(tid: 8, timeNs: UInt64(time), addresses: [0x30, 0x10], inKernel: false) }
        let metadata = SessionMetadata(id: "20261126T111755.123Z-4242-1", service: "worker", pid: 4242, uid: 1000,
                                       executable: "/app", startedAt: "2026-11-26T11:17:55.123Z",
                                       endedAt: "2026-11-26T11:17:57.123Z", durationNs: 2_000_000_000, frequencyHz: 1000,
                                       endReason: "duration-elapsed", complete: true, mode: mode, daemonVersion: "0.1.0")
        let names: [UInt64: String] = [0x10: "App.main()", 0x20: "App.hot()", 0x30: "App.cold()"]
        return ReportBuilder(metadata: metadata, capture: capture).build { stack in
            stack.addresses.map { Frame(function: names[$0] ?? "?", binary: "/app") }
        }
    }

    @Test("the session tree is the process: no (unattributed) route frame, no route reports")
    func wholeProcessTree() throws {
        let attach = reports(mode: SessionMetadata.attachMode)
        #expect(attach.routes.isEmpty && attach.requests.isEmpty)
        let tree = attach.session.tree
        let top = tree.root.children.compactMap { tree.nodes[$0].frame }
        #expect(top == [Frame(function: "App.main()", binary: "/app")])
        #expect(tree.root.totalSamples == 8)

        // A client session without spans keeps its (unattributed) route frame, as before.
        let client = reports(mode: nil).session.tree
        #expect(client.root.children.compactMap { client.nodes[$0].frame?.function } == [ReportBuilder.unattributedRoute])
    }

    @Test("JSON carries mode: attach (and leaves it out for a client's session); text says it is the whole process")
    func rendering() throws {
        let json = try JSONRenderer().render(reports(mode: SessionMetadata.attachMode).session)
        #expect(json.contains(#""mode" : "attach""#) || json.contains(#""mode":"attach""#))
        let document = try JSONDecoder().decode(JSONRenderer.Document.self, from: Data(json.utf8))
        #expect(document.session.mode == "attach" && document.session.isAttach)
        #expect(!(try JSONRenderer().render(reports(mode: nil).session)).contains(#""mode""#))
        let text = TextRenderer().render(reports(mode: SessionMetadata.attachMode).session)
        #expect(text.contains("attached: the whole process, no requests"))
        #expect(text.contains("App.hot()") && !text.contains("(unattributed)"))
    }
}
