/* Block pool: see include/memtable/block_pool.h for the contract.
 *
 * Every field after `lock` is read and written only under it; so is every call of the allocator hooks.
 * The lock is the only publication: a block's memory passes from the thread that returned it to the one
 * it is lent to through the unlock/lock pair. A mutex rather than a lock-free stack: the pool is touched
 * once per block (64 KiB by default, 1024 times per 64 MiB table), so contention is negligible, and a
 * Treiber stack would need ABA protection for the idle list, which a mutex gets for free.
 *
 * Idle blocks form a LIFO list threaded through their first bytes, so the most recently returned block
 * (the one most likely still in cache and surely faulted in) is lent first.
 *
 * Invariants (asserted where they are relied on): idle <= max_idle_blocks; lent + idle <= max_blocks when
 * max_blocks != 0; `idle_list` holds exactly `idle` blocks.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* pthread_mutex_* under -std=c11 */
#endif
#include "arena/arena_poison.h"
#include "arena/block_pool_internal.h"
#include "arena/malloc_allocator.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Smallest and largest block sizes, as the arena's (a block must hold an arena block header). */
#define POOL_MIN_BLOCK_SIZE ((size_t)256)

/* What an idle block's first bytes hold. */
typedef struct idle_block {
  struct idle_block *next;
} idle_block;

struct mt_block_pool {
  size_t block_size;
  size_t max_idle_blocks;
  size_t max_blocks; /* 0 = no limit */
  mt_allocator allocator;
  pthread_mutex_t lock;
  idle_block *idle_list; /* most recently returned first */
  size_t idle;
  size_t lent;
  uint64_t hits, misses, failures, released;
};

void mt_block_pool_options_init(mt_block_pool_options *options) {
  if (options == NULL) return;
  const mt_block_pool_options defaults = MT_BLOCK_POOL_OPTIONS_INIT;
  *options = defaults;
}

static void lock_pool(const mt_block_pool *pool) {
  /* The stats reader takes the lock of a const pool: the lock is not part of the pool's value. */
  int error = pthread_mutex_lock((pthread_mutex_t *)&pool->lock);
  /* A default mutex fails only when misused (not initialised, or relocked by its holder). */
  assert(error == 0);
  (void)error;
}

static void unlock_pool(const mt_block_pool *pool) {
  int error = pthread_mutex_unlock((pthread_mutex_t *)&pool->lock);
  assert(error == 0);
  (void)error;
}

/* Puts block on the idle list. Under ASan all but its link is poisoned while it waits, so a pointer kept into
 * a table whose block came back here is reported as use-after-poison (arena_poison.h). */
static void keep_idle(mt_block_pool *pool, idle_block *block) {
  block->next = pool->idle_list;
  pool->idle_list = block;
  pool->idle++;
  arena_poison_block((char *)block + sizeof(*block), pool->block_size - sizeof(*block));
}

/* Takes the most recently returned idle block off the list, whole and addressable for its next owner. */
static idle_block *take_idle(mt_block_pool *pool) {
  idle_block *block = pool->idle_list;
  pool->idle_list = block->next;
  pool->idle--;
  arena_unpoison_block(block, pool->block_size);
  return block;
}

/* Frees every idle block. Under the lock, or before the pool is shared / after it no longer is. */
static void free_idle(mt_block_pool *pool) {
  while (pool->idle_list != NULL) {
    idle_block *block = take_idle(pool);
    pool->allocator.free(pool->allocator.ctx, block, pool->block_size);
  }
  assert(pool->idle == 0);
}

