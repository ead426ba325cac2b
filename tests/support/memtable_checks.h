/* tests/support/memtable_checks.h - the cmocka assertions the memtable suites share: creating a table,
 * adding by C string, and asserting what get and the iterators show. Include support/test_util.h first. */
#ifndef MEMTABLE_SUPPORT_MEMTABLE_CHECKS_H
#define MEMTABLE_SUPPORT_MEMTABLE_CHECKS_H

#include <inttypes.h>
#include <string.h>

#include <memtable/memtable.h>

static inline mt_memtable *new_table(const mt_memtable_options *options) {
  mt_memtable *table = mt_memtable_create(options);
  assert_non_null(table);
  return table;
}

static inline void put(mt_memtable *table, uint64_t seq, const char *key, const char *value) {
  assert_int_equal(mt_memtable_add(table, seq, MT_TYPE_VALUE, key, strlen(key), value, strlen(value)), MT_OK);
}

static inline void del(mt_memtable *table, uint64_t seq, const char *key) {
  assert_int_equal(mt_memtable_add(table, seq, MT_TYPE_DELETION, key, strlen(key), NULL, 0), MT_OK);
}

static inline void assert_slice(mt_slice slice, const void *data, size_t len) {
  assert_int_equal(slice.len, len);
  if (len != 0) assert_memory_equal(slice.data, data, len);
}

static inline void assert_slice_str(mt_slice slice, const char *text) { assert_slice(slice, text, strlen(text)); }

static inline void assert_get(const mt_memtable *table, const char *key, uint64_t snapshot, mt_status expected,
                              const char *expected_value) {
  mt_slice value = {NULL, 0};
  mt_status status = mt_memtable_get(table, key, strlen(key), snapshot, &value);
  if (status != expected) {
    print_error("get(%s, %" PRIu64 ") = %s, expected %s\n", key, snapshot, mt_status_str(status),
                mt_status_str(expected));
  }
  assert_int_equal(status, expected);
  if (expected == MT_OK) assert_slice_str(value, expected_value);
}

static inline void assert_iter_at(const mt_memtable_iter *iter, const char *key, uint64_t seq, mt_entry_type type,
                                  const char *value) {
  assert_true(mt_memtable_iter_valid(iter));
  assert_slice_str(mt_memtable_iter_user_key(iter), key);
  assert_int_equal(mt_memtable_iter_seq(iter), seq);
  assert_int_equal(mt_memtable_iter_type(iter), type);
  assert_slice_str(mt_memtable_iter_value(iter), value);
}

static inline void assert_user_iter_at(const mt_memtable_user_iter *iter, const char *key, const char *value) {
  assert_true(mt_memtable_user_iter_valid(iter));
  assert_slice_str(mt_memtable_user_iter_key(iter), key);
  assert_slice_str(mt_memtable_user_iter_value(iter), value);
}

#endif
