/* memtable_get_batch_test: mt_memtable_get_batch answers every key exactly as mt_memtable_get does - on random
 * tables (versions, tombstones, snapshots, missing and repeated keys, long keys, bloom filter, custom
 * comparator, checksums 0/4/8) checked against single gets and the reference model, on damaged entries,
 * for bad arguments and when the reader allocator fails - and readers batching while writers add see
 * everything added before they started and never an older version than they saw before. */
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
#include "support/check.h"
#include "support/damage_table.h"
#include "support/memtable_checks.h"
#include "support/model.h"
#include "support/rng.h"
#include "support/thread_team.h"
#include "support/tsan.h"

/* ---- random tables against single gets and the model ---- */

/* Reverse bytewise: keys equal only when bytewise equal, so the bloom filter may stay on. */
static int reverse_bytewise(const char *a, size_t a_len, const char *b, size_t b_len) {
  return -model_bytewise(a, a_len, b, b_len);
}

static int reverse_compare_hook(void *ctx, const char *a, size_t a_len, const char *b, size_t b_len) {
  (void)ctx;
  return reverse_bytewise(a, a_len, b, b_len);
}

#define KEY_SPACE 160
#define MAX_TEST_KEY 320

/* Key i of the space: short ones, and every 7th long (above the batch's 256-byte lookup keys) or on the
 * boundary (246 bytes: a 256-byte lookup key; 247: one byte more). */
static size_t space_key(size_t i, char *out) {
  size_t len = 8;
  if (i % 7 == 3) len = 300;
  if (i % 23 == 5) len = 246;
  if (i % 23 == 6) len = 247;
  if (i % 31 == 0) len = 0;
  for (size_t b = 0; b < len; b++) out[b] = (char)('a' + (i * 7 + b * 3) % 26);
  if (len >= 4) snprintf(out, 5, "%04zu", i);
  if (len >= 4) out[4] = '-';
  return len;
}

typedef struct batch_config {
  unsigned checksum_bytes;
  unsigned bloom_bits;
  bool reverse;
  unsigned point_index; /* 0: off; 1: sized for 8 keys, so most answers come from the fallback search; 2: default size */
} batch_config;

static const char untouched[] = "untouched";

static void check_batch_against_singles(const mt_memtable *table, const model *m, const mt_slice *keys, size_t count,
                                        uint64_t snapshot, uint64_t seed, size_t round) {
  mt_status statuses[400];
  mt_slice values[400];
  assert_true(count <= 400);
  for (size_t i = 0; i < count; i++) values[i] = (mt_slice){untouched, 9};
  assert_int_equal(mt_memtable_get_batch(table, keys, count, snapshot, statuses, values), MT_OK);
  for (size_t i = 0; i < count; i++) {
    mt_slice single = {untouched, 9};
    mt_status expected = mt_memtable_get(table, keys[i].data, keys[i].len, snapshot, &single);
    MT_CHECK_SEEDED_STEP(statuses[i] == expected, seed, "get_batch status equals mt_memtable_get", round);
    MT_CHECK_SEEDED_STEP(values[i].data == single.data && values[i].len == single.len, seed,
                         "get_batch value equals mt_memtable_get's (the same stored bytes)", round);
    const model_entry *e = model_get(m, keys[i].data, keys[i].len, model_clamp_snapshot(snapshot));
    mt_status modelled = e == NULL ? MT_NOT_FOUND : e->type == MT_TYPE_DELETION ? MT_DELETED : MT_OK;
    MT_CHECK_SEEDED_STEP(statuses[i] == modelled, seed, "get_batch status equals the model's", round);
    if (modelled == MT_OK) {
      MT_CHECK_SEEDED_STEP(values[i].len == e->value_len && memcmp(values[i].data, e->value, e->value_len) == 0,
                           seed, "get_batch value equals the model's", round);
    } else {
      MT_CHECK_SEEDED_STEP(values[i].data == untouched, seed, "get_batch leaves values[i] alone unless MT_OK", round);
    }
  }
}

