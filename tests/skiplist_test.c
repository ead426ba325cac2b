/* skiplist_test: LevelDB's db/skiplist_test.cc ported (same parameters), then what a single thread sees:
 * seeks against a sorted-array model, duplicates, tower heights, the comparator's context and in-order
 * inserts, and variable-length keys written in place. Concurrent readers are skiplist_concurrency_test's;
 * refusals, failures, the node's footprint and validate are skiplist_failure_test's. */
#include "support/test_util.h"

#include <memtable/arena.h>
#include <memtable/skiplist.h>

#include "memtable/skiplist/skiplist_batch.h"

#include "support/check.h"
#include "support/rng.h"
#include "support/u64_list.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Fails the test with the seed that reproduces it and the test it ran in. */
#define CHECK_SEEDED(condition, seed) MT_CHECK_SEEDED(condition, seed, __func__)

/* The model: a sorted array of distinct keys. */
typedef struct sorted_model {
  uint64_t *keys;
  size_t count;
} sorted_model;

static int compare_u64_values(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y ? 1 : 0;
}

/* Sorts and deduplicates keys[0..count) in place. */
static sorted_model model_from(uint64_t *keys, size_t count) {
  qsort(keys, count, sizeof(*keys), compare_u64_values);
  size_t distinct = 0;
  for (size_t i = 0; i < count; i++) {
    if (distinct == 0 || keys[distinct - 1] != keys[i]) keys[distinct++] = keys[i];
  }
  sorted_model model = {keys, distinct};
  return model;
}

/* Index of the first key >= target (count when none). */
static size_t model_lower_bound(const sorted_model *model, uint64_t target) {
  size_t low = 0, high = model->count;
  while (low < high) {
    size_t middle = low + (high - low) / 2;
    if (model->keys[middle] < target) low = middle + 1;
    else high = middle;
  }
  return low;
}

static bool model_contains(const sorted_model *model, uint64_t key) {
  size_t index = model_lower_bound(model, key);
  return index < model->count && model->keys[index] == key;
}

/* Fills the list with N LevelDB-style random keys below R, returns the model of what was inserted. */
static sorted_model insert_random_keys(mt_skiplist *list, uint64_t *storage, int n, int r, uint32_t seed) {
  leveldb_random rnd = leveldb_random_make(seed);
  bool *present = calloc((size_t)r, sizeof(*present));
  assert_non_null(present);
  for (int i = 0; i < n; i++) {
    uint64_t key = leveldb_random_next(&rnd) % (uint32_t)r;
    mt_status expected = present[key] ? MT_EXISTS : MT_OK;
    CHECK_SEEDED(insert_u64(list, key) == expected, seed);
    present[key] = true;
    storage[i] = key;
  }
  free(present);
  return model_from(storage, (size_t)n);
}

static void skiplist_test_empty(void **state) {
  (void)state;
  mt_arena *arena = mt_arena_create(NULL);
  mt_skiplist *list = create_u64_list(arena);
  assert_non_null(list);
  assert_false(contains_u64(list, 10));
  assert_int_equal(mt_skiplist_count(list), 0);

  mt_skiplist_iter iter;
  mt_skiplist_iter_init(&iter, list);
  assert_false(mt_skiplist_iter_valid(&iter));
  mt_skiplist_iter_seek_to_first(&iter);
  assert_false(mt_skiplist_iter_valid(&iter));
  seek_u64(&iter, 100);
  assert_false(mt_skiplist_iter_valid(&iter));
  seek_for_prev_u64(&iter, 100);
  assert_false(mt_skiplist_iter_valid(&iter));
  mt_skiplist_iter_seek_to_last(&iter);
  assert_false(mt_skiplist_iter_valid(&iter));
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);
  mt_arena_destroy(arena);
}

