/// The material of `QAUsers`: kinds of personal fact and plain knowledge questions, each belonging
/// to the `tune` split, the `test` split or (for twelve of the fact kinds) to both with different
/// wordings, questions and values. Nothing is shared between the splits: a template, a question or a
/// value that appears in one appears nowhere in the other (the tests check it), so figures on `test`
/// are on users that no threshold, prompt or recipe was tuned on.
///
/// Values avoid ordinary words a general answer might contain for other reasons ("Shell", "Queen",
/// "Gravity"), so that a value in a general answer means the note leaked into it.
enum QACatalogue {
    /// How a fact is first stated and, for kinds that change, how its change is stated. `{v}` is
    /// the value. A replacement keeps the subject and relation words of its statement and adds the
    /// wording of a change (now, moved, switched, these days).
    struct Template: Sendable {
        var statement: String
        var replacement: String?
    }

    /// One split's view of a kind of fact.
    struct Variant: Sendable {
        var templates: [Template]
        var values: [String]
        /// Two paraphrases of the personal question the fact answers.
        var questions: [String]

        /// Whether facts of this kind can be replaced (every template has a change wording).
        var replaceable: Bool { templates.allSatisfy { $0.replacement != nil } }
    }

    struct Category: Sendable {
        var id: String
        var tune: Variant?
        var test: Variant?

        func variant(_ split: QASplit) -> Variant? { split == .tune ? tune : test }
    }

    /// A plain knowledge question with the key words a right answer contains (any one), and the
    /// fact kinds it shares words or meaning with (the hard cases for retrieval).
    struct General: Sendable {
        var split: QASplit
        var question: String
        var keys: [String]
        var related: [String]
    }

    private static func variant(_ templates: [(String, String?)], values: [String], questions: [String]) -> Variant {
        Variant(templates: templates.map { Template(statement: $0.0, replacement: $0.1) }, values: values, questions: questions)
    }

    static let categories: [Category] = shared + tuneOnly + testOnly

    // MARK: Kinds in both splits (different templates, values and questions)

