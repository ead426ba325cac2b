/* bench/versions.h - readseq_versions and readseq_versions_noskip: our user view over keys with many versions. */
#ifndef MEMTABLE_BENCH_VERSIONS_H
#define MEMTABLE_BENCH_VERSIONS_H

#include <stdbool.h>

/* Versions per user key in the readseq_versions table: N entries are N / VERSIONS_PER_KEY keys. */
#define VERSIONS_PER_KEY 20u

struct mt_memtable_options;
/* The options of the version benchmarks' tables (readseq_versions, readversions_skip): the library's defaults with
 * the flags that shape every table of ours (checksum bytes, skiplist branching, seed) and these two. */
void versions_table_options(struct mt_memtable_options *options, unsigned max_sequential_skip, bool version_links);

/* One repetition of readseq_versions and readseq_versions_noskip (whichever are selected): builds the table
 * once per setting (untimed), scans each in turn and records our samples. The peers have no memtable user
 * view: they take no part (the report says so). */
void run_versions(unsigned rep);

#endif