static void skiplist_test_insert_and_lookup(void **state) {
  (void)state;
  enum { N = 2000, R = 5000 };
  const uint32_t seed = 1000;
  mt_arena *arena = mt_arena_create(NULL);
  mt_skiplist *list = create_u64_list(arena);
  assert_non_null(list);
  uint64_t storage[N];
  sorted_model model = insert_random_keys(list, storage, N, R, seed);
  CHECK_SEEDED(mt_skiplist_count(list) == model.count, seed);

  for (uint64_t i = 0; i < R; i++) CHECK_SEEDED(contains_u64(list, i) == model_contains(&model, i), seed);

  mt_skiplist_iter iter;
  mt_skiplist_iter_init(&iter, list);
  CHECK_SEEDED(!mt_skiplist_iter_valid(&iter), seed);
  seek_u64(&iter, 0);
  CHECK_SEEDED(mt_skiplist_iter_valid(&iter) && iter_u64(&iter) == model.keys[0], seed);
  mt_skiplist_iter_seek_to_first(&iter);
  CHECK_SEEDED(mt_skiplist_iter_valid(&iter) && iter_u64(&iter) == model.keys[0], seed);
  mt_skiplist_iter_seek_to_last(&iter);
  CHECK_SEEDED(mt_skiplist_iter_valid(&iter) && iter_u64(&iter) == model.keys[model.count - 1], seed);

  /* Forward: three steps from every seek point. */
  for (uint64_t i = 0; i < R; i++) {
    mt_skiplist_iter_init(&iter, list);
    seek_u64(&iter, i);
    size_t expected = model_lower_bound(&model, i);
    for (int step = 0; step < 3; step++, expected++) {
      if (expected == model.count) {
        CHECK_SEEDED(!mt_skiplist_iter_valid(&iter), seed);
        break;
      }
      CHECK_SEEDED(mt_skiplist_iter_valid(&iter) && iter_u64(&iter) == model.keys[expected], seed);
      mt_skiplist_iter_next(&iter);
    }
  }

  /* Backward: the whole list from the last key. */
  mt_skiplist_iter_init(&iter, list);
  mt_skiplist_iter_seek_to_last(&iter);
  for (size_t expected = model.count; expected-- > 0;) {
    CHECK_SEEDED(mt_skiplist_iter_valid(&iter) && iter_u64(&iter) == model.keys[expected], seed);
    mt_skiplist_iter_prev(&iter);
  }
  CHECK_SEEDED(!mt_skiplist_iter_valid(&iter), seed);
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);
  mt_arena_destroy(arena);
}

static void skiplist_test_seek_for_prev_matches_model(void **state) {
  (void)state;
  enum { N = 2000, R = 5000 };
  const uint32_t seed = 2024;
  mt_arena *arena = mt_arena_create(NULL);
  mt_skiplist *list = create_u64_list(arena);
  assert_non_null(list);
  uint64_t storage[N];
  sorted_model model = insert_random_keys(list, storage, N, R, seed);

  mt_skiplist_iter iter;
  mt_skiplist_iter_init(&iter, list);
  for (uint64_t target = 0; target <= R; target++) {
    seek_for_prev_u64(&iter, target);
    /* The last key <= target is just before the first key > target. */
    size_t after = model_lower_bound(&model, target + 1);
    if (after == 0) {
      CHECK_SEEDED(!mt_skiplist_iter_valid(&iter), seed);
      continue;
    }
    size_t expected = after - 1;
    CHECK_SEEDED(mt_skiplist_iter_valid(&iter) && iter_u64(&iter) == model.keys[expected], seed);
    /* Step back twice, then forward again past the start point. */
    mt_skiplist_iter_prev(&iter);
    if (expected == 0) {
      CHECK_SEEDED(!mt_skiplist_iter_valid(&iter), seed);
    } else {
      CHECK_SEEDED(mt_skiplist_iter_valid(&iter) && iter_u64(&iter) == model.keys[expected - 1], seed);
      mt_skiplist_iter_next(&iter);
      CHECK_SEEDED(mt_skiplist_iter_valid(&iter) && iter_u64(&iter) == model.keys[expected], seed);
      mt_skiplist_iter_next(&iter);
      CHECK_SEEDED(mt_skiplist_iter_valid(&iter) == (expected + 1 < model.count), seed);
    }
  }
  mt_arena_destroy(arena);
}

static bool list_equals(const mt_skiplist *list, const uint64_t *keys, size_t count) {
  mt_skiplist_iter iter;
  mt_skiplist_iter_init(&iter, list);
  mt_skiplist_iter_seek_to_first(&iter);
  for (size_t i = 0; i < count; i++, mt_skiplist_iter_next(&iter)) {
    if (!mt_skiplist_iter_valid(&iter) || iter_u64(&iter) != keys[i]) return false;
  }
  return !mt_skiplist_iter_valid(&iter);
}

