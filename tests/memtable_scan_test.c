/* memtable_scan_test: scans with readahead (scan_readahead_segments != 0) return exactly what plain scans
 * return, for every shape of table and walker, in both directions, after seeks and direction switches, with
 * checksums, with adds between the steps, when the reader allocator refuses the walker, and beside a writer;
 * and so do they with version links (the user view's walker then walks whole user keys), with every key's
 * versions added in sequence order or out of it. */
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
#include "support/memtable_checks.h"
#include "support/rng.h"
#include "support/thread_team.h"

/* Walker shapes: segments x nodes per segment. One node per segment makes every segment outgrow its buffer;
 * 4 nodes cut at level 1 (gaps of about 4) overflow often; the default rarely. */
typedef struct walker_shape {
  unsigned segments;
  unsigned nodes;
} walker_shape;

static const walker_shape shapes[] = {{1, 1}, {2, 2}, {3, 4}, {8, 16}, {8, 512}, {64, 8}};
#define SHAPE_COUNT (sizeof(shapes) / sizeof(shapes[0]))

static const size_t table_sizes[] = {0, 1, 2, 3, 7, 40, 300, 3000};
#define TABLE_SIZE_COUNT (sizeof(table_sizes) / sizeof(table_sizes[0]))

/* Key k of a table: random insertion order comes from the caller. Several versions of some keys and some
 * deletions, so the user view has versions to pass over. With an odd seed the sequence numbers are 1..n in a
 * scrambled order (7919 is prime, so i -> i * 7919 mod n is a permutation), so a key's versions are not added
 * newest last: version links then know fewer of the versions after them. */
static int scan_key(char *buf, uint64_t k) { return snprintf(buf, 24, "key-%06" PRIu64, k); }

static void fill(mt_memtable *table, size_t n, uint64_t seed) {
  uint64_t state = seed;
  char key[24];
  char value[32];
  for (size_t i = 0; i < n; i++) {
    uint64_t seq = seed % 2 == 1 ? (uint64_t)(i * 7919 % n) + 1 : (uint64_t)i + 1;
    uint64_t k = mt_rng_below(&state, n * 2 + 1);
    int key_len = scan_key(key, k);
    int value_len = snprintf(value, sizeof value, "v%" PRIu64, seq * 7);
    mt_entry_type type = mt_rng_below(&state, 5) == 0 ? MT_TYPE_DELETION : MT_TYPE_VALUE;
    assert_int_equal(mt_memtable_add(table, seq, type, key, (size_t)key_len, value, (size_t)value_len), MT_OK);
  }
}

/* Walker shapes are tried without and with version links: ahead tables take shape s % SHAPE_COUNT, with
 * links when s >= SHAPE_COUNT. The plain table (the reference) has neither. */
#define AHEAD_VARIANTS (2 * SHAPE_COUNT)

static mt_memtable *scan_table(size_t n, uint64_t seed, unsigned segments, unsigned nodes, unsigned checksum_bytes,
                               bool version_links) {
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.seed = seed; /* the heights: every seed another distribution */
  options.checksum_bytes = checksum_bytes;
  options.scan_readahead_segments = segments;
  options.scan_readahead_segment_nodes = nodes;
  options.version_links = version_links;
  mt_memtable *table = new_table(&options);
  fill(table, n, seed);
  return table;
}

static mt_memtable *ahead_table(size_t n, uint64_t seed, size_t variant, unsigned checksum_bytes) {
  const walker_shape *shape = &shapes[variant % SHAPE_COUNT];
  return scan_table(n, seed, shape->segments, shape->nodes, checksum_bytes, variant >= SHAPE_COUNT);
}

/* Where an iterator stands: the raw entry (internal iterator) or key and value (user view), and the status. */
typedef struct stand {
  bool valid;
  mt_status status;
  char text[96];
  size_t len;
} stand;

