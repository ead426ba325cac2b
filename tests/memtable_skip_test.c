/* memtable_skip_test: the user view's skip searches (options.max_sequential_skip). Tables of keys with 0..100
 * versions (runs of tombstones, tombstones between and oldest, all values, all tombstones), added in a random
 * order, are read forward, backward and by seeks at snapshots outside and inside keys' version runs, with
 * thresholds 1, 2, 8, the default and MT_MEMTABLE_SKIP_NEVER, bytewise and with a custom comparator, and
 * every answer is checked against the reference model (support/model.h); each case with version links off and
 * on (options.version_links: answers never depend on it). Long keys make every search visible
 * (each allocates its lookup key from the reader allocator), so the suite also checks when the view searches
 * and that it steps on when a search has no memory. */
#include "support/test_util.h"

#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/memtable.h>

#include "support/check.h"
#include "support/group_link.h"
#include "support/model.h"
#include "support/rng.h"

#define SKIP_KEYS 40
#define SKIP_MAX_VERSIONS 100
#define SKIP_SEED UINT64_C(0x5eed5c1b)
#define SKIP_RANDOM_SNAPSHOTS 6

static uint64_t skip_seed = SKIP_SEED;
static const char *skip_operation = "setup";
static uint64_t skip_step;

#define SKIP_CHECK(condition) MT_CHECK_SEEDED_STEP(condition, skip_seed, skip_operation, skip_step)

static const unsigned thresholds[] = {1, 2, 8, 0, MT_MEMTABLE_SKIP_NEVER};
#define THRESHOLDS (sizeof(thresholds) / sizeof(thresholds[0]))

static int reverse_order(const char *a, size_t a_len, const char *b, size_t b_len) {
  return model_bytewise(b, b_len, a, a_len);
}

static int table_reverse_order(void *ctx, const char *a, size_t a_len, const char *b, size_t b_len) {
  (void)ctx;
  return reverse_order(a, a_len, b, b_len);
}

/* The first keys get the shapes that matter around the thresholds, with keys of one version between (a
 * search that lands one key too far misses them in either order); the rest 0..100 versions at random, or one. */
static size_t versions_of(size_t k, uint64_t *rng) {
  static const size_t shapes[] = {0, 1, 100, 1, 2, 1, 3, 1, 8, 1, 9, 1, 10, 2, 17, 1, 20, 1, 33, 1, 64, 3, 100, 1};
  if (k < sizeof(shapes) / sizeof(shapes[0])) return shapes[k];
  return mt_rng_below(rng, 4) == 0 ? 1 : mt_rng_below(rng, SKIP_MAX_VERSIONS + 1);
}

/* Version j (0 oldest) of key k with v versions: a pattern per key (all values; a run of tombstones newest;
 * tombstones at random; all tombstones; tombstones oldest, values newest). */
static mt_entry_type type_of(size_t k, size_t j, size_t v, uint64_t *rng) {
  switch (k % 5) {
  case 0: return MT_TYPE_VALUE;
  case 1: return j + 1 + v / 3 > v ? MT_TYPE_DELETION : MT_TYPE_VALUE;
  case 2: return mt_rng_below(rng, 10) < 3 ? MT_TYPE_DELETION : MT_TYPE_VALUE;
  case 3: return MT_TYPE_DELETION;
  default: return j < v / 2 ? MT_TYPE_DELETION : MT_TYPE_VALUE;
  }
}

static size_t format_key(size_t k, char *out, size_t key_len) {
  snprintf(out, 16, "key%03zu", k);
  size_t len = strlen(out);
  if (key_len > len) {
    memset(out + len, (int)('a' + k % 26), key_len - len);
    len = key_len;
  }
  return len;
}

typedef struct skip_table {
  model m;
  mt_memtable *table;
  uint64_t max_seq;
} skip_table;

typedef struct pending_add {
  size_t key;
  uint64_t seq;
  mt_entry_type type;
} pending_add;

/* The same seeded table for every threshold: each key's versions get increasing sequence numbers, interleaved
 * across keys, and are added in a random order (so a key's versions lie apart in memory). */