mt_status mt_block_pool_try_create(const mt_block_pool_options *options, mt_block_pool **out) {
  if (out == NULL) return MT_INVALID_ARGUMENT;
  *out = NULL;
  mt_block_pool_options opts = MT_BLOCK_POOL_OPTIONS_INIT;
  if (options != NULL) opts = *options;
  if ((opts.allocator.alloc == NULL) != (opts.allocator.free == NULL)) return MT_INVALID_ARGUMENT;
  if (opts.block_size == 0) opts.block_size = MT_BLOCK_POOL_DEFAULT_BLOCK_SIZE;
  if (opts.block_size < POOL_MIN_BLOCK_SIZE || opts.block_size > MT_ARENA_MAX_BLOCK_SIZE) return MT_INVALID_ARGUMENT;
  if (opts.max_idle_blocks == 0) opts.max_idle_blocks = MT_BLOCK_POOL_DEFAULT_MAX_IDLE_BLOCKS;
  if (opts.prefill_blocks > opts.max_idle_blocks) return MT_INVALID_ARGUMENT;
  if (opts.max_blocks != 0 && opts.prefill_blocks > opts.max_blocks) return MT_INVALID_ARGUMENT;
  malloc_allocator_default(&opts.allocator);
  mt_block_pool *pool = opts.allocator.alloc(opts.allocator.ctx, sizeof(*pool));
  if (pool == NULL) return MT_NOMEM;
  memset(pool, 0, sizeof(*pool));
  pool->block_size = opts.block_size;
  pool->max_idle_blocks = opts.max_idle_blocks;
  pool->max_blocks = opts.max_blocks;
  pool->allocator = opts.allocator;
  /* Only resource exhaustion can make a default mutex fail to initialise. */
  if (pthread_mutex_init(&pool->lock, NULL) != 0) {
    opts.allocator.free(opts.allocator.ctx, pool, sizeof(*pool));
    return MT_NOMEM;
  }
  /* Not shared yet: no lock needed. */
  for (size_t i = 0; i < opts.prefill_blocks; i++) {
    idle_block *block = opts.allocator.alloc(opts.allocator.ctx, opts.block_size);
    if (block == NULL) {
      free_idle(pool);
      pthread_mutex_destroy(&pool->lock);
      opts.allocator.free(opts.allocator.ctx, pool, sizeof(*pool));
      return MT_NOMEM;
    }
    keep_idle(pool, block);
  }
  *out = pool;
  return MT_OK;
}

mt_block_pool *mt_block_pool_create(const mt_block_pool_options *options) {
  mt_block_pool *pool;
  (void)mt_block_pool_try_create(options, &pool);
  return pool;
}

mt_status mt_block_pool_destroy(mt_block_pool *pool) {
  if (pool == NULL) return MT_OK;
  /* The lock orders this check after every take-back that another thread completed before it. */
  lock_pool(pool);
  size_t lent = pool->lent;
  unlock_pool(pool);
  if (lent != 0) return MT_BUSY;
  free_idle(pool);
  pthread_mutex_destroy(&pool->lock);
  mt_allocator allocator = pool->allocator;
  allocator.free(allocator.ctx, pool, sizeof(*pool));
  return MT_OK;
}

size_t mt_block_pool_block_size(const mt_block_pool *pool) {
  /* Set at creation, before the pool could be shared. */
  return pool == NULL ? 0 : pool->block_size;
}

mt_status mt_block_pool_get_stats(const mt_block_pool *pool, mt_block_pool_statistics *stats) {
  if (pool == NULL || stats == NULL) return MT_INVALID_ARGUMENT;
  lock_pool(pool);
  *stats = (mt_block_pool_statistics){pool->hits,
                                      pool->misses,
                                      pool->failures,
                                      pool->released,
                                      pool->lent,
                                      pool->idle,
                                      (pool->lent + pool->idle) * pool->block_size};
  unlock_pool(pool);
  return MT_OK;
}

mt_status mti_block_pool_lend(mt_block_pool *pool, void **out) {
  assert(pool != NULL && out != NULL);
  *out = NULL;
  mt_status status = MT_OK;
  lock_pool(pool);
  assert(pool->idle <= pool->max_idle_blocks);
  assert(pool->max_blocks == 0 || pool->lent + pool->idle <= pool->max_blocks);
  idle_block *block = NULL;
  if (pool->idle_list != NULL) {
    block = take_idle(pool);
    pool->hits++;
  } else if (pool->max_blocks != 0 && pool->lent >= pool->max_blocks) {
    status = MT_FULL;
  } else {
    block = pool->allocator.alloc(pool->allocator.ctx, pool->block_size);
    if (block == NULL) status = MT_NOMEM;
    else pool->misses++;
  }
  if (status == MT_OK) pool->lent++;
  else pool->failures++;
  unlock_pool(pool);
  *out = block;
  return status;
}

void mti_block_pool_take_back(mt_block_pool *pool, void *memory) {
  assert(pool != NULL && memory != NULL);
  lock_pool(pool);
  assert(pool->lent > 0);
  pool->lent--;
  if (pool->idle < pool->max_idle_blocks) {
    keep_idle(pool, memory);
  } else {
    pool->released++;
    pool->allocator.free(pool->allocator.ctx, memory, pool->block_size);
  }
  unlock_pool(pool);
}
