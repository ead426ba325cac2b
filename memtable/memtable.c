/* The write buffer: LevelDB's MemTable over the lock-free-read skiplist. See include/memtable/memtable.h.
 *
 * The skiplist's keys are the encoded entries themselves (entry_format.h), so an entry is written once, straight
 * into its node. The table's header, bloom filter and point index live in the table's own arena: the last unref
 * is one mt_arena_destroy.
 *
 * This file holds the table's creation, lifetime and statistics. The write path is write.c, the read path
 * read.c, budgets budget.c, validation validate.c; entries are read back through the cursor (cursor.c) and the
 * iterators are memtable_iter.c and user_iter.c.
 */
#include <assert.h>
#include <stdlib.h>

#include "memtable/memtable_internal.h"
#include "memtable/skiplist/skiplist_readahead.h"

/* The smallest height h with branching^h >= 2^24 (see options.skiplist_branching): 24 at 2, 16 at 3, 12 at 4. */
static int skiplist_height_for(unsigned branching) {
  int height = 1;
  for (uint64_t reach = branching; reach < ((uint64_t)1 << 24); reach *= branching) height++;
  return height;
}

void mt_memtable_options_init(mt_memtable_options *options) {
  if (options == NULL) return;
  const mt_memtable_options defaults = MT_MEMTABLE_OPTIONS_INIT;
  *options = defaults;
}

static void *default_reader_alloc(void *ctx, size_t size) {
  (void)ctx;
  return malloc(size);
}

static void default_reader_free(void *ctx, void *ptr, size_t size) {
  (void)ctx;
  (void)size;
  free(ptr);
}

