import Diagnostics
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the model file is: `--model`, then `$PCLIENT_MODEL`, then the cache that `scripts/setup` fills.
public enum ModelLocation {
    public static let defaultFileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    /// `$PCLIENT_CACHE`, else `$XDG_CACHE_HOME/pclient`, else `~/.cache/pclient`.
    public static func cacheDirectory(environment: [String: String]) -> String {
        if let c = environment["PCLIENT_CACHE"], !c.isEmpty { return c }
        if let x = environment["XDG_CACHE_HOME"], !x.isEmpty { return x + "/pclient" }
        return (environment["HOME"] ?? "/root") + "/.cache/pclient"
    }

    public static func resolve(explicit: String?, environment: [String: String]) throws -> String {
        let candidate: String
        let source: String
        if let explicit, !explicit.isEmpty {
            candidate = explicit; source = "--model"
        } else if let env = environment["PCLIENT_MODEL"], !env.isEmpty {
            candidate = env; source = "PCLIENT_MODEL"
        } else {
            candidate = cacheDirectory(environment: environment) + "/models/" + defaultFileName
            source = "the model cache"
        }
        var st = stat()
        guard stat(candidate, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw LLMError(.modelNotFound, """
                No model file at \(candidate) (from \(source)). Run scripts/setup to download \
                SmolLM2-135M-Instruct into the cache, or pass --model FILE.gguf, or set PCLIENT_MODEL.
                """)
        }
        return candidate
    }
}
