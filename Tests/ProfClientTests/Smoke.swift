import Testing

@Test func ProfClientTestsBuilds() { #expect(Bool(true)) }
