import Testing

@Test func coordinatorPlaceholder() {}
