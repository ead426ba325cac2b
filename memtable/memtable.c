/* The write buffer: LevelDB's MemTable over the lock-free-read skiplist. See include/memtable/memtable.h.
 *
 * The skiplist's keys are the encoded entries themselves (plus checksum bytes when enabled), so an entry
 * is written once, straight into its node. With checksums the skiplist also records each node's size,
 * which bounds every decode (comparisons included) and must fit the entry exactly; without, an entry is
 * read by its own lengths (nothing is stored beside it). The table's header and bloom filter live in the
 * table's own arena: the last unref is one mt_arena_destroy.
 *
 * This file holds the table: creation, references, add, get, statistics and validation. Reading entries
 * back (searches, checked loads) is cursor.c; the iterators are memtable_iter.c and user_iter.c.
 */
#include <assert.h>
#include <stdlib.h>

#include <xxhash.h>

#include "memtable/memtable_internal.h"
#include "memtable/point_index.h"
#include "memtable/testing.h"

#define BLOOM_MAX_PROBES 30
/* mt_memtable_add_batch searches this many entries at once, their lookup keys in this much stack. */
#define BATCH_CHUNK 32
#define BATCH_LOOKUP_BYTES 4096

/* The user key and tag of an encoded entry (or lookup key) whose bytes are trusted. The skiplist hands
 * the comparator no sizes, so the length prefix is read unchecked but never beyond its 5 bytes, and an
 * internal key shorter than the tag (only possible in corrupted memory) reads as an empty user key rather
 * than a huge one. */
static inline const char *user_key_of(const char *encoded, size_t *user_len) {
  const unsigned char *p = (const unsigned char *)encoded;
  uint32_t internal_len = 0;
  for (unsigned shift = 0; shift <= 28; shift += 7) {
    uint32_t byte = *p++;
    internal_len |= (uint32_t)((uint64_t)(byte & 0x7f) << shift);
    if (byte < 0x80) break;
  }
  *user_len = internal_len >= 8 ? (size_t)internal_len - 8 : 0;
  return (const char *)p;
}

/* Newer first: the type byte is left out, so (user key, seq) is the whole identity of an entry and an
 * exact duplicate compares equal (the skiplist then refuses it). */
static inline int compare_seq_descending(uint64_t a_tag, uint64_t b_tag) {
  uint64_t a_seq = a_tag >> 8;
  uint64_t b_seq = b_tag >> 8;
  return (a_seq < b_seq) - (a_seq > b_seq);
}

/* memcmp order, then shorter first. Inline and a word at a time (a big-endian load orders two words as
 * memcmp orders their bytes; elsewhere a byte at a time): every step of a search compares, and for short keys
 * a call into the C library's memcmp costs more than the comparison itself (memtable-bench readrandom with a
 * cache-resident --num shows it). */
static inline int compare_bytewise(const char *a, size_t a_len, const char *b, size_t b_len) {
  size_t common = a_len < b_len ? a_len : b_len;
  size_t i = 0;
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  for (; i + 8 <= common; i += 8) {
    uint64_t x, y;
    memcpy(&x, a + i, 8);
    memcpy(&y, b + i, 8);
    if (x != y) {
      x = __builtin_bswap64(x);
      y = __builtin_bswap64(y);
      return x < y ? -1 : 1;
    }
  }
#endif
  for (; i < common; i++) {
    unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
    if (x != y) return x < y ? -1 : 1;
  }
  return (a_len > b_len) - (a_len < b_len);
}

static int compare_entries_bytewise(void *ctx, const char *stored, const char *key) {
  (void)ctx;
  size_t a_len, b_len;
  const char *a_key = user_key_of(stored, &a_len);
  const char *b_key = user_key_of(key, &b_len);
  int order = compare_bytewise(a_key, a_len, b_key, b_len);
  if (order != 0) return order;
  return compare_seq_descending(decode_fixed64(a_key + a_len), decode_fixed64(b_key + b_len));
}

static int compare_entries_custom(void *ctx, const char *stored, const char *key) {
  const mt_memtable *table = ctx;
  size_t a_len, b_len;
  const char *a_key = user_key_of(stored, &a_len);
  const char *b_key = user_key_of(key, &b_len);
  int order = table->compare(table->compare_ctx, a_key, a_len, b_key, b_len);
  if (order != 0) return order;
  return compare_seq_descending(decode_fixed64(a_key + a_len), decode_fixed64(b_key + b_len));
}

