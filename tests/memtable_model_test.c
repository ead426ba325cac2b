/* memtable_model_test: a long randomized run of adds, gets and iterator moves, checked step by step against
 * the reference model (support/model.h). */
#include "support/test_util.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/memtable.h>

#include "support/check.h"
#include "support/memtable_checks.h"
#include "support/model.h"
#include "support/rng.h"

#define MODEL_KEYS 257
#define MODEL_MAX_KEY 12
#define MODEL_MAX_VALUE 31
#define MODEL_SEQ_RANGE 30000
#define MODEL_OPERATIONS 100000

/* The keys the run adds to: distinct, bytewise ascending. */
typedef struct key_pool {
  char data[MODEL_KEYS][MODEL_MAX_KEY];
  size_t len[MODEL_KEYS];
} key_pool;

static uint64_t model_seed;
static size_t model_operation;
static const char *model_operation_name = "setup";

#define MODEL_CHECK(condition) MT_CHECK_SEEDED_STEP(condition, model_seed, model_operation_name, model_operation)

static void random_model_key(uint64_t *rng, char *data, size_t *len) {
  static const char alphabet[] = {0x00, 0x01, 'a', 'b', 'c', 0x7f, (char)0x80, (char)0xfe, (char)0xff};
  *len = mt_rng_below(rng, MODEL_MAX_KEY + 1);
  for (size_t i = 0; i < *len; i++) data[i] = alphabet[mt_rng_below(rng, sizeof(alphabet))];
}

typedef struct pool_key {
  char data[MODEL_MAX_KEY];
  size_t len;
} pool_key;

static int pool_key_compare(const void *a, const void *b) {
  const pool_key *x = a;
  const pool_key *y = b;
  return model_bytewise(x->data, x->len, y->data, y->len);
}

static void key_pool_init(key_pool *pool, uint64_t *rng) {
  pool_key keys[MODEL_KEYS];
  memset(keys, 0, sizeof(keys));
  for (size_t i = 0; i < MODEL_KEYS; i++) {
    bool duplicate;
    do {
      random_model_key(rng, keys[i].data, &keys[i].len);
      duplicate = false;
      for (size_t j = 0; j < i && !duplicate; j++) {
        duplicate = model_bytewise(keys[i].data, keys[i].len, keys[j].data, keys[j].len) == 0;
      }
    } while (duplicate);
  }
  qsort(keys, MODEL_KEYS, sizeof(pool_key), pool_key_compare);
  for (size_t i = 0; i < MODEL_KEYS; i++) {
    memcpy(pool->data[i], keys[i].data, keys[i].len);
    pool->len[i] = keys[i].len;
  }
}

/* expected NULL: the iterator must be past either end. */
static void check_iter_matches(const mt_memtable_iter *iter, const model_entry *expected) {
  MODEL_CHECK(mt_memtable_iter_status(iter) == MT_OK);
  MODEL_CHECK(mt_memtable_iter_valid(iter) == (expected != NULL));
  if (expected == NULL) return;
  mt_slice user_key = mt_memtable_iter_user_key(iter);
  MODEL_CHECK(model_bytewise(user_key.data, user_key.len, expected->key, expected->key_len) == 0);
  MODEL_CHECK(mt_memtable_iter_seq(iter) == expected->seq);
  MODEL_CHECK(mt_memtable_iter_type(iter) == expected->type);
  mt_slice value = mt_memtable_iter_value(iter);
  MODEL_CHECK(model_bytewise(value.data, value.len, expected->value, expected->value_len) == 0);
}

static void check_user_iter_matches(const mt_memtable_user_iter *iter, const model_entry *expected) {
  MODEL_CHECK(mt_memtable_user_iter_status(iter) == MT_OK);
  MODEL_CHECK(mt_memtable_user_iter_valid(iter) == (expected != NULL));
  if (expected == NULL) return;
  mt_slice user_key = mt_memtable_user_iter_key(iter);
  MODEL_CHECK(model_bytewise(user_key.data, user_key.len, expected->key, expected->key_len) == 0);
  MODEL_CHECK(mt_memtable_user_iter_seq(iter) == expected->seq);
  mt_slice value = mt_memtable_user_iter_value(iter);
  MODEL_CHECK(model_bytewise(value.data, value.len, expected->value, expected->value_len) == 0);
}

static uint64_t random_snapshot(uint64_t *rng) {
  size_t choice = mt_rng_below(rng, 10);
  if (choice < 2) return UINT64_MAX;
  if (choice < 3) return 0;
  return mt_rng_below(rng, MODEL_SEQ_RANGE + 1);
}

/* A probe key: usually a pool key, sometimes an arbitrary one (present or not). */
static void random_probe(const key_pool *pool, uint64_t *rng, char *data, size_t *len) {
  if (mt_rng_below(rng, 100) < 80) {
    size_t k = mt_rng_below(rng, MODEL_KEYS);
    memcpy(data, pool->data[k], pool->len[k]);
    *len = pool->len[k];
  } else {
    random_model_key(rng, data, len);
  }
}

