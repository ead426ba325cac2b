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
 * eighth of block_size rounded down to a multiple of 8, at most 8 KiB), cut from the shared blocks, with no lock and no atomic; refilling a
 * chunk and every larger request (one whose size plus alignment - 1 exceeds a quarter chunk) take the
 * arena's mutex, and so do the allocator hooks. Beyond the quarter-block rule above, a thread can leave
 * unused, per arena: less than a quarter chunk each time it refills (the chunk rule is the block rule), and
 * the rest of its current chunk, under one chunk, until reset or destroy. A thread keeps chunks for 4
 * concurrent arenas at once; using a fifth abandons the chunk of the one it used least recently.
 *
 * AddressSanitizer: when the library itself is compiled with -fsanitize=address (the asan preset, or a
 * user's ASan build that builds it from source), a block's bytes are poisoned until handed out and poisoned
 * again when taken back, so ASan reports:
 *   - a read or write past an allocation into bytes not handed out (the rest of the block, alignment padding
 *     that fills whole 8-byte granules, a chunk's unused part): "use-after-poison";
 *   - a pointer kept across mt_arena_reset into the kept block, or across mt_arena_undo_last: "use-after-poison";
 *   - a pointer kept across mt_arena_destroy, across a reset into a block it gave back, or across an undo that
 *     gave its block back: with the default allocator, malloc's "heap-use-after-free". With custom allocator
 *     hooks a block reaches the free hook addressable (the hook owns it then, and may reuse it): ASan reports
 *     such a pointer only if the hook frees the block to malloc or poisons it (ASAN_POISON_MEMORY_REGION).
 * ASan sees 8-byte granules, holding "the first k bytes" of each: bytes after an allocation that share a
 * granule with the start of a later one are not reported, nor is an overflow into another live allocation.
 * Builds without ASan poison nothing and pay nothing.
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
  /* A block pool (memtable/block_pool.h) to take standard blocks from and give them back to on reset and
   * destroy, instead of the allocator; NULL (the default) = none. The arena then uses the pool's block
   * size: block_size must be 0 or equal to it, else MT_INVALID_ARGUMENT. Every block of exactly that size
   * comes from the pool; larger own-block requests and the arena's header use `allocator`. A take the pool
   * refuses fails the allocation, which changes nothing: MT_FULL when the pool's max_blocks are all in
   * existence, MT_NOMEM when its allocator fails. The pool must outlive the arena (destroy the arena first). */
  struct mt_block_pool *pool;
} mt_arena_options;

#define MT_ARENA_DEFAULT_BLOCK_SIZE ((size_t)4096)
#define MT_ARENA_MAX_BLOCK_SIZE ((size_t)1 << 30)
#define MT_ARENA_MAX_ALIGNMENT ((size_t)4096)
#define MT_ARENA_OPTIONS_INIT {MT_ARENA_DEFAULT_BLOCK_SIZE, 0, {NULL, NULL, NULL}, false, NULL}

/* Fills *options with the documented defaults. */
MT_API void mt_arena_options_init(mt_arena_options *options);

/* Creates an arena; options NULL means the defaults. No block is allocated until the first request, so a
 * new arena's memory usage is 0. On MT_OK *out is the arena, which the caller owns and releases with
 * mt_arena_destroy; otherwise *out is NULL and the status says why: MT_INVALID_ARGUMENT (out NULL,
 * block_size above the maximum, only one of alloc/free set, block_size other than 0 or the pool's) or MT_NOMEM (the arena's own small header could
 * not be allocated). */
MT_API mt_status mt_arena_try_create(const mt_arena_options *options, mt_arena **out);

/* As mt_arena_try_create, returning the arena, or NULL for either failure. */
MT_API mt_arena *mt_arena_create(const mt_arena_options *options);

/* Frees every block at once (pool blocks go back to the pool), then the arena. NULL is ignored. Every pointer
 * the arena handed out dies (under ASan: heap-use-after-free with the default allocator, use-after-poison
 * for a block idle in a pool; see "AddressSanitizer" above for hooks). */
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

/* True when [ptr, ptr + len) lies wholly inside memory the arena has handed out or holds (a check for
 * validators: it walks the block list). Under AddressSanitizer also false when any byte of the range is
 * poisoned (not handed out, or taken back by undo or reset), so a validator that reads only what this
 * accepts never trips an ASan report. Requires the same external synchronization as allocation. */
MT_API int mt_arena_contains(const mt_arena *arena, const void *ptr, size_t len);

/* Frees every block (pool blocks go back to the pool) except one standard block, which is kept (its pages
 * stay faulted in) and reused from its start. Every pointer handed out before dies (under ASan, a use of one
 * into the kept block is reported as use-after-poison: see "AddressSanitizer" above). NULL is ignored. */
MT_API void mt_arena_reset(mt_arena *arena);

#ifdef __cplusplus
}
#endif

#endif
