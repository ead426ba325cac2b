/* Exact memory budgets: what an entry costs, reservations taken before the write-ahead log is written, the
 * flush rule and the memory split. Contract: include/memtable/memtable.h.
 *
 * A reservation is the entry's node itself, allocated from the arena at prepare time: so it is exact (the
 * drawn tower, not a bound), it holds under concurrent writers with no counter of its own (each writer's
 * node comes from its own chunk), and the add that consumes it has nothing left that could fail for memory.
 * The budget check is the arena's memory usage after the allocation: a node that needed a block crossing
 * write_buffer_size is given back (the arena's undo frees that block) and the prepare answers MT_FULL.
 */
#include <assert.h>
#include <stdalign.h>

#include "memtable/memtable_internal.h"

/* The flush rule's slack: a node of up to a quarter block goes to a standard block (the arena's fallback
 * rule), and its alignment padding is at most alignof(link) - 1 = 7 bytes. */
static size_t last_block_reserve(size_t block_size) { return block_size / 4 + (alignof(skiplist_link) - 1); }

/* The node size mt_skiplist_allocate_key is asked for, or 0 for lengths mt_memtable_add refuses. */
static size_t stored_size(const mt_memtable *table, size_t key_len, size_t value_len) {
  size_t entry_len = entry_encoded_size(key_len, value_len);
  if (entry_len == 0 || entry_len > UINT32_MAX - table->view.checksum_bytes) return 0;
  return entry_len + table->view.checksum_bytes;
}

size_t mt_memtable_entry_size(const mt_memtable *table, size_t key_len, size_t value_len) {
  if (table == NULL) return 0;
  size_t size = stored_size(table, key_len, value_len);
  return size == 0 ? 0 : mt_skiplist_node_size_bound(table->list, size);
}

size_t mt_memtable_entry_memory_bound(const mt_memtable *table, size_t key_len, size_t value_len) {
  size_t bound = mt_memtable_entry_size(table, key_len, value_len);
  if (bound == 0) return 0;
  /* The node without the padding before it (the arena aligns the request itself), at the tallest tower and at
   * the shortest: near a quarter block one may get a block of its own and the other a standard block. */
  size_t tallest = bound - (alignof(skiplist_link) - 1);
  size_t key_header = skiplist_node_header_bytes(table->list); /* recorded size, version link */
  size_t tower = mt_skiplist_node_size_bound(table->list, 0) - (alignof(skiplist_link) - 1) - key_header;
  size_t shortest = tallest - (tower - sizeof(skiplist_link));
  size_t a = mt_arena_growth_bound(table->arena, tallest, alignof(skiplist_link));
  size_t b = mt_arena_growth_bound(table->arena, shortest, alignof(skiplist_link));
  return a > b ? a : b;
}

bool mt_memtable_should_flush(const mt_memtable *table) {
  if (table == NULL) return false;
  mt_arena_stats stats;
  if (mt_arena_get_stats(table->arena, &stats) != MT_OK) return false;
  size_t budget = table->write_buffer_size;
  size_t usage = stats.held_bytes;
  if (usage > budget) return true;
  /* Another standard block still fits in the budget: keep filling. */
  if (stats.block_size <= budget - usage) return false;
  /* The current block is the last one within the budget: stop while any node that would not get a block
   * of its own still fits its tail, so the block past the budget is never opened. */
  return stats.free_bytes < last_block_reserve(stats.block_size);
}

/* mt_memtable_prepare after its NULL checks. */
static mt_status reserve(mt_memtable *table, size_t key_len, size_t value_len, mt_memtable_reservation *reservation) {
  size_t size = stored_size(table, key_len, value_len);
  if (size == 0) return MT_INVALID_ARGUMENT;
  if (memtable_is_frozen(table)) return MT_FROZEN;
  size_t budget = table->write_buffer_size;
  /* The first entry may exceed the budget alone (a write buffer must take an entry larger than itself). */
  bool first = mt_memtable_entry_count(table) == 0;
  if (!first && mt_memtable_approximate_memory_usage(table) > budget) return MT_FULL;
  char *node;
  mt_status status = mt_skiplist_allocate_key(table->list, size, &node);
  if (status != MT_OK) return status;
  if (!first && mt_memtable_approximate_memory_usage(table) > budget) {
    /* The node needed a block past the budget: give it back (its block too) and refuse. */
    (void)mt_skiplist_release_allocated(table->list, node);
    return MT_FULL;
  }
  *reservation =
      (mt_memtable_reservation){table, node, key_len, value_len, mt_skiplist_allocated_size(table->list, node, size)};
  return MT_OK;
}