/* A stored entry's internal key, read only inside its recorded size, whatever its length bytes say: a prefix
 * that does not fit reads as an empty user key with seq 0, an internal key running past the entry is cut at
 * its end. Sets *user_len and *tag; returns the user key. */
static inline const char *bounded_user_key(const mt_memtable *table, const char *stored, size_t *user_len,
                                           uint64_t *tag) {
  size_t stored_size = skiplist_recorded_key_size(stored);
  size_t bound = stored_size > table->checksum_bytes ? stored_size - table->checksum_bytes : 0;
  uint32_t internal_len = 0;
  const char *key = decode_varint32(stored, stored + (bound < MT_VARINT32_MAX_BYTES ? bound : MT_VARINT32_MAX_BYTES),
                                    &internal_len);
  *user_len = 0;
  *tag = 0;
  if (key == NULL) return stored;
  size_t available = bound - (size_t)(key - stored);
  if (internal_len > available) internal_len = (uint32_t)available;
  if (internal_len >= 8) {
    *user_len = internal_len - 8;
    *tag = decode_fixed64(key + *user_len);
  }
  return key;
}

static inline int compare_user_keys(const mt_memtable *table, const char *a, size_t a_len, const char *b,
                                    size_t b_len, bool bytewise) {
  return bytewise ? compare_bytewise(a, a_len, b, b_len) : table->compare(table->compare_ctx, a, a_len, b, b_len);
}

/* The comparator of tables with checksums. `key` (a lookup key or the entry being inserted) is trusted;
 * `stored` is read only inside its recorded size (bounded_user_key). An entry whose length bytes are damaged
 * then sorts in the wrong place, and the searches' neighbour checks (cursor.c) report it. */
static inline int compare_entries_checked(const mt_memtable *table, const char *stored, const char *key,
                                          bool bytewise) {
  size_t a_len, b_len;
  uint64_t a_tag;
  const char *a_key = bounded_user_key(table, stored, &a_len, &a_tag);
  const char *b_key = user_key_of(key, &b_len);
  int order = compare_user_keys(table, a_key, a_len, b_key, b_len, bytewise);
  if (order != 0) return order;
  return compare_seq_descending(a_tag, decode_fixed64(b_key + b_len));
}

int memtable_compare_stored_checked(void *ctx, const char *a, const char *b) {
  const mt_memtable *table = ctx;
  size_t a_len, b_len;
  uint64_t a_tag, b_tag;
  const char *a_key = bounded_user_key(table, a, &a_len, &a_tag);
  const char *b_key = bounded_user_key(table, b, &b_len, &b_tag);
  int order = compare_user_keys(table, a_key, a_len, b_key, b_len, table->compare == NULL);
  if (order != 0) return order;
  return compare_seq_descending(a_tag, b_tag);
}

static int compare_entries_checked_bytewise(void *ctx, const char *stored, const char *key) {
  return compare_entries_checked(ctx, stored, key, true);
}

static int compare_entries_checked_custom(void *ctx, const char *stored, const char *key) {
  return compare_entries_checked(ctx, stored, key, false);
}

/* The skiplist's same_group for version links: two entries of one user key. `key` (the entry being added) is
 * trusted; `stored` is read as the comparator reads it (inside its recorded size with checksums). */
static bool same_user_key(void *ctx, const char *stored, const char *key) {
  const mt_memtable *table = ctx;
  size_t a_len, b_len;
  uint64_t a_tag;
  const char *a_key =
      table->checksum_bytes != 0 ? bounded_user_key(table, stored, &a_len, &a_tag) : user_key_of(stored, &a_len);
  const char *b_key = user_key_of(key, &b_len);
  return compare_user_keys(table, a_key, a_len, b_key, b_len, table->compare == NULL) == 0;
}

/* Double hashing: probe i is h1 + i * h2 (mod bits), with both halves taken from one XXH3 hash. */
static inline uint64_t bloom_step(uint64_t hash) { return (hash >> 32) | (hash << 32); }