/* Whole-table checks: both iterators forward and backward (the internal one backward only when asked: every
 * step back is a search). */
static void full_scans_match(const model *m, const mt_memtable *table, mt_memtable_iter *iter, uint64_t *rng,
                             bool internal_backward) {
  model_operation_name = "full scan";
  mt_memtable_iter_seek_to_first(iter);
  const model_entry *p = model_first(m, MODEL_EVER);
  size_t seen = 0;
  while (p != NULL) {
    check_iter_matches(iter, p);
    seen++;
    mt_memtable_iter_next(iter);
    p = model_next(m, p, MODEL_EVER);
  }
  check_iter_matches(iter, p);
  MODEL_CHECK(seen == m->count);
  MODEL_CHECK(mt_memtable_entry_count(table) == m->count);
  if (internal_backward) {
    mt_memtable_iter_seek_to_last(iter);
    for (p = model_last(m, MODEL_EVER); p != NULL; p = model_prev(m, p, MODEL_EVER)) {
      check_iter_matches(iter, p);
      mt_memtable_iter_prev(iter);
    }
    check_iter_matches(iter, p);
  }

  uint64_t snapshot = random_snapshot(rng);
  mt_memtable_user_iter *user = mt_memtable_user_iter_create((mt_memtable *)table, snapshot);
  assert_non_null(user);
  mt_memtable_user_iter_seek_to_first(user);
  for (p = model_user_find(m, snapshot, MODEL_EVER, NULL, 0, USER_AT_OR_AFTER); p != NULL;
       p = model_user_find(m, snapshot, MODEL_EVER, p->key, p->key_len, USER_AFTER)) {
    check_user_iter_matches(user, p);
    mt_memtable_user_iter_next(user);
  }
  check_user_iter_matches(user, p);
  mt_memtable_user_iter_seek_to_last(user);
  for (p = model_user_find(m, snapshot, MODEL_EVER, NULL, 0, USER_BEFORE); p != NULL;
       p = model_user_find(m, snapshot, MODEL_EVER, p->key, p->key_len, USER_BEFORE)) {
    check_user_iter_matches(user, p);
    mt_memtable_user_iter_prev(user);
  }
  check_user_iter_matches(user, p);
  mt_memtable_user_iter_destroy(user);
  MODEL_CHECK(mt_memtable_validate(table) == MT_OK);
}

/* `operations` random operations against the model, on a table whose skiplist has the given branching (0: the
 * default). The shape changes every search's path, never an answer. */
