/* memtable_point_index_test: the point-lookup index (options.point_index). Gets through the index answer
 * exactly as the reference model and as a table without the index, at every snapshot, with multi-version
 * keys, tombstones and out-of-order sequence numbers; an index too small for the keys falls back to the
 * skiplist and still answers right; a custom comparator turns it off; creation fails cleanly; one writer
 * with readers, and 2-4 racing writers, never make a reader see a key go missing or a version go back. */
#define _POSIX_C_SOURCE 200809L
#include "support/test_util.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/memtable.h>

#include "support/allocator.h"
#include "support/model.h"
#include "support/rng.h"
#include "support/tsan.h"
#include "support/thread_gate.h"
#include "support/thread_team.h"
#include "support/index_slots.h"

#ifdef MT_TEST_UNDER_TSAN
#define RACE_ROUNDS 40
#else
#define RACE_ROUNDS 400
#endif

static size_t key_text(char *out, size_t size, size_t key) { return (size_t)snprintf(out, size, "key%05zu", key); }

/* A value that names its key and seq, so a reader can tell a torn or foreign entry from the right one. */
static size_t value_text(char *out, size_t size, size_t key, uint64_t seq) {
  return (size_t)snprintf(out, size, "v%zu@%" PRIu64 ".........", key, seq);
}

static bool value_matches(mt_slice value, size_t key, uint64_t seq) {
  char expected[64];
  size_t len = value_text(expected, sizeof(expected), key, seq);
  return value.len == len && memcmp(value.data, expected, len) == 0;
}

/* hooks: the arena's allocator (NULL: the default). */
static mt_memtable *index_table_with(bool point_index, size_t entries, unsigned checksum_bytes, bool concurrent,
                                     const mt_allocator *hooks) {
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.point_index = point_index;
  options.point_index_entries = entries;
  options.checksum_bytes = checksum_bytes;
  options.concurrent_writes = concurrent;
  if (hooks != NULL) options.arena.allocator = *hooks;
  mt_memtable *table = mt_memtable_create(&options);
  assert_non_null(table);
  assert_int_equal(mt_memtable_point_index_memory(table) != 0, point_index);
  return table;
}

static mt_memtable *index_table(bool point_index, size_t entries, unsigned checksum_bytes, bool concurrent) {
  return index_table_with(point_index, entries, checksum_bytes, concurrent, NULL);
}

/* Adds keys 0..keys-1 in `rounds` rounds, seqs 1.. in order (key k's round-r version has seq r * keys + k + 1). */
static void add_rounds(mt_memtable *table, int rounds, size_t keys) {
  char key[32], value[64];
  uint64_t seq = 1;
  for (int round = 0; round < rounds; round++) {
    for (size_t k = 0; k < keys; k++) {
      size_t key_len = key_text(key, sizeof(key), k);
      size_t value_len = value_text(value, sizeof(value), k, seq);
      assert_int_equal(mt_memtable_add(table, seq++, MT_TYPE_VALUE, key, key_len, value, value_len), MT_OK);
    }
  }
}

/* get_entry on the table equals the model's answer (and the same status and entry as `plain`). */
static void check_get(const mt_memtable *table, const mt_memtable *plain, const model *m, const char *key,
                      size_t key_len, uint64_t snapshot, uint64_t seed, uint64_t step) {
  mt_entry found, plain_found;
  mt_status status = mt_memtable_get_entry(table, key, key_len, snapshot, &found);
  mt_status plain_status = mt_memtable_get_entry(plain, key, key_len, snapshot, &plain_found);
  const model_entry *expected = model_get(m, key, key_len, model_clamp_snapshot(snapshot));
  mt_status expected_status = expected == NULL                       ? MT_NOT_FOUND
                              : expected->type == MT_TYPE_DELETION ? MT_DELETED
                                                                   : MT_OK;
  MT_CHECK_SEEDED_STEP(status == expected_status, seed, "get status", step);
  MT_CHECK_SEEDED_STEP(plain_status == expected_status, seed, "plain get status", step);
  if (expected == NULL) return;
  MT_CHECK_SEEDED_STEP(found.seq == expected->seq && found.type == expected->type, seed, "get version", step);
  MT_CHECK_SEEDED_STEP(plain_found.seq == found.seq, seed, "plain get version", step);
  MT_CHECK_SEEDED_STEP(found.value.len == expected->value_len &&
                           memcmp(found.value.data, expected->value, expected->value_len) == 0,
                       seed, "get value", step);
  MT_CHECK_SEEDED_STEP(found.user_key.len == key_len && memcmp(found.user_key.data, key, key_len) == 0, seed,
                       "get key", step);
}

/* Random multi-version keys and tombstones, sequence numbers in a shuffled order; after every add burst,
 * every key (and some never added) at many snapshots. index_entries 0: the default sizing; 4: far fewer
 * slots than keys, so most keys are answered by the fallback. */
