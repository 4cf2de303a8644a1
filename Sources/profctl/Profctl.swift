import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// `profctl`: read and manage profd's reports.
@main
struct Profctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profctl",
        abstract: "Read profd's per-request profiles, and control the running daemon.",
        discussion: """
            Reads the reports profd writes under its state directory (--state-dir, default
            /var/lib/profd): directly when the caller can read it (root, the profd user, a copy),
            else through profd over its socket (--socket), which shows each user only the sessions
            of its own uid (root and members of profd's --admin-group see all). status, start and
            stop always talk to profd. Data goes to stdout, messages to stderr. Times are UTC.

            Exit codes:
              0  ok
              1  error (profd not running: systemctl start profd.socket)
              2  usage: an unknown option, format or flag, or options that do not combine
              3  not found: no such state directory, session, route, kept request, process
                 or unit (an unknown session id is answered with the nearest ids)
              4  permission denied: a report, the socket, or another user's process or
                 session; the socket is for group profd: `usermod -aG profd $USER`. Another
                 user's stored session is "not found" (3): it is not listed either

            Shell completions: profctl --generate-completion-script bash|zsh|fish
            (make install puts them where bash-completion, zsh and fish look).

            Examples:
              profctl status
              profctl start --pid 4242 --duration 30s --wait
              profctl list --since -1h
              profctl list --slowest 5 --route "GET /compute"
              profctl dump --format text --route "GET /compute"
              profctl dump --request 17 --open
              profctl --state-dir ./.profd dump --format json
              profctl dump --format pprof --output profile.pb.gz
              profctl diff                # the previous session against the latest
              profctl follow              # kept requests as running sessions keep them
              profctl top                 # hottest routes and functions, live
            """,
        subcommands: [Dump.self, List.self, Follow.self, Top.self, Diff.self, Status.self, Start.self, Stop.self])

    /// Accepts global options before the subcommand (`profctl --state-dir D dump`) as well as after it.
    /// Usage errors exit with 2, as documented, rather than argument-parser's 64.
    static func main() {
        let arguments = GlobalOptions.movedAfterSubcommand(Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch let error as ProfctlError {
            fail(error.message)
            Glibc.exit(error.code.rawValue)
        } catch {
            if exitCode(for: error) == .validationFailure {
                fail(fullMessage(for: error))
                Glibc.exit(ProfctlExit.usage.rawValue)
            }
            exit(withError: error)
        }
    }
}

/// Options every subcommand shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "profd's state directory.")
    var stateDir: String = "/var/lib/profd"

    /// Options that take a value and may precede the subcommand.
    static let valued = ["--state-dir"]

    /// Moves leading global options behind the subcommand name, where argument-parser looks for them.
    static func movedAfterSubcommand(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var rest = arguments[...]
        while let first = rest.first {
            if valued.contains(first), rest.count >= 2 {
                leading += rest.prefix(2)
                rest = rest.dropFirst(2)
            } else if valued.contains(where: { first.hasPrefix($0 + "=") }) {
                leading.append(first)
                rest = rest.dropFirst()
            } else {
                break
            }
        }
        guard !leading.isEmpty, let subcommand = rest.first else { return arguments }
        return [subcommand] + leading + rest.dropFirst()
    }
}

/// Exit statuses profctl documents.
enum ProfctlExit {
    static let usage = ExitCode(2)
    static let notFound = ExitCode(3)
    /// Not allowed: a report or the state directory, the daemon's socket, or another user's process or session.
    static let permission = ExitCode(4)
}
