/* memtable_concurrent_writers_test: many writers on one table (concurrent_writes). Writers race on disjoint
 * and shared keys while readers check everything already published; the exact same entry raced by several
 * threads, and before its first writer published it in the point index; version links under writers racing
 * on the same keys, against the model; allocator failure and capacity reached mid-race. Every assertion holds
 * for every interleaving.
 * (mt_memtable_add_batch has its own suite, memtable_add_batch_test.) */
#define _POSIX_C_SOURCE 200809L
#include "support/test_util.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/memtable.h>

/* The seam between a concurrent writer's link and its point-index publish. */
#include "memtable/testing.h"

#include "support/memtable_checks.h"
#include "support/model.h"
#include "support/rng.h"
#include "support/same_entry_race.h"
#include "support/tsan.h"
#include "support/thread_team.h"


/* ThreadSanitizer slows every add about tenfold; a race shows in far fewer. */
#ifdef MT_TEST_UNDER_TSAN
#define OPS_PER_WRITER 300
#else
#define OPS_PER_WRITER 3000
#endif

enum { MAX_WRITERS = 4, MAX_READERS = 2, SHARED_KEYS = 16 };

static mt_memtable_options concurrent_options(void) {
  mt_memtable_options options = MT_MEMTABLE_OPTIONS_INIT;
  options.concurrent_writes = true; /* arena.concurrent left false: the table sets it for its own arena */
  options.arena.block_size = 4096; /* many blocks, so shards run out and refill while others write */
  return options;
}

/* One add a writer makes. Sequence numbers are unique over the whole run: op i of writer w gets
 * i * writers + w + 1, so a seq names its op (see op_of_seq), and a key two writers share gets distinct seqs. */
typedef struct writer_op {
  char key[24];
  size_t key_len;
  uint64_t seq;
  mt_entry_type type;
  char value[40];
  size_t value_len;
  mt_status status; /* written by the writer before it publishes the op */
} writer_op;

typedef struct writer_log {
  writer_op ops[OPS_PER_WRITER];
  size_t count;
  /* How many ops the writer has finished: it stores i + 1 (release) after op i's add returned, so a reader
   * that loads n (acquire) sees the add and the status of every op below n. */
  _Atomic size_t published;
} writer_log;

typedef struct writers_race {
  mt_memtable *table;
  unsigned writers;
  unsigned readers;
  uint64_t seed;
  writer_log *logs; /* writers of them */
  _Atomic bool quit;
  _Atomic bool failed;
  atomic_flag failure_taken;
  char failure[512];
  _Atomic long reader_checks;
} writers_race;

typedef struct thread_arg {
  writers_race *race;
  unsigned index;
} thread_arg;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static void race_fail(writers_race *r, const char *format, ...) {
  if (!atomic_flag_test_and_set_explicit(&r->failure_taken, memory_order_acq_rel)) {
    va_list args;
    va_start(args, format);
    vsnprintf(r->failure, sizeof(r->failure), format, args);
    va_end(args);
  }
  atomic_store_explicit(&r->failed, true, memory_order_release);
}

static void generate_ops(writers_race *r, unsigned w) {
  writer_log *log = &r->logs[w];
  uint64_t rng = r->seed ^ ((uint64_t)w << 32);
  log->count = OPS_PER_WRITER;
  for (size_t i = 0; i < log->count; i++) {
    writer_op *op = &log->ops[i];
    int key_len = mt_rng_below(&rng, 5) == 0
                      ? snprintf(op->key, sizeof(op->key), "shared-%02zu", mt_rng_below(&rng, SHARED_KEYS))
                      : snprintf(op->key, sizeof(op->key), "w%u-%06zu", w, i);
    op->key_len = (size_t)key_len;
    op->seq = (uint64_t)i * r->writers + w + 1;
    op->type = mt_rng_below(&rng, 7) == 0 ? MT_TYPE_DELETION : MT_TYPE_VALUE;
    int value_len = snprintf(op->value, sizeof(op->value), "v%u-%zu-%" PRIx64, w, i, mt_rng_next(&rng));
    op->value_len = op->type == MT_TYPE_DELETION && i % 2 == 0 ? 0 : (size_t)value_len;
    op->status = MT_INVALID_ARGUMENT; /* not attempted */
  }
}

static const writer_op *op_of_seq(const writers_race *r, uint64_t seq) {
  if (seq == 0) return NULL;
  uint64_t w = (seq - 1) % r->writers, i = (seq - 1) / r->writers;
  if (i >= r->logs[w].count) return NULL;
  return &r->logs[w].ops[i];
}

static bool slice_is(mt_slice slice, const char *data, size_t len) {
  return slice.len == len && (len == 0 || memcmp(slice.data, data, len) == 0);
}

static bool entry_is_op(const mt_entry *entry, const writer_op *op) {
  return entry->seq == op->seq && entry->type == op->type && slice_is(entry->user_key, op->key, op->key_len) &&
         slice_is(entry->value, op->value, op->value_len);
}

static void *writer_main(void *arg) {
  thread_arg *self = arg;
  writers_race *r = self->race;
  writer_log *log = &r->logs[self->index];
  for (size_t i = 0; i < log->count && !atomic_load_explicit(&r->failed, memory_order_relaxed); i++) {
    writer_op *op = &log->ops[i];
    op->status = mt_memtable_add(r->table, op->seq, op->type, op->key, op->key_len, op->value, op->value_len);
    if (op->status != MT_OK) {
      race_fail(r, "writer %u: add of %s seq %" PRIu64 " returned %s (seed %" PRIu64 ")", self->index, op->key,
                op->seq, mt_status_str(op->status), r->seed);
      return NULL;
    }
    /* Release: the add and op->status above happen before any read that acquires i + 1. */
    atomic_store_explicit(&log->published, i + 1, memory_order_release);
  }
  return NULL;
}

