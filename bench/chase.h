/* bench/chase.h - this machine's dependent-load latency, printed beside the benchmarks: the figure one cache
 * miss that a skiplist step waits on costs here. */
#ifndef MEMTABLE_BENCH_CHASE_H
#define MEMTABLE_BENCH_CHASE_H

#include <stdbool.h>
#include <stddef.h>

/* Nanoseconds per load of a pointer chase through one random cycle over bytes of memory: every load misses the
 * caches. With 4 KiB pages (as the tables get by default) nearly every load also misses the TLB and walks the
 * page table; with huge_pages the memory is advised to transparent huge pages (if the system grants them), so
 * the difference is the TLB's share. 0 if the memory could not be had, or under valgrind. */
double measure_dependent_load_ns(size_t bytes, bool huge_pages);

/* The figures measured at the start of this run (main), for the reports; 0 when not measured. */
extern double g_dependent_load_ns;      /* 4 KiB pages */
extern double g_dependent_load_huge_ns; /* huge pages advised */

/* --chase_mib's default: well past the last-level cache and the TLB's reach with 4 KiB pages. */
#define DEFAULT_CHASE_BYTES ((size_t)256 << 20)

#endif
