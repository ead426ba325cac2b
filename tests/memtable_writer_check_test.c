/* memtable_writer_check_test: a table created without concurrent_writes asserts, in builds with assertions,
 * when a write enters while another is in progress (the misuse its threading contract forbids), through every
 * write function; writers that take turns, and concurrent_writes tables, never trip it.
 *
 * Deterministic: the first writer is parked inside its add by the table's comparator (the skiplist calls it
 * while the add searches) until the second has made its call. The assertion aborts, so each misuse runs in a
 * forked child: the parent expects SIGABRT and the assertion's message on the child's stderr. The checks need
 * assertions: a build with NDEBUG skips them. */
#define _POSIX_C_SOURCE 200809L
#include "support/test_util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memtable/memtable.h>

/* Parks the first comparison made on `parker` (once armed) until released. */
typedef struct park {
  pthread_mutex_t mutex;
  pthread_cond_t changed;
  pthread_t parker;
  bool armed;
  bool parked;
  bool released;
} park;

static int parking_compare(void *ctx, const char *a, size_t a_len, const char *b, size_t b_len) {
  park *p = ctx;
  pthread_mutex_lock(&p->mutex);
  if (p->armed && pthread_equal(pthread_self(), p->parker)) {
    p->armed = false;
    p->parked = true;
    pthread_cond_broadcast(&p->changed);
    while (!p->released) pthread_cond_wait(&p->changed, &p->mutex);
  }
  pthread_mutex_unlock(&p->mutex);
  size_t common = a_len < b_len ? a_len : b_len;
  int order = common != 0 ? memcmp(a, b, common) : 0;
  return order != 0 ? order : (a_len > b_len) - (a_len < b_len);
}

typedef enum write_kind { WRITE_ADD, WRITE_ADD_BATCH, WRITE_PREPARE, WRITE_ADD_PREPARED, WRITE_CANCEL } write_kind;

static const char *const write_names[] = {"add", "add_batch", "prepare", "add_prepared", "cancel_prepared"};

typedef struct scene {
  mt_memtable *table;
  park park;
  write_kind first_kind;                     /* the parked writer's */
  mt_memtable_reservation reservations[2];   /* [0] the parked writer's, [1] the second's, when they need one */
  mt_status first_status;
} scene;

/* One write of the given kind with sequence number `seq` (which also names the key); a reservation for the
 * kinds that consume one. */
static mt_status write_once(mt_memtable *table, write_kind kind, uint64_t seq, mt_memtable_reservation *reservation) {
  char key[16];
  snprintf(key, sizeof(key), "key-%04u", (unsigned)seq);
  switch (kind) {
    case WRITE_ADD:
      return mt_memtable_add(table, seq, MT_TYPE_VALUE, key, 8, "v", 1);
    case WRITE_ADD_BATCH: {
      mt_memtable_batch_entry entry = {MT_TYPE_VALUE, key, 8, "v", 1};
      return mt_memtable_add_batch(table, seq, &entry, 1, NULL);
    }
    case WRITE_PREPARE: {
      mt_memtable_reservation r;
      mt_status status = mt_memtable_prepare(table, 8, 1, &r);
      if (status == MT_OK) (void)mt_memtable_cancel_prepared(&r);
      return status;
    }
    case WRITE_ADD_PREPARED:
      return mt_memtable_add_prepared(reservation, seq, MT_TYPE_VALUE, key, reservation->key_len, "v", reservation->value_len);
    case WRITE_CANCEL:
      (void)mt_memtable_cancel_prepared(reservation);
      return MT_OK;
  }
  return MT_INVALID_ARGUMENT;
}

static bool needs_reservation(write_kind kind) { return kind == WRITE_ADD_PREPARED || kind == WRITE_CANCEL; }

static void *parked_writer_main(void *arg) {
  scene *s = arg;
  s->first_status = write_once(s->table, s->first_kind, 2, &s->reservations[0]);
  return NULL;
}

/* The child's work: a table holding one entry (so the next add compares), reservations where the writes need
 * them, a thread parked inside a `first` write (one that compares: add, add_batch, add_prepared), then the
 * `second` write from this thread. Returns the child's exit code: 0 when both writes returned MT_OK and the
 * table validates (an assertion aborts before that), another number naming the step that failed. */
