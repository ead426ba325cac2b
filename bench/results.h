/* bench/results.h - the implementations taking part in a run and every sample measured for each.
 *
 * register_impls fills g_impls once, after the flags; the driver then writes the samples and the report reads
 * them, all on the main thread. Slot 0 is always our memtable: the numerator of every ratio.
 */
#ifndef MEMTABLE_BENCH_RESULTS_H
#define MEMTABLE_BENCH_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"
#include "peer.h"

#define MAX_IMPLS 3

/* The tables a pass builds; memory is reported after each fill. */
enum { TABLE_SEQ, TABLE_RANDOM, TABLE_RANDOM_BLOOM, TABLE_RANDOM_INDEX, TABLE_KINDS };
extern const char *const table_names[TABLE_KINDS];

typedef struct sample {
  bool present;
  double seconds;     /* for readwhilewriting: the readers' mean elapsed time */
  uint64_t ops;
  uint64_t bytes;     /* key + value bytes moved (found entries for reads) */
  uint64_t found;
  unsigned threads;   /* threads whose ops are summed in ops */
  double writer_seconds; /* readwhilewriting: the concurrent fill's duration */
} sample;

typedef struct memory_sample {
  bool present;
  size_t bytes;
  uint64_t entries;
  size_t index_bytes; /* ours: the point index's share of bytes (0 without one) */
  size_t wasted_bytes; /* ours: arena bytes abandoned (block and chunk tails; mt_arena_stats) */
  size_t tail_bytes;   /* ours: the current block's unused tail */
} memory_sample;

typedef struct impl_slot {
  const bench_impl *impl;
  bool enabled;              /* false once the run has dropped a peer; skipped_reason says why */
  char skipped_reason[512];
} impl_slot;

extern impl_slot g_impls[MAX_IMPLS];
extern size_t g_impl_count;
extern sample g_samples[MAX_IMPLS][BENCH_COUNT][MAX_REPETITIONS];
extern memory_sample g_memory[MAX_IMPLS][TABLE_KINDS][MAX_REPETITIONS];

/* Ours is slot 0 (see register_impls). */
static inline bool is_ours(const bench_impl *impl) { return impl == g_impls[0].impl; }

/* Ours in slot 0, then each peer built in and asked for by --peers, all enabled. */
void register_impls(void);

#endif
