/* memtable_skip_concurrency_test: the user view's skip searches under a concurrent writer. One writer adds
 * new versions and tombstones of a few keys (operation i has sequence number i + 1 and publishes it after
 * the add returns) while readers walk the view forward and back with max_sequential_skip 1 or 2, so nearly
 * every move searches. Operations are a function of i, so a reader replays them to know the view at any
 * published sequence number. Each pass at a published snapshot S must equal the view at S exactly (strictly
 * ordered, each key once, the right values); each pass at the latest snapshot must be strictly ordered and
 * return every key visible before it began that no operation touched during it, with its value. The same with
 * version links (options.version_links): a forward pass then jumps over a key's hidden versions, while the
 * writer links new ones in front of them. */
#include "support/test_util.h"

#include <inttypes.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <memtable/memtable.h>

#include "support/rng.h"
#include "support/thread_team.h"

#define SKIP_KEYS 24
#define SKIP_PRELOAD 2000
#define SKIP_OPERATIONS 20000
#define SKIP_READERS 2
#define SKIP_MIN_PASSES 6
#define SKIP_CHUNK 1000 /* the writer waits for passes before each chunk */

/* The first operations give each odd key one value; every later one writes an even key. A search that lands
 * one entry too far from an even key's versions skips the odd key beside them. */
static unsigned operation_key(uint64_t i) {
  if (i < SKIP_KEYS / 2) return (unsigned)(2 * i + 1);
  return (unsigned)(2 * (mt_mix64(i) % (SKIP_KEYS / 2)));
}

static mt_entry_type operation_type(uint64_t i) {
  return i >= SKIP_KEYS / 2 && (mt_mix64(i) >> 20) % 4 == 0 ? MT_TYPE_DELETION : MT_TYPE_VALUE;
}

static size_t format_key(unsigned k, char *out) { return (size_t)snprintf(out, 16, "key%02u", k); }

static size_t format_value(unsigned k, uint64_t seq, char *out) {
  return (size_t)snprintf(out, 32, "k%02u@%" PRIu64, k, seq);
}

static void apply_operation(mt_memtable *table, uint64_t i) {
  char key[16], value[32];
  unsigned k = operation_key(i);
  size_t key_len = format_key(k, key);
  mt_entry_type type = operation_type(i);
  size_t value_len = type == MT_TYPE_VALUE ? format_value(k, i + 1, value) : 0;
  assert_int_equal(mt_memtable_add(table, i + 1, type, key, key_len, value, value_len), MT_OK);
}

typedef struct skip_stress {
  mt_memtable *table;
  _Atomic uint64_t published; /* operations [0, published) are in the table: sequence numbers 1..published */
  atomic_bool writer_done;
  atomic_size_t passes;
} skip_stress;

static void *writer_main(void *arg) {
  skip_stress *s = arg;
  size_t passes_seen = 0;
  for (uint64_t i = SKIP_PRELOAD; i < SKIP_OPERATIONS; i++) {
    if (i % SKIP_CHUNK == 0) {
      /* Passes run during every chunk of the writer's work, however the threads are scheduled. relaxed: a
       * progress count only. */
      while (atomic_load_explicit(&s->passes, memory_order_relaxed) < passes_seen + SKIP_READERS) sched_yield();
      passes_seen = atomic_load_explicit(&s->passes, memory_order_relaxed);
    }
    apply_operation(s->table, i);
    /* release: a reader that acquires i + 1 finds every entry up to it linked (the table publishes each
     * entry itself; this orders the counter after the add). */
    atomic_store_explicit(&s->published, i + 1, memory_order_release);
  }
  atomic_store_explicit(&s->writer_done, true, memory_order_release);
  return NULL;
}

/* The view a reader replays: for each key, its newest operation's sequence number (0: none) and type. */
typedef struct replay {
  uint64_t upto; /* operations [0, upto) applied */
  uint64_t seq[SKIP_KEYS];
  mt_entry_type type[SKIP_KEYS];
} replay;

static void replay_to(replay *r, uint64_t upto) {
  for (; r->upto < upto; r->upto++) {
    unsigned k = operation_key(r->upto);
    r->seq[k] = r->upto + 1;
    r->type[k] = operation_type(r->upto);
  }
}

static bool replay_visible(const replay *r, unsigned k) { return r->seq[k] != 0 && r->type[k] == MT_TYPE_VALUE; }

/* The key index of a returned key ("keyNN"), checked to be one of ours. */
static unsigned returned_key(mt_slice key) {
  assert_int_equal(key.len, 5);
  assert_memory_equal(key.data, "key", 3);
  unsigned k = (unsigned)(key.data[3] - '0') * 10 + (unsigned)(key.data[4] - '0');
  assert_true(k < SKIP_KEYS);
  return k;
}

static void assert_value(mt_slice value, unsigned k, uint64_t seq) {
  char expected[32];
  size_t len = format_value(k, seq, expected);
  if (value.len != len || memcmp(value.data, expected, len) != 0) {
    fail_msg("key%02u: value %.*s, expected %s", k, (int)value.len, value.data, expected);
  }
}

