import Testing
@testable import Evaluation

@Suite struct LaMPTaskTests {
    let tagQuestion = "Which tag does this movie relate to among the following tags? Just answer with the tag name without further explanation. tags: [sci-fi, based on a book, comedy, action, twist ending, dystopia, dark comedy, classic, psychology, fantasy, romance, thought-provoking, social commentary, violence, true story] description: A robot learns to paint."

    @Test func questionInputsUseLaMPWording() {
        #expect(LaMPTask.movieTagging.questionInput("A robot learns to paint.") == tagQuestion)
        #expect(LaMPTask.productRating.questionInput("Great.") == "What is the score of the following review on a scale of 1 to 5? just answer with 1, 2, 3, 4, or 5 without further explanation. review: Great.")
        #expect(LaMPTask.newsHeadline.questionInput("Rain.") == "Generate a headline for the following article: Rain.")
        #expect(LaMPTask.movieTagging.retrievalQuery(tagQuestion) == "A robot learns to paint.")
        let citation = LaMPTask.citationInput(title: "Deep nets", reference1: "Trees", reference2: "Layers")
        #expect(LaMPTask.citation.retrievalQuery(citation) == "Trees Layers")
        #expect(LaMPTask.movieTagging.labels.count == 15)
        #expect(LaMPTask.productRating.labels == ["1", "2", "3", "4", "5"])
        #expect(LaMPTask.newsHeadline.labels.isEmpty)
    }

    @Test func profileItemsBecomeTrainingExamplesInTheQuestionStyle() throws {
        let item = LaMPProfileItem(["id": "1", "description": "A robot learns to paint.", "tag": "sci-fi"])
        let example = try #require(LaMPTask.movieTagging.trainingExample(item))
        #expect(example.prompt == tagQuestion)
        #expect(example.target == "sci-fi")
        let review = try #require(LaMPTask.productRating.trainingExample(LaMPProfileItem(["text": "Meh.", "score": "2"])))
        #expect(review.prompt.hasSuffix("review: Meh."))
        #expect(review.target == "2")
        let tweet = try #require(LaMPTask.tweetParaphrase.trainingExample(LaMPProfileItem(["text": "ok so rain again"])))
        #expect(tweet == ("tweet:", "ok so rain again"))
        #expect(LaMPTask.movieTagging.trainingExample(LaMPProfileItem(["text": "no description"])) == nil)
    }

    @Test func ragPromptsFollowLaMP() {
        let items = [LaMPProfileItem(["description": "d1", "tag": "comedy"]), LaMPProfileItem(["description": "d2", "tag": "action"])]
        #expect(LaMPTask.movieTagging.ragPrompt(input: "Q", retrieved: items)
                == "the tag for the movie: \"d1\" is \"comedy\" , and the tag for the movie: \"d2\" is \"action\" . Q")
        let reviews = [LaMPProfileItem(["text": "good one", "score": "4"])]
        #expect(LaMPTask.productRating.ragPrompt(input: "Q", retrieved: reviews) == "4 is the score for \"good one\" . Q")
        let news = [LaMPProfileItem(["text": "long article text here", "title": "T"])]
        #expect(LaMPTask.newsHeadline.ragPrompt(input: "Q", retrieved: news, maxWords: 2) == "\"T\" is the title for \"long article\" . Q")
        let tweets = [LaMPProfileItem(["text": "a"]), LaMPProfileItem(["text": "b"])]
        #expect(LaMPTask.tweetParaphrase.ragPrompt(input: "Q", retrieved: tweets)
                == "\"a\" , and \"b\"  are written by a person. Following the given patterns Q")
        let papers = [LaMPProfileItem(["title": "P1", "abstract": "x"])]
        let citation = LaMPTask.citationInput(title: "Deep nets", reference1: "R1", reference2: "R2")
        #expect(LaMPTask.citation.ragPrompt(input: citation, retrieved: papers)
                == "For an author who has written the paper with the title, and \"P1\" \"Deep nets\", which reference is related? Just answer with [1] or [2] without explanation. [1]: \"R1\" [2]: \"R2\"")
        #expect(LaMPTask.movieTagging.ragPrompt(input: "Q", retrieved: []) == "Q")
    }

    @Test func answersAreParsedToLabels() {
        let t = LaMPTask.movieTagging
        #expect(t.parseLabel("Dark comedy.") == "dark comedy")
        #expect(t.parseLabel("  \"sci-fi\"\n") == "sci-fi")
        #expect(t.parseLabel("I think this is a dark comedy with action") == "dark comedy")
        #expect(t.parseLabel("The tag is action, maybe comedy") == "action")
        #expect(t.parseLabel("a film about a robot") == nil)
        let r = LaMPTask.productRating
        #expect(r.parseLabel("Score: 4 stars") == "4")
        #expect(r.parseLabel("0 or 9, then 2") == "2")
        #expect(r.parseLabel("five") == nil)
        #expect(LaMPTask.citation.parseLabel("[2]") == "[2]")
        #expect(LaMPTask.citation.parseLabel("Reference 1") == "[1]")
        #expect(LaMPTask.citation.parseLabel("neither") == nil)
    }
}
