/* skiplist_concurrency_test: LevelDB's ConcurrentTest ported (same parameters): one writer, readers that
 * synchronise with nothing but the per-key generations, first interleaved on one thread, then as
 * Concurrent1-5 with a reader thread. */
#include "support/test_util.h"

#include <memtable/arena.h>
#include <memtable/skiplist.h>

#include "support/rng.h"
#include "support/thread_team.h"
#include "support/tsan.h"
#include "support/u64_list.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

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
    concurrent_reader *reader = calloc(1, sizeof(*reader));
    assert_non_null(reader);
    concurrent_test_init(&reader->test);
    assert_non_null(reader->test.list);
    reader->seed = seed + 1;
    atomic_init(&reader->running, false);
    atomic_init(&reader->quit, false);
    atomic_init(&reader->failed, false);
    thread_team reader_team;
    thread_team_start(&reader_team, concurrent_reader_main, reader, 0, 1);
    while (!atomic_load_explicit(&reader->running, memory_order_acquire)) sched_yield();
    char write_failure[256] = "";
    bool wrote = true;
    for (int i = 0; i < WRITES_PER_ROUND && wrote; i++) {
      wrote = concurrent_write_step(&reader->test, &rnd, write_failure, sizeof(write_failure));
      if (atomic_load_explicit(&reader->failed, memory_order_acquire)) break;
    }
    atomic_store_explicit(&reader->quit, true, memory_order_release);
    thread_team_join(&reader_team);
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