/* One pass; fills returned[k] with the sequence number returned for key k (0: not returned). */
static void walk(mt_memtable *table, uint64_t snapshot, bool backward, uint64_t returned[SKIP_KEYS]) {
  memset(returned, 0, SKIP_KEYS * sizeof(returned[0]));
  mt_memtable_user_iter *iter = mt_memtable_user_iter_create(table, snapshot);
  assert_non_null(iter);
  if (backward) {
    mt_memtable_user_iter_seek_to_last(iter);
  } else {
    mt_memtable_user_iter_seek_to_first(iter);
  }
  int previous = -1;
  for (; mt_memtable_user_iter_valid(iter);) {
    unsigned k = returned_key(mt_memtable_user_iter_key(iter));
    if (previous >= 0 && (backward ? (int)k >= previous : (int)k <= previous)) {
      fail_msg("%s pass at %" PRIu64 ": key%02u after key%02d", backward ? "backward" : "forward", snapshot, k,
               previous);
    }
    previous = (int)k;
    uint64_t seq = mt_memtable_user_iter_seq(iter);
    assert_true(seq <= snapshot);
    assert_value(mt_memtable_user_iter_value(iter), k, seq);
    returned[k] = seq;
    if (backward) {
      mt_memtable_user_iter_prev(iter);
    } else {
      mt_memtable_user_iter_next(iter);
    }
  }
  assert_int_equal(mt_memtable_user_iter_status(iter), MT_OK);
  mt_memtable_user_iter_destroy(iter);
}

static void *reader_main(void *arg) {
  skip_stress *s = arg;
  replay before = {0}, after = {0};
  uint64_t returned[SKIP_KEYS];
  for (unsigned pass = 0;
       !atomic_load_explicit(&s->writer_done, memory_order_acquire) || pass < SKIP_MIN_PASSES; pass++) {
    bool backward = pass % 2 == 1;
    /* acquire: pairs with the writer's release; every operation below it is in the table. */
    uint64_t start = atomic_load_explicit(&s->published, memory_order_acquire);
    replay_to(&before, start);
    if (pass % 4 < 2) {
      /* At snapshot start: exactly the replayed view, however much the writer adds meanwhile. */
      walk(s->table, start, backward, returned);
      for (unsigned k = 0; k < SKIP_KEYS; k++) {
        uint64_t expected = replay_visible(&before, k) ? before.seq[k] : 0;
        if (returned[k] != expected) {
          fail_msg("pass at %" PRIu64 ": key%02u returned at %" PRIu64 ", expected %" PRIu64, start, k, returned[k],
                   expected);
        }
      }
    } else {
      /* At the latest snapshot: a key visible at start and untouched until the pass ended is returned as it
       * was; any other key may or may not be, at a version no older than at start. */
      walk(s->table, MT_MAX_SEQUENCE, backward, returned);
      /* The writer links operation P before it publishes P + 1, so the pass may have met it: count it as
       * touched too. */
      uint64_t end = atomic_load_explicit(&s->published, memory_order_acquire) + 1;
      replay_to(&after, end < SKIP_OPERATIONS ? end : SKIP_OPERATIONS);
      for (unsigned k = 0; k < SKIP_KEYS; k++) {
        bool untouched = after.seq[k] == before.seq[k];
        if (untouched && replay_visible(&before, k) && returned[k] != before.seq[k]) {
          fail_msg("latest pass from %" PRIu64 ": key%02u returned at %" PRIu64 ", expected %" PRIu64, start, k,
                   returned[k], before.seq[k]);
        }
        if (returned[k] != 0) assert_true(returned[k] >= before.seq[k]);
      }
    }
    atomic_fetch_add_explicit(&s->passes, 1, memory_order_relaxed);
  }
  return NULL;
}

static void run_stress(unsigned max_sequential_skip, unsigned checksum_bytes, bool version_links) {
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.version_links = version_links;
  options.max_sequential_skip = max_sequential_skip;
  options.checksum_bytes = checksum_bytes;
  skip_stress s;
  s.table = mt_memtable_create(&options);
  assert_non_null(s.table);
  for (uint64_t i = 0; i < SKIP_PRELOAD; i++) apply_operation(s.table, i);
  atomic_init(&s.published, SKIP_PRELOAD);
  atomic_init(&s.writer_done, false);
  atomic_init(&s.passes, 0);
  thread_team readers;
  thread_team_start(&readers, reader_main, &s, 0, SKIP_READERS);
  thread_team_run(writer_main, &s, 0, 1);
  thread_team_join(&readers);
  assert_true(atomic_load(&s.passes) >= SKIP_READERS * SKIP_MIN_PASSES);
  assert_int_equal(mt_memtable_validate(s.table), MT_OK);
  mt_memtable_unref(s.table);
}

static void memtable_skip_concurrency_test_walks_under_a_writer_threshold_1(void **state) {
  (void)state;
  run_stress(1, 0, false);
}

static void memtable_skip_concurrency_test_walks_under_a_writer_threshold_2_checksums(void **state) {
  (void)state;
  run_stress(2, 8, false);
}

/* Links alone (no skip searches): every forward pass over a key's versions is a jump and steps. */
static void memtable_skip_concurrency_test_walks_under_a_writer_version_links(void **state) {
  (void)state;
  run_stress(MT_MEMTABLE_SKIP_NEVER, 0, true);
}

/* Links with skip searches after one step, and checksums (the same-key check reads within recorded sizes). */
static void memtable_skip_concurrency_test_walks_under_a_writer_version_links_threshold_1_checksums(void **state) {
  (void)state;
  run_stress(1, 8, true);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(memtable_skip_concurrency_test_walks_under_a_writer_threshold_1),
      cmocka_unit_test(memtable_skip_concurrency_test_walks_under_a_writer_threshold_2_checksums),
      cmocka_unit_test(memtable_skip_concurrency_test_walks_under_a_writer_version_links),
      cmocka_unit_test(memtable_skip_concurrency_test_walks_under_a_writer_version_links_threshold_1_checksums),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
