/* Bump allocator: see include/memtable/arena.h for the contract.
 *
 * Invariants (asserted where they are relied on): alloc_ptr and alloc_ptr + alloc_bytes_remaining lie in
 * the current block's data; every block in the list is counted in memory_usage; undo.result is the most
 * recent allocation or NULL, and undo.block, when set, is the newest block (the head of the list).
 */
#include <memtable/arena.h>

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Every block starts with this header; the union keeps the data after it aligned like malloc's. */
typedef union mt_block {
  struct {
    union mt_block *next; /* all blocks, newest first */
    size_t size;          /* bytes obtained from the allocator, header included */
  } h;
  max_align_t align;
} mt_block;

#define MT_BLOCK_HEADER sizeof(mt_block)
#define MT_MIN_BLOCK_SIZE ((size_t)256)

struct mt_arena {
  char *alloc_ptr;               /* next free byte of the current standard block */
  size_t alloc_bytes_remaining;  /* bytes left after alloc_ptr in that block */
  mt_block *blocks;              /* every block held, for destroy/reset/contains */
  mt_block *current;             /* the standard block alloc_ptr points into (NULL before the first) */
  /* Written only by the allocating thread, read by any: relaxed is enough because the figure is a
   * statistic and publishes no memory (readers never dereference anything because of it). */
  _Atomic size_t memory_usage;
  size_t block_size;
  size_t capacity; /* 0 = unlimited */
  mt_allocator allocator;
  /* How to take back the most recent allocation (mt_arena_undo_last). A bump records its result and where
   * it started (alloc_ptr before it); a fallback records the block it obtained and the position before it
   * (restored when that block became the current one). */
  struct {
    char *result;      /* the most recent allocation, NULL when there is nothing to undo */
    mt_block *block;   /* the block that allocation obtained, or NULL (a bump) */
    mt_block *current; /* fallback only: the current block before it */
    char *alloc_ptr;   /* alloc_ptr before the allocation */
    size_t alloc_bytes_remaining; /* fallback only: alloc_bytes_remaining before it */
  } undo;
};

static void *default_alloc(void *ctx, size_t size) {
  (void)ctx;
  return malloc(size);
}

static void default_free(void *ctx, void *ptr, size_t size) {
  (void)ctx;
  (void)size;
  free(ptr);
}

void mt_arena_options_init(mt_arena_options *options) {
  if (options == NULL) return;
  const mt_arena_options defaults = MT_ARENA_OPTIONS_INIT;
  *options = defaults;
}

mt_status mt_arena_try_create(const mt_arena_options *options, mt_arena **out) {
  if (out == NULL) return MT_INVALID_ARGUMENT;
  *out = NULL;
  mt_arena_options opts = MT_ARENA_OPTIONS_INIT;
  if (options != NULL) opts = *options;
  if ((opts.allocator.alloc == NULL) != (opts.allocator.free == NULL)) return MT_INVALID_ARGUMENT;
  if (opts.block_size > MT_ARENA_MAX_BLOCK_SIZE) return MT_INVALID_ARGUMENT;
  if (opts.block_size == 0) opts.block_size = MT_ARENA_DEFAULT_BLOCK_SIZE;
  if (opts.block_size < MT_MIN_BLOCK_SIZE) opts.block_size = MT_MIN_BLOCK_SIZE;
  if (opts.allocator.alloc == NULL) {
    opts.allocator.alloc = default_alloc;
    opts.allocator.free = default_free;
  }
  mt_arena *arena = opts.allocator.alloc(opts.allocator.ctx, sizeof(*arena));
  if (arena == NULL) return MT_NOMEM;
  memset(arena, 0, sizeof(*arena));
  atomic_init(&arena->memory_usage, 0);
  arena->block_size = opts.block_size;
  arena->capacity = opts.capacity;
  arena->allocator = opts.allocator;
  *out = arena;
  return MT_OK;
}

mt_arena *mt_arena_create(const mt_arena_options *options) {
  mt_arena *arena;
  (void)mt_arena_try_create(options, &arena);
  return arena;
}

