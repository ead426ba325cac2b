/* memtable/memtable.h - a LevelDB-compatible write buffer.
 *
 * Threading: mt_memtable_add requires external synchronization (one writer at a time). Gets and iterators
 * need no lock and may run while the writer adds; they require only that the caller holds a reference.
 * mt_memtable_ref / mt_memtable_unref may be called from any thread.
 *
 * Each entry is written once into arena memory in LevelDB's MemTable format:
 *
 *   varint32(key_len + 8) | user key | fixed64le(seq << 8 | type) | varint32(value_len) | value
 *
 * optionally followed by 1, 2, 4 or 8 bytes of checksum (the low bytes of XXH3-64 of the entry). Beside
 * the entry a node holds only its skiplist links, plus, with checksums, its 4-byte size. Entries
 * are ordered as LevelDB's internal keys: user key ascending by the comparator, then sequence number
 * descending, then type descending. Nothing is freed entry by entry: the last unref frees the whole
 * table with one arena teardown.
 */
#ifndef MEMTABLE_MEMTABLE_H
#define MEMTABLE_MEMTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <memtable/arena.h>
#include <memtable/export.h>
#include <memtable/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_memtable mt_memtable;

/* A byte string the library hands out (it never owns caller memory). */
typedef struct mt_slice {
  const char *data;
  size_t len;
} mt_slice;

typedef enum mt_entry_type {
  MT_TYPE_DELETION = 0,
  MT_TYPE_VALUE = 1
} mt_entry_type;

/* Largest sequence number: seq << 8 | type must fit 64 bits. */
#define MT_MAX_SEQUENCE ((UINT64_C(1) << 56) - 1)
/* Largest user key: key_len + 8 must fit a varint32. */
#define MT_MAX_KEY_LEN ((size_t)UINT32_MAX - 8)
/* Largest value: value_len must fit a varint32. */
#define MT_MAX_VALUE_LEN ((size_t)UINT32_MAX)

/* User-key order: negative, zero or positive as a sorts before, equal to, or after b. Must be a total
 * order and thread-safe (readers call it concurrently). */
typedef int (*mt_compare_fn)(void *ctx, const char *a, size_t a_len, const char *b, size_t b_len);

typedef struct mt_memtable_options {
  /* User-key comparator; NULL (default) is bytewise: memcmp, then the shorter key first. */
  mt_compare_fn compare;
  void *compare_ctx;
  /* The table's arena: block size (default here 64 KiB; 0 also means 64 KiB), optional hard capacity
   * (MT_FULL beyond it) and optional allocator hooks. The hooks also allocate iterators and the lookup keys
   * of keys longer than about 240 bytes, from whichever thread creates or seeks them: with concurrent
   * readers they must be thread-safe. */
  mt_arena_options arena;
  /* mt_memtable_should_flush turns true once memory usage reaches this many bytes; default (and 0) 4 MiB. */
  size_t write_buffer_size;
  /* Bloom filter over user keys consulted by get before the skiplist: bits per key, 0 (default) = off.
   * Sized for bloom_expected_entries keys (0: write_buffer_size / 64). The filter hashes the key's bytes, so
   * it is only used when comparator-equal keys are byte-equal (true of the bytewise default); with a
   * custom comparator set, it is ignored unless bloom_bytewise_equal_keys is true. */
  unsigned bloom_bits_per_key;
  size_t bloom_expected_entries;
  bool bloom_bytewise_equal_keys;
  /* Per-entry checksum bytes: 0 (default), 1, 2, 4 or 8: corruption detection. Each entry then costs
   * checksum_bytes + 4 bytes more (the 4 record its stored size), and get, iterators and validate check
   * every entry they read against its size (decoding never reads outside it; the entry must fill it
   * exactly) and its checksum, answering MT_CORRUPTION on a mismatch.
   * Without checksums nothing is stored beside the entry: it is read by its own length prefixes, and
   * corruption detection is not promised (damaged lengths can make a read leave the entry; only an
   * unknown type or an internal key shorter than 8 bytes is refused). validate still checks, through the
   * arena's bounds, that every entry it walks lies in the table's memory. */
  unsigned checksum_bytes;
  /* Seeds the skiplist's height generator (reproducible layouts). */
  uint64_t seed;
} mt_memtable_options;

#define MT_MEMTABLE_DEFAULT_BLOCK_SIZE ((size_t)64 * 1024)
#define MT_MEMTABLE_DEFAULT_WRITE_BUFFER_SIZE ((size_t)4 * 1024 * 1024)
#define MT_MEMTABLE_OPTIONS_INIT                                                                 \
  {NULL, NULL, {MT_MEMTABLE_DEFAULT_BLOCK_SIZE, 0, {NULL, NULL, NULL}},                          \
   MT_MEMTABLE_DEFAULT_WRITE_BUFFER_SIZE, 0, 0, false, 0, 0xdeadbeefu}

