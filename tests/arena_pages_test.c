/* arena_pages_test: where an arena's blocks come from when it is asked for huge pages or NUMA placement:
 * transparent huge pages (every block a whole number of 2 MiB pages, 2 MiB aligned, advised: "hg" in its
 * VmFlags), MAP_HUGETLB falling back with its reason when no huge pages are reserved, NUMA placement read back
 * from the kernel (get_mempolicy MPOL_F_ADDR, move_pages), the documented fallback of a build without libnuma,
 * invalid combinations, and mmap failing (injected) or the capacity refusing a block with the arena usable
 * after; reset and undo unmap what they free. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mincore, syscall */
#endif
#include "support/test_util.h"

#include <memtable/arena.h>
#include <memtable/block_pool.h>
#include <memtable/memtable.h>

#include "arena/block_source.h"
#include "support/allocator.h"
#include "support/arena_checks.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define HUGE ((size_t)2 << 20)
#define MPOL_PREFERRED_MODE 1 /* <linux/mempolicy.h> MPOL_PREFERRED */
#define MPOL_F_ADDR_FLAG (1 << 1)

/* The smaps entry holding addr: its range and VmFlags line. False when no mapping holds it. */
static bool find_mapping(const void *addr, uintptr_t *start, uintptr_t *end, char *flags, size_t flags_len) {
  assert_true(flags_len > 0);
  FILE *smaps = fopen("/proc/self/smaps", "r");
  assert_non_null(smaps);
  char line[512];
  bool inside = false, found = false;
  while (fgets(line, sizeof(line), smaps) != NULL) {
    unsigned long lo, hi;
    char dash;
    if (sscanf(line, "%lx%c%lx ", &lo, &dash, &hi) == 3 && dash == '-') {
      inside = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
      if (inside) {
        *start = lo;
        *end = hi;
      }
      continue;
    }
    if (inside && strncmp(line, "VmFlags:", 8) == 0) {
      size_t len = strnlen(line + 8, flags_len - 1);
      memcpy(flags, line + 8, len);
      flags[len] = '\0';
      found = true;
      break;
    }
  }
  fclose(smaps);
  return found;
}

static bool has_flag(const char *flags, const char *flag) {
  char padded[8];
  snprintf(padded, sizeof(padded), " %s", flag);
  const char *at = strstr(flags, padded);
  return at != NULL && (at[3] == ' ' || at[3] == '\n' || at[3] == '\0');
}

/* True when every page of [addr, addr + len) is mapped (mincore: no allocation, so nothing can map the range
 * between a free and this check). */
static bool mapped(const void *addr, size_t len) {
  unsigned char vec[1024];
  long page = sysconf(_SC_PAGESIZE);
  uintptr_t first = (uintptr_t)addr & ~(uintptr_t)(page - 1);
  assert_true(len / (size_t)page + 2 <= sizeof(vec));
  return mincore((void *)first, (uintptr_t)addr + len - first, vec) == 0;
}

static mt_arena_options pages_options(mt_arena_pages pages, size_t block_size) {
  mt_arena_options options;
  mt_arena_options_init(&options);
  options.block_size = block_size;
  options.pages = pages;
  return options;
}

static mt_arena_pages_report report_of(const mt_arena *arena) {
  mt_arena_pages_report report;
  assert_int_equal(mt_arena_get_pages_report(arena, &report), MT_OK);
  return report;
}

/* The block holding p (an allocation of a huge-page arena) is 2 MiB aligned, advised and whole huge pages. */
static void assert_advised_huge_block(const void *p) {
  uintptr_t start, end;
  char flags[256];
  assert_true(find_mapping(p, &start, &end, flags, sizeof(flags)));
  assert_int_equal(start % HUGE, 0);
  assert_int_equal(end % HUGE, 0);
  if (!has_flag(flags, "hg")) fail_msg("VmFlags lack hg: %s", flags);
}