static void skiplist_test_duplicate_insert_rejected(void **state) {
  (void)state;
  mt_arena *arena = mt_arena_create(NULL);
  mt_skiplist *list = create_u64_list(arena);
  assert_non_null(list);
  uint64_t expected[300];
  size_t count = 0;
  /* Ascending runs interrupted by duplicates of an earlier key, of the key just inserted, and (through
   * allocate_key) of the first key: each rejected without changing anything, and later inserts still
   * land in order. */
  for (uint64_t key = 0; key < 300; key++) {
    assert_int_equal(insert_u64(list, key * 2), MT_OK);
    expected[count++] = key * 2;
    if (key % 50 == 49) {
      assert_int_equal(insert_u64(list, key / 2 * 2), MT_EXISTS);
      assert_int_equal(insert_u64(list, key * 2), MT_EXISTS);
      char *buffer;
      assert_int_equal(mt_skiplist_allocate_key(list, sizeof(uint64_t), &buffer), MT_OK);
      uint64_t first = 0;
      memcpy(buffer, &first, sizeof(first));
      assert_int_equal(mt_skiplist_insert_allocated(list, buffer), MT_EXISTS);
      assert_int_equal(mt_skiplist_count(list), count);
      assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);
    }
  }
  /* Odd keys fill the gaps afterwards (descending, so never next to the previous insert). */
  uint64_t all[600];
  for (size_t i = 0; i < count; i++) all[i] = expected[i];
  size_t total = count;
  for (int key = 599; key > 0; key -= 2) {
    assert_int_equal(insert_u64(list, (uint64_t)key), MT_OK);
    all[total++] = (uint64_t)key;
  }
  assert_int_equal(insert_u64(list, 1), MT_EXISTS);
  sorted_model model = model_from(all, total);
  assert_int_equal(mt_skiplist_count(list), model.count);
  assert_true(list_equals(list, model.keys, model.count));
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);
  mt_arena_destroy(arena);
}

static double square_root(double x) {
  double root = x > 1.0 ? x : 1.0;
  for (int i = 0; i < 60; i++) root = 0.5 * (root + x / root);
  return root;
}

static void check_height_distribution(int max_height, int branching, int inserts, uint64_t seed) {
  mt_arena *arena = mt_arena_create(NULL);
  mt_skiplist_options options = MT_SKIPLIST_OPTIONS_INIT;
  options.compare = compare_u64;
  options.max_height = max_height;
  options.branching = branching;
  options.seed = seed;
  mt_skiplist *list = mt_skiplist_create(arena, &options);
  assert_non_null(list);
  for (int i = 0; i < inserts; i++) CHECK_SEEDED(insert_u64(list, (uint64_t)i) == MT_OK, seed);

  long observed[MT_SKIPLIST_MAX_HEIGHT_LIMIT + 1] = {0};
  mt_skiplist_iter iter;
  mt_skiplist_iter_init(&iter, list);
  for (mt_skiplist_iter_seek_to_first(&iter); mt_skiplist_iter_valid(&iter); mt_skiplist_iter_next(&iter)) {
    int height = mt_skiplist_iter_height(&iter);
    CHECK_SEEDED(height >= 1 && height <= max_height, seed);
    observed[height]++;
  }
  /* Height h has probability (1/b)^(h-1) * (1 - 1/b), the top height takes the whole tail. Allow six
   * standard deviations (plus a little for tiny expectations): loose enough never to flake for a fixed
   * seed, tight enough to catch a wrong branching factor or an off-by-one in the levels. */
  double reach = 1.0; /* probability of reaching height h */
  for (int height = 1; height <= max_height; height++) {
    double p = height == max_height ? reach : reach * (1.0 - 1.0 / branching);
    double expected = p * inserts;
    double deviation = 6.0 * square_root(expected * (1.0 - p)) + 3.0;
    double difference = (double)observed[height] - expected;
    if (difference < -deviation || difference > deviation)
      fail_msg("height %d: %ld nodes, expected %.1f +- %.1f (seed %llu)", height, observed[height], expected,
               deviation, (unsigned long long)seed);
    reach /= branching;
  }
  mt_arena_destroy(arena);
}

