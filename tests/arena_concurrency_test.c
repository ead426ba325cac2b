/* arena_concurrency_test: the usage figure read from another thread while the arena grows: it never
 * decreases, never exceeds the final figure, and the read after the last allocation sees it all. */
#define _POSIX_C_SOURCE 200809L

#include "support/test_util.h"

#include <memtable/arena.h>

#include "support/rng.h"
#include "support/thread_team.h"
#include "support/tsan.h"

#include <sched.h>
#include <stdatomic.h>


MT_TEST_TSAN_LONG_HISTORY()

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
  /* The team's start orders only what precedes the first allocation: no edge forms around the usage figure. */
  thread_team reader_team;
  thread_team_start(&reader_team, read_usage_until_stopped, &reader, 0, 1);
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
  thread_team_join(&reader_team);

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

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(arena_test_memory_usage_concurrent_reader),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