static void run_model(uint64_t seed, size_t index_entries, unsigned checksum_bytes) {
  enum { KEYS = 120, ADDS = 1200 };
  uint64_t rng = seed;
  mt_memtable *table = index_table(true, index_entries, checksum_bytes, false);
  mt_memtable *plain = index_table(false, 0, checksum_bytes, false);
  model m;
  model_init(&m, NULL);
  uint64_t *seqs = malloc(ADDS * sizeof(*seqs));
  assert_non_null(seqs);
  for (size_t i = 0; i < ADDS; i++) seqs[i] = i + 1;
  for (size_t i = ADDS - 1; i > 0; i--) { /* mostly ascending, with many local inversions */
    if (mt_rng_below(&rng, 3) != 0) continue;
    size_t j = i - mt_rng_below(&rng, i < 50 ? i + 1 : 50);
    uint64_t t = seqs[i];
    seqs[i] = seqs[j];
    seqs[j] = t;
  }
  char key[32], value[64];
  for (size_t i = 0; i < ADDS; i++) {
    size_t k = mt_rng_below(&rng, KEYS);
    size_t key_len = key_text(key, sizeof(key), k);
    mt_entry_type type = mt_rng_below(&rng, 5) == 0 ? MT_TYPE_DELETION : MT_TYPE_VALUE;
    size_t value_len = type == MT_TYPE_DELETION ? 0 : value_text(value, sizeof(value), k, seqs[i]);
    MT_CHECK_SEEDED_STEP(mt_memtable_add(table, seqs[i], type, key, key_len, value, value_len) == MT_OK, seed, "add",
                         i);
    MT_CHECK_SEEDED_STEP(mt_memtable_add(plain, seqs[i], type, key, key_len, value, value_len) == MT_OK, seed,
                         "plain add", i);
    /* The same (key, seq) again is refused and leaves the slot alone. */
    if (i % 97 == 0) {
      MT_CHECK_SEEDED_STEP(mt_memtable_add(table, seqs[i], MT_TYPE_VALUE, key, key_len, "x", 1) == MT_EXISTS, seed,
                           "duplicate add", i);
    }
    model_add(&m, seqs[i], type, key, key_len, value, value_len, i);
    if (i % 150 != 149 && i != ADDS - 1) continue;
    for (size_t probe = 0; probe < KEYS + 10; probe++) {
      size_t probe_len = key_text(key, sizeof(key), probe);
      static const uint64_t fixed[] = {0, 1, UINT64_MAX, MT_MAX_SEQUENCE};
      for (size_t s = 0; s < 4; s++) check_get(table, plain, &m, key, probe_len, fixed[s], seed, i);
      for (size_t s = 0; s < 6; s++) {
        check_get(table, plain, &m, key, probe_len, 1 + mt_rng_below(&rng, i + 2), seed, i);
      }
    }
  }
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  free(seqs);
  model_free(&m);
  mt_memtable_unref(plain);
  mt_memtable_unref(table);
}

static void point_index_test_model_random_versions_and_tombstones(void **state) {
  (void)state;
  for (uint64_t seed = 1; seed <= 6; seed++) run_model(seed, 0, 0);
}

static void point_index_test_model_with_checksums(void **state) {
  (void)state;
  for (uint64_t seed = 11; seed <= 14; seed++) run_model(seed, 0, seed % 2 == 0 ? 8 : 4);
}

static void point_index_test_full_index_falls_back_to_the_skiplist(void **state) {
  (void)state;
  for (uint64_t seed = 21; seed <= 24; seed++) run_model(seed, 4, seed % 2 == 0 ? 0 : 8);
}

/* The index starts with one line of slots and grows as keys arrive: every key stays exact (its newest
 * version, older ones at older snapshots), absent keys are absent, the coverage counts every key, and
 * validate accepts the grown index. */
static void point_index_test_grows_past_its_sizing_and_stays_exact(void **state) {
  (void)state;
  mt_memtable *table = index_table(true, 1, 0, false);
  size_t initial = mt_memtable_point_index_memory(table);
  add_rounds(table, 3, 50);
  char key[32];
  assert_true(mt_memtable_point_index_memory(table) > initial);
  mt_memtable_memory_stats stats;
  assert_int_equal(mt_memtable_get_memory_stats(table, &stats), MT_OK);
  assert_int_equal(stats.index_keys, 50);
  assert_int_equal(stats.index_refused_adds, 0);
  assert_int_equal(stats.index_bytes, mt_memtable_point_index_memory(table));
  assert_int_equal(stats.arena.used_bytes,
                   stats.filter_bytes + stats.index_bytes + stats.bookkeeping_bytes + stats.entry_bytes);
  for (size_t k = 0; k < 60; k++) {
    size_t key_len = key_text(key, sizeof(key), k);
    mt_entry found;
    mt_status status = mt_memtable_get_entry(table, key, key_len, UINT64_MAX, &found);
    if (k >= 50) {
      assert_int_equal(status, MT_NOT_FOUND);
      continue;
    }
    assert_int_equal(status, MT_OK);
    assert_int_equal(found.seq, 101 + k); /* the third round's */
    assert_true(value_matches(found.value, k, found.seq));
    assert_int_equal(mt_memtable_get_entry(table, key, key_len, 60, &found), MT_OK);
    assert_int_equal(found.seq, k < 10 ? 51 + k : 1 + k);
    assert_int_equal(mt_memtable_get_entry(table, key, key_len, k, &found), MT_NOT_FOUND);
  }
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
}

/* When the arena cannot give the larger table, keys past the limit are not indexed (the coverage says so):
 * the indexed keys keep being updated, the others and absent keys are answered by the skiplist. */
