/* bench/read_batches.h - readrandom_batch: readrandom's gets, issued in batches (read_batches.c). */
#ifndef MEMTABLE_BENCH_READ_BATCHES_H
#define MEMTABLE_BENCH_READ_BATCHES_H

#include <stdbool.h>

#include "group.h"

/* readrandom_batch on the group's fillrandom tables: readrandom's --reads gets (the same keys, in the same
 * order), read_batch_size() at a time through get_batch; implementations without one get the keys one by
 * one. Every answer is checked (found, value length) when the keys are distinct. ours_only: only our table
 * reads (the peers' figures come from readrandom). Main thread. */
void group_read_batches(run_group *group, bool ours_only);

#endif