/* The word and the bits (one, or with a mirrored filter its two copies) of filter bit `bit`. */
static inline size_t bloom_word(const mt_memtable *table, uint64_t bit) {
  return (size_t)(bit >> (table->bloom_word_bits == 32 ? 5 : 6));
}

static inline uint64_t bloom_mask(const mt_memtable *table, uint64_t bit) {
  if (table->bloom_word_bits == 32) return (UINT64_C(1) << (bit & 31)) * ((UINT64_C(1) << 32) | 1);
  return UINT64_C(1) << (bit & 63);
}

static void bloom_add(mt_memtable *table, uint64_t hash) {
  uint64_t step = bloom_step(hash);
  for (unsigned i = 0; i < table->bloom_probes; i++, hash += step) {
    uint64_t bit = hash % table->bloom_bits;
    /* Relaxed: the skiplist's release store that publishes the entry comes after this in program order,
     * so a reader that acquires the entry also sees the bit; a reader that misses it answers as if it had
     * read before the add began, which a concurrent get may. */
    atomic_fetch_or_explicit(&table->bloom_words[bloom_word(table, bit)], bloom_mask(table, bit), memory_order_relaxed);
  }
}

static bool bloom_may_contain(const mt_memtable *table, uint64_t hash) {
  uint64_t step = bloom_step(hash);
  for (unsigned i = 0; i < table->bloom_probes; i++, hash += step) {
    uint64_t bit = hash % table->bloom_bits;
    /* Relaxed: a bit is never cleared, and see bloom_add for why a stale word is harmless. */
    uint64_t word = atomic_load_explicit(&table->bloom_words[bloom_word(table, bit)], memory_order_relaxed);
    /* Mirrored: either copy set counts (see bloom_words). */
    if ((word & bloom_mask(table, bit)) == 0) return false;
  }
  return true;
}

/* A mirrored filter's two halves agree in every word (validate). */
static bool bloom_is_sound(const mt_memtable *table) {
  if (table->bloom_words == NULL || table->bloom_word_bits != 32) return true;
  size_t words = (size_t)(table->bloom_bits / 32);
  for (size_t i = 0; i < words; i++) {
    /* Relaxed: validate requires the writers to be quiescent. */
    uint64_t word = atomic_load_explicit(&table->bloom_words[i], memory_order_relaxed);
    if ((uint32_t)word != (uint32_t)(word >> 32)) return false;
  }
  return true;
}

uint64_t memtable_key_hash(const mt_memtable *table, const void *key, size_t key_len) {
  return table->bloom_words != NULL || table->point_index != NULL ? user_key_hash(key, key_len) : 0;
}

bool memtable_may_contain(const mt_memtable *table, uint64_t hash) {
  return table->bloom_words == NULL || bloom_may_contain(table, hash);
}

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

