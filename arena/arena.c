/* Bump allocator: see include/memtable/arena.h for the contract.
 *
 * Invariants (asserted where they are relied on): a bump state's ptr and ptr + bytes_remaining lie in its
 * current block's data; every block in the list is counted in memory_usage; undo.result is the most
 * recent allocation from the arena's bump state (the private one, or in concurrent mode the shared one) or
 * NULL, and undo.block, when set, is the newest block (the head of the list).
 *
 * Concurrent mode. The private bump state stays empty, so the inline bump of mt_arena_try_allocate always
 * misses and the request reaches allocate_concurrent (the only test of the mode is on that slow path). Each
 * thread keeps, per arena, a shard in thread-local storage: a chunk of chunk_size bytes (or a block's shorter
 * last tail, see chunk_to_take) cut from the shared blocks, which the thread alone bumps through, with no lock
 * and no atomic. A shard names its arena by id, a number drawn from a process-wide counter at create and again at reset, never reused: a shard of a
 * destroyed or reset arena can match no live arena, even one created at the same address. Everything
 * shared (the shared bump state, the block list, undo, the spare chunks, the memory_usage writes, the allocator
 * hooks) is touched only under `lock`; chunks and requests above small_limit are served there. The lock is the
 * only publication: a chunk reaches its thread under it, and memory handed out is published by whatever the
 * caller uses to share it.
 *
 * Giving chunks back. A thread that exits (a pthread key's destructor: _Thread_local has none), or that drops
 * an arena's shard for a fifth arena, gives the unused rest of the chunk back: the arena keeps it as a spare,
 * and the next refill, by any thread, takes a spare before cutting a new chunk. The thread knows the arena
 * only by id, and the arena may be gone: the registry (arena_registry.h) finds a live arena by id and, holding
 * its mutex, keeps the arena from being destroyed or reset meanwhile; destroy and reset leave the registry (or
 * take a new id there) before they free anything. Lock order: the registry's, then the arena's.
 *
 * AddressSanitizer builds poison every byte of a block's data not handed out (arena/arena_poison.h says what
 * is poisoned when, and why a chunk is granule-aligned).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* pthread_mutex_* under -std=c11 */
#endif
#include <memtable/arena.h>

#include "arena/arena_internal.h"
#include "arena/arena_poison.h"
#include "arena/malloc_allocator.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void mt_arena_options_init(mt_arena_options *options) {
  if (options == NULL) return;
  const mt_arena_options defaults = MT_ARENA_OPTIONS_INIT;
  *options = defaults;
}

mt_status mt_arena_try_create(const mt_arena_options *options, mt_arena **out) {
  if (out == NULL) return MT_INVALID_ARGUMENT;
  *out = NULL;
  mt_arena_options opts = MT_ARENA_OPTIONS_INIT;
  if (options != NULL) opts = *options;
  if ((opts.allocator.alloc == NULL) != (opts.allocator.free == NULL)) return MT_INVALID_ARGUMENT;
  if (opts.block_size > MT_ARENA_MAX_BLOCK_SIZE) return MT_INVALID_ARGUMENT;
  if (opts.pool != NULL) {
    size_t pool_block_size = mt_block_pool_block_size(opts.pool);
    if (opts.block_size != 0 && opts.block_size != pool_block_size) return MT_INVALID_ARGUMENT;
    opts.block_size = pool_block_size;
  }
  if (opts.block_size == 0) opts.block_size = MT_ARENA_DEFAULT_BLOCK_SIZE;
  if (opts.block_size < ARENA_MIN_BLOCK_SIZE) opts.block_size = ARENA_MIN_BLOCK_SIZE;
  /* A pool owns its blocks' memory as hooks do: neither combines with pages or a NUMA node. */
  bool has_hooks = opts.allocator.alloc != NULL || opts.pool != NULL;
  malloc_allocator_default(&opts.allocator);
  mti_block_source source;
  mt_status source_status = mti_block_source_init(&source, &opts, opts.allocator, has_hooks);
  if (source_status != MT_OK) return source_status;
  opts.block_size = mti_block_source_block_bytes(&source, opts.block_size); /* whole huge pages */
  mt_arena *arena = opts.allocator.alloc(opts.allocator.ctx, sizeof(*arena));
  if (arena == NULL) return MT_NOMEM;
  memset(arena, 0, sizeof(*arena));
  arena->source = source;
  atomic_init(&arena->memory_usage, 0);
  counters_init(&arena->counters);
  arena->block_size = opts.block_size;
  arena->capacity = opts.capacity;
  arena->allocator = opts.allocator;
  arena->pool = opts.pool;
  arena->concurrent = opts.concurrent;
  if (opts.concurrent && mti_arena_concurrent_init(arena) != MT_OK) {
    opts.allocator.free(opts.allocator.ctx, arena, sizeof(*arena));
    return MT_NOMEM;
  }
  *out = arena;
  return MT_OK;
}