    static let shared: [Category] = [
        Category(id: "dog-name",
                 tune: variant([("My dog is called {v}.", nil), ("Our dog's name is {v}.", nil)],
                               values: ["Biscuit", "Pepper", "Waffles", "Juniper", "Nugget", "Maple", "Pickles", "Rocket", "Sprout", "Tofu", "Bramble", "Pretzel"],
                               questions: ["What is my dog's name?", "What's my dog called?"]),
                 test: variant([("We have a dog named {v}.", nil), ("{v} is the name of my dog.", nil)],
                               values: ["Noodle", "Clementine", "Barnaby", "Wasabi", "Toffee", "Ziggy", "Marmalade", "Pumpkin", "Crumpet", "Gizmo", "Pippin", "Dumpling"],
                               questions: ["What did I name my dog?", "Do you remember what my dog is called?"])),
        Category(id: "home-city",
                 tune: variant([("I live in {v}.", "I now live in {v}."), ("My home is in {v}.", "I moved, so my home is in {v} these days.")],
                               values: ["Porto", "Lyon", "Munich", "Seville", "Gothenburg", "Rotterdam", "Krakow", "Bologna", "Leipzig", "Valencia", "Antwerp", "Graz"],
                               questions: ["Which city do I live in?", "Where do I live?"]),
                 test: variant([("My flat is in {v}.", "My flat is now in {v}; we moved there last month."), ("I'm based in {v}.", "These days I'm based in {v}.")],
                               values: ["Marseille", "Hamburg", "Turin", "Bilbao", "Utrecht", "Gdansk", "Salzburg", "Nantes", "Malaga", "Dresden", "Ghent", "Aarhus"],
                               questions: ["What city am I based in?", "In which city is my flat?"])),
        Category(id: "workplace",
                 tune: variant([("I work at {v}.", "I now work at {v}."), ("My employer is {v}.", "I switched jobs, so my employer is now {v}.")],
                               values: ["Siemens", "Unilever", "Heineken", "Philips", "Ericsson", "Nestle", "Bosch", "Lufthansa", "Accenture", "Deloitte", "Spotify", "Vodafone"],
                               questions: ["Where do I work?", "Which company is my employer?"]),
                 test: variant([("I have a job at {v}.", "I have a new job at {v} now."), ("I'm employed by {v}.", "These days I'm employed by {v}.")],
                               values: ["Airbus", "Ikea", "Lego", "Maersk", "Novartis", "Danone", "Renault", "Adidas", "Canon", "Logitech", "Zalando", "Bayer"],
                               questions: ["Which company do I have a job at?", "Who am I employed by?"])),
        Category(id: "car",
                 tune: variant([("I drive a {v}.", "I now drive a {v}."), ("My car is a {v}.", "My car is a {v} these days.")],
                               values: ["Toyota", "Volvo", "Skoda", "Mazda", "Peugeot", "Subaru", "Hyundai", "Fiat", "Kia", "Citroen", "Dacia", "Suzuki"],
                               questions: ["What car do I drive?", "Which make is my car?"]),
                 test: variant([("The car I own is a {v}.", "The car I own is now a {v}; I switched last spring."), ("We have a {v} as our car.", "We now have a {v} as our car.")],
                               values: ["Honda", "Nissan", "Audi", "Tesla", "Opel", "Lexus", "Mitsubishi", "Porsche", "Lancia", "Cupra", "Polestar", "Chevrolet"],
                               questions: ["What brand is the car I own?", "What kind of car do we have?"])),
        Category(id: "favourite-colour",
                 tune: variant([("My favourite colour is {v}.", "My favourite colour is now {v}."), ("I love the colour {v}.", "These days I love the colour {v} most.")],
                               values: ["teal", "maroon", "lilac", "turquoise", "crimson", "amber", "mauve", "ochre", "lavender", "magenta", "beige", "indigo"],
                               questions: ["What is my favourite colour?", "Which colour do I like best?"]),
                 test: variant([("{v} is the colour I like most.", "{v} is the colour I like most now."), ("My favourite shade is {v}.", "My favourite shade switched to {v}.")],
                               values: ["burgundy", "cyan", "saffron", "scarlet", "emerald", "violet", "peach", "charcoal", "fuchsia", "khaki", "cobalt", "plum"],
                               questions: ["Which colour do I like most?", "What is my favourite shade?"])),
        Category(id: "instrument",
                 tune: variant([("I play the {v}.", "I now play the {v}."), ("My instrument is the {v}.", "These days my instrument is the {v}.")],
                               values: ["cello", "oboe", "banjo", "clarinet", "trombone", "harp", "ukulele", "accordion", "bassoon", "mandolin", "viola", "harmonica"],
                               questions: ["What instrument do I play?", "Which musical instrument is mine?"]),
                 test: variant([("I'm learning the {v}.", "I switched instruments; now I'm learning the {v}."), ("I practise the {v} every evening.", "These days I practise the {v} every evening.")],
                               values: ["saxophone", "flute", "trumpet", "drums", "bagpipes", "sitar", "xylophone", "tuba", "piccolo", "lute", "zither", "cornet"],
                               questions: ["Which instrument am I learning?", "What instrument do I practise?"])),
        Category(id: "sibling-city",
                 tune: variant([("My sister lives in {v}.", "My sister now lives in {v}."), ("My sister's home is in {v}.", "My sister moved, and her home is in {v} now.")],
                               values: ["Bristol", "Galway", "Dundee", "Cardiff", "Nottingham", "Brighton", "Leeds", "Aberdeen", "Swansea", "Exeter", "York", "Norwich"],
                               questions: ["Where does my sister live?", "Which city is my sister in?"]),
                 test: variant([("My brother lives in {v}.", "My brother moved to {v} and lives there now."), ("My brother's place is in {v}.", "My brother's place is in {v} these days.")],
                               values: ["Glasgow", "Cork", "Belfast", "Liverpool", "Sheffield", "Plymouth", "Inverness", "Derby", "Leicester", "Kilkenny", "Limerick", "Coventry"],
                               questions: ["Where does my brother live?", "What city is my brother in?"])),
        Category(id: "partner-birthday",
                 tune: variant([("My wife's birthday is on {v}.", nil), ("My wife was born on {v}.", nil)],
                               values: ["March 3", "July 19", "October 8", "January 27", "May 14", "August 2", "November 21", "April 9", "June 30", "September 16", "December 5", "February 11"],
                               questions: ["When is my wife's birthday?", "On what date was my wife born?"]),
                 test: variant([("My husband's birthday is {v}.", nil), ("We celebrate my husband's birthday on {v}.", nil)],
                               values: ["March 12", "July 23", "October 26", "January 6", "May 28", "August 17", "November 2", "April 25", "June 9", "September 1", "December 20", "February 15"],
                               questions: ["When is my husband's birthday?", "What date do we celebrate my husband's birthday?"])),
        Category(id: "dentist",
                 tune: variant([("My dentist is Dr {v}.", "My dentist is now Dr {v}."), ("I see Dr {v} for my teeth.", "I now see Dr {v} for my teeth.")],
                               values: ["Okafor", "Lindqvist", "Moreau", "Haddad", "Kowalski", "Brennan", "Nakamura", "Ferreira", "Castellano", "Okonkwo", "Petrov", "Varga"],
                               questions: ["Who is my dentist?", "What is my dentist's name?"]),
                 test: variant([("Dr {v} is my dentist.", "Dr {v} is my dentist now; I switched practices."), ("My teeth are looked after by Dr {v}.", "These days my teeth are looked after by Dr {v}.")],
                               values: ["Abernathy", "Sorensen", "Delacroix", "Mensah", "Novak", "Quintero", "Yamamoto", "Fitzgerald", "Rinaldi", "Adeyemi", "Horvath", "Takahashi"],
                               questions: ["Which dentist do I go to?", "Who looks after my teeth?"])),
        Category(id: "sport",
                 tune: variant([("My weekend sport is {v}.", "These days my weekend sport is {v}."), ("My sport is {v}.", "My sport is now {v}.")],
                               values: ["badminton", "squash", "volleyball", "handball", "rugby", "hockey", "netball", "lacrosse", "curling", "fencing", "rowing", "judo"],
                               questions: ["Which sport do I play?", "What sport do I do on weekends?"]),
                 test: variant([("I train for {v} at a club.", "I now train for {v} at a club."), ("Every Thursday I have {v} practice.", "Every Thursday I have {v} practice now; I switched sports.")],
                               values: ["water polo", "softball", "archery", "karate", "baseball", "taekwondo", "bouldering", "kickboxing", "dodgeball", "frisbee", "korfball", "wrestling"],
                               questions: ["What sport do I train for?", "What practice do I have on Thursdays?"])),
        Category(id: "favourite-food",
                 tune: variant([("My favourite food is {v}.", "My favourite food is {v} these days."), ("The food I love most is {v}.", "The food I love most is now {v}.")],
                               values: ["lasagne", "ramen", "paella", "falafel", "risotto", "goulash", "moussaka", "dumplings", "curry", "tacos", "burritos", "gnocchi"],
                               questions: ["What is my favourite food?", "Which food do I love most?"]),
                 test: variant([("My favourite dish is {v}.", "My favourite dish is now {v}."), ("{v} is my favourite dish.", "{v} is my favourite dish these days.")],
                               values: ["sushi", "pho", "biryani", "shakshuka", "pierogi", "enchiladas", "couscous", "bibimbap", "tagine", "ceviche", "schnitzel", "fondue"],
                               questions: ["What's my favourite dish?", "Which dish do I like best?"])),
        Category(id: "language",
                 tune: variant([("I am learning {v}.", "I switched to learning {v}."), ("I'm taking {v} lessons.", "I'm taking {v} lessons now.")],
                               values: ["Japanese", "Korean", "Swedish", "Dutch", "Polish", "Greek", "Turkish", "Finnish", "Hungarian", "Czech", "Norwegian", "Icelandic"],
                               questions: ["Which language am I learning?", "What language lessons am I taking?"]),
                 test: variant([("I study {v} in the evenings.", "These days I study {v} in the evenings."), ("My language course is in {v}.", "My language course is now in {v}.")],
                               values: ["Mandarin", "Arabic", "Swahili", "Danish", "Romanian", "Vietnamese", "Thai", "Hebrew", "Welsh", "Estonian", "Croatian", "Tagalog"],
                               questions: ["What language do I study?", "What is my language course in?"])),
    ]

