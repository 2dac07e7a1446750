import Foundation
import Memory
import Personalization
import Testing

/// Template questions and second-person answers from notes (no model).
struct NoteQuestionsTests {
    @Test func questionsAskForTheValueAndAnswersAreInTheSecondPerson() {
        let dog = NoteQuestions.pairs(for: "My dog is called Biscuit.")
        #expect(dog.map(\.question) == ["What is my dog's name?", "What's my dog called?", "What did I tell you about my dog?"])
        #expect(dog.allSatisfy { $0.answer == "Your dog is called Biscuit." })

        let home = NoteQuestions.pairs(for: "Remember that I now live in Lisbon.")
        #expect(home.map(\.question) == ["Where do I live?", "Which city do I live in?", "What did I tell you about Lisbon?"])
        #expect(home.first?.answer == "You now live in Lisbon.")

        let emma = NoteQuestions.pairs(for: "My daughter Emma is allergic to peanuts. She carries an EpiPen.")
        #expect(emma.first?.question == "What is my daughter Emma allergic to?")
        #expect(emma.first?.answer == "Your daughter Emma is allergic to peanuts.")

        let me = NoteQuestions.pairs(for: "I'm allergic to penicillin")
        #expect(me.first?.question == "What am I allergic to?")
        #expect(me.first?.answer == "You're allergic to penicillin.")

        #expect(NoteQuestions.pairs(for: "My name is Ana Sousa.").first?.question == "What is my name?")
        #expect(NoteQuestions.pairs(for: "My colleague Anna drives a red Fiat.").first?.question == "What does my colleague Anna drive?")
        #expect(NoteQuestions.pairs(for: "I work at Siemens.").first?.question == "Where do I work?")
        #expect(NoteQuestions.pairs(for: "I was born in Porto.").first?.question == "Where was I born?")
        #expect(NoteQuestions.pairs(for: "My wife's birthday is on March 3rd.").first?.question == "When is my wife's birthday?")
        // Past events: only the question about what was said.
        let kyoto = NoteQuestions.pairs(for: "I visited Kyoto in 2019.")
        #expect(kyoto.map(\.question) == ["What did I tell you about Kyoto?"])
        #expect(kyoto.first?.answer == "You visited Kyoto in 2019.")
        let lent = NoteQuestions.pairs(for: "I lent my bicycle to Ben last Friday.")
        #expect(lent.map(\.question) == ["What did I tell you about my bicycle?"])
        #expect(lent.first?.answer == "You lent your bicycle to Ben last Friday.")
    }

    @Test func aNoteWithoutAFrameGivesNoPairs() {
        #expect(NoteQuestions.pairs(for: "The wifi password is on the fridge.").isEmpty)
        #expect(NoteQuestions.pairs(for: "a note, not a behaviour").isEmpty)
        #expect(NoteQuestions.pairs(for: "Where do I live?").isEmpty)
    }

    @Test func secondPersonSwapsPronounsAndKeepsTheRest() {
        #expect(NoteQuestions.secondPerson("I am 34 and my sister is 30.") == "You are 34 and your sister is 30.")
        #expect(NoteQuestions.secondPerson("We moved to Oslo; our flat is mine and I'm happy.") == "You moved to Oslo; your flat is yours and you're happy.")
        #expect(NoteQuestions.secondPerson("My boss told me I was late.") == "Your boss told you you were late.")
        #expect(NoteQuestions.secondPerson("I moved to the US with McKenzie.") == "You moved to the US with McKenzie.")
        #expect(NoteQuestions.secondPerson("my cat’s name is Zorblat") == "Your cat’s name is Zorblat")
    }
}