MT_API void mt_memtable_options_init(mt_memtable_options *options);

/* Creates an empty table holding one reference (the caller's). options NULL means the defaults.
 * Returns NULL when the options are invalid (checksum_bytes not 0/1/2/4/8, bad arena options) or memory
 * (or capacity) does not suffice for the table's header and filter. */
MT_API mt_memtable *mt_memtable_create(const mt_memtable_options *options);

/* Takes one more reference. Any thread. */
MT_API void mt_memtable_ref(mt_memtable *table);
/* Drops one reference; the last frees the table and every entry at once. NULL is ignored. Any thread. */
MT_API void mt_memtable_unref(mt_memtable *table);

/* Adds one entry. type is MT_TYPE_VALUE or MT_TYPE_DELETION (a deletion's value is usually empty, but
 * any value is stored). Returns:
 *   MT_OK; MT_EXISTS if an entry with the same user key and seq is already stored;
 *   MT_INVALID_ARGUMENT for a NULL table, seq > MT_MAX_SEQUENCE, an unknown type, key_len > MT_MAX_KEY_LEN,
 *   value_len > MT_MAX_VALUE_LEN, an encoded entry (with checksum) above 4 GiB - 1, or NULL key/value with a
 *   non-zero length;
 *   MT_FULL (arena capacity) or MT_NOMEM (allocator).
 * On any status but MT_OK nothing visible changed and the table stays valid and readable.
 * The bytes are copied; the caller keeps ownership of key and value. Writer only. */
MT_API mt_status mt_memtable_add(mt_memtable *table, uint64_t seq, mt_entry_type type, const void *key,
                                 size_t key_len, const void *value, size_t value_len);

/* Looks up the newest entry for the user key with seq <= snapshot_seq (snapshot_seq above
 * MT_MAX_SEQUENCE reads everything). Returns MT_OK and sets *value to the stored value (zero-copy: valid
 * while the caller holds a reference), MT_DELETED if that entry is a deletion, MT_NOT_FOUND if there is
 * none, MT_CORRUPTION if the entry the search lands on fails its checks (value is not set),
 * MT_INVALID_ARGUMENT for NULL table, a NULL key with a non-zero length or key_len > MT_MAX_KEY_LEN,
 * MT_NOMEM if a key longer than about 240 bytes could not be copied into its lookup key. value may be
 * NULL. */
MT_API mt_status mt_memtable_get(const mt_memtable *table, const void *key, size_t key_len, uint64_t snapshot_seq,
                                 mt_slice *value);

/* Bytes of memory held (arena blocks, filter, bookkeeping). Any thread. */
MT_API size_t mt_memtable_approximate_memory_usage(const mt_memtable *table);
/* Entries added, and how many of them are deletions. Any thread (relaxed reads). */
MT_API uint64_t mt_memtable_entry_count(const mt_memtable *table);
MT_API uint64_t mt_memtable_deletion_count(const mt_memtable *table);
/* True once memory usage has reached write_buffer_size: time to flush and start a fresh table. */
MT_API bool mt_memtable_should_flush(const mt_memtable *table);

/* Walks the whole structure: order at every skiplist level, every link inside the arena, every entry
 * decodable within the arena (and, with checksums, exactly filling its recorded size and matching its
 * checksum), the entry and deletion counts. Returns MT_OK, or MT_CORRUPTION for the first fault
 * (MT_INVALID_ARGUMENT for NULL). Requires the writer to be quiescent. */
MT_API mt_status mt_memtable_validate(const mt_memtable *table);

/* The decoded view of one encoded entry. */
typedef struct mt_entry {
  mt_slice user_key;
  uint64_t seq;
  mt_entry_type type;
  mt_slice value;
} mt_entry;

/* Bytes mt_entry_encode writes for this key and value (without checksum); 0 if too long to encode. */
MT_API size_t mt_entry_encoded_size(size_t key_len, size_t value_len);
/* Writes the LevelDB encoding into buf (capacity buf_len); *written gets the size. MT_INVALID_ARGUMENT for
 * any argument add would reject or a buffer too small. */
MT_API mt_status mt_entry_encode(char *buf, size_t buf_len, uint64_t seq, mt_entry_type type, const void *key,
                                 size_t key_len, const void *value, size_t value_len, size_t *written);
/* Decodes one entry from untrusted bytes. On MT_OK *entry points into data and *consumed (if not NULL) is the
 * entry's length; MT_CORRUPTION when the bytes are truncated, a varint is malformed, the internal key is
 * shorter than 8 bytes or the type is unknown. Never reads outside [data, data + len). */
