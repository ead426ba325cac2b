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

#include "arena/arena_poison.h"
#include "arena/arena_registry.h"
#include "arena/block_pool_internal.h"
#include "arena/block_source.h"
#include "arena/malloc_allocator.h"

#include <assert.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena/arena_stats.h"

/* Every block starts with this header; the union keeps the data after it aligned like malloc's. */
typedef union arena_block {
  struct {
    union arena_block *next; /* all blocks, newest first */
    size_t size;          /* bytes obtained from the allocator, header included */
  } h;
  max_align_t align;
} arena_block;

#define ARENA_BLOCK_HEADER sizeof(arena_block)
#define ARENA_MIN_BLOCK_SIZE ((size_t)256)
/* Concurrent mode: a chunk is an eighth of a block (so it never needs a block of its own and a block
 * change abandons less than a chunk), at most this much (what a thread can leave unused stays small). */
#define ARENA_MAX_CHUNK_SIZE ((size_t)8192)
/* A chunk is cut with the default alignment: then it starts on an ASan granule (arena_poison.h). */
_Static_assert(MT_ARENA_DEFAULT_ALIGNMENT % ARENA_POISON_GRANULE == 0, "chunks start on a granule");
/* Arenas a thread keeps a chunk in at once; one more in turn evicts the least recently used. */
#define ARENA_SHARDS_PER_THREAD 4

/* A chunk's unused rest given back (see "Giving chunks back" above), kept in its own first bytes: a list of
 * them, newest first. Its start is granule-aligned, so the thread that takes it shares no granule with the
 * one that gave it back (arena_poison.h); the record itself stays poisoned but while it is read or written. */
typedef struct arena_spare_chunk {
  struct arena_spare_chunk *next;
  size_t bytes; /* the chunk's bytes, this record's included */
} arena_spare_chunk;

/* The concurrent path stays out of line: inlined into mt_arena_try_allocate it would widen that function's
 * frame and prologue, which every single-threaded allocation pays (objdump -d of arena.c.o at -O2). */
#if defined(__GNUC__) || defined(__clang__)
#define ARENA_NOINLINE __attribute__((noinline))
#else
#define ARENA_NOINLINE
#endif

/* Where requests are bumped from: the arena's private state, or in concurrent mode the shared one. */
typedef struct arena_bump {
  char *ptr;              /* next free byte of the current standard block */
  size_t bytes_remaining; /* bytes left after ptr in that block */
  arena_block *current;      /* the standard block ptr points into (NULL before the first) */
} arena_bump;

struct mt_arena {
  arena_bump bump;     /* single-threaded mode; always empty in concurrent mode */
  /* mt_arena_get_stats's figures, kept as memory_usage is (see arena_stats.h); beside bump, whose every
   * allocation mirrors its bytes_remaining here, so that store hits the line the bump writes anyway. */
  arena_counters counters;
  arena_block *blocks; /* every block held, for destroy/reset/contains */
  /* Written by one thread at a time (the allocating thread, in concurrent mode the holder of `lock`), read
   * by any: relaxed is enough because the figure is a statistic and publishes no memory (readers never
   * dereference anything because of it). */
  _Atomic size_t memory_usage;
  size_t block_size;
  size_t capacity; /* 0 = unlimited */
  mt_allocator allocator; /* the arena's own header; blocks come from `pool` or `source` */
  mt_block_pool *pool;    /* NULL, or where every block of exactly block_size bytes comes from */
  mti_block_source source;
  /* How to take back the most recent allocation from `bump` (or, in concurrent mode, from `shared`). A bump
   * records its result and where it started (ptr before it); a fallback records the block it obtained and
   * the position before it (restored when that block became the current one). */
  struct {
    char *result;      /* the most recent allocation, NULL when there is nothing to undo */
    arena_block *block;   /* the block that allocation obtained, or NULL (a bump) */
    arena_block *current; /* fallback only: the current block before it */
    char *ptr;         /* ptr before the allocation */
    size_t bytes_remaining; /* fallback only: bytes_remaining before it */
    size_t wasted;          /* fallback only: what it added to wasted_bytes (arena_stats.h) */
  } undo;
  bool concurrent;
  /* Concurrent mode only. id, chunk_size and small_limit change only at create and reset, which exclude
   * every allocating thread, so plain fields suffice. */
  uint64_t id;        /* the shards' key: see the top of this file */
  size_t chunk_size;  /* bytes a shard takes from the shared blocks at a time */
  size_t small_limit; /* chunk_size / 4: requests (alignment slack included) up to it use the shard */
  pthread_mutex_t lock; /* guards shared, blocks, undo, spares, memory_usage writes and the allocator hooks */
  arena_bump shared;
  arena_spare_chunk *spares; /* chunks given back, newest first */
  arena_registry_entry registry; /* how a thread that holds a chunk here finds the arena by id */
};