/* A reader's pass: a published op must be found by get at its own seq, exactly as written; a short scan from
 * a random key must show entries in strictly ascending internal-key order, each one an op that some writer
 * makes, byte for byte (never half-written, never invented). */
static bool read_pass(writers_race *r, thread_arg *self, uint64_t *rng) {
  unsigned w = (unsigned)mt_rng_below(rng, r->writers);
  size_t published = atomic_load_explicit(&r->logs[w].published, memory_order_acquire);
  if (published > 0) {
    const writer_op *op = &r->logs[w].ops[mt_rng_below(rng, published)];
    mt_entry found;
    mt_status status = mt_memtable_get_entry(r->table, op->key, op->key_len, op->seq, &found);
    mt_status expected = op->type == MT_TYPE_VALUE ? MT_OK : MT_DELETED;
    if (status != expected || !entry_is_op(&found, op)) {
      race_fail(r, "reader %u: get(%s, %" PRIu64 ") published by writer %u returned %s%s (seed %" PRIu64 ")",
                self->index, op->key, op->seq, w, mt_status_str(status),
                status == expected ? " with another entry" : "", r->seed);
      return false;
    }
  }
  mt_memtable_iter *iter = mt_memtable_iter_create(r->table);
  if (iter == NULL) {
    race_fail(r, "reader %u: iterator creation failed", self->index);
    return false;
  }
  char target[24];
  int target_len = snprintf(target, sizeof(target), "w%zu-%06zu", mt_rng_below(rng, r->writers),
                            mt_rng_below(rng, OPS_PER_WRITER));
  mt_memtable_iter_seek(iter, target, (size_t)target_len, MT_MAX_SEQUENCE);
  const writer_op *previous = NULL;
  bool ok = true;
  for (int step = 0; step < 32 && mt_memtable_iter_valid(iter); step++, mt_memtable_iter_next(iter)) {
    mt_entry entry = {mt_memtable_iter_user_key(iter), mt_memtable_iter_seq(iter), mt_memtable_iter_type(iter),
                      mt_memtable_iter_value(iter)};
    const writer_op *op = op_of_seq(r, entry.seq);
    if (op == NULL || !entry_is_op(&entry, op)) {
      race_fail(r, "reader %u: scan met seq %" PRIu64 " that no writer added as read (seed %" PRIu64 ")",
                self->index, entry.seq, r->seed);
      ok = false;
      break;
    }
    if (previous != NULL) {
      int order = model_bytewise(previous->key, previous->key_len, op->key, op->key_len);
      if (order > 0 || (order == 0 && previous->seq <= op->seq)) {
        race_fail(r, "reader %u: scan out of order: %s/%" PRIu64 " then %s/%" PRIu64 " (seed %" PRIu64 ")",
                  self->index, previous->key, previous->seq, op->key, op->seq, r->seed);
        ok = false;
        break;
      }
    }
    previous = op;
  }
  if (ok && mt_memtable_iter_status(iter) != MT_OK) {
    race_fail(r, "reader %u: scan ended with %s", self->index, mt_status_str(mt_memtable_iter_status(iter)));
    ok = false;
  }
  mt_memtable_iter_destroy(iter);
  return ok;
}

/* A reader thread: passes until the race quits or a pass fails, then counts its passes. */
static void *run_reader(thread_arg *self, bool (*pass)(writers_race *, thread_arg *, uint64_t *)) {
  writers_race *r = self->race;
  uint64_t rng = r->seed + 1000 + self->index;
  long checks = 0;
  while (!atomic_load_explicit(&r->quit, memory_order_acquire) && pass(r, self, &rng)) checks++;
  atomic_fetch_add_explicit(&r->reader_checks, checks, memory_order_relaxed);
  return NULL;
}

static void *reader_main(void *arg) { return run_reader(arg, read_pass); }

static int compare_ops(const void *a, const void *b) {
  const writer_op *x = *(const writer_op *const *)a, *y = *(const writer_op *const *)b;
  int order = model_bytewise(x->key, x->key_len, y->key, y->key_len);
  if (order != 0) return order;
  return x->seq > y->seq ? -1 : x->seq < y->seq ? 1 : 0;
}

/* The table after the writers joined against the union of their logs, sorted in internal-key order: the
 * internal iterator must show each op exactly once, in that order, and nothing else. */
static void check_table_is_union_of_logs(writers_race *r) {
  size_t total = 0;
  uint64_t deletions = 0;
  for (unsigned w = 0; w < r->writers; w++) total += r->logs[w].count;
  const writer_op **sorted = malloc(total * sizeof(*sorted));
  assert_non_null(sorted);
  size_t n = 0;
  for (unsigned w = 0; w < r->writers; w++) {
    for (size_t i = 0; i < r->logs[w].count; i++) {
      sorted[n++] = &r->logs[w].ops[i];
      if (r->logs[w].ops[i].type == MT_TYPE_DELETION) deletions++;
    }
  }
  qsort(sorted, total, sizeof(*sorted), compare_ops);
  mt_memtable_iter *iter = mt_memtable_iter_create(r->table);
  assert_non_null(iter);
  mt_memtable_iter_seek_to_first(iter);
  for (size_t i = 0; i < total; i++, mt_memtable_iter_next(iter)) {
    if (!mt_memtable_iter_valid(iter)) fail_msg("entry %zu of %zu missing (seed %" PRIu64 ")", i, total, r->seed);
    mt_entry entry = {mt_memtable_iter_user_key(iter), mt_memtable_iter_seq(iter), mt_memtable_iter_type(iter),
                      mt_memtable_iter_value(iter)};
    if (!entry_is_op(&entry, sorted[i]))
      fail_msg("entry %zu is seq %" PRIu64 ", expected %s/%" PRIu64 " (seed %" PRIu64 ")", i, entry.seq,
               sorted[i]->key, sorted[i]->seq, r->seed);
  }
  assert_false(mt_memtable_iter_valid(iter));
  assert_int_equal(mt_memtable_iter_status(iter), MT_OK);
  mt_memtable_iter_destroy(iter);
  free(sorted);
  assert_int_equal(mt_memtable_validate(r->table), MT_OK);
  assert_int_equal(mt_memtable_entry_count(r->table), total);
  assert_int_equal(mt_memtable_deletion_count(r->table), deletions);
  uint64_t smallest = 0, largest = 0;
  assert_int_equal(mt_memtable_sequence_range(r->table, &smallest, &largest), MT_OK);
  assert_int_equal(smallest, 1);
  assert_int_equal(largest, (uint64_t)OPS_PER_WRITER * r->writers);
}

