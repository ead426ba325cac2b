/* memtable_concurrency_test: one writer and two readers that check, deterministically, everything the
 * writer has published. */
#include "support/test_util.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/memtable.h>

#include "support/memtable_checks.h"
#include "support/model.h"
#include "support/rng.h"
#include "support/thread_team.h"

/* One writer, two readers. The writer adds put(key i) and, after every 8th key, a deletion of an earlier
 * key, with consecutive sequence numbers, then publishes how many keys it has put (release). A reader that
 * read count p (acquire) knows every add up to put(key p-1) happened before its reads. */
#define CONCURRENT_KEYS 12000

typedef struct concurrent_state {
  mt_memtable *table;
  _Atomic uint64_t published;
  _Atomic bool done;
  _Atomic size_t reader_checks;
} concurrent_state;

static uint64_t put_seq(uint64_t i) { return i + 1 + i / 8; }
/* Key i - 7 is deleted right after key i is put, when i % 8 == 7. */
static bool deleted_at(uint64_t key, uint64_t snapshot) { return key % 8 == 0 && put_seq(key + 7) + 1 <= snapshot; }

static int concurrent_key(char *buf, uint64_t i) { return snprintf(buf, 24, "ckey-%08" PRIu64, i); }
static int concurrent_value(char *buf, uint64_t i) { return snprintf(buf, 32, "value-of-%" PRIu64, i * 31); }

static void *concurrent_writer(void *arg) {
  concurrent_state *state = arg;
  char key[24];
  char value[32];
  for (uint64_t i = 0; i < CONCURRENT_KEYS; i++) {
    int key_len = concurrent_key(key, i);
    int value_len = concurrent_value(value, i);
    mt_status status =
        mt_memtable_add(state->table, put_seq(i), MT_TYPE_VALUE, key, (size_t)key_len, value, (size_t)value_len);
    if (status != MT_OK) abort(); /* cmocka's asserts belong to the main thread */
    if (i % 8 == 7) {
      key_len = concurrent_key(key, i - 7);
      if (mt_memtable_add(state->table, put_seq(i) + 1, MT_TYPE_DELETION, key, (size_t)key_len, NULL, 0) != MT_OK)
        abort();
    }
    /* Release: every add above happens-before a reader's acquire that reads this count. */
    atomic_store_explicit(&state->published, i + 1, memory_order_release);
  }
  /* Release: the final count and all adds are visible to readers that see done. */
  atomic_store_explicit(&state->done, true, memory_order_release);
  return NULL;
}

