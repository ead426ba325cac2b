/* The arena suite: LevelDB's two arena tests ported, then the fallback rule, alignment, capacity, caller
 * allocator hooks (including failure at every call), reset, and the cross-thread usage read. */
#define _POSIX_C_SOURCE 200809L

#include "support/test_util.h"

#include <memtable/arena.h>

#include "support/allocator.h"
#include "support/rng.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_THREAD__)
#define MT_TEST_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MT_TEST_UNDER_TSAN 1
#endif
#endif

#ifdef MT_TEST_UNDER_TSAN
/* Read by the ThreadSanitizer runtime at start-up. A longer per-thread history lets it restore the stack of
 * a racing access made a while back; without that it drops the report, and the concurrent-reader test
 * would catch a non-atomic usage figure only some of the time. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) {
  return "history_size=7";
}
#endif

/* Every allocation a test made, filled with a pattern: re-verifying all of them at the end catches any
 * two allocations that overlap and any allocation whose memory was reused or freed. */
typedef struct allocation {
  unsigned char *ptr;
  size_t size;
  unsigned char pattern;
} allocation;

typedef struct allocation_log {
  allocation *items;
  size_t count;
  size_t capacity;
} allocation_log;

static void log_fill_and_add(allocation_log *log, void *ptr, size_t size, unsigned char pattern) {
  if (log->count == log->capacity) {
    size_t capacity = log->capacity == 0 ? 1024 : 2 * log->capacity;
    allocation *items = realloc(log->items, capacity * sizeof(*items));
    assert_non_null(items);
    log->items = items;
    log->capacity = capacity;
  }
  memset(ptr, pattern, size);
  log->items[log->count++] = (allocation){ptr, size, pattern};
}

/* Index of the first allocation whose bytes no longer hold its pattern, or SIZE_MAX when all do. */
static size_t log_first_damaged(const allocation_log *log) {
  for (size_t i = 0; i < log->count; i++) {
    const allocation *item = &log->items[i];
    for (size_t b = 0; b < item->size; b++) {
      if (item->ptr[b] != item->pattern) return i;
    }
  }
  return SIZE_MAX;
}

static void log_release(allocation_log *log) {
  free(log->items);
  *log = (allocation_log){NULL, 0, 0};
}

static int is_aligned(const void *ptr, size_t alignment) {
  return (uintptr_t)ptr % alignment == 0;
}

/* Compared as integers: relational operators on pointers into different objects are undefined. */
static int points_into(const void *ptr, const void *start, size_t len) {
  return (uintptr_t)ptr >= (uintptr_t)start && (uintptr_t)ptr - (uintptr_t)start < len;
}

