/* arena/malloc_allocator.h - private to the arena layer: the allocator hooks an arena or a block pool uses
 * when the caller gives none (malloc and free). */
#ifndef MEMTABLE_ARENA_MALLOC_ALLOCATOR_H
#define MEMTABLE_ARENA_MALLOC_ALLOCATOR_H

#include <stdlib.h>

#include <memtable/arena.h>

static inline void *malloc_allocator_alloc(void *ctx, size_t size) {
  (void)ctx;
  return malloc(size);
}

static inline void malloc_allocator_free(void *ctx, void *ptr, size_t size) {
  (void)ctx;
  (void)size;
  free(ptr);
}

/* Fills in malloc and free when *allocator has no hooks (both NULL); leaves given hooks alone. */
static inline void malloc_allocator_default(mt_allocator *allocator) {
  if (allocator->alloc != NULL) return;
  allocator->alloc = malloc_allocator_alloc;
  allocator->free = malloc_allocator_free;
}

#endif