static void point_index_test_indexed_keys_stay_exact_when_growth_fails(void **state) {
  (void)state;
  test_allocator allocator = TEST_ALLOCATOR_INIT;
  const mt_allocator hooks = test_allocator_hooks(&allocator);
  mt_memtable *table = index_table_with(true, 8000, 0, false, &hooks); /* 10000 slots: a block of their own */
  allocator.refuse_above = 100000; /* the twice larger table cannot come */
  const size_t keys = 10000;
  add_rounds(table, 2, keys);
  char key[32];
  mt_memtable_memory_stats stats;
  assert_int_equal(mt_memtable_get_memory_stats(table, &stats), MT_OK);
  assert_true(stats.index_keys >= 8000 && stats.index_keys < keys);
  assert_true(stats.index_refused_adds >= 2 * (keys - stats.index_keys));
  for (size_t k = 0; k < keys + 10; k++) {
    size_t key_len = key_text(key, sizeof(key), k);
    mt_entry found;
    mt_status status = mt_memtable_get_entry(table, key, key_len, UINT64_MAX, &found);
    if (k >= keys) {
      assert_int_equal(status, MT_NOT_FOUND);
      continue;
    }
    assert_int_equal(status, MT_OK);
    assert_int_equal(found.seq, keys + 1 + k);
    assert_int_equal(mt_memtable_get_entry(table, key, key_len, keys, &found), MT_OK);
    assert_int_equal(found.seq, 1 + k);
  }
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
  assert_int_equal(allocator.live_blocks, 0);
}

/* A get at an old snapshot of a key with thousands of newer versions answers the right version (the index
 * steps through a few, then searches), tombstones included, with and without checksums. */
static void run_old_snapshots(unsigned checksum_bytes) {
  mt_memtable *table = index_table(true, 0, checksum_bytes, false);
  mt_memtable *plain = index_table(false, 0, checksum_bytes, false);
  const uint64_t versions = 3000;
  char key[32], value[64];
  /* Hot key 0 at odd seqs (every 7th a tombstone), key 1 at even seqs, both with versions in seq order. */
  for (uint64_t seq = 1; seq <= 2 * versions; seq++) {
    size_t k = seq % 2 == 1 ? 0 : 1;
    mt_entry_type type = seq % 7 == 0 ? MT_TYPE_DELETION : MT_TYPE_VALUE;
    size_t key_len = key_text(key, sizeof(key), k);
    size_t value_len = value_text(value, sizeof(value), k, seq);
    assert_int_equal(mt_memtable_add(table, seq, type, key, key_len, value, value_len), MT_OK);
    assert_int_equal(mt_memtable_add(plain, seq, type, key, key_len, value, value_len), MT_OK);
  }
  for (uint64_t snapshot = 0; snapshot <= 2 * versions + 1; snapshot++) {
    for (size_t k = 0; k < 3; k++) {
      size_t key_len = key_text(key, sizeof(key), k);
      mt_entry found, plain_found;
      mt_status status = mt_memtable_get_entry(table, key, key_len, snapshot, &found);
      mt_status plain_status = mt_memtable_get_entry(plain, key, key_len, snapshot, &plain_found);
      assert_int_equal(status, plain_status);
      /* The expected version: the newest of key k at or below the snapshot. */
      uint64_t newest = snapshot > 2 * versions ? 2 * versions : snapshot;
      if (k < 2 && newest % 2 != (k == 0 ? 1u : 0u)) newest = newest == 0 ? 0 : newest - 1;
      mt_status expected = k == 2 || newest == 0 ? MT_NOT_FOUND : newest % 7 == 0 ? MT_DELETED : MT_OK;
      assert_int_equal(status, expected);
      if (status == MT_OK || status == MT_DELETED) {
        assert_int_equal(found.seq, newest);
        assert_int_equal(plain_found.seq, newest);
        assert_true(value_matches(found.value, k, newest));
      }
    }
  }
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(plain);
  mt_memtable_unref(table);
}

static void point_index_test_old_snapshots_over_many_versions(void **state) {
  (void)state;
  run_old_snapshots(0);
  run_old_snapshots(8);
}

/* validate reads every slot: one damaged byte of any slot (used or empty) is MT_CORRUPTION, and so are
 * slots whose check byte was rewritten to match: naming an older version of the key, carrying another
 * tag, or naming a node outside the table. Undone, the table validates again. */
static void point_index_test_validate_detects_damaged_slots(void **state) {
  (void)state;
  mt_memtable *table = index_table(true, 16, 8, false);
  add_rounds(table, 2, 10);
  char key[32];
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  uint64_t slot_count = 0;
  _Atomic uint64_t *slots = mti_point_index_slots_for_testing(table, &slot_count);
  assert_non_null(slots);
  unsigned char *bytes = (unsigned char *)(void *)slots;
  uint64_t rng = 5;
  for (uint64_t i = 0; i < slot_count * 8; i++) {
    unsigned char mask = (unsigned char)(1 + mt_rng_below(&rng, 255));
    bytes[i] ^= mask;
    assert_int_equal(mt_memtable_validate(table), MT_CORRUPTION);
    bytes[i] ^= mask;
  }
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  /* Whole-slot rewrites with a matching check byte. key0's older version is its seq-1 entry. */
  const char *older = NULL;
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  assert_non_null(iter);
  size_t key_len = key_text(key, sizeof(key), 0);
  mt_memtable_iter_seek(iter, key, key_len, 1);
  assert_true(mt_memtable_iter_valid(iter) && mt_memtable_iter_seq(iter) == 1);
  older = mt_memtable_iter_entry(iter).data;
  mt_memtable_iter_destroy(iter);
  uint64_t rewritten = 0;
  for (uint64_t i = 0; i < slot_count; i++) {
    uint64_t original = atomic_load_explicit(&slots[i], memory_order_relaxed);
    if (original == 0) continue;
    const uint64_t body = original & ((UINT64_C(1) << 56) - 1);
    const uint64_t address_mask = (UINT64_C(1) << 48) - 1;
    const uint64_t forged[] = {
        index_slot_with_check((body & ~address_mask) | (uint64_t)(uintptr_t)older), /* an older version (or key0's) */
        index_slot_with_check(body ^ (UINT64_C(0x5a) << 48)),                       /* another tag */
        index_slot_with_check((body & ~address_mask) | (uint64_t)(uintptr_t)&rewritten), /* outside the table */
    };
    for (size_t f = 0; f < sizeof(forged) / sizeof(forged[0]); f++) {
      if (forged[f] == original) continue;
      atomic_store_explicit(&slots[i], forged[f], memory_order_relaxed);
      assert_int_equal(mt_memtable_validate(table), MT_CORRUPTION);
      rewritten++;
    }
    atomic_store_explicit(&slots[i], original, memory_order_relaxed);
  }
  assert_true(rewritten >= 10 * 2);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
}