static stand internal_stand(const mt_memtable_iter *iter) {
  stand s = {mt_memtable_iter_valid(iter), mt_memtable_iter_status(iter), {0}, 0};
  if (s.valid) {
    mt_slice entry = mt_memtable_iter_entry(iter);
    assert_true(entry.len <= sizeof s.text);
    memcpy(s.text, entry.data, entry.len);
    s.len = entry.len;
  }
  return s;
}

static stand user_stand(const mt_memtable_user_iter *iter) {
  stand s = {mt_memtable_user_iter_valid(iter), mt_memtable_user_iter_status(iter), {0}, 0};
  if (s.valid) {
    mt_slice key = mt_memtable_user_iter_key(iter);
    mt_slice value = mt_memtable_user_iter_value(iter);
    s.len = (size_t)snprintf(s.text, sizeof s.text, "%.*s=%.*s@%" PRIu64, (int)key.len, key.data, (int)value.len,
                             value.data, mt_memtable_user_iter_seq(iter));
  }
  return s;
}

static bool stands_equal(stand a, stand b) {
  return a.valid == b.valid && a.status == b.status && a.len == b.len && memcmp(a.text, b.text, a.len) == 0;
}

/* Both iterators of one pair: the plain table's and the readahead table's. */
typedef struct iter_pair {
  mt_memtable_iter *plain, *ahead;
  mt_memtable_user_iter *user_plain, *user_ahead;
} iter_pair;

typedef enum op { OP_NEXT, OP_PREV, OP_SEEK, OP_SEEK_FOR_PREV, OP_FIRST, OP_LAST, OP_COUNT } op;

static void apply(mt_memtable_iter *iter, mt_memtable_user_iter *user, op o, const char *key, size_t key_len,
                  uint64_t seq) {
  switch (o) {
    case OP_NEXT:
      mt_memtable_iter_next(iter);
      mt_memtable_user_iter_next(user);
      break;
    case OP_PREV:
      mt_memtable_iter_prev(iter);
      mt_memtable_user_iter_prev(user);
      break;
    case OP_SEEK:
      mt_memtable_iter_seek(iter, key, key_len, seq);
      mt_memtable_user_iter_seek(user, key, key_len);
      break;
    case OP_SEEK_FOR_PREV:
      mt_memtable_iter_seek_for_prev(iter, key, key_len, seq);
      mt_memtable_user_iter_seek_for_prev(user, key, key_len);
      break;
    case OP_FIRST:
      mt_memtable_iter_seek_to_first(iter);
      mt_memtable_user_iter_seek_to_first(user);
      break;
    case OP_LAST:
    default:
      mt_memtable_iter_seek_to_last(iter);
      mt_memtable_user_iter_seek_to_last(user);
      break;
  }
}

static void check_pair(const iter_pair *pair, uint64_t seed, const char *what, size_t step) {
  MT_CHECK_SEEDED_STEP(stands_equal(internal_stand(pair->plain), internal_stand(pair->ahead)), seed, what, step);
  MT_CHECK_SEEDED_STEP(stands_equal(user_stand(pair->user_plain), user_stand(pair->user_ahead)), seed, what, step);
}

static iter_pair open_pair(mt_memtable *plain, mt_memtable *ahead, uint64_t snapshot) {
  iter_pair pair = {mt_memtable_iter_create(plain), mt_memtable_iter_create(ahead),
                    mt_memtable_user_iter_create(plain, snapshot), mt_memtable_user_iter_create(ahead, snapshot)};
  assert_non_null(pair.plain);
  assert_non_null(pair.ahead);
  assert_non_null(pair.user_plain);
  assert_non_null(pair.user_ahead);
  return pair;
}

static void close_pair(iter_pair *pair) {
  mt_memtable_iter_destroy(pair->plain);
  mt_memtable_iter_destroy(pair->ahead);
  mt_memtable_user_iter_destroy(pair->user_plain);
  mt_memtable_user_iter_destroy(pair->user_ahead);
}

