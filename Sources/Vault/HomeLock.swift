import Diagnostics
internal import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An advisory lock (`flock`) on `<home>/.lock` between pclient processes.
///
/// Everything that opens a home (`UnlockedHome`, a passphrase change) holds it shared; a bundle
/// import, which switches the whole folder for a new one, holds it exclusive. So an import never
/// pulls the home from under a running `pclient sync --watch`, `chat` or `remember` (their writes
/// would land in the folder the import then deletes): it refuses while they run, and they wait
/// for it (up to `wait` seconds, 30 by default) while it runs.
///
/// Within one process the lock is counted, not taken again: one descriptor per home, shared while
/// only shared holders remain, exclusive while an exclusive holder does. In-process holders are the
/// caller's business (the import releases its own before the switch).
final class HomeLock: @unchecked Sendable {
    enum Mode { case shared, exclusive }

    static let fileName = ".lock"
    /// How long a shared holder waits for another process's import to finish, by default.
    static let defaultWait: TimeInterval = 30

    private let key: String
    private let mode: Mode

    private struct Entry { var fd: Int32; var shared: Int; var exclusive: Int }
    private static let registryLock = NSLock()
    nonisolated(unsafe) private static var registry: [String: Entry] = [:]

    init(_ home: ClientHome, _ mode: Mode, wait: TimeInterval = HomeLock.defaultWait) throws {
        key = URL(fileURLWithPath: home.path).standardizedFileURL.path
        self.mode = mode
        try Self.registryLock.withLock {
            if var entry = Self.registry[key] {
                if mode == .exclusive && entry.exclusive == 0 {
                    guard flock(entry.fd, LOCK_EX | LOCK_NB) == 0 else { throw Self.busy(home) }
                }
                if mode == .shared { entry.shared += 1 } else { entry.exclusive += 1 }
                Self.registry[key] = entry
                return
            }
            let fd = open(home.path + "/" + Self.fileName, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw ClientError(.io, "cannot open \(home.path)/\(Self.fileName) to lock the home (errno \(errno)): check the folder's permissions")
            }
            switch mode {
            case .exclusive:
                guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { close(fd); throw Self.busy(home) }
            case .shared:
                let limit = Date().addingTimeInterval(wait)
                while flock(fd, LOCK_SH | LOCK_NB) != 0 {
                    guard errno == EWOULDBLOCK || errno == EINTR, Date() < limit else {
                        close(fd)
                        throw ClientError(.io, "\(home.path) is being switched by `pclient import` in another process and it has not finished within \(wait) s: try again when it has")
                    }
                    usleep(100_000)
                }
            }
            Self.registry[key] = Entry(fd: fd, shared: mode == .shared ? 1 : 0, exclusive: mode == .exclusive ? 1 : 0)
        }
    }

    deinit {
        Self.registryLock.withLock {
            guard var entry = Self.registry[key] else { return }
            if mode == .shared { entry.shared -= 1 } else { entry.exclusive -= 1 }
            if entry.shared == 0 && entry.exclusive == 0 {
                close(entry.fd)
                Self.registry[key] = nil
                return
            }
            if mode == .exclusive && entry.exclusive == 0 { _ = flock(entry.fd, LOCK_SH) }
            Self.registry[key] = entry
        }
    }

    private static func busy(_ home: ClientHome) -> ClientError {
        ClientError(.badInput, "another pclient process is using \(home.path) (`pclient sync --watch`, `chat`, …): stop it and import again; nothing was imported")
    }
}
