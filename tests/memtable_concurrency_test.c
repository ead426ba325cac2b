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
  pthread_t writer, readers[2];
  assert_int_equal(pthread_create(&readers[0], NULL, concurrent_reader, &shared), 0);
  assert_int_equal(pthread_create(&readers[1], NULL, concurrent_reader, &shared), 0);
  assert_int_equal(pthread_create(&writer, NULL, concurrent_writer, &shared), 0);
  assert_int_equal(pthread_join(writer, NULL), 0);
  assert_int_equal(pthread_join(readers[0], NULL), 0);
  assert_int_equal(pthread_join(readers[1], NULL), 0);
  assert_int_equal(mt_memtable_entry_count(shared.table), CONCURRENT_KEYS + CONCURRENT_KEYS / 8);
  assert_int_equal(mt_memtable_deletion_count(shared.table), CONCURRENT_KEYS / 8);
  assert_int_equal(mt_memtable_validate(shared.table), MT_OK);
  assert_true(atomic_load_explicit(&shared.reader_checks, memory_order_relaxed) > 0);
  mt_memtable_unref(shared.table);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(memtable_test_concurrent_readers),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
