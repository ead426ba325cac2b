/* The arena suite: LevelDB's two arena tests ported, then how requests are served: alignment, the fallback
 * rule (a large request gets its own block, a small one abandons the rest of the current block), zero-byte
 * requests, reset, contains and undoing the last allocation. What the arena refuses is arena_failure_test's,
 * the cross-thread usage read arena_concurrency_test's. */
#include "support/test_util.h"

#include <memtable/arena.h>

#include "support/allocator.h"
#include "support/arena_checks.h"
#include "support/rng.h"

#include <stdlib.h>
#include <string.h>

/* Compared as integers: relational operators on pointers into different objects are undefined. */
static int points_into(const void *ptr, const void *start, size_t len) {
  return (uintptr_t)ptr >= (uintptr_t)start && (uintptr_t)ptr - (uintptr_t)start < len;
}

static void arena_test_empty(void **state) {
  (void)state;
  mt_arena *arena = mt_arena_create(NULL);
  assert_non_null(arena);
  assert_int_equal(mt_arena_memory_usage(arena), 0);
  mt_arena_destroy(arena);
}

static void arena_test_simple(void **state) {
  (void)state;
  const uint32_t seed = 301;
  const int n = 100000;
  leveldb_random rnd = leveldb_random_make(seed);
  allocation_log log = {NULL, 0, 0};
  mt_arena *arena = mt_arena_create(NULL);
  assert_non_null(arena);
  size_t bytes = 0;
  for (int i = 0; i < n; i++) {
    size_t size;
    if (i % (n / 10) == 0) {
      size = (size_t)i;
    } else {
      size = leveldb_random_one_in(&rnd, 4000)
                 ? leveldb_random_uniform(&rnd, 6000)
                 : (leveldb_random_one_in(&rnd, 10) ? leveldb_random_uniform(&rnd, 100)
                                                    : leveldb_random_uniform(&rnd, 20));
    }
    /* LevelDB's arena disallows zero-byte requests; keep its byte count. */
    if (size == 0) size = 1;
    int aligned = leveldb_random_one_in(&rnd, 10);
    unsigned char *result = aligned ? mt_arena_allocate_aligned(arena, size) : mt_arena_allocate(arena, size);
    if (result == NULL) fail_msg("seed %u: allocation %d of %zu bytes returned NULL", seed, i, size);
    if (aligned && !is_aligned(result, MT_ARENA_DEFAULT_ALIGNMENT))
      fail_msg("seed %u: aligned allocation %d at %p is misaligned", seed, i, (void *)result);
    log_fill_and_add(&log, result, size, (unsigned char)(i % 256));
    bytes += size;
    size_t usage = mt_arena_memory_usage(arena);
    if (usage < bytes) fail_msg("seed %u: after allocation %d usage %zu < bytes %zu", seed, i, usage, bytes);
    /* usage <= 1.10 * bytes, in integers. */
    if (i > n / 10 && usage * 100 > bytes * 110)
      fail_msg("seed %u: after allocation %d usage %zu > 1.10 * bytes %zu", seed, i, usage, bytes);
  }
  size_t damaged = log_first_damaged(&log);
  if (damaged != SIZE_MAX) fail_msg("seed %u: allocation %zu lost its fill", seed, damaged);
  mt_arena_destroy(arena);
  log_release(&log);
}

/* Aligned requests interleaved with odd-sized unaligned ones (which leave the bump pointer misaligned),
 * for block sizes where a 4096-aligned request must get its own block (256) and where it fits a block. */