static void skiplist_test_height_distribution(void **state) {
  (void)state;
  check_height_distribution(MT_SKIPLIST_DEFAULT_MAX_HEIGHT, MT_SKIPLIST_DEFAULT_BRANCHING, 100000, 0xdeadbeef);
  check_height_distribution(4, 2, 100000, 7);
  check_height_distribution(1, 4, 1000, 7);
}

/* Orders by the context's direction and counts its calls (the tests that use it are single-threaded). */
typedef struct compare_context {
  bool descending;
  size_t calls;
} compare_context;

static int compare_u64_with_context(void *ctx, const char *a, const char *b) {
  compare_context *context = ctx;
  context->calls++;
  int order = compare_u64(NULL, a, b);
  return context->descending ? -order : order;
}

static void skiplist_test_comparator_context(void **state) {
  (void)state;
  enum { COUNT = 1000 };
  mt_arena *arena = mt_arena_create(NULL);
  compare_context context = {true, 0};
  mt_skiplist_options options = MT_SKIPLIST_OPTIONS_INIT;
  options.compare = compare_u64_with_context;
  options.compare_ctx = &context;
  mt_skiplist *list = mt_skiplist_create(arena, &options);
  assert_non_null(list);

  const uint32_t seed = 99;
  leveldb_random rnd = leveldb_random_make(seed);
  uint64_t keys[COUNT];
  for (size_t i = 0; i < COUNT; i++) keys[i] = leveldb_random_next(&rnd);
  sorted_model model = model_from(keys, COUNT);
  /* Insert in a shuffled order. */
  uint64_t shuffled[COUNT];
  memcpy(shuffled, model.keys, model.count * sizeof(uint64_t));
  for (size_t i = model.count; i > 1; i--) {
    size_t j = leveldb_random_next(&rnd) % i;
    uint64_t swap = shuffled[i - 1];
    shuffled[i - 1] = shuffled[j];
    shuffled[j] = swap;
  }
  for (size_t i = 0; i < model.count; i++) CHECK_SEEDED(insert_u64(list, shuffled[i]) == MT_OK, seed);
  assert_true(context.calls > 0);

  /* The list runs in the context's (descending) order. */
  mt_skiplist_iter iter;
  mt_skiplist_iter_init(&iter, list);
  mt_skiplist_iter_seek_to_first(&iter);
  for (size_t i = model.count; i-- > 0; mt_skiplist_iter_next(&iter))
    CHECK_SEEDED(mt_skiplist_iter_valid(&iter) && iter_u64(&iter) == model.keys[i], seed);
  CHECK_SEEDED(!mt_skiplist_iter_valid(&iter), seed);
  /* Under a descending order, seek (first >= target) finds the largest key not above the target. */
  seek_u64(&iter, model.keys[10] + 1);
  CHECK_SEEDED(mt_skiplist_iter_valid(&iter) && iter_u64(&iter) == model.keys[10], seed);
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);

  /* Keys that arrive in list order (here: descending values) are linked after the previous insert
   * without a search: about one comparison each, where a search from the head would need dozens. */
  mt_arena *sequential_arena = mt_arena_create(NULL);
  mt_skiplist *sequential = mt_skiplist_create(sequential_arena, &options);
  assert_non_null(sequential);
  for (uint64_t key = 100000; key > 100000 - COUNT; key--) assert_int_equal(insert_u64(sequential, key), MT_OK);
  context.calls = 0;
  for (uint64_t key = 100000 - COUNT; key > 100000 - 2 * COUNT; key--)
    assert_int_equal(insert_u64(sequential, key), MT_OK);
  if (context.calls > 2 * COUNT) fail_msg("%zu comparisons for %d in-order inserts", context.calls, COUNT);
  assert_int_equal(mt_skiplist_validate(sequential, NULL, NULL), MT_OK);
  mt_arena_destroy(sequential_arena);
  mt_arena_destroy(arena);
}

