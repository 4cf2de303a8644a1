import ArgumentParser

/// `profctl`: read and manage profd's reports.
@main
struct Profctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profctl",
        abstract: "Read profd's per-request profiles.",
        discussion: """
            Exit codes: 0 ok, 1 error, 2 usage, 3 not found.

            Examples:
              profctl dump --format text --route /compute
              profctl --state-dir ./.profd dump --format json
              profctl list
            """,
        subcommands: [Dump.self, List.self])
}

/// Options every subcommand shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "profd's state directory.")
    var stateDir: String = "/var/lib/profd"
}

/// Exit statuses profctl documents.
enum ProfctlExit {
    static let notFound = ExitCode(3)
}