/* Default sizing: write_buffer_size / MT_MEMTABLE_TYPICAL_ENTRY_BYTES keys at 10 bytes each (a line of
 * slots rounding), inside the memory usage; an explicit size is honoured. */
static void point_index_test_sizing_and_memory_usage(void **state) {
  (void)state;
  /* Off by default, from the macro and from the function alike. */
  mt_memtable_options defaults = MT_MEMTABLE_OPTIONS_INIT, initialised;
  mt_memtable_options_init(&initialised);
  assert_false(defaults.point_index || initialised.point_index);
  assert_int_equal(defaults.point_index_entries + initialised.point_index_entries, 0);
  mt_memtable *default_table = mt_memtable_create(NULL);
  assert_non_null(default_table);
  assert_int_equal(mt_memtable_point_index_memory(default_table), 0);
  assert_int_equal(mt_memtable_point_index_memory(NULL), 0);
  mt_memtable_unref(default_table);
  mt_memtable *plain = index_table(false, 0, 0, false);
  mt_memtable *table = index_table(true, 0, 0, false);
  size_t expected_keys = MT_MEMTABLE_DEFAULT_WRITE_BUFFER_SIZE / MT_MEMTABLE_TYPICAL_ENTRY_BYTES;
  size_t bytes = mt_memtable_point_index_memory(table);
  assert_true(bytes >= expected_keys * 10);
  assert_true(bytes <= expected_keys * 10 + 512);
  /* The slots are a block of their own; the header may share the table's first block. */
  assert_true(mt_memtable_approximate_memory_usage(table) >= mt_memtable_approximate_memory_usage(plain) + bytes - 512);
  mt_memtable *sized = index_table(true, 1000, 0, false);
  assert_true(mt_memtable_point_index_memory(sized) >= 10000 && mt_memtable_point_index_memory(sized) <= 10000 + 512);
  mt_memtable_unref(sized);
  mt_memtable_unref(table);
  mt_memtable_unref(plain);
}

static int case_folding(void *ctx, const char *a, size_t a_len, const char *b, size_t b_len) {
  (void)ctx;
  size_t common = a_len < b_len ? a_len : b_len;
  for (size_t i = 0; i < common; i++) {
    int x = a[i] >= 'A' && a[i] <= 'Z' ? a[i] - 'A' + 'a' : a[i];
    int y = b[i] >= 'A' && b[i] <= 'Z' ? b[i] - 'A' + 'a' : b[i];
    if (x != y) return x < y ? -1 : 1;
  }
  return (a_len > b_len) - (a_len < b_len);
}

static int reverse_bytewise(void *ctx, const char *a, size_t a_len, const char *b, size_t b_len) {
  (void)ctx;
  size_t common = a_len < b_len ? a_len : b_len;
  int order = common == 0 ? 0 : memcmp(a, b, common);
  if (order != 0) return -order;
  return (a_len < b_len) - (a_len > b_len);
}

/* A comparator whose equal keys may differ in bytes turns the index off (as the bloom filter): "Apple"
 * must find "apple". A custom comparator declared bytewise-equal keeps it. */
static void point_index_test_custom_comparator_disables_it(void **state) {
  (void)state;
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.point_index = true;
  options.compare = case_folding;
  mt_memtable *folded = mt_memtable_create(&options);
  assert_non_null(folded);
  assert_int_equal(mt_memtable_point_index_memory(folded), 0);
  assert_int_equal(mt_memtable_add(folded, 1, MT_TYPE_VALUE, "apple", 5, "red", 3), MT_OK);
  mt_slice value;
  assert_int_equal(mt_memtable_get(folded, "APPLE", 5, 1, &value), MT_OK);
  mt_memtable_unref(folded);

  options.compare = reverse_bytewise;
  options.bytewise_equal_keys = true;
  mt_memtable *reversed = mt_memtable_create(&options);
  assert_non_null(reversed);
  assert_true(mt_memtable_point_index_memory(reversed) > 0);
  assert_int_equal(mt_memtable_add(reversed, 1, MT_TYPE_VALUE, "a", 1, "1", 1), MT_OK);
  assert_int_equal(mt_memtable_add(reversed, 3, MT_TYPE_VALUE, "a", 1, "3", 1), MT_OK);
  assert_int_equal(mt_memtable_add(reversed, 2, MT_TYPE_DELETION, "b", 1, NULL, 0), MT_OK);
  assert_int_equal(mt_memtable_get(reversed, "a", 1, 2, &value), MT_OK);
  assert_true(value.len == 1 && value.data[0] == '1');
  assert_int_equal(mt_memtable_get(reversed, "a", 1, 5, &value), MT_OK);
  assert_true(value.len == 1 && value.data[0] == '3');
  assert_int_equal(mt_memtable_get(reversed, "b", 1, 5, &value), MT_DELETED);
  assert_int_equal(mt_memtable_get(reversed, "c", 1, 5, &value), MT_NOT_FOUND);
  mt_memtable_unref(reversed);
}