static void arena_pages_test_default_is_malloc(void **state) {
  (void)state;
  mt_arena *arena = mt_arena_create(NULL);
  assert_non_null(arena);
  assert_non_null(mt_arena_allocate(arena, 100));
  assert_non_null(mt_arena_allocate(arena, 5000)); /* a block of its own */
  mt_arena_pages_report report = report_of(arena);
  assert_int_equal(report.requested, MT_ARENA_PAGES_DEFAULT);
  assert_int_equal(report.block_size, MT_ARENA_DEFAULT_BLOCK_SIZE);
  assert_int_equal(report.blocks[MT_ARENA_BACKING_MALLOC], 2);
  assert_int_equal(report.bytes[MT_ARENA_BACKING_MALLOC], mt_arena_memory_usage(arena));
  assert_int_equal(report.blocks[MT_ARENA_BACKING_TRANSPARENT] + report.blocks[MT_ARENA_BACKING_HUGETLB] +
                       report.blocks[MT_ARENA_BACKING_MMAP],
                   0);
  assert_int_equal(report.fallbacks, 0);
  assert_string_equal(report.fallback_reason, "");
  assert_int_equal(report.numa_node_requested, MT_ARENA_NUMA_ANY);
  assert_int_equal(report.numa_blocks_placed, 0);
  assert_int_equal(report.numa_last_node, -1);
  assert_string_equal(report.numa_reason, "");
  assert_string_equal(mt_arena_backing_name(MT_ARENA_BACKING_TRANSPARENT), "thp");
  assert_string_equal(mt_arena_backing_name((mt_arena_backing)99), "unknown");
  mt_arena_pages_report untouched;
  assert_int_equal(mt_arena_get_pages_report(NULL, &untouched), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_arena_get_pages_report(arena, NULL), MT_INVALID_ARGUMENT);
  mt_arena_destroy(arena);
}

static void arena_pages_test_transparent_blocks_aligned_and_advised(void **state) {
  (void)state;
  for (int concurrent = 0; concurrent < 2; concurrent++) {
    mt_arena_options options = pages_options(MT_ARENA_PAGES_TRANSPARENT, 64 << 10);
    options.concurrent = concurrent != 0;
    mt_arena *arena = mt_arena_create(&options);
    assert_non_null(arena);
    assert_int_equal(mt_arena_memory_usage(arena), 0);
    char *first = mt_arena_allocate(arena, 1000);
    assert_non_null(first);
    /* The first allocation sits just after the block header, at the start of a 2 MiB page. */
    assert_true((uintptr_t)first % HUGE < 256);
    assert_int_equal(mt_arena_memory_usage(arena), HUGE);
    assert_advised_huge_block(first);
    /* Fill past the first block, then one request (3 MiB) that needs a block of its own: 4 MiB. */
    char *last_small = NULL;
    for (int i = 0; i < 3000; i++) {
      last_small = mt_arena_allocate(arena, 1000);
      assert_non_null(last_small);
      memset(last_small, i & 0xff, 1000);
    }
    assert_int_equal(last_small[999], (char)(2999 & 0xff));
    char *large = mt_arena_allocate(arena, 3 << 20);
    assert_non_null(large);
    memset(large, 0x5a, 3 << 20);
    assert_advised_huge_block(large);
    assert_advised_huge_block(last_small);
    size_t usage = mt_arena_memory_usage(arena);
    assert_int_equal(usage % HUGE, 0);
    mt_arena_pages_report report = report_of(arena);
    assert_int_equal(report.block_size, HUGE);
    assert_int_equal(report.blocks[MT_ARENA_BACKING_TRANSPARENT], 3); /* 2 MiB, 2 MiB, 4 MiB */
    assert_int_equal(report.bytes[MT_ARENA_BACKING_TRANSPARENT], usage);
    assert_int_equal(report.bytes[MT_ARENA_BACKING_TRANSPARENT], 8 << 20);
    assert_int_equal(report.blocks[MT_ARENA_BACKING_MALLOC] + report.blocks[MT_ARENA_BACKING_MMAP], 0);
    assert_int_equal(report.fallbacks, 0);
    mt_arena_destroy(arena);
  }
}

static long nr_hugepages(const char *file) {
  FILE *f = fopen(file, "r");
  if (f == NULL) return 0;
  long value = 0;
  if (fscanf(f, "%ld", &value) != 1) value = 0;
  fclose(f);
  return value;
}

