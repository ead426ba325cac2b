/* memtable_embedding_test: what a storage engine uses around add, get and iterate - creation that says why
 * it failed, freezing a table when its flush starts, its sequence range, the version a get found, and the
 * internal keys an SSTable builder stores. */
#include "support/test_util.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <memtable/arena.h>
#include <memtable/memtable.h>
#include <memtable/skiplist.h>

static void memtable_embedding_test_freeze_refuses_later_adds(void **state) {
  (void)state;
  mt_memtable *table = mt_memtable_create(NULL);
  assert_non_null(table);
  assert_false(mt_memtable_is_frozen(table));
  assert_int_equal(mt_memtable_add(table, 1, MT_TYPE_VALUE, "a", 1, "1", 1), MT_OK);
  size_t usage = mt_memtable_approximate_memory_usage(table);
  assert_int_equal(mt_memtable_freeze(table), MT_OK);
  assert_true(mt_memtable_is_frozen(table));
  assert_int_equal(mt_memtable_add(table, 2, MT_TYPE_VALUE, "b", 1, "2", 1), MT_FROZEN);
  assert_int_equal(mt_memtable_add(table, 3, MT_TYPE_DELETION, "a", 1, NULL, 0), MT_FROZEN);
  assert_string_equal(mt_status_str(MT_FROZEN), "MT_FROZEN");
  /* Nothing changed, and reads go on. */
  assert_int_equal(mt_memtable_entry_count(table), 1);
  assert_int_equal(mt_memtable_approximate_memory_usage(table), usage);
  mt_slice value;
  assert_int_equal(mt_memtable_get(table, "a", 1, UINT64_MAX, &value), MT_OK);
  assert_int_equal(mt_memtable_get(table, "b", 1, UINT64_MAX, &value), MT_NOT_FOUND);
  assert_int_equal(mt_memtable_freeze(table), MT_OK); /* idempotent */
  assert_int_equal(mt_memtable_freeze(NULL), MT_INVALID_ARGUMENT);
  assert_false(mt_memtable_is_frozen(NULL));
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
}

static void memtable_embedding_test_sequence_range(void **state) {
  (void)state;
  mt_memtable *table = mt_memtable_create(NULL);
  assert_non_null(table);
  uint64_t smallest = 77, largest = 77;
  assert_int_equal(mt_memtable_sequence_range(table, &smallest, &largest), MT_NOT_FOUND);
  assert_int_equal(smallest, 77);
  assert_int_equal(mt_memtable_add(table, 50, MT_TYPE_VALUE, "a", 1, "1", 1), MT_OK);
  assert_int_equal(mt_memtable_sequence_range(table, &smallest, &largest), MT_OK);
  assert_int_equal(smallest, 50);
  assert_int_equal(largest, 50);
  assert_int_equal(mt_memtable_add(table, 7, MT_TYPE_DELETION, "b", 1, NULL, 0), MT_OK);
  assert_int_equal(mt_memtable_add(table, MT_MAX_SEQUENCE, MT_TYPE_VALUE, "c", 1, "3", 1), MT_OK);
  assert_int_equal(mt_memtable_add(table, 20, MT_TYPE_VALUE, "d", 1, "4", 1), MT_OK);
  /* Refused adds do not count. */
  assert_int_equal(mt_memtable_add(table, 7, MT_TYPE_VALUE, "b", 1, "x", 1), MT_EXISTS);
  assert_int_equal(mt_memtable_add(table, MT_MAX_SEQUENCE + 1, MT_TYPE_VALUE, "e", 1, "x", 1), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_sequence_range(table, &smallest, &largest), MT_OK);
  assert_int_equal(smallest, 7);
  assert_int_equal(largest, MT_MAX_SEQUENCE);
  assert_int_equal(mt_memtable_sequence_range(NULL, &smallest, &largest), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_sequence_range(table, NULL, &largest), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_sequence_range(table, &smallest, NULL), MT_INVALID_ARGUMENT);
  mt_memtable_unref(table);
}

static void memtable_embedding_test_get_entry_reports_the_version_found(void **state) {
  (void)state;
  mt_memtable *table = mt_memtable_create(NULL);
  assert_non_null(table);
  assert_int_equal(mt_memtable_add(table, 3, MT_TYPE_VALUE, "k", 1, "three", 5), MT_OK);
  assert_int_equal(mt_memtable_add(table, 5, MT_TYPE_DELETION, "k", 1, NULL, 0), MT_OK);
  assert_int_equal(mt_memtable_add(table, 8, MT_TYPE_VALUE, "k", 1, "eight", 5), MT_OK);
  mt_entry found;
  assert_int_equal(mt_memtable_get_entry(table, "k", 1, 4, &found), MT_OK);
  assert_int_equal(found.seq, 3);
  assert_int_equal(found.type, MT_TYPE_VALUE);
  assert_int_equal(found.value.len, 5);
  assert_memory_equal(found.value.data, "three", 5);
  assert_int_equal(found.user_key.len, 1);
  assert_memory_equal(found.user_key.data, "k", 1);
  assert_int_equal(mt_memtable_get_entry(table, "k", 1, 7, &found), MT_DELETED);
  assert_int_equal(found.seq, 5);
  assert_int_equal(found.type, MT_TYPE_DELETION);
  assert_int_equal(mt_memtable_get_entry(table, "k", 1, UINT64_MAX, &found), MT_OK);
  assert_int_equal(found.seq, 8);
  /* Not found: the output is left alone. */
  found.seq = 12345;
  assert_int_equal(mt_memtable_get_entry(table, "k", 1, 2, &found), MT_NOT_FOUND);
  assert_int_equal(mt_memtable_get_entry(table, "j", 1, UINT64_MAX, &found), MT_NOT_FOUND);
  assert_int_equal(found.seq, 12345);
  assert_int_equal(mt_memtable_get_entry(table, "k", 1, UINT64_MAX, NULL), MT_OK);
  assert_int_equal(mt_memtable_get_entry(NULL, "k", 1, UINT64_MAX, &found), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_get_entry(table, NULL, 1, UINT64_MAX, &found), MT_INVALID_ARGUMENT);
  mt_memtable_unref(table);
}