static void run_writers_and_readers(unsigned writers, unsigned readers, uint64_t seed) {
  writers_race *r = calloc(1, sizeof(*r));
  assert_non_null(r);
  r->writers = writers;
  r->readers = readers;
  r->seed = seed;
  r->logs = calloc(writers, sizeof(*r->logs));
  assert_non_null(r->logs);
  atomic_flag_clear(&r->failure_taken);
  for (unsigned w = 0; w < writers; w++) generate_ops(r, w);
  mt_memtable_options options = concurrent_options();
  r->table = new_table(&options);
  thread_arg writer_args[MAX_WRITERS], reader_args[MAX_READERS];
  for (unsigned i = 0; i < readers; i++) reader_args[i] = (thread_arg){r, i};
  for (unsigned w = 0; w < writers; w++) writer_args[w] = (thread_arg){r, w};
  thread_team reader_team;
  thread_team_start(&reader_team, reader_main, reader_args, sizeof(reader_args[0]), readers);
  thread_team_run(writer_main, writer_args, sizeof(writer_args[0]), writers);
  atomic_store_explicit(&r->quit, true, memory_order_release);
  thread_team_join(&reader_team);
  if (atomic_load_explicit(&r->failed, memory_order_acquire)) fail_msg("%s", r->failure);
  check_table_is_union_of_logs(r);
  print_message("%u writers, %u readers: %ld reader passes (seed %" PRIu64 ")\n", writers, readers,
                atomic_load_explicit(&r->reader_checks, memory_order_relaxed), seed);
  mt_memtable_unref(r->table);
  free(r->logs);
  free(r);
}

static void memtable_concurrent_test_two_writers_one_reader_union_of_logs(void **state) {
  (void)state;
  run_writers_and_readers(2, 1, 0x12a1);
}

static void memtable_concurrent_test_three_writers_two_readers_union_of_logs(void **state) {
  (void)state;
  run_writers_and_readers(3, 2, 0x12a2);
}

static void memtable_concurrent_test_four_writers_two_readers_union_of_logs(void **state) {
  (void)state;
  run_writers_and_readers(4, 2, 0x12a3);
}

/* Version links with concurrent writers: every writer adds versions of the same few keys (seqs distinct and
 * interleaved across writers, so versions are linked out of sequence order) while readers run the user view
 * forwards and backwards at random snapshots. A reader checks what a view must show whatever the interleaving:
 * keys strictly in order and once each, every entry a value some writer added for that key at a seq within
 * the snapshot, never older than the newest version published before the view was created, and a key left
 * out only if a deletion at a seq between that version and the snapshot exists. Afterwards the model says
 * exactly what every view, get and the internal iterator show. */
enum { VERSION_KEYS = 24 };

static void generate_version_ops(writers_race *r, unsigned w) {
  writer_log *log = &r->logs[w];
  uint64_t rng = r->seed ^ ((uint64_t)w << 32);
  log->count = OPS_PER_WRITER;
  for (size_t i = 0; i < log->count; i++) {
    writer_op *op = &log->ops[i];
    op->key_len = (size_t)snprintf(op->key, sizeof(op->key), "version-%02zu", mt_rng_below(&rng, VERSION_KEYS));
    op->seq = (uint64_t)i * r->writers + w + 1;
    op->type = mt_rng_below(&rng, 5) == 0 ? MT_TYPE_DELETION : MT_TYPE_VALUE;
    int value_len = snprintf(op->value, sizeof(op->value), "%s@%" PRIu64, op->key, op->seq);
    op->value_len = op->type == MT_TYPE_DELETION ? 0 : (size_t)value_len;
    op->status = MT_INVALID_ARGUMENT; /* not attempted */
  }
}

static size_t version_key_index(const char *key, size_t key_len) {
  return key_len == 10 ? (size_t)(key[8] - '0') * 10 + (size_t)(key[9] - '0') : VERSION_KEYS;
}

/* Of the ops on key `k`: the newest with seq <= snapshot among the first published[w] of each writer
 * (*floor, NULL if none), and whether any op on k with seq in (that seq, snapshot] is a deletion. */
static void version_floor(const writers_race *r, const size_t *published, size_t k, uint64_t snapshot,
                          const writer_op **floor, bool *deletion_above) {
  *floor = NULL;
  for (unsigned w = 0; w < r->writers; w++) {
    for (size_t i = 0; i < published[w]; i++) {
      const writer_op *op = &r->logs[w].ops[i];
      if (op->seq <= snapshot && version_key_index(op->key, op->key_len) == k &&
          (*floor == NULL || op->seq > (*floor)->seq))
        *floor = op;
    }
  }
  uint64_t low = *floor == NULL ? 0 : (*floor)->seq;
  *deletion_above = false;
  for (unsigned w = 0; w < r->writers && !*deletion_above; w++) {
    for (size_t i = 0; i < r->logs[w].count; i++) {
      const writer_op *op = &r->logs[w].ops[i];
      if (op->type == MT_TYPE_DELETION && op->seq > low && op->seq <= snapshot &&
          version_key_index(op->key, op->key_len) == k) {
        *deletion_above = true;
        break;
      }
    }
  }
}

