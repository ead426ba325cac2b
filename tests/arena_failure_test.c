/* arena_failure_test: what the arena refuses and that a refusal changes nothing: bad alignments, a full
 * capacity, the caller's allocator failing at each of its calls in turn, sizes that would overflow, invalid
 * options and NULL arguments; and, with the same request mix, that every block comes from the caller's
 * allocator and goes back to it. */
#include "support/test_util.h"

#include <memtable/arena.h>

#include "support/allocator.h"
#include "support/arena_checks.h"
#include "support/rng.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static void arena_test_bad_alignment_rejected(void **state) {
  (void)state;
  test_allocator hook = TEST_ALLOCATOR_INIT;
  mt_arena_options options = hooked_options(&hook, 4096);
  mt_arena *arena = mt_arena_create(&options);
  assert_non_null(arena);
  const size_t bad_alignments[] = {0, 3, 5, 6, 12, 24, 100, 4095, 4097, 8192, (size_t)1 << 20,
                                   (SIZE_MAX >> 1) + 1, SIZE_MAX};
  const size_t sizes[] = {0, 1, 100, 5000};
  /* Twice: on a fresh arena (no block yet) and on one with a current block. */
  for (int round = 0; round < 2; round++) {
    size_t usage = mt_arena_memory_usage(arena);
    size_t calls = hook.calls;
    for (size_t a = 0; a < sizeof(bad_alignments) / sizeof(bad_alignments[0]); a++) {
      for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        assert_null(mt_arena_allocate_aligned_to(arena, sizes[s], bad_alignments[a]));
        void *out = &hook; /* any non-NULL value: the call must clear it */
        assert_int_equal(mt_arena_try_allocate(arena, sizes[s], bad_alignments[a], &out), MT_INVALID_ARGUMENT);
        assert_null(out);
      }
    }
    assert_int_equal(mt_arena_memory_usage(arena), usage);
    assert_int_equal(hook.calls, calls);
    void *usable = mt_arena_allocate_aligned_to(arena, 100, 64);
    assert_non_null(usable);
    assert_true(is_aligned(usable, 64));
    memset(usable, 0xab, 100);
  }
  mt_arena_destroy(arena);
  assert_int_equal(hook.live_bytes, 0);
}

/* Allocates until the arena reports MT_FULL, checking that a failure changes nothing. Returns the count. */
static size_t allocate_until_full(mt_arena *arena, size_t size, size_t capacity, allocation_log *log) {
  for (size_t count = 0;; count++) {
    size_t usage = mt_arena_memory_usage(arena);
    void *out = NULL;
    mt_status status = mt_arena_try_allocate(arena, size, 1, &out);
    if (status != MT_OK) {
      assert_int_equal(status, MT_FULL);
      assert_null(out);
      assert_int_equal(mt_arena_memory_usage(arena), usage);
      return count;
    }
    assert_true(mt_arena_memory_usage(arena) <= capacity);
    /* Bytes handed out never exceed usage, so a working capacity check stops the loop by here. */
    if (count * size > capacity)
      fail_msg("%zu requests of %zu bytes fit a capacity of %zu", count + 1, size, capacity);
    log_fill_and_add(log, out, size, (unsigned char)(count + size));
  }
}