static void run_random(batch_config config, uint64_t seed) {
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.checksum_bytes = config.checksum_bytes;
  options.bloom_bits_per_key = config.bloom_bits;
  options.seed = seed;
  options.point_index = config.point_index != 0;
  options.point_index_entries = config.point_index == 1 ? 8 : 0;
  if (config.reverse) {
    options.compare = reverse_compare_hook;
    options.bytewise_equal_keys = true;
  }
  mt_memtable *table = new_table(&options);
  assert_int_equal(mt_memtable_point_index_memory(table) != 0, config.point_index != 0);
  model m;
  model_init(&m, config.reverse ? reverse_bytewise : NULL);
  uint64_t rng = seed;
  static char space[KEY_SPACE][MAX_TEST_KEY];
  size_t space_len[KEY_SPACE];
  for (size_t i = 0; i < KEY_SPACE; i++) space_len[i] = space_key(i, space[i]);
  /* Keys 0 .. KEY_SPACE/2 are added (several versions, some deleted); the rest stay missing. */
  uint64_t seq = 0;
  for (size_t n = 0; n < 400; n++) {
    size_t k = mt_rng_below(&rng, KEY_SPACE / 2);
    mt_entry_type type = mt_rng_below(&rng, 5) == 0 ? MT_TYPE_DELETION : MT_TYPE_VALUE;
    char value[32];
    int value_len = snprintf(value, sizeof(value), "v%zu@%" PRIu64, k, seq + 1);
    seq++;
    assert_int_equal(mt_memtable_add(table, seq, type, space[k], space_len[k], value, (size_t)value_len), MT_OK);
    assert_true(model_add(&m, seq, type, space[k], space_len[k], value, (size_t)value_len, 0));
  }
  const uint64_t snapshots[] = {0, 1, seq / 4, seq / 2, seq - 1, seq, MT_MAX_SEQUENCE, UINT64_MAX};
  /* Counts around the in-flight window (16) and the batch's rounds (64 keys, 4 KiB of lookup keys). */
  const size_t counts[] = {0, 1, 2, 15, 16, 17, 33, 63, 64, 65, 129, 400};
  mt_slice keys[400];
  size_t round = 0;
  for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
    for (size_t s = 0; s < sizeof(snapshots) / sizeof(snapshots[0]); s++, round++) {
      for (size_t i = 0; i < counts[c]; i++) {
        /* A quarter repeat an earlier key of the batch. */
        if (i > 0 && mt_rng_below(&rng, 4) == 0) {
          keys[i] = keys[mt_rng_below(&rng, i)];
        } else {
          size_t k = mt_rng_below(&rng, KEY_SPACE);
          keys[i] = (mt_slice){space[k], space_len[k]};
        }
      }
      check_batch_against_singles(table, &m, keys, counts[c], snapshots[s], seed, round);
    }
  }
  /* All long keys at once: several rounds of lookup keys. */
  size_t count = 0;
  for (size_t i = 0; i < KEY_SPACE; i++) {
    if (space_len[i] > 200) keys[count++] = (mt_slice){space[i], space_len[i]};
  }
  check_batch_against_singles(table, &m, keys, count, MT_MAX_SEQUENCE, seed, round);
  model_free(&m);
  mt_memtable_unref(table);
}

static void memtable_get_batch_test_random_tables_match_single_gets_and_model(void **state) {
  (void)state;
  static const unsigned checksums[] = {0, 4, 8};
  uint64_t seed = 0x6a7b;
  for (size_t c = 0; c < 3; c++) {
    for (unsigned bloom = 0; bloom <= 10; bloom += 10) {
      for (int reverse = 0; reverse <= 1; reverse++) {
        for (unsigned index = 0; index <= 2; index++) {
          batch_config config = {checksums[c], bloom, reverse != 0, index};
          run_random(config, seed++);
        }
      }
    }
  }
}

/* ---- damaged entries ---- */

