/* memtable_add_batch_test: mt_memtable_add_batch - all or nothing for invalid batches, exactly the prefix
 * before the first refused entry otherwise, and batches from several threads at once on a table with
 * concurrent_writes. Each single-thread case runs on a plain table and on a concurrent_writes one. */
#define _POSIX_C_SOURCE 200809L
#include "support/test_util.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/memtable.h>

#include "support/memtable_checks.h"
#include "support/thread_team.h"

static mt_memtable_options batch_options(bool concurrent) {
  mt_memtable_options options = MT_MEMTABLE_OPTIONS_INIT;
  options.concurrent_writes = concurrent;
  options.arena.concurrent = concurrent;
  return options;
}

enum { BATCH_KEYS = 6 };
static const char *const batch_keys[BATCH_KEYS] = {"k0", "k1", "k2", "k3", "k4", "k5"};

static void fill_batch(mt_memtable_batch_entry *entries) {
  for (int i = 0; i < BATCH_KEYS; i++) {
    entries[i] = (mt_memtable_batch_entry){i == 2 ? MT_TYPE_DELETION : MT_TYPE_VALUE, batch_keys[i], 2, "value", 5};
  }
}

static void assert_nothing_applied(mt_memtable *table) {
  for (int i = 0; i < BATCH_KEYS; i++) assert_get(table, batch_keys[i], MT_MAX_SEQUENCE, MT_NOT_FOUND, NULL);
  assert_int_equal(mt_memtable_entry_count(table), 0);
  uint64_t smallest = 0, largest = 0;
  assert_int_equal(mt_memtable_sequence_range(table, &smallest, &largest), MT_NOT_FOUND);
}

static void batch_test_invalid_entry_applies_nothing(bool concurrent) {
  mt_memtable_options options = batch_options(concurrent);
  mt_memtable *table = new_table(&options);
  mt_memtable_batch_entry entries[BATCH_KEYS];
  fill_batch(entries);
  entries[4].key = NULL; /* with key_len 2: invalid, after three valid entries */
  size_t applied = 99;
  assert_int_equal(mt_memtable_add_batch(table, 100, entries, BATCH_KEYS, &applied), MT_INVALID_ARGUMENT);
  assert_int_equal(applied, 0);
  assert_nothing_applied(table);
  fill_batch(entries);
  entries[5].type = (mt_entry_type)7; /* unknown type, last entry */
  applied = 99;
  assert_int_equal(mt_memtable_add_batch(table, 100, entries, BATCH_KEYS, &applied), MT_INVALID_ARGUMENT);
  assert_int_equal(applied, 0);
  assert_nothing_applied(table);
  applied = 99;
  assert_int_equal(mt_memtable_add_batch(table, 100, NULL, 3, &applied), MT_INVALID_ARGUMENT);
  assert_int_equal(applied, 0);
  assert_nothing_applied(table);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
}

static void memtable_add_batch_test_invalid_entry_applies_nothing(void **state) {
  (void)state;
  batch_test_invalid_entry_applies_nothing(false);
  batch_test_invalid_entry_applies_nothing(true);
}

/* first_seq + count - 1 must not exceed MT_MAX_SEQUENCE; a batch ending exactly there is fine. */
static void batch_test_sequence_overflow_applies_nothing(bool concurrent) {
  mt_memtable_options options = batch_options(concurrent);
  mt_memtable *table = new_table(&options);
  mt_memtable_batch_entry entries[BATCH_KEYS];
  fill_batch(entries);
  size_t applied = 99;
  assert_int_equal(mt_memtable_add_batch(table, MT_MAX_SEQUENCE - BATCH_KEYS + 2, entries, BATCH_KEYS, &applied),
                   MT_INVALID_ARGUMENT);
  assert_int_equal(applied, 0);
  assert_nothing_applied(table);
  applied = 99;
  assert_int_equal(mt_memtable_add_batch(table, UINT64_MAX - 1, entries, BATCH_KEYS, &applied), MT_INVALID_ARGUMENT);
  assert_int_equal(applied, 0);
  assert_nothing_applied(table);
  assert_int_equal(mt_memtable_add_batch(table, MT_MAX_SEQUENCE - BATCH_KEYS + 1, entries, BATCH_KEYS, &applied),
                   MT_OK);
  assert_int_equal(applied, BATCH_KEYS);
  uint64_t smallest = 0, largest = 0;
  assert_int_equal(mt_memtable_sequence_range(table, &smallest, &largest), MT_OK);
  assert_int_equal(smallest, MT_MAX_SEQUENCE - BATCH_KEYS + 1);
  assert_int_equal(largest, MT_MAX_SEQUENCE);
  assert_get(table, "k5", MT_MAX_SEQUENCE, MT_OK, "value");
  assert_get(table, "k2", MT_MAX_SEQUENCE, MT_DELETED, NULL);
  mt_memtable_unref(table);
}

