/* arena_concurrent_mode_test: an arena in concurrent mode (options.concurrent). First on one thread: the
 * same guarantees as the normal mode, undo_last, and a fresh shard for a new or reset arena. Then 2-4
 * threads at once: disjoint, intact, aligned memory; capacity and allocator failures reached mid-race;
 * undo_last per thread; the usage figure read while they allocate.
 *
 * The suites' test_allocator is not thread-safe by itself: these tests rely on the contract that a
 * concurrent arena calls its hooks under its mutex, never two at once (ThreadSanitizer checks that). */
#define _POSIX_C_SOURCE 200809L

#include "support/test_util.h"

#include <memtable/arena.h>

#include "support/arena_checks.h"
#include "support/rng.h"
#include "support/thread_team.h"
#include "support/tsan.h"

#include <stdatomic.h>


MT_TEST_TSAN_LONG_HISTORY()

#define MAX_THREADS 4
/* With 4096-byte blocks a chunk is 512 bytes, and a request whose size plus alignment - 1 is at most a
 * quarter of that is served from the thread's chunk (arena.h, "Concurrent mode"). */
#define BLOCK_SIZE ((size_t)4096)
#define CHUNK_SMALL_LIMIT (BLOCK_SIZE / 8 / 4)

static mt_arena_options concurrent_options(test_allocator *hook, size_t block_size, size_t capacity) {
  mt_arena_options options = hooked_options(hook, block_size);
  options.capacity = capacity;
  options.concurrent = true;
  return options;
}

/* A request the way a skiplist or memtable makes them: mostly small, some medium, a few larger than a
 * quarter block; alignments from 1 to 64, now and then a page; now and then zero bytes. */
typedef struct request {
  size_t bytes;
  size_t alignment;
} request;

static request random_request(uint64_t *rng, size_t largest) {
  size_t kind = mt_rng_below(rng, 100);
  size_t bytes = kind < 2    ? 0
                 : kind < 82 ? 1 + mt_rng_below(rng, 64)
                 : kind < 97 ? 65 + mt_rng_below(rng, 600)
                             : 1 + mt_rng_below(rng, largest);
  size_t alignment = mt_rng_below(rng, 100) == 0 ? MT_ARENA_MAX_ALIGNMENT : (size_t)1 << mt_rng_below(rng, 7);
  return (request){bytes, alignment};
}

/* One allocating thread. It records what it saw; the main thread asserts after join (cmocka's asserts
 * must stay on the test's thread). */
typedef struct worker {
  mt_arena *arena;
  unsigned index;
  uint64_t seed;
  size_t operations;      /* allocations to attempt; 0: until MT_FULL */
  size_t largest;         /* largest request size */
  bool undo;              /* take back about half of the allocations */
  allocation_log log;     /* capacity reserved up front: no realloc (and no cmocka assert) on the thread */
  size_t misaligned;
  size_t full;            /* MT_FULL results */
  size_t nomem;           /* MT_NOMEM results */
  size_t other_failures;  /* any other failed call, or an undo result the contract excludes */
  size_t undone;
  size_t bytes;           /* bytes handed out and kept */
  size_t first_full_step; /* SIZE_MAX until the first MT_FULL */
} worker;

static void worker_init(worker *w, mt_arena *arena, unsigned index, uint64_t seed, size_t operations,
                        size_t log_capacity) {
  *w = (worker){arena, index, seed, operations, 2048, false, {NULL, 0, 0}, 0, 0, 0, 0, 0, 0, SIZE_MAX};
  w->log.items = malloc(log_capacity * sizeof(*w->log.items));
  assert_non_null(w->log.items);
  w->log.capacity = log_capacity;
}