static void arena_test_capacity_reached(void **state) {
  (void)state;
  const size_t block_size = 4096;
  const size_t chunk = 97; /* prime, so a block's room is not a multiple of it and some bytes remain */
  allocation_log log = {NULL, 0, 0};
  mt_arena_options options;
  mt_arena_options_init(&options);
  options.block_size = block_size;

  /* Room for exactly three standard blocks. */
  options.capacity = 3 * block_size;
  mt_arena *arena = mt_arena_create(&options);
  assert_non_null(arena);
  size_t chunks = allocate_until_full(arena, chunk, options.capacity, &log);
  assert_true(chunks >= 3 * ((block_size - 256) / chunk));
  size_t usage = mt_arena_memory_usage(arena);
  assert_true(usage <= options.capacity);
  assert_true(usage + block_size > options.capacity);
  assert_null(mt_arena_allocate(arena, chunk));
  assert_null(mt_arena_allocate(arena, 2000));
  assert_null(mt_arena_allocate_aligned_to(arena, 10, 4096));
  void *out = &log;
  assert_int_equal(mt_arena_try_allocate(arena, 2000, 1, &out), MT_FULL);
  assert_null(out);
  assert_int_equal(mt_arena_memory_usage(arena), usage);
  /* Smaller requests that fit what is left of the current block still succeed, adjacently. */
  unsigned char *previous = mt_arena_allocate(arena, 1);
  assert_non_null(previous);
  log_fill_and_add(&log, previous, 1, 0xee);
  size_t ones = 1 + allocate_until_full(arena, 1, options.capacity, &log);
  assert_true(ones < chunk);
  for (size_t i = log.count - ones + 1; i < log.count; i++)
    assert_ptr_equal(log.items[i].ptr, log.items[i - 1].ptr + 1);
  assert_null(mt_arena_allocate(arena, 0));
  assert_int_equal(mt_arena_memory_usage(arena), usage);
  assert_int_equal(log_first_damaged(&log), SIZE_MAX);
  mt_arena_destroy(arena);
  log_release(&log);

  /* One standard block plus room for a large request's own block, not for a second standard block. */
  options.capacity = block_size + 3000;
  arena = mt_arena_create(&options);
  assert_non_null(arena);
  void *small = mt_arena_allocate(arena, 10);
  assert_non_null(small);
  log_fill_and_add(&log, small, 10, 1);
  /* A quarter block or more: the large request must not fit the current block's rest. */
  for (size_t filled = 10; filled + 2000 < block_size; filled += 1000) {
    void *filler = mt_arena_allocate(arena, 1000);
    assert_non_null(filler);
    log_fill_and_add(&log, filler, 1000, 2);
  }
  void *large = mt_arena_allocate(arena, 2000);
  assert_non_null(large);
  log_fill_and_add(&log, large, 2000, 3);
  assert_true(mt_arena_memory_usage(arena) <= options.capacity);
  allocate_until_full(arena, chunk, options.capacity, &log);
  assert_null(mt_arena_allocate(arena, 2000));
  assert_true(mt_arena_memory_usage(arena) <= options.capacity);
  assert_int_equal(log_first_damaged(&log), SIZE_MAX);
  mt_arena_destroy(arena);
  log_release(&log);

  /* Capacity below one block: no standard block ever fits, a large request's own block can. */
  options.capacity = 2000;
  arena = mt_arena_create(&options);
  assert_non_null(arena);
  out = &log;
  assert_int_equal(mt_arena_try_allocate(arena, 10, 1, &out), MT_FULL);
  assert_null(out);
  assert_int_equal(mt_arena_memory_usage(arena), 0);
  unsigned char *own = mt_arena_allocate(arena, 1500);
  assert_non_null(own);
  memset(own, 0x5a, 1500);
  assert_true(mt_arena_memory_usage(arena) >= 1500);
  assert_true(mt_arena_memory_usage(arena) <= options.capacity);
  assert_null(mt_arena_allocate(arena, 10));
  assert_null(mt_arena_allocate(arena, 1500));
  mt_arena_destroy(arena);
}

/* A fixed run of mixed requests for the hook tests: small, medium, larger than a quarter block, with
 * explicit alignments, through each of the four allocation functions. */
typedef struct request {
  size_t bytes;
  size_t alignment;
  int api; /* 0 allocate, 1 allocate_aligned, 2 allocate_aligned_to, 3 try_allocate */
} request;

enum { mixed_request_count = 300 };

static void make_mixed_requests(uint32_t seed, size_t block_size, request *requests, size_t count) {
  leveldb_random rnd = leveldb_random_make(seed);
  for (size_t i = 0; i < count; i++) {
    request *r = &requests[i];
    if (leveldb_random_one_in(&rnd, 20)) {
      r->bytes = block_size / 4 + 1 + leveldb_random_uniform(&rnd, 3 * (uint32_t)block_size);
    } else if (leveldb_random_one_in(&rnd, 8)) {
      r->bytes = leveldb_random_uniform(&rnd, 200);
    } else {
      r->bytes = leveldb_random_uniform(&rnd, 40);
    }
    r->api = (int)(i % 4);
    if (r->api == 0) {
      r->alignment = 1;
    } else if (r->api == 1) {
      r->alignment = MT_ARENA_DEFAULT_ALIGNMENT;
    } else {
      r->alignment = leveldb_random_one_in(&rnd, 4) ? (size_t)1 << leveldb_random_uniform(&rnd, 13) : 1;
    }
  }
}