/* Every allocator call create makes fails in turn: MT_NOMEM, nothing leaked; then a capacity too small for
 * the slots is MT_FULL. */
static void point_index_test_allocation_failure_at_create(void **state) {
  (void)state;
  bool created = false;
  for (size_t k = 1; !created; k++) {
    assert_true(k < 50);
    test_allocator allocator = TEST_ALLOCATOR_INIT;
    allocator.fail_at = k;
    mt_memtable_options options;
    mt_memtable_options_init(&options);
    options.arena.allocator = test_allocator_hooks(&allocator);
    options.arena.block_size = 4096; /* the slots are a large request of their own */
    options.point_index = true;
    options.point_index_entries = 100000;
    mt_memtable *table;
    mt_status status = mt_memtable_try_create(&options, &table);
    if (status == MT_OK) {
      created = true;
      assert_true(mt_memtable_point_index_memory(table) >= 1000000);
      assert_int_equal(mt_memtable_add(table, 1, MT_TYPE_VALUE, "k", 1, "v", 1), MT_OK);
      assert_int_equal(mt_memtable_get(table, "k", 1, 1, NULL), MT_OK);
      mt_memtable_unref(table);
    } else {
      assert_int_equal(status, MT_NOMEM);
      assert_null(table);
      assert_true(allocator.failures > 0);
    }
    assert_int_equal(allocator.live_blocks, 0);
    assert_int_equal(allocator.bad_frees, 0);
  }
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.arena.capacity = 256 * 1024;
  options.point_index = true;
  options.point_index_entries = 100000;
  mt_memtable *table;
  assert_int_equal(mt_memtable_try_create(&options, &table), MT_FULL);
  assert_null(table);
}

/* One writer adds rounds of versions of every key (each round newer) while readers get random keys: a key a
 * reader has seen is never absent later, its seq never goes back, and each value names its key and seq. */
enum { RACE_KEYS = 64, MAX_THREADS = 4 };

typedef struct race {
  mt_memtable *table;
  _Atomic bool done;
  _Atomic uint64_t failures;
  uint64_t seed;
} race;

static void *race_reader(void *arg) {
  race *r = arg;
  uint64_t last_seen[RACE_KEYS] = {0};
  uint64_t rng = r->seed;
  char key[32];
  /* Acquire: pairs with the writer's release, so the last pass runs after every add. */
  for (bool last = false; !last;) {
    last = atomic_load_explicit(&r->done, memory_order_acquire);
    for (int i = 0; i < 200; i++) {
      size_t k = mt_rng_below(&rng, RACE_KEYS);
      size_t key_len = key_text(key, sizeof(key), k);
      mt_entry found;
      mt_status status = mt_memtable_get_entry(r->table, key, key_len, UINT64_MAX, &found);
      bool ok = status == MT_NOT_FOUND ? last_seen[k] == 0
                                       : status == MT_OK && found.seq >= last_seen[k] && value_matches(found.value, k, found.seq);
      if (!ok) {
        atomic_fetch_add_explicit(&r->failures, 1, memory_order_relaxed); /* relaxed: read after the join */
        continue;
      }
      if (status == MT_OK) last_seen[k] = found.seq;
    }
  }
  return NULL;
}

static void run_one_writer_with_readers(size_t index_entries) {
  race r = {index_table(true, index_entries, 8, false), false, 0, 7};
  thread_team readers;
  thread_team_start(&readers, race_reader, &r, 0, 2);
  char key[32], value[64];
  uint64_t seq = 1;
  for (int round = 0; round < RACE_ROUNDS / 10 + 2; round++) {
    for (size_t k = 0; k < RACE_KEYS; k++) {
      size_t key_len = key_text(key, sizeof(key), (k * 7 + (size_t)round) % RACE_KEYS);
      size_t value_len = value_text(value, sizeof(value), (k * 7 + (size_t)round) % RACE_KEYS, seq);
      assert_int_equal(mt_memtable_add(r.table, seq++, MT_TYPE_VALUE, key, key_len, value, value_len), MT_OK);
    }
  }
  /* Release: the readers' final pass sees every add. */
  atomic_store_explicit(&r.done, true, memory_order_release);
  thread_team_join(&readers);
  assert_int_equal(atomic_load_explicit(&r.failures, memory_order_relaxed), 0);
  mt_memtable_unref(r.table);
}

static void point_index_test_one_writer_readers_never_go_back(void **state) {
  (void)state;
  run_one_writer_with_readers(0);
  run_one_writer_with_readers(8); /* the index fills mid-run: later keys come from the skiplist */
}

/* 2-4 writers race versions of the same keys, sequence numbers dealt out of order; after the join every key
 * answers its newest version at every snapshot, as the model and a table without the index do. */
typedef struct writer_work {
  mt_memtable *table;
  const uint64_t *seqs;
  size_t first, count;
  thread_gate *gate;
  mt_status status;
} writer_work;

static size_t key_of_seq(uint64_t seq) { return (size_t)(mt_mix64(seq) % RACE_KEYS); }

