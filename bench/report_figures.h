/* bench/report_figures.h - what both reports print: each figure the median over the repetitions of the samples
 * in results.h, and the machine and build the run had. */
#ifndef MEMTABLE_BENCH_REPORT_FIGURES_H
#define MEMTABLE_BENCH_REPORT_FIGURES_H

#include <stdbool.h>
#include <stddef.h>

#include "results.h"

/* One implementation's figures for one benchmark; present when some repetition measured it. */
typedef struct figures {
  bool present;
  unsigned count;
  double ops_per_sec;
  double ns_per_op;
  double mb_per_sec;
  double found_fraction;
  double writer_ops_per_sec;
} figures;

/* One implementation's memory after one kind of fill. */
typedef struct memory_figures {
  bool present;
  double bytes;
  double per_entry;
  double beyond_payload;
  double index_per_entry; /* the point index's bytes per entry (ours, with the index) */
  bool has_waste;         /* ours: the arena's waste figures below */
  double wasted;          /* bytes abandoned (block and chunk tails) */
  double tail;            /* the last block's unused tail */
} memory_figures;

/* The median of count values (sorted in place). */
double median_of(double *values, unsigned count);
double sample_ops_per_sec(const sample *s);
figures figures_for(size_t impl, unsigned bench);
memory_figures memory_for(size_t impl, unsigned kind);
/* rotate_pool's median throughput over rotate's, or 0 when either is missing. */
double rotate_pool_ratio(void);

/* /proc/cpuinfo's model name, or "unknown CPU". */
void cpu_model(char *out, size_t out_len);
/* Whether the tool was optimised and had assertions on: figures from an unoptimised build say so. */
const char *build_kind(void);

#endif
