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
 * eighth of block_size rounded down to a multiple of 8, at most 8 KiB; or a shared block's last tail, when
 * that is shorter but at least a quarter chunk), cut from the shared blocks, with no lock and no atomic; refilling a
 * chunk and every larger request (one whose size plus alignment - 1 exceeds a quarter chunk) take the
 * arena's mutex, and so do the allocator hooks. Beyond the quarter-block rule above, a thread can leave
 * unused, per arena: less than a quarter chunk each time it refills (the chunk rule is the block rule), and
 * the rest of its current chunk, under one chunk, while it lives. A thread that exits gives the rest of each
 * of its chunks back to its arena (unless that arena is gone), as a spare the next refill of any thread takes
 * before cutting a new chunk (a spare too short for that refill's request is then wasted, less than the
 * request, as a chunk's tail is); so threads that write briefly, one after another, leave no more unused than
 * one thread would. A thread keeps chunks for 4 concurrent arenas at once; using a fifth gives the chunk of
 * the one it used least recently back the same way. (A thread that ends without running thread-exit
 * destructors, such as the process's main thread, leaves its chunks unused until reset or destroy.)
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
 *   - with a block pool (options.pool), a pointer kept across a destroy or reset that gave its block to the
 *     pool: "use-after-poison" while the block waits idle there. Once the pool lends the block to another
 *     arena (another table), the bytes that arena hands out are addressable again, so the stale pointer
 *     reads (or writes) the new owner's bytes and ASan reports nothing: it tracks whether bytes are handed
 *     out, not to whom. A test that must catch such a pointer runs without a pool, or keeps the pool from
 *     lending the block again (e.g. no later arena on it) until the check is done.
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
 * arena's mutex (so never two at once; a hook must not call into that arena, nor allocate from another
 * concurrent-mode arena: a thread giving a chunk back takes the arenas' mutexes in an order such a hook would
 * invert). Other users of the type (the
 * memtable's reader_allocator) say which threads they call it from. */
typedef struct mt_allocator {
  void *(*alloc)(void *ctx, size_t size);
  void (*free)(void *ctx, void *ptr, size_t size);
  void *ctx;
} mt_allocator;

/* Where an arena's blocks get their pages (options.pages).
 * MT_ARENA_PAGES_DEFAULT: malloc (or the allocator hooks).
 * MT_ARENA_PAGES_TRANSPARENT: each block is its own anonymous mmap, aligned to 2 MiB and advised
 *   MADV_HUGEPAGE, so the kernel backs it with transparent huge pages when it can (also when THP is set to
 *   "madvise", the usual distribution default). Fewer TLB misses on random reads over a large table.
 * MT_ARENA_PAGES_HUGETLB: each block is mmap'd with MAP_HUGETLB (2 MiB pages from the reserved pool,
 *   vm.nr_hugepages); when that fails (no pool, pool exhausted) the block falls back to
 *   MT_ARENA_PAGES_TRANSPARENT's mapping and the report says why. A block is never refused for want of huge
 *   pages alone.
 * With either huge-page backing, block sizes are rounded up to a multiple of MT_ARENA_HUGE_PAGE_SIZE: the
 * standard block size at create, and a request that needs a block of its own up to the next multiple (the
 * rest of that block is unused). So an arena holds at least 2 MiB once it allocates, and a capacity below
 * 2 MiB fails every request with MT_FULL. Whole huge pages per block keep every block's pages huge-page
 * eligible and let munmap return them whole; carving small blocks from shared 2 MiB regions would pin a
 * region while any of its blocks lives (reset and undo free blocks one at a time). Use it with large blocks
 * and large tables (the memtable's 64 KiB default becomes 2 MiB). */
typedef enum mt_arena_pages {
  MT_ARENA_PAGES_DEFAULT = 0,
  MT_ARENA_PAGES_TRANSPARENT = 1,
  MT_ARENA_PAGES_HUGETLB = 2
} mt_arena_pages;

#define MT_ARENA_HUGE_PAGE_SIZE ((size_t)2 << 20)
/* options.numa_node: no placement, or the allocating thread's node. */
#define MT_ARENA_NUMA_ANY (-1)
#define MT_ARENA_NUMA_LOCAL (-2)

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
  /* Page backing of the blocks (default MT_ARENA_PAGES_DEFAULT: malloc, as before). Any other value, or a
   * numa_node other than MT_ARENA_NUMA_ANY, makes the arena mmap its blocks itself, so it cannot be combined
   * with allocator hooks or a pool (MT_INVALID_ARGUMENT at create: the hooks or the pool own the memory, and a
   * placement the arena did not make could not be reported). See mt_arena_pages and mt_arena_get_pages_report below. */
  mt_arena_pages pages;
  /* NUMA node of the blocks' pages (default MT_ARENA_NUMA_ANY: the kernel's choice, no policy set):
   * MT_ARENA_NUMA_LOCAL, the node of the thread that obtains each block (when it obtains it), or a node
   * number >= 0. Placement is a preference (mbind MPOL_PREFERRED on each mmap'd block): a full node lends
   * pages from another rather than failing the fault. A build without libnuma (MEMTABLE_WITH_NUMA=OFF, or
   * AUTO without libnuma-dev), or a system without NUMA support, creates the arena all the same and leaves
   * the blocks unplaced, saying why in mt_arena_get_pages_report. Values below -2, or a node above the highest
   * the system has (when libnuma can tell), are MT_INVALID_ARGUMENT at create. The default is not 0: start
   * from MT_ARENA_OPTIONS_INIT or mt_arena_options_init (zeroed options ask for node 0). */
  int numa_node;
} mt_arena_options;

#define MT_ARENA_DEFAULT_BLOCK_SIZE ((size_t)4096)
#define MT_ARENA_MAX_BLOCK_SIZE ((size_t)1 << 30)
#define MT_ARENA_MAX_ALIGNMENT ((size_t)4096)
#define MT_ARENA_OPTIONS_INIT                                                                          \
  {MT_ARENA_DEFAULT_BLOCK_SIZE, 0, {NULL, NULL, NULL}, false, NULL, MT_ARENA_PAGES_DEFAULT, MT_ARENA_NUMA_ANY}

/* Fills *options with the documented defaults. */
MT_API void mt_arena_options_init(mt_arena_options *options);

/* Creates an arena; options NULL means the defaults. No block is allocated until the first request, so a
 * new arena's memory usage is 0. On MT_OK *out is the arena, which the caller owns and releases with
 * mt_arena_destroy; otherwise *out is NULL and the status says why: MT_INVALID_ARGUMENT (out NULL,
 * block_size above the maximum, only one of alloc/free set, block_size other than 0 or the pool's, pages not
 * one of mt_arena_pages, pages or numa_node set together with allocator hooks or a pool, numa_node out of
 * range: see the fields) or MT_NOMEM (the arena's own small header could not be allocated). */
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
 * can be undone, once: MT_INVALID_STATE (nothing changed) when ptr is not it, or after a reset;
 * MT_INVALID_ARGUMENT for NULL. The
 * one exception to "nothing is freed piece by piece"; same threading as allocation.
 * In concurrent mode, "latest" means the calling thread's own latest allocation from this arena (another
 * thread's is MT_INVALID_STATE). One from the thread's chunk is always taken back; if it refilled the
 * chunk, the new chunk (and a block obtained for it) goes back too while no thread has taken memory from
 * the shared blocks since, else the chunk stays with the thread, whole. A larger request is taken back
 * (its block too) only while no thread has taken memory from the shared blocks since; otherwise
 * MT_INVALID_STATE, nothing changed. */
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
 *   what was handed out by under one chunk (block_size / 8, at most 8 KiB) per live allocating thread, plus
 *   spare_bytes.
 * wasted_bytes: never handed out and never will be: the tail of a block abandoned when a request did not fit
 *   it (less than a quarter block each time), the unused alignment slack of a request's own block, and in
 *   concurrent mode the tail of a chunk a thread abandoned to take a new one. An allocation that is undone
 *   (mt_arena_undo_last) takes its waste back with it. A chunk's rest that its thread gave back (see
 *   "Concurrent mode") stays counted as used, as spare_bytes, until a refill takes it; one that a refill
 *   finds too short moves to wasted. */
