/* The arena's concurrent mode (mt_arena_options.concurrent): see "Concurrent mode" and "Giving chunks back" at
 * the top of arena.c. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* pthread_mutex_* under -std=c11 */
#endif

#include "arena/arena_internal.h"
#include "arena/arena_poison.h"

#include <assert.h>
#include <string.h>
#include <pthread.h>

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
struct arena_spare_chunk {
  struct arena_spare_chunk *next;
  size_t bytes; /* the chunk's bytes, this record's included */
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
  return mti_arena_allocate_new_block(arena, state, bytes, alignment, out);
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
mt_status mti_arena_allocate_concurrent(mt_arena *arena, size_t bytes, size_t alignment, void **out) {
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

mt_status mti_arena_undo_concurrent(mt_arena *arena, const void *ptr) {
  arena_shard *shard = find_shard(arena);
  if (shard == NULL || shard->last == NULL || ptr != shard->last) return MT_INVALID_STATE;
  if (shard->last_start == NULL) {
    /* From the shared state: undoable while no thread has allocated from it since. */
    lock_arena(arena);
    bool latest = arena->undo.result == ptr;
    if (latest) mti_arena_undo_from(arena, &arena->shared);
    unlock_arena(arena);
    if (!latest) return MT_INVALID_STATE;
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
      mti_arena_undo_from(arena, &arena->shared);
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

mt_status mti_arena_concurrent_init(mt_arena *arena) {
  /* Only resource exhaustion can make a default mutex fail to initialise. */
  if (pthread_mutex_init(&arena->lock, NULL) != 0) return MT_NOMEM;
  arena->id = new_arena_id();
  size_t chunk_size = arena->block_size / 8;
  if (chunk_size > ARENA_MAX_CHUNK_SIZE) chunk_size = ARENA_MAX_CHUNK_SIZE;
  /* Whole ASan granules (a chunk also starts on one: it is cut with the default alignment), so no two
   * threads ever change the shadow of one granule; in every build, so every build carves the same. */
  chunk_size &= ~(ARENA_POISON_GRANULE - 1);
  arena->chunk_size = chunk_size;
  arena->small_limit = chunk_size / 4;
  /* A chunk always comes from a standard block, so it never obtains a block of its own. */
  assert(arena->chunk_size <= arena->block_size / 4 && ARENA_BLOCK_HEADER + arena->chunk_size <= arena->block_size);
  mti_arena_registry_add(&arena->registry, arena->id);
  return MT_OK;
}

void mti_arena_concurrent_leave(mt_arena *arena) {
  /* First: an exiting thread giving a chunk back either finished, or will not find the arena. */
  mti_arena_registry_remove(&arena->registry);
  pthread_mutex_destroy(&arena->lock);
}

void mti_arena_concurrent_renew(mt_arena *arena) {
  /* Every thread's chunk and undo record die with the old id, and the spares with the blocks. A thread may still
   * be exiting, giving a chunk back: it does so under the registry's mutex, which the renewal takes. */
  arena->id = new_arena_id();
  mti_arena_registry_renew(&arena->registry, arena->id);
  arena->spares = NULL;
}