static void arena_pages_test_hugetlb_falls_back_with_reason(void **state) {
  (void)state;
  mt_arena_options options = pages_options(MT_ARENA_PAGES_HUGETLB, 1 << 20);
  mt_arena *arena = mt_arena_create(&options);
  assert_non_null(arena);
  char *p = mt_arena_allocate(arena, 4096);
  assert_non_null(p);
  memset(p, 1, 4096);
  char *q = mt_arena_allocate(arena, HUGE); /* a block of its own: 4 MiB */
  assert_non_null(q);
  memset(q, 2, HUGE);
  mt_arena_pages_report report = report_of(arena);
  assert_int_equal(report.requested, MT_ARENA_PAGES_HUGETLB);
  assert_int_equal(report.block_size, HUGE);
  bool pool_empty = nr_hugepages("/proc/sys/vm/nr_hugepages") == 0 &&
                    nr_hugepages("/proc/sys/vm/nr_overcommit_hugepages") == 0;
  if (pool_empty) {
    /* This machine (vm.nr_hugepages = 0): both blocks fall back to transparent huge pages, saying why. */
    assert_int_equal(report.blocks[MT_ARENA_BACKING_HUGETLB], 0);
    assert_int_equal(report.blocks[MT_ARENA_BACKING_TRANSPARENT], 2);
    assert_int_equal(report.fallbacks, 2);
    if (strstr(report.fallback_reason, "MAP_HUGETLB") == NULL || strstr(report.fallback_reason, "ENOMEM") == NULL)
      fail_msg("unexpected fallback reason: %s", report.fallback_reason);
    assert_advised_huge_block(p);
  } else {
    print_message("huge pages are reserved here: the fallback is not exercised\n");
    assert_int_equal(report.blocks[MT_ARENA_BACKING_HUGETLB] + report.blocks[MT_ARENA_BACKING_TRANSPARENT], 2);
  }
  assert_int_equal(report.bytes[MT_ARENA_BACKING_HUGETLB] + report.bytes[MT_ARENA_BACKING_TRANSPARENT], 6 << 20);
  assert_true((uintptr_t)p % HUGE < 256 && (uintptr_t)q % HUGE < 256);
  /* The arena works on: reset keeps the standard block, which serves again from its start. */
  mt_arena_reset(arena);
  assert_int_equal(mt_arena_memory_usage(arena), HUGE);
  char *again = mt_arena_allocate(arena, 4096);
  assert_ptr_equal(again, p);
  mt_arena_destroy(arena);
}

/* The NUMA policy of the page holding addr, through the raw system call (no libnuma needed to check). */
static void policy_of(void *addr, int *mode, unsigned long *mask) {
  *mask = 0;
  long rc = syscall(SYS_get_mempolicy, mode, mask, (unsigned long)(8 * sizeof(*mask)) + 1, addr, MPOL_F_ADDR_FLAG);
  assert_int_equal(rc, 0);
}

/* The node the page holding addr (touched) is on, by move_pages with no target nodes. */
static int node_of(void *addr) {
  void *pages[1] = {(void *)((uintptr_t)addr & ~(uintptr_t)4095)};
  int status[1] = {-1};
  long rc = syscall(SYS_move_pages, 0, 1UL, pages, NULL, status, 0);
  assert_int_equal(rc, 0);
  return status[0];
}

