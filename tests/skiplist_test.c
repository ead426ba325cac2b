/* skiplist_test: LevelDB's db/skiplist_test.cc ported (same parameters), then the cases it lacks. */
#include "support/test_util.h"

#include <memtable/arena.h>
#include <memtable/skiplist.h>

#include "support/allocator.h"
#include "support/check.h"
#include "support/rng.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fails the test with the seed that reproduces it and the test it ran in. */
#define CHECK_SEEDED(condition, seed) MT_CHECK_SEEDED(condition, seed, __func__)

/* Keys of these tests are 8-byte integers stored in native byte order. */
static uint64_t decode_u64(const char *key) {
  uint64_t value;
  memcpy(&value, key, sizeof(value));
  return value;
}

static int compare_u64(void *ctx, const char *a, const char *b) {
  (void)ctx;
  uint64_t x = decode_u64(a), y = decode_u64(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

static mt_skiplist *create_u64_list(mt_arena *arena) {
  mt_skiplist_options options = MT_SKIPLIST_OPTIONS_INIT;
  options.compare = compare_u64;
  return mt_skiplist_create(arena, &options);
}

static mt_status insert_u64(mt_skiplist *list, uint64_t key) { return mt_skiplist_insert(list, &key, sizeof(key)); }

static bool contains_u64(const mt_skiplist *list, uint64_t key) {
  char bytes[sizeof(key)];
  memcpy(bytes, &key, sizeof(key));
  return mt_skiplist_contains(list, bytes);
}

static void seek_u64(mt_skiplist_iter *iter, uint64_t target) {
  char bytes[sizeof(target)];
  memcpy(bytes, &target, sizeof(target));
  mt_skiplist_iter_seek(iter, bytes);
}

static void seek_for_prev_u64(mt_skiplist_iter *iter, uint64_t target) {
  char bytes[sizeof(target)];
  memcpy(bytes, &target, sizeof(target));
  mt_skiplist_iter_seek_for_prev(iter, bytes);
}

static uint64_t iter_u64(const mt_skiplist_iter *iter) { return decode_u64(mt_skiplist_iter_key(iter)); }

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

/* LevelDB's ConcurrentTest. With one writer and readers that synchronise with nothing but the per-key
 * generations, a reader must see every key that was present when its pass began (it may also see newer
 * ones) and never move backwards. Keys pack <k, generation, hash(k, generation)>: the writer inserts, for
 * a random k, the next generation of k, then publishes that generation with a release store; a reader
 * snapshots the generations with acquire loads before a pass, so every key up to those generations must
 * be found. */
enum { CONCURRENT_KEYS = 4 }; /* LevelDB's K */

static uint64_t packed_k(uint64_t key) { return key >> 40; }
static uint64_t packed_generation(uint64_t key) { return (key >> 8) & 0xffffffffu; }
static uint64_t packed_hash(uint64_t key) { return key & 0xff; }

static uint64_t hash_numbers(uint64_t k, uint64_t generation) {
  return mt_mix64(k * UINT64_C(0x9e3779b97f4a7c15) ^ generation);
}

static uint64_t make_packed_key(uint64_t k, uint64_t generation) {
  return (k << 40) | (generation << 8) | (hash_numbers(k, generation) & 0xff);
}

static bool packed_key_is_valid(uint64_t key) {
  return packed_hash(key) == (hash_numbers(packed_k(key), packed_generation(key)) & 0xff);
}

static uint64_t random_target(leveldb_random *rnd) {
  switch (leveldb_random_next(rnd) % 10) {
    case 0: return make_packed_key(0, 0);
    case 1: return make_packed_key(CONCURRENT_KEYS, 0); /* past the end */
    default: return make_packed_key(leveldb_random_next(rnd) % CONCURRENT_KEYS, 0);
  }
}

typedef struct concurrent_test {
  /* Written by the writer (release), read by readers (acquire): a reader that sees generation g of k
   * also sees the insert of every key of k up to g. */
  _Atomic uint32_t generation[CONCURRENT_KEYS];
  mt_arena *arena;
  mt_skiplist *list;
} concurrent_test;

static void concurrent_test_init(concurrent_test *test) {
  for (int k = 0; k < CONCURRENT_KEYS; k++) atomic_init(&test->generation[k], 0);
  test->arena = mt_arena_create(NULL);
  test->list = test->arena == NULL ? NULL : create_u64_list(test->arena);
}

/* Writer only. False (with the reason in failure) if the insert did not succeed. */
static bool concurrent_write_step(concurrent_test *test, leveldb_random *rnd, char *failure, size_t failure_size) {
  uint32_t k = leveldb_random_next(rnd) % CONCURRENT_KEYS;
  /* Relaxed: the writer reads back its own store. */
  uint32_t generation = atomic_load_explicit(&test->generation[k], memory_order_relaxed) + 1;
  mt_status status = insert_u64(test->list, make_packed_key(k, generation));
  if (status != MT_OK) {
    snprintf(failure, failure_size, "insert of k=%u gen=%u returned %s", k, generation, mt_status_str(status));
    return false;
  }
  /* Release: publishes the insert above to readers that acquire this generation. */
  atomic_store_explicit(&test->generation[k], generation, memory_order_release);
  return true;
}

/* One reader pass; runs on any thread, so it reports instead of asserting. */
static bool concurrent_read_step(concurrent_test *test, leveldb_random *rnd, char *failure, size_t failure_size) {
  uint32_t initial[CONCURRENT_KEYS];
  for (int k = 0; k < CONCURRENT_KEYS; k++) {
    /* Acquire: pairs with the writer's release, so every key up to this generation must be visible. */
    initial[k] = atomic_load_explicit(&test->generation[k], memory_order_acquire);
  }
  uint64_t pos = random_target(rnd);
  mt_skiplist_iter iter;
  mt_skiplist_iter_init(&iter, test->list);
  seek_u64(&iter, pos);
  for (;;) {
    uint64_t current;
    if (!mt_skiplist_iter_valid(&iter)) {
      current = make_packed_key(CONCURRENT_KEYS, 0);
    } else {
      current = iter_u64(&iter);
      if (!packed_key_is_valid(current)) {
        snprintf(failure, failure_size, "invalid key %#llx", (unsigned long long)current);
        return false;
      }
    }
    if (pos > current) {
      snprintf(failure, failure_size, "went backwards: pos %#llx, current %#llx", (unsigned long long)pos,
               (unsigned long long)current);
      return false;
    }
    /* Nothing in [pos, current) may have been present when the pass began (generation 0 never is). */
    while (pos < current) {
      if (packed_k(pos) >= CONCURRENT_KEYS) {
        snprintf(failure, failure_size, "position %#llx beyond the key space", (unsigned long long)pos);
        return false;
      }
      if (packed_generation(pos) != 0 && packed_generation(pos) <= initial[packed_k(pos)]) {
        snprintf(failure, failure_size, "skipped k=%llu gen=%llu present at start (initial gen %u)",
                 (unsigned long long)packed_k(pos), (unsigned long long)packed_generation(pos),
                 initial[packed_k(pos)]);
        return false;
      }
      if (packed_k(pos) < packed_k(current)) pos = make_packed_key(packed_k(pos) + 1, 0);
      else pos = make_packed_key(packed_k(pos), packed_generation(pos) + 1);
    }
    if (!mt_skiplist_iter_valid(&iter)) return true;
    if (leveldb_random_next(rnd) % 2) {
      mt_skiplist_iter_next(&iter);
      pos = make_packed_key(packed_k(pos), packed_generation(pos) + 1);
    } else {
      uint64_t new_target = random_target(rnd);
      if (new_target > pos) {
        pos = new_target;
        seek_u64(&iter, new_target);
      }
    }
  }
}

static void skiplist_test_concurrent_without_threads(void **state) {
  (void)state;
  const uint32_t seed = 301; /* LevelDB's default test::RandomSeed() */
  concurrent_test test;
  concurrent_test_init(&test);
  assert_non_null(test.list);
  leveldb_random rnd = leveldb_random_make(seed);
  char failure[256] = "";
  for (int i = 0; i < 10000; i++) {
    if (!concurrent_read_step(&test, &rnd, failure, sizeof(failure)) ||
        !concurrent_write_step(&test, &rnd, failure, sizeof(failure)))
      fail_msg("step %d: %s (seed %u)", i, failure, seed);
  }
  assert_int_equal(mt_skiplist_count(test.list), 10000);
  assert_int_equal(mt_skiplist_validate(test.list, NULL, NULL), MT_OK);
  mt_arena_destroy(test.arena);
}

typedef struct concurrent_reader {
  concurrent_test test;
  uint32_t seed;
  atomic_bool running; /* set by the reader once started */
  atomic_bool quit;    /* set by the writer when done */
  atomic_bool failed;  /* set by the reader; failure holds the reason */
  char failure[256];
  long passes;
} concurrent_reader;

static void *concurrent_reader_main(void *arg) {
  concurrent_reader *reader = arg;
  leveldb_random rnd = leveldb_random_make(reader->seed);
  /* Release/acquire on these flags only order the test's own handshake, not the list. */
  atomic_store_explicit(&reader->running, true, memory_order_release);
  while (!atomic_load_explicit(&reader->quit, memory_order_acquire)) {
    if (!concurrent_read_step(&reader->test, &rnd, reader->failure, sizeof(reader->failure))) {
      atomic_store_explicit(&reader->failed, true, memory_order_release);
      break;
    }
    reader->passes++;
  }
  return NULL;
}

/* ThreadSanitizer slows each round about tenfold (more on a loaded machine); a race shows in far fewer. */
#if defined(__SANITIZE_THREAD__)
#define CONCURRENT_ROUNDS 100
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CONCURRENT_ROUNDS 100
#endif
#endif
#ifndef CONCURRENT_ROUNDS
#define CONCURRENT_ROUNDS 1000 /* LevelDB's N */
#endif

/* LevelDB's RunConcurrent: N rounds, each a fresh list that one writer fills with kSize keys while one
 * reader thread runs passes until the writer is done. */
static void run_concurrent(int run) {
  enum { ROUNDS = CONCURRENT_ROUNDS, WRITES_PER_ROUND = 1000 }; /* LevelDB's N and kSize */
  const uint32_t seed = 301 + (uint32_t)run * 100;
  leveldb_random rnd = leveldb_random_make(seed);
  long passes = 0;
  for (int round = 0; round < ROUNDS; round++) {
    concurrent_reader *reader = calloc(1, sizeof(*reader));
    assert_non_null(reader);
    concurrent_test_init(&reader->test);
    assert_non_null(reader->test.list);
    reader->seed = seed + 1;
    atomic_init(&reader->running, false);
    atomic_init(&reader->quit, false);
    atomic_init(&reader->failed, false);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, concurrent_reader_main, reader), 0);
    while (!atomic_load_explicit(&reader->running, memory_order_acquire)) sched_yield();
    char write_failure[256] = "";
    bool wrote = true;
    for (int i = 0; i < WRITES_PER_ROUND && wrote; i++) {
      wrote = concurrent_write_step(&reader->test, &rnd, write_failure, sizeof(write_failure));
      if (atomic_load_explicit(&reader->failed, memory_order_acquire)) break;
    }
    atomic_store_explicit(&reader->quit, true, memory_order_release);
    assert_int_equal(pthread_join(thread, NULL), 0);
    if (!wrote) fail_msg("round %d: writer: %s (seed %u)", round, write_failure, seed);
    if (atomic_load_explicit(&reader->failed, memory_order_acquire))
      fail_msg("round %d: reader: %s (seed %u)", round, reader->failure, seed);
    assert_int_equal(mt_skiplist_validate(reader->test.list, NULL, NULL), MT_OK);
    assert_int_equal(mt_skiplist_count(reader->test.list), WRITES_PER_ROUND);
    passes += reader->passes;
    mt_arena_destroy(reader->test.arena);
    free(reader);
  }
  print_message("concurrent run %d: %d rounds, %ld reader passes\n", run, ROUNDS, passes);
}