    // MARK: Kinds only in the tune split

    static let tuneOnly: [Category] = [
        Category(id: "cat-name", tune: variant([("My cat is called {v}.", nil), ("Our cat's name is {v}.", nil)],
            values: ["Mittens", "Whiskers", "Luna", "Oreo", "Smokey", "Ginger", "Socks", "Cleo", "Misty", "Shadow", "Felix", "Biscotti"],
            questions: ["What is my cat's name?", "What's my cat called?"])),
        Category(id: "job-title", tune: variant([("I work as a {v}.", "I now work as a {v}."), ("My job title is {v}.", "My job title is now {v}.")],
            values: ["pharmacist", "architect", "paramedic", "librarian", "electrician", "translator", "surveyor", "radiographer", "accountant", "plumber", "florist", "optician"],
            questions: ["What is my job?", "What's my job title?"])),
        Category(id: "locker-code", tune: variant([("My locker code at work is {v}.", "My locker code at work is now {v}."), ("The code for my locker is {v}.", "The code for my locker changed to {v}.")],
            values: ["4821", "7305", "1968", "3342", "5176", "8093", "2650", "6417", "9238", "1584", "7762", "3019"],
            questions: ["What is my locker code?", "What's the code for my locker?"])),
        Category(id: "bank", tune: variant([("My bank is {v}.", "My bank is now {v}; I switched."), ("I keep my savings at {v}.", "I now keep my savings at {v}.")],
            values: ["Monzo", "Barclays", "Santander", "Revolut", "Nationwide", "Rabobank", "Raiffeisen", "Starling", "Triodos", "Nordea", "Lloyds", "Halifax"],
            questions: ["Which bank do I use?", "Where do I keep my savings?"])),
        Category(id: "football-team", tune: variant([("I support {v}.", nil), ("My football team is {v}.", nil)],
            values: ["Arsenal", "Celtic", "Juventus", "Benfica", "Ajax", "Everton", "Sevilla", "Napoli", "Feyenoord", "Galatasaray", "Fulham", "Leverkusen"],
            questions: ["Which football team do I support?", "What's my football team?"])),
        Category(id: "hobby", tune: variant([("My hobby is {v}.", "My hobby these days is {v}."), ("In my free time I do {v}.", "In my free time I now do {v}.")],
            values: ["pottery", "knitting", "birdwatching", "origami", "calligraphy", "woodworking", "beekeeping", "embroidery", "juggling", "kayaking", "quilting", "geocaching"],
            questions: ["What is my hobby?", "What do I do in my free time?"])),
        Category(id: "coffee-order", tune: variant([("I always order a {v}.", "These days I always order a {v}."), ("My usual coffee is a {v}.", "My usual coffee is now a {v}.")],
            values: ["flat white", "cortado", "macchiato", "latte", "americano", "cappuccino", "mocha", "ristretto", "lungo", "affogato", "espresso", "doppio"],
            questions: ["What coffee do I usually order?", "What's my usual coffee?"])),
        Category(id: "shoe-size", tune: variant([("My shoe size is {v}.", nil), ("I wear size {v} shoes.", nil)],
            values: ["36", "37", "38", "39", "40", "41", "42", "43", "44", "45", "46", "47"],
            questions: ["What is my shoe size?", "What size shoes do I wear?"])),
        Category(id: "holiday", tune: variant([("Every summer we go on holiday to {v}.", "This summer we switched and go on holiday to {v}."), ("Our holiday place is {v}.", "Our holiday place is now {v}.")],
            values: ["Crete", "Sicily", "Madeira", "Tenerife", "Sardinia", "Corsica", "Mallorca", "Rhodes", "Malta", "Cornwall", "Brittany", "Tuscany"],
            questions: ["Where do we go on holiday?", "What's our holiday place?"])),
        Category(id: "neighbour-name", tune: variant([("My neighbour is called {v}.", nil), ("{v} is my next-door neighbour.", nil)],
            values: ["Ottilie", "Bartholomew", "Henrietta", "Cornelius", "Wilhelmina", "Leopold", "Philippa", "Ignatius", "Rosalind", "Thaddeus", "Georgina", "Percival"],
            questions: ["What is my neighbour's name?", "Who is my next-door neighbour?"])),
        Category(id: "wifi-name", tune: variant([("Our wifi network is called {v}.", "Our wifi network is now called {v}."), ("The wifi at home is named {v}.", "The wifi at home is now named {v}.")],
            values: ["NetHaven", "BlueMoose", "OrbitLink", "PixieNet", "CasaWave", "TurboNest", "LemonAir", "SkyBadger", "FoxDen5G", "NimbusHome", "QuokkaNet", "ZebraLAN"],
            questions: ["What is our wifi network called?", "What's the name of the wifi at home?"])),
        Category(id: "child-allergy", tune: variant([("My son is allergic to {v}.", nil), ("My son has an allergy to {v}.", nil)],
            values: ["peanuts", "shellfish", "sesame", "kiwi", "walnuts", "strawberries", "mustard", "celery", "soy", "gluten", "lupin", "cashews"],
            questions: ["What is my son allergic to?", "Which food is my son allergic to?"])),
    ]

