/// When items move between tiers. Defaults are those of MaLP's released code where it has one.
public struct MemorySchedule: Sendable, Equatable, Codable {
    /// Working memory (the session) holds at most this many turns; older ones move to short-term.  (MaLP: 50)
    public var workingCapacity = 50
    /// Short-term memory holds at most this many items after a refresh.                           (MaLP: 100)
    public var shortCapacity = 100
    /// Rehearsals (retrievals or repetitions) after which a short-term item is consolidated.      (MaLP: 3)
    public var rehearsalThreshold = 3
    /// Consolidation runs every this many interactions.                                          (MaLP: 5)
    public var consolidateEvery = 5
    /// Short-term memory is refreshed (lowest-value items forgotten) every this many interactions. (MaLP: 25)
    public var refreshEvery = 25
    /// Items at least this important skip short-term and go to long-term memory at once.
    public var importanceThreshold = 0.9
    /// Long-term items whose term sets (stop words out) overlap at least this much (Jaccard) are merged.
    public var nearDuplicateSimilarity = 0.85
    /// Search ignores query words found in more than this fraction of the items (keeping the rarest).
    public var commonTermFraction = 0.05
    /// Recency half-life, in days, used by retrieval ranking and by short-term decay.
    public var recencyHalfLifeDays = 30.0
    /// A vague note ("I am …") supersedes an older one with its frame only when their embeddings
    /// are at least this similar.
    public var supersessionSimilarity = 0.6

    public init() {}
}
