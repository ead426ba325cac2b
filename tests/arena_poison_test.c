/* arena_poison_test: what an AddressSanitizer build of the arena poisons, and when (arena/arena_poison.h):
 * a block's data is poisoned until handed out, each allocation is addressable exactly to its last byte,
 * alignment padding of whole granules stays poisoned, undo and reset poison again what they take back,
 * blocks go back to a custom allocator addressable, concurrent-mode chunks are whole granules, and
 * mt_arena_contains refuses poisoned bytes.
 *
 * In a build without ASan there is no shadow memory: each test still runs the allocations and checks their
 * behaviour, then ends as skipped (cmocka's skip(), through MT_TEST_REQUIRE_ASAN) before its shadow checks.
 * The two tests whose checks hold in every build (chunk bounds, the threads' race) never skip. */
#define _POSIX_C_SOURCE 200809L

#include "support/test_util.h"

#include <memtable/arena.h>

#include "support/arena_checks.h"
#include "support/asan.h"
#include "support/thread_team.h"
#include "support/tsan.h"

#include "../arena/arena_poison.h"

#include <stdatomic.h>

MT_TEST_TSAN_LONG_HISTORY()

/* An arena with malloc'd blocks of the default 4096 bytes. */
static mt_arena *new_arena(void) {
  mt_arena *arena = mt_arena_create(NULL);
  assert_non_null(arena);
  return arena;
}

static char *allocate(mt_arena *arena, size_t bytes, size_t alignment) {
  void *result;
  assert_int_equal(mt_arena_try_allocate(arena, bytes, alignment, &result), MT_OK);
  memset(result, 0x5a, bytes);
  return result;
}

static void arena_poison_test_block_tail_poisoned_until_handed_out(void **state) {
  (void)state;
  mt_arena *arena = new_arena();
  char *first = allocate(arena, 24, 8);
  char *second = allocate(arena, 24, 8);
  assert_ptr_equal(second, first + 24);
  MT_TEST_REQUIRE_ASAN();
  assert_int_equal(test_first_poisoned(first, 48), 48);
  /* Everything after the latest allocation, to well inside the block, is not handed out. */
  assert_int_equal(test_first_addressable(second + 24, 1000), 1000);
  char *third = allocate(arena, 40, 8);
  assert_ptr_equal(third, second + 24);
  assert_int_equal(test_first_poisoned(third, 40), 40);
  assert_int_equal(test_first_addressable(third + 40, 1000), 1000);
  mt_arena_destroy(arena);
}

/* Odd sizes: ASan's granules hold "the first k bytes", so a bump from a granule's start is exact. */
static void arena_poison_test_odd_sizes_addressable_to_the_byte(void **state) {
  (void)state;
  mt_arena *arena = new_arena();
  char *five = allocate(arena, 5, 8);
  char *three = allocate(arena, 3, 1);
  char *thirteen = allocate(arena, 13, 1);
  assert_ptr_equal(three, five + 5);
  assert_ptr_equal(thirteen, five + 8);
  MT_TEST_REQUIRE_ASAN();
  assert_int_equal(test_first_poisoned(five, 21), 21);
  assert_int_equal(test_first_addressable(five + 21, 100), 100);
  mt_arena_destroy(arena);
}

static void arena_poison_test_alignment_padding_stays_poisoned(void **state) {
  (void)state;
  mt_arena *arena = new_arena();
  char *one = allocate(arena, 1, 64);
  char *aligned = allocate(arena, 8, 64);
  assert_ptr_equal(aligned, one + 64); /* the 63 bytes between are padding */
  MT_TEST_REQUIRE_ASAN();
  assert_false(test_is_poisoned(one));
  /* The padding's first bytes share one's granule, whose shadow says "first byte only": poisoned too. */
  assert_int_equal(test_first_addressable(one + 1, 63), 63);
  assert_int_equal(test_first_poisoned(aligned, 8), 8);
  mt_arena_destroy(arena);
}

/* A request that does not fit the current block and exceeds a quarter block gets a block of its own,
 * poisoned but for the request, while the current block's tail stays poisoned too. */
static void arena_poison_test_own_block_poisoned_around_its_request(void **state) {
  (void)state;
  mt_arena *arena = new_arena();
  char *small = allocate(arena, 16, 8);
  /* Alignment 64 asks 63 bytes of slack, of which at least 15 follow the request in its block (malloc
   * aligns to 16, so at most 48 go before it). */
  char *large = allocate(arena, 5000, 64);
  char *after = allocate(arena, 16, 8);
  assert_ptr_equal(after, small + 16);
  MT_TEST_REQUIRE_ASAN();
  assert_int_equal(test_first_poisoned(large, 5000), 5000);
  assert_int_equal(test_first_addressable(large + 5000, 15), 15);
  assert_int_equal(test_first_addressable(after + 16, 1000), 1000);
  mt_arena_destroy(arena);
}

