/* memtable_misuse_test: a caller's mistakes get the documented answer and leave nothing behind - invalid
 * options are refused with MT_INVALID_ARGUMENT whatever the other options ask for and without keeping any
 * memory of the caller's allocator, mt_memtable_options_init gives exactly MT_MEMTABLE_OPTIONS_INIT, and a
 * refused seek on an empty table does not stick. The other misuse checks (NULL tables, keys, batches and
 * iterators; lengths past the limits; most invalid options) live in memtable_test_invalid_arguments,
 * memtable_get_batch_test_invalid_arguments and memtable_embedding_test_try_create_says_why. */
#include "support/test_util.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <memtable/memtable.h>

#include "support/allocator.h"

static int bytewise_compare(void *ctx, const char *a, size_t a_len, const char *b, size_t b_len) {
  (void)ctx;
  size_t common = a_len < b_len ? a_len : b_len;
  int order = common == 0 ? 0 : memcmp(a, b, common);
  if (order != 0) return order;
  return a_len < b_len ? -1 : a_len > b_len ? 1 : 0;
}

static void assert_refused(const mt_memtable_options *options) {
  mt_memtable *table = (mt_memtable *)(uintptr_t)1;
  assert_int_equal(mt_memtable_try_create(options, &table), MT_INVALID_ARGUMENT);
  assert_null(table);
  assert_null(mt_memtable_create(options));
}

static void assert_accepted(const mt_memtable_options *options) {
  mt_memtable *table = NULL;
  assert_int_equal(mt_memtable_try_create(options, &table), MT_OK);
  assert_non_null(table);
  mt_memtable_unref(table);
}

/* Field by field: the padding of either copy is unspecified. */
static void memtable_misuse_test_options_init_matches_the_macro(void **state) {
  (void)state;
  const mt_memtable_options defaults = MT_MEMTABLE_OPTIONS_INIT;
  mt_memtable_options options;
  memset(&options, 0xa5, sizeof(options)); /* every field must be written */
  mt_memtable_options_init(&options);
  assert_ptr_equal(options.compare, defaults.compare);
  assert_ptr_equal(options.compare_ctx, defaults.compare_ctx);
  assert_int_equal(options.arena.block_size, defaults.arena.block_size);
  assert_int_equal(options.arena.capacity, defaults.arena.capacity);
  assert_ptr_equal(options.arena.allocator.alloc, defaults.arena.allocator.alloc);
  assert_ptr_equal(options.arena.allocator.free, defaults.arena.allocator.free);
  assert_ptr_equal(options.arena.allocator.ctx, defaults.arena.allocator.ctx);
  assert_int_equal(options.arena.concurrent, defaults.arena.concurrent);
  assert_ptr_equal(options.arena.pool, defaults.arena.pool);
  assert_int_equal(options.arena.pages, defaults.arena.pages);
  assert_int_equal(options.arena.numa_node, defaults.arena.numa_node);
  assert_int_equal(options.write_buffer_size, defaults.write_buffer_size);
  assert_int_equal(options.bloom_bits_per_key, defaults.bloom_bits_per_key);
  assert_int_equal(options.bloom_expected_entries, defaults.bloom_expected_entries);
  assert_int_equal(options.bytewise_equal_keys, defaults.bytewise_equal_keys);
  assert_int_equal(options.checksum_bytes, defaults.checksum_bytes);
  assert_int_equal(options.seed, defaults.seed);
  assert_ptr_equal(options.reader_allocator.alloc, defaults.reader_allocator.alloc);
  assert_ptr_equal(options.reader_allocator.free, defaults.reader_allocator.free);
  assert_ptr_equal(options.reader_allocator.ctx, defaults.reader_allocator.ctx);
  assert_int_equal(options.concurrent_writes, defaults.concurrent_writes);
  assert_int_equal(options.max_sequential_skip, defaults.max_sequential_skip);
  assert_int_equal(options.scan_readahead_segments, defaults.scan_readahead_segments);
  assert_int_equal(options.scan_readahead_segment_nodes, defaults.scan_readahead_segment_nodes);
  assert_int_equal(options.point_index, defaults.point_index);
  assert_int_equal(options.point_index_entries, defaults.point_index_entries);
  assert_int_equal(options.version_links, defaults.version_links);
  assert_int_equal(options.skiplist_branching, defaults.skiplist_branching);
  /* The documented defaults themselves. */
  assert_null(defaults.compare);
  assert_int_equal(defaults.arena.block_size, MT_MEMTABLE_DEFAULT_BLOCK_SIZE);
  assert_int_equal(defaults.write_buffer_size, MT_MEMTABLE_DEFAULT_WRITE_BUFFER_SIZE);
  assert_int_equal(defaults.checksum_bytes, 0);
  assert_false(defaults.concurrent_writes);
  assert_int_equal(defaults.max_sequential_skip, MT_MEMTABLE_DEFAULT_MAX_SEQUENTIAL_SKIP);
  assert_int_equal(defaults.scan_readahead_segments, MT_MEMTABLE_DEFAULT_SCAN_READAHEAD_SEGMENTS);
  assert_int_equal(defaults.scan_readahead_segment_nodes, MT_MEMTABLE_DEFAULT_SCAN_READAHEAD_SEGMENT_NODES);
  assert_false(defaults.version_links);
  assert_int_equal(defaults.skiplist_branching, MT_MEMTABLE_DEFAULT_SKIPLIST_BRANCHING);
  assert_accepted(&options);
}

