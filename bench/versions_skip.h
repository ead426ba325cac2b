/* bench/versions_skip.h - readversions_skip: the user view's passes over long version chains with the scan
 * readahead on against off (ours only). */
#ifndef MEMTABLE_BENCH_VERSIONS_SKIP_H
#define MEMTABLE_BENCH_VERSIONS_SKIP_H

/* One repetition: builds the tables once (untimed), times every case's passes with readahead on and off in
 * turn, and records our sample (the passes with readahead on). */
void run_versions_skip(unsigned rep);

/* The per-case figures (medians over the repetitions): a table after the results; nothing when the benchmark
 * did not run. */
void print_versions_skip_text(void);

#endif
