/* memtable/memtable_internal.h - private to the memtable layer: the table's fields and the entry cursor
 * (a skiplist position with the entry decoded there) that get, the internal-key iterator and the user view
 * share. Contract: include/memtable/memtable.h.
 *
 * Reading with checksums: every entry a reader returns or decides by is checked against its recorded size
 * and checksum, and every search also checks the entry on the other side of the gap it lands in (the
 * level-0 predecessor of a forward landing, the successor of a backward one). A damaged key, length or
 * sequence byte can only make an entry sort in the wrong place, and a search that is misled by it ends
 * next to it: so a single damaged entry is reported (MT_CORRUPTION) instead of changing an answer. A version
 * link is followed only when its own check passes and it lands on an older version of the same key
 * (cursor_scan.c); the bloom filter keeps each bit twice (memtable.c).
 */
#ifndef MEMTABLE_MEMTABLE_INTERNAL_H
#define MEMTABLE_MEMTABLE_INTERNAL_H

#include <memtable/memtable.h>

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include <memtable/skiplist.h>

#include <xxhash.h>

#include "memtable/coding.h"
#include "memtable/skiplist_inline.h"
#include "memtable/skiplist_readahead.h"
#include "memtable/thread_stripe.h"

#define MEMTABLE_CACHE_LINE_BYTES 64

#if defined(__GNUC__) || defined(__clang__)
#define MEMTABLE_NOINLINE __attribute__((noinline))
#else
#define MEMTABLE_NOINLINE
#endif

typedef struct memtable_stats {
  alignas(MEMTABLE_CACHE_LINE_BYTES) _Atomic uint64_t entries;
  _Atomic uint64_t deletions;
  _Atomic uint64_t smallest_seq;
  _Atomic uint64_t largest_seq;
} memtable_stats;