static void run_randomized_model(unsigned branching, uint64_t seed, size_t operations) {
  model_seed = seed;
  uint64_t rng = model_seed;
  key_pool *pool = malloc(sizeof(key_pool));
  assert_non_null(pool);
  key_pool_init(pool, &rng);
  model m;
  model_init(&m, NULL);
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.arena.block_size = 8192;
  options.checksum_bytes = 2;
  options.bloom_bits_per_key = 8;
  options.bloom_expected_entries = 2048; /* undersized on purpose: false positives must stay harmless */
  options.skiplist_branching = branching;
  mt_memtable *table = new_table(&options);
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  assert_non_null(iter);
  char probe[MODEL_MAX_KEY];
  size_t probe_len;
  char value[MODEL_MAX_VALUE];
  size_t exists = 0;

  for (model_operation = 0; model_operation < operations; model_operation++) {
    size_t choice = mt_rng_below(&rng, 100);
    if (choice < 35) {
      model_operation_name = "add";
      size_t k = mt_rng_below(&rng, MODEL_KEYS);
      uint64_t seq = mt_rng_below(&rng, MODEL_SEQ_RANGE + 1);
      mt_entry_type type = mt_rng_below(&rng, 4) == 0 ? MT_TYPE_DELETION : MT_TYPE_VALUE;
      size_t value_len = mt_rng_below(&rng, MODEL_MAX_VALUE + 1);
      for (size_t i = 0; i < value_len; i++) value[i] = (char)mt_rng_next(&rng);
      bool added = model_add(&m, seq, type, pool->data[k], pool->len[k], value, value_len, 0);
      mt_status status = mt_memtable_add(table, seq, type, pool->data[k], pool->len[k], value, value_len);
      MODEL_CHECK(status == (added ? MT_OK : MT_EXISTS));
      if (!added) exists++;
    } else if (choice < 60) {
      model_operation_name = "get";
      random_probe(pool, &rng, probe, &probe_len);
      uint64_t snapshot = random_snapshot(&rng);
      mt_slice got = {NULL, 0};
      mt_status status = mt_memtable_get(table, probe, probe_len, snapshot, &got);
      const model_entry *newest = model_get(&m, probe, probe_len, snapshot);
      if (newest == NULL) {
        MODEL_CHECK(status == MT_NOT_FOUND);
      } else if (newest->type == MT_TYPE_DELETION) {
        MODEL_CHECK(status == MT_DELETED);
      } else {
        MODEL_CHECK(status == MT_OK);
        MODEL_CHECK(model_bytewise(got.data, got.len, newest->value, newest->value_len) == 0);
      }
    } else if (choice < 80) {
      const model_entry *p;
      size_t how = mt_rng_below(&rng, 4);
      uint64_t snapshot = random_snapshot(&rng);
      random_probe(pool, &rng, probe, &probe_len);
      if (how == 0) {
        model_operation_name = "iter seek";
        mt_memtable_iter_seek(iter, probe, probe_len, snapshot);
        p = model_seek(&m, probe, probe_len, snapshot, MODEL_EVER);
      } else if (how == 1) {
        model_operation_name = "iter seek_for_prev";
        mt_memtable_iter_seek_for_prev(iter, probe, probe_len, snapshot);
        p = model_seek_for_prev(&m, probe, probe_len, snapshot, MODEL_EVER);
      } else if (how == 2) {
        model_operation_name = "iter seek_to_first";
        mt_memtable_iter_seek_to_first(iter);
        p = model_first(&m, MODEL_EVER);
      } else {
        model_operation_name = "iter seek_to_last";
        mt_memtable_iter_seek_to_last(iter);
        p = model_last(&m, MODEL_EVER);
      }
      check_iter_matches(iter, p);
      size_t steps = mt_rng_below(&rng, 10);
      for (size_t s = 0; s < steps && p != NULL; s++) {
        if (mt_rng_below(&rng, 2) == 0) {
          model_operation_name = "iter next";
          mt_memtable_iter_next(iter);
          p = model_next(&m, p, MODEL_EVER);
        } else {
          model_operation_name = "iter prev";
          mt_memtable_iter_prev(iter);
          p = model_prev(&m, p, MODEL_EVER);
        }
        check_iter_matches(iter, p);
      }
    } else {
      uint64_t snapshot = random_snapshot(&rng);
      mt_memtable_user_iter *user = mt_memtable_user_iter_create(table, snapshot);
      assert_non_null(user);
      const model_entry *p;
      size_t how = mt_rng_below(&rng, 4);
      random_probe(pool, &rng, probe, &probe_len);
      if (how == 0) {
        model_operation_name = "user iter seek";
        mt_memtable_user_iter_seek(user, probe, probe_len);
        p = model_user_find(&m, snapshot, MODEL_EVER, probe, probe_len, USER_AT_OR_AFTER);
      } else if (how == 1) {
        model_operation_name = "user iter seek_for_prev";
        mt_memtable_user_iter_seek_for_prev(user, probe, probe_len);
        p = model_user_find(&m, snapshot, MODEL_EVER, probe, probe_len, USER_AT_OR_BEFORE);
      } else if (how == 2) {
        model_operation_name = "user iter seek_to_first";
        mt_memtable_user_iter_seek_to_first(user);
        p = model_user_find(&m, snapshot, MODEL_EVER, NULL, 0, USER_AT_OR_AFTER);
      } else {
        model_operation_name = "user iter seek_to_last";
        mt_memtable_user_iter_seek_to_last(user);
        p = model_user_find(&m, snapshot, MODEL_EVER, NULL, 0, USER_BEFORE);
      }
      check_user_iter_matches(user, p);
      size_t steps = mt_rng_below(&rng, 10);
      for (size_t s = 0; s < steps && p != NULL; s++) {
        if (mt_rng_below(&rng, 2) == 0) {
          model_operation_name = "user iter next";
          mt_memtable_user_iter_next(user);
          p = model_user_find(&m, snapshot, MODEL_EVER, p->key, p->key_len, USER_AFTER);
        } else {
          model_operation_name = "user iter prev";
          mt_memtable_user_iter_prev(user);
          p = model_user_find(&m, snapshot, MODEL_EVER, p->key, p->key_len, USER_BEFORE);
        }
        check_user_iter_matches(user, p);
      }
      mt_memtable_user_iter_destroy(user);
    }
    if ((model_operation + 1) % 25000 == 0) full_scans_match(&m, table, iter, &rng, false);
  }
  full_scans_match(&m, table, iter, &rng, true);
  /* The seed exercises duplicates and both types. */
  assert_true(exists > 0);
  assert_true(mt_memtable_deletion_count(table) > 0);
  mt_memtable_iter_destroy(iter);
  mt_memtable_unref(table);
  model_free(&m);
  free(pool);
}

static void memtable_test_randomized_model(void **state) {
  (void)state;
  run_randomized_model(0, 20240601, MODEL_OPERATIONS);
}

/* The other shapes: LevelDB's and RocksDB's (4), an odd one (3) and the widest accepted (64: 4 levels at most,
 * long walks on each). */
static void memtable_test_randomized_model_other_branchings(void **state) {
  (void)state;
  run_randomized_model(4, 20240602, MODEL_OPERATIONS / 2);
  run_randomized_model(3, 20240603, MODEL_OPERATIONS / 4);
  run_randomized_model(MT_MEMTABLE_MAX_SKIPLIST_BRANCHING, 20240604, MODEL_OPERATIONS / 4);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(memtable_test_randomized_model),
      cmocka_unit_test(memtable_test_randomized_model_other_branchings),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