static void *run_worker(void *arg) {
  worker *w = arg;
  uint64_t rng = w->seed;
  const char *older = NULL; /* an allocation of this thread before its latest: never undoable */
  for (size_t step = 0; w->operations == 0 || step < w->operations; step++) {
    if (w->log.count == w->log.capacity) break;
    request r = random_request(&rng, w->largest);
    void *p;
    mt_status status = mt_arena_try_allocate(w->arena, r.bytes, r.alignment, &p);
    if (status == MT_FULL) {
      w->full++;
      if (w->first_full_step == SIZE_MAX) w->first_full_step = step;
      if (w->operations == 0) break;
      continue;
    }
    if (status == MT_NOMEM) {
      w->nomem++;
      continue;
    }
    if (status != MT_OK || p == NULL) {
      w->other_failures++;
      continue;
    }
    if (!is_aligned(p, r.alignment)) w->misaligned++;
    size_t size = r.bytes == 0 ? 1 : r.bytes;
    /* The thread in the low two bits: no two threads ever write the same pattern. */
    unsigned char pattern = (unsigned char)(4 * (step % 64) + w->index);
    memset(p, pattern, size);
    if (w->undo && older != NULL && mt_arena_undo_last(w->arena, older) != MT_INVALID_STATE) w->other_failures++;
    if (w->undo && mt_rng_below(&rng, 2) == 0) {
      status = mt_arena_undo_last(w->arena, p);
      if (status == MT_OK) {
        w->undone++;
        /* Taken back once only. */
        if (mt_arena_undo_last(w->arena, p) != MT_INVALID_STATE) w->other_failures++;
        continue;
      }
      /* A request too large for the thread's chunk can be refused: another thread may have taken memory
       * from the shared blocks since. One from the chunk is always taken back. */
      if (status != MT_INVALID_STATE || size + r.alignment - 1 <= CHUNK_SMALL_LIMIT) w->other_failures++;
    }
    log_fill_and_add(&w->log, p, size, pattern);
    w->bytes += size;
    older = p;
  }
  return NULL;
}

/* Joins the workers, then checks everything they kept: aligned, intact, pairwise disjoint, inside the
 * arena. Returns the bytes they kept. */
static size_t check_workers(worker *workers, unsigned threads, thread_team *team, uint64_t seed) {
  thread_team_join(team);
  allocation_log all = {NULL, 0, 0};
  size_t bytes = 0;
  for (unsigned t = 0; t < threads; t++) {
    worker *w = &workers[t];
    MT_CHECK_SEEDED_STEP(w->misaligned == 0, seed, "alignment", t);
    MT_CHECK_SEEDED_STEP(w->other_failures == 0, seed, "statuses", t);
    MT_CHECK_SEEDED_STEP(log_first_damaged(&w->log) == SIZE_MAX, seed, "contents", t);
    for (size_t i = 0; i < w->log.count; i++) {
      const allocation *item = &w->log.items[i];
      MT_CHECK_SEEDED_STEP(mt_arena_contains(w->arena, item->ptr, item->size), seed, "contains", i);
      log_fill_and_add(&all, item->ptr, item->size, item->pattern);
    }
    bytes += w->bytes;
  }
  size_t overlap = log_sort_first_overlap(&all);
  if (overlap != SIZE_MAX)
    fail_msg("seed %" PRIu64 ": [%p, +%zu) overlaps [%p, +%zu)", seed, (void *)all.items[overlap].ptr,
             all.items[overlap].size, (void *)all.items[overlap - 1].ptr, all.items[overlap - 1].size);
  log_release(&all);
  return bytes;
}

static void start_workers(worker *workers, unsigned threads, thread_team *team) {
  thread_team_start(team, run_worker, workers, sizeof(workers[0]), threads);
}

static void release_workers(worker *workers, unsigned threads) {
  for (unsigned t = 0; t < threads; t++) log_release(&workers[t].log);
}