static void free_blocks(mt_arena *arena, mt_block *keep) {
  mt_block *block = arena->blocks;
  while (block != NULL) {
    mt_block *next = block->h.next;
    if (block != keep) arena->allocator.free(arena->allocator.ctx, block, block->h.size);
    block = next;
  }
}

void mt_arena_destroy(mt_arena *arena) {
  if (arena == NULL) return;
  free_blocks(arena, NULL);
  mt_allocator allocator = arena->allocator;
  allocator.free(allocator.ctx, arena, sizeof(*arena));
}

void mt_arena_reset(mt_arena *arena) {
  if (arena == NULL) return;
  mt_block *keep = arena->current;
  free_blocks(arena, keep);
  arena->blocks = keep;
  arena->undo.result = NULL;
  if (keep == NULL) {
    arena->alloc_ptr = NULL;
    arena->alloc_bytes_remaining = 0;
    atomic_store_explicit(&arena->memory_usage, 0, memory_order_relaxed); /* statistic only */
    return;
  }
  keep->h.next = NULL;
  arena->alloc_ptr = (char *)keep + MT_BLOCK_HEADER;
  arena->alloc_bytes_remaining = keep->h.size - MT_BLOCK_HEADER;
  atomic_store_explicit(&arena->memory_usage, keep->h.size, memory_order_relaxed); /* statistic only */
}

/* Obtains a block of `size` bytes (header included) and links it, or reports why not. */
static mt_status new_block(mt_arena *arena, size_t size, mt_block **out) {
  size_t usage = atomic_load_explicit(&arena->memory_usage, memory_order_relaxed); /* own writes */
  if (arena->capacity != 0 && (size > arena->capacity || usage > arena->capacity - size)) return MT_FULL;
  mt_block *block = arena->allocator.alloc(arena->allocator.ctx, size);
  if (block == NULL) return MT_NOMEM;
  block->h.size = size;
  block->h.next = arena->blocks;
  arena->blocks = block;
  atomic_store_explicit(&arena->memory_usage, usage + size, memory_order_relaxed); /* statistic only */
  *out = block;
  return MT_OK;
}

static inline size_t padding_for(const char *ptr, size_t alignment) {
  return (size_t)(-(uintptr_t)ptr) & (alignment - 1);
}

/* The request did not fit in the current block: see the fallback rule in arena.h. */
static mt_status allocate_fallback(mt_arena *arena, size_t bytes, size_t alignment, void **out) {
  /* Blocks are aligned like max_align_t; stricter alignment needs room to slide the start. */
  size_t slack = alignment > alignof(max_align_t) ? alignment - 1 : 0;
  /* The whole block, header and slack included, is one object: it must not exceed PTRDIFF_MAX either. */
  if (bytes > (size_t)PTRDIFF_MAX - MT_BLOCK_HEADER - slack) return MT_INVALID_ARGUMENT;
  size_t needed = MT_BLOCK_HEADER + slack + bytes;
  bool own_block = bytes > arena->block_size / 4 || needed > arena->block_size;
  mt_block *block;
  mt_status status = new_block(arena, own_block ? needed : arena->block_size, &block);
  if (status != MT_OK) return status;
  char *data = (char *)block + MT_BLOCK_HEADER;
  char *result = data + padding_for(data, alignment);
  assert(result + bytes <= (char *)block + block->h.size);
  arena->undo.result = result;
  arena->undo.block = block;
  arena->undo.current = arena->current;
  arena->undo.alloc_ptr = arena->alloc_ptr;
  arena->undo.alloc_bytes_remaining = arena->alloc_bytes_remaining;
  if (!own_block) {
    /* The new block becomes the current one; the rest of the old one is abandoned. */
    arena->current = block;
    arena->alloc_ptr = result + bytes;
    arena->alloc_bytes_remaining = block->h.size - MT_BLOCK_HEADER - (size_t)(result - data) - bytes;
  }
  *out = result;
  return MT_OK;
}

