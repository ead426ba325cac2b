/* The bloom filter's sizing, set-up and check: see bloom.h. */
#include "memtable/bloom.h"

#include "memtable/entry_format.h"

#define BLOOM_MAX_PROBES 30

/* Fills the filter geometry for the options, or returns false when the filter cannot be sized. */
bool mti_bloom_geometry(const mt_memtable_options *opts, size_t *bytes, unsigned *probes) {
  *bytes = 0;
  *probes = 0;
  bool usable = opts->compare == NULL || opts->bytewise_equal_keys;
  if (opts->bloom_bits_per_key == 0 || !usable) return true;
  size_t expected = opts->bloom_expected_entries != 0 ? opts->bloom_expected_entries : opts->write_buffer_size / 64;
  if (expected == 0) expected = 1;
  if (expected > SIZE_MAX / opts->bloom_bits_per_key) return false;
  size_t bits = expected * opts->bloom_bits_per_key;
  /* Whole cache lines: the filter is aligned to one, and no probe shares a line with other data. */
  size_t line_bits = MEMTABLE_CACHE_LINE_BYTES * 8;
  if (bits > SIZE_MAX - (line_bits - 1)) return false;
  *bytes = (bits + line_bits - 1) / line_bits * MEMTABLE_CACHE_LINE_BYTES;
  /* With checksums every bit is kept twice (see bloom.h). */
  if (opts->checksum_bytes != 0) {
    if (*bytes > SIZE_MAX / 2) return false;
    *bytes *= 2;
  }
  /* k = bits_per_key * ln 2 minimises the false-positive rate. */
  uint64_t k = ((uint64_t)opts->bloom_bits_per_key * 693 + 500) / 1000;
  *probes = k < 1 ? 1 : k > BLOOM_MAX_PROBES ? BLOOM_MAX_PROBES : (unsigned)k;
  return true;
}

void mti_bloom_init(mti_bloom *bloom, void *memory, size_t bytes, unsigned probes, bool mirrored) {
  *bloom = (mti_bloom){NULL, 0, 0, 64};
  if (memory == NULL || bytes == 0) return;
  bloom->words = memory;
  size_t words = bytes / sizeof(uint64_t);
  for (size_t i = 0; i < words; i++) atomic_init(&bloom->words[i], 0);
  bloom->word_bits = mirrored ? 32 : 64;
  bloom->bits = (uint64_t)words * bloom->word_bits;
  bloom->probes = probes;
}

/* A mirrored filter's two halves agree in every word (validate). */
bool mti_bloom_is_sound(const mti_bloom *bloom) {
  if (bloom->words == NULL || bloom->word_bits != 32) return true;
  size_t words = (size_t)(bloom->bits / 32);
  for (size_t i = 0; i < words; i++) {
    /* Relaxed: validate requires the writers to be quiescent. */
    uint64_t word = atomic_load_explicit(&bloom->words[i], memory_order_relaxed);
    if ((uint32_t)word != (uint32_t)(word >> 32)) return false;
  }
  return true;
}
