/* memtable/block_pool.h - a thread-safe, bounded pool of fixed-size arena blocks shared by many arenas.
 *
 * An engine that rotates memtables frees a whole table's blocks and at once allocates as many again for
 * the next one. A pool keeps the freed blocks (their pages already faulted in) and lends them to the next
 * arena instead: create one pool, put it in every table's options (mt_arena_options.pool, or for a
 * memtable options.arena.pool), and the tables' standard blocks come from it and go back to it when the
 * arena is reset or destroyed. Requests that need a block of their own (larger than the pool's blocks) and
 * each arena's small header still come from that arena's allocator.
 *
 * Threading: every function here may be called from any thread at any time, except that
 * mt_block_pool_destroy must not run concurrently with any other use of the same pool. Arenas on different
 * threads (and concurrent-mode arenas) may share one pool: it serializes its state behind one mutex, taken
 * once per block lent or returned (one per block_size bytes allocated), never on an arena's bump path.
 * Lifetime: the pool must outlive every arena that uses it; destroy each such arena (unref each memtable
 * to its end) before the pool. mt_block_pool_destroy refuses (MT_BUSY) while any block is still lent.
 * AddressSanitizer: an idle block is poisoned, but a lent one is addressable wherever its arena handed bytes
 * out, so a stale pointer from a destroyed table into a block lent again reads the new table's bytes with no
 * report (memtable/arena.h, "AddressSanitizer").
 */
#ifndef MEMTABLE_BLOCK_POOL_H
#define MEMTABLE_BLOCK_POOL_H

#include <stddef.h>
#include <stdint.h>

#include <memtable/arena.h>
#include <memtable/export.h>
#include <memtable/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_block_pool mt_block_pool;

typedef struct mt_block_pool_options {
  /* Bytes per block, arena header included; default (and 0) 64 KiB, the memtable's default block size.
   * Below 256 or above MT_ARENA_MAX_BLOCK_SIZE (1 GiB): MT_INVALID_ARGUMENT. An arena on the pool uses
   * this block size (see mt_arena_options.pool). */
  size_t block_size;
  /* Most idle blocks kept; a block returned while this many are idle goes back to the allocator (counted
   * in stats.released). Default (and 0) 1024: one 64 MiB table of 64 KiB blocks. */
  size_t max_idle_blocks;
  /* Most blocks in existence at once (lent + idle); 0 (the default) = no limit. At the limit, a take that
   * finds no idle block fails, and the arena's allocation with it, with MT_FULL ("pool exhausted"): the
   * arena and its table are unchanged and usable, and succeed again once blocks come back. */
  size_t max_blocks;
  /* Where blocks come from; all-NULL (the default) means malloc/free; alloc and free both set or both
   * NULL. The hooks are called under the pool's mutex (never two at once), from whichever thread takes or
   * returns a block (the allocating thread of an arena, or the one resetting or destroying it), from
   * mt_block_pool_try_create and from mt_block_pool_destroy. A hook must not call into the pool. */
  mt_allocator allocator;
  /* Blocks allocated at creation and kept idle (Pebble allocates its arena up front, so the first table
   * does not fault its memory in while it is written); default 0. At most max_idle_blocks, and at most
   * max_blocks when that is set: otherwise MT_INVALID_ARGUMENT. */
  size_t prefill_blocks;
} mt_block_pool_options;

#define MT_BLOCK_POOL_DEFAULT_BLOCK_SIZE ((size_t)64 * 1024)
#define MT_BLOCK_POOL_DEFAULT_MAX_IDLE_BLOCKS ((size_t)1024)
#define MT_BLOCK_POOL_OPTIONS_INIT \
  {MT_BLOCK_POOL_DEFAULT_BLOCK_SIZE, MT_BLOCK_POOL_DEFAULT_MAX_IDLE_BLOCKS, 0, {NULL, NULL, NULL}, 0}

/* Fills *options with the documented defaults. NULL is ignored. */
MT_API void mt_block_pool_options_init(mt_block_pool_options *options);

/* A snapshot of the pool's counters, taken under its mutex (so the figures agree with one another). */
typedef struct mt_block_pool_statistics {
  uint64_t hits;     /* takes served by an idle block */
  uint64_t misses;   /* takes that found no idle block and allocated a new one (prefill not counted) */
  uint64_t failures; /* takes refused: max_blocks reached (MT_FULL) or the allocator failed (MT_NOMEM) */
  uint64_t released; /* returned blocks freed because max_idle_blocks were already idle */
  size_t lent;       /* blocks held by arenas now */
  size_t idle;       /* blocks kept by the pool now, ready to lend */
  size_t bytes_held; /* (lent + idle) * block_size: the memory the pool's allocator has given it */
} mt_block_pool_statistics;

/* Creates a pool; options NULL means the defaults. On MT_OK *out is the pool, owned by the caller and
 * released with mt_block_pool_destroy; otherwise *out is NULL (when out is not) and the status says why:
 * MT_INVALID_ARGUMENT (out NULL, block_size out of range, only one allocator hook, prefill_blocks above a
 * bound) or MT_NOMEM (the pool's header, its mutex or a prefill block could not be allocated; whatever was
 * allocated is freed again). */
MT_API mt_status mt_block_pool_try_create(const mt_block_pool_options *options, mt_block_pool **out);

/* As mt_block_pool_try_create, returning the pool, or NULL for any failure. */
MT_API mt_block_pool *mt_block_pool_create(const mt_block_pool_options *options);

/* Frees every idle block, then the pool: MT_OK (NULL is ignored and also MT_OK). While any block is lent
 * (an arena on the pool still lives) it frees nothing and returns MT_BUSY; the pool stays usable, and a
 * later call succeeds once those arenas are destroyed. Must not run concurrently with other calls on it. */
MT_API mt_status mt_block_pool_destroy(mt_block_pool *pool);

/* The pool's block size in bytes (0 for NULL). Any thread. */
MT_API size_t mt_block_pool_block_size(const mt_block_pool *pool);

/* Fills *stats with the pool's counters: MT_OK, or MT_INVALID_ARGUMENT (nothing written) when pool or
 * stats is NULL. Any thread, while the pool is alive. (Replaces mt_block_pool_stats, 0.2.0.) */
MT_API mt_status mt_block_pool_get_stats(const mt_block_pool *pool, mt_block_pool_statistics *stats);

#ifdef __cplusplus
}
#endif

#endif