/* Issues one request; *status is the try_allocate status, or MT_OK / MT_NOMEM guessed from the pointer
 * for the pointer-returning forms (the caller checks the hook to confirm why). */
static void *issue_request(mt_arena *arena, const request *r, mt_status *status) {
  void *result = NULL;
  switch (r->api) {
    case 0: result = mt_arena_allocate(arena, r->bytes); break;
    case 1: result = mt_arena_allocate_aligned(arena, r->bytes); break;
    case 2: result = mt_arena_allocate_aligned_to(arena, r->bytes, r->alignment); break;
    default: *status = mt_arena_try_allocate(arena, r->bytes, r->alignment, &result); return result;
  }
  *status = result != NULL ? MT_OK : MT_NOMEM;
  return result;
}

static void arena_test_allocator_hook_failure(void **state) {
  (void)state;
  const uint32_t seed = 1701;
  const size_t block_size = 1024;
  request requests[mixed_request_count];
  make_mixed_requests(seed, block_size, requests, mixed_request_count);

  /* Fail call k for k = 1, 2, ... until a run makes fewer than k calls. The number of calls is not known in
   * advance: whether an aligned request fits the current block depends on the block's address. */
  size_t runs_with_failure = 0;
  for (size_t k = 1;; k++) {
    if (k > 100000) fail_msg("seed %u: the run never stopped making allocator calls", seed);
    test_allocator hook = TEST_ALLOCATOR_INIT;
    hook.fail_at = k;
    mt_arena_options options = hooked_options(&hook, block_size);
    mt_arena *arena = mt_arena_create(&options);
    if (arena == NULL) {
      /* Only the arena's own header can fail here, and then nothing is held. */
      if (k != 1) fail_msg("seed %u, failing call %zu: create failed", seed, k);
      assert_int_equal(hook.failures, 1);
      assert_int_equal(hook.live_bytes, 0);
      runs_with_failure++;
      continue;
    }
    allocation_log log = {NULL, 0, 0};
    for (size_t i = 0; i < mixed_request_count; i++) {
      const request *r = &requests[i];
      size_t usage = mt_arena_memory_usage(arena);
      size_t failures = hook.failures;
      size_t live_bytes = hook.live_bytes;
      mt_status status;
      void *p = issue_request(arena, r, &status);
      if (p == NULL) {
        if (hook.failures != failures + 1 || hook.calls != k)
          fail_msg("seed %u, failing call %zu: request %zu failed with no allocator failure", seed, k, i);
        assert_int_equal(status, MT_NOMEM);
        assert_int_equal(mt_arena_memory_usage(arena), usage);
        assert_int_equal(hook.live_bytes, live_bytes);
        /* Still usable: the same request now succeeds. */
        assert_int_equal(mt_arena_try_allocate(arena, r->bytes, r->alignment, &p), MT_OK);
      } else if (hook.failures != failures) {
        fail_msg("seed %u, failing call %zu: request %zu succeeded though the allocator failed", seed, k, i);
      }
      assert_non_null(p);
      assert_true(is_aligned(p, r->alignment));
      assert_true(mt_arena_memory_usage(arena) >= usage);
      log_fill_and_add(&log, p, r->bytes == 0 ? 1 : r->bytes, (unsigned char)i);
    }
    size_t damaged = log_first_damaged(&log);
    if (damaged != SIZE_MAX) fail_msg("seed %u, failing call %zu: request %zu lost its fill", seed, k, damaged);
    /* Call k failed exactly when the run reached it. */
    assert_int_equal(hook.failures, hook.calls >= k ? 1 : 0);
    size_t run_failures = hook.failures;
    mt_arena_destroy(arena);
    if (hook.live_bytes != 0 || hook.live_blocks != 0 || hook.bad_frees != 0)
      fail_msg("seed %u, failing call %zu: %zu bytes in %zu blocks not freed, %zu bad frees", seed, k,
               hook.live_bytes, hook.live_blocks, hook.bad_frees);
    assert_int_equal(hook.calls - hook.failures, hook.free_calls);
    log_release(&log);
    if (run_failures == 0) break;
    runs_with_failure++;
  }
  /* The run must have crossed many blocks for the sweep to mean anything. */
  assert_true(runs_with_failure > 20);
}

