/* skiplist_concurrent_insert_test: many writers on one list (concurrent_inserts). RocksDB's
 * memtable/inlineskiplist_test.cc ConcurrentInsertWithoutThreads and ConcurrentInsert1-3 ported (same key
 * packing, same per-key generations, same reader check, same parameters but the round count), LevelDB's
 * Concurrent1-5 (single-writer in skiplist_concurrency_test) extended to 2-4 writers that race, and the
 * same key inserted by several threads at once. */
#define _POSIX_C_SOURCE 200809L
#include "support/test_util.h"

#include <memtable/arena.h>
#include <memtable/skiplist.h>

#include "memtable/skiplist/skiplist_batch.h"

#include "support/generation_check.h"
#include "support/rng.h"
#include "support/same_entry_race.h"
#include "support/tsan.h"
#include "support/thread_gate.h"
#include "support/thread_team.h"
#include "support/u64_list.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* LevelDB's and RocksDB's ConcurrentTest (support/generation_check.h): each k has one writer at a time,
 * whatever the interleaving of the writers of different k's, and the readers' check holds throughout. */
enum { ROCKSDB_KEYS = 8, LEVELDB_KEYS = 4 };

static bool concurrent_test_init(generation_check *test, unsigned keys) {
  generation_check_init(test, keys);
  mt_arena_options arena_options = MT_ARENA_OPTIONS_INIT;
  arena_options.concurrent = true;
  test->arena = mt_arena_create(&arena_options);
  if (test->arena == NULL) return false;
  mt_skiplist_options options = MT_SKIPLIST_OPTIONS_INIT;
  options.compare = compare_u64;
  options.concurrent_inserts = true;
  test->list = mt_skiplist_create(test->arena, &options);
  return test->list != NULL;
}

/* RocksDB's ConcurrentWriteStep: inserts the next generation of k through allocate_key + insert_allocated.
 * Requires that no other thread writes k at the same time (other k's may be written concurrently). */
static bool concurrent_write_step(generation_check *test, uint32_t k, char *failure, size_t failure_size) {
  /* Relaxed: only this thread writes k now, and it reads back the last store to it (ordered before by the
   * hand-over that gave it k). */
  uint32_t generation = atomic_load_explicit(&test->generation[k], memory_order_relaxed) + 1;
  uint64_t key = make_packed_key(k, generation);
  char *buffer = NULL;
  mt_status status = mt_skiplist_allocate_key(test->list, sizeof(key), &buffer);
  if (status == MT_OK) {
    memcpy(buffer, &key, sizeof(key));
    status = mt_skiplist_insert_allocated(test->list, buffer);
  }
  if (status != MT_OK) {
    snprintf(failure, failure_size, "insert of k=%u gen=%u returned %s", k, generation, mt_status_str(status));
    return false;
  }
  uint32_t now = atomic_load_explicit(&test->generation[k], memory_order_relaxed);
  if (now + 1 != generation) {
    snprintf(failure, failure_size, "k=%u was written by another thread meanwhile (gen %u, expected %u)", k, now,
             generation - 1);
    return false;
  }
  /* Release: publishes the insert above to readers that acquire this generation. */
  atomic_store_explicit(&test->generation[k], generation, memory_order_release);
  return true;
}

/* RocksDB's ConcurrentInsertWithoutThreads: the concurrent insert path, interleaved with reads on one thread. */
static void skiplist_test_concurrent_insert_without_threads(void **state) {
  (void)state;
  const uint32_t seed = 301; /* RocksDB's default test::RandomSeed() */
  generation_check test;
  assert_true(concurrent_test_init(&test, ROCKSDB_KEYS));
  leveldb_random rnd = leveldb_random_make(seed);
  char failure[256] = "";
  for (int i = 0; i < 10000; i++) {
    if (!generation_read_step(&test, &rnd, failure, sizeof(failure))) fail_msg("step %d: %s (seed %u)", i, failure, seed);
    uint32_t base = leveldb_random_next(&rnd);
    for (uint32_t j = 0; j < 4; j++) {
      if (!concurrent_write_step(&test, (base + j) % ROCKSDB_KEYS, failure, sizeof(failure)))
        fail_msg("step %d: %s (seed %u)", i, failure, seed);
    }
  }
  assert_int_equal(mt_skiplist_count(test.list), 40000);
  assert_int_equal(mt_skiplist_validate(test.list, NULL, NULL), MT_OK);
  mt_arena_destroy(test.arena);
}

/* ThreadSanitizer slows each round about tenfold (more on a loaded machine); a race shows in far fewer. */
#ifdef MT_TEST_UNDER_TSAN
#define CONCURRENT_ROUNDS 10
#else
#define CONCURRENT_ROUNDS 100 /* RocksDB's and LevelDB's N is 1000: ten times the run time for no new interleaving kind */
#endif

