/* memtable_failure_test: allocation failure at every point, long lookup keys without memory, a full arena.
 * (Damage to stored entries has its own suite, memtable_damage_test.) */
#include "support/test_util.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/memtable.h>

#include "support/allocator.h"
#include "support/memtable_checks.h"

#define FAILURE_ENTRIES 40

static size_t failure_value_len(size_t i) { return (i * 97) % 700; }

static void failure_entry(size_t i, char *key, size_t key_size, char *value) {
  snprintf(key, key_size, "key-%04zu", i);
  for (size_t j = 0; j < failure_value_len(i); j++) value[j] = (char)(i + j);
}

static void assert_failure_entries_present(const mt_memtable *table, size_t count) {
  char key[16];
  char value[700];
  for (size_t i = 0; i < count; i++) {
    failure_entry(i, key, sizeof(key), value);
    mt_slice got;
    assert_int_equal(mt_memtable_get(table, key, strlen(key), UINT64_MAX, &got), MT_OK);
    assert_slice(got, value, failure_value_len(i));
  }
  assert_int_equal(mt_memtable_entry_count(table), count);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
}

/* Creates a table, adds FAILURE_ENTRIES entries (retrying one that failed), opens an iterator, scans it
 * and closes it, and reports how the one injected failure surfaced. The arena and the reader allocator draw from
 * the one test allocator, so the iterator's allocations (itself, then its scan readahead) are among its calls
 * (and long lookup keys in the test after this one). A refused readahead leaves a working iterator. */
static void run_with_failing_allocation(test_allocator *allocator, size_t *create_failures, size_t *add_failures,
                                        size_t *iterator_failures, size_t *readahead_failures) {
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.arena.block_size = 1024;
  options.checksum_bytes = 4;
  options.bloom_bits_per_key = 10;
  options.bloom_expected_entries = FAILURE_ENTRIES;
  options.arena.allocator = test_allocator_hooks(allocator);
  options.reader_allocator = test_allocator_hooks(allocator);
  mt_memtable *table = mt_memtable_create(&options);
  if (table == NULL) {
    (*create_failures)++;
    assert_int_equal(allocator->live_blocks, 0);
    return;
  }
  char key[16];
  char value[700];
  for (size_t i = 0; i < FAILURE_ENTRIES; i++) {
    failure_entry(i, key, sizeof(key), value);
    mt_status status = mt_memtable_add(table, i + 1, MT_TYPE_VALUE, key, strlen(key), value, failure_value_len(i));
    if (status == MT_NOMEM) {
      (*add_failures)++;
      assert_failure_entries_present(table, i);
      assert_get(table, key, UINT64_MAX, MT_NOT_FOUND, NULL);
      status = mt_memtable_add(table, i + 1, MT_TYPE_VALUE, key, strlen(key), value, failure_value_len(i));
    }
    assert_int_equal(status, MT_OK);
  }
  size_t failures_before = allocator->failures;
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  if (iter == NULL) {
    (*iterator_failures)++;
  } else {
    if (allocator->failures != failures_before) (*readahead_failures)++;
    size_t visited = 0;
    for (mt_memtable_iter_seek_to_first(iter); mt_memtable_iter_valid(iter); mt_memtable_iter_next(iter)) visited++;
    assert_int_equal(mt_memtable_iter_status(iter), MT_OK);
    assert_int_equal(visited, FAILURE_ENTRIES);
    for (mt_memtable_iter_seek_to_last(iter); mt_memtable_iter_valid(iter); mt_memtable_iter_prev(iter)) visited--;
    assert_int_equal(mt_memtable_iter_status(iter), MT_OK);
    assert_int_equal(visited, 0);
    mt_memtable_iter_destroy(iter);
  }
  assert_failure_entries_present(table, FAILURE_ENTRIES);
  mt_memtable_unref(table);
  assert_int_equal(allocator->live_blocks, 0);
}

static void memtable_test_allocation_failure_at_every_point(void **state) {
  (void)state;
  size_t create_failures = 0, add_failures = 0, iterator_failures = 0, readahead_failures = 0;
  test_allocator clean = TEST_ALLOCATOR_INIT;
  run_with_failing_allocation(&clean, &create_failures, &add_failures, &iterator_failures, &readahead_failures);
  size_t total = clean.calls;
  assert_true(total > FAILURE_ENTRIES / 4); /* blocks are small: adds allocate often */
  for (size_t k = 1; k <= total + 2; k++) {
    test_allocator allocator = TEST_ALLOCATOR_INIT;
    allocator.fail_at = k;
    run_with_failing_allocation(&allocator, &create_failures, &add_failures, &iterator_failures, &readahead_failures);
    /* Every point up to the last allocation failed exactly once, and the failure surfaced. */
    assert_int_equal(allocator.failures, k <= total ? 1 : 0);
  }
  assert_int_equal(create_failures + add_failures + iterator_failures + readahead_failures, total);
  assert_true(create_failures >= 2); /* arena header and first block */
  assert_true(add_failures > 0);
  assert_int_equal(iterator_failures, 1);
  assert_int_equal(readahead_failures, 1);
}