mt_arena *mt_arena_create(const mt_arena_options *options) {
  mt_arena *arena;
  (void)mt_arena_try_create(options, &arena);
  return arena;
}

bool mt_arena_is_concurrent(const mt_arena *arena) { return arena != NULL && arena->concurrent; }

void mt_arena_destroy(mt_arena *arena) {
  if (arena == NULL) return;
  if (arena->concurrent) mti_arena_concurrent_leave(arena);
  mti_arena_free_blocks(arena, NULL);
  mt_allocator allocator = arena->allocator;
  allocator.free(allocator.ctx, arena, sizeof(*arena));
}

void mt_arena_reset(mt_arena *arena) {
  if (arena == NULL) return;
  /* Every allocating thread is quiescent (the contract), so the lock is not needed; but a thread may still be
   * exiting, giving a chunk back: it does so under the registry's mutex, which the renewal takes. */
  if (arena->concurrent) mti_arena_concurrent_renew(arena);
  arena_bump *state = arena->concurrent ? &arena->shared : &arena->bump;
  arena_block *keep = state->current;
  mti_arena_free_blocks(arena, keep);
  arena->blocks = keep;
  arena->undo.result = NULL;
  if (keep == NULL) {
    state->ptr = NULL;
    state->bytes_remaining = 0;
    atomic_store_explicit(&arena->memory_usage, 0, memory_order_relaxed); /* statistic only */
    counters_reset(&arena->counters, 0, 0);
    return;
  }
  keep->h.next = NULL;
  arena_poison((char *)keep + ARENA_BLOCK_HEADER, keep->h.size - ARENA_BLOCK_HEADER); /* everything handed out dies */
  state->ptr = (char *)keep + ARENA_BLOCK_HEADER;
  state->bytes_remaining = keep->h.size - ARENA_BLOCK_HEADER;
  atomic_store_explicit(&arena->memory_usage, keep->h.size, memory_order_relaxed); /* statistic only */
  counters_reset(&arena->counters, 1, state->bytes_remaining);
}

/* The request did not fit in the private bump state (always so in concurrent mode, where it stays empty). */
static mt_status allocate_fallback(mt_arena *arena, size_t bytes, size_t alignment, void **out) {
  if (arena->concurrent) return mti_arena_allocate_concurrent(arena, bytes, alignment, out);
  mt_status status = mti_arena_allocate_new_block(arena, &arena->bump, bytes, alignment, out);
  if (status == MT_OK) arena_unpoison(*out, bytes);
  return status;
}

mt_status mt_arena_try_allocate(mt_arena *arena, size_t bytes, size_t alignment, void **out) {
  if (out == NULL) return MT_INVALID_ARGUMENT;
  *out = NULL;
  if (arena == NULL || alignment == 0 || alignment > MT_ARENA_MAX_ALIGNMENT || (alignment & (alignment - 1)) != 0)
    return MT_INVALID_ARGUMENT;
  /* No object may exceed PTRDIFF_MAX; refusing here keeps such sizes away from the allocator. */
  if (bytes > (size_t)PTRDIFF_MAX) return MT_INVALID_ARGUMENT;
  if (bytes == 0) bytes = 1;
  size_t padding = padding_for(arena->bump.ptr, alignment);
  if (bytes <= arena->bump.bytes_remaining && padding <= arena->bump.bytes_remaining - bytes) {
    char *result = arena->bump.ptr + padding;
    arena->bump.ptr = result + bytes;
    arena->bump.bytes_remaining -= bytes + padding;
    assert(!arena->concurrent && arena->bump.current != NULL &&
           arena->bump.ptr + arena->bump.bytes_remaining == (char *)arena->bump.current + arena->bump.current->h.size);
    counters_publish_free(&arena->counters, arena->bump.bytes_remaining);
    arena->undo.result = result;
    arena->undo.block = NULL;
    arena->undo.ptr = result - padding;
    arena_unpoison(result, bytes);
    *out = result;
    return MT_OK;
  }
  return allocate_fallback(arena, bytes, alignment, out);
}

