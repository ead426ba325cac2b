/* arena/arena_internal.h - private to the arena layer: the arena's fields and the block functions that the
 * single-threaded path (arena.c) and the concurrent mode (arena_concurrent.c) share (arena_blocks.c).
 * The invariants are at the top of arena.c.
 */
#ifndef MEMTABLE_ARENA_INTERNAL_H
#define MEMTABLE_ARENA_INTERNAL_H

#include <memtable/arena.h>
#include <memtable/block_pool.h>

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena/arena_registry.h"
#include "arena/arena_stats.h"
#include "arena/block_source.h"

/* Every block starts with this header; the union keeps the data after it aligned like malloc's. */
typedef union arena_block {
  struct {
    union arena_block *next; /* all blocks, newest first */
    size_t size;             /* bytes obtained from the allocator, header included */
  } h;
  max_align_t align;
} arena_block;

#define ARENA_BLOCK_HEADER sizeof(arena_block)
#define ARENA_MIN_BLOCK_SIZE ((size_t)256)

typedef struct arena_spare_chunk arena_spare_chunk;

/* Where requests are bumped from: the arena's private state, or in concurrent mode the shared one. */
typedef struct arena_bump {
  char *ptr;              /* next free byte of the current standard block */
  size_t bytes_remaining; /* bytes left after ptr in that block */
  arena_block *current;   /* the standard block ptr points into (NULL before the first) */
} arena_bump;

struct mt_arena {
  arena_bump bump; /* single-threaded mode; always empty in concurrent mode */
  /* mt_arena_get_stats's figures, kept as memory_usage is (see arena_stats.h); beside bump, whose every
   * allocation mirrors its bytes_remaining here, so that store hits the line the bump writes anyway. */
  arena_counters counters;
  arena_block *blocks; /* every block held, for destroy/reset/contains */
  /* Written by one thread at a time (the allocating thread, in concurrent mode the holder of `lock`), read
   * by any: relaxed is enough because the figure is a statistic and publishes no memory (readers never
   * dereference anything because of it). */
  _Atomic size_t memory_usage;
  size_t block_size;
  size_t capacity;        /* 0 = unlimited */
  mt_allocator allocator; /* the arena's own header; blocks come from `pool` or `source` */
  mt_block_pool *pool;    /* NULL, or where every block of exactly block_size bytes comes from */
  mti_block_source source;
  /* How to take back the most recent allocation from `bump` (or, in concurrent mode, from `shared`). A bump
   * records its result and where it started (ptr before it); a fallback records the block it obtained and
   * the position before it (restored when that block became the current one). */
  struct {
    char *result;           /* the most recent allocation, NULL when there is nothing to undo */
    arena_block *block;     /* the block that allocation obtained, or NULL (a bump) */
    arena_block *current;   /* fallback only: the current block before it */
    char *ptr;              /* ptr before the allocation */
    size_t bytes_remaining; /* fallback only: bytes_remaining before it */
    size_t wasted;          /* fallback only: what it added to wasted_bytes (arena_stats.h) */
  } undo;
  bool concurrent;
  /* Concurrent mode only. id, chunk_size and small_limit change only at create and reset, which exclude
   * every allocating thread, so plain fields suffice. */
  uint64_t id;          /* the shards' key: see the top of this file */
  size_t chunk_size;    /* bytes a shard takes from the shared blocks at a time */
  size_t small_limit;   /* chunk_size / 4: requests (alignment slack included) up to it use the shard */
  pthread_mutex_t lock; /* guards shared, blocks, undo, spares, memory_usage writes and the allocator hooks */
  arena_bump shared;
  arena_spare_chunk *spares;     /* chunks given back, newest first (arena_concurrent.c) */
  arena_registry_entry registry; /* how a thread that holds a chunk here finds the arena by id */
};

static inline size_t padding_for(const char *ptr, size_t alignment) {
  return (size_t)(-(uintptr_t)ptr) & (alignment - 1);
}

/* Gives every block back but `keep` (arena_blocks.c). */
void mti_arena_free_blocks(mt_arena *arena, arena_block *keep);

/* The fallback rule (arena.h) for a request that does not fit the current block: false when the request is
 * too large for any block; else *needed is the block it needs (header and alignment slack included) and
 * *own_block whether it gets a block of its own (above a quarter block, or above a standard block). */
bool mti_arena_block_for_request(const mt_arena *arena, size_t bytes, size_t alignment, size_t *needed,
                                 bool *own_block);

/* The request did not fit in state's current block: a new block by the fallback rule, recorded for undo. */
mt_status mti_arena_allocate_new_block(mt_arena *arena, arena_bump *state, size_t bytes, size_t alignment, void **out);

/* Takes back arena->undo.result from `state` (the caller checked it is the allocation named). */
void mti_arena_undo_from(mt_arena *arena, arena_bump *state);

/* Concurrent mode (arena_concurrent.c). init: at create, with the arena's block size (MT_NOMEM when the lock
 * cannot be made); leave: at destroy, before any block is freed; renew: at reset, before any block is freed. */
mt_status mti_arena_concurrent_init(mt_arena *arena);
void mti_arena_concurrent_leave(mt_arena *arena);
void mti_arena_concurrent_renew(mt_arena *arena);
/* A request that did not fit the private bump state, from the thread's chunk or the shared state. */
mt_status mti_arena_allocate_concurrent(mt_arena *arena, size_t bytes, size_t alignment, void **out);
/* mt_arena_undo_last in concurrent mode: see arena.h for what can be taken back. */
mt_status mti_arena_undo_concurrent(mt_arena *arena, const void *ptr);

#endif
