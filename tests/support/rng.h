/* tests/support/rng.h - the random generators of the suites and fuzz targets. Header-only.
 *
 * splitmix64 for the project's own randomized tests (any 64-bit seed, full-period, one multiply chain per
 * draw), and LevelDB's util/random.h generator (Park-Miller: seed * 16807 mod 2^31 - 1) for the ported
 * LevelDB tests, so those draw exactly LevelDB's sequences from LevelDB's seeds. */
#ifndef MEMTABLE_SUPPORT_RNG_H
#define MEMTABLE_SUPPORT_RNG_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64's output function: a bijective 64-bit mix, usable on its own as a hash. */
static inline uint64_t mt_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* The next value of the splitmix64 sequence whose state is *state. */
static inline uint64_t mt_rng_next(uint64_t *state) { return mt_mix64(*state += UINT64_C(0x9e3779b97f4a7c15)); }

/* A value in [0, bound); bound must not be 0. */
static inline size_t mt_rng_below(uint64_t *state, size_t bound) { return (size_t)(mt_rng_next(state) % bound); }

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

#endif
