/* arena/arena_poison.h - private: AddressSanitizer poisoning of arena memory (no-ops in other builds).
 *
 * Under ASan, a byte of a block the arena holds is addressable only while it belongs to a live allocation:
 * a block's data is poisoned when the block is obtained, each allocation unpoisons exactly its own bytes,
 * undo and reset poison again what they take back, and a block goes back to its allocator unpoisoned (the
 * allocator owns it then: malloc's free marks it freed itself, a custom hook gets it as its alloc gave it).
 *
 * Granularity: ASan keeps one shadow byte per 8-byte granule, which can say "all", "the first k" or "none"
 * of the granule's bytes are addressable. So poisoning [p, p + n) poisons a granule's head only when p is
 * 8-aligned (else the bytes before p in that granule stay as they were), and unpoisoning an allocation
 * that starts inside a granule makes the whole head of that granule addressable: alignment padding in a
 * granule shared with the previous allocation is not reported; padding spanning whole granules is.
 * Two threads must never change the shadow of one granule at once (a shadow update reads, then writes its
 * byte): concurrent mode keeps each thread's chunk granule-aligned at both ends (ARENA_POISON_GRANULE)
 * and changes the shadow of the shared blocks only under the arena's lock. Lock-free readers of published
 * allocations may check a granule while a writer changes it: an allocation only widens a granule's
 * addressable prefix, and undo narrows it no further than the start of what it takes back, so no published
 * byte ever looks poisoned.
 *
 * A block pool (or any other keeper of idle blocks) calls arena_poison_block on a block it keeps idle
 * and arena_unpoison_block before it hands the block to anyone else (the arena re-poisons what it
 * obtains with arena_poison_new_block, header excepted).
 */
#ifndef MEMTABLE_ARENA_POISON_H
#define MEMTABLE_ARENA_POISON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_POISONING 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_POISONING 1
#endif
#endif

/* ASan's shadow granule: the unit a chunk's bounds are rounded to in every build (so a build with and one
 * without ASan carve the same chunks). */
#define ARENA_POISON_GRANULE ((size_t)8)

#ifdef ARENA_POISONING
#include <sanitizer/asan_interface.h>

/* Marks [p, p + n) unaddressable (see "Granularity" above for a head that is not 8-aligned). */
static inline void arena_poison(const void *p, size_t n) { ASAN_POISON_MEMORY_REGION(p, n); }

/* Marks [p, p + n) addressable: an allocation being handed out, or a block going back to its allocator. */
static inline void arena_unpoison(const void *p, size_t n) { ASAN_UNPOISON_MEMORY_REGION(p, n); }

/* True when no byte of [p, p + n) is poisoned: a validator may read it without an ASan report. Not
 * __asan_region_is_poisoned: it checks only the first and last bytes of partial granules, trusting that a
 * partial granule ends an object, while here a range may cross the padding after one allocation into the
 * next. A granule's shadow says "its first k bytes", so a range's part in one granule is addressable
 * exactly when that part's last byte is: one look per granule. */
static inline bool arena_is_addressable(const void *p, size_t n) {
  uintptr_t at = (uintptr_t)p;
  uintptr_t end = at + n;
  while (at < end) {
    uintptr_t granule_end = (at | (ARENA_POISON_GRANULE - 1)) + 1;
    uintptr_t last = granule_end < end ? granule_end - 1 : end - 1;
    if (__asan_address_is_poisoned((const void *)last)) return false;
    at = last + 1;
  }
  return true;
}
#else
static inline void arena_poison(const void *p, size_t n) {
  (void)p;
  (void)n;
}

static inline void arena_unpoison(const void *p, size_t n) {
  (void)p;
  (void)n;
}

static inline bool arena_is_addressable(const void *p, size_t n) {
  (void)p;
  (void)n;
  return true;
}
#endif

/* A whole block (header included) is idle: any access to it is a bug until it is handed out again. */
static inline void arena_poison_block(void *block, size_t size) { arena_poison(block, size); }

/* A whole block goes to an owner outside the arena (its allocator's free hook, a pool's caller). */
static inline void arena_unpoison_block(void *block, size_t size) { arena_unpoison(block, size); }

/* A block just obtained (from the allocator or a pool): its header, the arena's own bookkeeping, is
 * addressable; its data, header_size bytes on, is not until allocations hand it out. */
static inline void arena_poison_new_block(void *block, size_t size, size_t header_size) {
  arena_unpoison(block, header_size);
  arena_poison((char *)block + header_size, size - header_size);
}

#endif
