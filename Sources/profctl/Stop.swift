import ArgumentParser
import ProfdProtocol

/// `profctl stop`: end an attach session and print its report directory.
struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop an attach session (from profctl start) and print its report directory.",
        discussion: """
            Waits until profd has written the session's reports, then prints their directory. You \
            may stop the sessions you started (or that profile your processes); root may stop any. \
            A client's own session (ProfClient) ends when the client stops it, not here.

            Exit codes: 3 no such session (or no attach session profiles that pid), 4 not yours.

            Examples:
              profctl stop 20261126T165257.407Z-4242-3
              profctl stop --pid 4242
              profctl dump --session 20261126T165257.407Z-4242-3
            """)

    @OptionGroup var socket: SocketOptions

    @Argument(help: ArgumentHelp("The session id that profctl start printed.", valueName: "session-id"))
    var sessionId: String?

    @Option(name: .long, help: "Stop the attach session that profiles this process.")
    var pid: Int32?

    func validate() throws {
        guard (sessionId == nil) != (pid == nil) else { throw ValidationError("give exactly one of SESSION_ID and --pid N") }
    }

    func run() throws {
        let client = try DaemonClient.connect(socket.path)
        let id: String
        if let sessionId {
            id = sessionId
        } else {
            let pid = pid ?? 0
            let sessions = try client.status().document.sessions.filter { $0.pid == pid }
            guard let attach = sessions.first(where: { $0.kind == "attach" }) else {
                if let own = sessions.first {
                    fail("pid \(pid) is profiled by its own ProfClient session \(TerminalSafe.string(own.id)); it ends when the client stops it")
                } else {
                    fail("no attach session of yours profiles pid \(pid) (profctl status lists them)")
                }
                throw ProfctlExit.notFound
            }
            id = attach.id
        }
        try client.send(.attachStop(AttachStop(sessionId: id)))
        while true {
            if case .message(.sessionStopped(let stopped)) = try client.reply(), stopped.sessionId == id {
                emitLine(stopped.reportDirectory)
                return
            }
        }
    }
}
