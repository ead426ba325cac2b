/* The entry format's comparators and checked decoding: see entry_format.h. */
#include "memtable/entry_format.h"

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
  const mti_view *view = ctx;
  size_t a_len, b_len;
  const char *a_key = user_key_of(stored, &a_len);
  const char *b_key = user_key_of(key, &b_len);
  int order = view->compare(view->compare_ctx, a_key, a_len, b_key, b_len);
  if (order != 0) return order;
  return compare_seq_descending(decode_fixed64(a_key + a_len), decode_fixed64(b_key + b_len));
}

/* A stored entry's internal key, read only inside its recorded size, whatever its length bytes say: a prefix
 * that does not fit reads as an empty user key with seq 0, an internal key running past the entry is cut at
 * its end. Sets *user_len and *tag; returns the user key. */
static inline const char *bounded_user_key(const mti_view *view, const char *stored, size_t *user_len, uint64_t *tag) {
  size_t stored_size = skiplist_recorded_key_size(stored);
  size_t bound = stored_size > view->checksum_bytes ? stored_size - view->checksum_bytes : 0;
  uint32_t internal_len = 0;
  const char *key =
      decode_varint32(stored, stored + (bound < VARINT32_MAX_BYTES ? bound : VARINT32_MAX_BYTES), &internal_len);
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

static inline int compare_user_keys(const mti_view *view, const char *a, size_t a_len, const char *b, size_t b_len,
                                    bool bytewise) {
  return bytewise ? compare_bytewise(a, a_len, b, b_len) : view->compare(view->compare_ctx, a, a_len, b, b_len);
}

/* The comparator of tables with checksums. `key` (a lookup key or the entry being inserted) is trusted;
 * `stored` is read only inside its recorded size (bounded_user_key). An entry whose length bytes are damaged
 * then sorts in the wrong place, and the searches' neighbour checks (cursor.c) report it. */
static inline int compare_entries_checked(const mti_view *view, const char *stored, const char *key, bool bytewise) {
  size_t a_len, b_len;
  uint64_t a_tag;
  const char *a_key = bounded_user_key(view, stored, &a_len, &a_tag);
  const char *b_key = user_key_of(key, &b_len);
  int order = compare_user_keys(view, a_key, a_len, b_key, b_len, bytewise);
  if (order != 0) return order;
  return compare_seq_descending(a_tag, decode_fixed64(b_key + b_len));
}

int mti_entry_compare_stored_checked(void *ctx, const char *a, const char *b) {
  const mti_view *view = ctx;
  size_t a_len, b_len;
  uint64_t a_tag, b_tag;
  const char *a_key = bounded_user_key(view, a, &a_len, &a_tag);
  const char *b_key = bounded_user_key(view, b, &b_len, &b_tag);
  int order = compare_user_keys(view, a_key, a_len, b_key, b_len, view->compare == NULL);
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
bool mti_entry_same_user_key(void *ctx, const char *stored, const char *key) {
  const mti_view *view = ctx;
  size_t a_len, b_len;
  uint64_t a_tag;
  const char *a_key =
      view->checksum_bytes != 0 ? bounded_user_key(view, stored, &a_len, &a_tag) : user_key_of(stored, &a_len);
  const char *b_key = user_key_of(key, &b_len);
  return compare_user_keys(view, a_key, a_len, b_key, b_len, view->compare == NULL) == 0;
}

static inline uint64_t checksum_mask(unsigned bytes) {
  return bytes >= 8 ? UINT64_MAX : (UINT64_C(1) << (8 * bytes)) - 1;
}

bool mti_entry_decode_checked(const mti_view *view, const char *stored, size_t stored_size, mt_entry *entry,
                              size_t *entry_len) {
  if (stored_size < view->checksum_bytes) return false;
  size_t expected_len = stored_size - view->checksum_bytes;
  size_t consumed;
  if (!entry_decode_bounded(stored, expected_len, entry, &consumed) || consumed != expected_len) return false;
  if (view->checksum_bytes != 0) {
    uint64_t expected = XXH3_64bits(stored, expected_len) & checksum_mask(view->checksum_bytes);
    if (decode_low_bytes(stored + expected_len, view->checksum_bytes) != expected) return false;
  }
  *entry_len = expected_len;
  return true;
}

mt_skiplist_compare_fn mti_entry_comparator(const mti_view *view) {
  if (view->checksum_bytes != 0) {
    return view->compare == NULL ? compare_entries_checked_bytewise : compare_entries_checked_custom;
  }
  return view->compare == NULL ? compare_entries_bytewise : compare_entries_custom;
}
