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
            Exit codes: 0 ok, 1 error (profd not running, …), 2 usage (unknown option, format \
            or flag), 3 not found (session, route, process, unit), 4 permission denied (the \
            socket, another user's process or session). Data goes to stdout, messages to stderr.

            Examples:
              profctl status
              profctl start --pid 4242 --duration 30s --wait
              profctl stop 20261126T165257.407Z-4242-3
              profctl dump --format text --route "GET /compute"
              profctl --state-dir ./.profd dump --format json
              profctl dump --format speedscope --output profile.speedscope.json
              profctl dump --format pprof --output profile.pb.gz
              profctl list
            """,
        subcommands: [Dump.self, List.self, Follow.self, Top.self, Diff.self, Status.self, Start.self, Stop.self])

    /// Accepts global options before the subcommand (`profctl --state-dir D dump`) as well as after it.
    /// Usage errors exit with 2, as documented, rather than argument-parser's 64.
    static func main() {
        let arguments = GlobalOptions.movedAfterSubcommand(Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                fail(fullMessage(for: error))
                Glibc.exit(2)
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
    static let notFound = ExitCode(3)
}
