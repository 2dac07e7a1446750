import Foundation

/// The questions of one user, with that user's profile.
public struct UserQuestions: Sendable, Equatable {
    /// `u03` for ids like `u03-q2`; otherwise `profile-N` (N-th distinct profile in file order).
    public var user: String
    public var profile: [LaMPProfileItem]
    public var examples: [LaMPExample]
}

public enum UserGroups {
    /// Groups examples by user: by the id prefix when every id has the form `USER-qN` (as the
    /// synthetic users have), otherwise by identical profile (LaMP's own files, whose ids carry no
    /// user). Users keep their first appearance's order, questions their file order.
    public static func group(_ examples: [LaMPExample]) -> [UserQuestions] {
        let prefixes = examples.map { userPrefix($0.question.id) }
        var order: [String] = []
        var groups: [String: UserQuestions] = [:]
        if prefixes.allSatisfy({ $0 != nil }) {
            for (example, prefix) in zip(examples, prefixes) {
                guard let user = prefix else { continue }
                if groups[user] == nil {
                    order.append(user)
                    groups[user] = UserQuestions(user: user, profile: example.question.profile, examples: [])
                }
                groups[user]?.examples.append(example)
            }
        } else {
            var byProfile: [[LaMPProfileItem]: String] = [:]
            for example in examples {
                let profile = example.question.profile
                let user: String
                if let known = byProfile[profile] {
                    user = known
                } else {
                    user = "profile-\(byProfile.count + 1)"
                    byProfile[profile] = user
                    order.append(user)
                    groups[user] = UserQuestions(user: user, profile: profile, examples: [])
                }
                groups[user]?.examples.append(example)
            }
        }
        return order.compactMap { groups[$0] }
    }

    /// `u03` of `u03-q2`; nil when the id does not end in `-q` and digits.
    static func userPrefix(_ id: String) -> String? {
        guard let r = id.range(of: "-q", options: .backwards) else { return nil }
        let digits = id[r.upperBound...]
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), r.lowerBound > id.startIndex else { return nil }
        return String(id[..<r.lowerBound])
    }
}