static void skip_table_build(skip_table *t, const mt_memtable_options *options, model_compare_fn compare,
                             size_t key_len) {
  uint64_t rng = skip_seed;
  size_t counts[SKIP_KEYS];
  size_t total = 0;
  for (size_t k = 0; k < SKIP_KEYS; k++) total += counts[k] = versions_of(k, &rng);
  pending_add *adds = calloc(total, sizeof(*adds));
  assert_non_null(adds);
  size_t at = 0;
  for (size_t k = 0; k < SKIP_KEYS; k++) {
    for (size_t j = 0; j < counts[k]; j++) adds[at++].key = k;
  }
  for (size_t i = total; i > 1; i--) { /* the order of sequence numbers across keys */
    size_t r = mt_rng_below(&rng, i);
    pending_add swap = adds[i - 1];
    adds[i - 1] = adds[r];
    adds[r] = swap;
  }
  size_t seen[SKIP_KEYS] = {0};
  for (size_t i = 0; i < total; i++) {
    size_t k = adds[i].key;
    adds[i].seq = i + 1;
    adds[i].type = type_of(k, seen[k], counts[k], &rng);
    seen[k]++;
  }
  for (size_t i = total; i > 1; i--) { /* the order of the adds */
    size_t r = mt_rng_below(&rng, i);
    pending_add swap = adds[i - 1];
    adds[i - 1] = adds[r];
    adds[r] = swap;
  }
  model_init(&t->m, compare);
  t->table = mt_memtable_create(options);
  assert_non_null(t->table);
  t->max_seq = total;
  char key[512];
  char value[64];
  for (size_t i = 0; i < total; i++) {
    size_t len = format_key(adds[i].key, key, key_len);
    int value_len = snprintf(value, sizeof(value), "v%zu@%" PRIu64, adds[i].key, adds[i].seq);
    size_t stored_len = adds[i].type == MT_TYPE_VALUE ? (size_t)value_len : 0;
    assert_int_equal(mt_memtable_add(t->table, adds[i].seq, adds[i].type, key, len, value, stored_len), MT_OK);
    assert_true(model_add(&t->m, adds[i].seq, adds[i].type, key, len, value, stored_len, 0));
  }
  free(adds);
}

static void skip_table_free(skip_table *t) {
  mt_memtable_unref(t->table);
  model_free(&t->m);
}

static void check_at(const mt_memtable_user_iter *iter, const model_entry *expected) {
  SKIP_CHECK(mt_memtable_user_iter_status(iter) == MT_OK);
  SKIP_CHECK(mt_memtable_user_iter_valid(iter) == (expected != NULL));
  if (expected == NULL) return;
  mt_slice key = mt_memtable_user_iter_key(iter);
  SKIP_CHECK(model_bytewise(key.data, key.len, expected->key, expected->key_len) == 0);
  SKIP_CHECK(mt_memtable_user_iter_seq(iter) == expected->seq);
  mt_slice value = mt_memtable_user_iter_value(iter);
  SKIP_CHECK(model_bytewise(value.data, value.len, expected->value, expected->value_len) == 0);
}

static const model_entry *expected_after(const model *m, uint64_t snapshot, const model_entry *p) {
  return model_user_find(m, snapshot, MODEL_EVER, p->key, p->key_len, USER_AFTER);
}

static const model_entry *expected_before(const model *m, uint64_t snapshot, const model_entry *p) {
  return model_user_find(m, snapshot, MODEL_EVER, p->key, p->key_len, USER_BEFORE);
}

/* Whole passes both ways, then from every key and every gap: seek and three steps on, seek_for_prev and
 * three steps back, and one step the other way after each. */