static void skiplist_test_concurrent_1(void **state) {
  (void)state;
  run_concurrent(1);
}

static void skiplist_test_concurrent_2(void **state) {
  (void)state;
  run_concurrent(2);
}

static void skiplist_test_concurrent_3(void **state) {
  (void)state;
  run_concurrent(3);
}

static void skiplist_test_concurrent_4(void **state) {
  (void)state;
  run_concurrent(4);
}

static void skiplist_test_concurrent_5(void **state) {
  (void)state;
  run_concurrent(5);
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
      cmocka_unit_test(skiplist_test_empty),
      cmocka_unit_test(skiplist_test_insert_and_lookup),
      cmocka_unit_test(skiplist_test_concurrent_without_threads),
      cmocka_unit_test(skiplist_test_concurrent_1),
      cmocka_unit_test(skiplist_test_concurrent_2),
      cmocka_unit_test(skiplist_test_concurrent_3),
      cmocka_unit_test(skiplist_test_concurrent_4),
      cmocka_unit_test(skiplist_test_concurrent_5),
      cmocka_unit_test(skiplist_test_seek_for_prev_matches_model),
      cmocka_unit_test(skiplist_test_duplicate_insert_rejected),
      cmocka_unit_test(skiplist_test_height_distribution),
      cmocka_unit_test(skiplist_test_comparator_context),
      cmocka_unit_test(skiplist_test_invalid_arguments),
      cmocka_unit_test(skiplist_test_allocation_failure),
      cmocka_unit_test(skiplist_test_validate_detects_disorder),
      cmocka_unit_test(skiplist_test_validate_key_ok),
      cmocka_unit_test(skiplist_test_variable_length_keys),
      cmocka_unit_test(skiplist_test_node_holds_links_and_key_only),
      cmocka_unit_test(skiplist_test_insert_allocated_twice),
      cmocka_unit_test(skiplist_test_validate_checks_recorded_key_size),
      cmocka_unit_test(skiplist_test_seek_with_predecessor_matches_model),
      cmocka_unit_test(skiplist_test_refused_duplicate_leaves_no_trace),
      cmocka_unit_test(skiplist_test_failed_reservation_leaves_no_trace),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