static void arena_test_aligned_allocations_are_aligned(void **state) {
  (void)state;
  const size_t pointer_alignment = sizeof(void *) > 8 ? sizeof(void *) : 8;
  assert_int_equal(MT_ARENA_DEFAULT_ALIGNMENT, pointer_alignment);
  const size_t block_sizes[] = {256, 4096, 65536};
  for (size_t s = 0; s < sizeof(block_sizes) / sizeof(block_sizes[0]); s++) {
    mt_arena_options options;
    mt_arena_options_init(&options);
    options.block_size = block_sizes[s];
    mt_arena *arena = mt_arena_create(&options);
    assert_non_null(arena);
    allocation_log log = {NULL, 0, 0};
    for (size_t i = 0; i < 3000; i++) {
      unsigned char pattern = (unsigned char)(i % 251);
      size_t odd_size = 2 * (i % 9) + 1;
      void *odd = mt_arena_allocate(arena, odd_size);
      assert_non_null(odd);
      log_fill_and_add(&log, odd, odd_size, pattern);

      /* Every 50th request is larger than a quarter block, so it takes the own-block path. */
      size_t size = i % 50 == 0 ? block_sizes[s] / 2 + i : (i * 37) % 200;
      size_t filled = size == 0 ? 1 : size;
      void *default_aligned = mt_arena_allocate_aligned(arena, size);
      assert_non_null(default_aligned);
      assert_true(is_aligned(default_aligned, MT_ARENA_DEFAULT_ALIGNMENT));
      log_fill_and_add(&log, default_aligned, filled, pattern);

      size_t alignment = (size_t)1 << (i % 13); /* 1, 2, 4, ..., 4096 */
      void *explicit_aligned = mt_arena_allocate_aligned_to(arena, size, alignment);
      assert_non_null(explicit_aligned);
      if (!is_aligned(explicit_aligned, alignment))
        fail_msg("block %zu, request %zu: %p not aligned to %zu", block_sizes[s], i, explicit_aligned, alignment);
      log_fill_and_add(&log, explicit_aligned, filled, pattern);

      void *tried = NULL;
      assert_int_equal(mt_arena_try_allocate(arena, size, alignment, &tried), MT_OK);
      assert_non_null(tried);
      assert_true(is_aligned(tried, alignment));
      log_fill_and_add(&log, tried, filled, pattern);
    }
    assert_int_equal(log_first_damaged(&log), SIZE_MAX);
    mt_arena_destroy(arena);
    log_release(&log);
  }
}

static void arena_test_large_allocation_gets_own_block(void **state) {
  (void)state;
  const size_t block_size = 4096;
  test_allocator hook = TEST_ALLOCATOR_INIT;
  mt_arena_options options = hooked_options(&hook, block_size);
  mt_arena *arena = mt_arena_create(&options);
  assert_non_null(arena);
  allocation_log log = {NULL, 0, 0};

  unsigned char *first = mt_arena_allocate(arena, 100);
  assert_non_null(first);
  log_fill_and_add(&log, first, 100, 1);
  /* Larger than a quarter block but it fits what is left, so the current block serves it. */
  unsigned char *fitting_large = mt_arena_allocate(arena, 2800);
  assert_ptr_equal(fitting_large, first + 100);
  log_fill_and_add(&log, fitting_large, 2800, 2);
  unsigned char *small = mt_arena_allocate(arena, 100);
  assert_ptr_equal(small, fitting_large + 2800);
  log_fill_and_add(&log, small, 100, 3);
  unsigned char *next_small = small + 100;
  /* At most block_size - 3000 bytes are left, so each of these must take the fallback. */
  const size_t large_sizes[] = {1100, 2048, 4096, 5000, 12288, 100000};
  for (size_t i = 0; i < sizeof(large_sizes) / sizeof(large_sizes[0]); i++) {
    size_t usage = mt_arena_memory_usage(arena);
    size_t calls = hook.calls;
    size_t alignment = i % 2 == 0 ? 1 : 4096;
    unsigned char *large = mt_arena_allocate_aligned_to(arena, large_sizes[i], alignment);
    assert_non_null(large);
    assert_true(is_aligned(large, alignment));
    log_fill_and_add(&log, large, large_sizes[i], (unsigned char)(10 + i));
    assert_int_equal(hook.calls, calls + 1);
    assert_true(hook.last_alloc_size >= large_sizes[i]);
    assert_true(hook.last_alloc_size < large_sizes[i] + alignment + 256);
    size_t growth = mt_arena_memory_usage(arena) - usage;
    assert_true(growth >= large_sizes[i]);
    assert_true(growth < large_sizes[i] + alignment + 256);
    assert_false(points_into(large, first, block_size));
    /* The current block was kept: the next small request continues right where the last one ended. */
    unsigned char *tail = mt_arena_allocate(arena, 1);
    assert_ptr_equal(tail, next_small);
    assert_int_equal(hook.calls, calls + 1);
    log_fill_and_add(&log, tail, 1, (unsigned char)(20 + i));
    next_small = tail + 1;
  }
  assert_int_equal(log_first_damaged(&log), SIZE_MAX);
  mt_arena_destroy(arena);
  assert_int_equal(hook.live_bytes, 0);
  assert_int_equal(hook.bad_frees, 0);
  log_release(&log);
}

