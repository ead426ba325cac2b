/* memtable/arena.h - a bump allocator whose memory is freed all at once.
 *
 * Threading: allocation, reset and destroy require external synchronization (one thread at a time), unless
 * the arena is in concurrent mode (options.concurrent), where any number of threads may allocate at once.
 * mt_arena_memory_usage may be called from any thread at any time while the arena is alive.
 * Memory handed out stays valid, and never moves, until mt_arena_reset or mt_arena_destroy.
 *
 * Requests are carved from blocks of options.block_size bytes. When a request does not fit in what is
 * left of the current block, a request larger than a quarter of the block size gets a block of its own
 * (the current block keeps serving small requests); a smaller one abandons the rest of the current block
 * and starts a new one. So at most a quarter of each block is ever wasted.
 *
 * Concurrent mode (options.concurrent): each thread carves small requests from a chunk of its own (an
 * eighth of block_size, at most 8 KiB; or a shared block's last tail, when that is shorter but at least a
 * quarter chunk), cut from the shared blocks, with no lock and no atomic; refilling a
 * chunk and every larger request (one whose size plus alignment - 1 exceeds a quarter chunk) take the
 * arena's mutex, and so do the allocator hooks. Beyond the quarter-block rule above, a thread can leave
 * unused, per arena: less than a quarter chunk each time it refills (the chunk rule is the block rule), and
 * the rest of its current chunk, under one chunk, until reset or destroy. A thread keeps chunks for 4
 * concurrent arenas at once; using a fifth abandons the chunk of the one it used least recently.
 */
#ifndef MEMTABLE_ARENA_H
#define MEMTABLE_ARENA_H

#include <stdbool.h>
#include <stddef.h>

#include <memtable/export.h>
#include <memtable/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_arena mt_arena;

/* Caller-supplied memory source. alloc returns size bytes aligned to at least max_align_t, or NULL;
 * free receives the pointer and the size that alloc was asked for. An arena calls both only from the
 * thread that allocates from it (or destroys it); in concurrent mode, from any allocating thread, under the
 * arena's mutex (so never two at once; a hook must not call into that arena). Other users of the type (the
 * memtable's reader_allocator) say which threads they call it from. */
typedef struct mt_allocator {
  void *(*alloc)(void *ctx, size_t size);
  void (*free)(void *ctx, void *ptr, size_t size);
  void *ctx;
} mt_allocator;

typedef struct mt_arena_options {
  /* Bytes per block, default 4096 (0 also means the default). Values below 256 are raised to 256; above
   * 1 GiB, rejected. */
  size_t block_size;
  /* Hard limit on mt_arena_memory_usage; 0 (the default) means unlimited. An allocation that would need
   * memory beyond it fails with MT_FULL and changes nothing. */
  size_t capacity;
  /* Where blocks come from; all-NULL (the default) means malloc/free. alloc and free must be both set
   * or both NULL. */
  mt_allocator allocator;
  /* Concurrent mode (default false): any number of threads may allocate at once (the allocate functions,
   * mt_arena_try_allocate, mt_arena_undo_last of the calling thread's own latest allocation), without a lock
   * on the fast path; the allocator hooks are then called from any allocating thread (never two at once).
   * mt_arena_reset, mt_arena_destroy and mt_arena_contains still require every allocating thread to be
   * quiescent (joined, or synchronized with the caller). See "Concurrent mode" above for the memory a
   * thread's chunk can leave unused. */
  bool concurrent;
} mt_arena_options;

#define MT_ARENA_DEFAULT_BLOCK_SIZE ((size_t)4096)
#define MT_ARENA_MAX_BLOCK_SIZE ((size_t)1 << 30)
#define MT_ARENA_MAX_ALIGNMENT ((size_t)4096)
#define MT_ARENA_OPTIONS_INIT {MT_ARENA_DEFAULT_BLOCK_SIZE, 0, {NULL, NULL, NULL}, false}

/* Fills *options with the documented defaults. */
MT_API void mt_arena_options_init(mt_arena_options *options);

/* Creates an arena; options NULL means the defaults. No block is allocated until the first request, so a
 * new arena's memory usage is 0. On MT_OK *out is the arena, which the caller owns and releases with
 * mt_arena_destroy; otherwise *out is NULL and the status says why: MT_INVALID_ARGUMENT (out NULL,
 * block_size above the maximum, only one of alloc/free set) or MT_NOMEM (the arena's own small header could
 * not be allocated). */
MT_API mt_status mt_arena_try_create(const mt_arena_options *options, mt_arena **out);

/* As mt_arena_try_create, returning the arena, or NULL for either failure. */
MT_API mt_arena *mt_arena_create(const mt_arena_options *options);

/* Frees every block at once, then the arena. NULL is ignored. Every pointer the arena handed out dies. */
MT_API void mt_arena_destroy(mt_arena *arena);

/* Returns `bytes` bytes with no alignment promise, or NULL on failure (capacity reached, allocator
 * failure, size overflow, arena NULL); a failure leaves the arena unchanged and usable. A zero-byte
 * request is served as a one-byte request: the result is a distinct non-NULL pointer, so NULL always
 * means failure. */
MT_API void *mt_arena_allocate(mt_arena *arena, size_t bytes);

/* As mt_arena_allocate, aligned to MT_ARENA_DEFAULT_ALIGNMENT = max(sizeof(void *), 8). */
#define MT_ARENA_DEFAULT_ALIGNMENT (sizeof(void *) > 8 ? sizeof(void *) : (size_t)8)
MT_API void *mt_arena_allocate_aligned(mt_arena *arena, size_t bytes);

