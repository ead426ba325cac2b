/* The write buffer: LevelDB's MemTable over the lock-free-read skiplist. See include/memtable/memtable.h.
 *
 * The skiplist's keys are the encoded entries themselves (plus checksum bytes when enabled), so an entry
 * is written once, straight into its node. With checksums the skiplist also records each node's size,
 * which bounds every decode and must fit the entry exactly; without, an entry is read by its own lengths
 * (nothing is stored beside it). The table's header and bloom filter live in the table's own arena: the
 * last unref is one mt_arena_destroy.
 *
 * Forward steps use the skiplist's inline hot path (skiplist_inline.h): one link load and a decode per
 * step, no call.
 */
#include <memtable/memtable.h>

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include <memtable/skiplist.h>

#include "memtable/coding.h"
#include "memtable/skiplist_inline.h"

/* Lookup keys up to this size are built on the stack; longer ones (keys above ~240 bytes) on the heap. */
#define LOOKUP_KEY_STACK_BYTES 256
#define CACHE_LINE_BYTES 64
#define BLOOM_MAX_PROBES 30

#if defined(__GNUC__) || defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

struct mt_memtable {
  /* Starts at 1 (the creator's). The last unref destroys the arena, and this header with it. */
  _Atomic size_t refs;
  mt_arena *arena;
  mt_skiplist *list;
  mt_compare_fn compare; /* NULL: bytewise */
  void *compare_ctx;
  mt_allocator allocator; /* iterators and long lookup keys; both hooks always set */
  size_t write_buffer_size;
  unsigned checksum_bytes; /* 0, 1, 2, 4 or 8 */
  /* Bloom filter over user keys, NULL when off. Bits are only ever set, by the writer, before the entry
   * that needs them is published. bloom_bits is a multiple of 64 (whole words). */
  _Atomic uint64_t *bloom_words;
  uint64_t bloom_bits;
  unsigned bloom_probes;
  /* Statistics: written by the writer only, read by anyone. On their own cache line: the writer's update on
   * every add would otherwise take the line holding the fields above, which every get reads. */
  alignas(CACHE_LINE_BYTES) _Atomic uint64_t entry_count;
  _Atomic uint64_t deletion_count;
};

/* The user key of an encoded entry (or lookup key). The skiplist hands the comparator no sizes, so the
 * length prefix is read unchecked but never beyond its 5 bytes, and an internal key shorter than the tag
 * (only possible in corrupted memory) reads as an empty user key rather than a huge one. */
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
static inline int compare_seq_descending(const char *a_tag, const char *b_tag) {
  uint64_t a_seq = decode_fixed64(a_tag) >> 8;
  uint64_t b_seq = decode_fixed64(b_tag) >> 8;
  return (a_seq < b_seq) - (a_seq > b_seq);
}

static inline int compare_bytewise(const char *a, size_t a_len, const char *b, size_t b_len) {
  size_t common = a_len < b_len ? a_len : b_len;
  int order = common == 0 ? 0 : memcmp(a, b, common);
  if (order != 0) return order;
  return (a_len > b_len) - (a_len < b_len);
}

static int compare_entries_bytewise(void *ctx, const char *a, const char *b) {
  (void)ctx;
  size_t a_len, b_len;
  const char *a_key = user_key_of(a, &a_len);
  const char *b_key = user_key_of(b, &b_len);
  int order = compare_bytewise(a_key, a_len, b_key, b_len);
  if (order != 0) return order;
  return compare_seq_descending(a_key + a_len, b_key + b_len);
}

static int compare_entries_custom(void *ctx, const char *a, const char *b) {
  const mt_memtable *table = ctx;
  size_t a_len, b_len;
  const char *a_key = user_key_of(a, &a_len);
  const char *b_key = user_key_of(b, &b_len);
  int order = table->compare(table->compare_ctx, a_key, a_len, b_key, b_len);
  if (order != 0) return order;
  return compare_seq_descending(a_key + a_len, b_key + b_len);
}

static inline bool user_keys_equal(const mt_memtable *table, const char *a, size_t a_len, const char *b, size_t b_len) {
  if (table->compare == NULL) return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
  return table->compare(table->compare_ctx, a, a_len, b, b_len) == 0;
}

static inline uint64_t checksum_mask(unsigned bytes) {
  return bytes >= 8 ? UINT64_MAX : (UINT64_C(1) << (8 * bytes)) - 1;
}