enum { WRITES_PER_ROUND = 1000, MAX_WRITERS = 4 }; /* kSize */

/* The shared state of a round: RocksDB's TestState, with a gate instead of its thread pool's scheduling. */
typedef struct round_state {
  generation_check test;
  generation_reader reader;
  atomic_bool failed;        /* set by a writer; failure holds the first reason */
  atomic_flag failure_taken;
  char failure[256];
  /* RocksDB's batches: the main thread sets next_writer, then every writer takes the next k from it, so the
   * writers of one batch hold distinct k's (write_parallelism <= K). */
  _Atomic uint32_t next_writer;
  thread_gate gate;          /* main + writers: batch start and batch end */
  bool stop_writers;         /* written by main before a batch start, read by writers after it */
  /* LevelDB-style free-running writers. */
  unsigned writers;
  uint32_t writer_seed;
  int writes_per_writer;
} round_state;

typedef struct writer_arg {
  round_state *round;
  unsigned index;
} writer_arg;

static void report_failure(round_state *round, const char *who, const char *reason) {
  if (!atomic_flag_test_and_set_explicit(&round->failure_taken, memory_order_acq_rel))
    snprintf(round->failure, sizeof(round->failure), "%s: %.200s", who, reason);
  atomic_store_explicit(&round->failed, true, memory_order_release);
}

/* RocksDB's ConcurrentWriter, run once per batch by a pooled thread. */
static void *batch_writer_main(void *arg) {
  round_state *round = arg;
  char failure[256];
  for (;;) {
    thread_gate_wait(&round->gate); /* batch start */
    if (round->stop_writers) return NULL;
    uint32_t k = atomic_fetch_add_explicit(&round->next_writer, 1, memory_order_relaxed) % ROCKSDB_KEYS;
    if (!concurrent_write_step(&round->test, k, failure, sizeof(failure))) report_failure(round, "writer", failure);
    thread_gate_wait(&round->gate); /* batch end */
  }
}

/* A round with its reader thread started. */
static round_state *round_create(unsigned keys, uint32_t reader_seed) {
  round_state *round = calloc(1, sizeof(*round));
  assert_non_null(round);
  assert_true(concurrent_test_init(&round->test, keys));
  atomic_init(&round->failed, false);
  atomic_flag_clear(&round->failure_taken);
  atomic_init(&round->next_writer, 0);
  generation_reader_start(&round->reader, &round->test, reader_seed);
  return round;
}

static bool round_failed(round_state *round) {
  return atomic_load_explicit(&round->failed, memory_order_acquire) || generation_reader_failed(&round->reader);
}

static void round_finish(round_state *round, int round_index, uint32_t seed, size_t expected) {
  if (!generation_reader_stop(&round->reader))
    fail_msg("round %d: reader: %s (seed %u)", round_index, round->reader.failure, seed);
  if (atomic_load_explicit(&round->failed, memory_order_acquire))
    fail_msg("round %d: %s (seed %u)", round_index, round->failure, seed);
  assert_int_equal(mt_skiplist_validate(round->test.list, NULL, NULL), MT_OK);
  assert_int_equal(mt_skiplist_count(round->test.list), expected);
  for (unsigned k = 0; k < round->test.keys; k++) {
    uint32_t generations = atomic_load_explicit(&round->test.generation[k], memory_order_relaxed);
    for (uint32_t g = 1; g <= generations; g++) assert_true(contains_u64(round->test.list, make_packed_key(k, g)));
  }
}

/* RocksDB's RunConcurrentInsert (write_parallelism 4, no hint): per round a reader thread, and kSize keys
 * written in batches of 4 concurrent inserts on distinct k's. */
static void run_concurrent_insert(int run) {
  enum { WRITE_PARALLELISM = 4 };
  const uint32_t seed = 301 + (uint32_t)run * 100;
  leveldb_random rnd = leveldb_random_make(seed);
  long passes = 0;
  for (int round_index = 0; round_index < CONCURRENT_ROUNDS; round_index++) {
    round_state *round = round_create(ROCKSDB_KEYS, seed + 1);
    assert_true(thread_gate_init(&round->gate, WRITE_PARALLELISM + 1));
    thread_team writers;
    thread_team_start(&writers, batch_writer_main, round, 0, WRITE_PARALLELISM);
    for (int k = 0; k < WRITES_PER_ROUND; k += WRITE_PARALLELISM) {
      atomic_store_explicit(&round->next_writer, leveldb_random_next(&rnd), memory_order_relaxed);
      thread_gate_wait(&round->gate); /* batch start: the gate orders next_writer before the writers' reads */
      thread_gate_wait(&round->gate); /* batch end */
      if (round_failed(round)) break;
    }
    round->stop_writers = true;
    thread_gate_wait(&round->gate);
    thread_team_join(&writers);
    round_finish(round, round_index, seed, WRITES_PER_ROUND);
    passes += round->reader.passes;
    thread_gate_destroy(&round->gate);
    mt_arena_destroy(round->test.arena);
    free(round);
  }
  print_message("concurrent insert run %d: %d rounds, %ld reader passes\n", run, CONCURRENT_ROUNDS, passes);
}