static void check_view(const skip_table *t, uint64_t snapshot, size_t key_len) {
  const model *m = &t->m;
  mt_memtable_user_iter *iter = mt_memtable_user_iter_create(t->table, snapshot);
  assert_non_null(iter);
  skip_step = snapshot;
  skip_operation = "forward pass";
  mt_memtable_user_iter_seek_to_first(iter);
  const model_entry *p = model_user_find(m, snapshot, MODEL_EVER, NULL, 0, USER_AT_OR_AFTER);
  for (; p != NULL; p = expected_after(m, snapshot, p)) {
    check_at(iter, p);
    mt_memtable_user_iter_next(iter);
  }
  check_at(iter, NULL);
  skip_operation = "backward pass";
  mt_memtable_user_iter_seek_to_last(iter);
  for (p = model_user_find(m, snapshot, MODEL_EVER, NULL, 0, USER_BEFORE); p != NULL;
       p = expected_before(m, snapshot, p)) {
    check_at(iter, p);
    mt_memtable_user_iter_prev(iter);
  }
  check_at(iter, NULL);

  char probe[512];
  for (size_t k = 0; k <= SKIP_KEYS; k++) {
    for (int gap = 0; gap < 2; gap++) {
      size_t len = format_key(k, probe, key_len);
      if (gap) probe[len++] = '!'; /* between key k and the next (bytewise or reversed) */
      skip_operation = gap ? "seek into a gap" : "seek onto a key";
      mt_memtable_user_iter_seek(iter, probe, len);
      p = model_user_find(m, snapshot, MODEL_EVER, probe, len, USER_AT_OR_AFTER);
      check_at(iter, p);
      for (int i = 0; i < 3 && p != NULL; i++) {
        mt_memtable_user_iter_next(iter);
        p = expected_after(m, snapshot, p);
        check_at(iter, p);
      }
      mt_memtable_user_iter_seek(iter, probe, len);
      p = model_user_find(m, snapshot, MODEL_EVER, probe, len, USER_AT_OR_AFTER);
      if (p != NULL) {
        mt_memtable_user_iter_prev(iter);
        check_at(iter, expected_before(m, snapshot, p));
      }
      skip_operation = gap ? "seek_for_prev into a gap" : "seek_for_prev onto a key";
      mt_memtable_user_iter_seek_for_prev(iter, probe, len);
      p = model_user_find(m, snapshot, MODEL_EVER, probe, len, USER_AT_OR_BEFORE);
      check_at(iter, p);
      for (int i = 0; i < 3 && p != NULL; i++) {
        mt_memtable_user_iter_prev(iter);
        p = expected_before(m, snapshot, p);
        check_at(iter, p);
      }
      mt_memtable_user_iter_seek_for_prev(iter, probe, len);
      p = model_user_find(m, snapshot, MODEL_EVER, probe, len, USER_AT_OR_BEFORE);
      if (p != NULL) {
        mt_memtable_user_iter_next(iter);
        check_at(iter, expected_after(m, snapshot, p));
      }
    }
  }
  mt_memtable_user_iter_destroy(iter);
}

/* Snapshots: none visible, all, and inside keys' version runs (an entry's seq, one below and one above). */
static void check_snapshots(const skip_table *t, size_t key_len) {
  check_view(t, 0, key_len);
  check_view(t, UINT64_MAX, key_len);
  uint64_t rng = skip_seed ^ UINT64_C(0x5a5a);
  for (int i = 0; i < SKIP_RANDOM_SNAPSHOTS; i++) {
    const model_entry *inside = t->m.entries[mt_rng_below(&rng, t->m.count)];
    check_view(t, inside->seq - 1, key_len);
    check_view(t, inside->seq, key_len);
    check_view(t, inside->seq + 1, key_len);
  }
}

static void run_thresholds(mt_compare_fn table_compare, model_compare_fn compare, unsigned checksum_bytes) {
  for (int links = 0; links < 2; links++) {
    for (size_t i = 0; i < THRESHOLDS; i++) {
      mt_memtable_options options;
      mt_memtable_options_init(&options);
      options.compare = table_compare;
      options.checksum_bytes = checksum_bytes;
      options.max_sequential_skip = thresholds[i];
      options.version_links = links != 0;
      skip_table t;
      skip_table_build(&t, &options, compare, 0);
      check_snapshots(&t, 0);
      assert_int_equal(mt_memtable_validate(t.table), MT_OK);
      skip_table_free(&t);
    }
  }
}

static void memtable_skip_test_user_view_matches_model_bytewise(void **state) {
  (void)state;
  run_thresholds(NULL, NULL, 0);
}

static void memtable_skip_test_user_view_matches_model_custom_comparator(void **state) {
  (void)state;
  run_thresholds(table_reverse_order, reverse_order, 0);
}

static void memtable_skip_test_user_view_matches_model_with_checksums(void **state) {
  (void)state;
  run_thresholds(NULL, NULL, 8);
}

/* Long keys (their lookup keys come from the reader allocator) on a table with other seeds: the skip
 * searches of keys longer than the stack buffer. */