static inline bool checksum_matches(const mt_memtable *table, const char *entry, size_t entry_len) {
  uint64_t expected = XXH3_64bits(entry, entry_len) & checksum_mask(table->checksum_bytes);
  return decode_low_bytes(entry + entry_len, table->checksum_bytes) == expected;
}

/* NULL is a valid empty key; the hash is not handed a NULL pointer. */
static inline uint64_t user_key_hash(const void *key, size_t key_len) {
  return XXH3_64bits(key_len != 0 ? key : "", key_len);
}

/* Double hashing: probe i is h1 + i * h2 (mod bits), with both halves taken from one XXH3 hash. */
static inline uint64_t bloom_step(uint64_t hash) { return (hash >> 32) | (hash << 32); }

static void bloom_add(mt_memtable *table, uint64_t hash) {
  uint64_t step = bloom_step(hash);
  for (unsigned i = 0; i < table->bloom_probes; i++, hash += step) {
    uint64_t bit = hash % table->bloom_bits;
    /* Relaxed: the skiplist's release store that publishes the entry comes after this in program order,
     * so a reader that acquires the entry also sees the bit; a reader that misses it answers as if it had
     * read before the add began, which a concurrent get may. */
    atomic_fetch_or_explicit(&table->bloom_words[bit / 64], UINT64_C(1) << (bit % 64), memory_order_relaxed);
  }
}

static bool bloom_may_contain(const mt_memtable *table, uint64_t hash) {
  uint64_t step = bloom_step(hash);
  for (unsigned i = 0; i < table->bloom_probes; i++, hash += step) {
    uint64_t bit = hash % table->bloom_bits;
    /* Relaxed: a bit is never cleared, and see bloom_add for why a stale word is harmless. */
    uint64_t word = atomic_load_explicit(&table->bloom_words[bit / 64], memory_order_relaxed);
    if ((word & (UINT64_C(1) << (bit % 64))) == 0) return false;
  }
  return true;
}

/* varint32(key_len + 8) | key | fixed64(seq << 8 | type): compares like a stored entry. */
typedef struct lookup_key {
  char *data;
  size_t size;
  char stack[LOOKUP_KEY_STACK_BYTES];
} lookup_key;

static mt_status lookup_key_build(const mt_memtable *table, lookup_key *lookup, const void *key, size_t key_len,
                                  uint64_t seq, mt_entry_type type) {
  if ((key == NULL && key_len != 0) || key_len > MT_MAX_KEY_LEN) return MT_INVALID_ARGUMENT;
  if (seq > MT_MAX_SEQUENCE) seq = MT_MAX_SEQUENCE;
  lookup->size = varint32_length((uint32_t)(key_len + 8)) + key_len + 8;
  lookup->data = lookup->stack;
  if (lookup->size > sizeof(lookup->stack)) {
    lookup->data = table->allocator.alloc(table->allocator.ctx, lookup->size);
    if (lookup->data == NULL) return MT_NOMEM;
  }
  char *p = encode_varint32(lookup->data, (uint32_t)(key_len + 8));
  if (key_len != 0) memcpy(p, key, key_len);
  encode_fixed64(p + key_len, pack_tag(seq, type));
  return MT_OK;
}

static void lookup_key_release(const mt_memtable *table, lookup_key *lookup) {
  if (lookup->data != lookup->stack) table->allocator.free(table->allocator.ctx, lookup->data, lookup->size);
}

/* Decodes the stored key [stored, stored + stored_size): the entry must fill it exactly (up to the checksum
 * bytes) and match its checksum. Nothing outside the range is read, whatever the bytes say. */
static bool decode_checked_entry(const mt_memtable *table, const char *stored, size_t stored_size, mt_entry *entry,
                                 size_t *entry_len) {
  if (stored_size < table->checksum_bytes) return false;
  size_t expected_len = stored_size - table->checksum_bytes;
  size_t consumed;
  if (!entry_decode_bounded(stored, expected_len, entry, &consumed) || consumed != expected_len) return false;
  if (table->checksum_bytes != 0 && !checksum_matches(table, stored, expected_len)) return false;
  *entry_len = expected_len;
  return true;
}

/* A skiplist position and the entry decoded there. */
typedef struct entry_cursor {
  mt_skiplist_iter position;
  mt_entry entry;
  size_t entry_len; /* the raw entry, checksum excluded */
} entry_cursor;

/* The cursor_load of tables without checksums: the entry's own lengths delimit it. */
static inline mt_status cursor_load_self_delimited(entry_cursor *cursor) {
  const char *stored = skiplist_iter_key_inline(&cursor->position);
  if (stored == NULL) return MT_NOT_FOUND;
  return entry_decode_self_delimited(stored, &cursor->entry, &cursor->entry_len) ? MT_OK : MT_CORRUPTION;
}