/* As mt_arena_allocate, aligned to `alignment`, a power of two from 1 to MT_ARENA_MAX_ALIGNMENT (4096:
 * cache-line and page alignment). Any other alignment returns NULL. */
MT_API void *mt_arena_allocate_aligned_to(mt_arena *arena, size_t bytes, size_t alignment);

/* The status-returning form of the three above: on MT_OK, *out is the memory; otherwise *out is NULL and
 * the status says why: MT_FULL (capacity), MT_NOMEM (allocator), MT_INVALID_ARGUMENT (NULL arena or out,
 * bad alignment, a size that with the block header and alignment slack would exceed PTRDIFF_MAX). */
MT_API mt_status mt_arena_try_allocate(mt_arena *arena, size_t bytes, size_t alignment, void **out);

/* Takes back the arena's most recent allocation, `ptr`, which the caller has not handed to anyone: the
 * arena returns to its state before that allocation (a block obtained for it goes back to the allocator
 * and leaves the memory usage figure), so a refused operation leaves no trace. Only the latest allocation
 * can be undone, once: MT_INVALID_ARGUMENT (nothing changed) when ptr is not it, or after a reset. The
 * one exception to "nothing is freed piece by piece"; same threading as allocation.
 * In concurrent mode, "latest" means the calling thread's own latest allocation from this arena (another
 * thread's is MT_INVALID_ARGUMENT). One from the thread's chunk is always taken back; if it refilled the
 * chunk, the new chunk (and a block obtained for it) goes back too while no thread has taken memory from
 * the shared blocks since, else the chunk stays with the thread, whole. A larger request is taken back
 * (its block too) only while no thread has taken memory from the shared blocks since; otherwise
 * MT_INVALID_ARGUMENT, nothing changed. */
MT_API mt_status mt_arena_undo_last(mt_arena *arena, const void *ptr);

/* True when the arena was created in concurrent mode (false for NULL). Any thread. */
MT_API bool mt_arena_is_concurrent(const mt_arena *arena);

/* Bytes the arena holds: every block it allocated plus its bookkeeping. Never below the bytes handed
 * out. Safe to call from any thread while another allocates (a relaxed atomic read: the figure may lag
 * the allocating thread by the allocations still in flight, never by a completed block). In concurrent
 * mode it counts blocks, not chunks: exact once the allocating threads are quiescent. */
MT_API size_t mt_arena_memory_usage(const mt_arena *arena);

/* Where the bytes an arena holds go. Identity, exact once the allocating threads are quiescent:
 *   held_bytes == header_bytes + used_bytes + wasted_bytes + free_bytes.
 * used_bytes: handed out, each allocation with the alignment padding before it. In concurrent mode each
 *   thread's current chunk counts as used whole (the arena sees a thread's bumps inside its chunk only when
 *   the chunk is refilled: per-allocation sharing would cost the lock-free path), so used_bytes may exceed
 *   what was handed out by under one chunk (block_size / 8, at most 8 KiB) per allocating thread.
 * wasted_bytes: never handed out and never will be: the tail of a block abandoned when a request did not fit
 *   it (less than a quarter block each time), the unused alignment slack of a request's own block, and in
 *   concurrent mode the tail of a chunk a thread abandoned to take a new one. An allocation that is undone
 *   (mt_arena_undo_last) takes its waste back with it; a chunk abandoned because its thread moved on to a
 *   fifth arena stays counted as used. */
typedef struct mt_arena_stats {
  size_t held_bytes;   /* mt_arena_memory_usage: every block, headers included */
  size_t blocks;       /* blocks held */
  size_t header_bytes; /* the blocks' own headers (blocks times a max_align_t-sized header) */
  size_t used_bytes;
  size_t wasted_bytes;
  size_t free_bytes; /* the current block's tail (concurrent mode: of the shared block), yet to be handed out */
  size_t block_size; /* the standard block size in effect (options.block_size after defaults and raising) */
} mt_arena_stats;

/* Fills *out with the arena's figures: MT_OK, or MT_INVALID_ARGUMENT (nothing written) for NULL arena or out.
 * Any thread, while another allocates: relaxed reads, so a figure may lag allocations in flight and the
 * identity above may be off by them (used_bytes is clamped at 0, never wraps); exact once the allocating
 * threads are quiescent. O(1): no block walk. */
MT_API mt_status mt_arena_get_stats(const mt_arena *arena, mt_arena_stats *out);

/* The most one allocation of `bytes` at `alignment` can add to mt_arena_memory_usage, whatever the arena's
 * state: nothing when it fits what is left of the current block (or the thread's chunk), else one new block:
 * a standard one (block_size; in concurrent mode also for a chunk refill), or for a request above a quarter
 * block its own (header, alignment slack beyond max_align_t, bytes). 0 for a request mt_arena_try_allocate
 * would refuse as MT_INVALID_ARGUMENT (NULL arena, bad alignment, oversize). Any thread (it reads only
 * fields fixed at create). */
MT_API size_t mt_arena_growth_bound(const mt_arena *arena, size_t bytes, size_t alignment);

/* True when [ptr, ptr + len) lies wholly inside memory the arena has handed out or holds (a check for
 * validators: it walks the block list). Requires the same external synchronization as allocation. */
MT_API int mt_arena_contains(const mt_arena *arena, const void *ptr, size_t len);

/* Frees every block except one standard block, which is kept (its pages stay faulted in) and reused
 * from its start. Every pointer handed out before dies. NULL is ignored. */
MT_API void mt_arena_reset(mt_arena *arena);

#ifdef __cplusplus
}
#endif

#endif
