/* The write path: add and the link of a prepared entry (add_batch: write_batch.c). See include/memtable/memtable.h.
 *
 * An entry is encoded straight into the skiplist node it will live in (entry_format.h), its bloom bits are set
 * and then the skiplist's insert publishes it (release); the point index is told after that, so a slot only
 * ever names a linked node (point_index.c). Statistics are counted last.
 */
#include <assert.h>

#include <xxhash.h>

#include "memtable/cursor.h"
#include "memtable/memtable_internal.h"
#include "memtable/testing.h"

/* Relaxed load and store: with one writer only it changes these statistics, and they publish no memory. */
static inline void writer_increment(_Atomic uint64_t *counter) {
  atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1, memory_order_relaxed);
}

/* Concurrent writers: the same statistics, in the thread's stripe, by read-modify-write (a stripe may be
 * shared). Relaxed: they publish no memory. */
static void record_added_concurrently(mt_memtable *table, uint64_t seq, mt_entry_type type) {
  memtable_stats *stats = &table->stats[mti_thread_stripe()];
  if (type == MT_TYPE_DELETION) atomic_fetch_add_explicit(&stats->deletions, 1, memory_order_relaxed);
  /* Relaxed both ways: a bound is a statistic; a failed exchange reloads it and the loop re-checks. */
  uint64_t smallest = atomic_load_explicit(&stats->smallest_seq, memory_order_relaxed);
  while (seq < smallest && !atomic_compare_exchange_weak_explicit(&stats->smallest_seq, &smallest, seq,
                                                                  memory_order_relaxed, memory_order_relaxed)) {
  }
  uint64_t largest = atomic_load_explicit(&stats->largest_seq, memory_order_relaxed);
  while (seq > largest && !atomic_compare_exchange_weak_explicit(&stats->largest_seq, &largest, seq,
                                                                 memory_order_relaxed, memory_order_relaxed)) {
  }
}

/* Always inlined: link_entry has two copies, which would otherwise call it out of line (see add_checked). */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
static inline void
record_added(mt_memtable *table, uint64_t seq, mt_entry_type type) {
  if (table->concurrent_writes) {
    record_added_concurrently(table, seq, type);
    return;
  }
  memtable_stats *stats = &table->stats[0];
  if (type == MT_TYPE_DELETION) writer_increment(&stats->deletions);
  /* Relaxed, as above; a reader may see one bound updated before the other (see mt_memtable_sequence_range). */
  if (seq < atomic_load_explicit(&stats->smallest_seq, memory_order_relaxed)) {
    atomic_store_explicit(&stats->smallest_seq, seq, memory_order_relaxed);
  }
  if (seq > atomic_load_explicit(&stats->largest_seq, memory_order_relaxed)) {
    atomic_store_explicit(&stats->largest_seq, seq, memory_order_relaxed);
  }
}

mt_status mti_memtable_check_entry(const mt_memtable *table, uint64_t seq, mt_entry_type type, const void *key,
                                   size_t key_len, const void *value, size_t value_len, size_t *entry_len) {
  if (seq > MT_MAX_SEQUENCE || (type != MT_TYPE_DELETION && type != MT_TYPE_VALUE)) return MT_INVALID_ARGUMENT;
  if ((key == NULL && key_len != 0) || (value == NULL && value_len != 0)) return MT_INVALID_ARGUMENT;
  *entry_len = entry_encoded_size(key_len, value_len);
  /* Node sizes are limited to 32 bits (the skiplist records them so with checksums), checksum included. */
  if (*entry_len == 0 || *entry_len > UINT32_MAX - table->view.checksum_bytes) return MT_INVALID_ARGUMENT;
  return MT_OK;
}

/* The test seam (memtable/testing.h): called by a concurrent writer between linking its entry and publishing
 * it in the point index, the window help_publish_existing covers. Relaxed: set by a test before its writers
 * start, which their creation orders. */
static _Atomic(mti_linked_seam_fn) linked_seam;
static void *_Atomic linked_seam_ctx;

void mti_memtable_set_linked_seam_for_testing(mti_linked_seam_fn seam, void *ctx) {
  atomic_store_explicit(&linked_seam_ctx, ctx, memory_order_relaxed); /* see linked_seam */
  atomic_store_explicit(&linked_seam, seam, memory_order_relaxed);    /* see linked_seam */
}

static inline void call_linked_seam(uint64_t seq) {
  mti_linked_seam_fn seam = atomic_load_explicit(&linked_seam, memory_order_relaxed); /* see linked_seam */
  if (seam != NULL) seam(atomic_load_explicit(&linked_seam_ctx, memory_order_relaxed), seq);
}

/* Concurrent writers: MT_EXISTS means an equal entry is linked, but its writer may not have published it in
 * the point index yet, and a get after this add returns must find it (the concurrent fuzz target caught a get
 * answering MT_NOT_FOUND there). So the refused writer publishes the linked node itself: publishing is
 * idempotent and the newest seq wins the slot (point_index.c). Cold path: duplicates only. */