static void memtable_embedding_test_iter_internal_key(void **state) {
  (void)state;
  mt_memtable *table = mt_memtable_create(NULL);
  assert_non_null(table);
  assert_int_equal(mt_memtable_add(table, 0x0102030405, MT_TYPE_VALUE, "key", 3, "v", 1), MT_OK);
  assert_int_equal(mt_memtable_add(table, 9, MT_TYPE_DELETION, "key", 3, NULL, 0), MT_OK);
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  assert_non_null(iter);
  mt_memtable_iter_seek_to_first(iter);
  /* user key | fixed64le(seq << 8 | type): what LevelDB's SSTable builder is handed. */
  static const unsigned char first[] = {'k', 'e', 'y', 0x01, 0x05, 0x04, 0x03, 0x02, 0x01, 0x00, 0x00};
  mt_slice internal = mt_memtable_iter_internal_key(iter);
  assert_int_equal(internal.len, sizeof(first));
  assert_memory_equal(internal.data, first, sizeof(first));
  mt_memtable_iter_next(iter);
  static const unsigned char second[] = {'k', 'e', 'y', 0x00, 0x09, 0, 0, 0, 0, 0, 0};
  internal = mt_memtable_iter_internal_key(iter);
  assert_int_equal(internal.len, sizeof(second));
  assert_memory_equal(internal.data, second, sizeof(second));
  mt_memtable_iter_next(iter);
  assert_false(mt_memtable_iter_valid(iter));
  assert_int_equal(mt_memtable_iter_internal_key(iter).len, 0);
  assert_int_equal(mt_memtable_iter_internal_key(NULL).len, 0);
  mt_memtable_iter_destroy(iter);
  mt_memtable_unref(table);
}

static void *refuse_all(void *ctx, size_t size) {
  (void)ctx;
  (void)size;
  return NULL;
}

static void free_nothing(void *ctx, void *ptr, size_t size) {
  (void)ctx;
  (void)ptr;
  (void)size;
}

static void memtable_embedding_test_try_create_says_why(void **state) {
  (void)state;
  mt_memtable *table = (mt_memtable *)(uintptr_t)1;
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  assert_int_equal(mt_memtable_try_create(&options, NULL), MT_INVALID_ARGUMENT);
  options.checksum_bytes = 3;
  assert_int_equal(mt_memtable_try_create(&options, &table), MT_INVALID_ARGUMENT);
  assert_null(table);
  options.checksum_bytes = 0;
  options.reader_allocator.alloc = refuse_all;
  assert_int_equal(mt_memtable_try_create(&options, &table), MT_INVALID_ARGUMENT);
  options.reader_allocator.alloc = NULL;
  options.arena.block_size = MT_ARENA_MAX_BLOCK_SIZE + 1;
  assert_int_equal(mt_memtable_try_create(&options, &table), MT_INVALID_ARGUMENT);
  options.arena.block_size = 0;
  options.arena.allocator.alloc = refuse_all;
  options.arena.allocator.free = free_nothing;
  assert_int_equal(mt_memtable_try_create(&options, &table), MT_NOMEM);
  assert_null(table);
  options.arena.allocator.alloc = NULL;
  options.arena.allocator.free = NULL;
  options.arena.capacity = 1024; /* below one 64 KiB block */
  assert_int_equal(mt_memtable_try_create(&options, &table), MT_FULL);
  assert_null(table);
  options.arena.capacity = 0;
  assert_int_equal(mt_memtable_try_create(&options, &table), MT_OK);
  assert_non_null(table);
  mt_memtable_unref(table);

  mt_arena *arena = (mt_arena *)(uintptr_t)1;
  mt_arena_options arena_options;
  mt_arena_options_init(&arena_options);
  arena_options.allocator.alloc = refuse_all;
  assert_int_equal(mt_arena_try_create(&arena_options, &arena), MT_INVALID_ARGUMENT);
  assert_null(arena);
  arena_options.allocator.free = free_nothing;
  assert_int_equal(mt_arena_try_create(&arena_options, &arena), MT_NOMEM);
  assert_int_equal(mt_arena_try_create(NULL, &arena), MT_OK);

  mt_skiplist *list = (mt_skiplist *)(uintptr_t)1;
  mt_skiplist_options list_options = MT_SKIPLIST_OPTIONS_INIT;
  assert_int_equal(mt_skiplist_try_create(arena, &list_options, &list), MT_INVALID_ARGUMENT); /* no compare */
  assert_null(list);
  mt_arena_destroy(arena);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(memtable_embedding_test_freeze_refuses_later_adds),
      cmocka_unit_test(memtable_embedding_test_sequence_range),
      cmocka_unit_test(memtable_embedding_test_get_entry_reports_the_version_found),
      cmocka_unit_test(memtable_embedding_test_iter_internal_key),
      cmocka_unit_test(memtable_embedding_test_try_create_says_why),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
