/* tests/support/u64_list.h - the skiplist suites' keys: 8-byte integers stored in native byte order, a list
 * ordered by them, and insert/contains/seek/read by value. Header-only; include support/test_util.h first. */
#ifndef MEMTABLE_SUPPORT_U64_LIST_H
#define MEMTABLE_SUPPORT_U64_LIST_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <memtable/arena.h>
#include <memtable/skiplist.h>

static inline uint64_t decode_u64(const char *key) {
  uint64_t value;
  memcpy(&value, key, sizeof(value));
  return value;
}

static inline int compare_u64(void *ctx, const char *a, const char *b) {
  (void)ctx;
  uint64_t x = decode_u64(a), y = decode_u64(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

static inline mt_skiplist *create_u64_list(mt_arena *arena) {
  mt_skiplist_options options = MT_SKIPLIST_OPTIONS_INIT;
  options.compare = compare_u64;
  return mt_skiplist_create(arena, &options);
}

static inline mt_status insert_u64(mt_skiplist *list, uint64_t key) {
  return mt_skiplist_insert(list, &key, sizeof(key));
}

static inline bool contains_u64(const mt_skiplist *list, uint64_t key) {
  char bytes[sizeof(key)];
  memcpy(bytes, &key, sizeof(key));
  return mt_skiplist_contains(list, bytes);
}

static inline void seek_u64(mt_skiplist_iter *iter, uint64_t target) {
  char bytes[sizeof(target)];
  memcpy(bytes, &target, sizeof(target));
  mt_skiplist_iter_seek(iter, bytes);
}

static inline void seek_for_prev_u64(mt_skiplist_iter *iter, uint64_t target) {
  char bytes[sizeof(target)];
  memcpy(bytes, &target, sizeof(target));
  mt_skiplist_iter_seek_for_prev(iter, bytes);
}

static inline uint64_t iter_u64(const mt_skiplist_iter *iter) { return decode_u64(mt_skiplist_iter_key(iter)); }

#endif
