import ArgumentParser
import ProfdEngine
import ProfdProtocol

/// `profctl list`: the stored sessions and their routes.
struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List stored sessions, oldest first, with their routes.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let store = ReportStore(stateDirectory: global.stateDir)
        for id in store.sessionIds() {
            let routes = (try? store.routes(session: id)) ?? []
            print(id)
            for route in routes {
                print("  \(TerminalSafe.string(route.route))  requests \(route.requests)  samples \(route.samples)")
            }
        }
    }
}