static void memtable_test_long_keys_and_lookup_allocation_failure(void **state) {
  (void)state;
  /* Long lookup keys come from the reader allocator; the arena shares the same test allocator. */
  test_allocator allocator = TEST_ALLOCATOR_INIT;
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.arena.allocator = test_allocator_hooks(&allocator);
  options.reader_allocator = test_allocator_hooks(&allocator);
  mt_memtable *table = new_table(&options);
  const size_t lengths[] = {200, 255, 300, 5000, 70000};
  char *keys[5];
  for (size_t i = 0; i < 5; i++) {
    keys[i] = malloc(lengths[i]);
    assert_non_null(keys[i]);
    memset(keys[i], 'k', lengths[i]);
    assert_int_equal(mt_memtable_add(table, i + 1, MT_TYPE_VALUE, keys[i], lengths[i], "v", 1), MT_OK);
  }
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  assert_non_null(iter);
  for (size_t i = 0; i < 5; i++) {
    mt_slice value;
    assert_int_equal(mt_memtable_get(table, keys[i], lengths[i], UINT64_MAX, &value), MT_OK);
    assert_int_equal(mt_memtable_get(table, keys[i], lengths[i] - 1, UINT64_MAX, &value), MT_NOT_FOUND);
    mt_memtable_iter_seek(iter, keys[i], lengths[i], UINT64_MAX);
    assert_true(mt_memtable_iter_valid(iter));
    assert_int_equal(mt_memtable_iter_user_key(iter).len, lengths[i]);
    mt_memtable_iter_seek_for_prev(iter, keys[i], lengths[i], 0);
    assert_true(mt_memtable_iter_valid(iter));
    assert_int_equal(mt_memtable_iter_user_key(iter).len, lengths[i]);
  }
  /* The next allocation fails: long lookups report it, short ones need none. */
  allocator.fail_at = allocator.calls + 1;
  mt_slice value;
  assert_int_equal(mt_memtable_get(table, keys[3], lengths[3], UINT64_MAX, &value), MT_NOMEM);
  assert_int_equal(mt_memtable_get(table, keys[0], lengths[0], UINT64_MAX, &value), MT_OK);
  allocator.fail_at = allocator.calls + 1;
  mt_memtable_iter_seek(iter, keys[4], lengths[4], UINT64_MAX);
  assert_false(mt_memtable_iter_valid(iter));
  assert_int_equal(mt_memtable_iter_status(iter), MT_NOMEM);
  mt_memtable_iter_seek(iter, keys[4], lengths[4], UINT64_MAX);
  assert_true(mt_memtable_iter_valid(iter));
  assert_int_equal(mt_memtable_iter_status(iter), MT_OK);
  mt_memtable_user_iter *user = mt_memtable_user_iter_create(table, UINT64_MAX);
  assert_non_null(user);
  allocator.fail_at = allocator.calls + 1;
  mt_memtable_user_iter_seek_for_prev(user, keys[2], lengths[2]);
  assert_false(mt_memtable_user_iter_valid(user));
  assert_int_equal(mt_memtable_user_iter_status(user), MT_NOMEM);
  mt_memtable_user_iter_seek_for_prev(user, keys[2], lengths[2]);
  assert_true(mt_memtable_user_iter_valid(user));
  assert_int_equal(mt_memtable_user_iter_key(user).len, lengths[2]);
  mt_memtable_user_iter_destroy(user);
  mt_memtable_iter_destroy(iter);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
  assert_int_equal(allocator.live_blocks, 0);
  for (size_t i = 0; i < 5; i++) free(keys[i]);
}

