/* skiplist_failure_test: what the list refuses (bad arguments and options, a full or failing arena) and what
 * a refusal leaves behind (nothing: no node, no arena bytes, no height draw), the node footprint those
 * checks rest on, and validate finding keys out of order, keys the caller rejects and bad recorded sizes. */
#include "support/test_util.h"

#include <memtable/arena.h>
#include <memtable/skiplist.h>

#include "support/allocator.h"
#include "support/rng.h"
#include "support/u64_list.h"

#include <stdbool.h>
#include <string.h>

static void skiplist_test_invalid_arguments(void **state) {
  (void)state;
  mt_arena *arena = mt_arena_create(NULL);
  mt_skiplist_options options;
  mt_skiplist_options_init(&options);
  mt_skiplist_options_init(NULL);
  assert_null(options.compare);
  assert_int_equal(options.max_height, MT_SKIPLIST_DEFAULT_MAX_HEIGHT);
  assert_int_equal(options.branching, MT_SKIPLIST_DEFAULT_BRANCHING);

  assert_null(mt_skiplist_create(arena, &options)); /* compare NULL */
  options.compare = compare_u64;
  assert_null(mt_skiplist_create(NULL, &options));
  assert_null(mt_skiplist_create(arena, NULL));
  const int bad_heights[] = {0, -1, MT_SKIPLIST_MAX_HEIGHT_LIMIT + 1, 1000};
  for (size_t i = 0; i < sizeof(bad_heights) / sizeof(bad_heights[0]); i++) {
    options.max_height = bad_heights[i];
    assert_null(mt_skiplist_create(arena, &options));
  }
  options.max_height = MT_SKIPLIST_DEFAULT_MAX_HEIGHT;
  const int bad_branchings[] = {1, 0, -4};
  for (size_t i = 0; i < sizeof(bad_branchings) / sizeof(bad_branchings[0]); i++) {
    options.branching = bad_branchings[i];
    assert_null(mt_skiplist_create(arena, &options));
  }
  options.branching = 2;
  options.max_height = MT_SKIPLIST_MAX_HEIGHT_LIMIT;
  assert_non_null(mt_skiplist_create(arena, &options));
  options.max_height = 1;
  assert_non_null(mt_skiplist_create(arena, &options));

  mt_skiplist *list = create_u64_list(arena);
  assert_non_null(list);
  assert_int_equal(insert_u64(list, 5), MT_OK);
  char *buffer = (char *)&options; /* any non-NULL value, to see it reset */
  assert_int_equal(mt_skiplist_allocate_key(NULL, 8, &buffer), MT_INVALID_ARGUMENT);
  assert_null(buffer);
  assert_int_equal(mt_skiplist_allocate_key(list, 8, NULL), MT_INVALID_ARGUMENT);
#if SIZE_MAX > UINT32_MAX
  buffer = (char *)&options;
  assert_int_equal(mt_skiplist_allocate_key(list, (size_t)UINT32_MAX + 1, &buffer), MT_INVALID_ARGUMENT);
  assert_null(buffer);
#endif
  buffer = (char *)&options;
  assert_int_equal(mt_skiplist_allocate_key(list, SIZE_MAX, &buffer), MT_INVALID_ARGUMENT);
  assert_null(buffer);
  uint64_t key = 7;
  assert_int_equal(mt_skiplist_insert(NULL, &key, sizeof(key)), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_skiplist_insert(list, NULL, sizeof(key)), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_skiplist_insert_allocated(NULL, (char *)&key), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_skiplist_insert_allocated(list, NULL), MT_INVALID_ARGUMENT);
  assert_false(mt_skiplist_contains(NULL, (const char *)&key));
  assert_false(mt_skiplist_contains(list, NULL));
  assert_int_equal(mt_skiplist_count(NULL), 0);
  assert_int_equal(mt_skiplist_validate(NULL, NULL, NULL), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_skiplist_count(list), 1);

  /* Iterator calls on no iterator, on an iterator that is not valid, and on one over no list. */
  mt_skiplist_iter_init(NULL, list);
  assert_false(mt_skiplist_iter_valid(NULL));
  assert_null(mt_skiplist_iter_key(NULL));
  assert_int_equal(mt_skiplist_iter_key_size(NULL), 0);
  assert_int_equal(mt_skiplist_iter_height(NULL), 0);
  mt_skiplist_iter_next(NULL);
  mt_skiplist_iter_prev(NULL);
  mt_skiplist_iter_seek(NULL, (const char *)&key);
  mt_skiplist_iter_seek_for_prev(NULL, (const char *)&key);
  mt_skiplist_iter_seek_to_first(NULL);
  mt_skiplist_iter_seek_to_last(NULL);

  mt_skiplist_iter iter;
  mt_skiplist_iter_init(&iter, list);
  assert_null(mt_skiplist_iter_key(&iter));
  assert_int_equal(mt_skiplist_iter_key_size(&iter), 0);
  assert_int_equal(mt_skiplist_iter_height(&iter), 0);
  mt_skiplist_iter_next(&iter);
  assert_false(mt_skiplist_iter_valid(&iter));
  mt_skiplist_iter_prev(&iter);
  assert_false(mt_skiplist_iter_valid(&iter));
  mt_skiplist_iter_seek_to_first(&iter);
  assert_true(mt_skiplist_iter_valid(&iter));
  mt_skiplist_iter_seek(&iter, NULL);
  assert_false(mt_skiplist_iter_valid(&iter));
  mt_skiplist_iter_seek_to_first(&iter);
  mt_skiplist_iter_seek_for_prev(&iter, NULL);
  assert_false(mt_skiplist_iter_valid(&iter));

  mt_skiplist_iter_init(&iter, NULL);
  mt_skiplist_iter_seek_to_first(&iter);
  assert_false(mt_skiplist_iter_valid(&iter));
  mt_skiplist_iter_seek_to_last(&iter);
  assert_false(mt_skiplist_iter_valid(&iter));
  mt_skiplist_iter_seek(&iter, (const char *)&key);
  assert_false(mt_skiplist_iter_valid(&iter));
  mt_skiplist_iter_seek_for_prev(&iter, (const char *)&key);
  assert_false(mt_skiplist_iter_valid(&iter));
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);
  mt_arena_destroy(arena);
}

