/* memtable/entry_format.h - private to the memtable layer: how a table's entries are stored in its skiplist,
 * and the small read-only view of a table that reading them needs (the cursor, the point index and the
 * comparators take this view, never the table).
 *
 * A node's key is the encoded entry itself (coding.h), followed by checksum_bytes of its XXH3 hash when the
 * table has checksums; the skiplist then also records the node's size, which bounds every decode of it
 * (comparisons included), and the entry must fill it exactly. Without checksums an entry is read by its own
 * lengths.
 */
#ifndef MEMTABLE_ENTRY_FORMAT_H
#define MEMTABLE_ENTRY_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <memtable/memtable.h>
#include <memtable/skiplist.h>

#include <xxhash.h>

#include "memtable/coding.h"
#include "memtable/skiplist/skiplist_inline.h"

#define MEMTABLE_CACHE_LINE_BYTES 64

#if defined(__GNUC__) || defined(__clang__)
#define MEMTABLE_NOINLINE __attribute__((noinline))
#else
#define MEMTABLE_NOINLINE
#endif

/* A table as its readers see it: set at create, never changed after. */
typedef struct mti_view {
  const mt_skiplist *list;
  mt_compare_fn compare; /* NULL: bytewise */
  void *compare_ctx;
  unsigned checksum_bytes;               /* 0, 1, 2, 4 or 8 */
  mt_allocator reader_allocator;         /* iterators and long lookup keys, from any thread; both hooks set */
  unsigned scan_readahead_segments;      /* 0: iterators walk plainly */
  unsigned scan_readahead_segment_nodes; /* >= 1 */
} mti_view;

/* The hash of a user key the bloom filter and the point index use. NULL is a valid empty key; the hash is
 * not handed a NULL pointer. */
static inline uint64_t user_key_hash(const void *key, size_t key_len) {
  return XXH3_64bits(key_len != 0 ? key : "", key_len);
}

static inline bool user_keys_equal(const mti_view *view, const char *a, size_t a_len, const char *b, size_t b_len) {
  if (view->compare == NULL) return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
  return view->compare(view->compare_ctx, a, a_len, b, b_len) == 0;
}

/* Decodes the stored key [stored, stored + stored_size): the entry must fill it exactly (up to the checksum
 * bytes) and match its checksum. Nothing outside the range is read, whatever the bytes say. */
bool mti_entry_decode_checked(const mti_view *view, const char *stored, size_t stored_size, mt_entry *entry,
                              size_t *entry_len);

/* Decodes the entry a node of the list holds: checked (inside the recorded size) with checksums, else by its
 * own lengths. False for bad bytes (with checksums: anything that fails them; without: a bad type or internal
 * length). */
static inline bool mti_entry_load(const mti_view *view, const char *stored, mt_entry *entry, size_t *entry_len) {
  if (view->checksum_bytes == 0) return entry_decode_self_delimited(stored, entry, entry_len);
  return mti_entry_decode_checked(view, stored, skiplist_recorded_key_size(stored), entry, entry_len);
}

/* The skiplist comparator of the table's entries (ctx: the view): internal-key order (user key by the table's
 * comparator, then newer first), reading stored entries inside their recorded size when the table has
 * checksums. */
mt_skiplist_compare_fn mti_entry_comparator(const mti_view *view);

/* The comparator of two stored entries for tables with checksums (the scan walker searches by its nodes' own
 * keys): both read only inside their recorded sizes. ctx: the view. */
int mti_entry_compare_stored_checked(void *ctx, const char *a, const char *b);

/* The skiplist's same_group for version links: two entries of one user key. ctx: the view. */
bool mti_entry_same_user_key(void *ctx, const char *stored, const char *key);

#endif
