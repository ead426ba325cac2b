/* arena/block_source.h - where an arena's blocks come from (private to the arena layer).
 *
 * A source either forwards to the allocator hooks (malloc by default) or, for huge pages or a NUMA request,
 * maps every block itself: one anonymous mmap per block, sized in whole granules (2 MiB for huge pages, the
 * base page otherwise), advised or bound before anything touches its pages. It counts what each block got,
 * for mt_arena_get_pages_report. Same threading as the arena's allocator hooks: one caller at a time.
 */
#ifndef MEMTABLE_ARENA_BLOCK_SOURCE_H
#define MEMTABLE_ARENA_BLOCK_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <memtable/arena.h>

typedef struct mti_block_source {
  mt_allocator allocator; /* blocks when !mapped (never NULL hooks) */
  bool mapped;            /* blocks are mmap'd by the source */
  mt_arena_pages pages;
  int numa_node;
  bool numa_usable; /* a placement was asked for and this build and system can make it */
  size_t granule;   /* mapped block sizes are multiples of it; 1 when !mapped */
  size_t blocks[MT_ARENA_BACKING_COUNT];
  size_t bytes[MT_ARENA_BACKING_COUNT];
  size_t fallbacks;
  const char *fallback_reason;
  size_t numa_blocks_placed;
  int numa_last_node;
  const char *numa_reason;
} mti_block_source;

/* Checks the options' pages and numa_node (MT_INVALID_ARGUMENT: see mt_arena_options) and sets up *source;
 * allocator holds both hooks (the defaults when the caller gave none); has_hooks says the caller gave them. */
mt_status mti_block_source_init(mti_block_source *source, const mt_arena_options *options, mt_allocator allocator,
                                bool has_hooks);

/* The bytes a block of `size` bytes really gets (size rounded up to the granule), or 0 when that would
 * exceed PTRDIFF_MAX. */
size_t mti_block_source_block_bytes(const mti_block_source *source, size_t size);

/* A block of `size` bytes (a value mti_block_source_block_bytes returned), aligned to the granule when
 * mapped, or NULL. */
void *mti_block_source_alloc(mti_block_source *source, size_t size);

/* Gives back a block of `size` bytes that mti_block_source_alloc returned. */
void mti_block_source_free(mti_block_source *source, void *block, size_t size);

void mti_block_source_report(const mti_block_source *source, mt_arena_pages_report *report);

/* Tests only: the mmap the source calls (NULL restores mmap), so a test can make mapping fail. Not
 * thread-safe; set it while no arena maps. */
typedef void *(*mti_block_source_mmap_fn)(void *addr, size_t length, int prot, int flags, int fd, off_t offset);
void mti_block_source_set_mmap_for_testing(mti_block_source_mmap_fn fn);

#endif