/* One pass of the user view at a random snapshot, forwards or backwards, checked as the comment above says. */
static bool version_read_pass(writers_race *r, thread_arg *self, uint64_t *rng) {
  uint64_t last_seq = (uint64_t)OPS_PER_WRITER * r->writers;
  uint64_t snapshot = mt_rng_below(rng, 2) == 0 ? MT_MAX_SEQUENCE : 1 + mt_rng_below(rng, last_seq);
  bool forward = mt_rng_below(rng, 2) == 0;
  size_t published[MAX_WRITERS];
  for (unsigned w = 0; w < r->writers; w++) {
    /* Acquire: pairs with the writer's release, so these adds happened before the view is created. */
    published[w] = atomic_load_explicit(&r->logs[w].published, memory_order_acquire);
  }
  mt_memtable_user_iter *iter = mt_memtable_user_iter_create(r->table, snapshot);
  if (iter == NULL) {
    race_fail(r, "reader %u: user view creation failed", self->index);
    return false;
  }
  const writer_op *shown[VERSION_KEYS] = {NULL};
  size_t previous = VERSION_KEYS;
  bool ok = true;
  if (forward) mt_memtable_user_iter_seek_to_first(iter);
  else mt_memtable_user_iter_seek_to_last(iter);
  for (; ok && mt_memtable_user_iter_valid(iter);
       forward ? mt_memtable_user_iter_next(iter) : mt_memtable_user_iter_prev(iter)) {
    mt_slice key = mt_memtable_user_iter_key(iter);
    uint64_t seq = mt_memtable_user_iter_seq(iter);
    size_t k = version_key_index(key.data, key.len);
    const writer_op *op = op_of_seq(r, seq);
    mt_entry entry = {key, seq, MT_TYPE_VALUE, mt_memtable_user_iter_value(iter)};
    if (k == VERSION_KEYS || op == NULL || seq > snapshot || !entry_is_op(&entry, op)) {
      race_fail(r, "reader %u: view at %" PRIu64 " showed %.*s at seq %" PRIu64 ", not a value added there (seed %" PRIu64 ")",
                self->index, snapshot, (int)key.len, key.data, seq, r->seed);
      ok = false;
    } else if (previous != VERSION_KEYS && (forward ? k <= previous : k >= previous)) {
      race_fail(r, "reader %u: view at %" PRIu64 " %s showed key %zu after key %zu (seed %" PRIu64 ")", self->index,
                snapshot, forward ? "forwards" : "backwards", k, previous, r->seed);
      ok = false;
    }
    shown[k < VERSION_KEYS ? k : 0] = op;
    previous = k;
  }
  if (ok && mt_memtable_user_iter_status(iter) != MT_OK) {
    race_fail(r, "reader %u: view ended with %s", self->index, mt_status_str(mt_memtable_user_iter_status(iter)));
    ok = false;
  }
  mt_memtable_user_iter_destroy(iter);
  for (size_t k = 0; ok && k < VERSION_KEYS; k++) {
    const writer_op *floor;
    bool deletion_above;
    version_floor(r, published, k, snapshot, &floor, &deletion_above);
    if (shown[k] != NULL && floor != NULL && shown[k]->seq < floor->seq) {
      race_fail(r, "reader %u: view at %" PRIu64 " showed %s at seq %" PRIu64 ", older than published seq %" PRIu64
                   " (seed %" PRIu64 ")",
                self->index, snapshot, shown[k]->key, shown[k]->seq, floor->seq, r->seed);
      ok = false;
    } else if (shown[k] == NULL && floor != NULL && floor->type == MT_TYPE_VALUE && !deletion_above) {
      race_fail(r, "reader %u: view at %" PRIu64 " left out %s, published at seq %" PRIu64 " (seed %" PRIu64 ")",
                self->index, snapshot, floor->key, floor->seq, r->seed);
      ok = false;
    }
  }
  return ok;
}

static void *version_reader_main(void *arg) { return run_reader(arg, version_read_pass); }

/* The user view at snapshot, in both directions, against the model's. */
static void check_user_view_against_model(mt_memtable *table, const model *m, uint64_t snapshot, uint64_t seed) {
  mt_memtable_user_iter *iter = mt_memtable_user_iter_create(table, snapshot);
  assert_non_null(iter);
  for (int forward = 1; forward >= 0; forward--) {
    const model_entry *expected = model_user_find(m, snapshot, MODEL_EVER, NULL, 0,
                                                  forward ? USER_AT_OR_AFTER : USER_AT_OR_BEFORE);
    if (forward) mt_memtable_user_iter_seek_to_first(iter);
    else mt_memtable_user_iter_seek_to_last(iter);
    while (expected != NULL) {
      MT_CHECK_SEEDED_STEP(mt_memtable_user_iter_valid(iter), seed, "user view against the model", snapshot);
      mt_slice key = mt_memtable_user_iter_key(iter), value = mt_memtable_user_iter_value(iter);
      MT_CHECK_SEEDED_STEP(model_bytewise(key.data, key.len, expected->key, expected->key_len) == 0, seed,
                           "user view against the model", snapshot);
      MT_CHECK_SEEDED_STEP(mt_memtable_user_iter_seq(iter) == expected->seq, seed, "user view against the model",
                           snapshot);
      MT_CHECK_SEEDED_STEP(model_bytewise(value.data, value.len, expected->value, expected->value_len) == 0, seed,
                           "user view against the model", snapshot);
      expected = model_user_find(m, snapshot, MODEL_EVER, expected->key, expected->key_len,
                                 forward ? USER_AFTER : USER_BEFORE);
      if (forward) mt_memtable_user_iter_next(iter);
      else mt_memtable_user_iter_prev(iter);
    }
    MT_CHECK_SEEDED_STEP(!mt_memtable_user_iter_valid(iter), seed, "user view against the model", snapshot);
    MT_CHECK_SEEDED_STEP(mt_memtable_user_iter_status(iter) == MT_OK, seed, "user view against the model", snapshot);
  }
  mt_memtable_user_iter_destroy(iter);
  /* And a get of every key at that snapshot: its newest version there, a deletion hiding it. */
  for (size_t k = 0; k < VERSION_KEYS; k++) {
    char key[24];
    size_t key_len = (size_t)snprintf(key, sizeof(key), "version-%02zu", k);
    const model_entry *newest = model_get(m, key, key_len, snapshot);
    mt_slice value = {NULL, 0};
    mt_status status = mt_memtable_get(table, key, key_len, snapshot, &value);
    mt_status expected = newest == NULL ? MT_NOT_FOUND : newest->type == MT_TYPE_VALUE ? MT_OK : MT_DELETED;
    MT_CHECK_SEEDED_STEP(status == expected, seed, "get against the model", snapshot);
    if (expected == MT_OK)
      MT_CHECK_SEEDED_STEP(model_bytewise(value.data, value.len, newest->value, newest->value_len) == 0, seed,
                           "get against the model", snapshot);
  }
}