/* Fills the list until the arena refuses; checks the refusal changed nothing. Returns the keys inserted. */
static size_t fill_until_refused(mt_skiplist *list, mt_status refusal) {
  size_t inserted = 0;
  mt_status status;
  /* Descending keys, so the last refused key would have gone first. */
  for (uint64_t key = 1000000;; key--) {
    status = insert_u64(list, key);
    if (status != MT_OK) break;
    inserted++;
    assert_true(inserted < 1000000);
  }
  assert_int_equal(status, refusal);
  /* Towers are random: a shorter node than the refused one may still fit the block's last bytes. The
   * refused node needed at most 12 links and the key, each node takes at least one link and the key, so
   * after a few such reservations the arena refuses the same way. */
  const size_t most_that_fit = (12 + 1) * sizeof(uint64_t) / (2 * sizeof(uint64_t));
  size_t reserved = 0;
  char *buffer = (char *)list;
  while ((status = mt_skiplist_allocate_key(list, sizeof(uint64_t), &buffer)) == MT_OK) {
    assert_true(++reserved <= most_that_fit);
  }
  assert_int_equal(status, refusal);
  assert_null(buffer);
  assert_int_equal(mt_skiplist_count(list), inserted);
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);
  mt_skiplist_iter iter;
  mt_skiplist_iter_init(&iter, list);
  size_t seen = 0;
  uint64_t expected = 1000000 - inserted + 1;
  for (mt_skiplist_iter_seek_to_first(&iter); mt_skiplist_iter_valid(&iter); mt_skiplist_iter_next(&iter)) {
    assert_int_equal(iter_u64(&iter), expected++);
    seen++;
  }
  assert_int_equal(seen, inserted);
  return inserted;
}