static void arena_test_small_fallback_abandons_rest(void **state) {
  (void)state;
  const size_t block_size = 4096;
  const size_t chunk = 1000; /* at most a quarter block, so never a block of its own */
  test_allocator hook = TEST_ALLOCATOR_INIT;
  mt_arena_options options = hooked_options(&hook, block_size);
  mt_arena *arena = mt_arena_create(&options);
  assert_non_null(arena);
  allocation_log log = {NULL, 0, 0};

  unsigned char *first = mt_arena_allocate(arena, chunk);
  assert_non_null(first);
  log_fill_and_add(&log, first, chunk, 0);
  unsigned char *previous = first;
  unsigned char *fresh = NULL;
  for (int i = 1; i <= 5 && fresh == NULL; i++) {
    size_t usage = mt_arena_memory_usage(arena);
    size_t calls = hook.calls;
    unsigned char *p = mt_arena_allocate(arena, chunk);
    assert_non_null(p);
    log_fill_and_add(&log, p, chunk, (unsigned char)i);
    if (p == previous + chunk) {
      assert_int_equal(hook.calls, calls);
    } else {
      /* The fallback: one new standard block, and it becomes the current one. */
      fresh = p;
      assert_int_equal(hook.calls, calls + 1);
      assert_int_equal(hook.last_alloc_size, block_size);
      assert_int_equal(mt_arena_memory_usage(arena) - usage, block_size);
      assert_false(points_into(p, first, block_size));
    }
    previous = p;
  }
  assert_non_null(fresh);
  /* The old block still has room for these (it is < chunk bytes short), but its rest was abandoned. */
  unsigned char *after = mt_arena_allocate(arena, chunk);
  assert_ptr_equal(after, fresh + chunk);
  unsigned char *one = mt_arena_allocate(arena, 1);
  assert_ptr_equal(one, after + chunk);
  assert_false(points_into(one, first, block_size));
  log_fill_and_add(&log, after, chunk, 0x77);
  log_fill_and_add(&log, one, 1, 0x78);
  assert_int_equal(log_first_damaged(&log), SIZE_MAX);
  mt_arena_destroy(arena);
  assert_int_equal(hook.live_bytes, 0);
  log_release(&log);
}

static void arena_test_zero_byte_requests(void **state) {
  (void)state;
  mt_arena *arena = mt_arena_create(NULL);
  assert_non_null(arena);
  enum { requests = 40 };
  unsigned char *pointers[requests];
  for (size_t i = 0; i < requests; i++) {
    switch (i % 4) {
      case 0: pointers[i] = mt_arena_allocate(arena, 0); break;
      case 1: pointers[i] = mt_arena_allocate_aligned(arena, 0); break;
      case 2: pointers[i] = mt_arena_allocate_aligned_to(arena, 0, (size_t)1 << (i % 13)); break;
      default: {
        void *out = NULL;
        assert_int_equal(mt_arena_try_allocate(arena, 0, 1, &out), MT_OK);
        pointers[i] = out;
      }
    }
    assert_non_null(pointers[i]);
    assert_true(mt_arena_contains(arena, pointers[i], 1));
    /* Served as one byte, so that byte is the caller's. */
    *pointers[i] = (unsigned char)i;
  }
  assert_true(mt_arena_memory_usage(arena) >= requests);
  for (size_t i = 0; i < requests; i++) {
    assert_int_equal(*pointers[i], i);
    for (size_t j = i + 1; j < requests; j++) assert_ptr_not_equal(pointers[i], pointers[j]);
  }
  mt_arena_destroy(arena);
}