static void skiplist_test_concurrent_insert_1(void **state) {
  (void)state;
  run_concurrent_insert(1);
}

static void skiplist_test_concurrent_insert_2(void **state) {
  (void)state;
  run_concurrent_insert(2);
}

static void skiplist_test_concurrent_insert_3(void **state) {
  (void)state;
  run_concurrent_insert(3);
}

/* LevelDB's writer, one of several: it owns the k's congruent to its index modulo the writer count, picks
 * among them at random, and runs without any hand-over, so its inserts race the other writers' freely. */
static void *free_writer_main(void *arg) {
  writer_arg *writer = arg;
  round_state *round = writer->round;
  leveldb_random rnd = leveldb_random_make(round->writer_seed + writer->index);
  unsigned owned = 0;
  uint32_t keys[GENERATION_MAX_KEYS];
  for (unsigned k = writer->index; k < round->test.keys; k += round->writers) keys[owned++] = k;
  char failure[256];
  for (int i = 0; i < round->writes_per_writer; i++) {
    if (!concurrent_write_step(&round->test, keys[leveldb_random_next(&rnd) % owned], failure, sizeof(failure))) {
      report_failure(round, "writer", failure);
      return NULL;
    }
    if (round_failed(round)) return NULL;
  }
  return NULL;
}

/* LevelDB's RunConcurrent (K = 4, kSize = 1000 keys a round, one reader thread) with the writes split over
 * `writers` threads that insert at the same time. */
static void run_concurrent_writers(int run, unsigned writers) {
  const uint32_t seed = 301 + (uint32_t)run * 100;
  long passes = 0;
  for (int round_index = 0; round_index < CONCURRENT_ROUNDS; round_index++) {
    round_state *round = round_create(LEVELDB_KEYS, seed + 1);
    round->writers = writers;
    round->writer_seed = seed + 2 + (uint32_t)round_index * MAX_WRITERS;
    round->writes_per_writer = WRITES_PER_ROUND / (int)writers;
    writer_arg args[MAX_WRITERS];
    for (unsigned w = 0; w < writers; w++) args[w] = (writer_arg){round, w};
    thread_team_run(free_writer_main, args, sizeof(args[0]), writers);
    round_finish(round, round_index, seed, (size_t)round->writes_per_writer * writers);
    passes += round->reader.passes;
    mt_arena_destroy(round->test.arena);
    free(round);
  }
  print_message("concurrent run %d with %u writers: %d rounds, %ld reader passes\n", run, writers, CONCURRENT_ROUNDS,
                passes);
}

static void skiplist_test_concurrent_1_two_writers(void **state) {
  (void)state;
  run_concurrent_writers(1, 2);
}

static void skiplist_test_concurrent_2_three_writers(void **state) {
  (void)state;
  run_concurrent_writers(2, 3);
}

static void skiplist_test_concurrent_3_four_writers(void **state) {
  (void)state;
  run_concurrent_writers(3, 4);
}

static void skiplist_test_concurrent_4_two_writers(void **state) {
  (void)state;
  run_concurrent_writers(4, 2);
}

static void skiplist_test_concurrent_5_four_writers(void **state) {
  (void)state;
  run_concurrent_writers(5, 4);
}

/* The same key from several threads at once, many rounds: the header promises it is linked exactly once and
 * every other insert answers MT_EXISTS. */
enum { DUPLICATE_THREADS = 3, DUPLICATE_ROUNDS = 300 };

static mt_status insert_round_key(void *list, unsigned thread, unsigned round) {
  (void)thread;
  return insert_u64(list, make_packed_key(1, (uint64_t)round + 1));
}

static void skiplist_test_concurrent_same_key_linked_exactly_once(void **state) {
  (void)state;
  generation_check test;
  assert_true(concurrent_test_init(&test, ROCKSDB_KEYS));
  same_entry_race race;
  same_entry_race_run(&race, DUPLICATE_THREADS, DUPLICATE_ROUNDS, insert_round_key, test.list);
  for (unsigned r = 0; r < DUPLICATE_ROUNDS; r++) {
    (void)same_entry_race_winner(&race, r);
    assert_true(contains_u64(test.list, make_packed_key(1, (uint64_t)r + 1)));
  }
  assert_int_equal(mt_skiplist_count(test.list), DUPLICATE_ROUNDS);
  assert_int_equal(mt_skiplist_validate(test.list, NULL, NULL), MT_OK);
  same_entry_race_free(&race);
  mt_arena_destroy(test.arena);
}