static void arena_pages_test_numa_placement(void **state) {
  (void)state;
  const mt_arena_pages backings[] = {MT_ARENA_PAGES_DEFAULT, MT_ARENA_PAGES_TRANSPARENT};
  const int nodes[] = {0, MT_ARENA_NUMA_LOCAL};
  for (size_t b = 0; b < 2; b++) {
    for (size_t n = 0; n < 2; n++) {
      mt_arena_options options = pages_options(backings[b], 8192);
      options.numa_node = nodes[n];
      mt_arena *arena = mt_arena_create(&options);
      assert_non_null(arena);
      char *p = mt_arena_allocate(arena, 6000); /* a block of its own */
      assert_non_null(p);
      char *q = mt_arena_allocate(arena, 100);
      assert_non_null(q);
      memset(p, 3, 6000);
      memset(q, 4, 100);
      mt_arena_pages_report report = report_of(arena);
      assert_int_equal(report.numa_node_requested, nodes[n]);
#ifdef MEMTABLE_TEST_HAVE_NUMA
      /* This machine has one node, 0: every block is placed there, and the kernel reports the policy. */
      if (report.numa_reason[0] != '\0') fail_msg("placement failed: %s", report.numa_reason);
      /* Base pages: the 6000-byte request got a block of its own, then a standard one; a 2 MiB block holds both. */
      size_t blocks = b == 0 ? 2 : 1;
      assert_int_equal(report.numa_blocks_placed, blocks);
      assert_int_equal(report.numa_last_node, 0);
      assert_int_equal(report.blocks[MT_ARENA_BACKING_MALLOC], 0);
      assert_int_equal(report.blocks[b == 0 ? MT_ARENA_BACKING_MMAP : MT_ARENA_BACKING_TRANSPARENT], blocks);
      int mode = -1;
      unsigned long mask;
      policy_of(p, &mode, &mask);
      assert_int_equal(mode, MPOL_PREFERRED_MODE);
      assert_int_equal(mask, 1);
      policy_of(q, &mode, &mask);
      assert_int_equal(mode, MPOL_PREFERRED_MODE);
      assert_int_equal(node_of(p), 0);
      assert_int_equal(node_of(q), 0);
      if (b == 1) assert_advised_huge_block(p);
#else
      /* Without libnuma the arena works unplaced and says why; default pages stay malloc'd. */
      if (strstr(report.numa_reason, "without libnuma") == NULL) fail_msg("unexpected reason: %s", report.numa_reason);
      assert_int_equal(report.numa_blocks_placed, 0);
      assert_int_equal(report.numa_last_node, -1);
      assert_int_equal(report.blocks[b == 0 ? MT_ARENA_BACKING_MALLOC : MT_ARENA_BACKING_TRANSPARENT], b == 0 ? 2 : 1);
      int mode = -1;
      unsigned long mask;
      policy_of(p, &mode, &mask);
      assert_int_equal(mode, 0); /* MPOL_DEFAULT: no policy was set */
      assert_int_equal(node_of(p), 0); /* the only node there is */
#endif
      mt_arena_destroy(arena);
    }
  }
}

static void arena_pages_test_invalid_options(void **state) {
  (void)state;
  test_allocator hook = TEST_ALLOCATOR_INIT;
  mt_arena *arena = (mt_arena *)&hook; /* any non-NULL value: a refusal must clear it */
  mt_arena_options options = pages_options((mt_arena_pages)3, 4096);
  assert_int_equal(mt_arena_try_create(&options, &arena), MT_INVALID_ARGUMENT);
  assert_null(arena);
  options = pages_options((mt_arena_pages)-1, 4096);
  assert_int_equal(mt_arena_try_create(&options, &arena), MT_INVALID_ARGUMENT);
  const int bad_nodes[] = {-3, INT32_MIN, 1024, 1 << 20};
  for (size_t i = 0; i < sizeof(bad_nodes) / sizeof(bad_nodes[0]); i++) {
    options = pages_options(MT_ARENA_PAGES_DEFAULT, 4096);
    options.numa_node = bad_nodes[i];
    assert_int_equal(mt_arena_try_create(&options, &arena), MT_INVALID_ARGUMENT);
  }
  /* Hooks own the memory: they cannot be combined with pages or placement. */
  options = hooked_options(&hook, 4096);
  options.pages = MT_ARENA_PAGES_TRANSPARENT;
  assert_int_equal(mt_arena_try_create(&options, &arena), MT_INVALID_ARGUMENT);
  options = hooked_options(&hook, 4096);
  options.numa_node = 0;
  assert_int_equal(mt_arena_try_create(&options, &arena), MT_INVALID_ARGUMENT);
  assert_int_equal(hook.calls, 0);
  /* So does a block pool (memtable/block_pool.h). */
  mt_block_pool *pool = mt_block_pool_create(NULL);
  assert_non_null(pool);
  options = pages_options(MT_ARENA_PAGES_TRANSPARENT, 0);
  options.pool = pool;
  assert_int_equal(mt_arena_try_create(&options, &arena), MT_INVALID_ARGUMENT);
  options = pages_options(MT_ARENA_PAGES_DEFAULT, 0);
  options.pool = pool;
  options.numa_node = MT_ARENA_NUMA_LOCAL;
  assert_int_equal(mt_arena_try_create(&options, &arena), MT_INVALID_ARGUMENT);
  assert_null(arena);
  assert_int_equal(mt_block_pool_destroy(pool), MT_OK);
  /* A node this one-node machine lacks: refused where libnuma can tell, unplaced (with the reason) without. */
  options = pages_options(MT_ARENA_PAGES_DEFAULT, 4096);
  options.numa_node = 5;
#ifdef MEMTABLE_TEST_HAVE_NUMA
  assert_int_equal(mt_arena_try_create(&options, &arena), MT_INVALID_ARGUMENT);
  assert_null(arena);
#else
  assert_int_equal(mt_arena_try_create(&options, &arena), MT_OK);
  assert_non_null(mt_arena_allocate(arena, 10));
  assert_int_equal(report_of(arena).numa_blocks_placed, 0);
  mt_arena_destroy(arena);
#endif
  /* The memtable passes its arena options through and refuses the same way. */
  mt_memtable_options table_options;
  mt_memtable_options_init(&table_options);
  table_options.arena.pages = (mt_arena_pages)7;
  mt_memtable *table = NULL;
  assert_int_equal(mt_memtable_try_create(&table_options, &table), MT_INVALID_ARGUMENT);
  assert_null(table);
}

