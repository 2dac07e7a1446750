import CKernels

/// A fixed set of threads (the caller counts as one) that the quantized kernels split their rows across.
///
/// Idle workers spin about a millisecond after each job, then sleep. One job runs at a time: a pool
/// must not be used by two threads at once (give each concurrently decoding session its own pool).
public final class WorkerPool: @unchecked Sendable {
    let raw: OpaquePointer

    /// `threads` counts the calling thread; values below 1 mean 1. Fewer threads are used if the
    /// system refuses to start more (`threads` tells how many run).
    public init(threads: Int) {
        guard let pool = pk_pool_create(Int32(clamping: max(1, threads))) else {
            fatalError("WorkerPool: out of memory creating a pool of \(threads) threads")
        }
        raw = pool
    }

    deinit { pk_pool_destroy(raw) }

    public var threads: Int { Int(pk_pool_size(raw)) }
}
