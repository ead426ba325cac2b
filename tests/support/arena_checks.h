/* tests/support/arena_checks.h - what the arena suites share: a log of every allocation, filled with a
 * pattern and re-verified at the end (any overlap or reuse shows as lost fill; concurrent suites also sort it
 * and check disjointness, since two threads' fills can interleave), an alignment check, and
 * options that route an arena's blocks through a test allocator. Header-only; include support/test_util.h
 * first. */
#ifndef MEMTABLE_SUPPORT_ARENA_CHECKS_H
#define MEMTABLE_SUPPORT_ARENA_CHECKS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/arena.h>

#include "support/allocator.h"

/* Every allocation a test made, filled with a pattern: re-verifying all of them at the end catches any
 * two allocations that overlap and any allocation whose memory was reused or freed. */
typedef struct allocation {
  unsigned char *ptr;
  size_t size;
  unsigned char pattern;
} allocation;

typedef struct allocation_log {
  allocation *items;
  size_t count;
  size_t capacity;
} allocation_log;

static inline void log_fill_and_add(allocation_log *log, void *ptr, size_t size, unsigned char pattern) {
  if (log->count == log->capacity) {
    size_t capacity = log->capacity == 0 ? 1024 : 2 * log->capacity;
    allocation *items = realloc(log->items, capacity * sizeof(*items));
    assert_non_null(items);
    log->items = items;
    log->capacity = capacity;
  }
  memset(ptr, pattern, size);
  log->items[log->count++] = (allocation){ptr, size, pattern};
}

/* Index of the first allocation whose bytes no longer hold its pattern, or SIZE_MAX when all do. */
static inline size_t log_first_damaged(const allocation_log *log) {
  for (size_t i = 0; i < log->count; i++) {
    const allocation *item = &log->items[i];
    for (size_t b = 0; b < item->size; b++) {
      if (item->ptr[b] != item->pattern) return i;
    }
  }
  return SIZE_MAX;
}

static inline void log_release(allocation_log *log) {
  free(log->items);
  *log = (allocation_log){NULL, 0, 0};
}

static inline int allocation_by_address(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)((const allocation *)a)->ptr, y = (uintptr_t)((const allocation *)b)->ptr;
  return (x > y) - (x < y);
}

/* Sorts the log by address and returns the index (in that order) of the first allocation that overlaps the
 * one before it, or SIZE_MAX when all are disjoint: the direct check that no two allocations share a byte. */
static inline size_t log_sort_first_overlap(allocation_log *log) {
  if (log->count == 0) return SIZE_MAX;
  qsort(log->items, log->count, sizeof(*log->items), allocation_by_address);
  for (size_t i = 1; i < log->count; i++) {
    const allocation *before = &log->items[i - 1];
    if ((uintptr_t)log->items[i].ptr - (uintptr_t)before->ptr < before->size) return i;
  }
  return SIZE_MAX;
}

static inline int is_aligned(const void *ptr, size_t alignment) { return (uintptr_t)ptr % alignment == 0; }

static inline mt_arena_options hooked_options(test_allocator *hook, size_t block_size) {
  mt_arena_options options;
  mt_arena_options_init(&options);
  options.block_size = block_size;
  options.allocator = test_allocator_hooks(hook);
  return options;
}

#endif