static void run_version_links_writers_and_readers(unsigned writers, unsigned readers, uint64_t seed) {
  writers_race *r = calloc(1, sizeof(*r));
  assert_non_null(r);
  r->writers = writers;
  r->readers = readers;
  r->seed = seed;
  r->logs = calloc(writers, sizeof(*r->logs));
  assert_non_null(r->logs);
  atomic_flag_clear(&r->failure_taken);
  for (unsigned w = 0; w < writers; w++) generate_version_ops(r, w);
  mt_memtable_options options = concurrent_options();
  options.version_links = true;
  r->table = new_table(&options);
  thread_arg writer_args[MAX_WRITERS], reader_args[MAX_READERS];
  for (unsigned i = 0; i < readers; i++) reader_args[i] = (thread_arg){r, i};
  for (unsigned w = 0; w < writers; w++) writer_args[w] = (thread_arg){r, w};
  thread_team reader_team;
  thread_team_start(&reader_team, version_reader_main, reader_args, sizeof(reader_args[0]), readers);
  thread_team_run(writer_main, writer_args, sizeof(writer_args[0]), writers);
  atomic_store_explicit(&r->quit, true, memory_order_release);
  thread_team_join(&reader_team);
  if (atomic_load_explicit(&r->failed, memory_order_acquire)) fail_msg("%s", r->failure);

  model m;
  model_init(&m, NULL);
  for (unsigned w = 0; w < writers; w++) {
    for (size_t i = 0; i < r->logs[w].count; i++) {
      const writer_op *op = &r->logs[w].ops[i];
      MT_CHECK_SEEDED(model_add(&m, op->seq, op->type, op->key, op->key_len, op->value, op->value_len, 0), seed,
                      "building the model");
    }
  }
  /* The internal iterator: every entry, in internal-key order. */
  mt_memtable_iter *iter = mt_memtable_iter_create(r->table);
  assert_non_null(iter);
  mt_memtable_iter_seek_to_first(iter);
  for (const model_entry *e = model_first(&m, MODEL_EVER); e != NULL; e = model_next(&m, e, MODEL_EVER)) {
    MT_CHECK_SEEDED_STEP(mt_memtable_iter_valid(iter), seed, "internal iterator against the model", e->seq);
    mt_entry entry = {mt_memtable_iter_user_key(iter), mt_memtable_iter_seq(iter), mt_memtable_iter_type(iter),
                      mt_memtable_iter_value(iter)};
    MT_CHECK_SEEDED_STEP(entry.seq == e->seq && entry.type == e->type &&
                             slice_is(entry.user_key, e->key, e->key_len) && slice_is(entry.value, e->value, e->value_len),
                         seed, "internal iterator against the model", e->seq);
    mt_memtable_iter_next(iter);
  }
  MT_CHECK_SEEDED(!mt_memtable_iter_valid(iter), seed, "internal iterator against the model");
  MT_CHECK_SEEDED(mt_memtable_iter_status(iter) == MT_OK, seed, "internal iterator against the model");
  mt_memtable_iter_destroy(iter);
  uint64_t last_seq = (uint64_t)OPS_PER_WRITER * writers;
  uint64_t rng = seed;
  check_user_view_against_model(r->table, &m, 0, seed);
  check_user_view_against_model(r->table, &m, last_seq, seed);
  check_user_view_against_model(r->table, &m, MT_MAX_SEQUENCE, seed);
  for (int i = 0; i < 16; i++) check_user_view_against_model(r->table, &m, 1 + mt_rng_below(&rng, last_seq), seed);
  MT_CHECK_SEEDED(mt_memtable_validate(r->table) == MT_OK, seed, "validate");
  MT_CHECK_SEEDED(mt_memtable_entry_count(r->table) == m.count, seed, "entry count");
  print_message("version links, %u writers, %u readers: %ld reader passes (seed %" PRIu64 ")\n", writers, readers,
                atomic_load_explicit(&r->reader_checks, memory_order_relaxed), seed);
  model_free(&m);
  mt_memtable_unref(r->table);
  free(r->logs);
  free(r);
}

static void memtable_concurrent_test_version_links_user_view_matches_model(void **state) {
  (void)state;
  run_version_links_writers_and_readers(3, 2, 0x5e71);
  run_version_links_writers_and_readers(4, 1, 0x5e72);
}

