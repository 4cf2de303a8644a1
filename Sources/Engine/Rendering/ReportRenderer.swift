/// A report output format. Each format is one type in its own file.
public protocol ReportRenderer: Sendable {
    /// File extension of the format, without a dot.
    var fileExtension: String { get }
    func render(_ report: ProfileReport) throws -> String
}