/* Fills the filter geometry for the options, or returns false when the filter cannot be sized. */
static bool bloom_geometry(const mt_memtable_options *opts, size_t *bytes, unsigned *probes) {
  *bytes = 0;
  *probes = 0;
  bool usable = opts->compare == NULL || opts->bloom_bytewise_equal_keys;
  if (opts->bloom_bits_per_key == 0 || !usable) return true;
  size_t expected = opts->bloom_expected_entries != 0 ? opts->bloom_expected_entries : opts->write_buffer_size / 64;
  if (expected == 0) expected = 1;
  if (expected > SIZE_MAX / opts->bloom_bits_per_key) return false;
  size_t bits = expected * opts->bloom_bits_per_key;
  /* Whole cache lines: the filter is aligned to one, and no probe shares a line with other data. */
  size_t line_bits = MEMTABLE_CACHE_LINE_BYTES * 8;
  if (bits > SIZE_MAX - (line_bits - 1)) return false;
  *bytes = (bits + line_bits - 1) / line_bits * MEMTABLE_CACHE_LINE_BYTES;
  /* With checksums every bit is kept twice (see mt_memtable.bloom_words). */
  if (opts->checksum_bytes != 0) {
    if (*bytes > SIZE_MAX / 2) return false;
    *bytes *= 2;
  }
  /* k = bits_per_key * ln 2 minimises the false-positive rate. */
  uint64_t k = ((uint64_t)opts->bloom_bits_per_key * 693 + 500) / 1000;
  *probes = k < 1 ? 1 : k > BLOOM_MAX_PROBES ? BLOOM_MAX_PROBES : (unsigned)k;
  return true;
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
  if (!bloom_geometry(&opts, &bloom_bytes, &bloom_probes)) return MT_INVALID_ARGUMENT;

  /* Concurrent writers allocate from the arena's per-thread shards. */
  opts.arena.concurrent = opts.concurrent_writes;
  mt_arena *arena;
  mt_status status = mt_arena_try_create(&opts.arena, &arena);
  if (status != MT_OK) return status;
  void *memory;
  status = mt_arena_try_allocate(arena, sizeof(mt_memtable), MEMTABLE_CACHE_LINE_BYTES, &memory);
  if (status != MT_OK) goto fail;
  mt_memtable *table = memory;
  atomic_init(&table->refs, 1);
  table->arena = arena;
  table->list = NULL;
  table->compare = opts.compare;
  table->compare_ctx = opts.compare_ctx;
  table->reader_allocator = opts.reader_allocator;
  table->write_buffer_size = opts.write_buffer_size;
  table->checksum_bytes = cks;
  table->max_sequential_skip =
      opts.max_sequential_skip != 0 ? opts.max_sequential_skip : MT_MEMTABLE_DEFAULT_MAX_SEQUENTIAL_SKIP;
  table->scan_readahead_segments = opts.scan_readahead_segments;
  table->scan_readahead_segment_nodes = opts.scan_readahead_segment_nodes;
  table->bloom_words = NULL;
  table->bloom_bits = 0;
  table->bloom_probes = 0;
  table->bloom_word_bits = 64;
  table->point_index = NULL;
  for (unsigned i = 0; i < MT_STRIPES; i++) {
    atomic_init(&table->stats[i].entries, 0);
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
    table->bloom_words = memory;
    size_t words = bloom_bytes / sizeof(uint64_t);
    for (size_t i = 0; i < words; i++) atomic_init(&table->bloom_words[i], 0);
    table->bloom_word_bits = cks != 0 ? 32 : 64;
    table->bloom_bits = (uint64_t)words * table->bloom_word_bits;
    table->bloom_probes = bloom_probes;
  }

  /* The index matches keys by their bytes, as the bloom filter does (see point_index_entries). */
  if (opts.point_index && (opts.compare == NULL || opts.bloom_bytewise_equal_keys)) {
    size_t expected = opts.point_index_entries != 0 ? opts.point_index_entries
                                                    : opts.write_buffer_size / MT_MEMTABLE_TYPICAL_ENTRY_BYTES;
    status = point_index_create(arena, expected, &table->point_index);
    if (status != MT_OK) goto fail;
  }

  mt_skiplist_options list_options = MT_SKIPLIST_OPTIONS_INIT;
  if (cks != 0) {
    list_options.compare = opts.compare == NULL ? compare_entries_checked_bytewise : compare_entries_checked_custom;
  } else {
    list_options.compare = opts.compare == NULL ? compare_entries_bytewise : compare_entries_custom;
  }
  list_options.compare_ctx = table;
  list_options.concurrent_inserts = opts.concurrent_writes;
  list_options.seed = opts.seed;
  list_options.branching = (int)opts.skiplist_branching;
  list_options.max_height = skiplist_height_for(opts.skiplist_branching);
  /* Checksums ask for corruption detection, which needs each entry's true size; without them the entry's
   * own lengths delimit it and the 4 bytes per entry are saved. */
  list_options.record_key_size = cks != 0;
  if (opts.version_links) list_options.same_group = same_user_key;
  status = mt_skiplist_try_create(arena, &list_options, &table->list);
  if (status != MT_OK) goto fail;
  budget_init(table);
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

/* Relaxed load and store: with one writer only it changes these statistics, and they publish no memory. */
static inline void writer_increment(_Atomic uint64_t *counter) {
  atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1, memory_order_relaxed);
}

/* Concurrent writers: the same statistics, in the thread's stripe, by read-modify-write (a stripe may be
 * shared). Relaxed: they publish no memory. */
