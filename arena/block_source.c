/* Block source: see arena/block_source.h, and mt_arena_pages / numa_node in include/memtable/arena.h for the
 * contract.
 *
 * A mapped block is one private anonymous mapping of exactly its size, so munmap(block, size) gives it back
 * whole (reset and undo free blocks one at a time). Huge-page blocks are aligned to 2 MiB by mapping 2 MiB
 * more than needed and unmapping the unaligned head and the tail: an aligned whole-huge-page range is what
 * khugepaged and the fault path can back with huge pages, and it is what MAP_HUGETLB hands out anyway.
 * Advice (MADV_HUGEPAGE) and placement (mbind) are set before any page is touched, so the first fault
 * already follows them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* MAP_ANONYMOUS, MAP_HUGETLB, MADV_HUGEPAGE, sched_getcpu */
#endif
#include "arena/block_source.h"

#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef MEMTABLE_HAVE_NUMA
#include <numa.h>
#include <numaif.h>
#endif

/* Nodes a placement can name: node numbers up to this (exclusive) fit the mbind mask below. */
#define NUMA_MAX_NODES 1024
#define ULONG_BITS (8 * sizeof(unsigned long))

#if defined(MAP_HUGE_SHIFT)
#define MAP_HUGE_2MB_FLAG (21 << MAP_HUGE_SHIFT) /* ask for 2 MiB pages even where the default size differs */
#else
#define MAP_HUGE_2MB_FLAG 0
#endif

static mti_block_source_mmap_fn mmap_fn = mmap;

void mti_block_source_set_mmap_for_testing(mti_block_source_mmap_fn fn) { mmap_fn = fn != NULL ? fn : mmap; }

const char *mt_arena_backing_name(mt_arena_backing backing) {
  switch (backing) {
    case MT_ARENA_BACKING_MALLOC: return "malloc";
    case MT_ARENA_BACKING_MMAP: return "mmap";
    case MT_ARENA_BACKING_TRANSPARENT: return "thp";
    case MT_ARENA_BACKING_HUGETLB: return "hugetlb";
  }
  return "unknown";
}

/* Whether blocks can be placed: sets numa_reason when they cannot. MT_INVALID_ARGUMENT for a node the
 * system does not have (when libnuma can tell). */
static mt_status init_numa(mti_block_source *source) {
#ifdef MEMTABLE_HAVE_NUMA
  if (numa_available() < 0) {
    source->numa_reason = "NUMA not available on this system (numa_available() < 0): blocks not placed";
    return MT_OK;
  }
  if (source->numa_node > numa_max_node()) return MT_INVALID_ARGUMENT;
  return MT_OK;
#else
  source->numa_reason =
      "built without libnuma (MEMTABLE_WITH_NUMA=OFF, or AUTO without libnuma-dev): blocks not placed";
  return MT_OK;
#endif
}

mt_status mti_block_source_init(mti_block_source *source, const mt_arena_options *options, mt_allocator allocator,
                                bool has_hooks) {
  memset(source, 0, sizeof(*source));
  source->allocator = allocator;
  source->pages = options->pages;
  source->numa_node = options->numa_node;
  source->numa_last_node = -1;
  source->fallback_reason = "";
  source->numa_reason = "";
  source->granule = 1;
  if (options->pages != MT_ARENA_PAGES_DEFAULT && options->pages != MT_ARENA_PAGES_TRANSPARENT &&
      options->pages != MT_ARENA_PAGES_HUGETLB)
    return MT_INVALID_ARGUMENT;
  if (options->numa_node < MT_ARENA_NUMA_LOCAL || options->numa_node >= NUMA_MAX_NODES) return MT_INVALID_ARGUMENT;
  bool numa_requested = options->numa_node != MT_ARENA_NUMA_ANY;
  if (has_hooks && (options->pages != MT_ARENA_PAGES_DEFAULT || numa_requested)) return MT_INVALID_ARGUMENT;
  if (numa_requested) {
    mt_status status = init_numa(source);
    if (status != MT_OK) return status;
  }
  source->numa_usable = numa_requested && source->numa_reason[0] == '\0';
  bool numa_usable = source->numa_usable;
  if (options->pages != MT_ARENA_PAGES_DEFAULT) {
    source->mapped = true;
    source->granule = MT_ARENA_HUGE_PAGE_SIZE;
  } else if (numa_usable) {
    /* mbind works on whole pages: a malloc'd block would share pages with its neighbours. */
    long page = sysconf(_SC_PAGESIZE);
    source->mapped = true;
    source->granule = page > 0 ? (size_t)page : (size_t)4096;
  }
  return MT_OK;
}

size_t mti_block_source_block_bytes(const mti_block_source *source, size_t size) {
  size_t granule = source->granule;
  if (size > (size_t)PTRDIFF_MAX - (granule - 1)) return 0;
  return (size + granule - 1) / granule * granule;
}

static void count_block(mti_block_source *source, mt_arena_backing backing, size_t size) {
  source->blocks[backing]++;
  source->bytes[backing] += size;
}

