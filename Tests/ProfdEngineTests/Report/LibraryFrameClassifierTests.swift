import Testing
@testable import ProfdEngine

@Suite struct LibraryFrameClassifierTests {
    let classifier = LibraryFrameClassifier(executablePath: "/srv/app")

    func frame(_ function: String) -> Frame { Frame(function: function, binary: "/srv/app") }

    @Test("a standard-library witness inlined into the app folds; a witness of the app's own conformance does not",
          arguments: [
              ("protocol witness for Swift.FixedWidthInteger.multipliedFullWidth(by:) in conformance Swift.UInt64 : Swift.FixedWidthInteger in Swift", true),
              ("protocol witness for Swift.Sequence.makeIterator() in conformance App.Ring : Swift.Sequence in App", false),
              // As reports show them: simplified, without the conformance's module.
              ("protocol witness for Swift.FixedWidthInteger.multipliedFullWidth(by:) in conformance Swift.UInt", true),
              ("protocol witness for Hummingbird.ResponseGenerator.response(from:context:) in conformance Swift.String", true),
              ("protocol witness for Swift.Sequence.makeIterator() in conformance App.Ring", false),
              ("protocol witness for App.Scoring.score() in conformance Swift.Int", false),
              ("closure #1 in Swift.Array.map<A>(_:)", true),
              ("App.compute(iterations:)", false),
          ])
    func witnesses(function: String, isLibrary: Bool) {
        #expect(classifier.isLibrary(frame(function)) == isLibrary)
    }

    @Test("hidden frames name a witness's module, not the word 'conformance'")
    func witnessModuleNames() {
        let frames = [frame("protocol witness for Swift.FixedWidthInteger.multipliedFullWidth(by:) in conformance Swift.UInt"),
                      frame("protocol witness for HTTPTypes.HTTPFields.subscript.getter in conformance HTTPTypes.HTTPFields"),
                      frame("closure #1 in NIOCore.EventLoop.execute(_:)")]
        #expect(DisplayNode.libraryNames(frames) == ["Swift", "HTTPTypes", "NIOCore"])
    }
}