static int run_overlap(write_kind first, write_kind second, bool concurrent_writes) {
  scene s;
  memset(&s, 0, sizeof(s));
  if (pthread_mutex_init(&s.park.mutex, NULL) != 0 || pthread_cond_init(&s.park.changed, NULL) != 0) return 10;
  mt_memtable_options options = MT_MEMTABLE_OPTIONS_INIT;
  options.compare = parking_compare;
  options.compare_ctx = &s.park;
  options.concurrent_writes = concurrent_writes;
  s.table = mt_memtable_create(&options);
  if (s.table == NULL) return 11;
  if (mt_memtable_add(s.table, 1, MT_TYPE_VALUE, "key-0001", 8, "v", 1) != MT_OK) return 12;
  if (needs_reservation(first) && mt_memtable_prepare(s.table, 8, 1, &s.reservations[0]) != MT_OK) return 13;
  if (needs_reservation(second) && mt_memtable_prepare(s.table, 8, 1, &s.reservations[1]) != MT_OK) return 13;
  s.first_kind = first;
  pthread_t thread;
  /* The thread compares only under the mutex, so it sees parker and armed, set before this thread waits. */
  pthread_mutex_lock(&s.park.mutex);
  if (pthread_create(&thread, NULL, parked_writer_main, &s) != 0) return 14;
  s.park.parker = thread;
  s.park.armed = true;
  while (!s.park.parked) pthread_cond_wait(&s.park.changed, &s.park.mutex);
  pthread_mutex_unlock(&s.park.mutex);
  mt_status second_status = write_once(s.table, second, 3, &s.reservations[1]);
  pthread_mutex_lock(&s.park.mutex);
  s.park.released = true;
  pthread_cond_broadcast(&s.park.changed);
  pthread_mutex_unlock(&s.park.mutex);
  pthread_join(thread, NULL);
  if (second_status != MT_OK || s.first_status != MT_OK) return 15;
  if (mt_memtable_validate(s.table) != MT_OK) return 16;
  mt_memtable_unref(s.table);
  return 0;
}

typedef struct child_result {
  int wait_status;
  char stderr_text[4096];
} child_result;