static void memtable_add_batch_test_sequence_overflow_applies_nothing(void **state) {
  (void)state;
  batch_test_sequence_overflow_applies_nothing(false);
  batch_test_sequence_overflow_applies_nothing(true);
}

/* Entry 3 of the batch gets seq 103, which k3 already has: the batch stops there with exactly k0..k2 added. */
static void batch_test_duplicate_mid_way_applies_the_prefix(bool concurrent) {
  mt_memtable_options options = batch_options(concurrent);
  mt_memtable *table = new_table(&options);
  put(table, 103, "k3", "old");
  mt_memtable_batch_entry entries[BATCH_KEYS];
  fill_batch(entries);
  size_t applied = 99;
  assert_int_equal(mt_memtable_add_batch(table, 100, entries, BATCH_KEYS, &applied), MT_EXISTS);
  assert_int_equal(applied, 3);
  assert_get(table, "k0", MT_MAX_SEQUENCE, MT_OK, "value");
  assert_get(table, "k1", MT_MAX_SEQUENCE, MT_OK, "value");
  assert_get(table, "k2", MT_MAX_SEQUENCE, MT_DELETED, NULL);
  assert_get(table, "k3", MT_MAX_SEQUENCE, MT_OK, "old");
  assert_get(table, "k4", MT_MAX_SEQUENCE, MT_NOT_FOUND, NULL);
  assert_get(table, "k5", MT_MAX_SEQUENCE, MT_NOT_FOUND, NULL);
  assert_int_equal(mt_memtable_entry_count(table), 4);
  assert_int_equal(mt_memtable_deletion_count(table), 1);
  uint64_t smallest = 0, largest = 0;
  assert_int_equal(mt_memtable_sequence_range(table, &smallest, &largest), MT_OK);
  assert_int_equal(smallest, 100);
  assert_int_equal(largest, 103);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  /* A duplicate first: nothing applied, the status still MT_EXISTS. */
  applied = 99;
  assert_int_equal(mt_memtable_add_batch(table, 100, entries, 1, &applied), MT_EXISTS);
  assert_int_equal(applied, 0);
  mt_memtable_unref(table);
}

static void memtable_add_batch_test_duplicate_mid_way_applies_the_prefix(void **state) {
  (void)state;
  batch_test_duplicate_mid_way_applies_the_prefix(false);
  batch_test_duplicate_mid_way_applies_the_prefix(true);
}

/* Capacity reached mid-batch: the entries before the refused one are all there, it and the rest are not. */
static void batch_test_full_mid_way_applies_the_prefix(bool concurrent) {
  enum { ENTRIES = 64, VALUE_LEN = 1024 };
  mt_memtable_options options = batch_options(concurrent);
  options.arena.block_size = 4096;
  options.arena.capacity = 24 * 1024;
  mt_memtable *table = new_table(&options);
  static char value[VALUE_LEN];
  memset(value, 'v', sizeof(value));
  char keys[ENTRIES][8];
  mt_memtable_batch_entry entries[ENTRIES];
  for (int i = 0; i < ENTRIES; i++) {
    snprintf(keys[i], sizeof(keys[i]), "f%02d", i);
    entries[i] = (mt_memtable_batch_entry){MT_TYPE_VALUE, keys[i], strlen(keys[i]), value, VALUE_LEN};
  }
  size_t applied = 999;
  assert_int_equal(mt_memtable_add_batch(table, 1, entries, ENTRIES, &applied), MT_FULL);
  assert_true(applied > 0 && applied < ENTRIES);
  for (size_t i = 0; i < ENTRIES; i++) {
    mt_slice found = {NULL, 0};
    mt_status status = mt_memtable_get(table, keys[i], strlen(keys[i]), MT_MAX_SEQUENCE, &found);
    if (i < applied) {
      assert_int_equal(status, MT_OK);
      assert_slice(found, value, VALUE_LEN);
    } else {
      assert_int_equal(status, MT_NOT_FOUND);
    }
  }
  assert_int_equal(mt_memtable_entry_count(table), applied);
  uint64_t smallest = 0, largest = 0;
  assert_int_equal(mt_memtable_sequence_range(table, &smallest, &largest), MT_OK);
  assert_int_equal(smallest, 1);
  assert_int_equal(largest, applied);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
}

static void memtable_add_batch_test_full_mid_way_applies_the_prefix(void **state) {
  (void)state;
  batch_test_full_mid_way_applies_the_prefix(false);
  batch_test_full_mid_way_applies_the_prefix(true);
}