#define READER_CHECK(condition)                                                           \
  do {                                                                                    \
    if (!(condition)) {                                                                   \
      fprintf(stderr, "concurrent reader: %s failed at line %d\n", #condition, __LINE__); \
      abort();                                                                            \
    }                                                                                     \
  } while (0)

/* The user view at the snapshot of key p-1's put: exactly keys 0..p-1 minus those deleted by then. */
static void reader_check_user_view(concurrent_state *state, uint64_t p, bool backward) {
  uint64_t snapshot = put_seq(p - 1);
  mt_memtable_user_iter *user = mt_memtable_user_iter_create(state->table, snapshot);
  READER_CHECK(user != NULL);
  char key[24];
  char value[32];
  uint64_t expected = backward ? p : 0;
  if (backward) {
    mt_memtable_user_iter_seek_to_last(user);
  } else {
    mt_memtable_user_iter_seek_to_first(user);
  }
  for (;;) {
    /* The next key expected in the view. */
    if (backward) {
      do {
        expected = expected == 0 ? UINT64_MAX : expected - 1;
      } while (expected != UINT64_MAX && deleted_at(expected, snapshot));
    } else {
      while (expected < p && deleted_at(expected, snapshot)) expected++;
    }
    bool more = backward ? expected != UINT64_MAX : expected < p;
    READER_CHECK(mt_memtable_user_iter_valid(user) == more);
    if (!more) break;
    int key_len = concurrent_key(key, expected);
    int value_len = concurrent_value(value, expected);
    mt_slice got = mt_memtable_user_iter_key(user);
    READER_CHECK(got.len == (size_t)key_len && memcmp(got.data, key, got.len) == 0);
    got = mt_memtable_user_iter_value(user);
    READER_CHECK(got.len == (size_t)value_len && memcmp(got.data, value, got.len) == 0);
    if (backward) {
      mt_memtable_user_iter_prev(user);
    } else {
      mt_memtable_user_iter_next(user);
      expected++;
    }
  }
  READER_CHECK(mt_memtable_user_iter_status(user) == MT_OK);
  mt_memtable_user_iter_destroy(user);
}

/* The whole table in internal order: strictly ascending, every entry decodes and carries what the writer
 * wrote, and at least the published puts are there. */
static void reader_check_scan(concurrent_state *state, uint64_t p) {
  mt_memtable_iter *iter = mt_memtable_iter_create(state->table);
  READER_CHECK(iter != NULL);
  char value[32];
  uint64_t puts = 0;
  char previous_key[32];
  size_t previous_len = 0;
  uint64_t previous_seq = 0;
  bool first = true;
  for (mt_memtable_iter_seek_to_first(iter); mt_memtable_iter_valid(iter); mt_memtable_iter_next(iter)) {
    mt_slice key = mt_memtable_iter_user_key(iter);
    uint64_t seq = mt_memtable_iter_seq(iter);
    READER_CHECK(key.len < sizeof(previous_key));
    if (!first) {
      int order = model_bytewise(previous_key, previous_len, key.data, key.len);
      READER_CHECK(order < 0 || (order == 0 && previous_seq > seq));
    }
    uint64_t index = strtoull(key.data + 5, NULL, 10);
    if (mt_memtable_iter_type(iter) == MT_TYPE_VALUE) {
      READER_CHECK(seq == put_seq(index));
      int value_len = concurrent_value(value, index);
      mt_slice got = mt_memtable_iter_value(iter);
      READER_CHECK(got.len == (size_t)value_len && memcmp(got.data, value, got.len) == 0);
      puts++;
    } else {
      READER_CHECK(index % 8 == 0 && seq == put_seq(index + 7) + 1);
    }
    mt_slice raw = mt_memtable_iter_entry(iter);
    mt_entry entry;
    READER_CHECK(mt_entry_decode(raw.data, raw.len, &entry, NULL) == MT_OK && entry.seq == seq);
    memcpy(previous_key, key.data, key.len);
    previous_len = key.len;
    previous_seq = seq;
    first = false;
  }
  READER_CHECK(mt_memtable_iter_status(iter) == MT_OK);
  READER_CHECK(puts >= p);
  mt_memtable_iter_destroy(iter);
}

static void *concurrent_reader(void *arg) {
  concurrent_state *state = arg;
  uint64_t rng = (uint64_t)(uintptr_t)&rng;
  char key[24];
  char value[32];
  size_t checks = 0;
  for (size_t round = 0;; round++) {
    /* Acquire: pairs with the writer's release of done; afterwards everything is published. */
    bool finished = atomic_load_explicit(&state->done, memory_order_acquire);
    /* Acquire: pairs with the writer's release; every add up to put(key p-1) is visible. */
    uint64_t p = atomic_load_explicit(&state->published, memory_order_acquire);
    if (p > 0) {
      uint64_t i = mt_rng_next(&rng) % p;
      int key_len = concurrent_key(key, i);
      int value_len = concurrent_value(value, i);
      mt_slice got;
      READER_CHECK(mt_memtable_get(state->table, key, (size_t)key_len, put_seq(i), &got) == MT_OK);
      READER_CHECK(got.len == (size_t)value_len && memcmp(got.data, value, got.len) == 0);
      READER_CHECK(mt_memtable_get(state->table, key, (size_t)key_len, put_seq(i) - 1, &got) == MT_NOT_FOUND);
      mt_status latest = mt_memtable_get(state->table, key, (size_t)key_len, UINT64_MAX, &got);
      if (i % 8 == 0) {
        READER_CHECK(latest == MT_OK || latest == MT_DELETED);
      } else {
        READER_CHECK(latest == MT_OK);
      }
      if (deleted_at(i, put_seq(p - 1))) READER_CHECK(latest == MT_DELETED);
      key_len = concurrent_key(key, i + CONCURRENT_KEYS); /* never added */
      READER_CHECK(mt_memtable_get(state->table, key, (size_t)key_len, UINT64_MAX, &got) == MT_NOT_FOUND);
      checks++;
      if (round % 256 == 0) {
        reader_check_user_view(state, p, round % 512 == 0);
        reader_check_scan(state, p);
        checks++;
      }
    }
    if (finished) break;
  }
  uint64_t p = atomic_load_explicit(&state->published, memory_order_acquire); /* Acquire: as above. */
  reader_check_user_view(state, p, false);
  reader_check_user_view(state, p, true);
  reader_check_scan(state, p);
  /* Relaxed: a statistic for the main thread, read after join. */
  atomic_fetch_add_explicit(&state->reader_checks, checks, memory_order_relaxed);
  return NULL;
}

static void memtable_test_concurrent_readers(void **state) {
  (void)state;
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.arena.block_size = 4096;
  options.checksum_bytes = 4;
  options.bloom_bits_per_key = 10;
  options.bloom_expected_entries = CONCURRENT_KEYS;
  concurrent_state shared;
  shared.table = new_table(&options);
  atomic_init(&shared.published, 0);
  atomic_init(&shared.done, false);
  atomic_init(&shared.reader_checks, 0);
  thread_team readers;
  thread_team_start(&readers, concurrent_reader, &shared, 0, 2);
  thread_team_run(concurrent_writer, &shared, 0, 1);
  thread_team_join(&readers);
  assert_int_equal(mt_memtable_entry_count(shared.table), CONCURRENT_KEYS + CONCURRENT_KEYS / 8);
  assert_int_equal(mt_memtable_deletion_count(shared.table), CONCURRENT_KEYS / 8);
  assert_int_equal(mt_memtable_validate(shared.table), MT_OK);
  assert_true(atomic_load_explicit(&shared.reader_checks, memory_order_relaxed) > 0);
  mt_memtable_unref(shared.table);
}

/* The writer's adds run from inside a reader's comparison: the test's comparator is the pause point. From
 * the countdown-th comparison the reader makes, for `bursts` comparisons in a row, the "writer" links a
 * newer and an older version of every key, then the reader's comparison goes on. Sweeping the countdown
 * over every comparison of a walk puts a writer that keeps adding versions (faster than the reader steps
 * over them, for a while) between every pair of the reader's steps, seeks included. */
typedef struct interleaving {
  mt_memtable *table;
  long countdown; /* reader comparisons until the writer acts; negative: disarmed */
  int bursts;     /* comparisons in a row at which it acts */
  bool writing;
  bool acted;
  uint64_t newer_seq;
  uint64_t older_seq;
} interleaving;

#define INTERLEAVING_KEYS 6
static const int interleaving_versions[INTERLEAVING_KEYS] = {1, 2, 5, 9, 1, 6};

static void interleaving_key(int k, char *key) { snprintf(key, 8, "key%d", k); }

static void writer_adds_around_every_key(interleaving *il) {
  il->writing = true;
  for (int k = 0; k < INTERLEAVING_KEYS; k++) {
    char key[8];
    interleaving_key(k, key);
    assert_int_equal(mt_memtable_add(il->table, il->newer_seq++, MT_TYPE_VALUE, key, strlen(key), "new", 3), MT_OK);
    assert_int_equal(mt_memtable_add(il->table, il->older_seq--, MT_TYPE_VALUE, key, strlen(key), "old", 3), MT_OK);
  }
  il->writing = false;
  il->acted = true;
}

static int interleaving_compare(void *ctx, const char *a, size_t a_len, const char *b, size_t b_len) {
  interleaving *il = ctx;
  if (!il->writing && il->countdown >= 0 && il->countdown-- == 0) {
    writer_adds_around_every_key(il);
    if (--il->bursts > 0) il->countdown = 0;
  }
  size_t common = a_len < b_len ? a_len : b_len;
  int order = common == 0 ? 0 : memcmp(a, b, common);
  return order != 0 ? order : (a_len > b_len) - (a_len < b_len);
}

static mt_memtable *interleaving_table(interleaving *il, unsigned checksum_bytes) {
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.compare = interleaving_compare;
  options.compare_ctx = il;
  options.checksum_bytes = checksum_bytes;
  il->countdown = -1;
  il->writing = true;
  il->acted = false;
  il->newer_seq = 5000;
  il->older_seq = 500;
  il->table = mt_memtable_create(&options);
  assert_non_null(il->table);
  uint64_t seq = 1000;
  for (int k = 0; k < INTERLEAVING_KEYS; k++) {
    char key[8];
    interleaving_key(k, key);
    for (int v = 0; v < interleaving_versions[k]; v++) {
      assert_int_equal(mt_memtable_add(il->table, seq++, MT_TYPE_VALUE, key, strlen(key), "v", 1), MT_OK);
    }
  }
  il->writing = false;
  return il->table;
}

/* Walks the whole user view one way with the writer acting at the countdown-th comparison; checks that
 * every key comes exactly once, in order. Returns whether the writer acted (false: the walk made fewer
 * comparisons, so every interleaving point has been tried). */
static bool walk_with_writer_at(long countdown, int bursts, bool backward, unsigned checksum_bytes) {
  interleaving il;
  mt_memtable *table = interleaving_table(&il, checksum_bytes);
  mt_memtable_user_iter *iter = mt_memtable_user_iter_create(table, UINT64_MAX);
  assert_non_null(iter);
  il.countdown = countdown;
  il.bursts = bursts;
  int expected = backward ? INTERLEAVING_KEYS - 1 : 0;
  if (backward) {
    mt_memtable_user_iter_seek_to_last(iter);
  } else {
    mt_memtable_user_iter_seek_to_first(iter);
  }
  for (; mt_memtable_user_iter_valid(iter); expected += backward ? -1 : 1) {
    char key[8];
    assert_true(expected >= 0 && expected < INTERLEAVING_KEYS);
    interleaving_key(expected, key);
    mt_slice got = mt_memtable_user_iter_key(iter);
    if (got.len != strlen(key) || memcmp(got.data, key, got.len) != 0) {
      fail_msg("%s walk, writer at comparisons %ld..+%d: got %.*s where %s was due",
               backward ? "backward" : "forward", countdown, bursts, (int)got.len, got.data, key);
    }
    if (backward) {
      mt_memtable_user_iter_prev(iter);
    } else {
      mt_memtable_user_iter_next(iter);
    }
  }
  assert_int_equal(expected, backward ? -1 : INTERLEAVING_KEYS);
  assert_int_equal(mt_memtable_user_iter_status(iter), MT_OK);
  il.countdown = -1;
  mt_memtable_user_iter_destroy(iter);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
  return il.acted;
}

static void memtable_test_user_view_with_writer_between_any_two_reader_steps(void **state) {
  (void)state;
  static const int bursts[] = {1, 4, 64};
  for (unsigned checksum_bytes = 0; checksum_bytes <= 8; checksum_bytes += 8) {
    for (int backward = 0; backward <= 1; backward++) {
      for (size_t b = 0; b < sizeof(bursts) / sizeof(bursts[0]); b++) {
        long countdown = 0;
        while (walk_with_writer_at(countdown, bursts[b], backward, checksum_bytes)) countdown++;
        assert_true(countdown > 10); /* the walks compare often: the sweep really ran */
      }
    }
  }
}

#define STRESS_KEYS 4

typedef struct user_view_stress {
  mt_memtable *table;
  atomic_bool writer_done;
  atomic_size_t walks;
} user_view_stress;

static void stress_key(unsigned k, char *key) { snprintf(key, 16, "stress-%02u", k); }

static void *stress_writer(void *arg) {
  user_view_stress *s = arg;
  uint64_t rng = 42;
  uint64_t seq = 1000;
  for (int i = 0; i < 20000; i++) {
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    char key[16];
    stress_key((unsigned)(rng >> 33) % STRESS_KEYS, key);
    /* New versions in front of every existing one, and a few behind (older seqs), of live keys. */
    uint64_t entry_seq = (rng >> 20) % 8 == 0 ? 999 - (uint64_t)i % 999 : seq++;
    mt_status status = mt_memtable_add(s->table, entry_seq, MT_TYPE_VALUE, key, strlen(key), "v", 1);
    assert_true(status == MT_OK || status == MT_EXISTS);
  }
  atomic_store_explicit(&s->writer_done, true, memory_order_release);
  return NULL;
}

static void *stress_reader(void *arg) {
  user_view_stress *s = arg;
  mt_memtable_user_iter *iter = mt_memtable_user_iter_create(s->table, UINT64_MAX);
  assert_non_null(iter);
  for (int round = 0; !atomic_load_explicit(&s->writer_done, memory_order_acquire) || round < 2; round++) {
    bool backward = round % 2 == 1;
    char previous[16] = "";
    size_t seen = 0;
    if (backward) {
      mt_memtable_user_iter_seek_to_last(iter);
    } else {
      mt_memtable_user_iter_seek_to_first(iter);
    }
    for (; mt_memtable_user_iter_valid(iter); seen++) {
      mt_slice key = mt_memtable_user_iter_key(iter);
      char current[16];
      assert_true(key.len < sizeof(current));
      memcpy(current, key.data, key.len);
      current[key.len] = '\0';
      if (seen > 0) {
        int order = strcmp(previous, current);
        if (backward ? order <= 0 : order >= 0) {
          fail_msg("%s walk: %s after %s", backward ? "backward" : "forward", current, previous);
        }
      }
      memcpy(previous, current, sizeof(previous));
      if (backward) {
        mt_memtable_user_iter_prev(iter);
      } else {
        mt_memtable_user_iter_next(iter);
      }
    }
    assert_true(seen <= STRESS_KEYS);
    assert_int_equal(mt_memtable_user_iter_status(iter), MT_OK);
    atomic_fetch_add_explicit(&s->walks, 1, memory_order_relaxed);
  }
  mt_memtable_user_iter_destroy(iter);
  return NULL;
}

static void memtable_test_user_view_never_repeats_a_key_under_a_writer(void **state) {
  (void)state;
  user_view_stress s;
  s.table = mt_memtable_create(NULL);
  assert_non_null(s.table);
  atomic_init(&s.writer_done, false);
  atomic_init(&s.walks, 0);
  /* Every key present from the start, so each walk must see all of them, once. */
  for (unsigned k = 0; k < STRESS_KEYS; k++) {
    char key[16];
    stress_key(k, key);
    assert_int_equal(mt_memtable_add(s.table, 999, MT_TYPE_VALUE, key, strlen(key), "v", 1), MT_OK);
  }
  thread_team readers;
  thread_team_start(&readers, stress_reader, &s, 0, 2);
  thread_team_run(stress_writer, &s, 0, 1);
  thread_team_join(&readers);
  assert_true(atomic_load(&s.walks) >= 4);
  assert_int_equal(mt_memtable_validate(s.table), MT_OK);
  mt_memtable_unref(s.table);
}

/* ---- arena hooks only on the writer ---- */
typedef struct thread_checked_hooks {
  pthread_t owner;          /* the only thread the arena's hooks may run on */
  atomic_size_t arena_calls;
  atomic_size_t foreign_calls; /* arena hook calls from any other thread */
  atomic_size_t reader_calls;
} thread_checked_hooks;

static void *owner_alloc(void *ctx, size_t size) {
  thread_checked_hooks *hooks = ctx;
  atomic_fetch_add(&hooks->arena_calls, 1);
  if (!pthread_equal(pthread_self(), hooks->owner)) atomic_fetch_add(&hooks->foreign_calls, 1);
  return malloc(size);
}

static void owner_free(void *ctx, void *ptr, size_t size) {
  (void)size;
  thread_checked_hooks *hooks = ctx;
  if (!pthread_equal(pthread_self(), hooks->owner)) atomic_fetch_add(&hooks->foreign_calls, 1);
  free(ptr);
}

static void *reader_alloc(void *ctx, size_t size) {
  thread_checked_hooks *hooks = ctx;
  atomic_fetch_add(&hooks->reader_calls, 1);
  return malloc(size);
}

static void reader_free(void *ctx, void *ptr, size_t size) {
  (void)ctx;
  (void)size;
  free(ptr);
}

typedef struct hook_reader {
  mt_memtable *table;
  const char *long_key;
  size_t long_key_len;
} hook_reader;

static void *reader_with_long_keys(void *arg) {
  hook_reader *r = arg;
  for (int i = 0; i < 200; i++) {
    mt_slice value;
    mt_status status = mt_memtable_get(r->table, r->long_key, r->long_key_len, UINT64_MAX, &value);
    assert_true(status == MT_OK || status == MT_NOT_FOUND);
    mt_memtable_iter *iter = mt_memtable_iter_create(r->table);
    assert_non_null(iter);
    mt_memtable_iter_seek(iter, r->long_key, r->long_key_len, UINT64_MAX);
    mt_memtable_iter_destroy(iter);
    mt_memtable_user_iter *user = mt_memtable_user_iter_create(r->table, UINT64_MAX);
    assert_non_null(user);
    mt_memtable_user_iter_seek_for_prev(user, r->long_key, r->long_key_len);
    mt_memtable_user_iter_destroy(user);
  }
  return NULL;
}

static void memtable_test_arena_hooks_run_only_on_the_writer(void **state) {
  (void)state;
  thread_checked_hooks hooks;
  hooks.owner = pthread_self();
  atomic_init(&hooks.arena_calls, 0);
  atomic_init(&hooks.foreign_calls, 0);
  atomic_init(&hooks.reader_calls, 0);
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.arena.block_size = 4096;
  options.arena.allocator.alloc = owner_alloc;
  options.arena.allocator.free = owner_free;
  options.arena.allocator.ctx = &hooks;
  options.reader_allocator.alloc = reader_alloc;
  options.reader_allocator.free = reader_free;
  options.reader_allocator.ctx = &hooks;
  mt_memtable *table = mt_memtable_create(&options);
  assert_non_null(table);
  char long_key[1000], written_key[1000];
  memset(long_key, 'q', sizeof(long_key));
  memset(written_key, 'q', sizeof(written_key));
  hook_reader r = {table, long_key, sizeof(long_key)};
  thread_team readers;
  thread_team_start(&readers, reader_with_long_keys, &r, 0, 2);
  for (uint64_t i = 0; i < 2000; i++) {
    written_key[0] = (char)('a' + i % 26);
    assert_int_equal(
        mt_memtable_add(table, i + 1, MT_TYPE_VALUE, written_key, sizeof(written_key) - (i % 7), "v", 1), MT_OK);
  }
  thread_team_join(&readers);
  mt_memtable_unref(table); /* the last reference is dropped here, on the owner: the frees run here too */
  assert_true(atomic_load(&hooks.arena_calls) > 10);
  assert_true(atomic_load(&hooks.reader_calls) >= 2 * 200 * 4); /* iterators and long lookup keys */
  assert_int_equal(atomic_load(&hooks.foreign_calls), 0);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(memtable_test_concurrent_readers),
      cmocka_unit_test(memtable_test_user_view_with_writer_between_any_two_reader_steps),
      cmocka_unit_test(memtable_test_user_view_never_repeats_a_key_under_a_writer),
      cmocka_unit_test(memtable_test_arena_hooks_run_only_on_the_writer),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