mt_status mt_arena_undo_last(mt_arena *arena, const void *ptr) {
  if (arena == NULL || ptr == NULL) return MT_INVALID_ARGUMENT;
  if (arena->concurrent) return mti_arena_undo_concurrent(arena, ptr);
  if (ptr != arena->undo.result) return MT_INVALID_STATE;
  mti_arena_undo_from(arena, &arena->bump);
  return MT_OK;
}

void *mt_arena_allocate(mt_arena *arena, size_t bytes) {
  void *result;
  (void)mt_arena_try_allocate(arena, bytes, 1, &result);
  return result;
}

void *mt_arena_allocate_aligned(mt_arena *arena, size_t bytes) {
  void *result;
  (void)mt_arena_try_allocate(arena, bytes, MT_ARENA_DEFAULT_ALIGNMENT, &result);
  return result;
}

void *mt_arena_allocate_aligned_to(mt_arena *arena, size_t bytes, size_t alignment) {
  void *result;
  (void)mt_arena_try_allocate(arena, bytes, alignment, &result);
  return result;
}

size_t mt_arena_memory_usage(const mt_arena *arena) {
  if (arena == NULL) return 0;
  /* Relaxed: a statistic read from any thread; it orders nothing. */
  return atomic_load_explicit(&arena->memory_usage, memory_order_relaxed);
}

bool mt_arena_contains(const mt_arena *arena, const void *ptr, size_t len) {
  if (arena == NULL || ptr == NULL) return false;
  uintptr_t start = (uintptr_t)ptr;
  if (len > UINTPTR_MAX - start) return false;
  for (const arena_block *block = arena->blocks; block != NULL; block = block->h.next) {
    uintptr_t data = (uintptr_t)block + ARENA_BLOCK_HEADER;
    uintptr_t end = (uintptr_t)block + block->h.size;
    /* Under ASan, bytes not handed out are poisoned: a validator trusting this must not read them. */
    if (start >= data && start + len <= end) return arena_is_addressable(ptr, len) != 0;
  }
  return false;
}

mt_status mt_arena_get_pages_report(const mt_arena *arena, mt_arena_pages_report *report) {
  if (arena == NULL || report == NULL) return MT_INVALID_ARGUMENT;
  mti_block_source_report(&arena->source, report);
  report->block_size = arena->block_size;
  return MT_OK;
}

mt_status mt_arena_get_stats(const mt_arena *arena, mt_arena_stats *out) {
  if (arena == NULL || out == NULL) return MT_INVALID_ARGUMENT;
  /* Relaxed: see memory_usage. */
  size_t held = atomic_load_explicit(&arena->memory_usage, memory_order_relaxed);
  counters_read(&arena->counters, held, ARENA_BLOCK_HEADER, out);
  out->block_size = arena->block_size;
  return MT_OK;
}

size_t mt_arena_growth_bound(const mt_arena *arena, size_t bytes, size_t alignment) {
  if (arena == NULL || alignment == 0 || alignment > MT_ARENA_MAX_ALIGNMENT || (alignment & (alignment - 1)) != 0)
    return 0;
  if (bytes == 0) bytes = 1;
  size_t needed;
  bool own_block;
  if (!mti_arena_block_for_request(arena, bytes, alignment, &needed, &own_block)) return 0;
  /* A small concurrent request refills its thread's chunk at worst, which takes a standard block at worst. */
  if (arena->concurrent && bytes + (alignment - 1) <= arena->small_limit) return arena->block_size;
  /* With huge pages an own block is rounded up to whole pages (block_source.h); a standard one already is. */
  return own_block ? mti_block_source_block_bytes(&arena->source, needed) : arena->block_size;
}