/* A whole scan from one end to the other, compared step by step; returns the steps taken. */
static size_t scan_pair(const iter_pair *pair, bool forward, uint64_t seed) {
  apply(pair->plain, pair->user_plain, forward ? OP_FIRST : OP_LAST, NULL, 0, 0);
  apply(pair->ahead, pair->user_ahead, forward ? OP_FIRST : OP_LAST, NULL, 0, 0);
  size_t steps = 0;
  for (;; steps++) {
    check_pair(pair, seed, forward ? "forward scan" : "backward scan", steps);
    if (!mt_memtable_iter_valid(pair->plain) && !mt_memtable_user_iter_valid(pair->user_plain)) return steps;
    apply(pair->plain, pair->user_plain, forward ? OP_NEXT : OP_PREV, NULL, 0, 0);
    apply(pair->ahead, pair->user_ahead, forward ? OP_NEXT : OP_PREV, NULL, 0, 0);
  }
}

static void scan_test_whole_scans_equal_plain_scans(void **state) {
  (void)state;
  for (unsigned checksum_bytes = 0; checksum_bytes <= 4; checksum_bytes += 4) {
    for (size_t t = 0; t < TABLE_SIZE_COUNT; t++) {
      for (uint64_t seed = 1; seed <= 3; seed++) {
        size_t n = table_sizes[t];
        mt_memtable *plain = scan_table(n, seed, 0, 0, checksum_bytes, false);
        for (size_t s = 0; s < AHEAD_VARIANTS; s++) {
          mt_memtable *ahead = ahead_table(n, seed, s, checksum_bytes);
          for (uint64_t snapshot = n / 2; snapshot <= n + 1; snapshot += n / 2 + 1) {
            iter_pair pair = open_pair(plain, ahead, snapshot);
            size_t forward = scan_pair(&pair, true, seed);
            size_t backward = scan_pair(&pair, false, seed);
            assert_int_equal(forward, backward);
            if (snapshot > n) assert_int_equal(forward, n); /* every entry: n adds, each its own seq */
            close_pair(&pair);
          }
          mt_memtable_unref(ahead);
        }
        mt_memtable_unref(plain);
      }
    }
  }
}

/* Keys with long version chains (the user view passes them by searching, and holds the walker back): the
 * same answers with readahead as without, in both directions, at snapshots before, inside and after the
 * versions, with and without version links. Version v of key k has sequence number v * keys + k + 1, added
 * round by round; every seventh version is a tombstone, and so is the newest version of every third key. */
static mt_memtable *chain_table(size_t keys, size_t versions, unsigned segments, unsigned nodes, bool version_links) {
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.scan_readahead_segments = segments;
  options.scan_readahead_segment_nodes = nodes;
  options.version_links = version_links;
  options.write_buffer_size = (size_t)64 << 20;
  mt_memtable *table = new_table(&options);
  char key[24];
  for (size_t v = 0; v < versions; v++) {
    for (size_t k = 0; k < keys; k++) {
      int key_len = scan_key(key, k * 7 % keys);
      uint64_t seq = (uint64_t)(v * keys + k + 1);
      bool tombstone = v % 7 == 6 || (v + 1 == versions && k % 3 == 0);
      char value[32];
      int value_len = snprintf(value, sizeof value, "v%" PRIu64, seq);
      assert_int_equal(mt_memtable_add(table, seq, tombstone ? MT_TYPE_DELETION : MT_TYPE_VALUE, key, (size_t)key_len,
                                       value, tombstone ? 0 : (size_t)value_len),
                       MT_OK);
    }
  }
  return table;
}