static void *race_writer(void *arg) {
  writer_work *w = arg;
  char key[32], value[64];
  thread_gate_wait(w->gate);
  w->status = MT_OK;
  for (size_t i = w->first; i < w->first + w->count && w->status == MT_OK; i++) {
    size_t k = key_of_seq(w->seqs[i]);
    size_t key_len = key_text(key, sizeof(key), k);
    size_t value_len = value_text(value, sizeof(value), k, w->seqs[i]);
    w->status = mt_memtable_add(w->table, w->seqs[i], MT_TYPE_VALUE, key, key_len, value, value_len);
  }
  return NULL;
}

static void run_concurrent_writers(unsigned writers, size_t index_entries, uint64_t seed) {
  size_t adds = (size_t)RACE_ROUNDS * writers;
  uint64_t *seqs = malloc(adds * sizeof(*seqs));
  assert_non_null(seqs);
  uint64_t rng = seed;
  for (size_t i = 0; i < adds; i++) seqs[i] = i + 1;
  for (size_t i = adds - 1; i > 0; i--) {
    size_t j = mt_rng_below(&rng, i + 1);
    uint64_t t = seqs[i];
    seqs[i] = seqs[j];
    seqs[j] = t;
  }
  mt_memtable *table = index_table(true, index_entries, 0, true);
  thread_gate gate;
  assert_true(thread_gate_init(&gate, writers));
  writer_work work[MAX_THREADS];
  for (unsigned t = 0; t < writers; t++)
    work[t] = (writer_work){table, seqs, t * RACE_ROUNDS, RACE_ROUNDS, &gate, MT_OK};
  thread_team_run(race_writer, work, sizeof(work[0]), writers);
  for (unsigned t = 0; t < writers; t++) assert_int_equal(work[t].status, MT_OK);
  thread_gate_destroy(&gate);

  mt_memtable *plain = index_table(false, 0, 0, false);
  model m;
  model_init(&m, NULL);
  char key[32], value[64];
  for (size_t i = 0; i < adds; i++) {
    size_t k = key_of_seq(seqs[i]);
    size_t key_len = key_text(key, sizeof(key), k);
    size_t value_len = value_text(value, sizeof(value), k, seqs[i]);
    assert_int_equal(mt_memtable_add(plain, seqs[i], MT_TYPE_VALUE, key, key_len, value, value_len), MT_OK);
    model_add(&m, seqs[i], MT_TYPE_VALUE, key, key_len, value, value_len, i);
  }
  for (size_t k = 0; k < RACE_KEYS + 4; k++) {
    size_t key_len = key_text(key, sizeof(key), k);
    check_get(table, plain, &m, key, key_len, UINT64_MAX, seed, k);
    for (int s = 0; s < 8; s++) check_get(table, plain, &m, key, key_len, mt_rng_below(&rng, adds + 2), seed, k);
  }
  model_free(&m);
  mt_memtable_unref(plain);
  mt_memtable_unref(table);
  free(seqs);
}

static void point_index_test_concurrent_writers_newest_seq_wins(void **state) {
  (void)state;
  for (unsigned writers = 2; writers <= MAX_THREADS; writers++) {
    run_concurrent_writers(writers, 0, 100 + writers);
    run_concurrent_writers(writers, 16, 200 + writers); /* past the load limit mid-race */
  }
}

/* Growth under racing writers: GROWTH_WRITERS threads add distinct keys (and newer versions of their own
 * earlier keys) to a table whose index starts at 16 keys and grows many times while they race; after each
 * add returns its writer records the key's seq (release). Readers pick recorded keys at random and must find
 * each at that seq or newer, with its value: no add that returned is ever missed, across every growth. */
#ifdef MT_TEST_UNDER_TSAN
#define GROWTH_KEYS_PER_WRITER 1500
#else
#define GROWTH_KEYS_PER_WRITER 12000
#endif
#define GROWTH_WRITERS 4
#define GROWTH_READERS 2
#define GROWTH_KEYS (GROWTH_KEYS_PER_WRITER * GROWTH_WRITERS)

typedef struct growth_race {
  mt_memtable *table;
  _Atomic uint64_t recorded[GROWTH_KEYS]; /* 0: no add of the key returned yet */
  _Atomic unsigned writers_left;
  _Atomic uint64_t failures;
  mt_status writer_status[GROWTH_WRITERS]; /* each writer's own; read after the join */
} growth_race;

/* A writer's argument: the race and the writer's number. */
typedef struct growth_writer {
  growth_race *race;
  unsigned id;
} growth_writer;

static void *growth_writer_main(void *arg) {
  const growth_writer *self = arg;
  growth_race *r = self->race;
  const unsigned id = self->id;
  char key[32], value[64];
  uint64_t adds = 0;
  mt_status status = MT_OK;
  for (size_t j = 0; j < GROWTH_KEYS_PER_WRITER && status == MT_OK; j++) {
    /* Key j of this writer, then every other time a newer version of its key j / 2. */
    for (int again = 0; again < (j % 2 == 1 ? 2 : 1) && status == MT_OK; again++) {
      size_t k = (again == 0 ? j : j / 2) * GROWTH_WRITERS + id;
      uint64_t seq = adds++ * GROWTH_WRITERS + id + 1; /* unique, and rising for each writer's keys */
      size_t key_len = key_text(key, sizeof(key), k);
      size_t value_len = value_text(value, sizeof(value), k, seq);
      status = mt_memtable_add(r->table, seq, MT_TYPE_VALUE, key, key_len, value, value_len);
      /* Release: a reader that sees the seq sees the add done. */
      if (status == MT_OK) atomic_store_explicit(&r->recorded[k], seq, memory_order_release);
    }
  }
  r->writer_status[id] = status;
  /* Release: the readers' last pass follows every add. */
  atomic_fetch_sub_explicit(&r->writers_left, 1, memory_order_release);
  return NULL;
}