/* The damage table (support/damage_table.h), its entries in blocks of their own. */
static mt_memtable *damage_table(unsigned checksum_bytes) {
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.checksum_bytes = checksum_bytes;
  options.arena.block_size = 256;
  mt_memtable *table = new_table(&options);
  damage_table_add_versions(table, false);
  return table;
}

#define DAMAGE_PROBES 17 /* 'a' .. 'q': every key and every gap */

/* A batch of every probe (twice, the second time reversed) at each snapshot, against single gets. */
static void damaged_batches_match_singles(const mt_memtable *table, const char *what, size_t entry, size_t offset) {
  static const uint64_t snapshots[] = {0, 3, 7, 12, 17, UINT64_MAX};
  static char probes[DAMAGE_PROBES];
  for (size_t p = 0; p < DAMAGE_PROBES; p++) probes[p] = (char)('a' + p);
  mt_slice keys[2 * DAMAGE_PROBES];
  for (size_t p = 0; p < DAMAGE_PROBES; p++) {
    keys[p] = (mt_slice){&probes[p], 1};
    keys[2 * DAMAGE_PROBES - 1 - p] = (mt_slice){&probes[p], 1};
  }
  for (size_t s = 0; s < sizeof(snapshots) / sizeof(snapshots[0]); s++) {
    mt_status statuses[2 * DAMAGE_PROBES];
    mt_slice values[2 * DAMAGE_PROBES];
    assert_int_equal(mt_memtable_get_batch(table, keys, 2 * DAMAGE_PROBES, snapshots[s], statuses, values), MT_OK);
    for (size_t i = 0; i < 2 * DAMAGE_PROBES; i++) {
      mt_slice single = {NULL, 0};
      mt_status expected = mt_memtable_get(table, keys[i].data, 1, snapshots[s], &single);
      if (statuses[i] != expected || (expected == MT_OK && values[i].data != single.data)) {
        fail_msg("%s: entry %zu byte %zu damaged: get_batch('%c', %" PRIu64 ") = %s, mt_memtable_get = %s", what,
                 entry, offset, keys[i].data[0], snapshots[s], mt_status_str(statuses[i]), mt_status_str(expected));
      }
    }
  }
}

static void run_damage(unsigned checksum_bytes, size_t first_offset, size_t last_offset) {
  mt_memtable *table = damage_table(checksum_bytes);
  char *entries[32];
  size_t sizes[32];
  size_t count = 0;
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  assert_non_null(iter);
  for (mt_memtable_iter_seek_to_first(iter); mt_memtable_iter_valid(iter); mt_memtable_iter_next(iter)) {
    mt_slice raw = mt_memtable_iter_entry(iter);
    /* The test damages the table's memory on purpose: the bytes are the arena's, handed out const. */
    entries[count] = (char *)(uintptr_t)raw.data;
    sizes[count++] = raw.len + checksum_bytes;
  }
  mt_memtable_iter_destroy(iter);
  assert_int_equal(count, 18);
  damaged_batches_match_singles(table, "undamaged", 0, 0);
  static const unsigned char masks[] = {0x01, 0x80, 0xff};
  size_t corruptions_seen = 0;
  for (size_t e = 0; e < count; e++) {
    size_t last = last_offset < sizes[e] ? last_offset : sizes[e] - 1;
    for (size_t offset = first_offset; offset <= last; offset++) {
      for (size_t k = 0; k < sizeof(masks); k++) {
        char original = entries[e][offset];
        entries[e][offset] = (char)(original ^ masks[k]);
        damaged_batches_match_singles(table, checksum_bytes ? "checksummed" : "no checksum", e, offset);
        char probe = entries[e][1];
        mt_status status = mt_memtable_get(table, &probe, 1, UINT64_MAX, NULL);
        if (status == MT_CORRUPTION) corruptions_seen++;
        entries[e][offset] = original;
      }
    }
  }
  /* The damage did reach the answers (so the comparison above compared something). */
  assert_true(corruptions_seen > 0);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
}