static void scan_test_long_version_chains_equal_plain_scans(void **state) {
  (void)state;
  static const struct {
    size_t keys, versions;
  } chains[] = {{8, 2000}, {60, 100}, {300, 12}};
  static const walker_shape chain_shapes[] = {{8, 512}, {3, 4}};
  for (size_t c = 0; c < sizeof(chains) / sizeof(chains[0]); c++) {
    size_t keys = chains[c].keys, versions = chains[c].versions;
    mt_memtable *plain = chain_table(keys, versions, 0, 0, false);
    const uint64_t last = (uint64_t)(keys * versions);
    const uint64_t snapshots[] = {last, last / 2 + 3, (uint64_t)keys / 2, UINT64_MAX};
    for (size_t w = 0; w < 2 * (sizeof(chain_shapes) / sizeof(chain_shapes[0])); w++) {
      const walker_shape *shape = &chain_shapes[w / 2];
      mt_memtable *ahead = chain_table(keys, versions, shape->segments, shape->nodes, w % 2 == 1);
      for (size_t i = 0; i < sizeof(snapshots) / sizeof(snapshots[0]); i++) {
        iter_pair pair = open_pair(plain, ahead, snapshots[i]);
        size_t forward = scan_pair(&pair, true, c * 100 + w);
        size_t backward = scan_pair(&pair, false, c * 100 + w);
        assert_int_equal(forward, keys * versions); /* the internal iterators' steps: every entry */
        assert_int_equal(backward, forward);
        close_pair(&pair);
      }
      mt_memtable_unref(ahead);
    }
    mt_memtable_unref(plain);
  }
}

/* Random moves: runs of next or prev (long enough to arm the walker), seeks, switches of direction. */
static void scan_test_seeks_steps_and_direction_switches_equal_plain(void **state) {
  (void)state;
  for (uint64_t seed = 11; seed <= 16; seed++) {
    size_t n = 1500;
    unsigned checksum_bytes = seed % 2 == 0 ? 4 : 0;
    mt_memtable *plain = scan_table(n, seed, 0, 0, checksum_bytes, false);
    for (size_t s = 0; s < AHEAD_VARIANTS; s++) {
      mt_memtable *ahead = ahead_table(n, seed, s, checksum_bytes);
      iter_pair pair = open_pair(plain, ahead, (uint64_t)n * 3 / 4);
      uint64_t rng = seed * 1000 + s;
      size_t step = 0;
      for (int move = 0; move < 300; move++) {
        op o = (op)mt_rng_below(&rng, OP_COUNT);
        char key[24];
        int key_len = scan_key(key, mt_rng_below(&rng, n * 2 + 2));
        uint64_t seq = mt_rng_below(&rng, n + 2);
        size_t repeat = (o == OP_NEXT || o == OP_PREV) ? 1 + mt_rng_below(&rng, 40) : 1;
        for (size_t r = 0; r < repeat; r++, step++) {
          apply(pair.plain, pair.user_plain, o, key, (size_t)key_len, seq);
          apply(pair.ahead, pair.user_ahead, o, key, (size_t)key_len, seq);
          check_pair(&pair, seed, "random moves", step);
        }
      }
      close_pair(&pair);
      mt_memtable_unref(ahead);
    }
    mt_memtable_unref(plain);
  }
}

/* Adds made between the iterators' steps, into both tables alike: the readahead iterator must return what
 * the plain one does, i.e. every entry linked ahead of it since its walker buffered that stretch (found by
 * the fuzz target: the walker used to emit its buffer regardless). Half of the adds land right beside the
 * iterator: a newer version of its key (just before it) or a key just after its key. */
static void add_to_both(mt_memtable *plain, mt_memtable *ahead, const char *key, size_t key_len, uint64_t seq) {
  mt_status first = mt_memtable_add(plain, seq, MT_TYPE_VALUE, key, key_len, "new", 3);
  assert_int_equal(mt_memtable_add(ahead, seq, MT_TYPE_VALUE, key, key_len, "new", 3), first);
  assert_true(first == MT_OK || first == MT_EXISTS);
}

