/* bench/fills.h - the fills that write other than one put at a time: fillconcurrent and fillbatch. */
#ifndef MEMTABLE_BENCH_FILLS_H
#define MEMTABLE_BENCH_FILLS_H

#include "group.h"

/* fillconcurrent, on a group begun with WRITE_CONCURRENT: --writers threads add the fillrandom keys to each
 * table at once, thread t the keys i = t mod W; then every table is checked and the samples recorded. */
void group_fill_concurrent(run_group *group);

/* fillbatch, on a group begun with WRITE_BATCH: one writer adds the fillrandom keys in batches of --batch_size
 * consecutive entries; then every table is checked and the samples recorded. */
void group_fill_batches(run_group *group);

#endif