static void arena_test_hooks_see_every_block(void **state) {
  (void)state;
  const uint32_t seed = 4242;
  const size_t block_size = 512;
  request requests[mixed_request_count];
  make_mixed_requests(seed, block_size, requests, mixed_request_count);
  test_allocator hook = TEST_ALLOCATOR_INIT;
  mt_arena_options options = hooked_options(&hook, block_size);
  mt_arena *arena = mt_arena_create(&options);
  assert_non_null(arena);
  const size_t header_bytes = hook.live_bytes; /* the arena's own header, not a block */
  for (int round = 0; round < 3; round++) {
    for (size_t i = 0; i < mixed_request_count; i++) {
      mt_status status;
      void *p = issue_request(arena, &requests[i], &status);
      assert_int_equal(status, MT_OK);
      size_t bytes = requests[i].bytes == 0 ? 1 : requests[i].bytes;
      /* The arena draws only from the caller's pool. */
      if (!test_allocator_owns(&hook, p, bytes)) fail_msg("seed %u: request %zu not inside a hook block", seed, i);
      memset(p, 0xcd, bytes);
      size_t usage = mt_arena_memory_usage(arena);
      assert_true(usage >= hook.live_bytes - header_bytes);
      assert_true(usage <= hook.live_bytes);
    }
    mt_arena_reset(arena);
    assert_int_equal(hook.bad_frees, 0);
    assert_true(mt_arena_memory_usage(arena) >= hook.live_bytes - header_bytes);
  }
  mt_arena_destroy(arena);
  assert_int_equal(hook.bad_frees, 0);
  assert_int_equal(hook.live_blocks, 0);
  assert_int_equal(hook.live_bytes, 0);
  assert_int_equal(hook.failures, 0);
  assert_int_equal(hook.calls, hook.free_calls);
}