static void memtable_skip_test_user_view_matches_model_long_keys(void **state) {
  (void)state;
  static const unsigned long_thresholds[] = {1, 8};
  for (size_t i = 0; i < 4; i++) {
    skip_seed = SKIP_SEED + 1 + i % 2;
    mt_memtable_options options;
    mt_memtable_options_init(&options);
    options.max_sequential_skip = long_thresholds[i % 2];
    options.version_links = i >= 2;
    skip_table t;
    skip_table_build(&t, &options, NULL, 300);
    check_view(&t, UINT64_MAX, 300);
    check_view(&t, t.max_seq / 2, 300);
    skip_table_free(&t);
  }
  skip_seed = SKIP_SEED;
}

/* A reader allocator that counts its calls and refuses every call after the first `grant` (all granted when
 * grant is SIZE_MAX). */
typedef struct counting_allocator {
  size_t calls;
  size_t grant;
} counting_allocator;

static void *counting_alloc(void *ctx, size_t size) {
  counting_allocator *counter = ctx;
  counter->calls++;
  return counter->calls > counter->grant ? NULL : malloc(size);
}

static void counting_free(void *ctx, void *ptr, size_t size) {
  (void)ctx;
  (void)size;
  free(ptr);
}

#define LONG_KEY 300

/* Keys a (1 value), b (20 values), c (1 value), d (a value, then 11 tombstones), e (1 value), each LONG_KEY
 * bytes: every search allocates a lookup key. */
/* readahead: the iterators' scan walker on (the default) or off. While it streams the view steps instead of
 * searching (user_iter.c), so the search counts below are those of a table without it. */
static mt_memtable *five_key_table(unsigned max_sequential_skip, counting_allocator *counter, bool readahead,
                                   bool version_links) {
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.max_sequential_skip = max_sequential_skip;
  options.version_links = version_links;
  if (!readahead) options.scan_readahead_segments = 0;
  options.reader_allocator = (mt_allocator){counting_alloc, counting_free, counter};
  mt_memtable *table = mt_memtable_create(&options);
  assert_non_null(table);
  static const struct {
    char key;
    uint64_t versions;
  } keys[] = {{'a', 1}, {'b', 20}, {'c', 1}, {'d', 12}, {'e', 1}};
  char key[LONG_KEY];
  uint64_t seq = 1;
  for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
    memset(key, keys[k].key, sizeof(key));
    for (uint64_t v = 0; v < keys[k].versions; v++, seq++) {
      char value[32];
      int len = snprintf(value, sizeof(value), "%c%" PRIu64, keys[k].key, v + 1);
      mt_entry_type type = keys[k].key == 'd' && v > 0 ? MT_TYPE_DELETION : MT_TYPE_VALUE;
      assert_int_equal(mt_memtable_add(table, seq, type, key, sizeof(key), value, (size_t)len), MT_OK);
    }
  }
  return table;
}

static void assert_at(const mt_memtable_user_iter *iter, char key, const char *value) {
  assert_true(mt_memtable_user_iter_valid(iter));
  mt_slice found = mt_memtable_user_iter_key(iter);
  assert_int_equal(found.len, LONG_KEY);
  assert_int_equal(found.data[0], key);
  assert_int_equal(found.data[LONG_KEY - 1], key);
  mt_slice found_value = mt_memtable_user_iter_value(iter);
  assert_int_equal(found_value.len, strlen(value));
  assert_memory_equal(found_value.data, value, found_value.len);
}

/* A whole pass over a view of long keys at the latest snapshot: keys[i] (each LONG_KEY bytes of that letter)
 * with values[i], count of them. */
static void view_pass_of(mt_memtable_user_iter *iter, bool forward, const char *keys, const char *const *values,
                         size_t count) {
  if (forward) {
    mt_memtable_user_iter_seek_to_first(iter);
  } else {
    mt_memtable_user_iter_seek_to_last(iter);
  }
  for (size_t i = 0; i < count; i++) {
    size_t k = forward ? i : count - 1 - i;
    assert_at(iter, keys[k], values[k]);
    if (forward) {
      mt_memtable_user_iter_next(iter);
    } else {
      mt_memtable_user_iter_prev(iter);
    }
  }
  assert_false(mt_memtable_user_iter_valid(iter));
}

/* A whole pass over five_key_table's view at the latest snapshot: a1, b20, c1, e1 (d is deleted). */
static void view_pass(mt_memtable_user_iter *iter, bool forward) {
  static const char *const values[] = {"a1", "b20", "c1", "e1"};
  view_pass_of(iter, forward, "abce", values, 4);
}