/* size bytes at an address aligned to alignment (a multiple of the page size), or NULL (errno set). */
static void *map_aligned(size_t size, size_t alignment) {
  if (size > SIZE_MAX - alignment) {
    errno = ENOMEM;
    return NULL;
  }
  size_t span = size + alignment;
  char *raw = mmap_fn(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return NULL;
  char *start = (char *)(((uintptr_t)raw + alignment - 1) & ~(uintptr_t)(alignment - 1));
  size_t head = (size_t)(start - raw);
  size_t tail = span - head - size;
  /* Trimming a private anonymous mapping we own cannot fail but for a bad range, which these are not. */
  if (head != 0) (void)munmap(raw, head);
  if (tail != 0) (void)munmap(start + size, tail);
  return start;
}

static const char *hugetlb_failure(int error) {
  switch (error) {
    case ENOMEM: return "mmap(MAP_HUGETLB) failed: ENOMEM (no 2 MiB huge pages reserved or free: vm.nr_hugepages)";
    case EINVAL: return "mmap(MAP_HUGETLB) failed: EINVAL (2 MiB huge pages not supported here)";
    case EPERM: return "mmap(MAP_HUGETLB) failed: EPERM (not permitted)";
  }
  return "mmap(MAP_HUGETLB) failed";
}

/* Sets the block's NUMA policy when one was asked for and can be set; otherwise records why not (the latest
 * reason; later blocks try again). */
static void place(mti_block_source *source, void *block, size_t size) {
  if (!source->numa_usable) return;
#ifdef MEMTABLE_HAVE_NUMA
  int node = source->numa_node;
  if (node == MT_ARENA_NUMA_LOCAL) {
    int cpu = sched_getcpu();
    node = cpu < 0 ? -1 : numa_node_of_cpu(cpu);
    if (node < 0 || node >= NUMA_MAX_NODES) {
      source->numa_reason =
          "the allocating thread's node is unknown (sched_getcpu/numa_node_of_cpu failed): block not placed";
      return;
    }
  }
  unsigned long mask[NUMA_MAX_NODES / ULONG_BITS] = {0};
  mask[(size_t)node / ULONG_BITS] |= 1UL << ((size_t)node % ULONG_BITS);
  /* Preferred, not bound: a full node lends pages from another instead of failing the fault (OOM). The
   * kernel reads maxnode - 1 bits. */
  if (mbind(block, size, MPOL_PREFERRED, mask, NUMA_MAX_NODES + 1, 0) != 0) {
    source->numa_reason = errno == EPERM ? "mbind failed: EPERM (not permitted here): block not placed"
                                         : "mbind failed (node not allowed or not online?): block not placed";
    return;
  }
  source->numa_blocks_placed++;
  source->numa_last_node = node;
#else
  (void)block;
  (void)size;
#endif
}

/* A huge-page request: MAP_HUGETLB first when asked, else (or on failure) an aligned mapping advised
 * MADV_HUGEPAGE; without the advice, base pages. */
static void *map_huge(mti_block_source *source, size_t size) {
  if (source->pages == MT_ARENA_PAGES_HUGETLB) {
    void *block = mmap_fn(NULL, size, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB_FLAG, -1, 0);
    if (block != MAP_FAILED) {
      place(source, block, size);
      count_block(source, MT_ARENA_BACKING_HUGETLB, size);
      return block;
    }
    source->fallbacks++;
    source->fallback_reason = hugetlb_failure(errno);
  }
  void *block = map_aligned(size, MT_ARENA_HUGE_PAGE_SIZE);
  if (block == NULL) return NULL;
  place(source, block, size);
  if (madvise(block, size, MADV_HUGEPAGE) != 0) {
    /* A block counts one fallback, even after a failed MAP_HUGETLB. */
    if (source->pages == MT_ARENA_PAGES_TRANSPARENT) source->fallbacks++;
    source->fallback_reason = errno == EINVAL
                                  ? "madvise(MADV_HUGEPAGE) failed: EINVAL (kernel without transparent huge pages)"
                                  : "madvise(MADV_HUGEPAGE) failed";
    count_block(source, MT_ARENA_BACKING_MMAP, size);
    return block;
  }
  count_block(source, MT_ARENA_BACKING_TRANSPARENT, size);
  return block;
}

void *mti_block_source_alloc(mti_block_source *source, size_t size) {
  if (!source->mapped) {
    void *block = source->allocator.alloc(source->allocator.ctx, size);
    if (block != NULL) count_block(source, MT_ARENA_BACKING_MALLOC, size);
    return block;
  }
  assert(size != 0 && size % source->granule == 0);
  if (source->pages != MT_ARENA_PAGES_DEFAULT) return map_huge(source, size);
  void *block = mmap_fn(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (block == MAP_FAILED) return NULL;
  place(source, block, size);
  count_block(source, MT_ARENA_BACKING_MMAP, size);
  return block;
}

void mti_block_source_free(mti_block_source *source, void *block, size_t size) {
  if (!source->mapped) {
    source->allocator.free(source->allocator.ctx, block, size);
    return;
  }
  /* The whole mapping, as mapped (a hugetlb length is a multiple of its page size): cannot fail. */
  int error = munmap(block, size);
  assert(error == 0);
  (void)error;
}

void mti_block_source_report(const mti_block_source *source, mt_arena_pages_report *report) {
  memset(report, 0, sizeof(*report));
  report->requested = source->pages;
  for (size_t i = 0; i < MT_ARENA_BACKING_COUNT; i++) {
    report->blocks[i] = source->blocks[i];
    report->bytes[i] = source->bytes[i];
  }
  report->fallbacks = source->fallbacks;
  report->fallback_reason = source->fallback_reason;
  report->numa_node_requested = source->numa_node;
  report->numa_blocks_placed = source->numa_blocks_placed;
  report->numa_last_node = source->numa_last_node;
  report->numa_reason = source->numa_reason;
}
