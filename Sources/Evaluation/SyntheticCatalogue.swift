/// The fixed material of the synthetic users: kinds of film, review phrases, news stories, paper
/// topics and tweets, with slots that a seeded generator fills. Public so that tests can check
/// that every gold follows from the user's own profile.
public enum SyntheticCatalogue {
    /// A kind of film: its name, the words only its descriptions use (its signature), and
    /// description templates with the slots {name}, {name2}, {place}, {number}.
    public struct FilmKind: Sendable {
        public let name: String
        public let signature: Set<String>
        public let templates: [String]
    }

    public static let names = [
        "Ana", "Ben", "Clara", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas",
        "Kira", "Leo", "Maya", "Nils", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tess",
    ]
    public static let places = [
        "Lisbon", "Oslo", "Nairobi", "Osaka", "Quebec", "Valparaiso", "Tbilisi", "Glasgow",
        "Hanoi", "Perth", "Bergen", "Seville", "Krakow", "Montreal",
    ]

    /// Twelve kinds of film. A synthetic user gives each kind their own tag.
    public static let filmKinds: [FilmKind] = [
        FilmKind(name: "space adventure",
                 signature: ["spaceship", "orbit", "galaxy", "planet", "astronaut", "starship"],
                 templates: [
                    "When the spaceship that {name} commands loses its orbit, the astronaut and {number} companions must cross the galaxy to reach a safe planet.",
                    "{name}, a young astronaut from {place}, joins a battered starship racing across the galaxy to a dying planet.",
                    "Stranded in orbit around an unknown planet, {name} repairs the spaceship while {name2} searches the galaxy for a signal.",
                 ]),
        FilmKind(name: "courtroom drama",
                 signature: ["trial", "lawyer", "jury", "verdict", "courtroom", "judge"],
                 templates: [
                    "A stubborn lawyer from {place}, {name} defends a stranger at a murder trial that the judge wants over in {number} days.",
                    "In a crowded courtroom, {name} must convince the jury before the verdict, while {name2} hides the evidence that could end the trial.",
                    "When the judge refuses new evidence, lawyer {name} risks a career to turn the jury before the verdict in {place}.",
                 ]),
        FilmKind(name: "haunted house",
                 signature: ["haunted", "ghost", "mansion", "attic", "whispers", "seance"],
                 templates: [
                    "{name} inherits a haunted mansion outside {place} and hears whispers from the attic every night at {number}.",
                    "A family moves into an old mansion where a ghost writes names in the attic dust and whispers to {name}.",
                    "After a seance goes wrong, {name} and {name2} are trapped in a haunted mansion where the ghost never sleeps.",
                 ]),
        FilmKind(name: "heist",
                 signature: ["vault", "heist", "thieves", "casino", "safecracker", "loot"],
                 templates: [
                    "{name} gathers {number} thieves for one last heist: the vault under the biggest casino in {place}.",
                    "A retired safecracker, {name}, is forced back for a heist when {name2} steals the loot from the vault first.",
                    "The casino vault of {place} holds the loot of a lifetime, and {name} has one night and a crew of thieves to empty it.",
                 ]),
        FilmKind(name: "romance in Paris",
                 signature: ["paris", "cafe", "love", "seine", "painter", "letters"],
                 templates: [
                    "{name}, a shy painter from {place}, falls in love with {name2} in a small cafe by the Seine in Paris.",
                    "Two strangers keep meeting at the same Paris cafe and fall in love through {number} letters left on the table.",
                    "On a summer in Paris, {name} walks along the Seine every evening, writing letters of love to a painter.",
                 ]),
        FilmKind(name: "zombie outbreak",
                 signature: ["zombie", "zombies", "outbreak", "infected", "quarantine", "survivors"],
                 templates: [
                    "When an outbreak turns {place} into a city of zombies, {name} leads {number} survivors to the quarantine zone.",
                    "{name} hides the bite from the other survivors as the infected close in and the zombie hordes breach the quarantine.",
                    "Days after the outbreak, {name} and {name2} cross a land of infected zombies to find survivors beyond the quarantine wall.",
                 ]),
        FilmKind(name: "boxing comeback",
                 signature: ["boxer", "ring", "champion", "gym", "knockout", "bout"],
                 templates: [
                    "An aging boxer from {place}, {name} returns to the ring for a last bout against the young champion.",
                    "{name} trains in a dusty gym for {number} months to win back the title of champion after a brutal knockout.",
                    "After a knockout ended a career, boxer {name} is coached by {name2} for one more bout in the ring.",
                 ]),
        FilmKind(name: "time travel",
                 signature: ["timeline", "paradox", "century", "machine", "rewind", "future"],
                 templates: [
                    "{name} builds a machine in a garage in {place} and jumps a century back, creating a paradox in the timeline.",
                    "A message from the future warns {name} that the machine {name2} is building will erase the timeline.",
                    "Each time {name} uses the rewind machine, the timeline breaks further and the paradox spreads across a century.",
                 ]),
        FilmKind(name: "spy thriller",
                 signature: ["spy", "agent", "embassy", "defector", "intelligence", "codename"],
                 templates: [
                    "A spy with the codename {name} must smuggle a defector out of the embassy in {place} within {number} hours.",
                    "Intelligence agent {name} learns that {name2}, her handler, sold the names of every spy in the embassy.",
                    "When a defector walks into the embassy in {place}, agent {name} discovers a mole inside intelligence.",
                 ]),
        FilmKind(name: "family road trip",
                 signature: ["road", "trip", "van", "highway", "siblings", "motel"],
                 templates: [
                    "{name} drives three bickering siblings in an old van on a road trip from {place} to the sea.",
                    "A broken van strands {name} and {name2} in a roadside motel halfway along the highway of their trip.",
                    "After {number} years apart, siblings {name} and {name2} share a van and a long road trip down the highway.",
                 ]),
        FilmKind(name: "pirate treasure",
                 signature: ["pirate", "pirates", "treasure", "captain", "island", "map"],
                 templates: [
                    "Captain {name} follows an old map to a treasure buried on an island the pirates of {place} fear.",
                    "{name} steals a treasure map from the pirate captain {name2} and sails for the island alone.",
                    "A crew of {number} pirates mutiny against captain {name} to claim the treasure of a cursed island.",
                 ]),
        FilmKind(name: "lost world",
                 signature: ["dinosaur", "dinosaurs", "jungle", "expedition", "fossil", "prehistoric"],
                 templates: [
                    "An expedition led by {name} finds living dinosaurs in a prehistoric jungle far from {place}.",
                    "{name}, a fossil hunter, joins {name2} on an expedition into a jungle where dinosaurs never died out.",
                    "After {number} weeks in the jungle, the expedition of {name} meets a prehistoric dinosaur guarding a fossil bed.",
                 ]),
    ]

