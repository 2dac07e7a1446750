import Foundation
import Memory
import Testing
@testable import Evaluation

/// The synthetic users' files are LaMP files: the client's importer takes their profiles as they are.
@Suite struct MemoryImportCompatibilityTests {
    @Test(arguments: SyntheticUsers.supportedTasks)
    func syntheticProfilesImportAsMemory(task: LaMPTask) throws {
        let (questions, _) = try SyntheticUsers(task: task, users: 2, seed: 4, items: 10, questions: 1).generate()
        let data = try LaMPFile.encodeQuestions(questions)
        let items = try MemoryImport.lampQuestions(data, question: questions[1].id, source: "synthetic")
        #expect(items.count == 10)
        for (item, profileItem) in zip(items, questions[1].profile) {
            let imported = try MemoryImport.lampProfileItem(profileItem.jsonObject, source: "synthetic")
            #expect(imported.content == item.content)
            if task == .tweetParaphrase {
                #expect(item.kind == .note)
                #expect(item.content.text == profileItem["text"])
            } else {
                // A behaviour whose output is the user's own: the training target of the task.
                #expect(item.kind == .behaviour)
                #expect(item.content.output == task.trainingExample(profileItem)?.target)
            }
        }
    }
}