static mt_arena_options hooked_options(test_allocator *hook, size_t block_size) {
  mt_arena_options options;
  mt_arena_options_init(&options);
  options.block_size = block_size;
  options.allocator = test_allocator_hooks(hook);
  return options;
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

/* Reads the usage figure until told to stop; counts what it saw for the main thread to assert on after
 * join (cmocka's asserts must stay on the test's thread). */
typedef struct usage_reader {
  const mt_arena *arena;
  atomic_int stop;
  /* Reads done so far. The allocating thread waits on it for progress only, with relaxed loads: an acquire
   * would give ThreadSanitizer a happens-before edge that hides a racy usage figure. */
  atomic_size_t reads;
  size_t decreases;
  size_t largest;
} usage_reader;

static void *read_usage_until_stopped(void *arg) {
  usage_reader *reader = arg;
  size_t last = 0;
  int stopping;
  do {
    /* Acquire pairs with the stop store: the read after it sees every allocation. */
    stopping = atomic_load_explicit(&reader->stop, memory_order_acquire);
    size_t usage = mt_arena_memory_usage(reader->arena);
    if (usage < last) reader->decreases++;
    if (usage > reader->largest) reader->largest = usage;
    last = usage;
    /* Release only so ThreadSanitizer starts a new epoch per read: a race is reported only if the racing
     * read is recent enough to restore its stack. The waiter loads relaxed, so no edge forms. */
    atomic_fetch_add_explicit(&reader->reads, 1, memory_order_release);
  } while (!stopping);
  return NULL;
}

/* Waits until the reader has read `more` more times, so that its reads interleave with the allocations
 * rather than all landing before or after them on a busy machine. */
static void wait_for_reads(usage_reader *reader, size_t more) {
  size_t target = atomic_load_explicit(&reader->reads, memory_order_relaxed) + more; /* progress only */
  while (atomic_load_explicit(&reader->reads, memory_order_relaxed) < target) sched_yield();
}

static void arena_test_memory_usage_concurrent_reader(void **state) {
  (void)state;
  const uint32_t seed = 777;
  const int allocations = 100000;
  leveldb_random rnd = leveldb_random_make(seed);
  mt_arena *arena = mt_arena_create(NULL);
  assert_non_null(arena);
  usage_reader reader = {arena, 0, 0, 0, 0};
  pthread_t thread;
  assert_int_equal(pthread_create(&thread, NULL, read_usage_until_stopped, &reader), 0);
  wait_for_reads(&reader, 1);

  size_t bytes = 0;
  int failed_allocation = -1;
  size_t usage_seen = 0;
  size_t usage_changes = 0;
  for (int i = 0; i < allocations && failed_allocation < 0; i++) {
    size_t size = leveldb_random_one_in(&rnd, 500) ? 1025 + leveldb_random_uniform(&rnd, 20000)
                                                   : 1 + leveldb_random_uniform(&rnd, 64);
    unsigned char *p = mt_arena_allocate(arena, size);
    if (p == NULL) {
      failed_allocation = i;
      break;
    }
    p[0] = 1;
    p[size - 1] = 2;
    bytes += size;
    /* After each new block, let the reader see the new figure before allocating on. */
    size_t usage_now = mt_arena_memory_usage(arena);
    if (usage_now != usage_seen) {
      usage_seen = usage_now;
      usage_changes++;
      wait_for_reads(&reader, 2);
    }
  }
  /* Release: the reader's last read comes after every allocation above. */
  atomic_store_explicit(&reader.stop, 1, memory_order_release);
  assert_int_equal(pthread_join(thread, NULL), 0);

  if (failed_allocation >= 0) fail_msg("seed %u: allocation %d returned NULL", seed, failed_allocation);
  size_t final_usage = mt_arena_memory_usage(arena);
  assert_true(final_usage >= bytes);
  /* The thread has been joined; relaxed is enough to read its count. */
  size_t reads = atomic_load_explicit(&reader.reads, memory_order_relaxed);
  assert_true(usage_changes > 100);
  assert_true(reads >= 2 * usage_changes);
  if (reader.decreases != 0) fail_msg("seed %u: the reader saw usage decrease %zu times", seed, reader.decreases);
  assert_true(reader.largest <= final_usage);
  /* The read after the stop flag sees every completed block. */
  assert_int_equal(reader.largest, final_usage);
  mt_arena_destroy(arena);
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

static void arena_test_undo_last_bump(void **state) {
  (void)state;
  mt_arena *arena = mt_arena_create(NULL);
  assert_non_null(arena);
  char *first = mt_arena_allocate(arena, 10);
  char *second = mt_arena_allocate_aligned_to(arena, 100, 64);
  assert_non_null(second);
  size_t usage = mt_arena_memory_usage(arena);
  assert_int_equal(mt_arena_undo_last(arena, first), MT_INVALID_ARGUMENT); /* not the latest */
  assert_int_equal(mt_arena_undo_last(arena, second), MT_OK);
  assert_int_equal(mt_arena_undo_last(arena, second), MT_INVALID_ARGUMENT); /* once */
  assert_int_equal(mt_arena_memory_usage(arena), usage);
  /* The bytes, alignment padding included, are handed out again. */
  char *again = mt_arena_allocate(arena, 1);
  assert_ptr_equal(again, first + 10);
  assert_int_equal(mt_arena_undo_last(NULL, again), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_arena_undo_last(arena, NULL), MT_INVALID_ARGUMENT);
  mt_arena_reset(arena);
  assert_int_equal(mt_arena_undo_last(arena, again), MT_INVALID_ARGUMENT);
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
      cmocka_unit_test(arena_test_bad_alignment_rejected),
      cmocka_unit_test(arena_test_large_allocation_gets_own_block),
      cmocka_unit_test(arena_test_small_fallback_abandons_rest),
      cmocka_unit_test(arena_test_zero_byte_requests),
      cmocka_unit_test(arena_test_capacity_reached),
      cmocka_unit_test(arena_test_allocator_hook_failure),
      cmocka_unit_test(arena_test_hooks_see_every_block),
      cmocka_unit_test(arena_test_size_overflow),
      cmocka_unit_test(arena_test_invalid_options),
      cmocka_unit_test(arena_test_reset_keeps_one_block),
      cmocka_unit_test(arena_test_contains),
      cmocka_unit_test(arena_test_memory_usage_concurrent_reader),
      cmocka_unit_test(arena_test_null_arguments),
      cmocka_unit_test(arena_test_undo_last_bump),
      cmocka_unit_test(arena_test_undo_last_gives_a_block_back),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