mt_status mt_memtable_prepare(mt_memtable *table, size_t key_len, size_t value_len,
                              mt_memtable_reservation *reservation) {
  if (reservation != NULL) *reservation = (mt_memtable_reservation){NULL, NULL, 0, 0, 0};
  if (table == NULL || reservation == NULL) return MT_INVALID_ARGUMENT;
  memtable_writer_enter(table);
  mt_status status = reserve(table, key_len, value_len, reservation);
  memtable_writer_leave(table);
  return status;
}

mt_status mt_memtable_add_prepared(mt_memtable_reservation *reservation, uint64_t seq, mt_entry_type type,
                                   const void *key, size_t key_len, const void *value, size_t value_len) {
  if (reservation == NULL) return MT_INVALID_ARGUMENT;
  if (reservation->node == NULL) return MT_INVALID_STATE;
  /* The node was sized for the prepared lengths: any others would not fit it. */
  if (key_len != reservation->key_len || value_len != reservation->value_len) return MT_INVALID_ARGUMENT;
  mt_memtable *table = reservation->table;
  memtable_writer_enter(table);
  mt_status status = mti_memtable_link_prepared(table, reservation->node, seq, type, key, key_len, value, value_len);
  memtable_writer_leave(table);
  /* Refused arguments or a frozen table leave the reservation to be used again or cancelled. */
  if (status == MT_INVALID_ARGUMENT || status == MT_FROZEN) return status;
  assert(status == MT_OK || status == MT_EXISTS);
  reservation->node = NULL;
  return status;
}

bool mt_memtable_cancel_prepared(mt_memtable_reservation *reservation) {
  if (reservation == NULL || reservation->node == NULL) return false;
  mt_memtable *table = reservation->table;
  memtable_writer_enter(table);
  bool given_back = mt_skiplist_release_allocated(table->list, reservation->node) == MT_OK;
  memtable_writer_leave(table);
  if (!given_back) {
    /* Relaxed: a statistic; read-modify-write because several writers may cancel at once. */
    atomic_fetch_add_explicit(&table->abandoned_bytes, reservation->bytes, memory_order_relaxed);
  }
  reservation->node = NULL;
  return given_back;
}

mt_status mt_memtable_get_memory_stats(const mt_memtable *table, mt_memtable_memory_stats *out) {
  if (table == NULL || out == NULL) return MT_INVALID_ARGUMENT;
  mt_memtable_memory_stats stats = {0};
  mt_status status = mt_arena_get_stats(table->arena, &stats.arena);
  if (status != MT_OK) return status;
  stats.filter_bytes = mti_bloom_bytes(&table->bloom);
  stats.index_bytes = mt_memtable_point_index_memory(table);
  /* The index's tables allocated as it grew are used bytes past the figure create left. */
  size_t grown = table->point_index != NULL ? mti_point_index_grown_memory(table->point_index) : 0;
  if (table->point_index != NULL)
    mti_point_index_coverage(table->point_index, &stats.index_keys, &stats.index_refused_adds);
  size_t fixed = table->fixed_used_bytes;
  assert(fixed >= stats.filter_bytes + stats.index_bytes - grown);
  stats.bookkeeping_bytes = fixed - stats.filter_bytes - (stats.index_bytes - grown);
  /* Clamped: with concurrent writers a racing read can see used below the figures create and growth left. */
  stats.entry_bytes = stats.arena.used_bytes > fixed + grown ? stats.arena.used_bytes - fixed - grown : 0;
  /* Relaxed: a statistic. */
  stats.abandoned_bytes = atomic_load_explicit(&table->abandoned_bytes, memory_order_relaxed);
  stats.entries = mt_memtable_entry_count(table);
  *out = stats;
  return MT_OK;
}
