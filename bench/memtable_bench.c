/* bench/memtable_bench.c - memtable-bench: our memtable side by side with RocksDB's and LevelDB's.
 *
 * db_bench-style flags and benchmarks. Every implementation (ours and each peer found at build time) is driven
 * through the same bench_impl table (peer.h), with the same keys, values, read order and timed loops. Within
 * each benchmark the implementations take turns slice by slice (ours, rocksdb, leveldb, ours, ...), so drift
 * on a shared machine hits all columns alike. Figures reported are medians over the repetitions.
 *
 * The parts: options.c (flags, --help), results.c (the implementations and their samples), workload.c (keys,
 * values, read orders), group.c (the implementations' tables for a group of benchmarks), driver.c (the
 * benchmarks), fills.c (fillconcurrent, fillbatch), rotate.c (rotate, rotate_pool), soak.c (--duration), chase.c (the machine's dependent-load latency), report.c (text and JSON), console.c (progress, fatal
 * errors); peer_memtable.c, peer_rocksdb.cc and peer_leveldb.cc put each implementation behind peer.h.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>

#include "chase.h"
#include "clock.h"
#include "console.h"
#include "driver.h"
#include "options.h"
#include "report.h"
#include "results.h"
#include "rotate.h"
#include "workload.h"

int main(int argc, char **argv) {
  parse_flags(argc, argv);
  /* The wall time covers everything the run does, the workload's set-up and the probe included. */
  uint64_t start = now_ns();
  progress_init();
  register_impls();
  workload_prepare();
  if (g_options.chase_bytes > 0) {
    g_dependent_load_ns = measure_dependent_load_ns(g_options.chase_bytes, false);
    if (g_options.chase_huge_pages) g_dependent_load_huge_ns = measure_dependent_load_ns(g_options.chase_bytes, true);
  }
  if (!g_options.json) print_text_header();

  for (unsigned rep = 0; rep < g_options.repetitions; rep++) run_repetition(rep);
  if (g_options.duration > 0) run_soak();
  double wall_seconds = (double)(now_ns() - start) / NS_PER_SEC;

  if (g_options.json) {
    print_json_report(wall_seconds);
  } else {
    print_text_report(wall_seconds);
  }
  workload_free();
  return 0;
}