static void scan_test_adds_between_steps_are_seen_as_by_plain_scans(void **state) {
  (void)state;
  for (uint64_t seed = 21; seed <= 24; seed++) {
    size_t n = 1500;
    unsigned checksum_bytes = seed % 2 == 0 ? 4 : 0;
    for (size_t s = 0; s < AHEAD_VARIANTS; s++) {
      mt_memtable *plain = scan_table(n, seed, 0, 0, checksum_bytes, false);
      mt_memtable *ahead = ahead_table(n, seed, s, checksum_bytes);
      iter_pair pair = open_pair(plain, ahead, MT_MAX_SEQUENCE);
      uint64_t rng = seed * 7919 + s;
      uint64_t seq = n + 1;
      size_t step = 0;
      for (int run = 0; run < 60; run++) {
        op o = run % 5 == 4 ? (op)mt_rng_below(&rng, OP_COUNT) : (run % 2 == 0 ? OP_NEXT : OP_PREV);
        size_t repeat = (o == OP_NEXT || o == OP_PREV) ? 5 + mt_rng_below(&rng, 60) : 1;
        char key[40];
        int key_len = scan_key(key, mt_rng_below(&rng, n * 2 + 2));
        for (size_t r = 0; r < repeat; r++, step++) {
          apply(pair.plain, pair.user_plain, o, key, (size_t)key_len, MT_MAX_SEQUENCE);
          apply(pair.ahead, pair.user_ahead, o, key, (size_t)key_len, MT_MAX_SEQUENCE);
          check_pair(&pair, seed, "adds between steps", step);
          if (mt_rng_below(&rng, 3) != 0) continue;
          char add[40];
          int add_len = scan_key(add, mt_rng_below(&rng, n * 2 + 2));
          if (mt_memtable_iter_valid(pair.plain) && mt_rng_below(&rng, 2) == 0) {
            mt_slice here = mt_memtable_iter_user_key(pair.plain);
            assert_true(here.len + 1 < sizeof add);
            memcpy(add, here.data, here.len);
            add_len = (int)here.len;
            if (mt_rng_below(&rng, 2) == 0) add[add_len++] = '+'; /* sorts right after every version */
          }
          /* A third of the adds are older versions (a sequence number of the fill's): linked after the
           * newer ones, where the version links of those do not reach. */
          uint64_t add_seq = mt_rng_below(&rng, 3) == 0 ? 1 + mt_rng_below(&rng, n) : seq++;
          add_to_both(plain, ahead, add, (size_t)add_len, add_seq);
        }
      }
      close_pair(&pair);
      mt_memtable_unref(ahead);
      mt_memtable_unref(plain);
    }
  }
}

/* Without memory for the walker the iterators still work, plainly. */
static void scan_test_refused_walker_scans_plainly(void **state) {
  (void)state;
  test_allocator allocator = TEST_ALLOCATOR_INIT;
  allocator.refuse_above = 1024; /* the iterators fit; a walker (4 KiB and its buffers) does not */
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.reader_allocator = test_allocator_hooks(&allocator);
  options.checksum_bytes = 4;
  mt_memtable *ahead = new_table(&options);
  fill(ahead, 2000, 5);
  mt_memtable *plain = scan_table(2000, 5, 0, 0, 4, false);
  iter_pair pair = open_pair(plain, ahead, MT_MAX_SEQUENCE);
  assert_int_equal(allocator.failures, 2); /* one walker per iterator refused */
  assert_int_equal(scan_pair(&pair, true, 5), 2000);
  assert_int_equal(scan_pair(&pair, false, 5), 2000);
  close_pair(&pair);
  assert_int_equal(allocator.live_blocks, 0);
  assert_int_equal(allocator.bad_frees, 0);
  mt_memtable_unref(ahead);
  mt_memtable_unref(plain);
}