static int failing_maps;
static void *failing_mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) {
  if (failing_maps > 0) {
    failing_maps--;
    errno = ENOMEM;
    return MAP_FAILED;
  }
  return mmap(addr, length, prot, flags, fd, offset);
}

static void arena_pages_test_mmap_failure_leaves_arena_usable(void **state) {
  (void)state;
  const mt_arena_pages backings[] = {MT_ARENA_PAGES_TRANSPARENT, MT_ARENA_PAGES_HUGETLB};
  mti_block_source_set_mmap_for_testing(failing_mmap);
  for (size_t b = 0; b < 2; b++) {
    mt_arena_options options = pages_options(backings[b], 4096);
    mt_arena *arena = mt_arena_create(&options);
    assert_non_null(arena);
    /* No block yet: the request fails (hugetlb: both its attempts), nothing is held. */
    failing_maps = 2;
    void *out = arena;
    assert_int_equal(mt_arena_try_allocate(arena, 100, 8, &out), MT_NOMEM);
    assert_null(out);
    assert_int_equal(mt_arena_memory_usage(arena), 0);
    failing_maps = 0;
    char *first = mt_arena_allocate(arena, 100);
    assert_non_null(first);
    memset(first, 7, 100);
    /* With a block held: a block of its own fails, the arena and its memory are unchanged. */
    failing_maps = 2;
    assert_int_equal(mt_arena_try_allocate(arena, 3 << 20, 8, &out), MT_NOMEM);
    assert_int_equal(mt_arena_memory_usage(arena), HUGE);
    failing_maps = 0;
    char *next = mt_arena_allocate(arena, 100);
    assert_ptr_equal(next, first + 100);
    assert_int_equal(first[99], 7);
    assert_non_null(mt_arena_allocate(arena, 3 << 20));
    assert_int_equal(mt_arena_memory_usage(arena), HUGE + (4 << 20));
    mt_arena_destroy(arena);
  }
  mti_block_source_set_mmap_for_testing(NULL);
  /* The capacity counts whole huge pages: below 2 MiB nothing fits; at 2 MiB one block and no more. */
  mt_arena_options options = pages_options(MT_ARENA_PAGES_TRANSPARENT, 4096);
  options.capacity = HUGE - 1;
  mt_arena *arena = mt_arena_create(&options);
  void *out;
  assert_int_equal(mt_arena_try_allocate(arena, 1, 1, &out), MT_FULL);
  assert_int_equal(mt_arena_memory_usage(arena), 0);
  mt_arena_destroy(arena);
  options.capacity = HUGE;
  arena = mt_arena_create(&options);
  assert_non_null(mt_arena_allocate(arena, 1000));
  assert_int_equal(mt_arena_try_allocate(arena, HUGE - 1000, 8, &out), MT_FULL); /* beyond the block's rest */
  assert_non_null(mt_arena_allocate(arena, 1000));
  assert_int_equal(mt_arena_memory_usage(arena), HUGE);
  mt_arena_destroy(arena);
}