static void arena_test_concurrent_mode_single_thread_guarantees(void **state) {
  (void)state;
  test_allocator hook = TEST_ALLOCATOR_INIT;
  const size_t block_size = BLOCK_SIZE;
  mt_arena_options options = concurrent_options(&hook, block_size, 0);
  mt_arena *arena = mt_arena_create(&options);
  assert_non_null(arena);
  assert_true(mt_arena_is_concurrent(arena));
  assert_int_equal(mt_arena_memory_usage(arena), 0);
  assert_int_equal(hook.calls, 1); /* the arena's header only */
  const size_t header = hook.last_alloc_size;

  /* Zero bytes: a distinct non-NULL pointer each time. */
  void *zero_a = mt_arena_allocate(arena, 0);
  void *zero_b = mt_arena_allocate(arena, 0);
  assert_non_null(zero_a);
  assert_non_null(zero_b);
  assert_ptr_not_equal(zero_a, zero_b);
  for (size_t alignment = 1; alignment <= MT_ARENA_MAX_ALIGNMENT; alignment *= 2) {
    void *small = mt_arena_allocate_aligned_to(arena, 3, alignment);
    assert_non_null(small);
    assert_true(is_aligned(small, alignment));
    void *medium = mt_arena_allocate_aligned_to(arena, 700, alignment);
    assert_non_null(medium);
    assert_true(is_aligned(medium, alignment));
  }
  assert_true(is_aligned(mt_arena_allocate_aligned(arena, 5), MT_ARENA_DEFAULT_ALIGNMENT));

  /* A request above a quarter block gets a block of its own, of exactly what it needs. */
  size_t before = mt_arena_memory_usage(arena);
  void *large = mt_arena_allocate(arena, block_size);
  assert_non_null(large);
  assert_true(hook.last_alloc_size > block_size && hook.last_alloc_size < block_size + 64);
  assert_int_equal(mt_arena_memory_usage(arena), before + hook.last_alloc_size);
  memset(large, 0x5a, block_size);
  assert_true(mt_arena_contains(arena, large, block_size));
  /* ... and taking it back returns the block. */
  assert_int_equal(mt_arena_undo_last(arena, large), MT_OK);
  assert_int_equal(mt_arena_memory_usage(arena), before);
  assert_int_equal(mt_arena_undo_last(arena, large), MT_INVALID_STATE);

  /* A small one is rewound: the next request of the same shape gets the same bytes. */
  void *small = mt_arena_allocate(arena, 16);
  assert_non_null(small);
  assert_int_equal(mt_arena_undo_last(arena, small), MT_OK);
  assert_ptr_equal(mt_arena_allocate(arena, 16), small);

  /* A small request whose chunk refill needed a new block gives the block back on undo. */
  size_t blocks = hook.live_blocks;
  void *last = NULL;
  while (hook.live_blocks == blocks) {
    last = mt_arena_allocate(arena, 64);
    assert_non_null(last);
  }
  size_t grown = mt_arena_memory_usage(arena);
  assert_int_equal(mt_arena_undo_last(arena, last), MT_OK);
  assert_int_equal(hook.live_blocks, blocks);
  assert_int_equal(mt_arena_memory_usage(arena), grown - block_size);

  /* Refusals change nothing. */
  void *out = &out;
  assert_int_equal(mt_arena_try_allocate(arena, 8, 3, &out), MT_INVALID_ARGUMENT);
  assert_null(out);
  assert_int_equal(mt_arena_try_allocate(arena, (size_t)PTRDIFF_MAX, 1, &out), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_arena_try_allocate(arena, (size_t)PTRDIFF_MAX - 8, 64, &out), MT_INVALID_ARGUMENT);
  assert_null(mt_arena_allocate(arena, SIZE_MAX));
  assert_int_equal(mt_arena_memory_usage(arena), grown - block_size);
  assert_int_equal(mt_arena_memory_usage(arena), hook.live_bytes - header);
  mt_arena_destroy(arena);
  assert_int_equal(hook.live_blocks, 0);
  assert_int_equal(hook.bad_frees, 0);
}

/* A shard names its arena by an id no later arena reuses: an arena created where a destroyed one was, or
 * the same arena after reset, starts with no chunk (under ASan, a stale chunk would be a use after free). */
