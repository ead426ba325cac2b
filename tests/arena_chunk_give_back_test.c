/* arena_chunk_give_back_test: in concurrent mode, the unused rest of a thread's chunk goes back to its arena
 * when the thread exits, or when the thread drops the arena's shard for a fifth arena, and the next refill of
 * any thread takes it (arena.h, "Concurrent mode"): the figures (spare_bytes, used, wasted) and where the next
 * allocation lands. An arena destroyed or reset before the thread exits gets nothing back, and nothing is
 * touched (ASan would report a use after free); a spare taken by a refill that is undone goes back whole.
 *
 * With 4096-byte blocks a chunk is 512 bytes; requests up to 128 bytes (alignment slack included) come from
 * it; a rest of at least 128 bytes (from a granule boundary) is kept as a spare. */
#define _POSIX_C_SOURCE 200809L

#include "support/test_util.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <memtable/arena.h>

#include "support/thread_gate.h"
#include "support/tsan.h"

MT_TEST_TSAN_LONG_HISTORY()

#define BLOCK_SIZE ((size_t)4096)
#define CHUNK ((size_t)512)
#define ARENAS 5

static mt_arena *concurrent_arena(void) {
  mt_arena_options options = MT_ARENA_OPTIONS_INIT;
  options.block_size = BLOCK_SIZE;
  options.concurrent = true;
  mt_arena *arena = mt_arena_create(&options);
  assert_non_null(arena);
  return arena;
}

static mt_arena_stats stats_of(const mt_arena *arena) {
  mt_arena_stats s;
  assert_int_equal(mt_arena_get_stats(arena, &s), MT_OK);
  assert_int_equal(s.held_bytes, s.header_bytes + s.used_bytes + s.wasted_bytes + s.free_bytes);
  assert_true(s.spare_bytes <= s.used_bytes);
  return s;
}

/* A thread's work: `bytes` from each of `count` arenas (one allocation each), then, when `gate` is set, wait
 * there twice (after allocating, and before exiting) so the main thread can act in between. */
typedef struct allocation_job {
  mt_arena *arenas[ARENAS];
  size_t count;
  size_t bytes;
  thread_gate *gate;
  char *results[ARENAS];
} allocation_job;

static void *allocate_job_main(void *arg) {
  allocation_job *job = arg;
  for (size_t i = 0; i < job->count; i++) job->results[i] = mt_arena_allocate(job->arenas[i], job->bytes);
  if (job->gate != NULL) {
    thread_gate_wait(job->gate);
    thread_gate_wait(job->gate);
  }
  return NULL;
}

static pthread_t start_job(allocation_job *job) {
  pthread_t thread;
  assert_int_equal(pthread_create(&thread, NULL, allocate_job_main, job), 0);
  return thread;
}

static void run_job(allocation_job *job) {
  pthread_t thread = start_job(job);
  assert_int_equal(pthread_join(thread, NULL), 0);
  for (size_t i = 0; i < job->count; i++) assert_non_null(job->results[i]);
}

/* A thread that takes 100 bytes and exits leaves the other 412 of its chunk: 4 bytes up to the next granule
 * are wasted, 408 become a spare. The next thread's chunk is that spare: its allocation lands right there. */