    /// Review phrases by latent sentiment 1…5 (index 0 holds sentiment 1); `{p}` is the product.
    public static let reviewPhrases: [[String]] = [
        ["This {p} broke after two days and support never answered.",
         "Worst {p} I have ever bought, it does not work at all.",
         "A complete waste of money: the {p} arrived damaged and useless."],
        ["The {p} works, but poorly, and it feels flimsy.",
         "Disappointing {p} that does half of what it promises.",
         "I expected more from this {p}; it is noisy and awkward."],
        ["An average {p} that does the job and nothing more.",
         "The {p} is fine for the price, with a few annoyances.",
         "Neither good nor bad, this {p} is simply ordinary."],
        ["A good {p} that works well, and I would buy it again.",
         "Solid {p} with only one small flaw.",
         "I am happy with this {p}; it is sturdy and easy to use."],
        ["Excellent {p}, it exceeded every expectation!",
         "Perfect {p}, flawless and a joy to use every day.",
         "The best {p} I have owned, I recommend it to everyone."],
    ]
    public static let products = [
        "blender", "pair of headphones", "backpack", "desk lamp", "coffee grinder", "pair of running shoes",
        "phone case", "kettle", "board game", "yoga mat", "umbrella", "water bottle", "keyboard", "tent",
        "wallet", "toaster", "office chair", "rice cooker",
    ]
    public static let reviewContexts = [
        "I used it for a week.", "I took it on a camping trip.", "I use it at the office.",
        "I use it every morning.", "It was a gift for my brother.", "I bought it on sale.",
        "I have had it for a month.", "My whole family uses it.",
    ]