static void skiplist_test_allocation_failure(void **state) {
  (void)state;
  /* Capacity: one standard block, which holds the list and some nodes. */
  mt_arena_options arena_options = MT_ARENA_OPTIONS_INIT;
  arena_options.capacity = MT_ARENA_DEFAULT_BLOCK_SIZE;
  mt_arena *arena = mt_arena_create(&arena_options);
  mt_skiplist *list = create_u64_list(arena);
  assert_non_null(list);
  assert_true(fill_until_refused(list, MT_FULL) > 10);
  /* A key too large for what is left fails the same way; the list still answers. */
  char *buffer;
  assert_int_equal(mt_skiplist_allocate_key(list, 100000, &buffer), MT_FULL);
  /* insert allocates before it searches, so even a duplicate is refused for want of room. */
  assert_int_equal(insert_u64(list, 1000000), MT_FULL);
  assert_true(contains_u64(list, 1000000));
  mt_arena_destroy(arena);

  /* Too little room for the list itself. */
  arena_options.capacity = 64;
  arena = mt_arena_create(&arena_options);
  assert_null(create_u64_list(arena));
  mt_arena_destroy(arena);

  /* The allocator fails after the first block: MT_NOMEM, list unchanged. */
  test_allocator allocator = TEST_ALLOCATOR_INIT;
  allocator.fail_at = 3; /* after the arena's header and one block */
  allocator.fail_after = true;
  arena_options.capacity = 0;
  arena_options.allocator = test_allocator_hooks(&allocator);
  arena = mt_arena_create(&arena_options);
  list = create_u64_list(arena);
  assert_non_null(list);
  assert_true(fill_until_refused(list, MT_NOMEM) > 10);
  mt_arena_destroy(arena);
}

static void skiplist_test_validate_detects_disorder(void **state) {
  (void)state;
  mt_arena *arena = mt_arena_create(NULL);
  mt_skiplist *list = create_u64_list(arena);
  assert_non_null(list);
  for (uint64_t key = 10; key <= 1000; key += 10) assert_int_equal(insert_u64(list, key), MT_OK);
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);

  /* Rewrite 500 as 505: still in order, still valid. Then as 515: out of order. */
  mt_skiplist_iter iter;
  mt_skiplist_iter_init(&iter, list);
  seek_u64(&iter, 500);
  assert_true(mt_skiplist_iter_valid(&iter));
  char *key = (char *)(uintptr_t)mt_skiplist_iter_key(&iter);
  uint64_t value = 505;
  memcpy(key, &value, sizeof(value));
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);
  value = 515;
  memcpy(key, &value, sizeof(value));
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_CORRUPTION);
  value = 500;
  memcpy(key, &value, sizeof(value));
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);

  /* The first and the last key out of place too. */
  mt_skiplist_iter_seek_to_first(&iter);
  key = (char *)(uintptr_t)mt_skiplist_iter_key(&iter);
  value = 25;
  memcpy(key, &value, sizeof(value));
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_CORRUPTION);
  value = 10;
  memcpy(key, &value, sizeof(value));
  mt_skiplist_iter_seek_to_last(&iter);
  key = (char *)(uintptr_t)mt_skiplist_iter_key(&iter);
  value = 990;
  memcpy(key, &value, sizeof(value));
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_CORRUPTION);
  mt_arena_destroy(arena);
}

/* Rejects one particular key. */
static bool key_is_not_700(void *ctx, const char *key) {
  size_t *calls = ctx;
  (*calls)++;
  return decode_u64(key) != 700;
}

static void skiplist_test_validate_key_ok(void **state) {
  (void)state;
  mt_arena *arena = mt_arena_create(NULL);
  mt_skiplist *list = create_u64_list(arena);
  assert_non_null(list);
  for (uint64_t key = 10; key <= 600; key += 10) assert_int_equal(insert_u64(list, key), MT_OK);
  size_t calls = 0;
  assert_int_equal(mt_skiplist_validate(list, key_is_not_700, &calls), MT_OK);
  assert_int_equal(calls, 60);
  assert_int_equal(insert_u64(list, 700), MT_OK);
  assert_int_equal(mt_skiplist_validate(list, key_is_not_700, &calls), MT_CORRUPTION);
  mt_arena_destroy(arena);
}