/* The exact same (key, seq) from several threads at once, many rounds. Even threads add a value, odd ones a
 * deletion (a different internal key, the same user key and seq): still one entry per (key, seq). Exactly
 * one add per round returns MT_OK, the others MT_EXISTS, and the stored entry is the winner's. */
enum { DUPLICATE_THREADS = 3, DUPLICATE_ROUNDS = 400 };

static int duplicate_key(char *buf, unsigned round) { return snprintf(buf, 16, "dup-%u", round % 7); }
static int duplicate_value(char *buf, unsigned thread) { return snprintf(buf, 16, "thread-%u", thread); }
static mt_entry_type duplicate_type(unsigned thread) { return thread % 2 == 0 ? MT_TYPE_VALUE : MT_TYPE_DELETION; }

static mt_status add_duplicate(void *table, unsigned thread, unsigned round) {
  char key[16], value[16];
  int key_len = duplicate_key(key, round), value_len = duplicate_value(value, thread);
  return mt_memtable_add(table, (uint64_t)round + 1, duplicate_type(thread), key, (size_t)key_len, value,
                         (size_t)value_len);
}

static void memtable_concurrent_test_same_entry_raced_accepted_exactly_once(void **state) {
  (void)state;
  mt_memtable_options options = concurrent_options();
  mt_memtable *table = new_table(&options);
  same_entry_race race;
  same_entry_race_run(&race, DUPLICATE_THREADS, DUPLICATE_ROUNDS, add_duplicate, table);
  uint64_t deletions = 0;
  for (unsigned round = 0; round < DUPLICATE_ROUNDS; round++) {
    unsigned winner = same_entry_race_winner(&race, round);
    char key[16], value[16];
    int key_len = duplicate_key(key, round), value_len = duplicate_value(value, winner);
    mt_entry found;
    mt_status status = mt_memtable_get_entry(table, key, (size_t)key_len, (uint64_t)round + 1, &found);
    assert_int_equal(status, duplicate_type(winner) == MT_TYPE_VALUE ? MT_OK : MT_DELETED);
    assert_int_equal(found.seq, (uint64_t)round + 1);
    assert_true(slice_is(found.value, value, (size_t)value_len));
    if (duplicate_type(winner) == MT_TYPE_DELETION) deletions++;
  }
  assert_int_equal(mt_memtable_entry_count(table), DUPLICATE_ROUNDS);
  assert_int_equal(mt_memtable_deletion_count(table), deletions);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  assert_non_null(iter);
  size_t entries = 0;
  for (mt_memtable_iter_seek_to_first(iter); mt_memtable_iter_valid(iter); mt_memtable_iter_next(iter)) entries++;
  assert_int_equal(entries, DUPLICATE_ROUNDS);
  mt_memtable_iter_destroy(iter);
  same_entry_race_free(&race);
  mt_memtable_unref(table);
}

/* A writer holds the same (key, seq) linked but not yet published in the point index when a second writer
 * adds it: the second add answers MT_EXISTS, and a get made after it returned must find the entry all the
 * same (the refused writer publishes the linked node itself). The seam holds the first writer in that
 * window until the main thread has made both calls, so the order is forced, not hoped for. */
typedef struct linked_hold {
  uint64_t seq; /* the seam holds only this seq's writer */
  pthread_mutex_t mutex;
  pthread_cond_t changed;
  bool linked;   /* the writer reached the seam */
  bool released; /* the main thread let it go on */
} linked_hold;

static void hold_linked_entry(void *ctx, uint64_t seq) {
  linked_hold *hold = ctx;
  if (seq != hold->seq) return;
  pthread_mutex_lock(&hold->mutex);
  hold->linked = true;
  pthread_cond_broadcast(&hold->changed);
  while (!hold->released) pthread_cond_wait(&hold->changed, &hold->mutex);
  pthread_mutex_unlock(&hold->mutex);
}

typedef struct held_writer {
  mt_memtable *table;
  const char *key;
  uint64_t seq;
  mt_status status;
} held_writer;

static void *held_writer_main(void *arg) {
  held_writer *writer = arg;
  writer->status = mt_memtable_add(writer->table, writer->seq, MT_TYPE_VALUE, writer->key, strlen(writer->key),
                                   "first", 5);
  return NULL;
}

/* older_seq 0: the key is new; else the key already has a value at older_seq, which a get must not answer. */
static void run_exists_before_index_publish(const char *key, uint64_t older_seq) {
  enum { SEQ = 50 };
  mt_memtable_options options = concurrent_options();
  options.point_index = true;
  mt_memtable *table = new_table(&options);
  put(table, 1, "before", "other");
  if (older_seq != 0) put(table, older_seq, key, "older");
  put(table, SEQ + 1, "other-seq", "other"); /* an add of another seq passes the seam without waiting */

  linked_hold hold = {.seq = SEQ};
  assert_int_equal(pthread_mutex_init(&hold.mutex, NULL), 0);
  assert_int_equal(pthread_cond_init(&hold.changed, NULL), 0);
  mti_memtable_set_linked_seam_for_testing(hold_linked_entry, &hold);
  held_writer writer = {table, key, SEQ, MT_INVALID_ARGUMENT};
  thread_team team;
  thread_team_start(&team, held_writer_main, &writer, 0, 1);
  pthread_mutex_lock(&hold.mutex);
  while (!hold.linked) pthread_cond_wait(&hold.changed, &hold.mutex);
  pthread_mutex_unlock(&hold.mutex);

  /* The first writer is between its link and its publish. */
  assert_int_equal(mt_memtable_add(table, SEQ, MT_TYPE_VALUE, key, strlen(key), "second", 6), MT_EXISTS);
  assert_get(table, key, SEQ, MT_OK, "first");
  assert_get(table, key, MT_MAX_SEQUENCE, MT_OK, "first");
  if (older_seq != 0) assert_get(table, key, older_seq, MT_OK, "older");

  pthread_mutex_lock(&hold.mutex);
  hold.released = true;
  pthread_cond_broadcast(&hold.changed);
  pthread_mutex_unlock(&hold.mutex);
  thread_team_join(&team);
  mti_memtable_set_linked_seam_for_testing(NULL, NULL);
  assert_int_equal(writer.status, MT_OK);
  assert_get(table, key, SEQ, MT_OK, "first");
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  assert_int_equal(mt_memtable_entry_count(table), older_seq != 0 ? 4 : 3);
  pthread_cond_destroy(&hold.changed);
  pthread_mutex_destroy(&hold.mutex);
  mt_memtable_unref(table);
}

