/* bench/results.c - the lineup of implementations and the storage for their samples (results.h). */
#include "results.h"

const char *const table_names[TABLE_KINDS] = {"fillseq", "fillrandom", "fillrandom+bloom",
                                                    "fillrandom+index"};

impl_slot g_impls[MAX_IMPLS];
size_t g_impl_count;
sample g_samples[MAX_IMPLS][BENCH_COUNT][MAX_REPETITIONS];
memory_sample g_memory[MAX_IMPLS][TABLE_KINDS][MAX_REPETITIONS];

void register_impls(void) {
  const bench_impl *ours = bench_peer_memtable(g_options.bloom_bits, missing_bloom_bits(), g_options.checksum_bytes);
  g_impls[g_impl_count++] = (impl_slot){ours, true, {0}};
#ifdef MEMTABLE_BENCH_HAVE_ROCKSDB
  if (g_options.want_rocksdb) g_impls[g_impl_count++] = (impl_slot){bench_peer_rocksdb(), true, {0}};
#endif
#ifdef MEMTABLE_BENCH_HAVE_LEVELDB
  if (g_options.want_leveldb) g_impls[g_impl_count++] = (impl_slot){bench_peer_leveldb(), true, {0}};
#endif
}