mt_status mt_memtable_try_create(const mt_memtable_options *options, mt_memtable **out) {
  if (out == NULL) return MT_INVALID_ARGUMENT;
  *out = NULL;
  mt_memtable_options opts = MT_MEMTABLE_OPTIONS_INIT;
  if (options != NULL) opts = *options;
  unsigned cks = opts.checksum_bytes;
  if (cks != 0 && cks != 1 && cks != 2 && cks != 4 && cks != 8) return MT_INVALID_ARGUMENT;
  if ((opts.reader_allocator.alloc == NULL) != (opts.reader_allocator.free == NULL)) return MT_INVALID_ARGUMENT;
  if (opts.reader_allocator.alloc == NULL) {
    opts.reader_allocator.alloc = default_reader_alloc;
    opts.reader_allocator.free = default_reader_free;
  }
  /* With a pool, 0 lets the arena take the pool's block size. */
  if (opts.arena.block_size == 0 && opts.arena.pool == NULL) opts.arena.block_size = MT_MEMTABLE_DEFAULT_BLOCK_SIZE;
  if (opts.write_buffer_size == 0) opts.write_buffer_size = MT_MEMTABLE_DEFAULT_WRITE_BUFFER_SIZE;
  if (opts.scan_readahead_segment_nodes == 0) {
    opts.scan_readahead_segment_nodes = MT_MEMTABLE_DEFAULT_SCAN_READAHEAD_SEGMENT_NODES;
  }
  if (opts.scan_readahead_segments > SKIPLIST_READAHEAD_MAX_SEGMENTS ||
      opts.scan_readahead_segment_nodes > SKIPLIST_READAHEAD_MAX_SEGMENT_NODES) {
    return MT_INVALID_ARGUMENT;
  }
  if (opts.skiplist_branching == 0) opts.skiplist_branching = MT_MEMTABLE_DEFAULT_SKIPLIST_BRANCHING;
  if (opts.skiplist_branching < 2 || opts.skiplist_branching > MT_MEMTABLE_MAX_SKIPLIST_BRANCHING) {
    return MT_INVALID_ARGUMENT;
  }
  size_t bloom_bytes;
  unsigned bloom_probes;
  if (!mti_bloom_geometry(&opts, &bloom_bytes, &bloom_probes)) return MT_INVALID_ARGUMENT;

  /* Concurrent writers allocate from the arena's per-thread shards; a caller's concurrent arena is kept. */
  opts.arena.concurrent = opts.arena.concurrent || opts.concurrent_writes;
  mt_arena *arena;
  mt_status status = mt_arena_try_create(&opts.arena, &arena);
  if (status != MT_OK) return status;
  void *memory;
  status = mt_arena_try_allocate(arena, sizeof(mt_memtable), MEMTABLE_CACHE_LINE_BYTES, &memory);
  if (status != MT_OK) goto fail;
  mt_memtable *table = memory;
  table->view = (mti_view){NULL,
                           opts.compare,
                           opts.compare_ctx,
                           cks,
                           opts.reader_allocator,
                           opts.scan_readahead_segments,
                           opts.scan_readahead_segment_nodes};
  table->list = NULL;
  atomic_init(&table->refs, 1);
  table->arena = arena;
  table->write_buffer_size = opts.write_buffer_size;
  table->max_sequential_skip =
      opts.max_sequential_skip != 0 ? opts.max_sequential_skip : MT_MEMTABLE_DEFAULT_MAX_SEQUENTIAL_SKIP;
  mti_bloom_init(&table->bloom, NULL, 0, 0, false);
  table->point_index = NULL;
  for (unsigned i = 0; i < MTI_STRIPES; i++) {
    atomic_init(&table->stats[i].deletions, 0);
    atomic_init(&table->stats[i].smallest_seq, UINT64_MAX);
    atomic_init(&table->stats[i].largest_seq, 0);
  }
  atomic_init(&table->frozen, false);
  table->concurrent_writes = opts.concurrent_writes;
#ifndef NDEBUG
  atomic_flag_clear_explicit(&table->writer_busy, memory_order_relaxed); /* before the table is shared */
#endif

  if (bloom_bytes != 0) {
    status = mt_arena_try_allocate(arena, bloom_bytes, MEMTABLE_CACHE_LINE_BYTES, &memory);
    if (status != MT_OK) goto fail;
    /* With checksums each bit is kept twice (bloom.h). */
    mti_bloom_init(&table->bloom, memory, bloom_bytes, bloom_probes, cks != 0);
  }

  /* The index matches keys by their bytes, as the bloom filter does (see point_index_entries). */
  if (opts.point_index && (opts.compare == NULL || opts.bytewise_equal_keys)) {
    size_t expected = opts.point_index_entries != 0 ? opts.point_index_entries
                                                    : opts.write_buffer_size / MT_MEMTABLE_TYPICAL_ENTRY_BYTES;
    status = mti_point_index_create(arena, expected, &table->point_index);
    if (status != MT_OK) goto fail;
  }

  mt_skiplist_options list_options = MT_SKIPLIST_OPTIONS_INIT;
  list_options.compare = mti_entry_comparator(&table->view);
  list_options.compare_ctx = &table->view;
  list_options.concurrent_inserts = opts.concurrent_writes;
  list_options.seed = opts.seed;
  list_options.branching = (int)opts.skiplist_branching;
  list_options.max_height = skiplist_height_for(opts.skiplist_branching);
  /* Checksums ask for corruption detection, which needs each entry's true size; without them the entry's
   * own lengths delimit it and the 4 bytes per entry are saved. */
  list_options.record_key_size = cks != 0;
  if (opts.version_links) list_options.same_group = mti_entry_same_user_key;
  status = mt_skiplist_try_create(arena, &list_options, &table->list);
  if (status != MT_OK) goto fail;
  table->view.list = table->list;
  /* The bytes create took, for the budget's memory split (budget.c); before the table is shared. */
  mt_arena_stats arena_stats;
  status = mt_arena_get_stats(arena, &arena_stats);
  assert(status == MT_OK);
  table->fixed_used_bytes = arena_stats.used_bytes;
  atomic_init(&table->abandoned_bytes, 0);
  *out = table;
  return MT_OK;

fail:
  mt_arena_destroy(arena);
  return status;
}

mt_memtable *mt_memtable_create(const mt_memtable_options *options) {
  mt_memtable *table;
  (void)mt_memtable_try_create(options, &table);
  return table;
}