static void memtable_concurrent_test_exists_before_index_publish_is_visible(void **state) {
  (void)state;
  run_exists_before_index_publish("fresh-key", 0);
  run_exists_before_index_publish("overwritten-key", 7);
}

/* A thread-safe failing allocator for the arena of a concurrent table (support/allocator.h's is for one
 * thread): an atomic call counter fails call fail_at (1-based, 0 never), or every call from it on; each block
 * carries its size, so a free with another size is counted; live blocks are counted atomically. */
typedef struct shared_allocator {
  _Atomic size_t calls;
  _Atomic size_t failures;
  _Atomic size_t live_blocks;
  _Atomic size_t bad_frees;
  _Atomic size_t fail_at;
  bool fail_after;
} shared_allocator;

enum { SHARED_PREFIX = 32 };

static void *shared_alloc(void *ctx, size_t size) {
  shared_allocator *allocator = ctx;
  /* Relaxed: the counter only has to hand each call a distinct number; fail_at is set before the threads start. */
  size_t call = atomic_fetch_add_explicit(&allocator->calls, 1, memory_order_relaxed) + 1;
  size_t fail_at = atomic_load_explicit(&allocator->fail_at, memory_order_relaxed);
  if (fail_at != 0 && (call == fail_at || (allocator->fail_after && call > fail_at))) {
    atomic_fetch_add_explicit(&allocator->failures, 1, memory_order_relaxed);
    return NULL;
  }
  char *memory = malloc(SHARED_PREFIX + size);
  if (memory == NULL) return NULL;
  memcpy(memory, &size, sizeof(size));
  atomic_fetch_add_explicit(&allocator->live_blocks, 1, memory_order_relaxed);
  return memory + SHARED_PREFIX;
}

static void shared_free(void *ctx, void *ptr, size_t size) {
  shared_allocator *allocator = ctx;
  char *memory = (char *)ptr - SHARED_PREFIX;
  size_t allocated;
  memcpy(&allocated, memory, sizeof(allocated));
  if (allocated != size) {
    atomic_fetch_add_explicit(&allocator->bad_frees, 1, memory_order_relaxed);
    return; /* leaked on purpose: the size is wrong, so is the pointer perhaps */
  }
  atomic_fetch_sub_explicit(&allocator->live_blocks, 1, memory_order_relaxed);
  free(memory);
}

/* Writers add their disjoint keys; a refusal (MT_NOMEM or, with a capacity, MT_FULL) is retried up to
 * `retries` times and then ends the writer. Every op's status is recorded. */
typedef struct failing_race {
  mt_memtable *table;
  unsigned writers;
  int retries;
  mt_status refusal; /* the only non-OK status allowed */
  writer_log *logs;
  _Atomic int unexpected; /* an add status other than MT_OK and the refusal, 0 (MT_OK) if none */
} failing_race;

typedef struct failing_arg {
  failing_race *race;
  unsigned index;
} failing_arg;

static void *failing_writer_main(void *arg) {
  failing_arg *self = arg;
  failing_race *r = self->race;
  writer_log *log = &r->logs[self->index];
  for (size_t i = 0; i < log->count; i++) {
    writer_op *op = &log->ops[i];
    int attempts = 0;
    do {
      op->status = mt_memtable_add(r->table, op->seq, op->type, op->key, op->key_len, op->value, op->value_len);
    } while (op->status == r->refusal && attempts++ < r->retries);
    if (op->status != MT_OK) {
      if (op->status != r->refusal) atomic_store_explicit(&r->unexpected, (int)op->status, memory_order_relaxed);
      return NULL;
    }
  }
  return NULL;
}

static void failing_ops(writer_log *log, unsigned w, unsigned writers, size_t count) {
  assert_true(count <= OPS_PER_WRITER);
  log->count = count;
  for (size_t i = 0; i < count; i++) {
    writer_op *op = &log->ops[i];
    op->key_len = (size_t)snprintf(op->key, sizeof(op->key), "w%u-%06zu", w, i);
    op->seq = (uint64_t)i * writers + w + 1;
    op->type = i % 5 == 4 ? MT_TYPE_DELETION : MT_TYPE_VALUE;
    op->value_len = (size_t)snprintf(op->value, sizeof(op->value), "value-%u-%zu-padding-padding", w, i);
    op->status = MT_INVALID_ARGUMENT; /* not attempted */
  }
}

/* After the race: every op that returned MT_OK is found, every other op is not, the counts are exact and the
 * table validates. Returns how many ops were accepted. */