static void arena_test_concurrent_new_or_reset_arena_starts_fresh(void **state) {
  (void)state;
  for (int round = 0; round < 8; round++) {
    test_allocator hook = TEST_ALLOCATOR_INIT;
    mt_arena_options options = concurrent_options(&hook, BLOCK_SIZE, 0);
    mt_arena *arena = mt_arena_create(&options);
    assert_non_null(arena);
    unsigned char *p = mt_arena_allocate(arena, 8);
    assert_non_null(p);
    assert_true(test_allocator_owns(&hook, p, 8));
    assert_int_equal(hook.live_blocks, 2); /* header and one block */
    mt_arena_reset(arena);
    assert_int_equal(mt_arena_undo_last(arena, p), MT_INVALID_STATE);
    unsigned char *q = mt_arena_allocate(arena, 8);
    assert_non_null(q);
    /* Reset keeps the block and starts over in it: the new chunk is cut from its start again. */
    assert_ptr_equal(q, p);
    assert_int_equal(hook.live_blocks, 2);
    mt_arena_destroy(arena);
    assert_int_equal(hook.live_blocks, 0);
  }
  /* More arenas in turn than a thread keeps chunks for: each allocation still lands in its own arena. */
  enum { ARENAS = 6, ROUNDS = 200 };
  mt_arena_options options;
  mt_arena_options_init(&options);
  options.concurrent = true;
  mt_arena *arenas[ARENAS];
  for (int a = 0; a < ARENAS; a++) {
    arenas[a] = mt_arena_create(&options);
    assert_non_null(arenas[a]);
  }
  allocation_log log = {NULL, 0, 0};
  for (int round = 0; round < ROUNDS; round++) {
    for (int a = 0; a < ARENAS; a++) {
      unsigned char *p = mt_arena_allocate(arenas[a], 24);
      assert_non_null(p);
      assert_true(mt_arena_contains(arenas[a], p, 24));
      log_fill_and_add(&log, p, 24, (unsigned char)(a + 1));
    }
  }
  assert_int_equal(log_first_damaged(&log), SIZE_MAX);
  assert_int_equal(log_sort_first_overlap(&log), SIZE_MAX);
  log_release(&log);
  for (int a = 0; a < ARENAS; a++) mt_arena_destroy(arenas[a]);
}

static void arena_test_concurrent_threads_get_disjoint_intact_memory(void **state) {
  (void)state;
  const uint64_t seed = 1201;
  for (unsigned threads = 2; threads <= MAX_THREADS; threads++) {
    test_allocator hook = TEST_ALLOCATOR_INIT;
    mt_arena_options options = concurrent_options(&hook, BLOCK_SIZE, 0);
    mt_arena *arena = mt_arena_create(&options);
    assert_non_null(arena);
    const size_t header = hook.last_alloc_size;
    worker workers[MAX_THREADS];
    thread_team team;
    for (unsigned t = 0; t < threads; t++) worker_init(&workers[t], arena, t, seed + t, 6000, 6000);
    start_workers(workers, threads, &team);
    size_t bytes = check_workers(workers, threads, &team, seed);
    size_t usage = mt_arena_memory_usage(arena);
    assert_true(usage >= bytes);
    /* Quiescent: the figure is exactly the blocks the hook handed out (all but the arena's header). */
    assert_int_equal(usage, hook.live_bytes - header);
    mt_arena_destroy(arena);
    assert_int_equal(hook.live_blocks, 0);
    assert_int_equal(hook.bad_frees, 0);
    release_workers(workers, threads);
  }
}

/* Reads the usage figure while the workers allocate, until they are all done. */
typedef struct usage_watch {
  const mt_arena *arena;
  size_t capacity; /* 0: no limit to check */
  atomic_uint running;
  size_t reads;
  size_t decreases;
  size_t above_capacity;
  size_t largest;
} usage_watch;

static void watch_usage(usage_watch *watch) {
  size_t last = 0;
  unsigned running;
  do {
    /* Acquire pairs with each worker's release decrement: the read after the last one sees every block. */
    running = atomic_load_explicit(&watch->running, memory_order_acquire);
    size_t usage = mt_arena_memory_usage(watch->arena);
    watch->reads++;
    if (usage < last) watch->decreases++;
    if (watch->capacity != 0 && usage > watch->capacity) watch->above_capacity++;
    if (usage > watch->largest) watch->largest = usage;
    last = usage;
  } while (running != 0);
}

typedef struct watched_worker {
  worker *worker;
  usage_watch *watch;
} watched_worker;

static void *run_watched_worker(void *arg) {
  watched_worker *ww = arg;
  run_worker(ww->worker);
  /* Release: the watcher's read after seeing the count drop comes after this worker's blocks. */
  atomic_fetch_sub_explicit(&ww->watch->running, 1, memory_order_release);
  return NULL;
}

/* The main thread reads the figure (relaxed, through mt_arena_memory_usage) while the workers allocate:
 * with no undo it never decreases, never passes the capacity, and the read after the last worker is done
 * is the final figure. */