/* Inserts from positions found before the race (mti_skiplist_find_positions, as a write batch does): the
 * threads insert the same keys, so every position is stale by the time it is used; each key must still be
 * linked exactly once, in order, with every other insert answering MT_EXISTS. */
enum { POSITIONED_KEYS = 24, POSITIONED_ROUNDS = 60 };

typedef struct positioned_race {
  mt_skiplist *list;
  thread_gate gate;
  mt_status statuses[DUPLICATE_THREADS][POSITIONED_ROUNDS][POSITIONED_KEYS];
} positioned_race;

typedef struct positioned_arg {
  positioned_race *race;
  unsigned index;
} positioned_arg;

static void *positioned_inserter_main(void *arg) {
  positioned_arg *inserter = arg;
  mt_skiplist *list = inserter->race->list;
  static _Thread_local mti_skiplist_position positions[POSITIONED_KEYS];
  for (int r = 0; r < POSITIONED_ROUNDS; r++) {
    char bytes[POSITIONED_KEYS][sizeof(uint64_t)];
    const char *targets[POSITIONED_KEYS];
    uint64_t keys[POSITIONED_KEYS];
    for (unsigned i = 0; i < POSITIONED_KEYS; i++) {
      /* Each thread visits the round's keys in its own order. */
      unsigned k = (i * 7 + inserter->index * 5) % POSITIONED_KEYS;
      keys[i] = make_packed_key(k, (uint64_t)r + 1);
      memcpy(bytes[i], &keys[i], sizeof(keys[i]));
      targets[i] = bytes[i];
    }
    mti_skiplist_find_positions(list, targets, POSITIONED_KEYS, positions);
    thread_gate_wait(&inserter->race->gate);
    for (unsigned i = 0; i < POSITIONED_KEYS; i++) {
      char *buffer;
      mt_status status = mt_skiplist_allocate_key(list, sizeof(uint64_t), &buffer);
      if (status == MT_OK) {
        memcpy(buffer, &keys[i], sizeof(keys[i]));
        status = mti_skiplist_insert_allocated_at(list, buffer, &positions[i]);
      }
      inserter->race->statuses[inserter->index][r][packed_k(keys[i])] = status;
    }
  }
  return NULL;
}

static void skiplist_test_concurrent_inserts_from_stale_positions(void **state) {
  (void)state;
  generation_check test;
  assert_true(concurrent_test_init(&test, ROCKSDB_KEYS));
  positioned_race *race = calloc(1, sizeof(*race));
  assert_non_null(race);
  race->list = test.list;
  assert_true(thread_gate_init(&race->gate, DUPLICATE_THREADS));
  positioned_arg args[DUPLICATE_THREADS];
  for (unsigned t = 0; t < DUPLICATE_THREADS; t++) args[t] = (positioned_arg){race, t};
  thread_team_run(positioned_inserter_main, args, sizeof(args[0]), DUPLICATE_THREADS);
  for (int r = 0; r < POSITIONED_ROUNDS; r++) {
    for (unsigned k = 0; k < POSITIONED_KEYS; k++) {
      (void)same_entry_winner(&race->statuses[0][r][k], POSITIONED_ROUNDS * POSITIONED_KEYS, DUPLICATE_THREADS,
                              "round * keys + key", (size_t)r * POSITIONED_KEYS + k);
      assert_true(contains_u64(test.list, make_packed_key(k, (uint64_t)r + 1)));
    }
  }
  assert_int_equal(mt_skiplist_count(test.list), POSITIONED_ROUNDS * POSITIONED_KEYS);
  assert_int_equal(mt_skiplist_validate(test.list, NULL, NULL), MT_OK);
  thread_gate_destroy(&race->gate);
  free(race);
  mt_arena_destroy(test.arena);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(skiplist_test_concurrent_insert_without_threads),
      cmocka_unit_test(skiplist_test_concurrent_insert_1),
      cmocka_unit_test(skiplist_test_concurrent_insert_2),
      cmocka_unit_test(skiplist_test_concurrent_insert_3),
      cmocka_unit_test(skiplist_test_concurrent_1_two_writers),
      cmocka_unit_test(skiplist_test_concurrent_2_three_writers),
      cmocka_unit_test(skiplist_test_concurrent_3_four_writers),
      cmocka_unit_test(skiplist_test_concurrent_4_two_writers),
      cmocka_unit_test(skiplist_test_concurrent_5_four_writers),
      cmocka_unit_test(skiplist_test_concurrent_same_key_linked_exactly_once),
      cmocka_unit_test(skiplist_test_concurrent_inserts_from_stale_positions),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