void mt_memtable_ref(mt_memtable *table) {
  if (table == NULL) return;
  /* Relaxed: the caller already holds a reference, so the table cannot be freed concurrently and this
   * increment publishes nothing. */
  atomic_fetch_add_explicit(&table->refs, 1, memory_order_relaxed);
}

void mt_memtable_unref(mt_memtable *table) {
  if (table == NULL) return;
  /* acq_rel: each holder's release orders its own reads and writes of the table before its drop, and the
   * last dropper's acquire makes all of them happen before the arena is freed. */
  if (atomic_fetch_sub_explicit(&table->refs, 1, memory_order_acq_rel) == 1) mt_arena_destroy(table->arena);
}

size_t mt_memtable_approximate_memory_usage(const mt_memtable *table) {
  return table == NULL ? 0 : mt_arena_memory_usage(table->arena);
}

/* Relaxed: statistics (see record_added); with concurrent writers the sum of the stripes may lag adds in
 * flight, and is exact once they are done. */
static uint64_t sum_deletions(const mt_memtable *table) {
  uint64_t sum = 0;
  unsigned stripes = table->concurrent_writes ? MTI_STRIPES : 1;
  for (unsigned i = 0; i < stripes; i++) sum += atomic_load_explicit(&table->stats[i].deletions, memory_order_relaxed);
  return sum;
}

size_t mt_memtable_point_index_memory(const mt_memtable *table) {
  return table == NULL || table->point_index == NULL ? 0 : mti_point_index_memory(table->point_index);
}

/* The skiplist counts the entries linked: every add that succeeded. */
uint64_t mt_memtable_entry_count(const mt_memtable *table) {
  return table == NULL ? 0 : mt_skiplist_count(table->list);
}

uint64_t mt_memtable_deletion_count(const mt_memtable *table) { return table == NULL ? 0 : sum_deletions(table); }

mt_status mt_memtable_sequence_range(const mt_memtable *table, uint64_t *smallest, uint64_t *largest) {
  if (table == NULL || smallest == NULL || largest == NULL) return MT_INVALID_ARGUMENT;
  /* Relaxed: statistics (see record_added); every bound only widens, so any pair read is a range some
   * prefix of the adds produced, or empty. */
  uint64_t low = UINT64_MAX, high = 0;
  unsigned stripes = table->concurrent_writes ? MTI_STRIPES : 1;
  for (unsigned i = 0; i < stripes; i++) {
    uint64_t stripe_low = atomic_load_explicit(&table->stats[i].smallest_seq, memory_order_relaxed);
    uint64_t stripe_high = atomic_load_explicit(&table->stats[i].largest_seq, memory_order_relaxed);
    if (stripe_low > stripe_high) continue; /* unused, or its first add half recorded */
    if (stripe_low < low) low = stripe_low;
    if (stripe_high > high) high = stripe_high;
  }
  if (low > high) return MT_NOT_FOUND;
  *smallest = low;
  *largest = high;
  return MT_OK;
}

mt_status mt_memtable_freeze(mt_memtable *table) {
  if (table == NULL) return MT_INVALID_ARGUMENT;
  /* Relaxed: the flag publishes no memory; see mt_memtable_add for how an add comes to see it. */
  atomic_store_explicit(&table->frozen, true, memory_order_relaxed);
  return MT_OK;
}

bool mt_memtable_is_frozen(const mt_memtable *table) {
  /* Relaxed: as in mt_memtable_freeze. */
  return table != NULL && atomic_load_explicit(&table->frozen, memory_order_relaxed);
}

mt_status mt_memtable_get_pages_report(const mt_memtable *table, mt_arena_pages_report *report) {
  if (table == NULL || report == NULL) return MT_INVALID_ARGUMENT;
  return mt_arena_get_pages_report(table->arena, report);
}

_Atomic uint64_t *mti_point_index_slots_for_testing(const mt_memtable *table, uint64_t *slot_count) {
  return table->point_index == NULL ? NULL : mti_point_index_slots(table->point_index, slot_count);
}