/* Variable-length keys: a varint32 length, then that many bytes; ordered bytewise, shorter first on a tie. */
static size_t encode_varint32(char *out, uint32_t value) {
  size_t length = 0;
  while (value >= 0x80) {
    out[length++] = (char)(value | 0x80);
    value >>= 7;
  }
  out[length++] = (char)value;
  return length;
}

static const char *decode_varint32(const char *in, uint32_t *value) {
  uint32_t result = 0;
  for (int shift = 0;; shift += 7) {
    uint32_t byte = (unsigned char)*in++;
    result |= (byte & 0x7f) << shift;
    if (byte < 0x80) break;
  }
  *value = result;
  return in;
}

static int compare_bytes(const char *a, size_t a_size, const char *b, size_t b_size) {
  int order = memcmp(a, b, a_size < b_size ? a_size : b_size);
  if (order != 0) return order;
  return a_size < b_size ? -1 : a_size > b_size ? 1 : 0;
}

static int compare_length_prefixed(void *ctx, const char *a, const char *b) {
  (void)ctx;
  uint32_t a_size, b_size;
  a = decode_varint32(a, &a_size);
  b = decode_varint32(b, &b_size);
  return compare_bytes(a, a_size, b, b_size);
}

typedef struct test_string {
  char bytes[300];
  size_t size;
} test_string;

static int compare_test_strings(const void *a, const void *b) {
  const test_string *x = a, *y = b;
  return compare_bytes(x->bytes, x->size, y->bytes, y->size);
}

static void check_variable_length_keys(bool record_key_size) {
  enum { COUNT = 500 };
  const uint32_t seed = 4242;
  leveldb_random rnd = leveldb_random_make(seed);
  test_string *strings = calloc(COUNT, sizeof(*strings));
  assert_non_null(strings);
  /* Lengths 0..299 (one- and two-byte prefixes) over a small alphabet, so prefixes and ties are common. */
  for (size_t i = 0; i < COUNT; i++) {
    strings[i].size = i < 300 ? i : leveldb_random_next(&rnd) % 300;
    for (size_t j = 0; j < strings[i].size; j++) strings[i].bytes[j] = (char)('a' + leveldb_random_next(&rnd) % 3);
  }

  mt_arena *arena = mt_arena_create(NULL);
  mt_skiplist_options options = MT_SKIPLIST_OPTIONS_INIT;
  options.compare = compare_length_prefixed;
  options.record_key_size = record_key_size;
  mt_skiplist *list = mt_skiplist_create(arena, &options);
  assert_non_null(list);
  char encoded[310];
  for (size_t i = 0; i < COUNT; i++) {
    size_t prefix = encode_varint32(encoded, (uint32_t)strings[i].size);
    memcpy(encoded + prefix, strings[i].bytes, strings[i].size);
    size_t size = prefix + strings[i].size;
    bool duplicate = mt_skiplist_contains(list, encoded);
    char *key;
    CHECK_SEEDED(mt_skiplist_allocate_key(list, size, &key) == MT_OK, seed);
    memcpy(key, encoded, size);
    CHECK_SEEDED(mt_skiplist_insert_allocated(list, key) == (duplicate ? MT_EXISTS : MT_OK), seed);
    if (i % 100 == 0) {
      /* Reserved and never inserted: wasted arena space, nothing else. */
      CHECK_SEEDED(mt_skiplist_allocate_key(list, 17, &key) == MT_OK, seed);
    }
  }
  qsort(strings, COUNT, sizeof(*strings), compare_test_strings);
  size_t distinct = 0;
  for (size_t i = 0; i < COUNT; i++) {
    if (distinct == 0 || compare_test_strings(&strings[distinct - 1], &strings[i]) != 0)
      strings[distinct++] = strings[i];
  }
  CHECK_SEEDED(mt_skiplist_count(list) == distinct, seed);

  mt_skiplist_iter iter;
  mt_skiplist_iter_init(&iter, list);
  mt_skiplist_iter_seek_to_first(&iter);
  for (size_t i = 0; i < distinct; i++, mt_skiplist_iter_next(&iter)) {
    CHECK_SEEDED(mt_skiplist_iter_valid(&iter), seed);
    uint32_t size;
    const char *key = mt_skiplist_iter_key(&iter);
    const char *bytes = decode_varint32(key, &size);
    CHECK_SEEDED(size == strings[i].size && memcmp(bytes, strings[i].bytes, size) == 0, seed);
    size_t expected_size = record_key_size ? (size_t)(bytes - key) + size : 0;
    CHECK_SEEDED(mt_skiplist_iter_key_size(&iter) == expected_size, seed);
  }
  CHECK_SEEDED(!mt_skiplist_iter_valid(&iter), seed);

  /* Seek to a string between neighbours: the string with one more byte ("\0" sorts first). */
  for (size_t i = 0; i + 1 < distinct; i++) {
    size_t prefix = encode_varint32(encoded, (uint32_t)strings[i].size + 1);
    memcpy(encoded + prefix, strings[i].bytes, strings[i].size);
    encoded[prefix + strings[i].size] = '\0';
    mt_skiplist_iter_seek(&iter, encoded);
    CHECK_SEEDED(mt_skiplist_iter_valid(&iter), seed);
    uint32_t size;
    const char *bytes = decode_varint32(mt_skiplist_iter_key(&iter), &size);
    CHECK_SEEDED(compare_bytes(bytes, size, strings[i + 1].bytes, strings[i + 1].size) == 0, seed);
  }
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);
  mt_arena_destroy(arena);
  free(strings);
}