static void arena_give_back_test_exited_thread_chunk_serves_the_next_thread(void **state) {
  (void)state;
  mt_arena *arena = concurrent_arena();
  allocation_job first = {{arena}, 1, 100, NULL, {NULL}};
  run_job(&first);
  mt_arena_stats s = stats_of(arena);
  assert_int_equal(s.blocks, 1);
  assert_int_equal(s.used_bytes, CHUNK - 4);
  assert_int_equal(s.wasted_bytes, 4);
  assert_int_equal(s.spare_bytes, CHUNK - 104);
  size_t held = s.held_bytes;

  allocation_job second = {{arena}, 1, 24, NULL, {NULL}};
  run_job(&second);
  assert_ptr_equal(second.results[0], first.results[0] + 104);
  s = stats_of(arena);
  assert_int_equal(s.held_bytes, held); /* no new chunk was cut */
  assert_int_equal(s.spare_bytes, CHUNK - 104 - 24);
  assert_int_equal(s.used_bytes, CHUNK - 4);

  /* More short-lived threads in turn, while the spare can serve them: the shared block is cut no further. */
  size_t shared_free = s.free_bytes;
  for (int i = 0; i < 8; i++) {
    allocation_job next = {{arena}, 1, 24, NULL, {NULL}};
    run_job(&next);
    assert_ptr_equal(next.results[0], first.results[0] + 104 + (size_t)(i + 1) * 24);
  }
  s = stats_of(arena);
  assert_int_equal(s.free_bytes, shared_free);
  assert_int_equal(s.spare_bytes, CHUNK - 104 - 9 * 24);
  mt_arena_destroy(arena);
}

/* Threads that each take 120 bytes of the same chunk in turn: each gets the spare its predecessor left, until
 * the spare (32 bytes) is too short for the request: it is wasted, and the thread cuts a new chunk. */
static void arena_give_back_test_small_rest_is_wasted(void **state) {
  (void)state;
  mt_arena *arena = concurrent_arena();
  allocation_job job = {{arena}, 1, 120, NULL, {NULL}};
  run_job(&job);
  char *start = job.results[0];
  size_t held = stats_of(arena).held_bytes;
  for (size_t taken = 2; taken <= 4; taken++) {
    run_job(&job);
    assert_ptr_equal(job.results[0], start + (taken - 1) * 120); /* the spare, every time */
    mt_arena_stats s = stats_of(arena);
    assert_int_equal(s.held_bytes, held);
    assert_int_equal(s.spare_bytes, CHUNK - taken * 120); /* 272, 152, then 32 */
    assert_int_equal(s.wasted_bytes, 0);
    assert_int_equal(s.used_bytes, CHUNK);
  }
  run_job(&job);
  assert_ptr_equal(job.results[0], start + CHUNK); /* a new chunk, right after the first */
  mt_arena_stats s = stats_of(arena);
  assert_int_equal(s.wasted_bytes, 32);
  assert_int_equal(s.spare_bytes, CHUNK - 120);
  assert_int_equal(s.used_bytes, 2 * CHUNK - 32);
  mt_arena_destroy(arena);
}

/* A thread that holds chunks in several arenas gives each its rest at exit; one that moves on to a fifth
 * arena gives the least recently used its rest at once, while it lives. */
static void arena_give_back_test_each_arena_gets_its_rest(void **state) {
  (void)state;
  mt_arena *arenas[ARENAS];
  for (int a = 0; a < ARENAS; a++) arenas[a] = concurrent_arena();
  thread_gate gate;
  assert_true(thread_gate_init(&gate, 2));
  allocation_job job = {{arenas[0], arenas[1], arenas[2], arenas[3], arenas[4]}, ARENAS, 64, &gate, {NULL}};
  pthread_t thread = start_job(&job);
  thread_gate_wait(&gate); /* the thread allocated from all five, and lives */
  assert_int_equal(stats_of(arenas[0]).spare_bytes, CHUNK - 64); /* evicted by the fifth */
  for (int a = 1; a < ARENAS; a++) assert_int_equal(stats_of(arenas[a]).spare_bytes, 0);
  thread_gate_wait(&gate);
  assert_int_equal(pthread_join(thread, NULL), 0);
  for (int a = 0; a < ARENAS; a++) {
    assert_non_null(job.results[a]);
    mt_arena_stats s = stats_of(arenas[a]);
    assert_int_equal(s.spare_bytes, CHUNK - 64);
    assert_int_equal(s.used_bytes, CHUNK);
    assert_int_equal(s.wasted_bytes, 0);
    mt_arena_destroy(arenas[a]);
  }
  thread_gate_destroy(&gate);
}

/* An arena destroyed, or reset, while a thread that holds a chunk in it still lives gets nothing back when
 * the thread exits; an arena created meanwhile (perhaps where the destroyed one was) is not mistaken for it. */
