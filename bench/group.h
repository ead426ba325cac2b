/* bench/group.h - the implementations' tables for a group of benchmarks, and what every benchmark does with them.
 *
 * A group holds one table per enabled implementation, all alive at once so that the benchmarks' slices can
 * alternate between them; benchmarks that read the same kind of table share a group. Main thread only (a
 * benchmark's own threads touch only the tables and reader handles they are given).
 */
#ifndef MEMTABLE_BENCH_GROUP_H
#define MEMTABLE_BENCH_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"
#include "peer.h"
#include "results.h"
#include "workload.h"

/* Timed loops update the progress display once per this many operations (+1). */
#define PROGRESS_STRIDE_MASK ((uint64_t)0x3fff)

/* One implementation's part in a group of benchmarks that share a table. */
typedef struct impl_run {
  size_t index; /* into g_impls */
  const bench_impl *impl;
  void *table;
  void *reader;
  rng read_rng;
  uint64_t elapsed_ns;
  uint64_t found;
  uint64_t value_bytes;
  bool active;
} impl_run;

typedef struct run_group {
  unsigned rep;
  size_t count;
  impl_run runs[MAX_IMPLS];
  char error[512];
} run_group;

/* How a group's tables will be written: by one put writer, by concurrent put_concurrent writers
 * (fillconcurrent), or by put_batch (fillbatch). An implementation without the function sits the group out. */
typedef enum write_mode { WRITE_PUT, WRITE_CONCURRENT, WRITE_BATCH } write_mode;

/* Reads can only be checked when --key_size >= 16 makes the keys distinct. */
static inline bool keys_are_unique(void) { return g_options.key_size >= 16; }

/* Ends the run (exit status 1): an implementation gave a wrong answer, so no figure of the run is reported. */
_Noreturn void wrong_results(const bench_impl *impl, unsigned bench, uint64_t got, uint64_t expected, const char *what);

/* Drops an implementation that failed (a peer's limit, not a wrong answer) from this group and the run; ours
 * failing ends the run. */
void run_fail(impl_run *run, const char *why);

/* Creates a table for every enabled implementation (only ours when ours_only) that supports the write mode. */
void group_begin_for(run_group *group, unsigned rep, bool ours_only, unsigned bloom_bits, write_mode mode);
/* group_begin with our table's point index on (readrandom_index, readmissing_index). */
void group_begin_point_index(run_group *group, unsigned rep, bool ours_only);
/* group_begin_for with WRITE_PUT. */
void group_begin(run_group *group, unsigned rep, bool ours_only, unsigned bloom_bits);
void group_end(run_group *group);

size_t active_runs(const run_group *group);
/* Starts the progress display for a measurement of ops_per_run operations on every active run. */
void group_progress_begin(const run_group *group, const char *what, uint64_t ops_per_run);

/* A reader handle on the run's table; ends the run when there is no memory for one. */
void *make_reader(const impl_run *run);

/* Which runs a read benchmark takes: every one, or ours only. */
static inline bool include_every_run(const impl_run *run) {
  (void)run;
  return true;
}
static inline bool include_ours(const impl_run *run) { return is_ours(run->impl); }

/* A read benchmark's start: each active run that include() accepts is marked in taking_part and gets a reader,
 * the read order of (order_bench, the group's repetition) and zeroed time and counters. Returns how many take
 * part. */
uint64_t group_readers_begin(run_group *group, bool taking_part[MAX_IMPLS], bool (*include)(const impl_run *run),
                             unsigned order_bench);
/* Destroys run r's reader; returns the run. */
impl_run *group_reader_end(run_group *group, size_t r);

#endif