static void memtable_get_batch_test_damaged_entries_answer_as_single_gets(void **state) {
  (void)state;
  run_damage(8, 0, SIZE_MAX);
  run_damage(4, 0, SIZE_MAX);
  /* Without checksums a damaged length could send any reader out of the entry: the key, tag and value
   * bytes only (offset 1 on: the key, its tag, the value length and value). */
  run_damage(0, 1, SIZE_MAX);
}

/* ---- arguments and allocation failure ---- */

static void memtable_get_batch_test_invalid_arguments(void **state) {
  (void)state;
  mt_memtable *table = new_table(NULL);
  put(table, 1, "a", "apple");
  mt_slice keys[4] = {{"a", 1}, {NULL, 3}, {"a", MT_MAX_KEY_LEN + 1}, {NULL, 0}};
  mt_status statuses[4] = {MT_OK, MT_OK, MT_OK, MT_OK};
  mt_slice values[4];
  assert_int_equal(mt_memtable_get_batch(NULL, keys, 1, 1, statuses, values), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_get_batch(NULL, NULL, 0, 1, NULL, NULL), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_get_batch(table, NULL, 1, 1, statuses, values), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_get_batch(table, keys, 1, 1, NULL, values), MT_INVALID_ARGUMENT);
  assert_int_equal(statuses[0], MT_OK); /* nothing written */
  assert_int_equal(mt_memtable_get_batch(table, NULL, 0, 1, NULL, NULL), MT_OK);
  /* Bad keys answer MT_INVALID_ARGUMENT each, as mt_memtable_get does; the others are unaffected. NULL
   * with length 0 is the empty key (absent here). */
  assert_int_equal(mt_memtable_get_batch(table, keys, 4, 1, statuses, values), MT_OK);
  assert_int_equal(statuses[0], MT_OK);
  assert_slice_str(values[0], "apple");
  assert_int_equal(statuses[1], MT_INVALID_ARGUMENT);
  assert_int_equal(statuses[2], MT_INVALID_ARGUMENT);
  assert_int_equal(statuses[3], MT_NOT_FOUND);
  assert_int_equal(mt_memtable_get(table, NULL, 3, 1, NULL), MT_INVALID_ARGUMENT);
  /* values may be NULL. */
  assert_int_equal(mt_memtable_get_batch(table, keys, 4, 1, statuses, NULL), MT_OK);
  assert_int_equal(statuses[0], MT_OK);
  assert_int_equal(statuses[1], MT_INVALID_ARGUMENT);
  mt_memtable_unref(table);
}

static void memtable_get_batch_test_reader_allocator_failure_is_per_key(void **state) {
  (void)state;
  test_allocator allocator = TEST_ALLOCATOR_INIT;
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.reader_allocator = test_allocator_hooks(&allocator);
  mt_memtable *table = new_table(&options);
  char long_key[300];
  memset(long_key, 'L', sizeof(long_key));
  put(table, 1, "a", "apple");
  assert_int_equal(mt_memtable_add(table, 2, MT_TYPE_VALUE, long_key, sizeof(long_key), "long", 4), MT_OK);
  put(table, 3, "z", "zebra");
  mt_slice keys[5] = {{"a", 1}, {long_key, sizeof(long_key)}, {"z", 1}, {long_key, sizeof(long_key)}, {"m", 1}};
  mt_status statuses[5];
  mt_slice values[5];
  allocator.fail_at = 1;
  allocator.fail_after = true;
  assert_int_equal(mt_memtable_get_batch(table, keys, 5, MT_MAX_SEQUENCE, statuses, values), MT_OK);
  assert_int_equal(statuses[0], MT_OK);
  assert_slice_str(values[0], "apple");
  assert_int_equal(statuses[1], MT_NOMEM);
  assert_int_equal(statuses[2], MT_OK);
  assert_slice_str(values[2], "zebra");
  assert_int_equal(statuses[3], MT_NOMEM);
  assert_int_equal(statuses[4], MT_NOT_FOUND);
  assert_int_equal(allocator.failures, 2); /* only the long keys asked */
  /* The table is unharmed: once the allocator recovers the long key is found, and nothing leaked. */
  allocator.fail_at = 0;
  allocator.fail_after = false;
  assert_int_equal(mt_memtable_get_batch(table, keys, 5, MT_MAX_SEQUENCE, statuses, values), MT_OK);
  assert_int_equal(statuses[1], MT_OK);
  assert_slice_str(values[1], "long");
  assert_int_equal(statuses[3], MT_OK);
  assert_int_equal(allocator.live_blocks, 0);
  assert_int_equal(allocator.bad_frees, 0);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
}

