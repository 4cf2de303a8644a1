import Foundation
import ProfdEngine
import Testing

@Suite("Report store")
struct ReportStoreTests {
    private func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("profd-store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("a session is written whole and read back by route")
    func roundTrip() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = ReportStore(stateDirectory: root)
        let fixture = ReportFixtures.reports(); let (session, routes) = (fixture.session, fixture.routes)
        let directory = try store.write(session: session, routes: routes)
        #expect(directory == root + "/sessions/" + ReportFixtures.metadata.id)
        #expect(store.sessionIds() == [ReportFixtures.metadata.id])
        let index = try store.routes(session: ReportFixtures.metadata.id)
        #expect(index.map(\.route) == ["/compute", "/hash"])
        #expect(index[0].files["text"] == "routes/%2Fcompute.txt")
        let text = String(decoding: try store.readFile(session: ReportFixtures.metadata.id, relativePath: index[0].files["text"]!), as: UTF8.self)
        #expect(text.contains("DemoApp.randomNumber()"))
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(names == ["routes", "session.json", "session.txt"])
        let mode = try FileManager.default.attributesOfItem(atPath: directory + "/session.json")[.posixPermissions] as? Int
        #expect(mode == 0o640)
    }

    @Test("leftover temporaries from a crash are removed and never listed")
    func leftovers() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = ReportStore(stateDirectory: root)
        try store.prepare()
        try FileManager.default.createDirectory(atPath: root + "/sessions/.tmp-half-written", withIntermediateDirectories: true)
        #expect(store.sessionIds().isEmpty)
        try store.prepare()
        #expect(!FileManager.default.fileExists(atPath: root + "/sessions/.tmp-half-written"))
    }

    @Test("a planted symlink for the sessions directory is refused")
    func symlinkRefused() throws {
        let root = try temporaryDirectory()
        let elsewhere = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root); try? FileManager.default.removeItem(atPath: elsewhere) }
        try FileManager.default.createSymbolicLink(atPath: root + "/sessions", withDestinationPath: elsewhere)
        let fixture = ReportFixtures.reports(); let (session, routes) = (fixture.session, fixture.routes)
        #expect(throws: EngineError.self) { try ReportStore(stateDirectory: root).write(session: session, routes: routes) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty)
    }

    @Test("route file names are safe and distinct", arguments: [
        ("/compute", "%2Fcompute"),
        ("/users/:id", "%2Fusers%2F%3Aid"),
        ("../../etc/passwd", "%2E.%2F..%2Fetc%2Fpasswd"),
        ("", "%00"),
    ])
    func routeFileNames(route: String, expected: String) {
        #expect(ReportStore.fileName(forRoute: route) == expected)
    }

    @Test("very long routes get a bounded name")
    func longRoute() {
        let a = ReportStore.fileName(forRoute: "/" + String(repeating: "a", count: 5_000))
        let b = ReportStore.fileName(forRoute: "/" + String(repeating: "a", count: 5_001))
        #expect(a.utf8.count < 200)
        #expect(a != b)
    }
}
