/* Shared by the cmocka suites: run the whole group, or only the test named by argv[1] (how ctest runs
 * each test on its own). */
#ifndef MEMTABLE_TEST_UTIL_H
#define MEMTABLE_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* LevelDB's util/random.h generator (Park-Miller: seed * 16807 mod 2^31 - 1), so the ported tests draw
 * exactly LevelDB's sequences from LevelDB's seeds. */
typedef struct leveldb_random {
  uint32_t seed;
} leveldb_random;

static inline leveldb_random leveldb_random_make(uint32_t seed) {
  leveldb_random rnd = {seed & 0x7fffffffu};
  /* 0 and 2^31 - 1 are fixed points of the recurrence. */
  if (rnd.seed == 0 || rnd.seed == 2147483647u) rnd.seed = 1;
  return rnd;
}

static inline uint32_t leveldb_random_next(leveldb_random *rnd) {
  const uint32_t modulus = 2147483647u;
  const uint64_t product = (uint64_t)rnd->seed * 16807u;
  /* (x << 31) % (2^31 - 1) == x, so folding the high bits onto the low ones reduces without a division. */
  uint64_t folded = (product >> 31) + (product & modulus);
  if (folded > modulus) folded -= modulus;
  rnd->seed = (uint32_t)folded;
  return rnd->seed;
}

static inline size_t leveldb_random_uniform(leveldb_random *rnd, uint32_t n) { return leveldb_random_next(rnd) % n; }

static inline int leveldb_random_one_in(leveldb_random *rnd, uint32_t n) { return leveldb_random_next(rnd) % n == 0; }

#define MT_RUN_TESTS(tests, argc, argv)                   \
  ((argc) > 1 ? cmocka_set_test_filter((argv)[1]) : (void)0, \
   cmocka_run_group_tests(tests, NULL, NULL))

#endif