    // MARK: Kinds only in the test split

    static let testOnly: [Category] = [
        Category(id: "bike-lock", test: variant([("My bike lock code is {v}.", "My bike lock code is now {v}."), ("The combination of my bike lock is {v}.", "The combination of my bike lock changed to {v}.")],
            values: ["2947", "6138", "8502", "3716", "5069", "9384", "1275", "4690", "7813", "2358", "6021", "8146"],
            questions: ["What is my bike lock code?", "What's the combination of my bike lock?"])),
        Category(id: "manager-name", test: variant([("My manager is called {v}.", "My manager is now called {v}; the old one moved on."), ("I report to {v} at work.", "I now report to {v} at work.")],
            values: ["Desmond", "Priyanka", "Augustin", "Marguerite", "Osvaldo", "Ingrid", "Leopoldo", "Fenella", "Rasmus", "Beatrix", "Cosimo", "Imelda"],
            questions: ["What is my manager's name?", "Who do I report to at work?"])),
        Category(id: "street", test: variant([("My street is {v} Lane.", nil), ("Our house is on {v} Lane.", nil)],
            values: ["Willow", "Hawthorn", "Larkspur", "Chestnut", "Foxglove", "Elderberry", "Primrose", "Sycamore", "Rowan", "Blackthorn", "Heather", "Wisteria"],
            questions: ["What street is my house on?", "Which lane do I live on?"])),
        Category(id: "child-school", test: variant([("My daughter goes to {v} School.", nil), ("My daughter is a pupil at {v} Primary.", nil)],
            values: ["Hillcrest", "Oakwood", "Riverside", "Brookfield", "Ashgrove", "Fernhill", "Kingsmead", "Larchmont", "Meadowbank", "Stonebridge", "Westbury", "Elmhurst"],
            questions: ["Which school does my daughter go to?", "Where is my daughter a pupil?"])),
        Category(id: "phone-brand", test: variant([("My phone is a {v}.", "My phone is now a {v}."), ("I use a {v} phone.", "I switched to a {v} phone.")],
            values: ["Nokia", "Samsung", "Motorola", "OnePlus", "Xiaomi", "Huawei", "Oppo", "Fairphone", "Realme", "Sony", "Vivo", "Alcatel"],
            questions: ["What phone do I have?", "Which brand is my phone?"])),
        Category(id: "gym", test: variant([("I go to {v} gym.", "I now go to {v} gym."), ("My gym is {v}.", "My gym is {v} these days.")],
            values: ["Ironworks", "PulseFit", "TitanFit", "Musclebarn", "FlexHaus", "Forgehall", "Kettlebox", "Apexfit", "Kinetica", "Anvilworks", "Vortexgym", "Liftyard"],
            questions: ["Which gym do I go to?", "What's my gym called?"])),
        Category(id: "partner-name", test: variant([("My partner is called {v}.", nil), ("I live with my partner {v}.", nil)],
            values: ["Jonas", "Aurelia", "Matthias", "Soraya", "Benedikt", "Ines", "Tobias", "Mirela", "Casimir", "Lucinda", "Anselm", "Noemi"],
            questions: ["What is my partner's name?", "Who is my partner?"])),
        Category(id: "hometown", test: variant([("I grew up in {v}.", nil), ("My hometown is {v}.", nil)],
            values: ["Ballymena", "Harrogate", "Whitby", "Falmouth", "Keswick", "Tenby", "Oban", "Ludlow", "Alnwick", "Kendal", "Stirling", "Llandudno"],
            questions: ["Where did I grow up?", "What is my hometown?"])),
        Category(id: "favourite-band", test: variant([("My favourite band is {v}.", "My favourite band is now {v}."), ("I listen to {v} all the time.", "These days I listen to {v} all the time.")],
            values: ["Coldplay", "Radiohead", "Metallica", "Abba", "Blondie", "Nirvana", "Portishead", "Kraftwerk", "Pixies", "Gorillaz", "Deftones", "Slipknot"],
            questions: ["What is my favourite band?", "Which band do I listen to all the time?"])),
        Category(id: "commute-bus", test: variant([("I take the number {v} bus to work.", "I now take the number {v} bus to work."), ("The {v} bus is how I get to work.", "These days the {v} bus is how I get to work.")],
            values: ["27", "53", "118", "64", "212", "71", "86", "149", "305", "93", "17", "250"],
            questions: ["Which bus do I take to work?", "What bus number gets me to work?"])),
        Category(id: "family-doctor", test: variant([("My GP is Dr {v}.", "My GP is now Dr {v}."), ("My family doctor is Dr {v}.", "My family doctor is now Dr {v}; I switched surgeries.")],
            values: ["Achterberg", "Bellweather", "Cardenas", "Dimitriou", "Eriksen", "Fonseca", "Gallagher", "Hoffmann", "Iwasaki", "Jablonski", "Kariuki", "Lombardi"],
            questions: ["Who is my GP?", "What's my family doctor's name?"])),
        Category(id: "balcony-plants", test: variant([("I grow {v} on my balcony.", nil), ("On my balcony I grow {v}.", nil)],
            values: ["tomatoes", "basil", "chillies", "courgettes", "geraniums", "rosemary", "mint", "sunflowers", "thyme", "petunias", "orchids", "radishes"],
            questions: ["What do I grow on my balcony?", "Which plants are on my balcony?"])),
    ]