/* Searches made by a forward and a backward pass (beyond the iterator's own allocation). */
static void count_pass_searches(unsigned max_sequential_skip, bool readahead, bool version_links, size_t *forward,
                                size_t *backward) {
  counting_allocator counter = {0, SIZE_MAX};
  mt_memtable *table = five_key_table(max_sequential_skip, &counter, readahead, version_links);
  mt_memtable_user_iter *iter = mt_memtable_user_iter_create(table, UINT64_MAX);
  assert_non_null(iter);
  size_t before = counter.calls;
  view_pass(iter, true);
  *forward = counter.calls - before;
  before = counter.calls;
  view_pass(iter, false);
  assert_int_equal(mt_memtable_user_iter_status(iter), MT_OK);
  *backward = counter.calls - before;
  mt_memtable_user_iter_destroy(iter);
  mt_memtable_unref(table);
}

/* Forward, b's 19 older versions and d's 11 older ones are each passed by one search once the threshold is
 * met. Backward, b costs one search (its newest version: the next step back lands before the key), d two (its
 * newest version is a tombstone, so one more lands before the key). With version links, each key's versions
 * were added in sequence order, so each newest version links to the key's oldest: forward, the view jumps
 * there and its one step leaves the key, before any threshold is met: no search at all, whatever the
 * threshold. Backward has no links: the same searches as without. */
static void memtable_skip_test_searches_only_past_threshold(void **state) {
  (void)state;
  static const struct {
    unsigned threshold;
    size_t forward, backward, forward_with_links;
  } cases[] = {{1, 2, 3, 0},  {2, 2, 3, 0},  {8, 2, 3, 0},  {0, 2, 3, 0},
               {11, 2, 3, 0}, {12, 1, 1, 0}, {19, 1, 1, 0}, {20, 0, 0, 0}, {MT_MEMTABLE_SKIP_NEVER, 0, 0, 0}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    for (int links = 0; links < 2; links++) {
      size_t forward, backward;
      count_pass_searches(cases[i].threshold, false, links != 0, &forward, &backward);
      size_t expected_forward = links ? cases[i].forward_with_links : cases[i].forward;
      if (forward != expected_forward || backward != cases[i].backward) {
        fail_msg("threshold %u, version links %d: %zu forward and %zu backward searches, expected %zu and %zu",
                 cases[i].threshold, links, forward, backward, expected_forward, cases[i].backward);
      }
    }
  }
}

/* Whole passes stream through the scan walker (armed by seek_to_first / seek_to_last): there each step costs
 * a fraction of a miss, so even threshold 1 makes no search, and the answers are the same. */
static void memtable_skip_test_no_search_while_readahead_streams(void **state) {
  (void)state;
  static const unsigned streaming_thresholds[] = {1, 8, MT_MEMTABLE_SKIP_NEVER};
  for (size_t i = 0; i < sizeof(streaming_thresholds) / sizeof(streaming_thresholds[0]); i++) {
    for (int links = 0; links < 2; links++) {
      size_t forward, backward;
      count_pass_searches(streaming_thresholds[i], true, links != 0, &forward, &backward);
      if (forward != 0 || backward != 0) {
        fail_msg("threshold %u with readahead, version links %d: %zu forward and %zu backward searches",
                 streaming_thresholds[i], links, forward, backward);
      }
    }
  }
}

/* While the walker streams the view steps on, but not through a long chain: a key with 500 versions between two
 * one-version keys is passed by one search in either direction (forward past the key; backward to its newest
 * version, from which the next step back leaves the key), so the pass costs what max_sequential_skip
 * promises. */
