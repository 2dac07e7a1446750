import ArgumentParser
import Foundation
import Memory
import Vault

extension PClient.MemoryCommand {
    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show an item with what it replaced and what replaced it: when each was recorded and when it held.")

        @OptionGroup var homeOptions: HomeOptions
        @Flag(help: "Print JSON.")
        var json = false
        @Argument(help: "An item id.")
        var id: Int64

        func run() throws {
            let chain = try homeOptions.unlock().memory.history(id)
            if json { return try printItems(chain, scores: nil, json: true) }
            let day = ISO8601DateFormatter()
            day.formatOptions = [.withFullDate]
            for item in chain {
                let held = "held " + day.string(from: item.validFrom) + " → " + (item.validTo.map(day.string(from:)) ?? (item.isCurrent ? "now" : "—"))
                let status: String
                switch (item.replacedBy, item.replacement) {
                case (nil, _): status = "current"
                case (let by?, .edited?): status = "edited into #\(by)"
                case (let by?, _): status = "superseded by #\(by)"
                }
                print("[\(item.id)] \(item.content.text)")
                print("      recorded \(day.string(from: item.created)), \(held); \(status)")
            }
        }
    }

    struct Edit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Correct an item's text: the corrected item replaces it, and the old text stays in its history (`forget` deletes).")

        @OptionGroup var homeOptions: HomeOptions
        @Argument(help: "The item id.")
        var id: Int64
        @Argument(help: "The corrected text.")
        var text: String

        func run() throws {
            let memory = try homeOptions.unlock().memory
            let result = try memory.edit(id, text: text)
            print(result.stored ? "Item \(id) corrected: the new text is item \(result.id)." : "Item \(id) corrected: the text is item \(result.id), already remembered.")
            try printSuperseded(result, memory: memory)
        }
    }
}

/// "It replaces item 3 ("I live in Porto.")" for each note a new one superseded.
func printSuperseded(_ result: Remembered, memory: MemoryStore) throws {
    for old in result.superseded {
        let text = (try? memory.item(old).content.text) ?? ""
        print("It replaces item \(old) (\"\(text)\"), which stays in its history: `pclient memory history \(result.id)`.")
    }
}
