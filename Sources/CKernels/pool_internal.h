#pragma once
#include <stddef.h>
#include <string.h>

#include "ckernels.h"

// Grow-only scratch owned by the pool (valid until the next call); NULL when out of memory.
void *pk_pool_scratch(pk_pool *pool, size_t bytes);

// Like pk_pool_run, for jobs whose workers take chunks from a shared counter until none is left: once
// the caller's fn returns (all chunks claimed), workers that have not started yet are skipped instead
// of waited for, so a sleeping or preempted worker costs nothing. fn must not rely on every ith running.
void pk_pool_run_dynamic(pk_pool *pool, void (*fn)(void *ctx, int ith, int nth), void *ctx);
