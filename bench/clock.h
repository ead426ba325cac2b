/* bench/clock.h - the clock every timed loop and the progress display read. */
#ifndef MEMTABLE_BENCH_CLOCK_H
#define MEMTABLE_BENCH_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NS_PER_SEC 1e9

/* Monotonic nanoseconds. clock_gettime is POSIX: a file including this defines _POSIX_C_SOURCE first. */
static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

#endif