typedef struct mt_arena_stats {
  size_t held_bytes;   /* mt_arena_memory_usage: every block, headers included */
  size_t blocks;       /* blocks held */
  size_t header_bytes; /* the blocks' own headers (blocks times a max_align_t-sized header) */
  size_t used_bytes;
  size_t wasted_bytes;
  size_t free_bytes; /* the current block's tail (concurrent mode: of the shared block), yet to be handed out */
  size_t block_size; /* the standard block size in effect (options.block_size after defaults and raising) */
  /* Concurrent mode: part of used_bytes, the chunks' rests that exited threads gave back, waiting for the
   * next refills; 0 in the normal mode. */
  size_t spare_bytes;
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
 * validators: it walks the block list). Under AddressSanitizer also false when any byte of the range is
 * poisoned (not handed out, or taken back by undo or reset), so a validator that reads only what this
 * accepts never trips an ASan report. Requires the same external synchronization as allocation. */
MT_API bool mt_arena_contains(const mt_arena *arena, const void *ptr, size_t len);

/* Frees every block (pool blocks go back to the pool) except one standard block, which is kept (its pages
 * stay faulted in) and reused from its start. Every pointer handed out before dies (under ASan, a use of one
 * into the kept block is reported as use-after-poison: see "AddressSanitizer" above). NULL is ignored. */