static void arena_give_back_test_destroyed_or_reset_arena_gets_nothing(void **state) {
  (void)state;
  mt_arena *doomed = concurrent_arena();
  mt_arena *reset = concurrent_arena();
  thread_gate gate;
  assert_true(thread_gate_init(&gate, 2));
  allocation_job job = {{doomed, reset}, 2, 64, &gate, {NULL}};
  pthread_t thread = start_job(&job);
  thread_gate_wait(&gate); /* the thread allocated from both, and lives */
  mt_arena_destroy(doomed);
  mt_arena_reset(reset);
  mt_arena *successor = concurrent_arena();
  thread_gate_wait(&gate);
  assert_int_equal(pthread_join(thread, NULL), 0);
  mt_arena_stats s = stats_of(reset);
  assert_int_equal(s.spare_bytes, 0);
  assert_int_equal(s.used_bytes, 0);
  assert_int_equal(s.free_bytes, BLOCK_SIZE - s.header_bytes);
  s = stats_of(successor);
  assert_int_equal(s.spare_bytes, 0);
  assert_int_equal(s.held_bytes, 0);
  mt_arena_destroy(successor);
  mt_arena_destroy(reset);
  thread_gate_destroy(&gate);
}

/* A thread whose refill took a spare and whose allocation is then undone gives the spare back whole and keeps
 * its old chunk: the figures are as before the allocation, and the next refill takes the same spare. */
typedef struct undo_job {
  mt_arena *arena;
  thread_gate *gate;
  char *first, *second, *again;
  mt_status undo_status;
  mt_arena_stats before, after;
} undo_job;

static void *undo_job_main(void *arg) {
  undo_job *job = arg;
  job->first = mt_arena_allocate(job->arena, 120);
  for (int i = 0; i < 3; i++) (void)mt_arena_allocate(job->arena, 120); /* 480 of the chunk: 32 left */
  thread_gate_wait(job->gate); /* another thread leaves a spare meanwhile */
  thread_gate_wait(job->gate);
  (void)mt_arena_get_stats(job->arena, &job->before);
  job->second = mt_arena_allocate(job->arena, 120); /* refill: the spare */
  job->undo_status = mt_arena_undo_last(job->arena, job->second);
  (void)mt_arena_get_stats(job->arena, &job->after);
  job->again = mt_arena_allocate(job->arena, 120);
  return NULL;
}

static void arena_give_back_test_undone_refill_returns_the_spare(void **state) {
  (void)state;
  mt_arena *arena = concurrent_arena();
  thread_gate gate;
  assert_true(thread_gate_init(&gate, 2));
  undo_job job = {arena, &gate, NULL, NULL, NULL, MT_OK, {0}, {0}};
  pthread_t thread;
  assert_int_equal(pthread_create(&thread, NULL, undo_job_main, &job), 0);
  thread_gate_wait(&gate);
  allocation_job leave = {{arena}, 1, 64, NULL, {NULL}};
  run_job(&leave); /* a spare of 448 bytes */
  thread_gate_wait(&gate);
  assert_int_equal(pthread_join(thread, NULL), 0);
  thread_gate_destroy(&gate);
  assert_non_null(job.first);
  assert_ptr_equal(job.second, leave.results[0] + 64);
  assert_int_equal(job.undo_status, MT_OK);
  assert_memory_equal(&job.after, &job.before, sizeof(job.before));
  assert_ptr_equal(job.again, job.second);
  mt_arena_destroy(arena);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(arena_give_back_test_exited_thread_chunk_serves_the_next_thread),
      cmocka_unit_test(arena_give_back_test_small_rest_is_wasted),
      cmocka_unit_test(arena_give_back_test_each_arena_gets_its_rest),
      cmocka_unit_test(arena_give_back_test_destroyed_or_reset_arena_gets_nothing),
      cmocka_unit_test(arena_give_back_test_undone_refill_returns_the_spare),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