static size_t check_accepted_ops(failing_race *r, const char *what, size_t fail_at) {
  size_t accepted = 0;
  uint64_t deletions = 0;
  for (unsigned w = 0; w < r->writers; w++) {
    for (size_t i = 0; i < r->logs[w].count; i++) {
      const writer_op *op = &r->logs[w].ops[i];
      mt_entry found;
      mt_status status = mt_memtable_get_entry(r->table, op->key, op->key_len, MT_MAX_SEQUENCE, &found);
      if (op->status == MT_OK) {
        accepted++;
        if (op->type == MT_TYPE_DELETION) deletions++;
        if (status != (op->type == MT_TYPE_VALUE ? MT_OK : MT_DELETED) || !entry_is_op(&found, op))
          fail_msg("%s (fail_at %zu): accepted %s missing: %s", what, fail_at, op->key, mt_status_str(status));
      } else if (status != MT_NOT_FOUND) {
        fail_msg("%s (fail_at %zu): refused %s (%s) is present", what, fail_at, op->key, mt_status_str(op->status));
      }
    }
  }
  assert_int_equal(mt_memtable_validate(r->table), MT_OK);
  assert_int_equal(mt_memtable_entry_count(r->table), accepted);
  assert_int_equal(mt_memtable_deletion_count(r->table), deletions);
  return accepted;
}

enum { FAILING_OPS = OPS_PER_WRITER < 400 ? OPS_PER_WRITER : 400 }; /* fits a writer_log */

/* Gives each of the race's writers its FAILING_OPS and runs them all at once. */
static void run_failing_writers(failing_race *r) {
  assert_non_null(r->logs);
  for (unsigned w = 0; w < r->writers; w++) failing_ops(&r->logs[w], w, r->writers, FAILING_OPS);
  failing_arg args[MAX_WRITERS];
  for (unsigned w = 0; w < r->writers; w++) args[w] = (failing_arg){r, w};
  thread_team_run(failing_writer_main, args, sizeof(args[0]), r->writers);
}

static void run_failing_allocator(size_t fail_offset, bool fail_after, int retries, unsigned writers) {
  shared_allocator allocator = {0};
  mt_memtable_options options = concurrent_options();
  options.arena.block_size = 1024;
  options.arena.allocator = (mt_allocator){shared_alloc, shared_free, &allocator};
  mt_memtable *table = new_table(&options);
  /* Relaxed: the threads that read it are created after (thread_team_run orders it). */
  size_t fail_at = atomic_load_explicit(&allocator.calls, memory_order_relaxed) + fail_offset;
  atomic_store_explicit(&allocator.fail_at, fail_at, memory_order_relaxed);
  allocator.fail_after = fail_after;
  failing_race r = {table, writers, retries, MT_NOMEM, calloc(writers, sizeof(writer_log)), MT_OK};
  run_failing_writers(&r);
  int unexpected = atomic_load_explicit(&r.unexpected, memory_order_relaxed);
  if (unexpected != MT_OK)
    fail_msg("fail_at %zu: an add returned %s, neither MT_OK nor MT_NOMEM", fail_at, mt_status_str((mt_status)unexpected));
  size_t accepted = check_accepted_ops(&r, fail_after ? "allocator fails from" : "allocator fails once", fail_at);
  if (!fail_after && retries > 0) assert_int_equal(accepted, (size_t)FAILING_OPS * writers);
  if (fail_after) assert_true(accepted < (size_t)FAILING_OPS * writers); /* the failure was reached */
  assert_true(atomic_load_explicit(&allocator.failures, memory_order_relaxed) >= 1);
  mt_memtable_unref(table);
  assert_int_equal(atomic_load_explicit(&allocator.live_blocks, memory_order_relaxed), 0);
  assert_int_equal(atomic_load_explicit(&allocator.bad_frees, memory_order_relaxed), 0);
  free(r.logs);
}

static void memtable_concurrent_test_allocator_fails_once_mid_race_writers_retry(void **state) {
  (void)state;
  for (size_t offset = 1; offset <= 12; offset++) run_failing_allocator(offset, false, 1, 3);
}

static void memtable_concurrent_test_allocator_fails_for_good_mid_race_writers_stop(void **state) {
  (void)state;
  for (size_t offset = 1; offset <= 12; offset++) run_failing_allocator(offset, true, 0, 3);
}

/* Capacity reached mid-race: each writer stops at its first MT_FULL; what was accepted is all there, and the
 * table never holds more than its capacity. */
static void memtable_concurrent_test_capacity_reached_mid_race(void **state) {
  (void)state;
  for (unsigned writers = 2; writers <= MAX_WRITERS; writers++) {
    mt_memtable_options options = concurrent_options();
    options.arena.capacity = 24 * 1024;
    mt_memtable *table = new_table(&options);
    failing_race r = {table, writers, 0, MT_FULL, calloc(writers, sizeof(writer_log)), MT_OK};
    run_failing_writers(&r);
    int unexpected = atomic_load_explicit(&r.unexpected, memory_order_relaxed);
    if (unexpected != MT_OK)
      fail_msg("%u writers: an add returned %s, neither MT_OK nor MT_FULL", writers, mt_status_str((mt_status)unexpected));
    size_t accepted = check_accepted_ops(&r, "capacity", 0);
    assert_true(accepted > 0);
    assert_true(accepted < (size_t)FAILING_OPS * writers);
    assert_true(mt_memtable_approximate_memory_usage(table) <= options.arena.capacity + 4096);
    mt_memtable_unref(table);
    free(r.logs);
  }
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(memtable_concurrent_test_two_writers_one_reader_union_of_logs),
      cmocka_unit_test(memtable_concurrent_test_three_writers_two_readers_union_of_logs),
      cmocka_unit_test(memtable_concurrent_test_four_writers_two_readers_union_of_logs),
      cmocka_unit_test(memtable_concurrent_test_version_links_user_view_matches_model),
      cmocka_unit_test(memtable_concurrent_test_same_entry_raced_accepted_exactly_once),
      cmocka_unit_test(memtable_concurrent_test_exists_before_index_publish_is_visible),
      cmocka_unit_test(memtable_concurrent_test_allocator_fails_once_mid_race_writers_retry),
      cmocka_unit_test(memtable_concurrent_test_allocator_fails_for_good_mid_race_writers_stop),
      cmocka_unit_test(memtable_concurrent_test_capacity_reached_mid_race),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
