/// The most common English words, dropped from search queries (not from the index): they match
/// nearly every item, cost the most to look up, and rank nothing. A query made only of them keeps them.
enum StopWords {
    static let english: Set<String> = [
        "a", "about", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by",
        "can", "could", "did", "do", "does", "for", "from", "had", "has", "have", "he", "her", "here", "him",
        "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "me", "more", "my", "no", "not",
        "of", "on", "one", "or", "our", "out", "over", "s", "she", "so", "some", "than", "that", "the",
        "their", "them", "then", "there", "these", "they", "this", "to", "up", "us", "was", "we", "were",
        "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your", "t", "d",
        "ll", "re", "ve", "m", "let", "tell", "please", "get", "got", "very", "should",
    ]

    /// The query's terms without stop words (or all of them when nothing else is left).
    static func filter(_ terms: [String]) -> [String] {
        let kept = terms.filter { !english.contains($0) }
        return kept.isEmpty ? terms : kept
    }
}