static void scan_test_options_out_of_range_are_refused(void **state) {
  (void)state;
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  assert_int_equal(options.scan_readahead_segments, MT_MEMTABLE_DEFAULT_SCAN_READAHEAD_SEGMENTS);
  assert_int_equal(options.scan_readahead_segment_nodes, MT_MEMTABLE_DEFAULT_SCAN_READAHEAD_SEGMENT_NODES);
  mt_memtable *table = NULL;
  options.scan_readahead_segments = 65;
  assert_int_equal(mt_memtable_try_create(&options, &table), MT_INVALID_ARGUMENT);
  assert_null(table);
  options.scan_readahead_segments = 64;
  options.scan_readahead_segment_nodes = 65537;
  assert_int_equal(mt_memtable_try_create(&options, &table), MT_INVALID_ARGUMENT);
  options.scan_readahead_segment_nodes = 65536;
  assert_int_equal(mt_memtable_try_create(&options, &table), MT_OK);
  mt_memtable_unref(table);
}

/* Beside a writer: the writer adds keys in a random order; each reader scan must be strictly ordered, must
 * not repeat a key, and must see every key whose add returned before the scan began. */
/* cmocka's assertions are for the main thread; the racing threads abort (ctest names the test). */
#define RACE_CHECK(condition)                                                        \
  do {                                                                               \
    if (!(condition)) {                                                              \
      fprintf(stderr, "scan beside a writer: %s failed at line %d\n", #condition, __LINE__); \
      abort();                                                                       \
    }                                                                                \
  } while (0)
#define RACE_CHECK_EQUAL(a, b) RACE_CHECK((a) == (b))

#define WRITER_KEYS 20000
#define WRITER_PRESET 4000

typedef struct writer_race {
  mt_memtable *table;
  bool versions;               /* keys repeat in order[] (versions, added out of sequence order) */
  uint32_t order[WRITER_KEYS]; /* key order[j] is added j-th */
  _Atomic size_t added;        /* adds returned so far */
  _Atomic bool stop;
} writer_race;

static void race_add(writer_race *race, size_t j) {
  char key[24];
  int key_len = scan_key(key, race->order[j]);
  /* With versions the sequence numbers are 1..WRITER_KEYS scrambled (7919 is prime to WRITER_KEYS). */
  uint64_t seq = race->versions ? (uint64_t)(j * 7919 % WRITER_KEYS) + 1 : (uint64_t)j + 1;
  RACE_CHECK_EQUAL(mt_memtable_add(race->table, seq, MT_TYPE_VALUE, key, (size_t)key_len, "v", 1), MT_OK);
  /* Release: a reader that reads the count sees the adds it counts. */
  atomic_store_explicit(&race->added, j + 1, memory_order_release);
}

static void *race_writer(void *arg) {
  writer_race *race = arg;
  for (size_t j = WRITER_PRESET; j < WRITER_KEYS; j++) race_add(race, j);
  atomic_store_explicit(&race->stop, true, memory_order_relaxed); /* relaxed: a flag only, joined after */
  return NULL;
}

static uint32_t key_number(mt_slice key) {
  RACE_CHECK(key.len == 10 && memcmp(key.data, "key-", 4) == 0);
  uint32_t k = 0;
  for (size_t i = 4; i < key.len; i++) k = k * 10 + (uint32_t)(key.data[i] - '0');
  return k;
}

/* One scan, either view, either direction: order strict, and everything added before it began was seen. */
static void race_scan(writer_race *race, bool user_view, bool forward, bool *seen) {
  size_t before = atomic_load_explicit(&race->added, memory_order_acquire);
  memset(seen, 0, WRITER_KEYS * sizeof(bool));
  mt_memtable_iter *iter = user_view ? NULL : mt_memtable_iter_create(race->table);
  mt_memtable_user_iter *user = user_view ? mt_memtable_user_iter_create(race->table, MT_MAX_SEQUENCE) : NULL;
  RACE_CHECK(iter != NULL || user != NULL);
  apply(iter, user, forward ? OP_FIRST : OP_LAST, NULL, 0, 0);
  int64_t last = forward ? -1 : WRITER_KEYS;
  for (;;) {
    bool valid = user_view ? mt_memtable_user_iter_valid(user) : mt_memtable_iter_valid(iter);
    if (!valid) break;
    uint32_t k = key_number(user_view ? mt_memtable_user_iter_key(user) : mt_memtable_iter_user_key(iter));
    /* Strict: no repeats, no disorder (the internal view meets a key once per version). */
    if (user_view || !race->versions) {
      RACE_CHECK(forward ? (int64_t)k > last : (int64_t)k < last);
    } else {
      RACE_CHECK(forward ? (int64_t)k >= last : (int64_t)k <= last);
    }
    last = k;
    seen[k] = true;
    apply(iter, user, forward ? OP_NEXT : OP_PREV, NULL, 0, 0);
  }
  RACE_CHECK_EQUAL(user_view ? mt_memtable_user_iter_status(user) : mt_memtable_iter_status(iter), MT_OK);
  for (size_t j = 0; j < before; j++) RACE_CHECK(seen[race->order[j]]);
  mt_memtable_iter_destroy(iter);
  mt_memtable_user_iter_destroy(user);
}

static void *race_reader(void *arg) {
  writer_race *race = arg;
  bool *seen = malloc(WRITER_KEYS * sizeof(bool));
  RACE_CHECK(seen != NULL);
  int round = 0;
  do {
    race_scan(race, round % 4 >= 2, round % 2 == 0, seen);
    round++;
  } while (!atomic_load_explicit(&race->stop, memory_order_relaxed) || round < 4); /* relaxed: a flag only */
  free(seen);
  return NULL;
}

/* Variants: plain keys with the default walker; with checksums and segments that overflow all the time (4
 * nodes); and, with version links, WRITER_KEYS / 5 keys of 5 versions each, added in a random order of keys
 * and out of sequence order, with both walker sizes. */
static void scan_test_scans_beside_a_writer(void **state) {
  (void)state;
  for (unsigned variant = 0; variant < 4; variant++) {
    writer_race *race = malloc(sizeof *race);
    assert_non_null(race);
    mt_memtable_options options;
    mt_memtable_options_init(&options);
    options.checksum_bytes = variant % 2 == 0 ? 0 : 4;
    options.scan_readahead_segment_nodes = variant % 2 == 0 ? 512 : 4; /* 4: segments overflow all the time */
    race->versions = variant >= 2;
    options.version_links = race->versions;
    race->table = new_table(&options);
    for (uint32_t j = 0; j < WRITER_KEYS; j++) race->order[j] = race->versions ? j % (WRITER_KEYS / 5) : j;
    uint64_t rng = 77 + variant;
    for (uint32_t j = WRITER_KEYS - 1; j > 0; j--) {
      uint32_t other = (uint32_t)mt_rng_below(&rng, j + 1);
      uint32_t swap = race->order[j];
      race->order[j] = race->order[other];
      race->order[other] = swap;
    }
    atomic_init(&race->added, 0);
    atomic_init(&race->stop, false);
    for (size_t j = 0; j < WRITER_PRESET; j++) race_add(race, j);
    thread_team readers;
    thread_team_start(&readers, race_reader, race, 0, 2);
    thread_team_run(race_writer, race, 0, 1);
    thread_team_join(&readers);
    mt_memtable_unref(race->table);
    free(race);
  }
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(scan_test_whole_scans_equal_plain_scans),
      cmocka_unit_test(scan_test_seeks_steps_and_direction_switches_equal_plain),
      cmocka_unit_test(scan_test_long_version_chains_equal_plain_scans),
      cmocka_unit_test(scan_test_adds_between_steps_are_seen_as_by_plain_scans),
      cmocka_unit_test(scan_test_refused_walker_scans_plainly),
      cmocka_unit_test(scan_test_options_out_of_range_are_refused),
      cmocka_unit_test(scan_test_scans_beside_a_writer),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
