import Testing

@Test func evaluationPlaceholder() {}
