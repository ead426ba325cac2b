/* skiplist_concurrency_test: LevelDB's ConcurrentTest ported (same parameters): one writer, readers that
 * synchronise with nothing but the per-key generations, first interleaved on one thread, then as
 * Concurrent1-5 with a reader thread. */
#include "support/test_util.h"

#include <memtable/arena.h>
#include <memtable/skiplist.h>

#include "support/generation_check.h"
#include "support/rng.h"
#include "support/tsan.h"
#include "support/u64_list.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* LevelDB's ConcurrentTest (support/generation_check.h) with one writer: a reader must see every key that was
 * present when its pass began (it may also see newer ones) and never move backwards. */
enum { CONCURRENT_KEYS = 4 }; /* LevelDB's K */

static void concurrent_test_init(generation_check *test) {
  generation_check_init(test, CONCURRENT_KEYS);
  test->arena = mt_arena_create(NULL);
  test->list = test->arena == NULL ? NULL : create_u64_list(test->arena);
}

/* Writer only. False (with the reason in failure) if the insert did not succeed. */
static bool concurrent_write_step(generation_check *test, leveldb_random *rnd, char *failure, size_t failure_size) {
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

static void skiplist_test_concurrent_without_threads(void **state) {
  (void)state;
  const uint32_t seed = 301; /* LevelDB's default test::RandomSeed() */
  generation_check test;
  concurrent_test_init(&test);
  assert_non_null(test.list);
  leveldb_random rnd = leveldb_random_make(seed);
  char failure[256] = "";
  for (int i = 0; i < 10000; i++) {
    if (!generation_read_step(&test, &rnd, failure, sizeof(failure)) ||
        !concurrent_write_step(&test, &rnd, failure, sizeof(failure)))
      fail_msg("step %d: %s (seed %u)", i, failure, seed);
  }
  assert_int_equal(mt_skiplist_count(test.list), 10000);
  assert_int_equal(mt_skiplist_validate(test.list, NULL, NULL), MT_OK);
  mt_arena_destroy(test.arena);
}

/* ThreadSanitizer slows each round about tenfold (more on a loaded machine); a race shows in far fewer. */
#ifdef MT_TEST_UNDER_TSAN
#define CONCURRENT_ROUNDS 100
#else
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
    generation_check *test = calloc(1, sizeof(*test));
    generation_reader *reader = calloc(1, sizeof(*reader));
    assert_non_null(test);
    assert_non_null(reader);
    concurrent_test_init(test);
    assert_non_null(test->list);
    generation_reader_start(reader, test, seed + 1);
    char write_failure[256] = "";
    bool wrote = true;
    for (int i = 0; i < WRITES_PER_ROUND && wrote; i++) {
      wrote = concurrent_write_step(test, &rnd, write_failure, sizeof(write_failure));
      if (generation_reader_failed(reader)) break;
    }
    bool read = generation_reader_stop(reader);
    if (!wrote) fail_msg("round %d: writer: %s (seed %u)", round, write_failure, seed);
    if (!read) fail_msg("round %d: reader: %s (seed %u)", round, reader->failure, seed);
    assert_int_equal(mt_skiplist_validate(test->list, NULL, NULL), MT_OK);
    assert_int_equal(mt_skiplist_count(test->list), WRITES_PER_ROUND);
    passes += reader->passes;
    mt_arena_destroy(test->arena);
    free(reader);
    free(test);
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

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(skiplist_test_concurrent_without_threads),
      cmocka_unit_test(skiplist_test_concurrent_1),
      cmocka_unit_test(skiplist_test_concurrent_2),
      cmocka_unit_test(skiplist_test_concurrent_3),
      cmocka_unit_test(skiplist_test_concurrent_4),
      cmocka_unit_test(skiplist_test_concurrent_5),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
