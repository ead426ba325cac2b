/* bench/driver.h - runs the benchmarks: the timed loops, the result checks, the interleaving of implementations. */
#ifndef MEMTABLE_BENCH_DRIVER_H
#define MEMTABLE_BENCH_DRIVER_H

/* One repetition: every selected benchmark for every implementation. Benchmarks that read the same kind of
 * table share it (reads never modify a table); every implementation's table is alive at once so that their
 * slices can alternate. */
void run_repetition(unsigned rep);

#endif