static void skiplist_test_variable_length_keys(void **state) {
  (void)state;
  check_variable_length_keys(true);
  check_variable_length_keys(false);
}

/* A key inserted twice through insert_allocated is refused the second time and changes nothing. */
static void skiplist_test_insert_allocated_twice(void **state) {
  (void)state;
  mt_arena *arena = mt_arena_create(NULL);
  mt_skiplist *list = create_u64_list(arena);
  assert_non_null(list);
  for (uint64_t value = 1; value <= 100; value++) {
    char *key;
    assert_int_equal(mt_skiplist_allocate_key(list, sizeof(value), &key), MT_OK);
    memcpy(key, &value, sizeof(value));
    assert_int_equal(mt_skiplist_insert_allocated(list, key), MT_OK);
    assert_int_equal(mt_skiplist_insert_allocated(list, key), MT_EXISTS);
  }
  assert_int_equal(mt_skiplist_count(list), 100);
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);
  mt_arena_destroy(arena);
}

static void skiplist_test_seek_with_predecessor_matches_model(void **state) {
  (void)state;
  enum { N = 2000, R = 5000 };
  const uint32_t seed = 2025;
  mt_arena *arena = mt_arena_create(NULL);
  mt_skiplist *list = create_u64_list(arena);
  assert_non_null(list);
  uint64_t storage[N];
  sorted_model model = insert_random_keys(list, storage, N, R, seed);

  mt_skiplist_iter iter, predecessor;
  mt_skiplist_iter_init(&iter, list);
  for (uint64_t target = 0; target <= R; target++) {
    char bytes[sizeof(target)];
    memcpy(bytes, &target, sizeof(target));
    mt_skiplist_iter_seek_with_predecessor(&iter, bytes, &predecessor);
    /* The first key >= target, and the last key < target: the two sides of target's gap. */
    size_t first = model_lower_bound(&model, target);
    if (first == model.count) {
      CHECK_SEEDED(!mt_skiplist_iter_valid(&iter), seed);
    } else {
      CHECK_SEEDED(mt_skiplist_iter_valid(&iter) && iter_u64(&iter) == model.keys[first], seed);
    }
    if (first == 0) {
      CHECK_SEEDED(!mt_skiplist_iter_valid(&predecessor), seed);
    } else {
      CHECK_SEEDED(mt_skiplist_iter_valid(&predecessor) && iter_u64(&predecessor) == model.keys[first - 1], seed);
      /* The predecessor is an ordinary iterator: its next is the landing. */
      mt_skiplist_iter_next(&predecessor);
      CHECK_SEEDED(mt_skiplist_iter_valid(&predecessor) == (first < model.count), seed);
    }
  }
  mt_skiplist_iter_seek_with_predecessor(&iter, NULL, &predecessor);
  assert_false(mt_skiplist_iter_valid(&iter));
  assert_false(mt_skiplist_iter_valid(&predecessor));
  mt_arena_destroy(arena);
}