static void *growth_reader_main(void *arg) {
  growth_race *r = arg;
  uint64_t rng = (uint64_t)(uintptr_t)arg ^ 0x9e3779b97f4a7c15u;
  char key[32];
  /* Acquire: pairs with the writers' release, so the last pass runs after every add. */
  for (bool last = false; !last;) {
    last = atomic_load_explicit(&r->writers_left, memory_order_acquire) == 0;
    for (int i = 0; i < 500; i++) {
      size_t k = (size_t)mt_rng_below(&rng, GROWTH_KEYS);
      /* Acquire: pairs with the writer's release after its add. */
      uint64_t recorded = atomic_load_explicit(&r->recorded[k], memory_order_acquire);
      if (recorded == 0) continue;
      size_t key_len = key_text(key, sizeof(key), k);
      mt_entry found;
      mt_status status = mt_memtable_get_entry(r->table, key, key_len, UINT64_MAX, &found);
      if (status != MT_OK || found.seq < recorded || !value_matches(found.value, k, found.seq)) {
        atomic_fetch_add_explicit(&r->failures, 1, memory_order_relaxed); /* relaxed: read after the join */
      }
    }
  }
  return NULL;
}

static void point_index_test_growth_under_racing_writers_loses_no_key(void **state) {
  (void)state;
  growth_race *r = calloc(1, sizeof(*r));
  assert_non_null(r);
  r->table = index_table(true, 16, 8, true);
  size_t initial = mt_memtable_point_index_memory(r->table);
  atomic_init(&r->writers_left, GROWTH_WRITERS);
  atomic_init(&r->failures, 0);
  for (size_t k = 0; k < GROWTH_KEYS; k++) atomic_init(&r->recorded[k], 0);
  thread_team readers;
  thread_team_start(&readers, growth_reader_main, r, 0, GROWTH_READERS);
  growth_writer writers[GROWTH_WRITERS];
  for (unsigned t = 0; t < GROWTH_WRITERS; t++) writers[t] = (growth_writer){r, t};
  thread_team_run(growth_writer_main, writers, sizeof(writers[0]), GROWTH_WRITERS);
  thread_team_join(&readers);
  for (unsigned t = 0; t < GROWTH_WRITERS; t++) assert_int_equal(r->writer_status[t], MT_OK);
  assert_int_equal(atomic_load_explicit(&r->failures, memory_order_relaxed), 0);
  assert_true(mt_memtable_point_index_memory(r->table) > 64 * initial);
  /* After the join: every key at its newest seq, and the index whole. */
  char key[32];
  for (size_t k = 0; k < GROWTH_KEYS; k++) {
    size_t key_len = key_text(key, sizeof(key), k);
    mt_entry found;
    assert_int_equal(mt_memtable_get_entry(r->table, key, key_len, UINT64_MAX, &found), MT_OK);
    assert_int_equal(found.seq, atomic_load_explicit(&r->recorded[k], memory_order_relaxed));
  }
  assert_int_equal(mt_memtable_validate(r->table), MT_OK);
  mt_memtable_memory_stats stats;
  assert_int_equal(mt_memtable_get_memory_stats(r->table, &stats), MT_OK);
  /* Memory was never short: the index holds every key. */
  assert_int_equal(stats.index_keys, GROWTH_KEYS);
  assert_int_equal(stats.index_refused_adds, 0);
  mt_memtable_unref(r->table);
  free(r);
}

/* Slot damage: the answers of gets and batched gets of every key (present, absent) at a few snapshots. */
#define SLOT_DAMAGE_KEYS 48
#define SLOT_DAMAGE_PROBES (SLOT_DAMAGE_KEYS + 16)
#define SLOT_DAMAGE_SNAPSHOTS 3

typedef struct slot_damage_answer {
  mt_status status;
  uint64_t seq;
  const char *value;
} slot_damage_answer;

static const uint64_t slot_damage_snapshots[SLOT_DAMAGE_SNAPSHOTS] = {40, 90, UINT64_MAX};

/* answers[SLOT_DAMAGE_SNAPSHOTS][2][SLOT_DAMAGE_PROBES]: get_entry's and get_batch's. */
static void slot_damage_answers(const mt_memtable *table, slot_damage_answer *answers) {
  char keys[SLOT_DAMAGE_PROBES][32];
  mt_slice slices[SLOT_DAMAGE_PROBES];
  for (size_t k = 0; k < SLOT_DAMAGE_PROBES; k++) slices[k] = (mt_slice){keys[k], key_text(keys[k], 32, k)};
  for (size_t s = 0; s < SLOT_DAMAGE_SNAPSHOTS; s++) {
    slot_damage_answer *single = answers + s * 2 * SLOT_DAMAGE_PROBES;
    slot_damage_answer *batched = single + SLOT_DAMAGE_PROBES;
    for (size_t k = 0; k < SLOT_DAMAGE_PROBES; k++) {
      mt_entry found = {{NULL, 0}, 0, MT_TYPE_VALUE, {NULL, 0}};
      single[k].status = mt_memtable_get_entry(table, slices[k].data, slices[k].len, slot_damage_snapshots[s], &found);
      single[k].seq = found.seq;
      single[k].value = found.value.data;
    }
    mt_status statuses[SLOT_DAMAGE_PROBES];
    mt_slice values[SLOT_DAMAGE_PROBES];
    memset(values, 0, sizeof(values));
    assert_int_equal(mt_memtable_get_batch(table, slices, SLOT_DAMAGE_PROBES, slot_damage_snapshots[s], statuses, values),
                     MT_OK);
    for (size_t k = 0; k < SLOT_DAMAGE_PROBES; k++) {
      batched[k].status = statuses[k];
      batched[k].seq = 0;
      batched[k].value = statuses[k] == MT_OK ? values[k].data : NULL;
    }
  }
}