/* A thread's chunk in one concurrent arena, and how to undo the thread's latest allocation there. */
typedef struct arena_shard {
  uint64_t arena_id;      /* 0: unused (ids start at 1) */
  char *ptr;              /* next free byte of the chunk */
  size_t bytes_remaining; /* bytes left after ptr in the chunk */
  const char *last;       /* the thread's latest allocation here, NULL when there is nothing to undo */
  char *last_start;       /* from the chunk: ptr before it (padding included); NULL: from the shared state */
  char *refill;           /* the chunk it took (the shared allocation, or the spare, to give back), or NULL */
  char *previous_ptr;     /* refill only: the chunk before it */
  size_t previous_bytes_remaining;
  /* refill only: the chunk was a spare, not a shared allocation. Last: the fields above, which every
   * allocation writes, keep to the first 64 bytes; this one is written at a refill only. */
  bool refill_spare;
} arena_shard;

/* Most recently used first. Never dereferenced for an arena whose id does not match. */
static _Thread_local arena_shard thread_shards[ARENA_SHARDS_PER_THREAD];

/* Relaxed: each fetch_add returns a distinct value by itself; an id publishes no memory. */
static _Atomic uint64_t next_arena_id = 1;

static uint64_t new_arena_id(void) {
  return atomic_fetch_add_explicit(&next_arena_id, 1, memory_order_relaxed); /* uniqueness only */
}

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
  if (opts.concurrent) {
    /* Only resource exhaustion can make a default mutex fail to initialise. */
    if (pthread_mutex_init(&arena->lock, NULL) != 0) {
      opts.allocator.free(opts.allocator.ctx, arena, sizeof(*arena));
      return MT_NOMEM;
    }
    arena->id = new_arena_id();
    size_t chunk_size = opts.block_size / 8;
    if (chunk_size > ARENA_MAX_CHUNK_SIZE) chunk_size = ARENA_MAX_CHUNK_SIZE;
    /* Whole ASan granules (a chunk also starts on one: it is cut with the default alignment), so no two
     * threads ever change the shadow of one granule; in every build, so every build carves the same. */
    chunk_size &= ~(ARENA_POISON_GRANULE - 1);
    arena->chunk_size = chunk_size;
    arena->small_limit = chunk_size / 4;
    /* A chunk always comes from a standard block, so it never obtains a block of its own. */
    assert(arena->chunk_size <= arena->block_size / 4 && ARENA_BLOCK_HEADER + arena->chunk_size <= arena->block_size);
    mti_arena_registry_add(&arena->registry, arena->id);
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

/* Blocks of exactly the standard size come from the pool, when there is one; every other from the
 * allocator. (An own block can have the standard size too; it is then a pool block like the rest.) */
static bool from_pool(const mt_arena *arena, size_t size) {
  return arena->pool != NULL && size == arena->block_size;
}

/* Gives a block back to the pool or the allocator, addressable again: it is theirs now (arena_poison.h;
 * the pool poisons the blocks it keeps idle). */
static void release_block(mt_arena *arena, arena_block *block) {
  size_t size = block->h.size;
  arena_unpoison_block(block, size);
  if (from_pool(arena, size)) mti_block_pool_take_back(arena->pool, block);
  else mti_block_source_free(&arena->source, block, size);
}

static void free_blocks(mt_arena *arena, arena_block *keep) {
  arena_block *block = arena->blocks;
  while (block != NULL) {
    arena_block *next = block->h.next;
    if (block != keep) release_block(arena, block);
    block = next;
  }
}

void mt_arena_destroy(mt_arena *arena) {
  if (arena == NULL) return;
  /* First: an exiting thread giving a chunk back either finished, or will not find the arena. */
  if (arena->concurrent) mti_arena_registry_remove(&arena->registry);
  free_blocks(arena, NULL);
  if (arena->concurrent) pthread_mutex_destroy(&arena->lock);
  mt_allocator allocator = arena->allocator;
  allocator.free(allocator.ctx, arena, sizeof(*arena));
}

void mt_arena_reset(mt_arena *arena) {
  if (arena == NULL) return;
  /* Every allocating thread is quiescent (the contract), so the lock is not needed; but a thread may still be
   * exiting, giving a chunk back: it does so under the registry's mutex, which the renewal takes. */
  if (arena->concurrent) {
    /* Every thread's chunk and undo record die with the old id, and the spares with the blocks. */
    arena->id = new_arena_id();
    mti_arena_registry_renew(&arena->registry, arena->id);
    arena->spares = NULL;
  }
  arena_bump *state = arena->concurrent ? &arena->shared : &arena->bump;
  arena_block *keep = state->current;
  free_blocks(arena, keep);
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

static inline size_t padding_for(const char *ptr, size_t alignment) {
  return (size_t)(-(uintptr_t)ptr) & (alignment - 1);
}

/* The fallback rule (arena.h) for a request that does not fit the current block: false when the request is
 * too large for any block; else *needed is the block it needs (header and alignment slack included) and
 * *own_block whether it gets a block of its own (above a quarter block, or above a standard block). */
static bool block_for_request(const mt_arena *arena, size_t bytes, size_t alignment, size_t *needed, bool *own_block) {
  /* Blocks are aligned like max_align_t; stricter alignment needs room to slide the start. */
  size_t slack = alignment > alignof(max_align_t) ? alignment - 1 : 0;
  /* The whole block, header and slack included, is one object: it must not exceed PTRDIFF_MAX either. */
  if (bytes > (size_t)PTRDIFF_MAX - ARENA_BLOCK_HEADER - slack) return false;
  *needed = ARENA_BLOCK_HEADER + slack + bytes;
  *own_block = bytes > arena->block_size / 4 || *needed > arena->block_size;
  return true;
}

/* The request did not fit in state's current block: see the fallback rule in arena.h. */
static mt_status allocate_new_block(mt_arena *arena, arena_bump *state, size_t bytes, size_t alignment, void **out) {
  size_t needed;
  bool own_block;
  if (!block_for_request(arena, bytes, alignment, &needed, &own_block)) return MT_INVALID_ARGUMENT;
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

/* Concurrent mode, under the lock: the single-threaded rule applied to the shared state. */
static mt_status allocate_shared(mt_arena *arena, size_t bytes, size_t alignment, void **out) {
  arena_bump *state = &arena->shared;
  size_t padding = padding_for(state->ptr, alignment);
  if (bytes <= state->bytes_remaining && padding <= state->bytes_remaining - bytes) {
    char *result = state->ptr + padding;
    state->ptr = result + bytes;
    state->bytes_remaining -= bytes + padding;
    assert(state->current != NULL &&
           state->ptr + state->bytes_remaining == (char *)state->current + state->current->h.size);
    counters_publish_free(&arena->counters, state->bytes_remaining);
    arena->undo.result = result;
    arena->undo.block = NULL;
    arena->undo.ptr = result - padding;
    *out = result;
    return MT_OK;
  }
  return allocate_new_block(arena, state, bytes, alignment, out);
}

static void lock_arena(mt_arena *arena) {
  int error = pthread_mutex_lock(&arena->lock);
  /* A default mutex fails only when misused (not initialised, or relocked by its holder). */
  assert(error == 0);
  (void)error;
}

static void unlock_arena(mt_arena *arena) {
  int error = pthread_mutex_unlock(&arena->lock);
  assert(error == 0);
  (void)error;
}

/* The calling thread's shard for the arena, or NULL when it has none. */
static arena_shard *find_shard(const mt_arena *arena) {
  for (size_t i = 0; i < ARENA_SHARDS_PER_THREAD; i++) {
    if (thread_shards[i].arena_id == arena->id) return &thread_shards[i];
  }
  return NULL;
}

/* Under the lock: keeps [ptr, ptr + bytes), the unused rest of a chunk, as a spare, or counts it as waste
 * when it cannot hold a spare's record (the rest of a chunk was counted as used, with the chunk). */
static void keep_spare(mt_arena *arena, char *ptr, size_t bytes) {
  size_t padding = padding_for(ptr, ARENA_POISON_GRANULE);
  if (bytes < padding || bytes - padding < sizeof(arena_spare_chunk)) {
    counter_add(&arena->counters.wasted_bytes, bytes);
    return;
  }
  counter_add(&arena->counters.wasted_bytes, padding);
  arena_spare_chunk *spare = (arena_spare_chunk *)(void *)(ptr + padding);
  arena_unpoison(spare, sizeof(*spare));
  *spare = (arena_spare_chunk){arena->spares, bytes - padding};
  arena_poison(spare, sizeof(*spare));
  arena->spares = spare;
  counter_add(&arena->counters.spare_bytes, bytes - padding);
}

/* Under the lock: the newest spare, taken off the list, when it can serve a request of `bytes` at `alignment`
 * (*size gets its size); NULL when there is none, or when it cannot, and is then wasted: less than the
 * request, as a chunk's tail abandoned at a refill is. One look per refill, however many spares wait. */
static char *take_spare(mt_arena *arena, size_t bytes, size_t alignment, size_t *size) {
  arena_spare_chunk *spare = arena->spares;
  if (spare == NULL) return NULL;
  arena_unpoison(spare, sizeof(*spare));
  arena->spares = spare->next;
  *size = spare->bytes;
  arena_poison(spare, sizeof(*spare));
  counter_sub(&arena->counters.spare_bytes, *size);
  size_t padding = padding_for((char *)spare, alignment);
  if (bytes <= *size && padding <= *size - bytes) return (char *)spare;
  counter_add(&arena->counters.wasted_bytes, *size);
  return NULL;
}

/* Gives the unused rest of the shard's chunk back to its arena, if that arena is alive, and empties the shard.
 * The calling thread holds no arena's lock (the registry's mutex comes first). */
static void give_back_shard(arena_shard *shard) {
  if (shard->arena_id != 0 && shard->bytes_remaining != 0) {
    arena_registry_entry *entry = mti_arena_registry_lock_find(shard->arena_id);
    if (entry != NULL) {
      mt_arena *arena = (mt_arena *)(void *)((char *)entry - offsetof(mt_arena, registry));
      lock_arena(arena);
      keep_spare(arena, shard->ptr, shard->bytes_remaining);
      unlock_arena(arena);
    }
    mti_arena_registry_unlock();
  }
  *shard = (arena_shard){0, NULL, 0, NULL, NULL, NULL, NULL, 0, false};
}

static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static bool exit_key_made; /* written once inside pthread_once, read after it */
static _Thread_local bool thread_watched;

/* The exit key's destructor: every chunk the thread holds goes back. A later destructor that allocates
 * watches the thread again (the key is set again, and destructors run another round). */
static void give_back_thread_shards(void *marker) {
  (void)marker;
  thread_watched = false;
  for (size_t i = 0; i < ARENA_SHARDS_PER_THREAD; i++) give_back_shard(&thread_shards[i]);
}

static void make_exit_key(void) { exit_key_made = pthread_key_create(&exit_key, give_back_thread_shards) == 0; }

/* Makes sure the calling thread gives its chunks back when it exits. Without a key left in the system it
 * cannot: its chunks then stay unused until reset or destroy, as the contract allows. */
static void watch_thread(void) {
  if (thread_watched) return;
  (void)pthread_once(&exit_key_once, make_exit_key);
  /* Any value but NULL (NULL skips the destructor). */
  if (exit_key_made && pthread_setspecific(exit_key, &thread_watched) == 0) thread_watched = true;
}

/* The calling thread's shard for the arena, moved to the front; a new, empty one when it has none, in place
 * of the least recently used, whose chunk goes back to its arena. */
static arena_shard *claim_shard(const mt_arena *arena) {
  assert(arena->concurrent && arena->id != 0);
  if (thread_shards[0].arena_id == arena->id) return &thread_shards[0];
  arena_shard *found = find_shard(arena);
  arena_shard shard = {arena->id, NULL, 0, NULL, NULL, NULL, NULL, 0, false};
  if (found != NULL) {
    shard = *found;
  } else {
    give_back_shard(&thread_shards[ARENA_SHARDS_PER_THREAD - 1]);
    watch_thread();
  }
  size_t last = found != NULL ? (size_t)(found - thread_shards) : ARENA_SHARDS_PER_THREAD - 1;
  memmove(&thread_shards[1], &thread_shards[0], last * sizeof(arena_shard));
  thread_shards[0] = shard;
  return &thread_shards[0];
}

/* Under the lock: the size of the next chunk. A block's data is rarely a multiple of chunk_size (64 KiB
 * blocks hold 7.99 chunks of 8 KiB), so a shared tail shorter than a chunk but able to serve a small request
 * becomes the chunk itself, rather than be abandoned: a whole block's worth of such tails would otherwise be
 * lost every eight blocks (memtable_budget_test, should_flush with concurrent writers). */
static size_t chunk_to_take(const mt_arena *arena) {
  const arena_bump *state = &arena->shared;
  size_t padding = padding_for(state->ptr, MT_ARENA_DEFAULT_ALIGNMENT);
  if (state->bytes_remaining < padding) return arena->chunk_size;
  size_t tail = state->bytes_remaining - padding;
  return tail < arena->chunk_size && tail >= arena->small_limit ? tail : arena->chunk_size;
}

/* Concurrent mode: a small request from the thread's chunk (refilled under the lock when it does not fit),
 * any other from the shared state under the lock. */
static ARENA_NOINLINE mt_status allocate_concurrent(mt_arena *arena, size_t bytes, size_t alignment, void **out) {
  arena_shard *shard = claim_shard(arena);
  void *result;
  /* Small means the request fits a quarter chunk even at its worst padding: a refill then abandons less
   * than a quarter of the chunk. bytes <= PTRDIFF_MAX, so the sum cannot wrap. */
  if (bytes + (alignment - 1) > arena->small_limit) {
    lock_arena(arena);
    mt_status status = allocate_shared(arena, bytes, alignment, &result);
    /* Under the lock: its first and last granules may hold another thread's large request. */
    if (status == MT_OK) arena_unpoison(result, bytes);
    unlock_arena(arena);
    if (status != MT_OK) return status;
    *shard = (arena_shard){shard->arena_id, shard->ptr, shard->bytes_remaining, result, NULL, NULL, NULL, 0, false};
    *out = result;
    return MT_OK;
  }
  size_t padding = padding_for(shard->ptr, alignment);
  char *refill = NULL;
  char *previous_ptr = shard->ptr;
  size_t previous_bytes_remaining = shard->bytes_remaining;
  if (bytes > shard->bytes_remaining || padding > shard->bytes_remaining - bytes) {
    lock_arena(arena);
    /* A spare first, when it serves the request. */
    size_t take;
    result = take_spare(arena, bytes, alignment, &take);
    bool refill_spare = result != NULL;
    mt_status status = MT_OK;
    if (!refill_spare) {
      take = chunk_to_take(arena);
      status = allocate_shared(arena, take, MT_ARENA_DEFAULT_ALIGNMENT, &result);
    }
    if (status == MT_OK) counter_add(&arena->counters.wasted_bytes, previous_bytes_remaining); /* old chunk's tail */
    unlock_arena(arena);
    if (status != MT_OK) return status; /* the old chunk stays, so nothing changed */
    refill = result;
    shard->ptr = refill;
    shard->bytes_remaining = take;
    shard->refill_spare = refill_spare; /* read by undo only when refill is set */
    padding = padding_for(refill, alignment);
  }
  assert(bytes + padding <= shard->bytes_remaining);
  char *start = shard->ptr;
  shard->ptr = start + padding + bytes;
  shard->bytes_remaining -= padding + bytes;
  shard->last = start + padding;
  shard->last_start = start;
  shard->refill = refill;
  shard->previous_ptr = previous_ptr;
  shard->previous_bytes_remaining = previous_bytes_remaining;
  arena_unpoison(start + padding, bytes); /* the chunk is this thread's, granules and all */
  *out = start + padding;
  return MT_OK;
}

/* The request did not fit in the private bump state (always so in concurrent mode, where it stays empty). */
static mt_status allocate_fallback(mt_arena *arena, size_t bytes, size_t alignment, void **out) {
  if (arena->concurrent) return allocate_concurrent(arena, bytes, alignment, out);
  mt_status status = allocate_new_block(arena, &arena->bump, bytes, alignment, out);
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
           arena->bump.ptr + arena->bump.bytes_remaining ==
               (char *)arena->bump.current + arena->bump.current->h.size);
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

/* Takes back arena->undo.result from `state` (the caller checked it is the allocation named). */
static void undo_from(mt_arena *arena, arena_bump *state) {
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

/* Concurrent mode: see mt_arena_undo_last in arena.h for what can be taken back. */
static mt_status undo_concurrent(mt_arena *arena, const void *ptr) {
  arena_shard *shard = find_shard(arena);
  if (shard == NULL || shard->last == NULL || ptr != shard->last) return MT_INVALID_ARGUMENT;
  if (shard->last_start == NULL) {
    /* From the shared state: undoable while no thread has allocated from it since. */
    lock_arena(arena);
    bool latest = arena->undo.result == ptr;
    if (latest) undo_from(arena, &arena->shared);
    unlock_arena(arena);
    if (!latest) return MT_INVALID_ARGUMENT;
    shard->last = NULL;
    return MT_OK;
  }
  shard->last = NULL;
  if (shard->refill != NULL && shard->refill_spare) {
    /* A spare goes back to the spares, whole (it ends where the chunk ends), and the old chunk to the thread. */
    size_t spare_bytes = (size_t)(shard->ptr - shard->refill) + shard->bytes_remaining;
    arena_poison(shard->refill, (size_t)(shard->ptr - shard->refill));
    lock_arena(arena);
    keep_spare(arena, shard->refill, spare_bytes);
    counter_sub(&arena->counters.wasted_bytes, shard->previous_bytes_remaining); /* the old chunk is back */
    unlock_arena(arena);
    shard->ptr = shard->previous_ptr;
    shard->bytes_remaining = shard->previous_bytes_remaining;
    return MT_OK;
  }
  if (shard->refill != NULL) {
    /* The chunk it took goes back too (with its block, if it obtained one) while it is still the shared
     * state's latest allocation; otherwise the chunk stays and only the bump is rewound. */
    lock_arena(arena);
    bool latest = arena->undo.result == shard->refill;
    if (latest) {
      undo_from(arena, &arena->shared);
      counter_sub(&arena->counters.wasted_bytes, shard->previous_bytes_remaining); /* the old chunk is back */
    }
    unlock_arena(arena);
    if (latest) {
      shard->ptr = shard->previous_ptr;
      shard->bytes_remaining = shard->previous_bytes_remaining;
      return MT_OK;
    }
  }
  assert(shard->last_start <= (const char *)ptr && (const char *)ptr < shard->ptr);
  arena_poison(shard->last_start, (size_t)(shard->ptr - shard->last_start));
  shard->bytes_remaining += (size_t)(shard->ptr - shard->last_start);
  shard->ptr = shard->last_start;
  return MT_OK;
}

mt_status mt_arena_undo_last(mt_arena *arena, const void *ptr) {
  if (arena == NULL || ptr == NULL) return MT_INVALID_ARGUMENT;
  if (arena->concurrent) return undo_concurrent(arena, ptr);
  if (ptr != arena->undo.result) return MT_INVALID_ARGUMENT;
  undo_from(arena, &arena->bump);
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

int mt_arena_contains(const mt_arena *arena, const void *ptr, size_t len) {
  if (arena == NULL || ptr == NULL) return 0;
  uintptr_t start = (uintptr_t)ptr;
  if (len > UINTPTR_MAX - start) return 0;
  for (const arena_block *block = arena->blocks; block != NULL; block = block->h.next) {
    uintptr_t data = (uintptr_t)block + ARENA_BLOCK_HEADER;
    uintptr_t end = (uintptr_t)block + block->h.size;
    /* Under ASan, bytes not handed out are poisoned: a validator trusting this must not read them. */
    if (start >= data && start + len <= end) return arena_is_addressable(ptr, len);
  }
  return 0;
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
  if (!block_for_request(arena, bytes, alignment, &needed, &own_block)) return 0;
  /* A small concurrent request refills its thread's chunk at worst, which takes a standard block at worst. */
  if (arena->concurrent && bytes + (alignment - 1) <= arena->small_limit) return arena->block_size;
  /* With huge pages an own block is rounded up to whole pages (block_source.h); a standard one already is. */
  return own_block ? mti_block_source_block_bytes(&arena->source, needed) : arena->block_size;
}
