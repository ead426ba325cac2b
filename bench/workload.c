/* bench/workload.c - the workload's data, made once before the run: the value pool and fillseq's key order. */
#include "workload.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "options.h"

char *g_value_pool;
uint64_t *g_sorted_hashes;

rng rng_for(unsigned bench, unsigned rep, unsigned thread) {
  rng r = {splitmix64(g_options.seed ^ ((uint64_t)bench << 48) ^ ((uint64_t)rep << 32) ^ thread)};
  return r;
}

static void sort_hashes(uint64_t *values, uint64_t count) {
  uint64_t *scratch = malloc(count * sizeof *scratch);
  size_t *counts = malloc(65536 * sizeof *counts);
  if (scratch == NULL || counts == NULL) fatal("out of memory for %" PRIu64 " keys", count);
  /* LSD radix sort, four 16-bit digits: linear, and 1M keys take a few milliseconds. */
  for (unsigned shift = 0; shift < 64; shift += 16) {
    memset(counts, 0, 65536 * sizeof *counts);
    for (uint64_t i = 0; i < count; i++) counts[(values[i] >> shift) & 0xffff]++;
    size_t total = 0;
    for (size_t d = 0; d < 65536; d++) {
      size_t c = counts[d];
      counts[d] = total;
      total += c;
    }
    for (uint64_t i = 0; i < count; i++) scratch[counts[(values[i] >> shift) & 0xffff]++] = values[i];
    memcpy(values, scratch, count * sizeof *values);
  }
  free(counts);
  free(scratch);
}

void workload_prepare(void) {
  const size_t pool_bytes = VALUE_POOL_SIZE + g_options.value_size + 1;
  g_value_pool = malloc(pool_bytes);
  if (g_value_pool == NULL) fatal("out of memory");
  rng r = {UINT64_C(0x76616c7565)};
  for (size_t i = 0; i < pool_bytes; i++) g_value_pool[i] = (char)(' ' + rng_below(&r, 95));
  if (selected(BENCH_FILLSEQ) || selected(BENCH_READSEQ) || selected(BENCH_READREVERSE)) {
    g_sorted_hashes = malloc(g_options.num * sizeof *g_sorted_hashes);
    if (g_sorted_hashes == NULL) fatal("out of memory for %" PRIu64 " keys", g_options.num);
    for (uint64_t i = 0; i < g_options.num; i++) g_sorted_hashes[i] = splitmix64(i);
    sort_hashes(g_sorted_hashes, g_options.num);
  }
}

void workload_free(void) {
  free(g_sorted_hashes);
  free(g_value_pool);
}
