/* memtable/bloom.h - private to the memtable layer: the optional bloom filter over user keys
 * (options.bloom_bits_per_key), in the table's arena.
 *
 * Threading: bits are only ever set, by the writers, before the entry that needs them is published; any
 * thread tests them without locks. With checksums each bit is kept twice, in both halves of its 64-bit word
 * (word_bits 32, else 64): one atomic OR sets both, and a key is ruled out only when both copies of a probed
 * bit are clear, so one damaged byte (which holds one copy only) can add false positives but never rule out a
 * stored key.
 */
#ifndef MEMTABLE_BLOOM_H
#define MEMTABLE_BLOOM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <memtable/memtable.h>

typedef struct mti_bloom {
  _Atomic uint64_t *words; /* NULL: no filter */
  uint64_t bits;           /* whole words of them */
  unsigned probes;
  unsigned word_bits; /* 64, or 32 (mirrored) */
} mti_bloom;

/* The filter's size for the options: *bytes (0: no filter) and *probes; false when it cannot be sized. */
bool mti_bloom_geometry(const mt_memtable_options *options, size_t *bytes, unsigned *probes);

/* Sets up a cleared filter over `bytes` bytes of `memory` (cache-line aligned; NULL, 0: no filter). */
void mti_bloom_init(mti_bloom *bloom, void *memory, size_t bytes, unsigned probes, bool mirrored);

/* A mirrored filter's two halves agree in every word (validate; the writers quiescent). */
bool mti_bloom_is_sound(const mti_bloom *bloom);

/* The filter's bytes (0 without one). */
static inline size_t mti_bloom_bytes(const mti_bloom *bloom) {
  return bloom->words == NULL ? 0 : (size_t)(bloom->bits / bloom->word_bits) * sizeof(uint64_t);
}

/* Double hashing: probe i is h1 + i * h2 (mod bits), with both halves taken from one XXH3 hash. */
static inline uint64_t bloom_step(uint64_t hash) { return (hash >> 32) | (hash << 32); }

/* The word and the bits (one, or with a mirrored filter its two copies) of filter bit `bit`. */
static inline size_t bloom_word(const mti_bloom *bloom, uint64_t bit) {
  return (size_t)(bit >> (bloom->word_bits == 32 ? 5 : 6));
}

static inline uint64_t bloom_mask(const mti_bloom *bloom, uint64_t bit) {
  if (bloom->word_bits == 32) return (UINT64_C(1) << (bit & 31)) * ((UINT64_C(1) << 32) | 1);
  return UINT64_C(1) << (bit & 63);
}

/* Adds a user key by its hash (user_key_hash). Writers, before the entry is published. */
static inline void mti_bloom_add(mti_bloom *bloom, uint64_t hash) {
  uint64_t step = bloom_step(hash);
  for (unsigned i = 0; i < bloom->probes; i++, hash += step) {
    uint64_t bit = hash % bloom->bits;
    /* Relaxed: the skiplist's release store that publishes the entry comes after this in program order,
     * so a reader that acquires the entry also sees the bit; a reader that misses it answers as if it had
     * read before the add began, which a concurrent get may. */
    atomic_fetch_or_explicit(&bloom->words[bloom_word(bloom, bit)], bloom_mask(bloom, bit), memory_order_relaxed);
  }
}

/* False when the filter (if any) rules out the user key with this hash. Any thread. */
static inline bool mti_bloom_may_contain(const mti_bloom *bloom, uint64_t hash) {
  if (bloom->words == NULL) return true;
  uint64_t step = bloom_step(hash);
  for (unsigned i = 0; i < bloom->probes; i++, hash += step) {
    uint64_t bit = hash % bloom->bits;
    /* Relaxed: a bit is never cleared, and see mti_bloom_add for why a stale word is harmless. */
    uint64_t word = atomic_load_explicit(&bloom->words[bloom_word(bloom, bit)], memory_order_relaxed);
    /* Mirrored: either copy set counts. */
    if ((word & bloom_mask(bloom, bit)) == 0) return false;
  }
  return true;
}

#endif