static void memtable_test_capacity_full(void **state) {
  (void)state;
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.arena.block_size = 4096;
  options.arena.capacity = 32 * 1024;
  options.checksum_bytes = 1;
  mt_memtable *table = new_table(&options);
  char key[16];
  char value[100];
  memset(value, 'v', sizeof(value));
  size_t added = 0;
  mt_status status;
  for (;;) {
    snprintf(key, sizeof(key), "key-%06zu", added);
    status = mt_memtable_add(table, added + 1, MT_TYPE_VALUE, key, strlen(key), value, sizeof(value));
    if (status != MT_OK) break;
    added++;
  }
  assert_int_equal(status, MT_FULL);
  assert_true(added > 100);
  assert_true(mt_memtable_approximate_memory_usage(table) <= options.arena.capacity);
  assert_int_equal(mt_memtable_entry_count(table), added);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  assert_get(table, key, UINT64_MAX, MT_NOT_FOUND, NULL);
  /* A value beyond the capacity is refused too; everything stored is still readable. */
  char *big = calloc(1, 64 * 1024);
  assert_non_null(big);
  assert_int_equal(mt_memtable_add(table, 999999, MT_TYPE_VALUE, "big", 3, big, 64 * 1024), MT_FULL);
  free(big);
  mt_memtable_user_iter *user = mt_memtable_user_iter_create(table, UINT64_MAX);
  assert_non_null(user);
  size_t seen = 0;
  for (mt_memtable_user_iter_seek_to_first(user); mt_memtable_user_iter_valid(user); mt_memtable_user_iter_next(user)) {
    snprintf(key, sizeof(key), "key-%06zu", seen);
    assert_true(mt_memtable_user_iter_valid(user));
    assert_slice_str(mt_memtable_user_iter_key(user), key);
    assert_slice(mt_memtable_user_iter_value(user), value, sizeof(value));
    seen++;
  }
  mt_memtable_user_iter_destroy(user);
  assert_int_equal(seen, added);
  assert_int_equal(mt_memtable_entry_count(table), added);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
}

static void memtable_test_user_iterator_without_memory_for_seeks(void **state) {
  (void)state;
  /* Long keys with many versions: passing over them, the user iterator seeks (with heap lookup keys); when
   * the reader allocator refuses, stepping gives the same answers. */
  test_allocator allocator = TEST_ALLOCATOR_INIT;
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.arena.allocator = test_allocator_hooks(&allocator);
  options.reader_allocator = test_allocator_hooks(&allocator);
  options.scan_readahead_segments = 0; /* a streaming scan would step instead of seeking */
  mt_memtable *table = new_table(&options);
  enum { KEYS = 6, VERSIONS = 12, KEY_LEN = 300 };
  char keys[KEYS][KEY_LEN];
  char value[16];
  uint64_t seq = 1;
  for (int k = 0; k < KEYS; k++) {
    memset(keys[k], 'a' + k, KEY_LEN);
    for (int v = 0; v < VERSIONS; v++, seq++) {
      /* Key 2's newest version is a deletion; key 4 has only versions newer than the snapshot below. */
      mt_entry_type type = (k == 2 && v == VERSIONS - 1) ? MT_TYPE_DELETION : MT_TYPE_VALUE;
      uint64_t entry_seq = k == 4 ? seq + 1000 : seq;
      snprintf(value, sizeof(value), "%d@%" PRIu64, k, entry_seq);
      assert_int_equal(mt_memtable_add(table, entry_seq, type, keys[k], KEY_LEN, value, strlen(value)), MT_OK);
    }
  }
  uint64_t snapshot = 500;
  for (int pass = 0; pass < 2; pass++) {
    mt_memtable_user_iter *user = mt_memtable_user_iter_create(table, snapshot);
    assert_non_null(user);
    if (pass == 1) {
      allocator.fail_at = allocator.calls + 1;
      allocator.fail_after = true;
    }
    mt_memtable_user_iter_seek_to_last(user);
    int expected_keys[] = {5, 3, 1, 0};
    for (int i = 0; i < 4; i++) {
      int k = expected_keys[i];
      assert_true(mt_memtable_user_iter_valid(user));
      assert_slice(mt_memtable_user_iter_key(user), keys[k], KEY_LEN);
      snprintf(value, sizeof(value), "%d@%d", k, (k + 1) * VERSIONS);
      assert_slice_str(mt_memtable_user_iter_value(user), value);
      mt_memtable_user_iter_prev(user);
    }
    assert_false(mt_memtable_user_iter_valid(user));
    assert_int_equal(mt_memtable_user_iter_status(user), MT_OK);
    mt_memtable_user_iter_seek_to_first(user);
    for (int i = 4; i-- > 0;) {
      int k = expected_keys[i];
      assert_true(mt_memtable_user_iter_valid(user));
      assert_slice(mt_memtable_user_iter_key(user), keys[k], KEY_LEN);
      mt_memtable_user_iter_next(user);
    }
    assert_false(mt_memtable_user_iter_valid(user));
    assert_int_equal(mt_memtable_user_iter_status(user), MT_OK);
    allocator.fail_at = 0;
    allocator.fail_after = false;
    mt_memtable_user_iter_destroy(user);
  }
  assert_true(allocator.failures > 0);
  mt_memtable_unref(table);
  assert_int_equal(allocator.live_blocks, 0);
}

