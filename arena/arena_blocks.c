/* The arena's blocks: obtaining, linking, giving back, and the fallback rule that picks a new block's size.
 * Shared by both modes: the single-threaded path calls these directly, the concurrent mode under its lock. */

#include "arena/arena_internal.h"
#include "arena/arena_poison.h"

#include <assert.h>
#include <string.h>
#include "arena/block_pool_internal.h"

/* Blocks of exactly the standard size come from the pool, when there is one; every other from the
 * allocator. (An own block can have the standard size too; it is then a pool block like the rest.) */
static bool from_pool(const mt_arena *arena, size_t size) { return arena->pool != NULL && size == arena->block_size; }

/* Gives a block back to the pool or the allocator, addressable again: it is theirs now (arena_poison.h;
 * the pool poisons the blocks it keeps idle). */
static void release_block(mt_arena *arena, arena_block *block) {
  size_t size = block->h.size;
  arena_unpoison_block(block, size);
  if (from_pool(arena, size)) mti_block_pool_take_back(arena->pool, block);
  else mti_block_source_free(&arena->source, block, size);
}

void mti_arena_free_blocks(mt_arena *arena, arena_block *keep) {
  arena_block *block = arena->blocks;
  while (block != NULL) {
    arena_block *next = block->h.next;
    if (block != keep) release_block(arena, block);
    block = next;
  }
}

/* Obtains a block of `size` bytes (header included) and links it, or reports why not. */
static mt_status new_block(mt_arena *arena, size_t size, arena_block **out) {
  /* Relaxed: only this thread (in concurrent mode, the holder of the lock) writes the figure. */
  size_t usage = atomic_load_explicit(&arena->memory_usage, memory_order_relaxed);
  size = mti_block_source_block_bytes(&arena->source, size);
  if (size == 0) return MT_INVALID_ARGUMENT;
  if (arena->capacity != 0 && (size > arena->capacity || usage > arena->capacity - size)) return MT_FULL;
  arena_block *block;
  if (from_pool(arena, size)) {
    void *memory;
    mt_status status = mti_block_pool_lend(arena->pool, &memory);
    if (status != MT_OK) return status;
    block = memory;
  } else {
    block = mti_block_source_alloc(&arena->source, size);
    if (block == NULL) return MT_NOMEM;
  }
  arena_poison_new_block(block, size, ARENA_BLOCK_HEADER);
  block->h.size = size;
  block->h.next = arena->blocks;
  arena->blocks = block;
  atomic_store_explicit(&arena->memory_usage, usage + size, memory_order_relaxed); /* statistic only */
  counter_add(&arena->counters.blocks, 1);
  *out = block;
  return MT_OK;
}

bool mti_arena_block_for_request(const mt_arena *arena, size_t bytes, size_t alignment, size_t *needed,
                                 bool *own_block) {
  /* Blocks are aligned like max_align_t; stricter alignment needs room to slide the start. */
  size_t slack = alignment > alignof(max_align_t) ? alignment - 1 : 0;
  /* The whole block, header and slack included, is one object: it must not exceed PTRDIFF_MAX either. */
  if (bytes > (size_t)PTRDIFF_MAX - ARENA_BLOCK_HEADER - slack) return false;
  *needed = ARENA_BLOCK_HEADER + slack + bytes;
  *own_block = bytes > arena->block_size / 4 || *needed > arena->block_size;
  return true;
}

mt_status mti_arena_allocate_new_block(mt_arena *arena, arena_bump *state, size_t bytes, size_t alignment, void **out) {
  size_t needed;
  bool own_block;
  if (!mti_arena_block_for_request(arena, bytes, alignment, &needed, &own_block)) return MT_INVALID_ARGUMENT;
  arena_block *block;
  mt_status status = new_block(arena, own_block ? needed : arena->block_size, &block);
  if (status != MT_OK) return status;
  char *data = (char *)block + ARENA_BLOCK_HEADER;
  char *result = data + padding_for(data, alignment);
  assert(result + bytes <= (char *)block + block->h.size);
  arena->undo.result = result;
  arena->undo.block = block;
  arena->undo.current = state->current;
  arena->undo.ptr = state->ptr;
  arena->undo.bytes_remaining = state->bytes_remaining;
  size_t rest = block->h.size - ARENA_BLOCK_HEADER - (size_t)(result - data) - bytes;
  /* Waste: an own block's unused alignment slack, or the abandoned tail of the old current block. */
  arena->undo.wasted = own_block ? rest : state->bytes_remaining;
  counter_add(&arena->counters.wasted_bytes, arena->undo.wasted);
  if (!own_block) {
    /* The new block becomes the current one; the rest of the old one is abandoned. */
    state->current = block;
    state->ptr = result + bytes;
    state->bytes_remaining = rest;
    counters_publish_free(&arena->counters, rest);
  }
  *out = result;
  return MT_OK;
}

void mti_arena_undo_from(mt_arena *arena, arena_bump *state) {
  arena_block *block = arena->undo.block;
  assert(arena->undo.result != NULL);
  if (block == NULL) {
    /* A bump: the bytes from where it started (alignment padding included) are free again. */
    char *start = arena->undo.ptr;
    assert(start >= (char *)state->current + ARENA_BLOCK_HEADER && start <= arena->undo.result &&
           arena->undo.result <= state->ptr);
    arena->undo.result = NULL;
    arena_poison(start, (size_t)(state->ptr - start));
    state->bytes_remaining += (size_t)(state->ptr - start);
    state->ptr = start;
    counters_publish_free(&arena->counters, state->bytes_remaining);
    return;
  }
  /* The allocation obtained the newest block: give that block back and restore the position before it. */
  assert(arena->blocks == block);
  arena->undo.result = NULL;
  arena->blocks = block->h.next;
  if (state->current == block) {
    state->current = arena->undo.current;
    state->ptr = arena->undo.ptr;
    state->bytes_remaining = arena->undo.bytes_remaining;
    counters_publish_free(&arena->counters, state->bytes_remaining);
  }
  counter_sub(&arena->counters.wasted_bytes, arena->undo.wasted);
  counter_sub(&arena->counters.blocks, 1);
  /* Relaxed: only this thread (in concurrent mode, the holder of the lock) writes the figure. */
  size_t usage = atomic_load_explicit(&arena->memory_usage, memory_order_relaxed);
  atomic_store_explicit(&arena->memory_usage, usage - block->h.size, memory_order_relaxed); /* statistic only */
  release_block(arena, block);
}
