import Testing

@Test func ProfdIntegrationTestsBuilds() { #expect(Bool(true)) }