/* The cursor_load of tables with checksums: bounded by the recorded size. Out of line, so that the path
 * without checksums keeps no registers for a call it never makes (the hash dominates here anyway):
 * measured 11% off a forward step. */
static NOINLINE mt_status cursor_load_checked(const mt_memtable *table, entry_cursor *cursor) {
  const char *stored = skiplist_iter_key_inline(&cursor->position);
  if (stored == NULL) return MT_NOT_FOUND;
  size_t stored_size = skiplist_iter_key_size_inline(&cursor->position);
  bool decoded = decode_checked_entry(table, stored, stored_size, &cursor->entry, &cursor->entry_len);
  return decoded ? MT_OK : MT_CORRUPTION;
}

/* Decodes the entry at the cursor: MT_OK, MT_NOT_FOUND past either end, MT_CORRUPTION for bad bytes
 * (with checksums: anything that fails them; without: a bad type or internal length). */
static inline mt_status cursor_load(const mt_memtable *table, entry_cursor *cursor) {
  return table->checksum_bytes == 0 ? cursor_load_self_delimited(cursor) : cursor_load_checked(table, cursor);
}

static inline mt_status cursor_step(const mt_memtable *table, entry_cursor *cursor, bool forward) {
  if (skiplist_iter_key_inline(&cursor->position) == NULL) return MT_NOT_FOUND;
  if (forward) {
    skiplist_iter_next_inline(&cursor->position);
  } else {
    mt_skiplist_iter_prev(&cursor->position);
  }
  return cursor_load(table, cursor);
}

/* Seeks the cursor to the first entry at or after (user_key, seq, type) and decodes it. MT_NOMEM (cursor
 * unchanged) when a long key's lookup key cannot be built. */
static mt_status cursor_seek(const mt_memtable *table, entry_cursor *cursor, mt_slice user_key, uint64_t seq,
                             mt_entry_type type) {
  lookup_key lookup;
  mt_status status = lookup_key_build(table, &lookup, user_key.data, user_key.len, seq, type);
  if (status != MT_OK) return status;
  mt_skiplist_iter_seek(&cursor->position, lookup.data);
  lookup_key_release(table, &lookup);
  return cursor_load(table, cursor);
}

static inline bool cursor_at_user_key(const mt_memtable *table, const entry_cursor *cursor, mt_slice user_key) {
  return user_keys_equal(table, cursor->entry.user_key.data, cursor->entry.user_key.len, user_key.data, user_key.len);
}

/* The user iterator passes over versions it does not return. A step forward follows one link, a step back
 * is a search (the list has no back links); after this many steps over one key's versions it seeks
 * instead, one or two searches however many versions remain (RocksDB's max_sequential_skip_in_iterations).
 * Without memory for a long key's lookup key it keeps stepping. */
#define STEPS_BEFORE_SEEK 4

/* From a version of the cursor's user key newer than the snapshot: forward to the key's newest visible
 * version, or past the key when it has none. Returns the load status where the cursor stops. */
static mt_status cursor_forward_to_visible(const mt_memtable *table, entry_cursor *cursor, uint64_t snapshot_seq) {
  mt_slice user_key = cursor->entry.user_key; /* arena bytes: outlive the cursor's moves */
  bool may_seek = true;
  for (int steps = 0;; steps++) {
    mt_status status;
    if (may_seek && steps >= STEPS_BEFORE_SEEK) {
      status = cursor_seek(table, cursor, user_key, snapshot_seq, MT_TYPE_VALUE);
      if (status != MT_NOMEM) return status;
      may_seek = false;
    }
    status = cursor_step(table, cursor, true);
    if (status != MT_OK || cursor->entry.seq <= snapshot_seq || !cursor_at_user_key(table, cursor, user_key)) {
      return status;
    }
  }
}

/* Forward past the remaining versions of the cursor's user key. */
static mt_status cursor_forward_past_user_key(const mt_memtable *table, entry_cursor *cursor) {
  mt_slice user_key = cursor->entry.user_key;
  bool may_seek = true;
  for (int steps = 0;; steps++) {
    mt_status status;
    if (may_seek && steps >= STEPS_BEFORE_SEEK) {
      /* (key, 0) sorts at or after every version: land on the oldest, then step past it. */
      status = cursor_seek(table, cursor, user_key, 0, MT_TYPE_DELETION);
      if (status == MT_OK && cursor_at_user_key(table, cursor, user_key)) status = cursor_step(table, cursor, true);
      if (status != MT_NOMEM) return status;
      may_seek = false;
    }
    status = cursor_step(table, cursor, true);
    if (status != MT_OK || !cursor_at_user_key(table, cursor, user_key)) return status;
  }
}