/* ---- readers batching while writers add ---- */

#ifdef MT_TEST_UNDER_TSAN
#define RACE_KEYS 48
#define RACE_ROUNDS 12
#else
#define RACE_KEYS 400
#define RACE_ROUNDS 40
#endif
#define RACE_READERS 2

/* Round r of key k: seq r * RACE_KEYS + k + 1, value "k:r". Round 0 is added before the readers start. */
typedef struct race {
  mt_memtable *table;
  unsigned writers;
  atomic_bool done;
  char keys[RACE_KEYS][8];
} race;

typedef struct race_writer {
  race *shared;
  unsigned index;
} race_writer;

static void race_add(race *shared, size_t k, unsigned round) {
  char value[24];
  int len = snprintf(value, sizeof(value), "%zu:%u", k, round);
  uint64_t seq = (uint64_t)round * RACE_KEYS + k + 1;
  mt_status status = mt_memtable_add(shared->table, seq, MT_TYPE_VALUE, shared->keys[k], 6, value, (size_t)len);
  if (status != MT_OK) mt_support_fail("race: add key %zu round %u: %s", k, round, mt_status_str(status));
}

static void *race_writer_main(void *arg) {
  race_writer *self = arg;
  race *shared = self->shared;
  for (unsigned round = 1; round <= RACE_ROUNDS; round++) {
    for (size_t k = self->index; k < RACE_KEYS; k += shared->writers) race_add(shared, k, round);
  }
  return NULL;
}

/* The round a found value names, after checking it belongs to key k; -1 when it does not. */
static long value_round(mt_slice value, size_t k) {
  char text[24];
  if (value.len == 0 || value.len >= sizeof(text)) return -1;
  memcpy(text, value.data, value.len);
  text[value.len] = '\0';
  size_t key = 0;
  unsigned round = 0;
  if (sscanf(text, "%zu:%u", &key, &round) != 2 || key != k || round > RACE_ROUNDS) return -1;
  return (long)round;
}