static void arena_test_reset_keeps_one_block(void **state) {
  (void)state;
  const size_t block_size = 4096;
  test_allocator hook = TEST_ALLOCATOR_INIT;
  mt_arena_options options = hooked_options(&hook, block_size);
  mt_arena *arena = mt_arena_create(&options);
  assert_non_null(arena);
  const size_t header_bytes = hook.live_bytes;

  /* A fresh arena: nothing to keep, nothing freed, still usable. */
  mt_arena_reset(arena);
  assert_int_equal(mt_arena_memory_usage(arena), 0);
  assert_int_equal(hook.free_calls, 0);

  /* Only large requests: no standard block to keep, so everything is freed. */
  for (size_t i = 0; i < 3; i++) assert_non_null(mt_arena_allocate(arena, 2000 + i));
  assert_true(mt_arena_memory_usage(arena) >= 6000);
  mt_arena_reset(arena);
  assert_int_equal(mt_arena_memory_usage(arena), 0);
  assert_int_equal(hook.live_bytes, header_bytes);

  enum { max_block_starts = 64 };
  for (int round = 0; round < 5; round++) {
    /* The first allocation of every standard block, found by the hook being called for block_size bytes. */
    unsigned char *block_starts[max_block_starts];
    size_t block_start_count = 0;
    allocation_log log = {NULL, 0, 0};
    for (size_t i = 0; i < 400; i++) {
      size_t calls = hook.calls;
      size_t bytes = i % 40 == 7 ? 3000 + i : 1 + (i * 13) % 90;
      unsigned char *p = mt_arena_allocate(arena, bytes);
      assert_non_null(p);
      log_fill_and_add(&log, p, bytes, (unsigned char)(round + (int)i));
      if (hook.calls != calls && hook.last_alloc_size == block_size) {
        assert_true(block_start_count < max_block_starts);
        block_starts[block_start_count++] = p;
      }
    }
    assert_true(block_start_count >= 2);
    assert_int_equal(log_first_damaged(&log), SIZE_MAX);
    log_release(&log);
    size_t frees = hook.free_calls;
    size_t live_blocks = hook.live_blocks - 1;

    mt_arena_reset(arena);
    assert_int_equal(mt_arena_memory_usage(arena), block_size);
    assert_int_equal(hook.live_blocks, 2); /* the header and the kept block */
    assert_int_equal(hook.live_bytes, header_bytes + block_size);
    assert_int_equal(hook.free_calls - frees, live_blocks - 1);
    assert_int_equal(hook.bad_frees, 0);

    /* The kept block serves the next request from its start, without asking the allocator. */
    size_t calls = hook.calls;
    unsigned char *reused = mt_arena_allocate(arena, 100);
    assert_int_equal(hook.calls, calls);
    int found = 0;
    for (size_t b = 0; b < block_start_count; b++) found |= reused == block_starts[b];
    assert_true(found);
    assert_true(mt_arena_contains(arena, reused, 100));
    memset(reused, 0x3c, 100);
    assert_int_equal(mt_arena_memory_usage(arena), block_size);
  }
  mt_arena_reset(arena);
  mt_arena_reset(arena);
  assert_int_equal(mt_arena_memory_usage(arena), block_size);
  mt_arena_destroy(arena);
  assert_int_equal(hook.live_bytes, 0);
  assert_int_equal(hook.bad_frees, 0);
}

static void arena_test_contains(void **state) {
  (void)state;
  const size_t block_size = 4096;
  mt_arena_options options;
  mt_arena_options_init(&options);
  options.block_size = block_size;
  mt_arena *arena = mt_arena_create(&options);
  assert_non_null(arena);
  unsigned char outside[16] = {0};
  assert_false(mt_arena_contains(arena, outside, 1));

  unsigned char *small = mt_arena_allocate(arena, 100);
  assert_non_null(small);
  unsigned char *large = mt_arena_allocate(arena, 3 * block_size);
  assert_non_null(large);
  assert_true(mt_arena_contains(arena, small, 100));
  assert_true(mt_arena_contains(arena, small, 0));
  assert_true(mt_arena_contains(arena, small + 99, 1));
  assert_true(mt_arena_contains(arena, large, 3 * block_size));
  assert_true(mt_arena_contains(arena, large + 3 * block_size - 1, 1));
  assert_false(mt_arena_contains(arena, large, 3 * block_size + block_size));
  assert_false(mt_arena_contains(arena, small, 2 * block_size));
  assert_false(mt_arena_contains(arena, small, SIZE_MAX));
  assert_false(mt_arena_contains(arena, outside, 1));
  assert_false(mt_arena_contains(arena, outside, sizeof(outside)));
  assert_false(mt_arena_contains(arena, NULL, 0));
  assert_false(mt_arena_contains(arena, NULL, 1));
  unsigned char *heap = malloc(64);
  assert_non_null(heap);
  assert_false(mt_arena_contains(arena, heap, 1));
  free(heap);
  assert_false(mt_arena_contains(NULL, small, 1));
  mt_arena_destroy(arena);
}