/* Back past the remaining versions of the cursor's user key, to the previous key's last entry; steps_taken
 * counts steps already spent on this key. */
static mt_status cursor_back_past_user_key(const mt_memtable *table, entry_cursor *cursor, int steps_taken) {
  mt_slice user_key = cursor->entry.user_key;
  bool may_seek = true;
  for (int steps = steps_taken;; steps++) {
    mt_status status;
    if (may_seek && steps >= STEPS_BEFORE_SEEK) {
      /* Every version has seq <= MT_MAX_SEQUENCE: land on the newest, then step before it. */
      status = cursor_seek(table, cursor, user_key, MT_MAX_SEQUENCE, MT_TYPE_VALUE);
      if (status == MT_OK) status = cursor_step(table, cursor, false);
      if (status != MT_NOMEM) return status;
      may_seek = false;
    }
    status = cursor_step(table, cursor, false);
    if (status != MT_OK || !cursor_at_user_key(table, cursor, user_key)) return status;
  }
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
  size_t line_bits = CACHE_LINE_BYTES * 8;
  if (bits > SIZE_MAX - (line_bits - 1)) return false;
  *bytes = (bits + line_bits - 1) / line_bits * CACHE_LINE_BYTES;
  /* k = bits_per_key * ln 2 minimises the false-positive rate. */
  uint64_t k = ((uint64_t)opts->bloom_bits_per_key * 693 + 500) / 1000;
  *probes = k < 1 ? 1 : k > BLOOM_MAX_PROBES ? BLOOM_MAX_PROBES : (unsigned)k;
  return true;
}

