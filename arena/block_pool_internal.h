/* The arena's side of the block pool (memtable/block_pool.h): lend a block, take one back. Private to the
 * arena layer. */
#ifndef MEMTABLE_ARENA_BLOCK_POOL_INTERNAL_H
#define MEMTABLE_ARENA_BLOCK_POOL_INTERNAL_H

#include <memtable/block_pool.h>

/* Lends one block of the pool's block_size bytes, aligned like max_align_t: an idle one (a hit) or a new
 * one from the pool's allocator (a miss). MT_FULL when max_blocks exist and none is idle, MT_NOMEM when
 * the allocator fails; on failure *out is NULL and only stats.failures changed. Any thread. */
mt_status mti_block_pool_lend(mt_block_pool *pool, void **out);

/* Takes back a block mti_block_pool_lend returned: kept idle, or freed when max_idle_blocks are idle
 * already. Its contents are dead from here on. Any thread. */
void mti_block_pool_take_back(mt_block_pool *pool, void *block);

#endif