static void race_with_watch(worker *workers, unsigned threads, thread_team *team, usage_watch *watch) {
  watched_worker watched[MAX_THREADS];
  atomic_store_explicit(&watch->running, threads, memory_order_relaxed); /* before the threads exist */
  for (unsigned t = 0; t < threads; t++) watched[t] = (watched_worker){&workers[t], watch};
  thread_team_start(team, run_watched_worker, watched, sizeof(watched[0]), threads);
  watch_usage(watch);
}

static void arena_test_concurrent_capacity_reached_mid_race(void **state) {
  (void)state;
  const uint64_t seed = 1202;
  const size_t block_size = BLOCK_SIZE, capacity = 160 * 1024;
  const unsigned threads = MAX_THREADS;
  test_allocator hook = TEST_ALLOCATOR_INIT;
  mt_arena_options options = concurrent_options(&hook, block_size, capacity);
  mt_arena *arena = mt_arena_create(&options);
  assert_non_null(arena);
  const size_t header = hook.last_alloc_size;
  worker workers[MAX_THREADS];
  thread_team team;
  for (unsigned t = 0; t < threads; t++) {
    /* Until MT_FULL. A request is at most half a block (plus page-alignment slack), so a refusal means less
     * than two blocks are left. */
    worker_init(&workers[t], arena, t, seed + t, 0, 100000);
    workers[t].largest = block_size / 2;
  }
  usage_watch watch = {arena, capacity, 0, 0, 0, 0, 0};
  race_with_watch(workers, threads, &team, &watch);
  size_t bytes = check_workers(workers, threads, &team, seed);
  size_t usage = mt_arena_memory_usage(arena);
  for (unsigned t = 0; t < threads; t++) MT_CHECK_SEEDED_STEP(workers[t].full == 1, seed, "every thread full", t);
  MT_CHECK_SEEDED(usage <= capacity && capacity - usage < 2 * block_size, seed, "filled to capacity");
  MT_CHECK_SEEDED(usage >= bytes && usage == hook.live_bytes - header, seed, "usage after the race");
  MT_CHECK_SEEDED(watch.decreases == 0 && watch.above_capacity == 0, seed, "usage read during the race");
  MT_CHECK_SEEDED(watch.largest == usage, seed, "usage read after the race");
  /* Full, and a refusal changes nothing. */
  void *out;
  assert_int_equal(mt_arena_try_allocate(arena, 2 * block_size, 1, &out), MT_FULL);
  assert_null(out);
  assert_int_equal(mt_arena_memory_usage(arena), usage);
  mt_arena_destroy(arena);
  assert_int_equal(hook.live_blocks, 0);
  assert_int_equal(hook.bad_frees, 0);
  release_workers(workers, threads);
}

static void arena_test_concurrent_allocator_failure_mid_race(void **state) {
  (void)state;
  const uint64_t seed = 1203;
  const unsigned threads = MAX_THREADS;
  for (size_t fail_at = 2; fail_at <= 40; fail_at += 19) {
    test_allocator hook = TEST_ALLOCATOR_INIT;
    /* Call 1 is the arena's header; a later one, mid-race, fails once. */
    hook.fail_at = fail_at;
    mt_arena_options options = concurrent_options(&hook, BLOCK_SIZE, 0);
    mt_arena *arena = mt_arena_create(&options);
    assert_non_null(arena);
    const size_t header = hook.last_alloc_size;
    worker workers[MAX_THREADS];
    thread_team team;
    for (unsigned t = 0; t < threads; t++) worker_init(&workers[t], arena, t, seed + t, 5000, 5000);
    start_workers(workers, threads, &team);
    size_t bytes = check_workers(workers, threads, &team, seed);
    /* The one failed call is one MT_NOMEM to one thread; everyone went on allocating. */
    size_t nomem = 0;
    for (unsigned t = 0; t < threads; t++) {
      nomem += workers[t].nomem;
      MT_CHECK_SEEDED_STEP(workers[t].full == 0, seed, "no capacity", t);
    }
    MT_CHECK_SEEDED_STEP(hook.failures == 1 && nomem == 1, seed, "one failure reported", fail_at);
    size_t usage = mt_arena_memory_usage(arena);
    MT_CHECK_SEEDED_STEP(usage >= bytes && usage == hook.live_bytes - header, seed, "usage", fail_at);
    void *after = mt_arena_allocate(arena, 100);
    assert_non_null(after);
    mt_arena_destroy(arena);
    assert_int_equal(hook.live_blocks, 0);
    assert_int_equal(hook.bad_frees, 0);
    release_workers(workers, threads);
  }
}