/* Without record_key_size a node is its links and its key, nothing more: with one level, two 8-byte keys
 * allocated in a row sit one link plus one key apart. Recording sizes adds 4 bytes (padded to the links'
 * alignment). */
static void skiplist_test_node_holds_links_and_key_only(void **state) {
  (void)state;
  for (int record = 0; record < 2; record++) {
    mt_arena *arena = mt_arena_create(NULL);
    mt_skiplist_options options = MT_SKIPLIST_OPTIONS_INIT;
    options.compare = compare_u64;
    options.max_height = 1;
    options.record_key_size = record != 0;
    mt_skiplist *list = mt_skiplist_create(arena, &options);
    assert_non_null(list);
    char *first, *second;
    assert_int_equal(mt_skiplist_allocate_key(list, sizeof(uint64_t), &first), MT_OK);
    assert_int_equal(mt_skiplist_allocate_key(list, sizeof(uint64_t), &second), MT_OK);
    size_t link_size = sizeof(void *);
    size_t expected = record ? (sizeof(uint64_t) + 4 + link_size + link_size - 1) / link_size * link_size
                             : sizeof(uint64_t) + link_size;
    assert_int_equal((size_t)(second - first), expected);
    uint64_t keys[2] = {2, 1};
    memcpy(first, &keys[0], sizeof(uint64_t));
    memcpy(second, &keys[1], sizeof(uint64_t));
    assert_int_equal(mt_skiplist_insert_allocated(list, first), MT_OK);
    assert_int_equal(mt_skiplist_insert_allocated(list, second), MT_OK);
    mt_skiplist_iter iter;
    mt_skiplist_iter_init(&iter, list);
    mt_skiplist_iter_seek_to_first(&iter);
    assert_ptr_equal(mt_skiplist_iter_key(&iter), second);
    assert_int_equal(mt_skiplist_iter_key_size(&iter), record ? sizeof(uint64_t) : 0);
    assert_int_equal(mt_skiplist_iter_height(&iter), 1);
    assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);
    mt_arena_destroy(arena);
  }
}

/* With recorded sizes, validate bounds every key by its size: a size that reaches past the arena is
 * corruption. */
static void skiplist_test_validate_checks_recorded_key_size(void **state) {
  (void)state;
  mt_arena *arena = mt_arena_create(NULL);
  mt_skiplist_options options = MT_SKIPLIST_OPTIONS_INIT;
  options.compare = compare_u64;
  options.record_key_size = true;
  mt_skiplist *list = mt_skiplist_create(arena, &options);
  assert_non_null(list);
  for (uint64_t key = 10; key <= 1000; key += 10) assert_int_equal(insert_u64(list, key), MT_OK);
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);
  mt_skiplist_iter iter;
  mt_skiplist_iter_init(&iter, list);
  seek_u64(&iter, 500);
  assert_int_equal(mt_skiplist_iter_key_size(&iter), sizeof(uint64_t));
  char *size_bytes = (char *)(uintptr_t)mt_skiplist_iter_key(&iter) - sizeof(uint32_t);
  uint32_t original, huge = UINT32_MAX;
  memcpy(&original, size_bytes, sizeof(original));
  memcpy(size_bytes, &huge, sizeof(huge));
  assert_int_equal(mt_skiplist_iter_key_size(&iter), UINT32_MAX);
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_CORRUPTION);
  memcpy(size_bytes, &original, sizeof(original));
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);
  mt_arena_destroy(arena);
}

/* A duplicate refused by insert gives its node back and rewinds its height draw: the list, its arena and
 * every later node are exactly as if the duplicate had never been tried. */