static void arena_poison_test_undo_poisons_what_it_takes_back(void **state) {
  (void)state;
  mt_arena *arena = new_arena();
  char *kept = allocate(arena, 16, 8);
  char *undone = allocate(arena, 40, 8);
  assert_int_equal(mt_arena_undo_last(arena, undone), MT_OK);
  int undone_poisoned = test_first_addressable(undone, 40) == 40;
  int kept_addressable = test_first_poisoned(kept, 16) == 16;
  /* The same memory handed out again is addressable again. */
  char *again = allocate(arena, 40, 8);
  assert_ptr_equal(again, undone);
  int again_addressable = test_first_poisoned(again, 40) == 40;
  /* An undone request that had a block of its own: the block goes back to malloc, which marks it freed. */
  char *own = allocate(arena, 3000, 8);
  assert_int_equal(mt_arena_undo_last(arena, own), MT_OK);
  int own_poisoned = test_is_poisoned(own);
  MT_TEST_REQUIRE_ASAN();
  assert_true(undone_poisoned);
  assert_true(kept_addressable);
  assert_true(again_addressable);
  assert_true(own_poisoned);
  mt_arena_destroy(arena);
}

#define RESET_ALLOCATIONS 64

static void arena_poison_test_reset_poisons_everything_handed_out(void **state) {
  (void)state;
  mt_arena *arena = new_arena();
  /* 64 * 200 bytes: several blocks, and one request of a block of its own. */
  char *before[RESET_ALLOCATIONS + 1];
  for (size_t i = 0; i < RESET_ALLOCATIONS; i++) before[i] = allocate(arena, 200, 8);
  before[RESET_ALLOCATIONS] = allocate(arena, 5000, 8);
  mt_arena_reset(arena);
  /* The kept block (its pages are reused) is poisoned by the arena; the others went back to malloc. */
  size_t addressable = 0;
  for (size_t i = 0; i <= RESET_ALLOCATIONS; i++) addressable += test_first_addressable(before[i], 200) != 200;
  char *fresh = allocate(arena, 24, 8);
  assert_true(mt_arena_contains(arena, fresh, 24));
  MT_TEST_REQUIRE_ASAN();
  assert_int_equal(addressable, 0);
  assert_int_equal(test_first_poisoned(fresh, 24), 24);
  assert_int_equal(test_first_addressable(fresh + 24, 1000), 1000);
  mt_arena_destroy(arena);
}

/* A custom allocator owns a block once its free hook has it: the arena hands it back addressable, as alloc
 * gave it (poisoning it for the hook would report the hook's own later use of its memory). */
typedef struct checking_allocator {
  test_allocator inner;
  size_t frees;
  size_t poisoned_at_free; /* blocks that reached the free hook with a poisoned byte */
} checking_allocator;

static void *checking_alloc(void *ctx, size_t size) {
  checking_allocator *allocator = ctx;
  return test_allocator_alloc(&allocator->inner, size);
}

static void checking_free(void *ctx, void *ptr, size_t size) {
  checking_allocator *allocator = ctx;
  allocator->frees++;
  if (test_first_poisoned(ptr, size) != size) allocator->poisoned_at_free++;
  test_allocator_free(&allocator->inner, ptr, size);
}

static void arena_poison_test_blocks_go_back_to_custom_allocator_addressable(void **state) {
  (void)state;
  checking_allocator allocator = {TEST_ALLOCATOR_INIT, 0, 0};
  mt_arena_options options;
  mt_arena_options_init(&options);
  options.allocator = (mt_allocator){checking_alloc, checking_free, &allocator};
  mt_arena *arena = mt_arena_create(&options);
  assert_non_null(arena);
  for (size_t i = 0; i < 40; i++) (void)allocate(arena, 300, 8);
  char *own = allocate(arena, 3000, 8);
  assert_int_equal(mt_arena_undo_last(arena, own), MT_OK); /* its block goes back */
  mt_arena_reset(arena); /* all blocks but the current one go back */
  /* The kept block held allocations before the reset: poisoned now, past the first one after it. */
  char *first_after_reset = allocate(arena, 8, 8);
  int kept_poisoned = test_first_addressable(first_after_reset + 8, 1000) == 1000;
  mt_arena_destroy(arena); /* the kept block and the arena go back */
  assert_true(allocator.frees >= 4);
  assert_int_equal(allocator.inner.live_blocks, 0);
  assert_int_equal(allocator.inner.bad_frees, 0);
  MT_TEST_REQUIRE_ASAN();
  assert_int_equal(allocator.poisoned_at_free, 0);
  assert_true(kept_poisoned);
}