static void memtable_misuse_test_checksum_bytes_other_than_0_1_2_4_8_is_invalid_argument(void **state) {
  (void)state;
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  const unsigned refused[] = {3, 5, 6, 7, 9, 16, 32, UINT_MAX};
  for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
    options.checksum_bytes = refused[i];
    assert_refused(&options);
  }
  const unsigned accepted[] = {0, 1, 2, 4, 8};
  for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
    options.checksum_bytes = accepted[i];
    assert_accepted(&options);
  }
}

/* "alloc and free must be both set or both NULL", for the arena's hooks and the readers'. */
static void memtable_misuse_test_allocator_with_one_hook_is_invalid_argument(void **state) {
  (void)state;
  test_allocator allocator = TEST_ALLOCATOR_INIT;
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.arena.allocator = (mt_allocator){test_allocator_alloc, NULL, &allocator};
  assert_refused(&options);
  options.arena.allocator = (mt_allocator){NULL, test_allocator_free, &allocator};
  assert_refused(&options);
  mt_memtable_options_init(&options);
  options.reader_allocator = (mt_allocator){NULL, test_allocator_free, &allocator};
  assert_refused(&options);
  assert_int_equal(allocator.calls, 0);
  assert_int_equal(allocator.free_calls, 0);
  options.reader_allocator = test_allocator_hooks(&allocator);
  options.arena.allocator = test_allocator_hooks(&allocator);
  assert_accepted(&options);
  assert_int_equal(allocator.live_blocks, 0);
  assert_int_equal(allocator.bad_frees, 0);
}

/* Each invalid option is refused on top of options that turn every feature on, and the refusal keeps none of
 * the hooked allocator's memory. */