static void record_added_concurrently(mt_memtable *table, uint64_t seq, mt_entry_type type) {
  memtable_stats *stats = &table->stats[thread_stripe()];
  atomic_fetch_add_explicit(&stats->entries, 1, memory_order_relaxed);
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
static inline void record_added(mt_memtable *table, uint64_t seq, mt_entry_type type) {
  if (table->concurrent_writes) {
    record_added_concurrently(table, seq, type);
    return;
  }
  memtable_stats *stats = &table->stats[0];
  writer_increment(&stats->entries);
  if (type == MT_TYPE_DELETION) writer_increment(&stats->deletions);
  /* Relaxed, as above; a reader may see one bound updated before the other (see mt_memtable_sequence_range). */
  if (seq < atomic_load_explicit(&stats->smallest_seq, memory_order_relaxed)) {
    atomic_store_explicit(&stats->smallest_seq, seq, memory_order_relaxed);
  }
  if (seq > atomic_load_explicit(&stats->largest_seq, memory_order_relaxed)) {
    atomic_store_explicit(&stats->largest_seq, seq, memory_order_relaxed);
  }
}

/* The checks mt_memtable_add makes of one entry's arguments; *entry_len gets its encoded size. */
static mt_status check_entry(const mt_memtable *table, uint64_t seq, mt_entry_type type, const void *key,
                             size_t key_len, const void *value, size_t value_len, size_t *entry_len) {
  if (seq > MT_MAX_SEQUENCE || (type != MT_TYPE_DELETION && type != MT_TYPE_VALUE)) return MT_INVALID_ARGUMENT;
  if ((key == NULL && key_len != 0) || (value == NULL && value_len != 0)) return MT_INVALID_ARGUMENT;
  *entry_len = entry_encoded_size(key_len, value_len);
  /* Node sizes are limited to 32 bits (the skiplist records them so with checksums), checksum included. */
  if (*entry_len == 0 || *entry_len > UINT32_MAX - table->checksum_bytes) return MT_INVALID_ARGUMENT;
  return MT_OK;
}

/* Relaxed: the freeze that matters happened-before this add through the caller's own synchronisation (the
 * contract), and coherence then shows it; a racing freeze may or may not stop this add. */
static inline bool is_frozen(const mt_memtable *table) {
  return atomic_load_explicit(&table->frozen, memory_order_relaxed);
}

/* The test seam (memtable/testing.h): called by a concurrent writer between linking its entry and publishing
 * it in the point index, the window help_publish_existing covers. Relaxed: set by a test before its writers
 * start, which their creation orders. */
static _Atomic(mti_linked_seam_fn) linked_seam;
static void *_Atomic linked_seam_ctx;

void mti_memtable_set_linked_seam_for_testing(mti_linked_seam_fn seam, void *ctx) {
  atomic_store_explicit(&linked_seam_ctx, ctx, memory_order_relaxed);   /* see linked_seam */
  atomic_store_explicit(&linked_seam, seam, memory_order_relaxed);      /* see linked_seam */
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
  cursor_init_plain(table, &cursor);
  mt_slice target = {key, key_len};
  if (cursor_seek(table, &cursor, target, seq, false) != MT_OK) return;
  const char *found = skiplist_iter_key_inline(&cursor.position);
  if (found == NULL || cursor.entry.seq != seq || !cursor_at_user_key(table, &cursor, target)) return;
  point_index_publish(table->point_index, found, hash, seq, true);
}

/* Writes the entry into its node `stored` (entry_len + checksum_bytes bytes from mt_skiplist_allocate_key) and
 * links it; position (NULL: none) is where the batch's interleaved search found it falls. Inlined into its
 * two callers, add_checked and memtable_link_prepared. */
static inline mt_status link_entry(mt_memtable *table, char *stored, uint64_t seq, mt_entry_type type, const void *key,
                                   size_t key_len, const void *value, size_t value_len, size_t entry_len,
                                   const mt_skiplist_position *position) {
  char *end = entry_encode_unchecked(stored, seq, type, key, key_len, value, value_len);
  assert((size_t)(end - stored) == entry_len);
  if (table->checksum_bytes != 0) encode_low_bytes(end, XXH3_64bits(stored, entry_len), table->checksum_bytes);
  /* Before the insert publishes the entry (see bloom_add). If the insert then fails (an exact duplicate)
   * the bits stay set: that only adds false positives, never a false negative. */
  uint64_t hash = memtable_key_hash(table, key, key_len);
  if (table->bloom_words != NULL) bloom_add(table, hash);

  /* A duplicate is refused and its node given back to the arena (the skiplist's contract). */
  mt_status status = position != NULL ? mt_skiplist_insert_allocated_at(table->list, stored, position)
                                      : mt_skiplist_insert_allocated(table->list, stored);
  if (status == MT_EXISTS && table->point_index != NULL && table->concurrent_writes) {
    help_publish_existing(table, key, key_len, hash, seq);
    return status;
  }
  if (status != MT_OK) return status;
  /* After the insert: a slot only ever names a linked node (point_index.c). */
  if (table->point_index != NULL) {
    if (table->concurrent_writes) call_linked_seam(seq);
    point_index_publish(table->point_index, stored, hash, seq, table->concurrent_writes);
  }
  record_added(table, seq, type);
  return MT_OK;
}

/* Adds one checked entry of entry_len encoded bytes; position as link_entry's. Kept out of line and with
 * record_added inlined, the shape mt_memtable_add had before link_entry was split from it for
 * mt_memtable_add_prepared (callgrind of memtable-bench fillrandom: otherwise 10-24 more instructions an add). */
static MEMTABLE_NOINLINE mt_status add_checked(mt_memtable *table, uint64_t seq, mt_entry_type type, const void *key,
                                               size_t key_len, const void *value, size_t value_len, size_t entry_len,
                                               const mt_skiplist_position *position) {
  char *stored;
  mt_status status = mt_skiplist_allocate_key(table->list, entry_len + table->checksum_bytes, &stored);
  if (status != MT_OK) return status;
  return link_entry(table, stored, seq, type, key, key_len, value, value_len, entry_len, position);
}

mt_status memtable_link_prepared(mt_memtable *table, char *stored, uint64_t seq, mt_entry_type type, const void *key,
                                 size_t key_len, const void *value, size_t value_len) {
  size_t entry_len;
  mt_status status = check_entry(table, seq, type, key, key_len, value, value_len, &entry_len);
  if (status != MT_OK) return status;
  if (is_frozen(table)) return MT_FROZEN;
  return link_entry(table, stored, seq, type, key, key_len, value, value_len, entry_len, NULL);
}

static inline mt_status add_one(mt_memtable *table, uint64_t seq, mt_entry_type type, const void *key,
                                size_t key_len, const void *value, size_t value_len) {
  size_t entry_len;
  mt_status status = check_entry(table, seq, type, key, key_len, value, value_len, &entry_len);
  if (status != MT_OK) return status;
  if (is_frozen(table)) return MT_FROZEN;
  return add_checked(table, seq, type, key, key_len, value, value_len, entry_len, NULL);
}

mt_status mt_memtable_add(mt_memtable *table, uint64_t seq, mt_entry_type type, const void *key, size_t key_len,
                          const void *value, size_t value_len) {
  if (table == NULL) return MT_INVALID_ARGUMENT;
  memtable_writer_enter(table);
  mt_status status = add_one(table, seq, type, key, key_len, value, value_len);
  memtable_writer_leave(table);
  return status;
}

/* mt_memtable_add_batch after its NULL checks. */
static mt_status add_batch(mt_memtable *table, uint64_t first_seq, const mt_memtable_batch_entry *entries,
                           size_t count, size_t *applied) {
  if (count != 0 && (first_seq > MT_MAX_SEQUENCE || count - 1 > MT_MAX_SEQUENCE - first_seq)) {
    return MT_INVALID_ARGUMENT;
  }
  /* Every entry is checked before any is added: a bad batch changes nothing. */
  for (size_t i = 0; i < count; i++) {
    const mt_memtable_batch_entry *e = &entries[i];
    size_t entry_len;
    mt_status status = check_entry(table, first_seq + i, e->type, e->key, e->key_len, e->value, e->value_len,
                                   &entry_len);
    if (status != MT_OK) return status;
  }
  if (is_frozen(table)) return MT_FROZEN;
  /* The batch's searches run interleaved, a chunk at a time (mt_skiplist_find_positions), so their cache
   * misses overlap; each entry is then linked from its position, walking right past what was linked since
   * (by this batch, or by other writers with concurrent_writes). */
  size_t chunk = BATCH_CHUNK;
  for (size_t base = 0; base < count;) {
    char scratch[BATCH_LOOKUP_BYTES];
    const char *targets[BATCH_CHUNK];
    mt_skiplist_position positions[BATCH_CHUNK];
    size_t found = 0, used = 0;
    while (found < chunk && base + found < count) {
      const mt_memtable_batch_entry *e = &entries[base + found];
      size_t size = lookup_key_size(e->key_len);
      if (size > sizeof(scratch) - used) break; /* long keys: searched one by one below */
      lookup_key_encode(scratch + used, e->key, e->key_len, first_seq + base + found);
      targets[found++] = scratch + used;
      used += size;
    }
    if (found != 0) mt_skiplist_find_positions(table->list, targets, found, positions);
    size_t step = found != 0 ? found : 1;
    for (size_t i = base; i < base + step; i++) {
      const mt_memtable_batch_entry *e = &entries[i];
      size_t entry_len = entry_encoded_size(e->key_len, e->value_len);
      mt_status status = add_checked(table, first_seq + i, e->type, e->key, e->key_len, e->value, e->value_len,
                                     entry_len, found != 0 ? &positions[i - base] : NULL);
      if (status != MT_OK) return status;
      if (applied != NULL) *applied = i + 1;
    }
    base += step;
  }
  return MT_OK;
}

mt_status mt_memtable_add_batch(mt_memtable *table, uint64_t first_seq, const mt_memtable_batch_entry *entries,
                                size_t count, size_t *applied) {
  if (applied != NULL) *applied = 0;
  if (table == NULL || (entries == NULL && count != 0)) return MT_INVALID_ARGUMENT;
  memtable_writer_enter(table);
  mt_status status = add_batch(table, first_seq, entries, count, applied);
  memtable_writer_leave(table);
  return status;
}

mt_status mt_memtable_get_entry(const mt_memtable *table, const void *key, size_t key_len, uint64_t snapshot_seq,
                                mt_entry *found) {
  if (table == NULL || (key == NULL && key_len != 0) || key_len > MT_MAX_KEY_LEN) return MT_INVALID_ARGUMENT;
  if (snapshot_seq > MT_MAX_SEQUENCE) snapshot_seq = MT_MAX_SEQUENCE;
  uint64_t hash = memtable_key_hash(table, key, key_len);
  if (table->point_index != NULL) {
    mt_status answer;
    mt_entry entry;
    if (point_index_get(table->point_index, table, key, key_len, hash, snapshot_seq, &entry, &answer)) {
      if (found != NULL && (answer == MT_OK || answer == MT_DELETED)) *found = entry;
      return answer;
    }
  }
  if (!memtable_may_contain(table, hash)) return MT_NOT_FOUND;

  entry_cursor cursor;
  cursor_init_plain(table, &cursor);
  mt_slice target = {key, key_len};
  /* The first entry at or after (key, snapshot): the key's newest visible version if it has one. */
  mt_status status = cursor_seek(table, &cursor, target, snapshot_seq, false);
  return get_answer(table, &cursor, status, target, snapshot_seq, found);
}

mt_status mt_memtable_get(const mt_memtable *table, const void *key, size_t key_len, uint64_t snapshot_seq,
                          mt_slice *value) {
  mt_entry found;
  mt_status status = mt_memtable_get_entry(table, key, key_len, snapshot_seq, &found);
  if (status == MT_OK && value != NULL) *value = found.value;
  return status;
}

size_t mt_memtable_approximate_memory_usage(const mt_memtable *table) {
  return table == NULL ? 0 : mt_arena_memory_usage(table->arena);
}

/* Relaxed: statistics (see record_added); with concurrent writers the sum of the stripes may lag adds in
 * flight, and is exact once they are done. */
static uint64_t sum_stripes(const mt_memtable *table, bool deletions) {
  uint64_t sum = 0;
  unsigned stripes = table->concurrent_writes ? MT_STRIPES : 1;
  for (unsigned i = 0; i < stripes; i++) {
    const _Atomic uint64_t *counter = deletions ? &table->stats[i].deletions : &table->stats[i].entries;
    sum += atomic_load_explicit(counter, memory_order_relaxed);
  }
  return sum;
}

size_t mt_memtable_point_index_memory(const mt_memtable *table) {
  return table == NULL || table->point_index == NULL ? 0 : point_index_memory(table->point_index);
}

uint64_t mt_memtable_entry_count(const mt_memtable *table) { return table == NULL ? 0 : sum_stripes(table, false); }

uint64_t mt_memtable_deletion_count(const mt_memtable *table) { return table == NULL ? 0 : sum_stripes(table, true); }

mt_status mt_memtable_sequence_range(const mt_memtable *table, uint64_t *smallest, uint64_t *largest) {
  if (table == NULL || smallest == NULL || largest == NULL) return MT_INVALID_ARGUMENT;
  /* Relaxed: statistics (see record_added); every bound only widens, so any pair read is a range some
   * prefix of the adds produced, or empty. */
  uint64_t low = UINT64_MAX, high = 0;
  unsigned stripes = table->concurrent_writes ? MT_STRIPES : 1;
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

/* The skiplist's key_ok: the skiplist checks that each node lies in the arena but cannot say how long its
 * key is, so every read here is first checked to lie inside the arena's memory. The exact size is checked
 * by the level-0 walk in mt_memtable_validate. */
static bool stored_entry_in_arena(void *ctx, const char *stored) {
  const mt_memtable *table = ctx;
  /* The shortest entry: a 1-byte length, the tag, a 1-byte value length. That covers a 5-byte varint. */
  if (!mt_arena_contains(table->arena, stored, 1 + 8 + 1)) return false;
  uint32_t internal_len;
  const char *p = decode_varint32(stored, stored + MT_VARINT32_MAX_BYTES, &internal_len);
  if (p == NULL || internal_len < 8) return false;
  size_t prefix = (size_t)(p - stored);
  /* Room for the internal key and the shortest value length. */
  if (!mt_arena_contains(table->arena, stored, prefix + internal_len + 1)) return false;
  const char *value_header = p + internal_len;
  size_t value_header_len = 1;
  if ((value_header[0] & 0x80) && mt_arena_contains(table->arena, value_header, MT_VARINT32_MAX_BYTES)) {
    value_header_len = MT_VARINT32_MAX_BYTES;
  }
  uint32_t value_len;
  const char *value = decode_varint32(value_header, value_header + value_header_len, &value_len);
  if (value == NULL) return false;
  size_t entry_len = (size_t)(value - stored) + value_len;
  if (entry_len < value_len || entry_len > SIZE_MAX - table->checksum_bytes) return false;
  if (!mt_arena_contains(table->arena, stored, entry_len + table->checksum_bytes)) return false;
  mt_entry entry;
  size_t consumed;
  if (table->checksum_bytes != 0) return memtable_decode_checked(table, stored, entry_len + table->checksum_bytes,
                                                                 &entry, &consumed);
  return entry_decode_bounded(stored, entry_len, &entry, &consumed);
}

mt_status mt_memtable_validate(const mt_memtable *table) {
  if (table == NULL) return MT_INVALID_ARGUMENT;
  mt_status status = mt_skiplist_validate(table->list, stored_entry_in_arena, (void *)table);
  if (status != MT_OK) return MT_CORRUPTION;
  entry_cursor cursor;
  cursor_init_plain(table, &cursor);
  mt_skiplist_iter_seek_to_first(&cursor.position);
  uint64_t entries = 0;
  uint64_t deletions = 0;
  while ((status = cursor_load(table, &cursor)) == MT_OK) {
    entries++;
    if (cursor.entry.type == MT_TYPE_DELETION) deletions++;
    skiplist_iter_next_inline(&cursor.position);
  }
  if (status == MT_CORRUPTION) return MT_CORRUPTION;
  if (entries != mt_memtable_entry_count(table) || deletions != mt_memtable_deletion_count(table)) {
    return MT_CORRUPTION;
  }
  if (!bloom_is_sound(table)) return MT_CORRUPTION;
  if (table->point_index != NULL) return point_index_validate(table->point_index, table, stored_entry_in_arena, (void *)table);
  return MT_OK;
}