/* Each thread takes back about half of what it allocates, and checks it cannot take back anything but its
 * latest (the worker counts a broken promise as a failure). What it kept stays intact and disjoint from
 * everything else; the figure matches the blocks still held. */
static void arena_test_concurrent_undo_last_per_thread(void **state) {
  (void)state;
  const uint64_t seed = 1204;
  const unsigned threads = MAX_THREADS;
  test_allocator hook = TEST_ALLOCATOR_INIT;
  mt_arena_options options = concurrent_options(&hook, BLOCK_SIZE, 0);
  mt_arena *arena = mt_arena_create(&options);
  assert_non_null(arena);
  const size_t header = hook.last_alloc_size;

  /* Another thread's latest allocation is not the caller's to take back. */
  void *main_latest = mt_arena_allocate(arena, 40);
  assert_non_null(main_latest);

  worker workers[MAX_THREADS];
  thread_team team;
  for (unsigned t = 0; t < threads; t++) {
    worker_init(&workers[t], arena, t, seed + t, 10000, 10000);
    workers[t].undo = true;
  }
  start_workers(workers, threads, &team);
  size_t bytes = check_workers(workers, threads, &team, seed);
  size_t undone = 0;
  for (unsigned t = 0; t < threads; t++) {
    undone += workers[t].undone;
    assert_int_equal(mt_arena_undo_last(arena, workers[t].log.items[0].ptr), MT_INVALID_STATE);
  }
  MT_CHECK_SEEDED(undone > threads * 10000 / 4, seed, "most undos succeed");
  size_t usage = mt_arena_memory_usage(arena);
  MT_CHECK_SEEDED(usage >= bytes && usage == hook.live_bytes - header, seed, "usage after undos");
  /* The main thread's own latest is still its own to take back. */
  assert_int_equal(mt_arena_undo_last(arena, main_latest), MT_OK);
  mt_arena_destroy(arena);
  assert_int_equal(hook.live_blocks, 0);
  assert_int_equal(hook.bad_frees, 0);
  release_workers(workers, threads);
}

static void arena_test_concurrent_memory_usage_read_while_threads_allocate(void **state) {
  (void)state;
  const uint64_t seed = 1205;
  const unsigned threads = 3;
  test_allocator hook = TEST_ALLOCATOR_INIT;
  mt_arena_options options = concurrent_options(&hook, BLOCK_SIZE, 0);
  mt_arena *arena = mt_arena_create(&options);
  assert_non_null(arena);
  const size_t header = hook.last_alloc_size;
  worker workers[MAX_THREADS];
  thread_team team;
  for (unsigned t = 0; t < threads; t++) worker_init(&workers[t], arena, t, seed + t, 6000, 6000);
  usage_watch watch = {arena, 0, 0, 0, 0, 0, 0};
  race_with_watch(workers, threads, &team, &watch);
  size_t bytes = check_workers(workers, threads, &team, seed);
  size_t usage = mt_arena_memory_usage(arena);
  MT_CHECK_SEEDED(usage >= bytes && usage == hook.live_bytes - header, seed, "usage after the race");
  MT_CHECK_SEEDED(watch.decreases == 0, seed, "usage never decreases");
  MT_CHECK_SEEDED(watch.largest == usage, seed, "the read after the race sees every block");
  mt_arena_destroy(arena);
  release_workers(workers, threads);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(arena_test_concurrent_mode_single_thread_guarantees),
      cmocka_unit_test(arena_test_concurrent_new_or_reset_arena_starts_fresh),
      cmocka_unit_test(arena_test_concurrent_threads_get_disjoint_intact_memory),
      cmocka_unit_test(arena_test_concurrent_capacity_reached_mid_race),
      cmocka_unit_test(arena_test_concurrent_allocator_failure_mid_race),
      cmocka_unit_test(arena_test_concurrent_undo_last_per_thread),
      cmocka_unit_test(arena_test_concurrent_memory_usage_read_while_threads_allocate),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