static void memtable_add_batch_test_empty_batch_is_ok(void **state) {
  (void)state;
  mt_memtable_options options = batch_options(true);
  mt_memtable *table = new_table(&options);
  size_t applied = 99;
  assert_int_equal(mt_memtable_add_batch(table, 1, NULL, 0, &applied), MT_OK);
  assert_int_equal(applied, 0);
  assert_int_equal(mt_memtable_add_batch(table, 1, NULL, 0, NULL), MT_OK);
  assert_nothing_applied(table);
  mt_memtable_unref(table);
}

static void memtable_add_batch_test_frozen_table_applies_nothing(void **state) {
  (void)state;
  mt_memtable_options options = batch_options(true);
  mt_memtable *table = new_table(&options);
  assert_int_equal(mt_memtable_freeze(table), MT_OK);
  mt_memtable_batch_entry entries[BATCH_KEYS];
  fill_batch(entries);
  size_t applied = 99;
  assert_int_equal(mt_memtable_add_batch(table, 1, entries, BATCH_KEYS, &applied), MT_FROZEN);
  assert_int_equal(applied, 0);
  assert_nothing_applied(table);
  mt_memtable_unref(table);
}

/* Several threads apply batches at once, each batch with its own range of sequence numbers: every batch
 * lands whole, and the table holds exactly their union. */
enum { BATCH_THREADS = 4, BATCHES_PER_THREAD = 60, BATCH_SIZE = 8 };

typedef struct batch_thread {
  mt_memtable *table;
  unsigned index;
  mt_status first_failure;
  size_t applied_total;
} batch_thread;

static int batch_key(char *buf, unsigned thread, int batch, int i) {
  return snprintf(buf, 24, "t%u-b%03d-%d", thread, batch, i);
}

static uint64_t batch_first_seq(unsigned thread, int batch) {
  return ((uint64_t)thread * BATCHES_PER_THREAD + (uint64_t)batch) * BATCH_SIZE + 1;
}

static void *batch_thread_main(void *arg) {
  batch_thread *self = arg;
  self->first_failure = MT_OK;
  for (int b = 0; b < BATCHES_PER_THREAD; b++) {
    char keys[BATCH_SIZE][24];
    mt_memtable_batch_entry entries[BATCH_SIZE];
    for (int i = 0; i < BATCH_SIZE; i++) {
      int len = batch_key(keys[i], self->index, b, i);
      entries[i] = (mt_memtable_batch_entry){i % 4 == 3 ? MT_TYPE_DELETION : MT_TYPE_VALUE, keys[i], (size_t)len,
                                             keys[i], (size_t)len};
    }
    size_t applied = 0;
    mt_status status = mt_memtable_add_batch(self->table, batch_first_seq(self->index, b), entries, BATCH_SIZE, &applied);
    self->applied_total += applied;
    if (status != MT_OK && self->first_failure == MT_OK) self->first_failure = status;
  }
  return NULL;
}

static void memtable_add_batch_test_batches_from_several_threads_all_land(void **state) {
  (void)state;
  mt_memtable_options options = batch_options(true);
  options.arena.block_size = 4096;
  mt_memtable *table = new_table(&options);
  batch_thread args[BATCH_THREADS];
  for (unsigned t = 0; t < BATCH_THREADS; t++) args[t] = (batch_thread){table, t, MT_OK, 0};
  thread_team_run(batch_thread_main, args, sizeof(args[0]), BATCH_THREADS);
  for (unsigned t = 0; t < BATCH_THREADS; t++) {
    if (args[t].first_failure != MT_OK) fail_msg("thread %u: a batch returned %s", t, mt_status_str(args[t].first_failure));
    assert_int_equal(args[t].applied_total, BATCHES_PER_THREAD * BATCH_SIZE);
  }
  for (unsigned t = 0; t < BATCH_THREADS; t++) {
    for (int b = 0; b < BATCHES_PER_THREAD; b++) {
      for (int i = 0; i < BATCH_SIZE; i++) {
        char key[24];
        int len = batch_key(key, t, b, i);
        mt_entry found;
        mt_status status = mt_memtable_get_entry(table, key, (size_t)len, MT_MAX_SEQUENCE, &found);
        assert_int_equal(status, i % 4 == 3 ? MT_DELETED : MT_OK);
        assert_int_equal(found.seq, batch_first_seq(t, b) + (uint64_t)i);
        assert_slice(found.value, key, (size_t)len);
      }
    }
  }
  const uint64_t total = (uint64_t)BATCH_THREADS * BATCHES_PER_THREAD * BATCH_SIZE;
  assert_int_equal(mt_memtable_entry_count(table), total);
  assert_int_equal(mt_memtable_deletion_count(table), total / 4);
  uint64_t smallest = 0, largest = 0;
  assert_int_equal(mt_memtable_sequence_range(table, &smallest, &largest), MT_OK);
  assert_int_equal(smallest, 1);
  assert_int_equal(largest, total);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
}