MT_API void mt_arena_reset(mt_arena *arena);

/* How an arena's blocks were backed (mt_arena_get_pages_report). A block gets exactly one backing. */
typedef enum mt_arena_backing {
  MT_ARENA_BACKING_MALLOC = 0,   /* malloc or the allocator hooks (MT_ARENA_PAGES_DEFAULT, no NUMA) */
  MT_ARENA_BACKING_MMAP = 1,     /* mmap with base pages: MT_ARENA_PAGES_DEFAULT with a NUMA request, or a
                                  * huge-page request whose madvise(MADV_HUGEPAGE) failed */
  MT_ARENA_BACKING_TRANSPARENT = 2, /* mmap, 2 MiB aligned, MADV_HUGEPAGE applied */
  MT_ARENA_BACKING_HUGETLB = 3   /* mmap MAP_HUGETLB: reserved 2 MiB pages */
} mt_arena_backing;
#define MT_ARENA_BACKING_COUNT 4

/* What the arena asked for and what its blocks got, counted since create (reset does not clear it).
 * The reason strings are static (never freed, never NULL: "" when there is nothing to say). */
typedef struct mt_arena_pages_report {
  mt_arena_pages requested;      /* options.pages */
  size_t block_size;             /* the standard block size in use (after any rounding to huge pages) */
  size_t blocks[MT_ARENA_BACKING_COUNT]; /* blocks obtained, by backing */
  size_t bytes[MT_ARENA_BACKING_COUNT];  /* their bytes */
  size_t fallbacks;              /* blocks that got a lesser backing than requested */
  const char *fallback_reason;   /* why the latest fallback happened, e.g. "mmap(MAP_HUGETLB) failed: ENOMEM
                                  * (no huge pages reserved or free: vm.nr_hugepages)" */
  int numa_node_requested;       /* options.numa_node */
  size_t numa_blocks_placed;     /* blocks whose pages were given a NUMA policy (mbind) */
  int numa_last_node;            /* the node the latest placed block was bound to; -1 when none */
  const char *numa_reason;       /* why a requested placement was not made, e.g. "built without libnuma" */
} mt_arena_pages_report;

/* Fills *report for the arena. MT_INVALID_ARGUMENT (report untouched) when either is NULL. Requires the same
 * synchronization as mt_arena_contains (no thread allocating from the arena). */
MT_API mt_status mt_arena_get_pages_report(const mt_arena *arena, mt_arena_pages_report *report);

/* A static name for a backing ("malloc", "mmap", "thp", "hugetlb"), "unknown" outside the enum. */
MT_API const char *mt_arena_backing_name(mt_arena_backing backing);

#ifdef __cplusplus
}
#endif

#endif
