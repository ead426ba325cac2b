/* bench/chase.c - the pointer chase of chase.h.
 *
 * One slot per cache line, linked into a single random cycle (Sattolo's shuffle), so the hardware prefetchers
 * cannot guess the next line and each load depends on the one before: the same access pattern as a skiplist
 * search over a table much larger than the last-level cache.
 */
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */

#include "chase.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define BENCH_UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef BENCH_UNDER_VALGRIND
#define BENCH_UNDER_VALGRIND() false
#endif

#include "clock.h"
#include "workload.h"

#define CHASE_HUGE_PAGE_BYTES ((size_t)2 << 20)
#define CHASE_LINE_WORDS 8 /* 64-byte lines of uint64_t */
/* A random cycle is in its steady state from the first load; half a million timed loads give the median-stable
 * figure in a fraction of a second. */
#define CHASE_WARMUP_STEPS ((uint64_t)1 << 16)
#define CHASE_TIMED_STEPS ((uint64_t)1 << 19)

double g_dependent_load_ns;
double g_dependent_load_huge_ns;

double measure_dependent_load_ns(size_t bytes, bool huge_pages) {
  /* Timing under valgrind (count-misses.sh) means nothing, and its simulation would take minutes. */
  if (BENCH_UNDER_VALGRIND()) return 0.0;
  const size_t lines = bytes / (CHASE_LINE_WORDS * sizeof(uint64_t));
  if (lines < 2 || lines > UINT32_MAX) return 0.0;
  /* Aligned to 2 MiB either way, so only the advice differs between the two figures (and a whole number of
   * 2 MiB pages, as aligned_alloc wants a multiple of the alignment). */
  size_t mapped = (bytes + CHASE_HUGE_PAGE_BYTES - 1) / CHASE_HUGE_PAGE_BYTES * CHASE_HUGE_PAGE_BYTES;
  uint64_t *memory = aligned_alloc(CHASE_HUGE_PAGE_BYTES, mapped);
  if (memory != NULL) (void)madvise(memory, mapped, huge_pages ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  uint32_t *order = malloc(lines * sizeof(uint32_t));
  if (memory == NULL || order == NULL) {
    free(memory);
    free(order);
    return 0.0;
  }
  for (size_t i = 0; i < lines; i++) order[i] = (uint32_t)i;
  /* Sattolo: swapping only with earlier positions gives a permutation that is one cycle through every line. */
  for (size_t i = lines - 1; i > 0; i--) {
    size_t j = (size_t)(splitmix64(i) % i);
    uint32_t swap = order[i];
    order[i] = order[j];
    order[j] = swap;
  }
  for (size_t i = 0; i < lines; i++) memory[(size_t)i * CHASE_LINE_WORDS] = order[i];
  free(order);

  uint64_t line = 0;
  for (uint64_t step = 0; step < CHASE_WARMUP_STEPS; step++) line = memory[line * CHASE_LINE_WORDS];
  uint64_t start = now_ns();
  for (uint64_t step = 0; step < CHASE_TIMED_STEPS; step++) line = memory[line * CHASE_LINE_WORDS];
  uint64_t elapsed = now_ns() - start;
  /* The final position feeds the result, so the loop cannot be dropped; it is always below lines. */
  double ns = (double)elapsed / (double)CHASE_TIMED_STEPS + (double)(line >= lines);
  free(memory);
  return ns;
}
