/* tests/support/allocator.h - the one caller allocator of the suites and fuzz targets: it counts what it
 * hands out, fails on demand, and checks the hook contract from the library's side. Header-only.
 *
 * Failure injection: the fail_at-th alloc call fails (1-based; 0 never), and every later call too when
 * fail_after is set; requests above refuse_above (0: no limit) are refused as well, so a test may ask for
 * absurd sizes without malloc (or the fuzzer's malloc limit) seeing them. Every block carries a prefix
 * naming its size and owner and linking it into the list of live blocks, so a free is matched against its
 * alloc in O(1) (a pointer never handed out is read just before it: ASan reports that as the caller's bug)
 * and test_allocator_owns can say whether a range lies inside a live block. A mismatched free is counted
 * and leaked on purpose (LSan then names the block too); with fail_on_misuse it also ends the run through
 * mt_support_fail. The hooks are not thread-safe: the library calls them from the writer thread only, or
 * (an arena in concurrent mode) from any writer, under the arena's mutex.
 * Start from TEST_ALLOCATOR_INIT (or zero); blocks go back through the library, which frees what it took. */
#ifndef MEMTABLE_SUPPORT_ALLOCATOR_H
#define MEMTABLE_SUPPORT_ALLOCATOR_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/arena.h>

#include "support/check.h"

/* Room in front of each block for its prefix. Blocks (and so the caller's pointers) start on a cache line:
 * the library aligns some structures to one (the table's header), so with malloc's 16-byte alignment the
 * padding, and with it where the next block is needed, would depend on where malloc put each block; the
 * failure sweeps (memtable_failure_test) need runs with the same calls to allocate the same. */
#define TEST_ALLOCATOR_ALIGNMENT ((size_t)64)
#define TEST_ALLOCATOR_PREFIX TEST_ALLOCATOR_ALIGNMENT
_Static_assert(TEST_ALLOCATOR_PREFIX % alignof(max_align_t) == 0, "the prefix keeps max_align_t alignment");

typedef struct test_allocator_block test_allocator_block;

typedef struct test_allocator {
  size_t calls;          /* alloc calls so far, refused ones included */
  size_t free_calls;
  size_t fail_at;        /* 1-based alloc call that fails; 0 = none */
  bool fail_after;       /* every call from fail_at on fails */
  size_t refuse_above;   /* larger requests are refused; 0 = no limit */
  bool fail_on_misuse;   /* a bad free ends the run at once (fuzz targets) instead of only being counted */
  size_t failures;       /* alloc calls refused, for any reason */
  size_t last_alloc_size;
  size_t live_blocks;
  size_t live_bytes;     /* sum of the sizes asked for by live blocks */
  size_t bad_frees;      /* frees of a block with another size or from another allocator */
  test_allocator_block *live; /* most recent first */
} test_allocator;

#define TEST_ALLOCATOR_INIT {0, 0, 0, false, 0, false, 0, 0, 0, 0, 0, NULL}

struct test_allocator_block {
  size_t size;
  const test_allocator *owner;
  test_allocator_block *prev, *next;
};
_Static_assert(sizeof(test_allocator_block) <= TEST_ALLOCATOR_PREFIX, "the block header fits the prefix");

static inline void *test_allocator_alloc(void *ctx, size_t size) {
  test_allocator *allocator = ctx;
  allocator->calls++;
  allocator->last_alloc_size = size;
  bool injected = allocator->fail_at != 0 && (allocator->calls == allocator->fail_at ||
                                               (allocator->fail_after && allocator->calls > allocator->fail_at));
  if (injected || (allocator->refuse_above != 0 && size > allocator->refuse_above) ||
      size > SIZE_MAX - TEST_ALLOCATOR_PREFIX - TEST_ALLOCATOR_ALIGNMENT) {
    allocator->failures++;
    return NULL;
  }
  size_t total = (TEST_ALLOCATOR_PREFIX + size + TEST_ALLOCATOR_ALIGNMENT - 1) / TEST_ALLOCATOR_ALIGNMENT *
                 TEST_ALLOCATOR_ALIGNMENT; /* aligned_alloc wants a multiple of the alignment */
  char *memory = aligned_alloc(TEST_ALLOCATOR_ALIGNMENT, total);
  if (memory == NULL) {
    allocator->failures++;
    return NULL;
  }
  test_allocator_block *block = (test_allocator_block *)(void *)memory;
  *block = (test_allocator_block){size, allocator, NULL, allocator->live};
  if (allocator->live != NULL) allocator->live->prev = block;
  allocator->live = block;
  allocator->live_blocks++;
  allocator->live_bytes += size;
  return memory + TEST_ALLOCATOR_PREFIX;
}

static inline void test_allocator_free(void *ctx, void *ptr, size_t size) {
  test_allocator *allocator = ctx;
  allocator->free_calls++;
  if (ptr == NULL) {
    allocator->bad_frees++;
    if (allocator->fail_on_misuse) mt_support_fail("test_allocator: free(NULL, %zu): alloc never returns NULL", size);
    return;
  }
  test_allocator_block *block = (test_allocator_block *)(void *)((char *)ptr - TEST_ALLOCATOR_PREFIX);
  if (block->owner != allocator || block->size != size) {
    allocator->bad_frees++;
    if (allocator->fail_on_misuse)
      mt_support_fail("test_allocator: free(%p, %zu) but that block was allocated with size %zu by %s allocator",
                      ptr, size, block->size, block->owner == allocator ? "this" : "another");
    return; /* leaked on purpose */
  }
  if (block->prev != NULL) block->prev->next = block->next;
  else allocator->live = block->next;
  if (block->next != NULL) block->next->prev = block->prev;
  allocator->live_blocks--;
  allocator->live_bytes -= size;
  free(block);
}

static inline mt_allocator test_allocator_hooks(test_allocator *allocator) {
  mt_allocator hooks = {test_allocator_alloc, test_allocator_free, allocator};
  return hooks;
}

/* True when [ptr, ptr + len) lies inside one live block. */
static inline bool test_allocator_owns(const test_allocator *allocator, const void *ptr, size_t len) {
  uintptr_t start = (uintptr_t)ptr;
  for (const test_allocator_block *block = allocator->live; block != NULL; block = block->next) {
    uintptr_t first = (uintptr_t)block + TEST_ALLOCATOR_PREFIX;
    if (start >= first && start - first <= block->size && len <= block->size - (start - first)) return true;
  }
  return false;
}

#endif
