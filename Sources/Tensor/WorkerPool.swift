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

    /// Runs body(ith, nth) on every thread of the pool (the caller as ith 0) and returns when all are
    /// done. body must not use this pool.
    public func run(_ body: (_ ith: Int, _ nth: Int) -> Void) {
        withoutActuallyEscaping(body) { escapable in
            var box: (Int, Int) -> Void = escapable
            withUnsafeMutablePointer(to: &box) { ctx in
                pk_pool_run(raw, { ctx, ith, nth in
                    ctx!.assumingMemoryBound(to: ((Int, Int) -> Void).self).pointee(Int(ith), Int(nth))
                }, ctx)
            }
        }
    }
}
