import Testing

@Test func ProfdProtocolTestsBuilds() { #expect(Bool(true)) }