/* With 4- or 8-byte checksums, one damaged byte of any slot of the index (used or empty), by any mask, never
 * changes an answer: each get and batched get answers exactly as undamaged or MT_CORRUPTION (and under ASan
 * reads nothing outside the table), and validate reports every such damage. The index was sized for 16
 * keys and grew, so the slots damaged are those of a grown table. */
static void run_slot_damage(unsigned checksum_bytes, uint64_t seed) {
  mt_memtable *table = index_table(true, 16, checksum_bytes, false);
  char key[32], value[64];
  uint64_t rng = seed;
  /* 1-3 versions a key, seqs 1.. dealt in random key order, every 5th version a tombstone. */
  uint64_t seq = 1;
  for (int round = 0; round < 3; round++) {
    for (size_t i = 0; i < SLOT_DAMAGE_KEYS; i++) {
      size_t k = (size_t)mt_rng_below(&rng, SLOT_DAMAGE_KEYS);
      if (round > 0 && mt_rng_below(&rng, 2) == 0) continue;
      size_t key_len = key_text(key, sizeof(key), k);
      size_t value_len = value_text(value, sizeof(value), k, seq);
      mt_entry_type type = seq % 5 == 0 ? MT_TYPE_DELETION : MT_TYPE_VALUE;
      assert_int_equal(mt_memtable_add(table, seq++, type, key, key_len, value, value_len), MT_OK);
    }
  }
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  const size_t answer_count = SLOT_DAMAGE_SNAPSHOTS * 2 * SLOT_DAMAGE_PROBES;
  slot_damage_answer *undamaged = calloc(answer_count, sizeof(*undamaged));
  slot_damage_answer *damaged = calloc(answer_count, sizeof(*damaged));
  assert_non_null(undamaged);
  assert_non_null(damaged);
  slot_damage_answers(table, undamaged);
  size_t found_keys = 0;
  for (size_t a = 0; a < answer_count; a++) found_keys += undamaged[a].status == MT_OK;
  assert_true(found_keys > answer_count / 4);
  uint64_t slot_count = 0;
  _Atomic uint64_t *slots = mti_point_index_slots_for_testing(table, &slot_count);
  assert_non_null(slots);
  assert_true(slot_count > 24); /* grown past its first line-rounded 24 slots */
  unsigned char *bytes = (unsigned char *)(void *)slots;
  size_t trials = 0, detected = 0;
  for (uint64_t i = 0; i < slot_count * 8; i++) {
    const unsigned char masks[3] = {0x01, 0x80, (unsigned char)(1 + mt_rng_below(&rng, 255))};
    for (size_t m = 0; m < 3; m++) {
      bytes[i] ^= masks[m];
      trials++;
      slot_damage_answers(table, damaged);
      bool any = false;
      for (size_t a = 0; a < answer_count; a++) {
        bool same = damaged[a].status == undamaged[a].status && damaged[a].seq == undamaged[a].seq &&
                    damaged[a].value == undamaged[a].value;
        if (!same && damaged[a].status != MT_CORRUPTION) {
          bytes[i] ^= masks[m];
          fail_msg("seed %" PRIu64 " checksum_bytes %u: slot byte %" PRIu64 " ^ 0x%02x changed answer %zu: %s seq %" PRIu64
                   " (undamaged %s seq %" PRIu64 ")",
                   seed, checksum_bytes, i, masks[m], a, mt_status_str(damaged[a].status), damaged[a].seq,
                   mt_status_str(undamaged[a].status), undamaged[a].seq);
        }
        any |= !same;
      }
      detected += any;
      assert_int_equal(mt_memtable_validate(table), MT_CORRUPTION);
      bytes[i] ^= masks[m];
    }
  }
  /* Damage to slots on the probed keys' runs is seen by their gets. */
  assert_true(detected > trials / 4);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  free(damaged);
  free(undamaged);
  mt_memtable_unref(table);
}

static void point_index_test_slot_damage_never_changes_an_answer(void **state) {
  (void)state;
  run_slot_damage(8, 31);
  run_slot_damage(4, 32);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(point_index_test_model_random_versions_and_tombstones),
      cmocka_unit_test(point_index_test_model_with_checksums),
      cmocka_unit_test(point_index_test_full_index_falls_back_to_the_skiplist),
      cmocka_unit_test(point_index_test_grows_past_its_sizing_and_stays_exact),
      cmocka_unit_test(point_index_test_indexed_keys_stay_exact_when_growth_fails),
      cmocka_unit_test(point_index_test_old_snapshots_over_many_versions),
      cmocka_unit_test(point_index_test_validate_detects_damaged_slots),
      cmocka_unit_test(point_index_test_slot_damage_never_changes_an_answer),
      cmocka_unit_test(point_index_test_growth_under_racing_writers_loses_no_key),
      cmocka_unit_test(point_index_test_sizing_and_memory_usage),
      cmocka_unit_test(point_index_test_custom_comparator_disables_it),
      cmocka_unit_test(point_index_test_allocation_failure_at_create),
      cmocka_unit_test(point_index_test_one_writer_readers_never_go_back),
      cmocka_unit_test(point_index_test_concurrent_writers_newest_seq_wins),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