/* Interleaved searches find what one search finds; inserting from those positions, in any order and after
 * other inserts made them stale, builds the same list as plain inserts (duplicates refused alike). */
static void skiplist_test_batch_positions_insert_like_plain_inserts(void **state) {
  (void)state;
  enum { BATCHES = 200, BATCH = 37, RANGE = 3000 };
  const uint32_t seed = 77;
  leveldb_random rnd = leveldb_random_make(seed);
  mt_arena *arenas[2] = {mt_arena_create(NULL), mt_arena_create(NULL)};
  mt_skiplist *batched = create_u64_list(arenas[0]);
  mt_skiplist *plain = create_u64_list(arenas[1]);
  assert_non_null(batched);
  assert_non_null(plain);
  static mti_skiplist_position positions[BATCH];
  for (int b = 0; b < BATCHES; b++) {
    uint64_t keys[BATCH];
    char bytes[BATCH][sizeof(uint64_t)];
    const char *targets[BATCH];
    for (int i = 0; i < BATCH; i++) {
      keys[i] = leveldb_random_next(&rnd) % RANGE; /* repeats within and across batches */
      memcpy(bytes[i], &keys[i], sizeof(keys[i]));
      targets[i] = bytes[i];
    }
    mti_skiplist_find_positions(batched, targets, BATCH, positions);
    for (int i = 0; i < BATCH; i++) {
      /* Each position brackets its key as a plain seek does. */
      mt_skiplist_iter iter;
      mt_skiplist_iter_init(&iter, batched);
      seek_u64(&iter, keys[i]);
      const void *after = positions[i].after[0];
      CHECK_SEEDED(after == NULL ? !mt_skiplist_iter_valid(&iter)
                                 : mt_skiplist_iter_valid(&iter) && (const void *)mt_skiplist_iter_key(&iter) == after,
                   seed);
    }
    for (int i = 0; i < BATCH; i++) {
      char *buffer;
      assert_int_equal(mt_skiplist_allocate_key(batched, sizeof(uint64_t), &buffer), MT_OK);
      memcpy(buffer, &keys[i], sizeof(keys[i]));
      /* Every third insert uses another key's position: it must notice and search instead. */
      const mti_skiplist_position *position = &positions[i % 3 == 2 ? (i + 1) % BATCH : i];
      mt_status got = mti_skiplist_insert_allocated_at(batched, buffer, position);
      mt_status expected = insert_u64(plain, keys[i]);
      CHECK_SEEDED(got == expected, seed);
    }
  }
  assert_int_equal(mt_skiplist_count(batched), mt_skiplist_count(plain));
  mt_skiplist_iter a, b;
  mt_skiplist_iter_init(&a, batched);
  mt_skiplist_iter_init(&b, plain);
  for (mt_skiplist_iter_seek_to_first(&a), mt_skiplist_iter_seek_to_first(&b); mt_skiplist_iter_valid(&a);
       mt_skiplist_iter_next(&a), mt_skiplist_iter_next(&b)) {
    assert_true(mt_skiplist_iter_valid(&b));
    assert_int_equal(iter_u64(&a), iter_u64(&b));
  }
  assert_false(mt_skiplist_iter_valid(&b));
  assert_int_equal(mt_skiplist_validate(batched, NULL, NULL), MT_OK);
  /* Refused duplicates gave their nodes back: both arenas hold the same. */
  assert_int_equal(mt_arena_memory_usage(arenas[0]), mt_arena_memory_usage(arenas[1]));
  mt_arena_destroy(arenas[0]);
  mt_arena_destroy(arenas[1]);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(skiplist_test_empty),
      cmocka_unit_test(skiplist_test_insert_and_lookup),
      cmocka_unit_test(skiplist_test_seek_for_prev_matches_model),
      cmocka_unit_test(skiplist_test_duplicate_insert_rejected),
      cmocka_unit_test(skiplist_test_height_distribution),
      cmocka_unit_test(skiplist_test_comparator_context),
      cmocka_unit_test(skiplist_test_variable_length_keys),
      cmocka_unit_test(skiplist_test_insert_allocated_twice),
      cmocka_unit_test(skiplist_test_seek_with_predecessor_matches_model),
      cmocka_unit_test(skiplist_test_batch_positions_insert_like_plain_inserts),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
