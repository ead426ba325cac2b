/* bench/workload.h - the keys, values and read orders every implementation is given alike.
 *
 * Key i is the hex of splitmix64(i); a key's value is a window, picked by its hash, into one pseudo-random pool;
 * random reads follow a SplitMix64 stream per benchmark, repetition and thread. The inline helpers run inside
 * the timed loops. workload_prepare fills g_value_pool and g_sorted_hashes once, before the first benchmark;
 * after that they are only read, by any thread.
 */
#ifndef MEMTABLE_BENCH_WORKLOAD_H
#define MEMTABLE_BENCH_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define VALUE_POOL_SIZE ((size_t)1 << 20)

extern char *g_value_pool;        /* VALUE_POOL_SIZE + --value_size + 1 bytes */
extern uint64_t *g_sorted_hashes; /* the key hashes in ascending order: fillseq's insertion order */

#define SPLITMIX64_GAMMA UINT64_C(0x9e3779b97f4a7c15)

/* SplitMix64's output function: a bijection on 64 bits. */
static inline uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* SplitMix64's output function applied to i + the golden gamma: splitmix64(i) is the first number a SplitMix64
 * generator seeded with i returns. A bijection on 64 bits, so distinct i give distinct keys. */
static inline uint64_t splitmix64(uint64_t i) { return splitmix64_mix(i + SPLITMIX64_GAMMA); }

/* The 16 hex digits of the hash, then (key_size > 16) those digits repeated, or (key_size < 16) their prefix.
 * Byte order of the keys is the numeric order of the hashes, which fillseq relies on. */
static inline void format_key(uint64_t hash, char *out, size_t key_size) {
  static const char digits[16] = {'0', '1', '2', '3', '4', '5', '6', '7',
                                  '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  char hex[16];
  for (unsigned i = 0; i < 16; i++) hex[i] = digits[(hash >> (60 - 4 * i)) & 0xf];
  if (key_size <= 16) {
    memcpy(out, hex, key_size);
    return;
  }
  for (size_t done = 0; done < key_size; done += 16) {
    size_t chunk = key_size - done < 16 ? key_size - done : 16;
    memcpy(out + done, hex, chunk);
  }
}

/* A value is a window into a fixed pseudo-random pool, chosen by the key's hash: deterministic per key. */
static inline const char *value_for(uint64_t hash) {
  return g_value_pool + ((hash >> 40) & (VALUE_POOL_SIZE - 1));
}

/* A SplitMix64 stream: state advances by the golden gamma, each output is its mix. */
typedef struct rng {
  uint64_t state;
} rng;

static inline uint64_t rng_next(rng *r) {
  r->state += SPLITMIX64_GAMMA;
  return splitmix64_mix(r->state);
}

/* Uniform in [0, bound) by a 64x64->128 multiply (Lemire), no division in the timed loop. */
static inline uint64_t rng_below(rng *r, uint64_t bound) {
  __extension__ typedef unsigned __int128 u128;
  return (uint64_t)(((u128)rng_next(r) * bound) >> 64);
}

/* The same read sequence for every implementation within a repetition; a fresh one per repetition. */
rng rng_for(unsigned bench, unsigned rep, unsigned thread);

/* Fills the value pool and, when a benchmark on the fillseq table is selected, the sorted hashes; exits
 * through fatal() if memory runs out. */
void workload_prepare(void);
void workload_free(void);

#endif