static void arena_pages_test_reset_and_undo_unmap(void **state) {
  (void)state;
  mt_arena_options options = pages_options(MT_ARENA_PAGES_TRANSPARENT, 4096);
  mt_arena *arena = mt_arena_create(&options);
  assert_non_null(arena);
  char *first = mt_arena_allocate(arena, 100);
  assert_non_null(first);
  /* Undo of a request that got a block of its own unmaps that block at once. */
  char *large = mt_arena_allocate(arena, 3 << 20);
  assert_non_null(large);
  memset(large, 1, 3 << 20);
  assert_true(mapped(large, 4096));
  assert_int_equal(mt_arena_undo_last(arena, large), MT_OK);
  assert_false(mapped(large, 4096));
  assert_int_equal(mt_arena_memory_usage(arena), HUGE);
  /* Reset unmaps every block but the current one (the first: the others are blocks of their own). */
  char *blocks[4];
  for (int i = 0; i < 4; i++) {
    blocks[i] = mt_arena_allocate(arena, 3 << 20);
    assert_non_null(blocks[i]);
    assert_true(mapped(blocks[i], 3 << 20));
  }
  assert_int_equal(mt_arena_memory_usage(arena), HUGE + 4 * (4 << 20));
  mt_arena_reset(arena);
  assert_int_equal(mt_arena_memory_usage(arena), HUGE);
  for (int i = 0; i < 4; i++) assert_false(mapped(blocks[i], 4096));
  assert_true(mapped(first, 100));
  assert_ptr_equal(mt_arena_allocate(arena, 100), first);
  assert_int_equal(report_of(arena).blocks[MT_ARENA_BACKING_TRANSPARENT], 6); /* since create */
  mt_arena_destroy(arena);
}

static void arena_pages_test_memtable_passes_pages_through(void **state) {
  (void)state;
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.arena.pages = MT_ARENA_PAGES_TRANSPARENT;
  mt_memtable *table = mt_memtable_create(&options);
  assert_non_null(table);
  char key[16], value[100];
  memset(value, 'v', sizeof(value));
  for (uint64_t i = 0; i < 30000; i++) {
    snprintf(key, sizeof(key), "k%09llu", (unsigned long long)i);
    assert_int_equal(mt_memtable_add(table, i + 1, MT_TYPE_VALUE, key, 10, value, sizeof(value)), MT_OK);
  }
  mt_slice found;
  assert_int_equal(mt_memtable_get(table, "k000012345", 10, 100000, &found), MT_OK);
  assert_int_equal(found.len, sizeof(value));
  mt_arena_pages_report report;
  assert_int_equal(mt_memtable_get_pages_report(table, &report), MT_OK);
  assert_int_equal(mt_memtable_get_pages_report(NULL, &report), MT_INVALID_ARGUMENT);
  assert_int_equal(report.requested, MT_ARENA_PAGES_TRANSPARENT);
  assert_int_equal(report.block_size, HUGE);
  assert_true(report.blocks[MT_ARENA_BACKING_TRANSPARENT] >= 2);
  assert_int_equal(report.bytes[MT_ARENA_BACKING_TRANSPARENT], mt_memtable_approximate_memory_usage(table));
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(arena_pages_test_default_is_malloc),
      cmocka_unit_test(arena_pages_test_transparent_blocks_aligned_and_advised),
      cmocka_unit_test(arena_pages_test_hugetlb_falls_back_with_reason),
      cmocka_unit_test(arena_pages_test_numa_placement),
      cmocka_unit_test(arena_pages_test_invalid_options),
      cmocka_unit_test(arena_pages_test_mmap_failure_leaves_arena_usable),
      cmocka_unit_test(arena_pages_test_reset_and_undo_unmap),
      cmocka_unit_test(arena_pages_test_memtable_passes_pages_through),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
