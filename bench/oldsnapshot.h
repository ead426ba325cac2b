/* bench/oldsnapshot.h - readhot_oldsnapshot and readhot_oldsnapshot_noindex: gets at an old snapshot of a key
 * overwritten many times since, with and without the point index. */
#ifndef MEMTABLE_BENCH_OLDSNAPSHOT_H
#define MEMTABLE_BENCH_OLDSNAPSHOT_H

/* Versions of the hot key newer than the one the gets read. */
#define OLDSNAPSHOT_NEWER_VERSIONS 65536u

/* One repetition of both (whichever are selected): builds the tables once (untimed), gets in turn, records
 * our samples. Ours only: the peers' memtables take no part (the report says so). */
void run_oldsnapshot(unsigned rep);

#endif
