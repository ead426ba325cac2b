/* fuzz/fuzz_allocator.h - an mt_allocator that counts what it hands out and fails on demand.
 *
 * It checks the hook contract from the library's side: every free names a live block with the size its
 * alloc asked for (a mismatch aborts), and the counters let a target assert that everything was returned.
 * Failure injection: the fail_at-th alloc call fails (1-based; 0 never), and every later call too when
 * fail_after is set. Requests above max_size are refused as well, so a target may ask for absurd sizes
 * without the fuzzer's malloc limit firing. Header-only.
 */
#ifndef MEMTABLE_FUZZ_ALLOCATOR_H
#define MEMTABLE_FUZZ_ALLOCATOR_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/arena.h>

/* Room in front of each block for its size, keeping the caller's pointer aligned like malloc's. */
#define FUZZ_ALLOCATOR_PREFIX ((size_t)32)
_Static_assert(FUZZ_ALLOCATOR_PREFIX % alignof(max_align_t) == 0, "prefix keeps max_align_t alignment");

typedef struct fuzz_allocator {
  uint64_t calls;    /* alloc calls so far */
  uint64_t fail_at;  /* 1-based call that fails; 0 = none */
  bool fail_after;   /* every call from fail_at on fails */
  size_t max_size;   /* larger requests are refused */
  uint64_t failures; /* calls refused, for any reason */
  size_t live_blocks;
  size_t live_bytes; /* sum of the sizes asked for by live blocks */
} fuzz_allocator;

typedef struct fuzz_allocator_prefix {
  size_t size;
  const fuzz_allocator *owner;
} fuzz_allocator_prefix;
_Static_assert(sizeof(fuzz_allocator_prefix) <= FUZZ_ALLOCATOR_PREFIX, "prefix fits");

static inline void *fuzz_allocator_alloc(void *ctx, size_t size) {
  fuzz_allocator *allocator = ctx;
  allocator->calls++;
  bool injected = allocator->fail_at != 0 &&
                  (allocator->calls == allocator->fail_at ||
                   (allocator->fail_after && allocator->calls > allocator->fail_at));
  if (injected || size > allocator->max_size) {
    allocator->failures++;
    return NULL;
  }
  char *block = malloc(FUZZ_ALLOCATOR_PREFIX + size);
  if (block == NULL) {
    allocator->failures++;
    return NULL;
  }
  fuzz_allocator_prefix prefix = {size, allocator};
  memcpy(block, &prefix, sizeof(prefix));
  allocator->live_blocks++;
  allocator->live_bytes += size;
  return block + FUZZ_ALLOCATOR_PREFIX;
}

static inline void fuzz_allocator_free(void *ctx, void *ptr, size_t size) {
  fuzz_allocator *allocator = ctx;
  if (ptr == NULL) {
    fprintf(stderr, "fuzz_allocator: free(NULL, %zu): the hook never handed out NULL\n", size);
    abort();
  }
  char *block = (char *)ptr - FUZZ_ALLOCATOR_PREFIX;
  fuzz_allocator_prefix prefix;
  memcpy(&prefix, block, sizeof(prefix));
  if (prefix.owner != allocator || prefix.size != size) {
    fprintf(stderr, "fuzz_allocator: free(%p, %zu) but that block was allocated with size %zu by %s allocator\n",
            ptr, size, prefix.size, prefix.owner == allocator ? "this" : "another");
    abort();
  }
  if (allocator->live_blocks == 0 || allocator->live_bytes < size) {
    fprintf(stderr, "fuzz_allocator: more freed than allocated\n");
    abort();
  }
  allocator->live_blocks--;
  allocator->live_bytes -= size;
  free(block);
}

static inline mt_allocator fuzz_allocator_hooks(fuzz_allocator *allocator) {
  mt_allocator hooks = {fuzz_allocator_alloc, fuzz_allocator_free, allocator};
  return hooks;
}

#endif
