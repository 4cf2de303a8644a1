#if canImport(Glibc)
import Glibc
#endif
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

    /// A prepared state directory, and a directory outside it holding `precious`, for planted-symlink tests.
    private struct PlantedFixture {
        let root: String
        let elsewhere: String
        let store: ReportStore

        func remove() {
            try? FileManager.default.removeItem(atPath: root)
            try? FileManager.default.removeItem(atPath: elsewhere)
        }
    }

    private func plantedFixture() throws -> PlantedFixture {
        let root = try temporaryDirectory()
        let planted = PlantedFixture(root: root, elsewhere: try temporaryDirectory(), store: ReportStore(stateDirectory: root))
        try planted.store.prepare()
        try Data("keep".utf8).write(to: URL(fileURLWithPath: planted.elsewhere + "/precious"))
        return planted
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

    @Test("leftover temporaries from a crash are removed at start (recover), never by a write, and never listed")
    func leftovers() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = ReportStore(stateDirectory: root)
        try store.prepare()
        try FileManager.default.createDirectory(atPath: root + "/sessions/.tmp-half-written", withIntermediateDirectories: true)
        #expect(store.sessionIds().isEmpty)
        // A write (another writer's staging directory may be in use) leaves it alone…
        let fixture = ReportFixtures.reports()
        try store.write(session: fixture.session, routes: fixture.routes)
        #expect(FileManager.default.fileExists(atPath: root + "/sessions/.tmp-half-written"))
        // …the daemon's start removes it.
        #expect(try store.recover() == [".tmp-half-written"])
        #expect(!FileManager.default.fileExists(atPath: root + "/sessions/.tmp-half-written"))
        #expect(store.sessionIds() == [ReportFixtures.metadata.id])
    }

    @Test("planted .tmp-<id> and live symlinks are unlinked or refused, never written through")
    func plantedSymlinks() throws {
        let planted = try plantedFixture()
        defer { planted.remove() }
        let (root, elsewhere, store) = (planted.root, planted.elsewhere, planted.store)
        // The staging directory of the next session, planted as a symlink to elsewhere.
        try FileManager.default.createSymbolicLink(atPath: root + "/sessions/.tmp-" + ReportFixtures.metadata.id, withDestinationPath: elsewhere)
        let fixture = ReportFixtures.reports()
        try store.write(session: fixture.session, routes: fixture.routes)
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere) == ["precious"])
        #expect(store.sessionIds() == [ReportFixtures.metadata.id])
        // A planted leftover symlink: recover unlinks the link, not what it points to.
        try FileManager.default.createSymbolicLink(atPath: root + "/sessions/.tmp-planted", withDestinationPath: elsewhere)
        try store.recover()
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere) == ["precious"])
        // live/ as a symlink: writes are refused, and a session's live cleanup does not follow it.
        try FileManager.default.createSymbolicLink(atPath: root + "/live", withDestinationPath: elsewhere)
        try FileManager.default.createDirectory(atPath: elsewhere + "/" + ReportFixtures.metadata.id, withIntermediateDirectories: true)
        store.removeLive(session: ReportFixtures.metadata.id)
        #expect(FileManager.default.fileExists(atPath: elsewhere + "/" + ReportFixtures.metadata.id))
        store.clearLive()
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).sorted() == [ReportFixtures.metadata.id, "precious"])
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/live")) == nil, "clearLive unlinked the symlink")
    }

    @Test("a planted temporary-file symlink inside a directory is not followed")
    func plantedTemporaryFile() throws {
        let planted = try plantedFixture()
        defer { planted.remove() }
        let (root, elsewhere, store) = (planted.root, planted.elsewhere, planted.store)
        try FileManager.default.createSymbolicLink(atPath: root + "/live", withDestinationPath: elsewhere)
        try FileManager.default.removeItem(atPath: root + "/live")
        try FileManager.default.createDirectory(atPath: root + "/live/s1", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/live/s1/.tmp-top.json-\(getpid())", withDestinationPath: elsewhere + "/precious")
        try FileManager.default.createSymbolicLink(atPath: root + "/live/s1/top.json", withDestinationPath: elsewhere + "/precious")
        try store.writeTop(TopSnapshot(session: "s1", service: "svc", pid: 1, unit: nil, windowNs: 1_000_000_000, frequencyHz: 1000,
                                       countsByRoute: [:], classifier: LibraryFrameClassifier(executablePath: "/bin/svc")) { _ in [] })
        #expect(String(decoding: try Data(contentsOf: URL(fileURLWithPath: elsewhere + "/precious")), as: UTF8.self) == "keep")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/live/s1/top.json")) == nil, "top.json replaced the link")
    }

    @Test("retention removes whole sessions oldest first by size and by age, never a protected one")
    func retention() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = ReportStore(stateDirectory: root)
        let fixture = ReportFixtures.reports()
        var ids: [String] = []
        for n in 1...4 {
            var session = fixture.session
            session.metadata.id = "20261126T00000\(n).000Z-1-\(n)"
            try store.write(session: session, routes: fixture.routes)
            ids.append(session.metadata.id)
        }
        let one = ReportStore.diskBytes(under: store.sessionDirectory(ids[0]))
        let all = ReportStore.diskBytes(under: store.sessionsDirectory)
        // Room for about two sessions: the two oldest go, by size.
        let (removed, usage) = store.enforceRetention(RetentionPolicy(maximumAgeSeconds: 0, maximumBytes: all - one - one / 2))
        #expect(removed.map(\.session) == [ids[0], ids[1]])
        #expect(removed.allSatisfy { $0.reason == .size })
        #expect(store.sessionIds() == [ids[2], ids[3]])
        #expect(usage.sessions == 2)
        // Everything is older than 1 s a minute from now: all go by age except the protected one.
        let (aged, _) = store.enforceRetention(RetentionPolicy(maximumAgeSeconds: 1, maximumBytes: 0), protected: [ids[3]], now: time(nil) + 60)
        #expect(aged.map(\.session) == [ids[2]] && aged[0].reason == .age)
        #expect(store.sessionIds() == [ids[3]])
        // Unlimited removes nothing; a limit smaller than the one protected session keeps it.
        #expect(store.enforceRetention(.unlimited).removed.isEmpty)
        #expect(store.enforceRetention(RetentionPolicy(maximumAgeSeconds: 0, maximumBytes: 1), protected: [ids[3]]).removed.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.sessionsDirectory) == [ids[3]], "no .tmp-rm-* left")
    }

    @Test("retention option values", arguments: [
        ("14d", UInt64(14 * 86_400)), ("12h", 43_200), ("30m", 1_800), ("90s", 90), ("2w", 1_209_600), ("0", 0), ("3600", 3_600),
    ])
    func ages(text: String, seconds: UInt64) {
        #expect(RetentionPolicy.parseAge(text) == seconds)
    }

    @Test("retention size values")
    func sizes() {
        #expect(RetentionPolicy.parseBytes("1G") == 1 << 30)
        #expect(RetentionPolicy.parseBytes("1GiB") == 1 << 30)
        #expect(RetentionPolicy.parseBytes("512M") == 512 << 20)
        #expect(RetentionPolicy.parseBytes("64K") == 64 << 10)
        #expect(RetentionPolicy.parseBytes("0") == 0)
        #expect(RetentionPolicy.parseBytes("1000") == 1000)
        #expect(RetentionPolicy.parseBytes("x") == nil)
        #expect(RetentionPolicy.parseAge("14x") == nil)
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