static void arena_test_undo_last_bump(void **state) {
  (void)state;
  mt_arena *arena = mt_arena_create(NULL);
  assert_non_null(arena);
  char *first = mt_arena_allocate(arena, 10);
  char *second = mt_arena_allocate_aligned_to(arena, 100, 64);
  assert_non_null(second);
  size_t usage = mt_arena_memory_usage(arena);
  assert_int_equal(mt_arena_undo_last(arena, first), MT_INVALID_STATE); /* not the latest */
  assert_int_equal(mt_arena_undo_last(arena, second), MT_OK);
  assert_int_equal(mt_arena_undo_last(arena, second), MT_INVALID_STATE); /* once */
  assert_int_equal(mt_arena_memory_usage(arena), usage);
  /* The bytes, alignment padding included, are handed out again. */
  char *again = mt_arena_allocate(arena, 1);
  assert_ptr_equal(again, first + 10);
  assert_int_equal(mt_arena_undo_last(NULL, again), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_arena_undo_last(arena, NULL), MT_INVALID_ARGUMENT);
  mt_arena_reset(arena);
  assert_int_equal(mt_arena_undo_last(arena, again), MT_INVALID_STATE);
  mt_arena_destroy(arena);
}

static void arena_test_undo_last_gives_a_block_back(void **state) {
  (void)state;
  mt_arena_options options;
  mt_arena_options_init(&options);
  options.block_size = 1024;
  options.capacity = 4096;
  mt_arena *arena = mt_arena_create(&options);
  assert_non_null(arena);
  /* Four requests just under a quarter block leave less than 250 bytes of the first standard block. */
  char *small = NULL;
  for (int i = 0; i < 4; i++) {
    small = mt_arena_allocate(arena, 200);
    assert_non_null(small);
  }
  size_t usage = mt_arena_memory_usage(arena);
  /* A request above a quarter block gets its own block; undone, the block goes back. */
  char *own = mt_arena_allocate(arena, 2000);
  assert_non_null(own);
  assert_true(mt_arena_memory_usage(arena) > usage);
  assert_int_equal(mt_arena_undo_last(arena, own), MT_OK);
  assert_int_equal(mt_arena_memory_usage(arena), usage);
  /* A small request that opened a new standard block: undone, the old block's tail serves again. */
  char *opener = mt_arena_allocate(arena, 250);
  assert_non_null(opener);
  assert_true(mt_arena_memory_usage(arena) > usage);
  assert_int_equal(mt_arena_undo_last(arena, opener), MT_OK);
  assert_int_equal(mt_arena_memory_usage(arena), usage);
  char *tail = mt_arena_allocate(arena, 8);
  assert_ptr_equal(tail, small + 200);
  /* The capacity counts what was given back: the whole budget is still there. */
  char *big = mt_arena_allocate(arena, 2500);
  assert_non_null(big);
  mt_arena_destroy(arena);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(arena_test_empty),
      cmocka_unit_test(arena_test_simple),
      cmocka_unit_test(arena_test_aligned_allocations_are_aligned),
      cmocka_unit_test(arena_test_large_allocation_gets_own_block),
      cmocka_unit_test(arena_test_small_fallback_abandons_rest),
      cmocka_unit_test(arena_test_zero_byte_requests),
      cmocka_unit_test(arena_test_reset_keeps_one_block),
      cmocka_unit_test(arena_test_contains),
      cmocka_unit_test(arena_test_undo_last_bump),
      cmocka_unit_test(arena_test_undo_last_gives_a_block_back),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
