import Testing

@Test func ProfdEngineTestsBuilds() { #expect(Bool(true)) }