/* Runs run_overlap in a forked child (no core file), collecting how it ended and what it wrote to stderr. */
static child_result run_in_child(write_kind first, write_kind second, bool concurrent_writes) {
  child_result result = {0, {0}};
  int pipe_ends[2];
  assert_int_equal(pipe(pipe_ends), 0);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    struct rlimit no_core = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &no_core);
    close(pipe_ends[0]);
    if (dup2(pipe_ends[1], STDERR_FILENO) < 0) _exit(20);
    _exit(run_overlap(first, second, concurrent_writes));
  }
  close(pipe_ends[1]);
  size_t used = 0;
  for (;;) {
    ssize_t n = read(pipe_ends[0], result.stderr_text + used, sizeof(result.stderr_text) - 1 - used);
    if (n > 0) {
      used += (size_t)n;
      if (used == sizeof(result.stderr_text) - 1) break;
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(pipe_ends[0]);
  result.stderr_text[used] = '\0';
  pid_t waited;
  do waited = waitpid(pid, &result.wait_status, 0);
  while (waited < 0 && errno == EINTR);
  assert_int_equal(waited, pid);
  return result;
}

static void expect_abort(write_kind first, write_kind second) {
  child_result r = run_in_child(first, second, false);
  if (!WIFSIGNALED(r.wait_status) || WTERMSIG(r.wait_status) != SIGABRT) {
    fail_msg("%s entered during a parked %s: expected the assertion (SIGABRT), child %s %d; stderr: %s",
             write_names[second], write_names[first], WIFSIGNALED(r.wait_status) ? "killed by signal" : "exited",
             WIFSIGNALED(r.wait_status) ? WTERMSIG(r.wait_status) : WEXITSTATUS(r.wait_status), r.stderr_text);
  }
  if (strstr(r.stderr_text, "without concurrent_writes") == NULL) {
    fail_msg("%s during %s: the abort did not name the misuse; stderr: %s", write_names[second], write_names[first],
             r.stderr_text);
  }
}

static void expect_clean_exit(write_kind first, write_kind second, bool concurrent_writes) {
  child_result r = run_in_child(first, second, concurrent_writes);
  if (!WIFEXITED(r.wait_status) || WEXITSTATUS(r.wait_status) != 0) {
    fail_msg("%s during %s (concurrent_writes %d): child %s %d; stderr: %s", write_names[second], write_names[first],
             concurrent_writes, WIFSIGNALED(r.wait_status) ? "killed by signal" : "exited",
             WIFSIGNALED(r.wait_status) ? WTERMSIG(r.wait_status) : WEXITSTATUS(r.wait_status), r.stderr_text);
  }
}

#ifdef NDEBUG
#define REQUIRE_ASSERTIONS() skip()
#else
#define REQUIRE_ASSERTIONS() ((void)0)
#endif

/* Every write function entered while an add is parked mid-search aborts. */
static void writer_check_test_every_write_entering_during_an_add_aborts(void **state) {
  (void)state;
  REQUIRE_ASSERTIONS();
  for (write_kind second = WRITE_ADD; second <= WRITE_CANCEL; second++) expect_abort(WRITE_ADD, second);
}

/* The parked write may be any that searches: add_batch and add_prepared hold the flag too. */
static void writer_check_test_add_entering_during_a_batch_or_prepared_add_aborts(void **state) {
  (void)state;
  REQUIRE_ASSERTIONS();
  expect_abort(WRITE_ADD_BATCH, WRITE_ADD);
  expect_abort(WRITE_ADD_PREPARED, WRITE_ADD);
}

/* The same overlap on a concurrent_writes table is allowed: no abort, both entries land, the table validates. */
static void writer_check_test_concurrent_writes_table_allows_the_overlap(void **state) {
  (void)state;
  for (write_kind second = WRITE_ADD; second <= WRITE_CANCEL; second++) expect_clean_exit(WRITE_ADD, second, true);
}

/* Threads that write in turn, each write under a shared mutex. */
typedef struct turn_state {
  mt_memtable *table;
  pthread_mutex_t mutex;
  uint64_t next_seq;
  unsigned turns;
} turn_state;

static void *take_turns_main(void *arg) {
  turn_state *t = arg;
  char key[16];
  for (unsigned i = 0; i < t->turns; i++) {
    pthread_mutex_lock(&t->mutex);
    uint64_t seq = t->next_seq++;
    snprintf(key, sizeof(key), "turn-%06u", (unsigned)seq);
    mt_status status = mt_memtable_add(t->table, seq, MT_TYPE_VALUE, key, 11, "v", 1);
    mt_memtable_reservation r;
    if (status == MT_OK) status = mt_memtable_prepare(t->table, 11, 1, &r);
    key[5] = 'x';
    if (status == MT_OK) status = mt_memtable_add_prepared(&r, seq, MT_TYPE_VALUE, key, r.key_len, "v", r.value_len);
    pthread_mutex_unlock(&t->mutex);
    if (status != MT_OK) abort(); /* cmocka's asserts belong to the main thread */
  }
  return NULL;
}

/* Writers on different threads that take turns through a mutex (the contract) never trip the check. */
static void writer_check_test_writers_taking_turns_do_not_trip(void **state) {
  (void)state;
  enum { THREADS = 3 };
  turn_state t = {NULL, PTHREAD_MUTEX_INITIALIZER, 1, 2000};
  t.table = mt_memtable_create(NULL);
  assert_non_null(t.table);
  pthread_t threads[THREADS];
  for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_create(&threads[i], NULL, take_turns_main, &t), 0);
  for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_join(threads[i], NULL), 0);
  assert_int_equal(mt_memtable_entry_count(t.table), 2 * THREADS * t.turns);
  assert_int_equal(mt_memtable_validate(t.table), MT_OK);
  mt_memtable_unref(t.table);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(writer_check_test_every_write_entering_during_an_add_aborts),
      cmocka_unit_test(writer_check_test_add_entering_during_a_batch_or_prepared_add_aborts),
      cmocka_unit_test(writer_check_test_concurrent_writes_table_allows_the_overlap),
      cmocka_unit_test(writer_check_test_writers_taking_turns_do_not_trip),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