static size_t fill_until_full(mt_memtable *table, uint64_t first_seq, size_t value_len) {
  char *value = calloc(1, value_len);
  assert_non_null(value);
  size_t added = 0;
  for (;;) {
    char key[32];
    snprintf(key, sizeof(key), "fill-%08zu", added);
    mt_status status = mt_memtable_add(table, first_seq + added, MT_TYPE_VALUE, key, strlen(key), value, value_len);
    if (status != MT_OK) {
      assert_int_equal(status, MT_FULL);
      break;
    }
    added++;
  }
  free(value);
  return added;
}

/* Page-aligned blocks: the padding before each cache-line-aligned or link-aligned allocation is then the same
 * in every table, so two tables given the same adds hold exactly the same entries. */
static void *page_aligned_alloc(void *ctx, size_t size) {
  (void)ctx;
  return aligned_alloc(4096, (size + 4095) / 4096 * 4096);
}

static void page_aligned_free(void *ctx, void *ptr, size_t size) {
  (void)ctx;
  (void)size;
  free(ptr);
}

static mt_memtable *capped_table(void) {
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.arena.capacity = 256 * 1024;
  options.arena.allocator.alloc = page_aligned_alloc;
  options.arena.allocator.free = page_aligned_free;
  mt_memtable *table = mt_memtable_create(&options);
  assert_non_null(table);
  return table;
}

static void memtable_test_refused_duplicate_leaves_memory_unchanged(void **state) {
  (void)state;
  enum { BIG = 20 * 1024, SMALL = 100 };
  char *value = calloc(1, BIG);
  assert_non_null(value);
  mt_memtable *table = capped_table();
  assert_int_equal(mt_memtable_add(table, 1, MT_TYPE_VALUE, "big", 3, value, BIG), MT_OK);
  assert_int_equal(mt_memtable_add(table, 2, MT_TYPE_VALUE, "small", 5, value, SMALL), MT_OK);
  size_t usage = mt_memtable_approximate_memory_usage(table);
  for (int i = 0; i < 40; i++) {
    assert_int_equal(mt_memtable_add(table, 1, MT_TYPE_VALUE, "big", 3, value, BIG), MT_EXISTS);
    assert_int_equal(mt_memtable_approximate_memory_usage(table), usage);
    assert_int_equal(mt_memtable_add(table, 2, MT_TYPE_DELETION, "small", 5, value, SMALL), MT_EXISTS);
    assert_int_equal(mt_memtable_approximate_memory_usage(table), usage);
  }
  assert_int_equal(mt_memtable_entry_count(table), 2);
  assert_int_equal(mt_memtable_add(table, 3, MT_TYPE_VALUE, "other", 5, value, BIG), MT_OK);
  /* As much still fits as in a table that never saw a duplicate. */
  mt_memtable *fresh = capped_table();
  assert_int_equal(mt_memtable_add(fresh, 1, MT_TYPE_VALUE, "big", 3, value, BIG), MT_OK);
  assert_int_equal(mt_memtable_add(fresh, 2, MT_TYPE_VALUE, "small", 5, value, SMALL), MT_OK);
  assert_int_equal(mt_memtable_add(fresh, 3, MT_TYPE_VALUE, "other", 5, value, BIG), MT_OK);
  assert_int_equal(mt_memtable_approximate_memory_usage(table), mt_memtable_approximate_memory_usage(fresh));
  assert_int_equal(fill_until_full(table, 100, SMALL), fill_until_full(fresh, 100, SMALL));
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(fresh);
  mt_memtable_unref(table);
  free(value);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(memtable_test_allocation_failure_at_every_point),
      cmocka_unit_test(memtable_test_long_keys_and_lookup_allocation_failure),
      cmocka_unit_test(memtable_test_capacity_full),
      cmocka_unit_test(memtable_test_user_iterator_without_memory_for_seeks),
      cmocka_unit_test(memtable_test_refused_duplicate_leaves_memory_unchanged),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
