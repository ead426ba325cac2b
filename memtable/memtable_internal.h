/* memtable/memtable_internal.h - private to the memtable layer: the table's fields, for the files that make up
 * the table (create and lifetime, the write path, the read path, budgets, validation, the iterators). Readers
 * of entries take the table's view (entry_format.h) instead. Contract: include/memtable/memtable.h.
 */
#ifndef MEMTABLE_MEMTABLE_INTERNAL_H
#define MEMTABLE_MEMTABLE_INTERNAL_H

#include <memtable/memtable.h>

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "memtable/bloom.h"
#include "memtable/entry_format.h"
#include "memtable/point_index.h"
#include "memtable/skiplist/skiplist_batch.h"
#include "memtable/skiplist/thread_stripe.h"

/* The statistics every add updates besides the skiplist's count of entries. */
typedef struct memtable_stats {
  alignas(MEMTABLE_CACHE_LINE_BYTES) _Atomic uint64_t deletions;
  _Atomic uint64_t smallest_seq;
  _Atomic uint64_t largest_seq;
} memtable_stats;

struct mt_memtable {
  /* First: the comparators' ctx is the view, which readers take in place of the table. */
  mti_view view;
  mt_skiplist *list; /* view.list, writable */
  /* Starts at 1 (the creator's). The last unref destroys the arena, and this header with it. */
  _Atomic size_t refs;
  mt_arena *arena;
  size_t write_buffer_size;
  unsigned max_sequential_skip; /* >= 1; MT_MEMTABLE_SKIP_NEVER: the user view never searches to skip */
  bool concurrent_writes;       /* options.concurrent_writes: adds from many threads at once */
#ifndef NDEBUG
  /* Set while a write runs on a table without concurrent_writes (memtable_writer_enter): a second writer entering
   * meanwhile is the misuse the threading contract forbids, caught by an assert instead of corrupting. */
  atomic_flag writer_busy;
#endif
  mti_bloom bloom;              /* no words when off */
  mti_point_index *point_index; /* NULL when off */
  _Atomic bool frozen;          /* set once, by mt_memtable_freeze */
  /* A single writer uses stats[0]; concurrent writers each their thread's stripe (thread_stripe.h). On their
   * own cache lines: the writers' updates would otherwise take the line holding the fields above, which every
   * get reads. A stripe's smallest_seq is above its largest_seq while no add has used it. */
  memtable_stats stats[MTI_STRIPES];
  /* Budget (budget.c). fixed_used_bytes: the arena's used bytes when create finished (header, skiplist,
   * filter, index), set once before the table is shared. abandoned_bytes: cancelled reservations whose node
   * could not be given back; any writer adds to it (relaxed read-modify-write: a statistic). */
  size_t fixed_used_bytes;
  _Atomic size_t abandoned_bytes;
};

/* Brackets every write (add, add_batch, prepare, add_prepared, cancel_prepared) of a table without
 * concurrent_writes, in builds with assertions: entering while another write is in progress asserts.
 * Relaxed: the flag orders no memory, it only detects. A test-and-set is a read-modify-write, so two writers
 * that overlap cannot both read it clear; and a writer that follows another through the caller's own
 * synchronisation (the contract) reads the earlier clear or later, by coherence, so a correct caller never
 * trips it. Release builds (NDEBUG) have neither the flag nor any code for it. */
static inline void memtable_writer_enter(mt_memtable *table) {
#ifndef NDEBUG
  if (table->concurrent_writes) return;
  bool busy = atomic_flag_test_and_set_explicit(&table->writer_busy, memory_order_relaxed); /* see above */
  assert(!busy && "two threads write a table created without concurrent_writes");
  (void)busy;
#else
  (void)table;
#endif
}

static inline void memtable_writer_leave(mt_memtable *table) {
#ifndef NDEBUG
  /* Relaxed: see memtable_writer_enter. */
  if (!table->concurrent_writes) atomic_flag_clear_explicit(&table->writer_busy, memory_order_relaxed);
#else
  (void)table;
#endif
}

/* Relaxed: the freeze that matters happened-before this add through the caller's own synchronisation (the
 * contract), and coherence then shows it; a racing freeze may or may not stop this add. */
static inline bool memtable_is_frozen(const mt_memtable *table) {
  return atomic_load_explicit(&table->frozen, memory_order_relaxed);
}

/* The user key's hash for the bloom filter and the point index (0 when the table has neither): computed once
 * per lookup and handed to both. */
static inline uint64_t memtable_key_hash(const mt_memtable *table, const void *key, size_t key_len) {
  return table->bloom.words != NULL || table->point_index != NULL ? user_key_hash(key, key_len) : 0;
}

/* The checks mt_memtable_add makes of one entry's arguments; *entry_len gets its encoded size (write.c). */
mt_status mti_memtable_check_entry(const mt_memtable *table, uint64_t seq, mt_entry_type type, const void *key,
                                   size_t key_len, const void *value, size_t value_len, size_t *entry_len);

/* Adds one entry that passed mti_memtable_check_entry (entry_len its encoded size), from `position` where the
 * batch's search found it falls (NULL: none): MT_OK, MT_EXISTS, or the arena's status (write.c). */
mt_status mti_memtable_add_checked(mt_memtable *table, uint64_t seq, mt_entry_type type, const void *key,
                                   size_t key_len, const void *value, size_t value_len, size_t entry_len,
                                   const mti_skiplist_position *position);

/* The get's step from the key's newest version (node and its entry, from the point index) to the newest at or
 * below the snapshot, when the newest is above it (read.c): the answer, as mt_memtable_get_entry's. */
mt_status mti_memtable_index_step_to_snapshot(const mt_memtable *table, mt_slice key, uint64_t snapshot_seq,
                                              const char *node, const mt_entry *newest, mt_entry *found);

/* Answers a get from the point index: true with *status (and *found for MT_OK / MT_DELETED), or false when the
 * index cannot tell and the skiplist must be searched. Inline: the common answers (absent, or a newest version
 * the snapshot sees) take no call past the index's own. */
static inline bool memtable_indexed_get(const mt_memtable *table, mt_slice key, uint64_t hash, uint64_t snapshot_seq,
                                        mt_entry *found, mt_status *status) {
  const char *node;
  mt_entry newest;
  size_t entry_len;
  switch (mti_point_index_find(table->point_index, &table->view, key.data, key.len, hash, &node, &newest, &entry_len)) {
    case MTI_INDEX_UNKNOWN: return false;
    case MTI_INDEX_ABSENT: *status = MT_NOT_FOUND; return true;
    case MTI_INDEX_DAMAGED: *status = MT_CORRUPTION; return true;
    case MTI_INDEX_FOUND: break;
  }
  if (newest.seq > snapshot_seq) {
    *status = mti_memtable_index_step_to_snapshot(table, key, snapshot_seq, node, &newest, found);
    return true;
  }
  if (found != NULL) *found = newest;
  *status = newest.type == MT_TYPE_DELETION ? MT_DELETED : MT_OK;
  return true;
}

/* Writes and links an entry into `stored`, a node mt_skiplist_allocate_key reserved for exactly
 * entry_encoded_size(key_len, value_len) + checksum_bytes bytes (mt_memtable_prepare), after mt_memtable_add's
 * checks: MT_INVALID_ARGUMENT or MT_FROZEN (nothing written), else MT_OK or MT_EXISTS (write.c). */
mt_status mti_memtable_link_prepared(mt_memtable *table, char *stored, uint64_t seq, mt_entry_type type,
                                     const void *key, size_t key_len, const void *value, size_t value_len);

#endif