mt_memtable *mt_memtable_create(const mt_memtable_options *options) {
  mt_memtable_options opts = MT_MEMTABLE_OPTIONS_INIT;
  if (options != NULL) opts = *options;
  unsigned cks = opts.checksum_bytes;
  if (cks != 0 && cks != 1 && cks != 2 && cks != 4 && cks != 8) return NULL;
  if (opts.arena.block_size == 0) opts.arena.block_size = MT_MEMTABLE_DEFAULT_BLOCK_SIZE;
  if (opts.write_buffer_size == 0) opts.write_buffer_size = MT_MEMTABLE_DEFAULT_WRITE_BUFFER_SIZE;
  size_t bloom_bytes;
  unsigned bloom_probes;
  if (!bloom_geometry(&opts, &bloom_bytes, &bloom_probes)) return NULL;

  mt_arena *arena = mt_arena_create(&opts.arena);
  if (arena == NULL) return NULL;
  mt_memtable *table = mt_arena_allocate_aligned_to(arena, sizeof(*table), CACHE_LINE_BYTES);
  if (table == NULL) goto fail;
  atomic_init(&table->refs, 1);
  table->arena = arena;
  table->list = NULL;
  table->compare = opts.compare;
  table->compare_ctx = opts.compare_ctx;
  table->allocator = mt_arena_allocator(arena);
  table->write_buffer_size = opts.write_buffer_size;
  table->checksum_bytes = cks;
  table->bloom_words = NULL;
  table->bloom_bits = 0;
  table->bloom_probes = 0;
  atomic_init(&table->entry_count, 0);
  atomic_init(&table->deletion_count, 0);

  if (bloom_bytes != 0) {
    table->bloom_words = mt_arena_allocate_aligned_to(arena, bloom_bytes, CACHE_LINE_BYTES);
    if (table->bloom_words == NULL) goto fail;
    size_t words = bloom_bytes / sizeof(uint64_t);
    for (size_t i = 0; i < words; i++) atomic_init(&table->bloom_words[i], 0);
    table->bloom_bits = (uint64_t)words * 64;
    table->bloom_probes = bloom_probes;
  }

  mt_skiplist_options list_options = MT_SKIPLIST_OPTIONS_INIT;
  list_options.compare = opts.compare == NULL ? compare_entries_bytewise : compare_entries_custom;
  list_options.compare_ctx = table;
  list_options.seed = opts.seed;
  /* Checksums ask for corruption detection, which needs each entry's true size; without them the entry's
   * own lengths delimit it and the 4 bytes per entry are saved. */
  list_options.record_key_size = cks != 0;
  table->list = mt_skiplist_create(arena, &list_options);
  if (table->list == NULL) goto fail;
  return table;

fail:
  mt_arena_destroy(arena);
  return NULL;
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

mt_status mt_memtable_add(mt_memtable *table, uint64_t seq, mt_entry_type type, const void *key, size_t key_len,
                          const void *value, size_t value_len) {
  if (table == NULL || seq > MT_MAX_SEQUENCE || (type != MT_TYPE_DELETION && type != MT_TYPE_VALUE)) {
    return MT_INVALID_ARGUMENT;
  }
  if ((key == NULL && key_len != 0) || (value == NULL && value_len != 0)) return MT_INVALID_ARGUMENT;
  size_t entry_len = entry_encoded_size(key_len, value_len);
  /* Node sizes are limited to 32 bits (the skiplist records them so with checksums), checksum included. */
  if (entry_len == 0 || entry_len > UINT32_MAX - table->checksum_bytes) return MT_INVALID_ARGUMENT;

  char *stored;
  mt_status status = mt_skiplist_allocate_key(table->list, entry_len + table->checksum_bytes, &stored);
  if (status != MT_OK) return status;
  char *end = entry_encode_unchecked(stored, seq, type, key, key_len, value, value_len);
  assert((size_t)(end - stored) == entry_len);
  if (table->checksum_bytes != 0) encode_low_bytes(end, XXH3_64bits(stored, entry_len), table->checksum_bytes);
  /* Before the insert publishes the entry (see bloom_add). If the insert then fails (an exact duplicate)
   * the bits stay set: that only adds false positives, never a false negative. */
  if (table->bloom_words != NULL) bloom_add(table, user_key_hash(key, key_len));

  status = mt_skiplist_insert_allocated(table->list, stored);
  if (status != MT_OK) return status;
  /* Relaxed: statistics; they publish nothing (readers find entries through the skiplist). */
  atomic_fetch_add_explicit(&table->entry_count, 1, memory_order_relaxed);
  if (type == MT_TYPE_DELETION) atomic_fetch_add_explicit(&table->deletion_count, 1, memory_order_relaxed);
  return MT_OK;
}

mt_status mt_memtable_get(const mt_memtable *table, const void *key, size_t key_len, uint64_t snapshot_seq,
                          mt_slice *value) {
  if (table == NULL || (key == NULL && key_len != 0) || key_len > MT_MAX_KEY_LEN) return MT_INVALID_ARGUMENT;
  if (snapshot_seq > MT_MAX_SEQUENCE) snapshot_seq = MT_MAX_SEQUENCE;
  if (table->bloom_words != NULL && !bloom_may_contain(table, user_key_hash(key, key_len))) return MT_NOT_FOUND;

  entry_cursor cursor;
  mt_skiplist_iter_init(&cursor.position, table->list);
  mt_slice target = {key, key_len};
  /* The first entry at or after (key, snapshot): the key's newest visible version if it has one. */
  mt_status status = cursor_seek(table, &cursor, target, snapshot_seq, MT_TYPE_VALUE);
  if (status != MT_OK) return status;
  const mt_entry *entry = &cursor.entry;
  if (!user_keys_equal(table, entry->user_key.data, entry->user_key.len, key, key_len)) return MT_NOT_FOUND;
  /* The seek lands at or after (key, snapshot): a newer entry of the same key here means broken order. */
  if (entry->seq > snapshot_seq) return MT_CORRUPTION;
  if (entry->type == MT_TYPE_DELETION) return MT_DELETED;
  if (value != NULL) *value = entry->value;
  return MT_OK;
}

size_t mt_memtable_approximate_memory_usage(const mt_memtable *table) {
  return table == NULL ? 0 : mt_arena_memory_usage(table->arena);
}

uint64_t mt_memtable_entry_count(const mt_memtable *table) {
  /* Relaxed: a statistic (see mt_memtable_add). */
  return table == NULL ? 0 : atomic_load_explicit(&table->entry_count, memory_order_relaxed);
}

uint64_t mt_memtable_deletion_count(const mt_memtable *table) {
  /* Relaxed: a statistic (see mt_memtable_add). */
  return table == NULL ? 0 : atomic_load_explicit(&table->deletion_count, memory_order_relaxed);
}

bool mt_memtable_should_flush(const mt_memtable *table) {
  return table != NULL && mt_memtable_approximate_memory_usage(table) >= table->write_buffer_size;
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
  if (!entry_decode_bounded(stored, entry_len, &entry, &consumed)) return false;
  return table->checksum_bytes == 0 || checksum_matches(table, stored, entry_len);
}

mt_status mt_memtable_validate(const mt_memtable *table) {
  if (table == NULL) return MT_INVALID_ARGUMENT;
  mt_status status = mt_skiplist_validate(table->list, stored_entry_in_arena, (void *)table);
  if (status != MT_OK) return MT_CORRUPTION;
  entry_cursor cursor;
  mt_skiplist_iter_init(&cursor.position, table->list);
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
  return MT_OK;
}

struct mt_memtable_iter {
  mt_memtable *table;
  entry_cursor cursor;
  bool valid;
  mt_status status;
};

static void *table_alloc(mt_memtable *table, size_t size) { return table->allocator.alloc(table->allocator.ctx, size); }

mt_memtable_iter *mt_memtable_iter_create(mt_memtable *table) {
  if (table == NULL) return NULL;
  mt_memtable_iter *iter = table_alloc(table, sizeof(*iter));
  if (iter == NULL) return NULL;
  mt_memtable_ref(table);
  iter->table = table;
  mt_skiplist_iter_init(&iter->cursor.position, table->list);
  iter->valid = false;
  iter->status = MT_OK;
  return iter;
}

void mt_memtable_iter_destroy(mt_memtable_iter *iter) {
  if (iter == NULL) return;
  mt_memtable *table = iter->table;
  table->allocator.free(table->allocator.ctx, iter, sizeof(*iter));
  mt_memtable_unref(table);
}

bool mt_memtable_iter_valid(const mt_memtable_iter *iter) { return iter != NULL && iter->valid; }

/* The functions below test validity inline rather than call mt_memtable_iter_valid: an exported function
 * may be interposed in a shared build, so the compiler would not inline the call. */
static inline bool iter_is_valid(const mt_memtable_iter *iter) { return iter != NULL && iter->valid; }

static inline void iter_record_load(mt_memtable_iter *iter, mt_status load_status) {
  iter->valid = load_status == MT_OK;
  if (load_status == MT_CORRUPTION) iter->status = MT_CORRUPTION;
}

/* Out of line for the same reason as cursor_load_checked. */
static NOINLINE void iter_settle_checked(mt_memtable_iter *iter) {
  iter_record_load(iter, cursor_load_checked(iter->table, &iter->cursor));
}

/* Decodes where the skiplist iterator now stands; a bad entry ends the iteration with MT_CORRUPTION. */
static inline void iter_settle(mt_memtable_iter *iter) {
  if (iter->table->checksum_bytes == 0) {
    iter_record_load(iter, cursor_load_self_delimited(&iter->cursor));
  } else {
    iter_settle_checked(iter);
  }
}

void mt_memtable_iter_seek_to_first(mt_memtable_iter *iter) {
  if (iter == NULL) return;
  iter->status = MT_OK;
  mt_skiplist_iter_seek_to_first(&iter->cursor.position);
  iter_settle(iter);
}

void mt_memtable_iter_seek_to_last(mt_memtable_iter *iter) {
  if (iter == NULL) return;
  iter->status = MT_OK;
  mt_skiplist_iter_seek_to_last(&iter->cursor.position);
  iter_settle(iter);
}

static void iter_seek(mt_memtable_iter *iter, const void *key, size_t key_len, uint64_t snapshot_seq, bool for_prev) {
  if (iter == NULL) return;
  iter->valid = false;
  lookup_key lookup;
  /* LevelDB's lookup keys: type 1 sorts first among entries with this (key, seq), type 0 last. The comparator
   * ignores the type ((key, seq) is unique), so either way an entry at exactly (key, snapshot) is included. */
  iter->status =
      lookup_key_build(iter->table, &lookup, key, key_len, snapshot_seq, for_prev ? MT_TYPE_DELETION : MT_TYPE_VALUE);
  if (iter->status != MT_OK) return;
  if (for_prev) {
    mt_skiplist_iter_seek_for_prev(&iter->cursor.position, lookup.data);
  } else {
    mt_skiplist_iter_seek(&iter->cursor.position, lookup.data);
  }
  lookup_key_release(iter->table, &lookup);
  iter_settle(iter);
}

void mt_memtable_iter_seek(mt_memtable_iter *iter, const void *key, size_t key_len, uint64_t snapshot_seq) {
  iter_seek(iter, key, key_len, snapshot_seq, false);
}

void mt_memtable_iter_seek_for_prev(mt_memtable_iter *iter, const void *key, size_t key_len, uint64_t snapshot_seq) {
  iter_seek(iter, key, key_len, snapshot_seq, true);
}

void mt_memtable_iter_next(mt_memtable_iter *iter) {
  if (!iter_is_valid(iter)) return;
  skiplist_iter_next_inline(&iter->cursor.position);
  iter_settle(iter);
}

void mt_memtable_iter_prev(mt_memtable_iter *iter) {
  if (!iter_is_valid(iter)) return;
  mt_skiplist_iter_prev(&iter->cursor.position);
  iter_settle(iter);
}

static const mt_slice empty_slice = {"", 0};

mt_slice mt_memtable_iter_user_key(const mt_memtable_iter *iter) {
  return iter_is_valid(iter) ? iter->cursor.entry.user_key : empty_slice;
}

uint64_t mt_memtable_iter_seq(const mt_memtable_iter *iter) {
  return iter_is_valid(iter) ? iter->cursor.entry.seq : 0;
}

mt_entry_type mt_memtable_iter_type(const mt_memtable_iter *iter) {
  return iter_is_valid(iter) ? iter->cursor.entry.type : MT_TYPE_DELETION;
}

mt_slice mt_memtable_iter_value(const mt_memtable_iter *iter) {
  return iter_is_valid(iter) ? iter->cursor.entry.value : empty_slice;
}

mt_slice mt_memtable_iter_entry(const mt_memtable_iter *iter) {
  if (!iter_is_valid(iter)) return empty_slice;
  mt_slice raw = {skiplist_iter_key_inline(&iter->cursor.position), iter->cursor.entry_len};
  return raw;
}

mt_status mt_memtable_iter_status(const mt_memtable_iter *iter) {
  return iter == NULL ? MT_INVALID_ARGUMENT : iter->status;
}

struct mt_memtable_user_iter {
  mt_memtable *table;
  uint64_t snapshot_seq;
  entry_cursor cursor; /* when valid: the newest visible entry of the current user key */
  bool valid;
  mt_status status;
};

mt_memtable_user_iter *mt_memtable_user_iter_create(mt_memtable *table, uint64_t snapshot_seq) {
  if (table == NULL) return NULL;
  mt_memtable_user_iter *iter = table_alloc(table, sizeof(*iter));
  if (iter == NULL) return NULL;
  mt_memtable_ref(table);
  iter->table = table;
  iter->snapshot_seq = snapshot_seq > MT_MAX_SEQUENCE ? MT_MAX_SEQUENCE : snapshot_seq;
  mt_skiplist_iter_init(&iter->cursor.position, table->list);
  iter->valid = false;
  iter->status = MT_OK;
  return iter;
}

void mt_memtable_user_iter_destroy(mt_memtable_user_iter *iter) {
  if (iter == NULL) return;
  mt_memtable *table = iter->table;
  table->allocator.free(table->allocator.ctx, iter, sizeof(*iter));
  mt_memtable_unref(table);
}

bool mt_memtable_user_iter_valid(const mt_memtable_user_iter *iter) { return iter != NULL && iter->valid; }

/* As iter_is_valid. */
static inline bool user_iter_is_valid(const mt_memtable_user_iter *iter) { return iter != NULL && iter->valid; }

static void user_iter_stop(mt_memtable_user_iter *iter, mt_status load_status) {
  iter->valid = false;
  if (load_status == MT_CORRUPTION) iter->status = MT_CORRUPTION;
}

/* Moving forward from a key's first entry (or its first version visible at the snapshot), the first visible
 * version met is the key's newest visible one. */
static void user_iter_find_forward(mt_memtable_user_iter *iter, mt_status load_status) {
  entry_cursor *cursor = &iter->cursor;
  while (load_status == MT_OK) {
    if (cursor->entry.seq > iter->snapshot_seq) {
      load_status = cursor_forward_to_visible(iter->table, cursor, iter->snapshot_seq);
    } else if (cursor->entry.type == MT_TYPE_VALUE) {
      iter->valid = true;
      return;
    } else {
      load_status = cursor_forward_past_user_key(iter->table, cursor);
    }
  }
  user_iter_stop(iter, load_status);
}

/* Moving backward from a key's last entry, the visible version closest to the front is the newest visible
 * one: a few versions are stepped over, remembering the last visible one met; past that, one seek finds
 * it and another passes the key. */
static void user_iter_find_backward(mt_memtable_user_iter *iter, mt_status load_status) {
  const mt_memtable *table = iter->table;
  entry_cursor *cursor = &iter->cursor;
  while (load_status == MT_OK) {
    mt_slice user_key = cursor->entry.user_key;
    entry_cursor newest_visible = *cursor;
    bool found = false;
    for (int steps = 1;; steps++) {
      if (cursor->entry.seq <= iter->snapshot_seq) {
        newest_visible = *cursor;
        found = true;
      }
      load_status = cursor_step(table, cursor, false);
      if (load_status != MT_OK || !cursor_at_user_key(table, cursor, user_key)) break;
      if (steps == STEPS_BEFORE_SEEK) {
        entry_cursor probe = *cursor;
        mt_status status = cursor_seek(table, &probe, user_key, iter->snapshot_seq, MT_TYPE_VALUE);
        if (status == MT_CORRUPTION) {
          load_status = status;
          break;
        }
        if (status == MT_OK && cursor_at_user_key(table, &probe, user_key)) {
          newest_visible = probe;
          found = true;
        }
        if (status != MT_NOMEM) {
          load_status = cursor_back_past_user_key(table, cursor, steps);
          break;
        }
      }
    }
    if (load_status == MT_CORRUPTION) break;
    if (found && newest_visible.entry.type == MT_TYPE_VALUE) {
      *cursor = newest_visible;
      iter->valid = true;
      return;
    }
  }
  user_iter_stop(iter, load_status);
}

void mt_memtable_user_iter_seek_to_first(mt_memtable_user_iter *iter) {
  if (iter == NULL) return;
  iter->status = MT_OK;
  iter->valid = false;
  mt_skiplist_iter_seek_to_first(&iter->cursor.position);
  user_iter_find_forward(iter, cursor_load(iter->table, &iter->cursor));
}

void mt_memtable_user_iter_seek_to_last(mt_memtable_user_iter *iter) {
  if (iter == NULL) return;
  iter->status = MT_OK;
  iter->valid = false;
  mt_skiplist_iter_seek_to_last(&iter->cursor.position);
  user_iter_find_backward(iter, cursor_load(iter->table, &iter->cursor));
}

void mt_memtable_user_iter_seek(mt_memtable_user_iter *iter, const void *key, size_t key_len) {
  if (iter == NULL) return;
  iter->valid = false;
  lookup_key lookup;
  /* (key, snapshot) sorts just before the key's newest visible version. */
  iter->status = lookup_key_build(iter->table, &lookup, key, key_len, iter->snapshot_seq, MT_TYPE_VALUE);
  if (iter->status != MT_OK) return;
  mt_skiplist_iter_seek(&iter->cursor.position, lookup.data);
  lookup_key_release(iter->table, &lookup);
  user_iter_find_forward(iter, cursor_load(iter->table, &iter->cursor));
}

void mt_memtable_user_iter_seek_for_prev(mt_memtable_user_iter *iter, const void *key, size_t key_len) {
  if (iter == NULL) return;
  iter->valid = false;
  lookup_key lookup;
  /* (key, 0, deletion) sorts at or after every version of the key: land on its oldest entry. */
  iter->status = lookup_key_build(iter->table, &lookup, key, key_len, 0, MT_TYPE_DELETION);
  if (iter->status != MT_OK) return;
  mt_skiplist_iter_seek_for_prev(&iter->cursor.position, lookup.data);
  lookup_key_release(iter->table, &lookup);
  user_iter_find_backward(iter, cursor_load(iter->table, &iter->cursor));
}

void mt_memtable_user_iter_next(mt_memtable_user_iter *iter) {
  if (!user_iter_is_valid(iter)) return;
  iter->valid = false;
  entry_cursor *cursor = &iter->cursor;
  user_iter_find_forward(iter, cursor_forward_past_user_key(iter->table, cursor));
}

void mt_memtable_user_iter_prev(mt_memtable_user_iter *iter) {
  if (!user_iter_is_valid(iter)) return;
  iter->valid = false;
  entry_cursor *cursor = &iter->cursor;
  user_iter_find_backward(iter, cursor_back_past_user_key(iter->table, cursor, 0));
}

mt_slice mt_memtable_user_iter_key(const mt_memtable_user_iter *iter) {
  return user_iter_is_valid(iter) ? iter->cursor.entry.user_key : empty_slice;
}

mt_slice mt_memtable_user_iter_value(const mt_memtable_user_iter *iter) {
  return user_iter_is_valid(iter) ? iter->cursor.entry.value : empty_slice;
}

uint64_t mt_memtable_user_iter_seq(const mt_memtable_user_iter *iter) {
  return user_iter_is_valid(iter) ? iter->cursor.entry.seq : 0;
}

mt_status mt_memtable_user_iter_status(const mt_memtable_user_iter *iter) {
  return iter == NULL ? MT_INVALID_ARGUMENT : iter->status;
}