struct mt_memtable {
  /* Starts at 1 (the creator's). The last unref destroys the arena, and this header with it. */
  _Atomic size_t refs;
  mt_arena *arena;
  mt_skiplist *list;
  mt_compare_fn compare; /* NULL: bytewise */
  void *compare_ctx;
  mt_allocator reader_allocator; /* iterators and long lookup keys, from any thread; both hooks set */
  size_t write_buffer_size;
  unsigned checksum_bytes; /* 0, 1, 2, 4 or 8 */
  unsigned max_sequential_skip; /* >= 1; MT_MEMTABLE_SKIP_NEVER: the user view never searches to skip */
  unsigned scan_readahead_segments;      /* 0: iterators walk plainly */
  unsigned scan_readahead_segment_nodes; /* >= 1 */
  bool concurrent_writes;  /* options.concurrent_writes: adds from many threads at once */
#ifndef NDEBUG
  /* Set while a write runs on a table without concurrent_writes (memtable_writer_enter): a second writer entering
   * meanwhile is the misuse the threading contract forbids, caught by an assert instead of corrupting. */
  atomic_flag writer_busy;
#endif
  /* Bloom filter over user keys, NULL when off. Bits are only ever set, by the writer, before the entry
   * that needs them is published. bloom_bits is the filter's bits (whole words of them). With checksums each
   * bit is kept twice, in both halves of its 64-bit word (bloom_word_bits 32, else 64): one atomic OR sets
   * both, and a key is ruled out only when both copies of a probed bit are clear, so one damaged byte (which
   * holds one copy only) can add false positives but never rule out a stored key. */
  _Atomic uint64_t *bloom_words;
  uint64_t bloom_bits;
  unsigned bloom_probes;
  unsigned bloom_word_bits; /* 64, or 32 (mirrored) */
  /* The point-lookup index (point_index.c), NULL when off. */
  struct point_index *point_index;
  _Atomic bool frozen; /* set once, by mt_memtable_freeze */
  /* The statistics every add updates, read by anyone: a single writer uses stats[0]; concurrent writers
   * each their thread's stripe (thread_stripe.h). On their own cache lines: the writers' updates would
   * otherwise take the line holding the fields above, which every get reads. A stripe's smallest_seq is
   * above its largest_seq while no add has used it. */
  memtable_stats stats[MT_STRIPES];
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

/* The hash of a user key the bloom filter and the point index use. NULL is a valid empty key; the hash is
 * not handed a NULL pointer. */
static inline uint64_t user_key_hash(const void *key, size_t key_len) {
  return XXH3_64bits(key_len != 0 ? key : "", key_len);
}

/* A skiplist position and the entry decoded there. */
typedef struct entry_cursor {
  mt_skiplist_iter position;
  mt_entry entry;
  size_t entry_len; /* the raw entry, checksum excluded */
  /* The iterator's scan walker (cursor_scan.c), or NULL (get, no readahead, no memory for it). Copies of a
   * cursor share it: it keys everything on the node it is asked to step from, so a copy's moves or seeks
   * cost speed (a plain walk until it re-arms), never a wrong step. */
  skiplist_readahead *readahead;
} entry_cursor;

static inline bool user_keys_equal(const mt_memtable *table, const char *a, size_t a_len, const char *b,
                                   size_t b_len) {
  if (table->compare == NULL) return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
  return table->compare(table->compare_ctx, a, a_len, b, b_len) == 0;
}

static inline bool cursor_at_user_key(const mt_memtable *table, const entry_cursor *cursor, mt_slice user_key) {
  return user_keys_equal(table, cursor->entry.user_key.data, cursor->entry.user_key.len, user_key.data,
                         user_key.len);
}

/* Decodes the stored key [stored, stored + stored_size): the entry must fill it exactly (up to the checksum
 * bytes) and match its checksum. Nothing outside the range is read, whatever the bytes say. */
bool memtable_decode_checked(const mt_memtable *table, const char *stored, size_t stored_size, mt_entry *entry,
                             size_t *entry_len);

/* The cursor_load of tables with checksums: bounded by the recorded size. Out of line, so that the path
 * without checksums keeps no registers for a call it never makes (the hash dominates here anyway). */
mt_status cursor_load_checked(const mt_memtable *table, entry_cursor *cursor);

/* The cursor_load of tables without checksums: the entry's own lengths delimit it. */
static inline mt_status cursor_load_self_delimited(entry_cursor *cursor) {
  const char *stored = skiplist_iter_key_inline(&cursor->position);
  if (stored == NULL) return MT_NOT_FOUND;
  return entry_decode_self_delimited(stored, &cursor->entry, &cursor->entry_len) ? MT_OK : MT_CORRUPTION;
}

/* Decodes the entry at the cursor: MT_OK, MT_NOT_FOUND past either end, MT_CORRUPTION for bad bytes
 * (with checksums: anything that fails them; without: a bad type or internal length). */
static inline mt_status cursor_load(const mt_memtable *table, entry_cursor *cursor) {
  return table->checksum_bytes == 0 ? cursor_load_self_delimited(cursor) : cursor_load_checked(table, cursor);
}

/* One step back and its load; with checksums the entry between the new position and the one left (if a
 * writer linked one there meanwhile, or a damaged entry sorted itself out of the search's way) is checked. */
mt_status cursor_step_back(const mt_memtable *table, entry_cursor *cursor);

/* A cursor of a get or a check: positioned nowhere, with no scan walker. Every cursor that is not an
 * iterator's (cursor_init) starts here. */
static inline void cursor_init_plain(const mt_memtable *table, entry_cursor *cursor) {
  mt_skiplist_iter_init(&cursor->position, table->list);
  cursor->readahead = NULL;
}

/* An iterator's cursor: positioned nowhere, with a scan walker from the reader allocator when the table has
 * readahead and the memory is there (without it, steps are plain). cursor_release gives the walker back. */
void cursor_init(const mt_memtable *table, entry_cursor *cursor);
/* The comparator of two stored entries for tables with checksums (the scan walker searches by its nodes' own
 * keys): both read only inside their recorded sizes, as compare_entries_checked reads its stored side. */
int memtable_compare_stored_checked(void *ctx, const char *a, const char *b);
void cursor_release(const mt_memtable *table, entry_cursor *cursor);

/* Starts the scan walker at the cursor's entry at once (after seek_to_first / seek_to_last): a whole scan
 * is likely; with groups (forward, a table with version links), one that passes whole user keys. */
void cursor_scan_from(entry_cursor *cursor, bool forward, bool groups);

/* True when the table has version links (options.version_links): each entry may link to the last version of
 * its user key known when it was added. */
static inline bool table_has_version_links(const mt_memtable *table) { return table->list->same_group != NULL; }

/* With version links: forward past the versions of the cursor's user key that its entry knew of, to the entry
 * after them, and loads it: the scan walker's answer (it walks whole keys) or the entry's version link and
 * one step. An entry with no link steps once. A version linked after that landing may follow it (the caller
 * passes again while it meets its key). MT_NOT_FOUND when the cursor was not on an entry; MT_CORRUPTION when the
 * link fails its check or does not land on an older version of the key (cursor_scan.c). */
mt_status cursor_step_past_versions(const mt_memtable *table, entry_cursor *cursor);

/* cursor_step through the scan walker: the walker's node when it has one (checked by the load like any
 * other; backward, its level-0 successor was the entry just left, so the successor check has nothing to add),
 * else the plain step. */
mt_status cursor_step_scanning(const mt_memtable *table, entry_cursor *cursor, bool forward);

/* One step in either direction and the load there; MT_NOT_FOUND when the cursor was not on an entry. */
static inline mt_status cursor_step(const mt_memtable *table, entry_cursor *cursor, bool forward) {
  if (skiplist_iter_key_inline(&cursor->position) == NULL) return MT_NOT_FOUND;
  if (cursor->readahead != NULL) return cursor_step_scanning(table, cursor, forward);
  if (!forward) return cursor_step_back(table, cursor);
  skiplist_iter_next_inline(&cursor->position);
  return cursor_load(table, cursor);
}

/* Positions the cursor on the first entry at or after (user_key, seq) in internal-key order (for_prev:
 * the last at or before it) and loads it (and resets the scan walker: steps are plain again for a while); seq above MT_MAX_SEQUENCE is clamped. MT_INVALID_ARGUMENT (NULL
 * key data with a length, key too long) or MT_NOMEM (a long key's lookup key) leave the cursor unchanged. */
mt_status cursor_seek(const mt_memtable *table, entry_cursor *cursor, mt_slice user_key, uint64_t seq,
                      bool for_prev);

/* Loads the entry a forward search landed on (cursor->position) as cursor_seek does after its search: with
 * checksums, predecessor (the level-0 node before the landing, not valid: none) must pass its checks too.
 * For searches made elsewhere (mt_memtable_get_batch's interleaved ones). */
mt_status cursor_load_landing(const mt_memtable *table, entry_cursor *cursor, const mt_skiplist_iter *predecessor);

/* mt_memtable_get_entry's answer from the cursor_seek(user_key, snapshot_seq) that gave `status`. */
static inline mt_status get_answer(const mt_memtable *table, const entry_cursor *cursor, mt_status status,
                                   mt_slice user_key, uint64_t snapshot_seq, mt_entry *found) {
  if (status != MT_OK) return status;
  const mt_entry *entry = &cursor->entry;
  if (!cursor_at_user_key(table, cursor, user_key)) return MT_NOT_FOUND;
  /* The seek lands at or after (key, snapshot): a newer entry of the same key here means broken order. */
  if (entry->seq > snapshot_seq) return MT_CORRUPTION;
  if (found != NULL) *found = *entry;
  return entry->type == MT_TYPE_DELETION ? MT_DELETED : MT_OK;
}

/* Records the bytes create took (budget.c); the last step of create, before the table is shared. */
void budget_init(mt_memtable *table);

/* Writes and links an entry into `stored`, a node mt_skiplist_allocate_key reserved for exactly
 * entry_encoded_size(key_len, value_len) + checksum_bytes bytes (mt_memtable_prepare), after mt_memtable_add's
 * checks: MT_INVALID_ARGUMENT or MT_FROZEN (nothing written), else MT_OK or MT_EXISTS. */
mt_status memtable_link_prepared(mt_memtable *table, char *stored, uint64_t seq, mt_entry_type type, const void *key,
                                 size_t key_len, const void *value, size_t value_len);

/* The user key's hash for the bloom filter and the point index (0 when the table has neither): computed once
 * per lookup and handed to both. */
uint64_t memtable_key_hash(const mt_memtable *table, const void *key, size_t key_len);
/* False when the table's bloom filter (if any) rules out the user key with this memtable_key_hash. Any thread. */
bool memtable_may_contain(const mt_memtable *table, uint64_t hash);

/* The bloom filter's bytes (0 without one). */
static inline size_t memtable_bloom_bytes(const mt_memtable *table) {
  return table->bloom_words == NULL ? 0 : (size_t)(table->bloom_bits / table->bloom_word_bits) * sizeof(uint64_t);
}

/* Allocation from the reader allocator (any thread). */
void *memtable_reader_alloc(const mt_memtable *table, size_t size);
void memtable_reader_free(const mt_memtable *table, void *ptr, size_t size);

#endif