static void skiplist_test_refused_duplicate_leaves_no_trace(void **state) {
  (void)state;
  mt_arena *arenas[2] = {mt_arena_create(NULL), mt_arena_create(NULL)};
  mt_skiplist *lists[2] = {create_u64_list(arenas[0]), create_u64_list(arenas[1])};
  assert_non_null(lists[0]);
  assert_non_null(lists[1]);
  leveldb_random rnd = leveldb_random_make(301);
  for (int i = 0; i < 3000; i++) {
    uint64_t key = (uint64_t)i * 7919 % 3001;
    assert_int_equal(insert_u64(lists[0], key), MT_OK);
    assert_int_equal(insert_u64(lists[1], key), MT_OK);
    /* Only the first list sees duplicates, of the key just inserted or of an earlier one. */
    size_t usage = mt_arena_memory_usage(arenas[0]);
    for (int d = 0; d < 3; d++) {
      uint64_t duplicate = leveldb_random_one_in(&rnd, 2) ? key : (uint64_t)(i / 2) * 7919 % 3001;
      assert_int_equal(insert_u64(lists[0], duplicate), MT_EXISTS);
    }
    assert_int_equal(mt_arena_memory_usage(arenas[0]), usage);
  }
  assert_int_equal(mt_arena_memory_usage(arenas[0]), mt_arena_memory_usage(arenas[1]));
  mt_skiplist_iter a, b;
  mt_skiplist_iter_init(&a, lists[0]);
  mt_skiplist_iter_init(&b, lists[1]);
  mt_skiplist_iter_seek_to_first(&a);
  mt_skiplist_iter_seek_to_first(&b);
  for (; mt_skiplist_iter_valid(&a); mt_skiplist_iter_next(&a), mt_skiplist_iter_next(&b)) {
    assert_true(mt_skiplist_iter_valid(&b));
    assert_int_equal(iter_u64(&a), iter_u64(&b));
    assert_int_equal(mt_skiplist_iter_height(&a), mt_skiplist_iter_height(&b));
  }
  assert_false(mt_skiplist_iter_valid(&b));
  assert_int_equal(mt_skiplist_validate(lists[0], NULL, NULL), MT_OK);
  mt_arena_destroy(arenas[0]);
  mt_arena_destroy(arenas[1]);
}

/* A reservation the arena refuses (here: a key beyond the capacity) rewinds its height draw as well: later
 * nodes get the heights they would have had. */
static void skiplist_test_failed_reservation_leaves_no_trace(void **state) {
  (void)state;
  mt_arena_options capped;
  mt_arena_options_init(&capped);
  capped.capacity = (size_t)1 << 20;
  mt_arena *arenas[2] = {mt_arena_create(&capped), mt_arena_create(&capped)};
  mt_skiplist *lists[2] = {create_u64_list(arenas[0]), create_u64_list(arenas[1])};
  assert_non_null(lists[0]);
  assert_non_null(lists[1]);
  for (uint64_t key = 0; key < 2000; key++) {
    char *buffer = NULL;
    if (key % 3 == 0) assert_int_equal(mt_skiplist_allocate_key(lists[0], (size_t)2 << 20, &buffer), MT_FULL);
    assert_null(buffer);
    assert_int_equal(insert_u64(lists[0], key), MT_OK);
    assert_int_equal(insert_u64(lists[1], key), MT_OK);
  }
  mt_skiplist_iter a, b;
  mt_skiplist_iter_init(&a, lists[0]);
  mt_skiplist_iter_init(&b, lists[1]);
  for (mt_skiplist_iter_seek_to_first(&a), mt_skiplist_iter_seek_to_first(&b); mt_skiplist_iter_valid(&a);
       mt_skiplist_iter_next(&a), mt_skiplist_iter_next(&b)) {
    assert_true(mt_skiplist_iter_valid(&b));
    assert_int_equal(mt_skiplist_iter_height(&a), mt_skiplist_iter_height(&b));
  }
  assert_int_equal(mt_arena_memory_usage(arenas[0]), mt_arena_memory_usage(arenas[1]));
  mt_arena_destroy(arenas[0]);
  mt_arena_destroy(arenas[1]);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(skiplist_test_invalid_arguments),
      cmocka_unit_test(skiplist_test_allocation_failure),
      cmocka_unit_test(skiplist_test_validate_detects_disorder),
      cmocka_unit_test(skiplist_test_validate_key_ok),
      cmocka_unit_test(skiplist_test_node_holds_links_and_key_only),
      cmocka_unit_test(skiplist_test_validate_checks_recorded_key_size),
      cmocka_unit_test(skiplist_test_refused_duplicate_leaves_no_trace),
      cmocka_unit_test(skiplist_test_failed_reservation_leaves_no_trace),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