static void memtable_skip_test_streaming_view_searches_past_a_long_chain(void **state) {
  (void)state;
  for (int links = 0; links < 2; links++) {
    counting_allocator counter = {0, SIZE_MAX};
    mt_memtable_options options;
    mt_memtable_options_init(&options);
    options.version_links = links != 0;
    options.reader_allocator = (mt_allocator){counting_alloc, counting_free, &counter};
    mt_memtable *table = mt_memtable_create(&options);
    assert_non_null(table);
    char key[LONG_KEY];
    uint64_t seq = 1;
    memset(key, 'a', sizeof(key));
    assert_int_equal(mt_memtable_add(table, seq++, MT_TYPE_VALUE, key, sizeof(key), "a1", 2), MT_OK);
    memset(key, 'c', sizeof(key));
    assert_int_equal(mt_memtable_add(table, seq++, MT_TYPE_VALUE, key, sizeof(key), "c1", 2), MT_OK);
    memset(key, 'b', sizeof(key));
    for (int v = 0; v < 500; v++) {
      const char *value = v == 499 ? "b500" : "b";
      assert_int_equal(mt_memtable_add(table, seq++, MT_TYPE_VALUE, key, sizeof(key), value, strlen(value)), MT_OK);
    }
    mt_memtable_user_iter *iter = mt_memtable_user_iter_create(table, UINT64_MAX);
    assert_non_null(iter);
    for (int forward = 1; forward >= 0; forward--) {
      size_t before = counter.calls;
      static const char *const values[] = {"a1", "b500", "c1"};
      view_pass_of(iter, forward != 0, "abc", values, 3);
      assert_int_equal(mt_memtable_user_iter_status(iter), MT_OK);
      size_t searches = counter.calls - before;
      /* Forward with version links the view jumps: no search. */
      size_t expected = forward && links ? 0 : 1;
      if (searches != expected) {
        fail_msg("links %d, forward %d: %zu searches, expected %zu", links, forward, searches, expected);
      }
    }
    mt_memtable_user_iter_destroy(iter);
    mt_memtable_unref(table);
  }
}

/* A skip search without memory for its lookup key: the view steps on and answers as before. */
static void memtable_skip_test_failed_skip_search_steps_on(void **state) {
  (void)state;
  counting_allocator counter = {0, SIZE_MAX};
  mt_memtable *table = five_key_table(1, &counter, false, false);
  mt_memtable_user_iter *iter = mt_memtable_user_iter_create(table, UINT64_MAX);
  assert_non_null(iter);
  counter.grant = counter.calls; /* every later allocation fails */
  size_t refused_before = counter.calls;
  for (int pass = 0; pass < 2; pass++) {
    view_pass(iter, true);
    assert_int_equal(mt_memtable_user_iter_status(iter), MT_OK);
    view_pass(iter, false);
    assert_int_equal(mt_memtable_user_iter_status(iter), MT_OK);
    counter.grant = SIZE_MAX; /* the second pass: the same answers with the searches */
  }
  assert_true(counter.calls > refused_before); /* the searches were tried */
  mt_memtable_user_iter_destroy(iter);
  mt_memtable_unref(table);
}

/* The version link of the entry `stored` (a table with 8-byte checksums and version links), by the node layout
 * (memtable/skiplist_inline.h): the 8 bytes below its 4-byte recorded size. */
static char *version_link_slot(const char *stored) { return (char *)(uintptr_t)stored - 4 - 8; }

/* The stored entry of version seq of key (checksums excluded), found by the internal-key iterator. */
static const char *stored_version(mt_memtable *table, const char *key, uint64_t seq) {
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  assert_non_null(iter);
  mt_memtable_iter_seek(iter, key, strlen(key), seq);
  assert_true(mt_memtable_iter_valid(iter));
  assert_int_equal(mt_memtable_iter_seq(iter), seq);
  const char *stored = mt_memtable_iter_entry(iter).data;
  mt_memtable_iter_destroy(iter);
  return stored;
}

/* validate walks every version link in one pass, however long the key's chain: 100,000 versions of one key
 * (a walk per link to its target would take about 5 * 10^9 steps here). Every link is still checked: one
 * damaged byte in the middle of the chain, a sound-looking link to another key's entry, to a newer version
 * of the key or to the entry itself are each reported, and the table validates again once repaired. */