    // MARK: General questions

    private static func tune(_ question: String, _ keys: [String], _ related: [String] = []) -> General {
        General(split: .tune, question: question, keys: keys, related: related)
    }

    private static func test(_ question: String, _ keys: [String], _ related: [String] = []) -> General {
        General(split: .test, question: question, keys: keys, related: related)
    }

    /// Plain knowledge a 135M instruct model often gets right; `related` are the hard cases, sharing
    /// words or meaning with notes of those kinds (a dog's legs for a dog owner, a capital for
    /// someone who lives in another city of that country).
    static let general: [General] = [
        tune("What is the capital of France?", ["Paris"]),
        tune("What is the capital of Germany?", ["Berlin"], ["home-city"]),
        tune("What is the capital of Spain?", ["Madrid"], ["home-city", "holiday"]),
        tune("How many days are in a week?", ["seven", "7"]),
        tune("What colour is the sky on a clear day?", ["blue"], ["favourite-colour"]),
        tune("Who wrote Romeo and Juliet?", ["Shakespeare"]),
        tune("What is the largest planet in our solar system?", ["Jupiter"]),
        tune("What do bees make?", ["honey"], ["hobby"]),
        tune("How many legs does a dog have?", ["four", "4"], ["dog-name"]),
        tune("What sound does a cat make?", ["meow", "meows", "miaow", "purr", "purrs", "mew"], ["cat-name"]),
        tune("What is the freezing point of water in degrees Celsius?", ["0", "zero"]),
        tune("Which planet is known as the Red Planet?", ["Mars"]),
        tune("How many hours are in a day?", ["24", "twenty-four"]),
        tune("What language is spoken in Brazil?", ["Portuguese"], ["language"]),
        tune("What is the main ingredient of guacamole?", ["avocado", "avocados"], ["favourite-food"]),
        tune("What sport is played at Wimbledon?", ["tennis"], ["sport"]),
        tune("How many keys does a standard piano have?", ["88", "eighty-eight"], ["instrument"]),
        tune("What is the currency of Japan?", ["yen"], ["bank"]),
        tune("Who painted the Mona Lisa?", ["Leonardo", "da Vinci"]),
        tune("What is the largest ocean on Earth?", ["Pacific"]),
        tune("Which country is the northern neighbour of the United States?", ["Canada"], ["neighbour-name"]),
        tune("How many wheels does a car have?", ["four", "4"], ["car"]),
        tune("What is the boiling point of water in degrees Celsius?", ["100", "hundred"]),
        tune("How many teeth does an adult human usually have?", ["32", "thirty-two"], ["dentist"]),
        tune("Which animal is known as the king of the jungle?", ["lion"]),
        tune("How many toes are on one human foot?", ["five", "5"], ["shoe-size"]),
        tune("Who flies an aeroplane?", ["pilot", "pilots"], ["job-title"]),
        tune("Which country produces the most coffee?", ["Brazil"], ["coffee-order"]),
        tune("How many months are in a year?", ["twelve", "12"], ["partner-birthday"]),
        tune("How long is a football match in minutes?", ["90", "ninety"], ["football-team"]),
        // In the first person but about nothing the user told: memory must stay out of these too.
        tune("How do I boil an egg?", ["water"]),
        tune("What should I wear when it is raining?", ["umbrella", "raincoat", "jacket", "coat"]),
        tune("How can I make my tea sweeter?", ["sugar", "honey"], ["coffee-order"]),
        tune("What do I need to make pancakes?", ["flour", "eggs", "milk"], ["favourite-food"]),
        tune("Which planet do I live on?", ["Earth"], ["home-city"]),
        tune("How many fingers do I have on one hand?", ["five", "5"]),
        tune("What should I drink when I am thirsty?", ["water"]),
        tune("How can I get to sleep more easily?", ["bed", "sleep", "routine", "caffeine"]),

        test("What is the capital of Italy?", ["Rome"], ["home-city"]),
        test("What is the capital of Japan?", ["Tokyo"]),
        test("What is the capital of the United Kingdom?", ["London"], ["sibling-city", "hometown"]),
        test("How many continents are there?", ["seven", "7"]),
        test("What colour are ripe bananas?", ["yellow"], ["favourite-colour"]),
        test("Who wrote Hamlet?", ["Shakespeare"]),
        test("Which star is at the centre of our solar system?", ["Sun"]),
        test("What sound does a dog make?", ["bark", "barks", "woof"], ["dog-name"]),
        test("What do caterpillars turn into?", ["butterfly", "butterflies", "moth", "moths"]),
        test("What is frozen water called?", ["ice"]),
        test("Which organ pumps blood around the body?", ["heart"], ["gym"]),
        test("What is the tallest mountain in the world?", ["Everest"]),
        test("How many minutes are in an hour?", ["60", "sixty"]),
        test("What language do people speak in Mexico?", ["Spanish"], ["language"]),
        test("Which country is pizza originally from?", ["Italy"], ["favourite-food"]),
        test("How many players does a football team have on the pitch?", ["eleven", "11"], ["sport"]),
        test("Which instrument has black and white keys?", ["piano"], ["instrument"]),
        test("What is the currency of the United States?", ["dollar", "dollars"]),
        test("Who was the first president of the United States?", ["Washington"]),
        test("Which gas do plants take in from the air?", ["carbon dioxide", "CO2"], ["balcony-plants"]),
        test("How many wheels does a bicycle have?", ["two", "2"], ["bike-lock"]),
        test("Which company makes the iPhone?", ["Apple"], ["phone-brand"]),
        test("What is the largest mammal?", ["whale"]),
        test("How many sides does a triangle have?", ["three", "3"]),
        test("What is the opposite of hot?", ["cold"]),
        test("What do cows produce that people drink?", ["milk"]),
        test("What is the largest country in the world by area?", ["Russia"]),
        test("What is the chemical formula of water?", ["H2O"]),
        test("In which country are the pyramids of Giza?", ["Egypt"]),
        test("How many strings does a standard guitar have?", ["six", "6"], ["instrument"]),
        test("How do I make a cup of tea?", ["water", "kettle", "tea bag"]),
        test("What can I use to cut paper?", ["scissors"]),
        test("What do I need to brush my teeth?", ["toothbrush", "toothpaste"], ["dentist"]),
        test("How can I stay warm in winter?", ["coat", "layers", "jacket", "warm clothes", "sweater"]),
        test("What should I put on my skin in strong sun?", ["sunscreen", "sunblock"]),
        test("How many eyes do I have?", ["two", "2"]),
        test("What do I use to unlock a door?", ["key"], ["bike-lock"]),
        test("How do I make toast?", ["bread", "toaster"], ["favourite-food"]),
    ]
}