static void arena_poison_test_contains_refuses_poisoned_bytes(void **state) {
  (void)state;
  mt_arena *arena = new_arena();
  char *p = allocate(arena, 24, 8);
  assert_true(mt_arena_contains(arena, p, 24));
#ifdef MT_TEST_UNDER_ASAN
  /* The byte after p is in the block but not handed out: a validator must not read it. */
  assert_false(mt_arena_contains(arena, p, 25));
  assert_false(mt_arena_contains(arena, p + 24, 1));
  char *q = allocate(arena, 3, 1);
  assert_true(mt_arena_contains(arena, p, 27));
  assert_false(mt_arena_contains(arena, q, 4));
#else
  /* Without shadow memory it can only say the range lies in a block. */
  assert_true(mt_arena_contains(arena, p, 25));
#endif
  mt_arena_destroy(arena);
}

/* The helpers a block pool calls (arena_poison.h): an idle block poisoned whole; a block obtained from the
 * pool with its header addressable and its data not; a block handed on addressable. */
static void arena_poison_test_block_helpers_for_a_pool(void **state) {
  (void)state;
  const size_t size = 512, header = 16;
  char *block = malloc(size);
  assert_non_null(block);
  arena_poison_block(block, size);
  size_t idle_addressable = test_first_addressable(block, size);
  arena_poison_new_block(block, size, header);
  size_t header_poisoned = test_first_poisoned(block, header);
  size_t data_addressable = test_first_addressable(block + header, size - header);
  arena_unpoison_block(block, size);
  size_t handed_on_poisoned = test_first_poisoned(block, size);
  memset(block, 0, size);
  free(block);
  MT_TEST_REQUIRE_ASAN();
  assert_int_equal(idle_addressable, size);
  assert_int_equal(header_poisoned, header);
  assert_int_equal(data_addressable, size - header);
  assert_int_equal(handed_on_poisoned, size);
}

static mt_arena *new_concurrent_arena(size_t block_size) {
  mt_arena_options options;
  mt_arena_options_init(&options);
  options.block_size = block_size;
  options.concurrent = true;
  mt_arena *arena = mt_arena_create(&options);
  assert_non_null(arena);
  return arena;
}

/* With 4096-byte blocks a chunk is 512 bytes and requests up to 128 bytes (alignment slack included) come
 * from the thread's chunk; larger ones from the shared blocks under the lock. */
static void arena_poison_test_concurrent_chunks_poisoned_until_handed_out(void **state) {
  (void)state;
  mt_arena *arena = new_concurrent_arena(4096);
  char *a = allocate(arena, 10, 1);
  char *b = allocate(arena, 10, 1);
  assert_ptr_equal(b, a + 10);
  int chunk_tail_poisoned = test_first_addressable(b + 10, 400) == 400;
  assert_int_equal(mt_arena_undo_last(arena, b), MT_OK);
  int undone_poisoned = test_first_addressable(b, 10) == 10;
  int a_addressable = test_first_poisoned(a, 10) == 10;
  /* Two from the shared blocks: the 4 bytes of padding between them end a granule, so stay poisoned. */
  char *large = allocate(arena, 300, 8);
  char *large_after = allocate(arena, 300, 8);
  assert_ptr_equal(large_after, large + 304);
  int large_addressable = test_first_poisoned(large, 300) == 300 && test_first_poisoned(large_after, 300) == 300;
  int large_gap_poisoned =
      test_first_addressable(large + 300, 4) == 4 && test_first_addressable(large_after + 300, 100) == 100;
  mt_arena_reset(arena);
  int reset_poisoned = test_first_addressable(a, 10) == 10;
  MT_TEST_REQUIRE_ASAN();
  assert_true(chunk_tail_poisoned);
  assert_true(undone_poisoned);
  assert_true(a_addressable);
  assert_true(large_addressable);
  assert_true(large_gap_poisoned);
  assert_true(reset_poisoned);
  mt_arena_destroy(arena);
}

/* Chunks are whole ASan granules in every build (arena_poison.h says why): with 1000-byte blocks an eighth
 * is 125 bytes, rounded down to 120. One-byte requests walk each chunk byte by byte, so a run of consecutive
 * addresses is one or more whole chunks, starting on a granule. Holds with or without ASan. */