static void memtable_misuse_test_invalid_option_is_refused_whatever_the_others_and_keeps_no_memory(void **state) {
  (void)state;
  test_allocator allocator = TEST_ALLOCATOR_INIT;
  mt_memtable_options rich;
  mt_memtable_options_init(&rich);
  rich.compare = bytewise_compare;
  rich.bloom_bits_per_key = 10;
  rich.bytewise_equal_keys = true;
  rich.checksum_bytes = 8;
  rich.point_index = true;
  rich.point_index_entries = 100;
  rich.version_links = true;
  rich.skiplist_branching = 4;
  rich.arena.block_size = 4096;
  rich.arena.allocator = test_allocator_hooks(&allocator);
  rich.reader_allocator = test_allocator_hooks(&allocator);
  assert_accepted(&rich);
  size_t calls = allocator.calls;
  assert_true(calls > 0);
  assert_int_equal(allocator.live_blocks, 0);

  for (int which = 0; which < 7; which++) {
    mt_memtable_options options = rich;
    switch (which) {
      case 0: options.checksum_bytes = 3; break;
      case 1: options.checksum_bytes = 16; break;
      case 2: options.arena.block_size = MT_ARENA_MAX_BLOCK_SIZE + 1; break;
      case 3: options.skiplist_branching = 1; break;
      case 4: options.skiplist_branching = MT_MEMTABLE_MAX_SKIPLIST_BRANCHING + 1; break;
      case 5: options.arena.allocator.free = NULL; break;
      default: options.scan_readahead_segments = 65; break;
    }
    assert_refused(&options);
    assert_int_equal(allocator.live_blocks, 0);
    assert_int_equal(allocator.bad_frees, 0);
  }
}

/* A seek that cannot run leaves the iterator not valid with MT_INVALID_ARGUMENT; the next seek starts again
 * from MT_OK, on an empty table too. */
static void memtable_misuse_test_refused_seek_on_an_empty_table_does_not_stick(void **state) {
  (void)state;
  mt_memtable *table = mt_memtable_create(NULL);
  assert_non_null(table);
  const char one_byte[1] = {'k'};

  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  assert_non_null(iter);
  mt_memtable_iter_seek(iter, NULL, 1, 1);
  assert_false(mt_memtable_iter_valid(iter));
  assert_int_equal(mt_memtable_iter_status(iter), MT_INVALID_ARGUMENT);
  mt_memtable_iter_seek_to_first(iter);
  assert_false(mt_memtable_iter_valid(iter));
  assert_int_equal(mt_memtable_iter_status(iter), MT_OK);
  mt_memtable_iter_seek_for_prev(iter, one_byte, MT_MAX_KEY_LEN + 1, 1);
  assert_int_equal(mt_memtable_iter_status(iter), MT_INVALID_ARGUMENT);
  mt_memtable_iter_seek(iter, one_byte, 1, 1);
  assert_false(mt_memtable_iter_valid(iter));
  assert_int_equal(mt_memtable_iter_status(iter), MT_OK);
  mt_memtable_iter_destroy(iter);

  mt_memtable_user_iter *user = mt_memtable_user_iter_create(table, MT_MAX_SEQUENCE);
  assert_non_null(user);
  mt_memtable_user_iter_seek(user, NULL, 1);
  assert_false(mt_memtable_user_iter_valid(user));
  assert_int_equal(mt_memtable_user_iter_status(user), MT_INVALID_ARGUMENT);
  mt_memtable_user_iter_seek_to_first(user);
  assert_false(mt_memtable_user_iter_valid(user));
  assert_int_equal(mt_memtable_user_iter_status(user), MT_OK);
  mt_memtable_user_iter_seek_for_prev(user, one_byte, MT_MAX_KEY_LEN + 1);
  assert_int_equal(mt_memtable_user_iter_status(user), MT_INVALID_ARGUMENT);
  mt_memtable_user_iter_seek_to_last(user);
  assert_false(mt_memtable_user_iter_valid(user));
  assert_int_equal(mt_memtable_user_iter_status(user), MT_OK);
  mt_memtable_user_iter_destroy(user);

  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(memtable_misuse_test_options_init_matches_the_macro),
      cmocka_unit_test(memtable_misuse_test_checksum_bytes_other_than_0_1_2_4_8_is_invalid_argument),
      cmocka_unit_test(memtable_misuse_test_allocator_with_one_hook_is_invalid_argument),
      cmocka_unit_test(memtable_misuse_test_invalid_option_is_refused_whatever_the_others_and_keeps_no_memory),
      cmocka_unit_test(memtable_misuse_test_refused_seek_on_an_empty_table_does_not_stick),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