static void memtable_skip_test_validate_is_linear_in_a_version_chain(void **state) {
  (void)state;
  if (sizeof(void *) != 8) skip();
  enum { VERSIONS = 100000 };
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.checksum_bytes = 8;
  options.version_links = true;
  options.write_buffer_size = (size_t)64 << 20;
  mt_memtable *table = mt_memtable_create(&options);
  assert_non_null(table);
  assert_int_equal(mt_memtable_add(table, 1, MT_TYPE_VALUE, "a", 1, "a1", 2), MT_OK);
  assert_int_equal(mt_memtable_add(table, 2, MT_TYPE_VALUE, "z", 1, "z2", 2), MT_OK);
  assert_int_equal(mt_memtable_add(table, 3, MT_TYPE_VALUE, "z", 1, "z3", 2), MT_OK);
  for (uint64_t seq = 10; seq < 10 + VERSIONS; seq++) {
    char value[24];
    int len = snprintf(value, sizeof(value), "k%" PRIu64, seq);
    assert_int_equal(mt_memtable_add(table, seq, MT_TYPE_VALUE, "k", 1, value, (size_t)len), MT_OK);
  }
  assert_int_equal(mt_memtable_validate(table), MT_OK);

  char *middle = version_link_slot(stored_version(table, "k", 10 + VERSIONS / 2));
  uint64_t original = group_link_load(middle);
  const char *target;
  assert_true(group_link_target(original, &target));
  assert_ptr_equal(target, stored_version(table, "k", 10)); /* newest last: every version links to the oldest */
  for (unsigned byte = 0; byte < 8; byte++) {
    group_link_store(middle, original ^ (UINT64_C(0x5a) << (8 * byte)));
    assert_int_equal(mt_memtable_validate(table), MT_CORRUPTION);
  }
  const char *forged[] = {stored_version(table, "z", 2), stored_version(table, "a", 1),
                          stored_version(table, "k", 10 + VERSIONS - 1), stored_version(table, "k", 10 + VERSIONS / 2)};
  for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
    group_link_store(middle, group_link_word(forged[i]));
    assert_int_equal(mt_memtable_validate(table), MT_CORRUPTION);
  }
  /* A link to a nearer older version is sound (only shorter). */
  group_link_store(middle, group_link_word(stored_version(table, "k", 10 + VERSIONS / 4)));
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  group_link_store(middle, original);
  assert_int_equal(mt_memtable_validate(table), MT_OK);

  /* The user view still answers from the links: a, k's newest, z's newest. */
  mt_memtable_user_iter *iter = mt_memtable_user_iter_create(table, UINT64_MAX);
  assert_non_null(iter);
  const char *expected[] = {"a1", "k100009", "z3"};
  size_t seen = 0;
  for (mt_memtable_user_iter_seek_to_first(iter); mt_memtable_user_iter_valid(iter); mt_memtable_user_iter_next(iter)) {
    assert_true(seen < 3);
    mt_slice value = mt_memtable_user_iter_value(iter);
    assert_int_equal(value.len, strlen(expected[seen]));
    assert_memory_equal(value.data, expected[seen], value.len);
    seen++;
  }
  assert_int_equal(seen, 3);
  assert_int_equal(mt_memtable_user_iter_status(iter), MT_OK);
  mt_memtable_user_iter_destroy(iter);
  mt_memtable_unref(table);
}

static void memtable_skip_test_option_defaults_and_values(void **state) {
  (void)state;
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  assert_int_equal(options.max_sequential_skip, 8);
  assert_int_equal(MT_MEMTABLE_DEFAULT_MAX_SEQUENTIAL_SKIP, 8);
  const mt_memtable_options initialised = MT_MEMTABLE_OPTIONS_INIT;
  assert_int_equal(initialised.max_sequential_skip, MT_MEMTABLE_DEFAULT_MAX_SEQUENTIAL_SKIP);
  assert_false(options.version_links); /* off by default: 8 bytes per entry only when asked for */
  assert_false(initialised.version_links);
  static const unsigned accepted[] = {0, 1, 2, 8, 1000, UINT_MAX - 1, MT_MEMTABLE_SKIP_NEVER};
  for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
    options.max_sequential_skip = accepted[i];
    mt_memtable *table = NULL;
    assert_int_equal(mt_memtable_try_create(&options, &table), MT_OK);
    assert_non_null(table);
    mt_memtable_unref(table);
  }
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(memtable_skip_test_option_defaults_and_values),
      cmocka_unit_test(memtable_skip_test_validate_is_linear_in_a_version_chain),
      cmocka_unit_test(memtable_skip_test_searches_only_past_threshold),
      cmocka_unit_test(memtable_skip_test_failed_skip_search_steps_on),
      cmocka_unit_test(memtable_skip_test_no_search_while_readahead_streams),
      cmocka_unit_test(memtable_skip_test_streaming_view_searches_past_a_long_chain),
      cmocka_unit_test(memtable_skip_test_user_view_matches_model_bytewise),
      cmocka_unit_test(memtable_skip_test_user_view_matches_model_custom_comparator),
      cmocka_unit_test(memtable_skip_test_user_view_matches_model_with_checksums),
      cmocka_unit_test(memtable_skip_test_user_view_matches_model_long_keys),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