MT_API mt_status mt_entry_decode(const void *data, size_t len, mt_entry *entry, size_t *consumed);

/* An iterator over every entry in internal-key order. Holds a reference on the table until destroyed, so
 * the table may be unreferenced by everyone else (e.g. after a flush) while the iterator runs. Entries
 * added while iterating may or may not be seen; none is seen half-written. One iterator per thread. */
typedef struct mt_memtable_iter mt_memtable_iter;

/* NULL on allocation failure or NULL table. Starts not valid. */
MT_API mt_memtable_iter *mt_memtable_iter_create(mt_memtable *table);
/* Releases the iterator and its reference. NULL is ignored. */
MT_API void mt_memtable_iter_destroy(mt_memtable_iter *iter);
MT_API bool mt_memtable_iter_valid(const mt_memtable_iter *iter);
MT_API void mt_memtable_iter_seek_to_first(mt_memtable_iter *iter);
MT_API void mt_memtable_iter_seek_to_last(mt_memtable_iter *iter);
/* First entry at or after (key, snapshot_seq) in internal-key order: LevelDB's LookupKey seek, i.e. the
 * newest version of key visible at snapshot_seq if there is one, else the next entry. */
MT_API void mt_memtable_iter_seek(mt_memtable_iter *iter, const void *key, size_t key_len, uint64_t snapshot_seq);
/* Last entry at or before (key, snapshot_seq) in internal-key order. */
MT_API void mt_memtable_iter_seek_for_prev(mt_memtable_iter *iter, const void *key, size_t key_len,
                                           uint64_t snapshot_seq);
/* Require valid. */
MT_API void mt_memtable_iter_next(mt_memtable_iter *iter);
MT_API void mt_memtable_iter_prev(mt_memtable_iter *iter);
/* Accessors; require valid. Slices are valid while the iterator (or another reference) lives. */
MT_API mt_slice mt_memtable_iter_user_key(const mt_memtable_iter *iter);
MT_API uint64_t mt_memtable_iter_seq(const mt_memtable_iter *iter);
MT_API mt_entry_type mt_memtable_iter_type(const mt_memtable_iter *iter);
MT_API mt_slice mt_memtable_iter_value(const mt_memtable_iter *iter);
/* The raw LevelDB-encoded entry (without the checksum bytes). */
MT_API mt_slice mt_memtable_iter_entry(const mt_memtable_iter *iter);
/* MT_OK, or MT_CORRUPTION once the iterator met an entry that failed its checks (see checksum_bytes; it
 * then stops, not valid, rather than return damaged bytes). A seek that could not run leaves the iterator
 * not valid with MT_INVALID_ARGUMENT (NULL key with a non-zero length, key_len > MT_MAX_KEY_LEN) or
 * MT_NOMEM (a long key's lookup key). Each seek starts again from MT_OK. */
MT_API mt_status mt_memtable_iter_status(const mt_memtable_iter *iter);

/* The user view at a snapshot: each user key once, with its newest value whose seq <= snapshot_seq, skipping
 * keys whose newest visible entry is a deletion - what a flush or a range scan wants. Holds a reference. */
typedef struct mt_memtable_user_iter mt_memtable_user_iter;

/* NULL on allocation failure or NULL table. Starts not valid. */
MT_API mt_memtable_user_iter *mt_memtable_user_iter_create(mt_memtable *table, uint64_t snapshot_seq);
MT_API void mt_memtable_user_iter_destroy(mt_memtable_user_iter *iter);
MT_API bool mt_memtable_user_iter_valid(const mt_memtable_user_iter *iter);
MT_API void mt_memtable_user_iter_seek_to_first(mt_memtable_user_iter *iter);
MT_API void mt_memtable_user_iter_seek_to_last(mt_memtable_user_iter *iter);
/* First visible user key >= key. */
MT_API void mt_memtable_user_iter_seek(mt_memtable_user_iter *iter, const void *key, size_t key_len);
/* Last visible user key <= key. */
MT_API void mt_memtable_user_iter_seek_for_prev(mt_memtable_user_iter *iter, const void *key, size_t key_len);
MT_API void mt_memtable_user_iter_next(mt_memtable_user_iter *iter);
MT_API void mt_memtable_user_iter_prev(mt_memtable_user_iter *iter);
MT_API mt_slice mt_memtable_user_iter_key(const mt_memtable_user_iter *iter);
MT_API mt_slice mt_memtable_user_iter_value(const mt_memtable_user_iter *iter);
MT_API uint64_t mt_memtable_user_iter_seq(const mt_memtable_user_iter *iter);
/* As mt_memtable_iter_status. */
MT_API mt_status mt_memtable_user_iter_status(const mt_memtable_user_iter *iter);

#ifdef __cplusplus
}
#endif

#endif