/* The batched path (interleaved searches, then links from the positions found) answers exactly as the same
 * entries added one by one: random batches whose keys repeat within and across batches (so some reuse a
 * sequence number and are refused mid-batch), long keys among them, both tables
 * compared entry by entry at the end. */
static void memtable_add_batch_test_matches_adding_one_by_one(void **state) {
  (void)state;
  enum { BATCHES = 300, MAX_BATCH = 48, KEY_RANGE = 400 };
  uint64_t rng = 20261201;
  mt_memtable *batched = mt_memtable_create(NULL);
  mt_memtable *single = mt_memtable_create(NULL);
  assert_non_null(batched);
  assert_non_null(single);
  static char keys[MAX_BATCH][5000];
  mt_memtable_batch_entry entries[MAX_BATCH];
  uint64_t seq = 1;
  for (int b = 0; b < BATCHES; b++) {
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    size_t count = (size_t)(rng >> 33) % MAX_BATCH + 1;
    /* Now and then a batch reuses the previous batch's sequence numbers: its first entries may collide. */
    uint64_t first_seq = (rng >> 20) % 7 == 0 && seq > 1 ? seq - 1 : seq;
    for (size_t i = 0; i < count; i++) {
      rng = rng * 6364136223846793005u + 1442695040888963407u;
      unsigned k = (unsigned)(rng >> 33) % KEY_RANGE;
      size_t len = (size_t)snprintf(keys[i], sizeof(keys[i]), "key-%04u", k);
      /* Long keys: some fill the batch's lookup scratch sooner, some do not fit it at all (searched alone). */
      size_t long_len = k % 97 == 0 ? 5000 : k % 50 == 0 ? 280 : 0;
      if (long_len != 0) {
        memset(keys[i] + len, 'x', long_len - len);
        len = long_len;
      }
      entries[i].type = (rng >> 20) % 5 == 0 ? MT_TYPE_DELETION : MT_TYPE_VALUE;
      entries[i].key = keys[i];
      entries[i].key_len = len;
      entries[i].value = keys[i];
      entries[i].value_len = entries[i].type == MT_TYPE_DELETION ? 0 : len;
    }
    size_t applied = 99;
    mt_status got = mt_memtable_add_batch(batched, first_seq, entries, count, &applied);
    mt_status expected = MT_OK;
    size_t expected_applied = 0;
    for (size_t i = 0; i < count && expected == MT_OK; i++) {
      expected = mt_memtable_add(single, first_seq + i, entries[i].type, entries[i].key, entries[i].key_len,
                                 entries[i].value, entries[i].value_len);
      if (expected == MT_OK) expected_applied++;
    }
    if (got != expected || applied != expected_applied) {
      fail_msg("batch %d (%zu entries from seq %" PRIu64 "): %s with %zu applied, one by one %s with %zu", b, count,
               first_seq, mt_status_str(got), applied, mt_status_str(expected), expected_applied);
    }
    seq = first_seq + count;
  }
  assert_int_equal(mt_memtable_entry_count(batched), mt_memtable_entry_count(single));
  assert_int_equal(mt_memtable_approximate_memory_usage(batched), mt_memtable_approximate_memory_usage(single));
  mt_memtable_iter *a = mt_memtable_iter_create(batched);
  mt_memtable_iter *b = mt_memtable_iter_create(single);
  assert_non_null(a);
  assert_non_null(b);
  for (mt_memtable_iter_seek_to_first(a), mt_memtable_iter_seek_to_first(b); mt_memtable_iter_valid(a);
       mt_memtable_iter_next(a), mt_memtable_iter_next(b)) {
    assert_true(mt_memtable_iter_valid(b));
    mt_slice x = mt_memtable_iter_entry(a), y = mt_memtable_iter_entry(b);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.data, y.data, x.len);
  }
  assert_false(mt_memtable_iter_valid(b));
  mt_memtable_iter_destroy(a);
  mt_memtable_iter_destroy(b);
  assert_int_equal(mt_memtable_validate(batched), MT_OK);
  mt_memtable_unref(batched);
  mt_memtable_unref(single);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(memtable_add_batch_test_invalid_entry_applies_nothing),
      cmocka_unit_test(memtable_add_batch_test_sequence_overflow_applies_nothing),
      cmocka_unit_test(memtable_add_batch_test_duplicate_mid_way_applies_the_prefix),
      cmocka_unit_test(memtable_add_batch_test_full_mid_way_applies_the_prefix),
      cmocka_unit_test(memtable_add_batch_test_empty_batch_is_ok),
      cmocka_unit_test(memtable_add_batch_test_frozen_table_applies_nothing),
      cmocka_unit_test(memtable_add_batch_test_batches_from_several_threads_all_land),
      cmocka_unit_test(memtable_add_batch_test_matches_adding_one_by_one),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