    /// News stories: an article template and the plain headline it deserves. Slots: {place},
    /// {day}, {number}, {item}, {team}, {team2}, {company}.
    public struct Story: Sendable {
        public let article: String
        public let headline: String
        public let items: [String]
    }
    public static let days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    public static let teams = ["the Harbor Hawks", "the Valley Wolves", "the River Otters", "the Iron Bears", "the Coastal Gulls"]
    public static let companies = ["Northwind", "Brightline", "Kestrel Labs", "Bluefin", "Orchard Systems"]
    public static let stories: [Story] = [
        Story(article: "The city council of {place} voted on {day} to approve a budget of {number} million for {item}. Council members said the money will be spent over the next two years, and residents can comment on the plan until the end of the month.",
              headline: "{place} council approves {number} million budget for {item}",
              items: ["schools", "parks", "roads", "housing", "libraries", "bike lanes"]),
        Story(article: "{team} beat {team2} on {day} in front of a sold-out crowd in {place}, winning the {item} final after a late goal. The coach praised the defense and said the team had worked all season for this moment.",
              headline: "{team} beat {team2} to win the {item} final",
              items: ["cup", "league", "regional", "youth", "winter"]),
        Story(article: "A storm brought heavy rain and strong winds to {place} on {day}, closing schools and cutting power to {number} thousand homes. Officials said crews were working to clear fallen {item} and restore power by the weekend.",
              headline: "Storm cuts power to {number} thousand homes in {place}",
              items: ["trees", "power lines", "signs", "branches"]),
        Story(article: "{company} unveiled a new {item} on {day} at an event in {place}. The company said the product will go on sale next month and cost about {number} dollars, and analysts expect strong demand.",
              headline: "{company} unveils new {item} in {place}",
              items: ["electric bike", "smart kettle", "solar panel", "phone", "laptop", "drone"]),
        Story(article: "Researchers at the University of {place} announced on {day} that they have found a new {item}. The team spent {number} months on the study, which was published in a leading journal.",
              headline: "{place} researchers discover new {item}",
              items: ["species of frog", "way to store solar power", "antibiotic", "comet", "ancient shipwreck"]),
        Story(article: "A new {item} opened in {place} on {day}, and {number} hundred people visited on the first morning. The mayor said the project had taken four years and came in under budget.",
              headline: "New {item} opens in {place}",
              items: ["tram line", "public library", "swimming pool", "bridge", "concert hall"]),
    ]

    /// Paper topics for title generation: a problem, a method and an approach.
    public static let problems = [
        "long document summarization", "low resource translation", "graph classification",
        "protein folding", "speech recognition in noise", "image retrieval", "code completion",
        "weather forecasting", "anomaly detection", "question answering",
    ]
    public static let approaches = [
        "sparse attention", "contrastive pretraining", "curriculum learning", "mixture of experts",
        "knowledge distillation", "retrieval augmentation", "graph neural networks", "diffusion models",
    ]
    public static let datasets = ["six benchmarks", "three public datasets", "a new corpus", "two standard benchmarks"]
    public static let abstractTemplate = "We study {problem}. Existing methods are slow and need large labeled sets. We propose a method based on {approach} that reuses what the model has already learned. Experiments on {dataset} show that it improves accuracy by {number} percent while halving the cost."
    public static let titleTemplate = "{problem} with {approach}"

    /// Tweets: a neutral statement (what LaMP-7 asks to paraphrase) and the plain tweet.
    public struct Tweet: Sendable {
        public let statement: String
        public let tweet: String
        public let items: [String]
    }
    public static let tweets: [Tweet] = [
        Tweet(statement: "Today I finished a {number} kilometre run along the river in {place}.",
              tweet: "finished a {number}k run along the river in {place}", items: [""]),
        Tweet(statement: "I have just started reading {item}, and I am enjoying it.",
              tweet: "just started reading {item} and loving it", items: ["a book about whales", "a mystery novel", "a biography of a chef", "a sci-fi series"]),
        Tweet(statement: "My flight to {place} was delayed by {number} hours this morning.",
              tweet: "flight to {place} delayed {number} hours", items: [""]),
        Tweet(statement: "I cooked {item} for my friends tonight and it turned out well.",
              tweet: "cooked {item} for friends tonight and it worked", items: ["a lasagna", "a curry", "fresh pasta", "a big paella"]),
        Tweet(statement: "The concert in {place} last night was wonderful.",
              tweet: "that concert in {place} last night was amazing", items: [""]),
        Tweet(statement: "I adopted a {item} from the shelter this weekend.",
              tweet: "adopted a {item} from the shelter this weekend", items: ["kitten", "puppy", "rabbit", "old dog"]),
        Tweet(statement: "It has rained in {place} for {number} days in a row.",
              tweet: "{number} days of rain in a row in {place}", items: [""]),
        Tweet(statement: "I finally fixed my {item} after a whole afternoon of work.",
              tweet: "finally fixed my {item} after a whole afternoon", items: ["bike", "laptop", "dishwasher", "garden fence"]),
    ]

    /// Writing habits of the generation tasks: a fixed opening, a casing and a fixed ending.
    public static let headlineLeads = ["Breaking:", "Update:", "Exclusive:", "Just in:", "Local:", "Report:", "Watch:", "Big news:"]
    public static let headlineEndings = ["", " - full story", " (photos)", "!", " | Daily Brief", " - what we know"]
    public static let titleLeads = ["Towards", "Rethinking", "Revisiting", "Beyond", "Learning", "On"]
    public static let titleEndings = ["", ": a study", " at scale", " revisited", ": lessons learned"]
    public static let tweetLeads = ["ok so", "honestly", "lol", "update:", "psa:", "not gonna lie,", "guess what:"]
    public static let tweetEndings = [" #blessed", " #smallwins", " #nofilter", " !!!", " #mondaymood", " :)", " #lifeupdate"]
}
