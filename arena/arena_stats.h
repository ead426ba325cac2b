/* arena/arena_stats.h - private to the arena: the counters behind mt_arena_get_stats (include/memtable/arena.h).
 *
 * Each counter is written as memory_usage is: by one thread at a time (the allocating thread, in concurrent
 * mode the holder of the arena's lock), so a relaxed load and store, never a read-modify-write; any thread
 * reads them relaxed. They publish no memory (nothing is dereferenced because of them), so a reader racing a
 * writer may see one counter before another: the figures are exact once the allocating threads are
 * quiescent, and counters_read clamps rather than underflow when they are not.
 */
#ifndef MEMTABLE_ARENA_STATS_H
#define MEMTABLE_ARENA_STATS_H

#include <memtable/arena.h>

#include <assert.h>
#include <stdatomic.h>
#include <stddef.h>

typedef struct arena_counters {
  _Atomic size_t blocks;       /* blocks held */
  _Atomic size_t wasted_bytes; /* abandoned block and chunk tails, own blocks' unused slack, short spares */
  _Atomic size_t free_bytes;   /* the bump state's bytes_remaining (concurrent mode: the shared state's) */
  _Atomic size_t spare_bytes;  /* concurrent mode: chunks given back, kept for the next refills (part of used) */
} arena_counters;

static inline void counters_init(arena_counters *c) {
  atomic_init(&c->blocks, 0);
  atomic_init(&c->wasted_bytes, 0);
  atomic_init(&c->free_bytes, 0);
  atomic_init(&c->spare_bytes, 0);
}

/* Relaxed load and store: one writer at a time (see the top of this file). */
static inline void counter_add(_Atomic size_t *counter, size_t bytes) {
  atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + bytes, memory_order_relaxed);
}

static inline void counter_sub(_Atomic size_t *counter, size_t bytes) {
  size_t value = atomic_load_explicit(counter, memory_order_relaxed); /* one writer: see counter_add */
  assert(value >= bytes);
  atomic_store_explicit(counter, value - bytes, memory_order_relaxed);
}

/* The allocation path mirrors its bump state's bytes_remaining here: one relaxed store, a plain mov, to a
 * line the path writes anyway, so the hot path takes no extra cache line for the statistic. */
static inline void counters_publish_free(arena_counters *c, size_t bytes_remaining) {
  atomic_store_explicit(&c->free_bytes, bytes_remaining, memory_order_relaxed); /* statistic only */
}

/* After a reset: the kept block (if any) and its whole data free; nothing wasted. */
static inline void counters_reset(arena_counters *c, size_t blocks, size_t free_bytes) {
  atomic_store_explicit(&c->blocks, blocks, memory_order_relaxed);         /* statistic only */
  atomic_store_explicit(&c->wasted_bytes, 0, memory_order_relaxed);        /* statistic only */
  atomic_store_explicit(&c->free_bytes, free_bytes, memory_order_relaxed); /* statistic only */
  atomic_store_explicit(&c->spare_bytes, 0, memory_order_relaxed);         /* statistic only */
}

/* Fills *out from held (memory_usage) and the counters: used is what is left, clamped at 0 while a writer
 * is mid-update. */
static inline void counters_read(const arena_counters *c, size_t held, size_t header_bytes_per_block,
                                 mt_arena_stats *out) {
  /* Relaxed: statistics (see the top of this file). */
  size_t blocks = atomic_load_explicit(&c->blocks, memory_order_relaxed);
  size_t wasted = atomic_load_explicit(&c->wasted_bytes, memory_order_relaxed);
  size_t free_bytes = atomic_load_explicit(&c->free_bytes, memory_order_relaxed);
  size_t headers = blocks * header_bytes_per_block;
  size_t accounted = headers + wasted + free_bytes;
  *out = (mt_arena_stats){0};
  out->held_bytes = held;
  out->blocks = blocks;
  out->header_bytes = headers;
  out->wasted_bytes = wasted;
  out->free_bytes = free_bytes;
  out->spare_bytes = atomic_load_explicit(&c->spare_bytes, memory_order_relaxed); /* a statistic */
  out->used_bytes = held >= accounted ? held - accounted : 0;
}

#endif