mt_status mt_arena_try_allocate(mt_arena *arena, size_t bytes, size_t alignment, void **out) {
  if (out == NULL) return MT_INVALID_ARGUMENT;
  *out = NULL;
  if (arena == NULL || alignment == 0 || alignment > MT_ARENA_MAX_ALIGNMENT || (alignment & (alignment - 1)) != 0)
    return MT_INVALID_ARGUMENT;
  /* No object may exceed PTRDIFF_MAX; refusing here keeps such sizes away from the allocator. */
  if (bytes > (size_t)PTRDIFF_MAX) return MT_INVALID_ARGUMENT;
  if (bytes == 0) bytes = 1;
  size_t padding = padding_for(arena->alloc_ptr, alignment);
  if (bytes <= arena->alloc_bytes_remaining && padding <= arena->alloc_bytes_remaining - bytes) {
    char *result = arena->alloc_ptr + padding;
    arena->alloc_ptr = result + bytes;
    arena->alloc_bytes_remaining -= bytes + padding;
    assert(arena->current != NULL &&
           arena->alloc_ptr + arena->alloc_bytes_remaining == (char *)arena->current + arena->current->h.size);
    arena->undo.result = result;
    arena->undo.block = NULL;
    arena->undo.alloc_ptr = result - padding;
    *out = result;
    return MT_OK;
  }
  return allocate_fallback(arena, bytes, alignment, out);
}

mt_status mt_arena_undo_last(mt_arena *arena, const void *ptr) {
  if (arena == NULL || ptr == NULL || ptr != arena->undo.result) return MT_INVALID_ARGUMENT;
  mt_block *block = arena->undo.block;
  arena->undo.result = NULL;
  if (block == NULL) {
    /* A bump: the bytes from where it started (alignment padding included) are free again. */
    char *start = arena->undo.alloc_ptr;
    assert(start >= (char *)arena->current + MT_BLOCK_HEADER && start <= (const char *)ptr &&
           (const char *)ptr <= arena->alloc_ptr);
    arena->alloc_bytes_remaining += (size_t)(arena->alloc_ptr - start);
    arena->alloc_ptr = start;
    return MT_OK;
  }
  /* The allocation obtained the newest block: give that block back and restore the position before it. */
  assert(arena->blocks == block);
  arena->blocks = block->h.next;
  if (arena->current == block) {
    arena->current = arena->undo.current;
    arena->alloc_ptr = arena->undo.alloc_ptr;
    arena->alloc_bytes_remaining = arena->undo.alloc_bytes_remaining;
  }
  size_t usage = atomic_load_explicit(&arena->memory_usage, memory_order_relaxed); /* own writes */
  atomic_store_explicit(&arena->memory_usage, usage - block->h.size, memory_order_relaxed); /* statistic only */
  arena->allocator.free(arena->allocator.ctx, block, block->h.size);
  return MT_OK;
}

void *mt_arena_allocate(mt_arena *arena, size_t bytes) {
  void *result;
  (void)mt_arena_try_allocate(arena, bytes, 1, &result);
  return result;
}

void *mt_arena_allocate_aligned(mt_arena *arena, size_t bytes) {
  void *result;
  (void)mt_arena_try_allocate(arena, bytes, MT_ARENA_DEFAULT_ALIGNMENT, &result);
  return result;
}

void *mt_arena_allocate_aligned_to(mt_arena *arena, size_t bytes, size_t alignment) {
  void *result;
  (void)mt_arena_try_allocate(arena, bytes, alignment, &result);
  return result;
}

size_t mt_arena_memory_usage(const mt_arena *arena) {
  if (arena == NULL) return 0;
  /* Relaxed: a statistic read from any thread; it orders nothing. */
  return atomic_load_explicit(&arena->memory_usage, memory_order_relaxed);
}

int mt_arena_contains(const mt_arena *arena, const void *ptr, size_t len) {
  if (arena == NULL || ptr == NULL) return 0;
  uintptr_t start = (uintptr_t)ptr;
  if (len > UINTPTR_MAX - start) return 0;
  for (const mt_block *block = arena->blocks; block != NULL; block = block->h.next) {
    uintptr_t data = (uintptr_t)block + MT_BLOCK_HEADER;
    uintptr_t end = (uintptr_t)block + block->h.size;
    if (start >= data && start + len <= end) return 1;
  }
  return 0;
}