static MEMTABLE_NOINLINE void help_publish_existing(mt_memtable *table, const void *key, size_t key_len, uint64_t hash,
                                                    uint64_t seq) {
  entry_cursor cursor;
  mti_cursor_init_plain(&table->view, &cursor);
  mt_slice target = {key, key_len};
  if (mti_cursor_seek(&table->view, &cursor, target, seq, false) != MT_OK) return;
  const char *found = skiplist_iter_key_inline(&cursor.position);
  if (found == NULL || cursor.entry.seq != seq || !mti_cursor_at_user_key(&table->view, &cursor, target)) return;
  mti_point_index_publish(table->point_index, found, hash, seq, true);
}

/* Writes the entry into its node `stored` (entry_len + checksum_bytes bytes from mt_skiplist_allocate_key) and
 * links it; position (NULL: none) is where the batch's interleaved search found it falls. Inlined into its
 * two callers, add_checked and mti_memtable_link_prepared. */
static inline mt_status link_entry(mt_memtable *table, char *stored, uint64_t seq, mt_entry_type type, const void *key,
                                   size_t key_len, const void *value, size_t value_len, size_t entry_len,
                                   const mti_skiplist_position *position) {
  char *end = entry_encode_unchecked(stored, seq, type, key, key_len, value, value_len);
  assert((size_t)(end - stored) == entry_len);
  if (table->view.checksum_bytes != 0)
    encode_low_bytes(end, XXH3_64bits(stored, entry_len), table->view.checksum_bytes);
  /* Before the insert publishes the entry (see mti_bloom_add). If the insert then fails (an exact duplicate)
   * the bits stay set: that only adds false positives, never a false negative. */
  uint64_t hash = memtable_key_hash(table, key, key_len);
  if (table->bloom.words != NULL) mti_bloom_add(&table->bloom, hash);

  /* A duplicate is refused and its node given back to the arena (the skiplist's contract). */
  mt_status status = position != NULL ? mti_skiplist_insert_allocated_at(table->list, stored, position)
                                      : mt_skiplist_insert_allocated(table->list, stored);
  if (status == MT_EXISTS && table->point_index != NULL && table->concurrent_writes) {
    help_publish_existing(table, key, key_len, hash, seq);
    return status;
  }
  if (status != MT_OK) return status;
  /* After the insert: a slot only ever names a linked node (point_index.c). */
  if (table->point_index != NULL) {
    if (table->concurrent_writes) call_linked_seam(seq);
    mti_point_index_publish(table->point_index, stored, hash, seq, table->concurrent_writes);
  }
  record_added(table, seq, type);
  return MT_OK;
}

/* Out of line, with record_added inlined: link_entry's other copy is mti_memtable_link_prepared's. */
MEMTABLE_NOINLINE mt_status mti_memtable_add_checked(mt_memtable *table, uint64_t seq, mt_entry_type type,
                                                     const void *key, size_t key_len, const void *value,
                                                     size_t value_len, size_t entry_len,
                                                     const mti_skiplist_position *position) {
  char *stored;
  mt_status status = mt_skiplist_allocate_key(table->list, entry_len + table->view.checksum_bytes, &stored);
  if (status != MT_OK) return status;
  return link_entry(table, stored, seq, type, key, key_len, value, value_len, entry_len, position);
}

mt_status mti_memtable_link_prepared(mt_memtable *table, char *stored, uint64_t seq, mt_entry_type type,
                                     const void *key, size_t key_len, const void *value, size_t value_len) {
  size_t entry_len;
  mt_status status = mti_memtable_check_entry(table, seq, type, key, key_len, value, value_len, &entry_len);
  if (status != MT_OK) return status;
  if (memtable_is_frozen(table)) return MT_FROZEN;
  return link_entry(table, stored, seq, type, key, key_len, value, value_len, entry_len, NULL);
}

static inline mt_status add_one(mt_memtable *table, uint64_t seq, mt_entry_type type, const void *key, size_t key_len,
                                const void *value, size_t value_len) {
  size_t entry_len;
  mt_status status = mti_memtable_check_entry(table, seq, type, key, key_len, value, value_len, &entry_len);
  if (status != MT_OK) return status;
  if (memtable_is_frozen(table)) return MT_FROZEN;
  return mti_memtable_add_checked(table, seq, type, key, key_len, value, value_len, entry_len, NULL);
}

mt_status mt_memtable_add(mt_memtable *table, uint64_t seq, mt_entry_type type, const void *key, size_t key_len,
                          const void *value, size_t value_len) {
  if (table == NULL) return MT_INVALID_ARGUMENT;
  memtable_writer_enter(table);
  mt_status status = add_one(table, seq, type, key, key_len, value, value_len);
  memtable_writer_leave(table);
  return status;
}