static void arena_poison_test_concurrent_chunks_are_whole_granules(void **state) {
  (void)state;
  mt_arena *arena = new_concurrent_arena(1000);
  enum { REQUESTS = 3000 };
  static char *pointers[REQUESTS];
  for (size_t i = 0; i < REQUESTS; i++) pointers[i] = allocate(arena, 1, 1);
  size_t run_start = 0, runs = 0;
  for (size_t i = 1; i < REQUESTS; i++) {
    if (pointers[i] == pointers[i - 1] + 1) continue;
    assert_true(is_aligned(pointers[run_start], ARENA_POISON_GRANULE));
    assert_int_equal((i - run_start) % 120, 0);
    run_start = i;
    runs++;
  }
  assert_true(runs >= 3);
  assert_true(is_aligned(pointers[run_start], ARENA_POISON_GRANULE));
  mt_arena_destroy(arena);
}

/* Threads allocate odd sizes from their chunks (and some larger requests from the shared blocks) at once;
 * each checks every allocation is addressable to its last byte when it gets it and again at the end, and
 * its fill intact. A granule two threads' shadow updates raced on could poison a live byte. The assertion
 * holds in every build; without ASan only the fills are checked. */
#define POISON_THREADS 4
#define POISON_REQUESTS 4000

typedef struct poison_worker {
  mt_arena *arena;
  unsigned index;
  allocation_log log;
  size_t poisoned_when_handed_out;
  size_t poisoned_at_end;
  size_t failures;
} poison_worker;

static void *poison_worker_run(void *arg) {
  poison_worker *worker = arg;
  uint64_t rng = 0x9e3779b97f4a7c15u * (worker->index + 1);
  for (size_t i = 0; i < POISON_REQUESTS; i++) {
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    size_t pick = (size_t)(rng >> 33);
    size_t bytes = pick % 16 == 0 ? 40 + pick % 300 : 1 + pick % 31;
    void *p;
    if (mt_arena_try_allocate(worker->arena, bytes, 1, &p) != MT_OK) {
      worker->failures++;
      continue;
    }
    if (test_first_poisoned(p, bytes) != bytes) worker->poisoned_when_handed_out++;
    if (worker->log.count == worker->log.capacity) {
      size_t capacity = worker->log.capacity == 0 ? 1024 : 2 * worker->log.capacity;
      allocation *items = realloc(worker->log.items, capacity * sizeof(*items));
      if (items == NULL) {
        worker->failures++;
        break;
      }
      worker->log.items = items;
      worker->log.capacity = capacity;
    }
    memset(p, (int)(worker->index + 1), bytes);
    worker->log.items[worker->log.count++] = (allocation){p, bytes, (unsigned char)(worker->index + 1)};
  }
  return NULL;
}

static void arena_poison_test_concurrent_threads_never_poison_each_other(void **state) {
  (void)state;
  mt_arena *arena = new_concurrent_arena(1000); /* small blocks: many refills and block changes */
  poison_worker workers[POISON_THREADS];
  for (unsigned i = 0; i < POISON_THREADS; i++) workers[i] = (poison_worker){arena, i, {NULL, 0, 0}, 0, 0, 0};
  thread_team_run(poison_worker_run, workers, sizeof(workers[0]), POISON_THREADS);
  for (unsigned i = 0; i < POISON_THREADS; i++) {
    poison_worker *worker = &workers[i];
    assert_int_equal(worker->failures, 0);
    assert_int_equal(worker->log.count, POISON_REQUESTS);
    assert_int_equal(worker->poisoned_when_handed_out, 0);
    for (size_t j = 0; j < worker->log.count; j++) {
      const allocation *item = &worker->log.items[j];
      if (test_first_poisoned(item->ptr, item->size) != item->size) worker->poisoned_at_end++;
    }
    assert_int_equal(worker->poisoned_at_end, 0);
    assert_int_equal(log_first_damaged(&worker->log), SIZE_MAX);
    log_release(&worker->log);
  }
  mt_arena_destroy(arena);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(arena_poison_test_block_tail_poisoned_until_handed_out),
      cmocka_unit_test(arena_poison_test_odd_sizes_addressable_to_the_byte),
      cmocka_unit_test(arena_poison_test_alignment_padding_stays_poisoned),
      cmocka_unit_test(arena_poison_test_own_block_poisoned_around_its_request),
      cmocka_unit_test(arena_poison_test_undo_poisons_what_it_takes_back),
      cmocka_unit_test(arena_poison_test_reset_poisons_everything_handed_out),
      cmocka_unit_test(arena_poison_test_blocks_go_back_to_custom_allocator_addressable),
      cmocka_unit_test(arena_poison_test_contains_refuses_poisoned_bytes),
      cmocka_unit_test(arena_poison_test_block_helpers_for_a_pool),
      cmocka_unit_test(arena_poison_test_concurrent_chunks_poisoned_until_handed_out),
      cmocka_unit_test(arena_poison_test_concurrent_chunks_are_whole_granules),
      cmocka_unit_test(arena_poison_test_concurrent_threads_never_poison_each_other),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