static void *race_reader_main(void *arg) {
  race *shared = arg;
  long seen[RACE_KEYS];
  for (size_t k = 0; k < RACE_KEYS; k++) seen[k] = 0;
  mt_slice keys[RACE_KEYS + 8];
  size_t index[RACE_KEYS + 8];
  mt_status statuses[RACE_KEYS + 8];
  mt_slice values[RACE_KEYS + 8];
  uint64_t rng = (uint64_t)(uintptr_t)&seen;
  bool last = false;
  while (!last) {
    /* Acquire: pairs with the main thread's release once the writers are joined, so the batch after it
     * must see every round. */
    last = atomic_load_explicit(&shared->done, memory_order_acquire);
    size_t count = 0;
    for (size_t k = 0; k < RACE_KEYS; k++) index[count++] = k;
    for (size_t r = 0; r < 8; r++) index[count++] = mt_rng_below(&rng, RACE_KEYS); /* repeats */
    for (size_t i = count - 1; i > 0; i--) {
      size_t j = mt_rng_below(&rng, i + 1);
      size_t t = index[i];
      index[i] = index[j];
      index[j] = t;
    }
    for (size_t i = 0; i < count; i++) keys[i] = (mt_slice){shared->keys[index[i]], 6};
    /* At the snapshot of round 0, every key answers round 0 whatever the writers do. */
    uint64_t snapshot = mt_rng_below(&rng, 4) == 0 ? RACE_KEYS : MT_MAX_SEQUENCE;
    if (mt_memtable_get_batch(shared->table, keys, count, snapshot, statuses, values) != MT_OK)
      mt_support_fail("race: get_batch failed");
    long batch_min[RACE_KEYS], batch_max[RACE_KEYS];
    for (size_t k = 0; k < RACE_KEYS; k++) {
      batch_min[k] = RACE_ROUNDS + 1;
      batch_max[k] = -1;
    }
    for (size_t i = 0; i < count; i++) {
      size_t k = index[i];
      if (statuses[i] != MT_OK) mt_support_fail("race: key %zu: %s (added before the reader)", k,
                                                mt_status_str(statuses[i]));
      long round = value_round(values[i], k);
      if (round < 0) mt_support_fail("race: key %zu: a value of another key or round", k);
      if (snapshot != MT_MAX_SEQUENCE && round != 0) mt_support_fail("race: key %zu: round %ld above the snapshot", k, round);
      if (round < batch_min[k]) batch_min[k] = round;
      if (round > batch_max[k]) batch_max[k] = round;
    }
    for (size_t k = 0; k < RACE_KEYS; k++) {
      if (snapshot != MT_MAX_SEQUENCE) continue;
      /* Versions never go back: this batch saw at least what earlier batches saw. */
      if (batch_min[k] < seen[k]) mt_support_fail("race: key %zu went back from round %ld to %ld", k, seen[k],
                                                  batch_min[k]);
      seen[k] = batch_max[k];
      if (last && batch_min[k] != RACE_ROUNDS) mt_support_fail("race: key %zu: round %ld after the writers joined",
                                                               k, batch_min[k]);
    }
    if (last && snapshot != MT_MAX_SEQUENCE) last = false; /* the final check needs the newest snapshot */
  }
  return NULL;
}

static void run_race(unsigned writers) {
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.concurrent_writes = writers > 1;
  options.checksum_bytes = 4;
  options.bloom_bits_per_key = 10;
  static race shared;
  shared.table = new_table(&options);
  shared.writers = writers;
  atomic_init(&shared.done, false);
  for (size_t k = 0; k < RACE_KEYS; k++) snprintf(shared.keys[k], sizeof(shared.keys[k]), "k%05zu", k);
  for (size_t k = 0; k < RACE_KEYS; k++) race_add(&shared, k, 0);
  race_writer writer_args[2];
  for (unsigned w = 0; w < writers; w++) writer_args[w] = (race_writer){&shared, w};
  thread_team readers;
  thread_team_start(&readers, race_reader_main, &shared, 0, RACE_READERS);
  thread_team_run(race_writer_main, writer_args, sizeof(writer_args[0]), writers);
  /* Release: the readers' next acquire of done sees every add (see race_reader_main). */
  atomic_store_explicit(&shared.done, true, memory_order_release);
  thread_team_join(&readers);
  assert_int_equal(mt_memtable_entry_count(shared.table), (uint64_t)RACE_KEYS * (RACE_ROUNDS + 1));
  assert_int_equal(mt_memtable_validate(shared.table), MT_OK);
  mt_memtable_unref(shared.table);
}

static void memtable_get_batch_test_readers_batch_while_one_writer_adds(void **state) {
  (void)state;
  run_race(1);
}

static void memtable_get_batch_test_readers_batch_while_two_concurrent_writers_add(void **state) {
  (void)state;
  run_race(2);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(memtable_get_batch_test_random_tables_match_single_gets_and_model),
      cmocka_unit_test(memtable_get_batch_test_damaged_entries_answer_as_single_gets),
      cmocka_unit_test(memtable_get_batch_test_invalid_arguments),
      cmocka_unit_test(memtable_get_batch_test_reader_allocator_failure_is_per_key),
      cmocka_unit_test(memtable_get_batch_test_readers_batch_while_one_writer_adds),
      cmocka_unit_test(memtable_get_batch_test_readers_batch_while_two_concurrent_writers_add),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