static void arena_test_size_overflow(void **state) {
  (void)state;
  const size_t alignments[] = {1, 8, 64, 4096};
  /* Above PTRDIFF_MAX once the block header and alignment slack are added: refused before any allocator
   * sees them. */
  const size_t overflowing[] = {SIZE_MAX, SIZE_MAX - 10, SIZE_MAX - 8192, (size_t)PTRDIFF_MAX + 1,
                                (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX - 8};
  /* Too large for any allocator but allowed sizes: these reach the allocator (or the capacity check),
   * so they are tried only where neither malloc nor a sanitizer's malloc sees them. */
  const size_t huge[] = {(size_t)PTRDIFF_MAX - 8192, (size_t)1 << 40};

  test_allocator hook = TEST_ALLOCATOR_INIT;
  hook.refuse_above = (size_t)1 << 30;
  mt_arena_options hooked = hooked_options(&hook, 4096);
  mt_arena_options capped;
  mt_arena_options_init(&capped);
  capped.capacity = (size_t)1 << 20;
  mt_arena *arenas[3] = {mt_arena_create(NULL), mt_arena_create(&hooked), mt_arena_create(&capped)};
  for (size_t a = 0; a < 3; a++) {
    mt_arena *arena = arenas[a];
    assert_non_null(arena);
    unsigned char *before = mt_arena_allocate(arena, 10);
    assert_non_null(before);
    size_t usage = mt_arena_memory_usage(arena);
    for (size_t j = 0; j < sizeof(alignments) / sizeof(alignments[0]); j++) {
      for (size_t s = 0; s < sizeof(overflowing) / sizeof(overflowing[0]); s++) {
        assert_null(mt_arena_allocate(arena, overflowing[s]));
        assert_null(mt_arena_allocate_aligned(arena, overflowing[s]));
        assert_null(mt_arena_allocate_aligned_to(arena, overflowing[s], alignments[j]));
        void *out = &hook;
        assert_int_equal(mt_arena_try_allocate(arena, overflowing[s], alignments[j], &out), MT_INVALID_ARGUMENT);
        assert_null(out);
      }
      for (size_t s = 0; a > 0 && s < sizeof(huge) / sizeof(huge[0]); s++) {
        void *out = &hook;
        assert_int_equal(mt_arena_try_allocate(arena, huge[s], alignments[j], &out), a == 1 ? MT_NOMEM : MT_FULL);
        assert_null(out);
        /* What the allocator was asked for, header and slack included, is still a valid object size. */
        if (a == 1) assert_true(hook.last_alloc_size <= (size_t)PTRDIFF_MAX);
      }
      assert_int_equal(mt_arena_memory_usage(arena), usage);
    }
    /* Still usable, and the current block was kept. */
    unsigned char *after = mt_arena_allocate(arena, 10);
    assert_ptr_equal(after, before + 10);
    memset(after, 1, 10);
    mt_arena_destroy(arena);
  }
  assert_int_equal(hook.live_bytes, 0);
}

static void arena_test_invalid_options(void **state) {
  (void)state;
  test_allocator hook = TEST_ALLOCATOR_INIT;
  mt_arena_options options;

  mt_arena_options_init(&options);
  assert_int_equal(options.block_size, MT_ARENA_DEFAULT_BLOCK_SIZE);
  assert_int_equal(options.capacity, 0);
  assert_null(options.allocator.alloc);
  assert_null(options.allocator.free);
  mt_arena_options_init(NULL);

  options.allocator = (mt_allocator){test_allocator_alloc, NULL, &hook};
  assert_null(mt_arena_create(&options));
  options.allocator = (mt_allocator){NULL, test_allocator_free, &hook};
  assert_null(mt_arena_create(&options));
  assert_int_equal(hook.calls, 0);

  mt_arena_options_init(&options);
  const size_t too_large[] = {MT_ARENA_MAX_BLOCK_SIZE + 1, MT_ARENA_MAX_BLOCK_SIZE * 2, SIZE_MAX};
  for (size_t i = 0; i < sizeof(too_large) / sizeof(too_large[0]); i++) {
    options.block_size = too_large[i];
    assert_null(mt_arena_create(&options));
  }

  /* The largest block size is accepted; no block exists until the first request. */
  options.block_size = MT_ARENA_MAX_BLOCK_SIZE;
  mt_arena *arena = mt_arena_create(&options);
  assert_non_null(arena);
  assert_int_equal(mt_arena_memory_usage(arena), 0);
  mt_arena_destroy(arena);

  /* Below 256 is raised to 256: the first block holds 256 bytes, whatever was asked. */
  const size_t tiny[] = {1, 17, 255};
  for (size_t i = 0; i < sizeof(tiny) / sizeof(tiny[0]); i++) {
    options.block_size = tiny[i];
    arena = mt_arena_create(&options);
    assert_non_null(arena);
    void *p = mt_arena_allocate(arena, 1);
    assert_non_null(p);
    assert_int_equal(mt_arena_memory_usage(arena), 256);
    /* Up to a quarter of 256 bytes is carved from that block rather than given a block of its own. */
    unsigned char *q = mt_arena_allocate(arena, 60);
    assert_ptr_equal(q, (unsigned char *)p + 1);
    mt_arena_destroy(arena);
  }
}

static void arena_test_null_arguments(void **state) {
  (void)state;
  mt_arena_destroy(NULL);
  mt_arena_reset(NULL);
  mt_arena_options_init(NULL);
  assert_null(mt_arena_allocate(NULL, 1));
  assert_null(mt_arena_allocate(NULL, 0));
  assert_null(mt_arena_allocate_aligned(NULL, 8));
  assert_null(mt_arena_allocate_aligned_to(NULL, 8, 64));
  assert_int_equal(mt_arena_memory_usage(NULL), 0);
  assert_false(mt_arena_contains(NULL, "x", 1));
  void *out = &out;
  assert_int_equal(mt_arena_try_allocate(NULL, 1, 1, &out), MT_INVALID_ARGUMENT);
  assert_null(out);

  /* NULL options mean the defaults. */
  mt_arena *arena = mt_arena_create(NULL);
  assert_non_null(arena);
  assert_int_equal(mt_arena_try_allocate(arena, 1, 1, NULL), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_arena_memory_usage(arena), 0);
  assert_non_null(mt_arena_allocate(arena, 1));
  assert_int_equal(mt_arena_memory_usage(arena), MT_ARENA_DEFAULT_BLOCK_SIZE);
  assert_false(mt_arena_contains(arena, NULL, 0));
  mt_arena_destroy(arena);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(arena_test_bad_alignment_rejected),
      cmocka_unit_test(arena_test_capacity_reached),
      cmocka_unit_test(arena_test_allocator_hook_failure),
      cmocka_unit_test(arena_test_hooks_see_every_block),
      cmocka_unit_test(arena_test_size_overflow),
      cmocka_unit_test(arena_test_invalid_options),
      cmocka_unit_test(arena_test_null_arguments),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
