/* memtable_budget_test: exact memory budgets. The arena's split (held = headers + used + wasted + free) against
 * allocations of known sizes; mt_memtable_entry_size against the arena's used-bytes delta of every add (bound
 * and tightness) over many key/value sizes, checksums and both writer modes; prepare / add_prepared / cancel
 * (MT_FULL before the log record would be written, the table still usable; capacity and allocator failure;
 * concurrent writers with reservations); the table's split; should_flush firing before a block past
 * write_buffer_size opens. */
#define _POSIX_C_SOURCE 200809L
#include "support/test_util.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/arena.h>
#include <memtable/memtable.h>

#include "support/allocator.h"
#include "support/rng.h"
#include "support/thread_team.h"
#include "support/tsan.h"

/* The node's links are 8-byte aligned: the most padding the arena puts before a node. */
#define NODE_PADDING_MAX ((size_t)7)
/* The memtable's tallest tower for a skiplist branching (options.skiplist_branching: the smallest h with
 * branching^h >= 2^24), and the bytes of it beyond the one link every node has. */
static size_t tallest_tower(unsigned branching) { return branching == 2 ? 24 : branching == 4 ? 12 : 0; }
static size_t tower_slack_max(unsigned branching) { return (tallest_tower(branching) - 1) * 8; }
#define DEFAULT_TOWER_SLACK_MAX tower_slack_max(MT_MEMTABLE_DEFAULT_SKIPLIST_BRANCHING)

#ifdef MT_TEST_UNDER_TSAN
#define CONCURRENT_OPS 400
#else
#define CONCURRENT_OPS 4000
#endif

static mt_arena_stats arena_stats_of(const mt_arena *arena) {
  mt_arena_stats s;
  assert_int_equal(mt_arena_get_stats(arena, &s), MT_OK);
  return s;
}

static mt_memtable_memory_stats table_stats_of(const mt_memtable *table) {
  mt_memtable_memory_stats s;
  assert_int_equal(mt_memtable_get_memory_stats(table, &s), MT_OK);
  return s;
}

/* The identities both structs promise once writers are quiescent. */
static void assert_split_exact(const mt_memtable *table) {
  mt_memtable_memory_stats s = table_stats_of(table);
  assert_int_equal(s.arena.held_bytes, mt_memtable_approximate_memory_usage(table));
  assert_int_equal(s.arena.held_bytes, s.arena.header_bytes + s.arena.used_bytes + s.arena.wasted_bytes +
                                           s.arena.free_bytes);
  assert_int_equal(s.arena.used_bytes, s.filter_bytes + s.index_bytes + s.bookkeeping_bytes + s.entry_bytes);
  assert_int_equal(s.entries, mt_memtable_entry_count(table));
  assert_true(s.abandoned_bytes <= s.entry_bytes);
}

static void fill(char *buf, size_t len, uint64_t tag) {
  for (size_t i = 0; i < len; i++) buf[i] = (char)('a' + (tag + i * 7) % 26);
}

/* ---- arena ---- */

static void budget_test_arena_stats_account_every_byte(void **state) {
  (void)state;
  mt_arena_options options = MT_ARENA_OPTIONS_INIT;
  options.block_size = 4096;
  mt_arena *arena = mt_arena_create(&options);
  assert_non_null(arena);
  mt_arena_stats s = arena_stats_of(arena);
  assert_int_equal(s.held_bytes, 0);
  assert_int_equal(s.used_bytes + s.wasted_bytes + s.free_bytes + s.blocks, 0);
  assert_int_equal(s.block_size, 4096);

  /* Unaligned requests: no padding, so used is exactly the sum of the requests. */
  size_t requested = 0;
  for (size_t i = 0; i < 10; i++) {
    assert_non_null(mt_arena_allocate(arena, 100 + i));
    requested += 100 + i;
  }
  s = arena_stats_of(arena);
  assert_int_equal(s.used_bytes, requested);
  assert_int_equal(s.blocks, 1);
  assert_int_equal(s.wasted_bytes, 0);
  assert_int_equal(s.held_bytes, s.header_bytes + s.used_bytes + s.free_bytes);
  size_t header = s.header_bytes;

  assert_non_null(mt_arena_allocate(arena, 1500));
  requested += 1500;
  s = arena_stats_of(arena);
  assert_true(s.free_bytes < 2000);
  /* A request above a quarter block that does not fit gets its own block: nothing is abandoned, the tail
   * keeps serving. */
  size_t free_before = s.free_bytes;
  assert_int_equal(mt_arena_growth_bound(arena, 2000, 1), header + 2000);
  assert_non_null(mt_arena_allocate(arena, 2000));
  s = arena_stats_of(arena);
  assert_int_equal(s.blocks, 2);
  assert_int_equal(s.held_bytes, 4096 + header + 2000);
  assert_int_equal(s.free_bytes, free_before);
  assert_int_equal(s.wasted_bytes, 0);
  requested += 2000;
  assert_int_equal(s.used_bytes, requested);

  /* A small request that does not fit abandons the tail: exactly the free figure before becomes waste. */
  assert_non_null(mt_arena_allocate(arena, s.free_bytes - 10));
  requested += free_before - 10;
  s = arena_stats_of(arena);
  assert_int_equal(s.free_bytes, 10);
  assert_int_equal(mt_arena_growth_bound(arena, 500, 1), 4096);
  assert_non_null(mt_arena_allocate(arena, 500));
  requested += 500;
  s = arena_stats_of(arena);
  assert_int_equal(s.blocks, 3);
  assert_int_equal(s.wasted_bytes, 10);
  assert_int_equal(s.used_bytes, requested);
  assert_int_equal(s.held_bytes, s.header_bytes + s.used_bytes + s.wasted_bytes + s.free_bytes);

  /* Undoing an allocation that opened a block gives the block back and takes its waste back with it. */
  assert_non_null(mt_arena_allocate(arena, s.free_bytes - 1));
  mt_arena_stats full = arena_stats_of(arena);
  void *last = mt_arena_allocate(arena, 64); /* opens a block, abandoning a 1-byte tail */
  assert_non_null(last);
  s = arena_stats_of(arena);
  assert_int_equal(s.wasted_bytes, full.wasted_bytes + 1);
  assert_int_equal(s.blocks, full.blocks + 1);
  assert_int_equal(mt_arena_undo_last(arena, last), MT_OK);
  s = arena_stats_of(arena);
  assert_memory_equal(&s, &full, sizeof(s));
  /* And a bump's undo gives its bytes back to the tail. */
  last = mt_arena_allocate(arena, 1);
  assert_non_null(last);
  assert_int_equal(mt_arena_undo_last(arena, last), MT_OK);
  s = arena_stats_of(arena);
  assert_memory_equal(&s, &full, sizeof(s));

  /* Aligned requests: the padding counts as used. */
  assert_non_null(mt_arena_allocate(arena, 3));
  mt_arena_stats unaligned = arena_stats_of(arena);
  char *aligned = mt_arena_allocate_aligned_to(arena, 8, 64);
  assert_non_null(aligned);
  s = arena_stats_of(arena);
  assert_true(s.used_bytes - unaligned.used_bytes >= 8);
  assert_int_equal(s.held_bytes, s.header_bytes + s.used_bytes + s.wasted_bytes + s.free_bytes);

  mt_arena_reset(arena);
  s = arena_stats_of(arena);
  assert_int_equal(s.blocks, 1);
  assert_int_equal(s.wasted_bytes, 0);
  assert_int_equal(s.used_bytes, 0);
  assert_int_equal(s.held_bytes, s.header_bytes + s.free_bytes);
  mt_arena_destroy(arena);
}

/* Concurrent mode: a thread's chunk counts as used whole; a refill moves its tail to waste. */
static void budget_test_arena_stats_concurrent_chunks(void **state) {
  (void)state;
  mt_arena_options options = MT_ARENA_OPTIONS_INIT;
  options.block_size = 4096; /* chunks of 512 bytes, small requests up to 128 */
  options.concurrent = true;
  mt_arena *arena = mt_arena_create(&options);
  assert_non_null(arena);
  assert_non_null(mt_arena_allocate(arena, 100));
  mt_arena_stats s = arena_stats_of(arena);
  assert_int_equal(s.used_bytes, 512); /* the chunk, whole */
  assert_int_equal(s.wasted_bytes, 0);
  for (int i = 0; i < 4; i++) assert_non_null(mt_arena_allocate(arena, 100)); /* 500 of the chunk's 512 */
  s = arena_stats_of(arena);
  assert_int_equal(s.used_bytes, 512);
  assert_non_null(mt_arena_allocate(arena, 100)); /* refill: the 12-byte tail is abandoned */
  s = arena_stats_of(arena);
  assert_int_equal(s.wasted_bytes, 12);
  assert_int_equal(s.used_bytes, 1024 - 12);
  assert_int_equal(s.held_bytes, s.header_bytes + s.used_bytes + s.wasted_bytes + s.free_bytes);
  assert_int_equal(mt_arena_growth_bound(arena, 100, 1), 4096);  /* a refill at worst */
  assert_int_equal(mt_arena_growth_bound(arena, 200, 8), 4096);  /* shared, standard block */
  assert_int_equal(mt_arena_growth_bound(arena, 2000, 8), s.header_bytes + 2000); /* its own block */
  mt_arena_destroy(arena);
}

/* ---- entry size ---- */

typedef struct size_case {
  size_t key_len, value_len;
} size_case;

static size_case random_case(uint64_t *rng) {
  static const size_t values[] = {0, 1, 100, 119, 120, 127, 128, 1000, 16254, 16383, 16384, 20000};
  size_case c;
  c.key_len = mt_rng_below(rng, 70);
  if (mt_rng_below(rng, 16) == 0) c.key_len += 120; /* a two-byte key length varint */
  c.value_len = values[mt_rng_below(rng, sizeof(values) / sizeof(values[0]))];
  if (mt_rng_below(rng, 2) == 0) c.value_len = mt_rng_below(rng, 300);
  return c;
}

/* Single writer: every add's used-bytes delta is at most entry_size, at least entry_size - 88 - 7, and a
 * multiple of 8 below it up to the padding; the memory usage delta is at most entry_memory_bound. With
 * version links each node holds 8 bytes more (its group link), in the formula and in the delta alike. */
static void check_entry_size_single_writer(unsigned checksum_bytes, bool version_links, unsigned branching,
                                           uint64_t seed) {
  mt_memtable_options options = MT_MEMTABLE_OPTIONS_INIT;
  options.skiplist_branching = branching;
  options.checksum_bytes = checksum_bytes;
  options.version_links = version_links;
  options.seed = seed;
  options.write_buffer_size = 64u << 20;
  mt_memtable *table = mt_memtable_create(&options);
  assert_non_null(table);
  uint64_t rng = seed;
  static char key[256], value[20000];
  size_t gap_sum = 0, gap_min = SIZE_MAX, adds = 2000;
  for (size_t i = 0; i < adds; i++) {
    size_case c = random_case(&rng);
    fill(key, c.key_len, i);
    fill(value, c.value_len, i * 3);
    size_t bound = mt_memtable_entry_size(table, c.key_len, c.value_len);
    size_t growth_bound = mt_memtable_entry_memory_bound(table, c.key_len, c.value_len);
    size_t encoded = mt_entry_encoded_size(c.key_len, c.value_len);
    MT_CHECK_SEEDED_STEP(bound == encoded + checksum_bytes + (checksum_bytes ? 4 : 0) + (version_links ? 8 : 0) +
                                      tallest_tower(branching) * 8 + NODE_PADDING_MAX,
                         seed, "entry_size formula", i);
    mt_memtable_memory_stats before = table_stats_of(table);
    assert_int_equal(mt_memtable_add(table, i + 1, MT_TYPE_VALUE, key, c.key_len, value, c.value_len), MT_OK);
    mt_memtable_memory_stats after = table_stats_of(table);
    size_t delta = after.arena.used_bytes - before.arena.used_bytes;
    MT_CHECK_SEEDED_STEP(delta <= bound, seed, "bound holds", i);
    size_t gap = bound - delta;
    MT_CHECK_SEEDED_STEP(gap <= tower_slack_max(branching) + NODE_PADDING_MAX, seed, "bound is tight to the tower", i);
    MT_CHECK_SEEDED_STEP(after.entry_bytes - before.entry_bytes == delta, seed, "entries take the delta", i);
    MT_CHECK_SEEDED_STEP(after.arena.held_bytes - before.arena.held_bytes <= growth_bound, seed, "growth", i);
    gap_sum += gap;
    if (gap < gap_min) gap_min = gap;
  }
  /* The gap is (tallest - height) * 8 + the padding not needed. Branching 4: a tower of 4 or more (1 node in
   * 64) in 2000 adds brings it to (12 - 4) * 8 + 7 = 71 or less; the mean sits near (12 - 4/3) * 8 + 3.5
   * (heights average 1 + 1/(branching - 1) links). Branching 2: a tower of 8 or more (1 in 128) brings it to
   * (24 - 8) * 8 + 7 = 135 or less; the mean sits near (24 - 2) * 8 + 3.5. */
  double mean_height = 1.0 + 1.0 / (double)(branching - 1);
  double expected_mean = ((double)tallest_tower(branching) - mean_height) * 8.0 + 3.5;
  assert_true(gap_min <= (branching == 2 ? 135 : 71));
  double mean = (double)gap_sum / (double)adds;
  assert_true(mean > expected_mean - 8.0 && mean < expected_mean + 4.0);
  printf("checksum %u, version links %d, branching %u: entry_size exceeds the add's used bytes by %.1f on average, "
         "%zu at least\n",
         checksum_bytes, version_links, branching, mean, gap_min);
  assert_split_exact(table);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
}

static void budget_test_entry_size_bounds_every_add(void **state) {
  (void)state;
  const unsigned checksums[] = {0, 1, 2, 4, 8};
  for (int links = 0; links < 2; links++) {
    for (size_t i = 0; i < sizeof(checksums) / sizeof(checksums[0]); i++) {
      check_entry_size_single_writer(checksums[i], links != 0, 2, 42 + i);
      check_entry_size_single_writer(checksums[i], links != 0, 4, 42 + i);
    }
  }
}

/* Version links cost exactly 8 bytes per entry: entry_size is 8 more for every size, and the same adds (same
 * seed, so the same towers) reserve exactly 8 bytes more each (the padding before a node aside), all of it
 * counted as entry bytes. */
static void budget_test_version_links_cost_eight_bytes_per_entry(void **state) {
  (void)state;
  const unsigned checksums[] = {0, 4, 8};
  for (size_t k = 0; k < sizeof(checksums) / sizeof(checksums[0]); k++) {
    mt_memtable *tables[2];
    for (int links = 0; links < 2; links++) {
      mt_memtable_options options = MT_MEMTABLE_OPTIONS_INIT;
      options.checksum_bytes = checksums[k];
      options.version_links = links != 0;
      options.write_buffer_size = 64u << 20;
      tables[links] = mt_memtable_create(&options);
      assert_non_null(tables[links]);
    }
    uint64_t rng = 99 + k;
    static char key[256], value[20000];
    for (size_t i = 0; i < 500; i++) {
      size_case c = random_case(&rng);
      if (i % 3 != 0) c.key_len = 8; /* versions of a few keys too, so links are written, not only room for them */
      fill(key, c.key_len, i % 5);
      fill(value, c.value_len, i);
      size_t sizes[2], reserved[2];
      mt_memtable_memory_stats before[2], after[2];
      for (int links = 0; links < 2; links++) {
        sizes[links] = mt_memtable_entry_size(tables[links], c.key_len, c.value_len);
        before[links] = table_stats_of(tables[links]);
        mt_memtable_reservation r;
        assert_int_equal(mt_memtable_prepare(tables[links], c.key_len, c.value_len, &r), MT_OK);
        reserved[links] = r.bytes;
        assert_int_equal(mt_memtable_add_prepared(&r, i + 1, MT_TYPE_VALUE, key, r.key_len, value, r.value_len), MT_OK);
        after[links] = table_stats_of(tables[links]);
      }
      MT_CHECK_SEEDED_STEP(sizes[1] == sizes[0] + 8, rng, "entry_size with links", i);
      MT_CHECK_SEEDED_STEP(reserved[1] == reserved[0] + 8, rng, "node with links", i);
      size_t deltas[2], entry_deltas[2];
      for (int links = 0; links < 2; links++) {
        deltas[links] = after[links].arena.used_bytes - before[links].arena.used_bytes;
        entry_deltas[links] = after[links].entry_bytes - before[links].entry_bytes;
        MT_CHECK_SEEDED_STEP(entry_deltas[links] == deltas[links], rng, "entries take the delta", i);
      }
      /* The used bytes add the padding before the node, which may differ between the tables by up to 7. */
      MT_CHECK_SEEDED_STEP(deltas[1] + NODE_PADDING_MAX >= deltas[0] + 8 && deltas[1] <= deltas[0] + 8 + NODE_PADDING_MAX,
                           rng, "8 bytes more per add", i);
    }
    for (int links = 0; links < 2; links++) {
      assert_split_exact(tables[links]);
      assert_int_equal(mt_memtable_validate(tables[links]), MT_OK);
      mt_memtable_unref(tables[links]);
    }
  }
}

/* Both writer modes through prepare: the reservation's bytes are the node's exact size, entry_size minus the
 * padding allowance minus 8 per link below the tallest tower. */
static void budget_test_entry_size_against_reservations_both_modes(void **state) {
  (void)state;
  const unsigned checksums[] = {0, 4, 8};
  for (int concurrent = 0; concurrent <= 1; concurrent++) {
    for (size_t k = 0; k < sizeof(checksums) / sizeof(checksums[0]); k++) {
      uint64_t seed = 7 + k + (uint64_t)concurrent * 100;
      mt_memtable_options options = MT_MEMTABLE_OPTIONS_INIT;
      options.checksum_bytes = checksums[k];
      options.concurrent_writes = concurrent != 0;
      options.write_buffer_size = 64u << 20;
      mt_memtable *table = mt_memtable_create(&options);
      assert_non_null(table);
      uint64_t rng = seed;
      static char key[256], value[20000];
      for (size_t i = 0; i < 1000; i++) {
        size_case c = random_case(&rng);
        fill(key, c.key_len, i);
        fill(value, c.value_len, i);
        size_t bound = mt_memtable_entry_size(table, c.key_len, c.value_len);
        size_t growth_bound = mt_memtable_entry_memory_bound(table, c.key_len, c.value_len);
        size_t held = mt_memtable_approximate_memory_usage(table);
        mt_memtable_reservation r;
        assert_int_equal(mt_memtable_prepare(table, c.key_len, c.value_len, &r), MT_OK);
        MT_CHECK_SEEDED_STEP(r.bytes + NODE_PADDING_MAX <= bound, seed, "reservation within the bound", i);
        size_t tower_gap = bound - NODE_PADDING_MAX - r.bytes;
        MT_CHECK_SEEDED_STEP(tower_gap % 8 == 0 && tower_gap <= DEFAULT_TOWER_SLACK_MAX, seed, "whole links", i);
        MT_CHECK_SEEDED_STEP(mt_memtable_approximate_memory_usage(table) - held <= growth_bound, seed, "growth", i);
        assert_int_equal(mt_memtable_add_prepared(&r, i + 1, MT_TYPE_VALUE, key, r.key_len, value, r.value_len), MT_OK);
        mt_slice got;
        assert_int_equal(mt_memtable_get(table, key, c.key_len, i + 1, &got), MT_OK);
        assert_int_equal(got.len, c.value_len);
      }
      assert_split_exact(table);
      assert_int_equal(mt_memtable_validate(table), MT_OK);
      mt_memtable_unref(table);
    }
  }
}

/* ---- prepare / add_prepared ---- */

/* An engine's write path: prepare, then (only then) the log record, then the add. MT_FULL comes before the
 * record would be written; the engine rotates and prepares in the fresh table. */
static void budget_test_prepare_full_before_log_then_rotate(void **state) {
  (void)state;
  for (int concurrent = 0; concurrent <= 1; concurrent++) {
    mt_memtable_options options = MT_MEMTABLE_OPTIONS_INIT;
    options.arena.block_size = 4096;
    options.write_buffer_size = 64 * 1024;
    options.concurrent_writes = concurrent != 0;
    options.bloom_bits_per_key = 10;
    mt_memtable *table = mt_memtable_create(&options);
    assert_non_null(table);
    char key[32], value[100];
    uint64_t log_records = 0, seq = 0;
    mt_memtable *rotated = NULL;
    for (;;) {
      seq++;
      snprintf(key, sizeof(key), "key-%012" PRIu64, seq);
      fill(value, sizeof(value), seq);
      mt_memtable_memory_stats before = table_stats_of(table);
      mt_memtable_reservation r;
      mt_status status = mt_memtable_prepare(table, 16, sizeof(value), &r);
      if (status == MT_FULL) {
        /* Nothing changed, and the refused node really needed memory past the budget. */
        mt_memtable_memory_stats after = table_stats_of(table);
        if (!concurrent) assert_memory_equal(&after, &before, sizeof(after));
        assert_true(after.arena.held_bytes <= options.write_buffer_size);
        if (!concurrent) {
          assert_true(after.arena.held_bytes + after.arena.block_size > options.write_buffer_size);
          assert_true(after.arena.free_bytes < mt_memtable_entry_size(table, 16, sizeof(value)));
        }
        assert_null(r.node);
        rotated = mt_memtable_create(&options);
        assert_non_null(rotated);
        assert_int_equal(mt_memtable_prepare(rotated, 16, sizeof(value), &r), MT_OK);
        log_records++;
        assert_int_equal(mt_memtable_add_prepared(&r, seq, MT_TYPE_VALUE, key, r.key_len, value, r.value_len), MT_OK);
        break;
      }
      assert_int_equal(status, MT_OK);
      log_records++; /* the record is written only now */
      assert_int_equal(mt_memtable_add_prepared(&r, seq, MT_TYPE_VALUE, key, r.key_len, value, r.value_len), MT_OK);
    }
    /* Every record written is in one of the two tables; the full one is whole, readable and still usable. */
    assert_int_equal(mt_memtable_entry_count(table) + mt_memtable_entry_count(rotated), log_records);
    assert_int_equal(mt_memtable_validate(table), MT_OK);
    for (uint64_t s = 1; s < seq; s++) {
      snprintf(key, sizeof(key), "key-%012" PRIu64, s);
      assert_int_equal(mt_memtable_get(table, key, 16, MT_MAX_SEQUENCE, NULL), MT_OK);
    }
    assert_true(mt_memtable_should_flush(table));
    assert_split_exact(table);
    /* The plain add does not enforce the budget (only the arena's capacity): the table still takes entries. */
    assert_int_equal(mt_memtable_add(table, seq + 1, MT_TYPE_VALUE, "late", 4, "v", 1), MT_OK);
    mt_memtable_unref(table);
    mt_memtable_unref(rotated);
  }
}

/* The first entry of a table may exceed its budget alone; the next one is refused. */
static void budget_test_prepare_first_entry_may_exceed_budget(void **state) {
  (void)state;
  mt_memtable_options options = MT_MEMTABLE_OPTIONS_INIT;
  options.arena.block_size = 4096;
  options.write_buffer_size = 8192;
  mt_memtable *table = mt_memtable_create(&options);
  assert_non_null(table);
  static char value[10000];
  mt_memtable_reservation r;
  assert_int_equal(mt_memtable_prepare(table, 3, sizeof(value), &r), MT_OK);
  assert_int_equal(mt_memtable_add_prepared(&r, 1, MT_TYPE_VALUE, "big", r.key_len, value, r.value_len), MT_OK);
  assert_true(mt_memtable_approximate_memory_usage(table) > options.write_buffer_size);
  assert_true(mt_memtable_should_flush(table));
  size_t usage = mt_memtable_approximate_memory_usage(table);
  assert_int_equal(mt_memtable_prepare(table, 1, 1, &r), MT_FULL);
  assert_int_equal(mt_memtable_approximate_memory_usage(table), usage);
  mt_memtable_unref(table);
}

/* A reservation is memory already taken: when the arena's capacity or the allocator fails, prepare says so,
 * and reservations taken before still add. */
static void budget_test_prepare_capacity_and_allocator_failure(void **state) {
  (void)state;
  mt_memtable_options options = MT_MEMTABLE_OPTIONS_INIT;
  options.arena.block_size = 4096;
  options.arena.capacity = 3 * 4096;
  options.write_buffer_size = 1u << 20;
  mt_memtable *table = mt_memtable_create(&options);
  assert_non_null(table);
  enum { HELD = 64 };
  mt_memtable_reservation held[HELD];
  char key[32], value[300];
  fill(value, sizeof(value), 1);
  size_t count = 0;
  mt_status status;
  while ((status = mt_memtable_prepare(table, 16, sizeof(value), &held[count])) == MT_OK) {
    count++;
    assert_true(count < HELD);
  }
  assert_int_equal(status, MT_FULL);
  assert_true(count > 10);
  size_t usage = mt_memtable_approximate_memory_usage(table);
  assert_true(usage <= options.arena.capacity);
  assert_int_equal(mt_memtable_add(table, 1000, MT_TYPE_VALUE, "x", 1, value, sizeof(value)), MT_FULL);
  for (size_t i = 0; i < count; i++) {
    snprintf(key, sizeof(key), "key-%012zu", i);
    assert_int_equal(mt_memtable_add_prepared(&held[i], i + 1, MT_TYPE_VALUE, key, held[i].key_len, value, held[i].value_len), MT_OK);
  }
  assert_int_equal(mt_memtable_entry_count(table), count);
  assert_int_equal(mt_memtable_approximate_memory_usage(table), usage);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  assert_split_exact(table);
  mt_memtable_unref(table);

  /* The allocator fails: MT_NOMEM, nothing changed, and the next prepare (allocator healthy) works. */
  test_allocator allocator = TEST_ALLOCATOR_INIT;
  options = (mt_memtable_options)MT_MEMTABLE_OPTIONS_INIT;
  options.arena.block_size = 4096;
  options.arena.allocator = test_allocator_hooks(&allocator);
  table = mt_memtable_create(&options);
  assert_non_null(table);
  mt_memtable_reservation r;
  size_t i = 0;
  for (; i < 40; i++) {
    snprintf(key, sizeof(key), "key-%012zu", i);
    allocator.fail_at = allocator.calls + 1; /* the next block request fails */
    status = mt_memtable_prepare(table, 16, sizeof(value), &r);
    if (status == MT_NOMEM) break;
    assert_int_equal(status, MT_OK);
    assert_int_equal(mt_memtable_add_prepared(&r, i + 1, MT_TYPE_VALUE, key, r.key_len, value, r.value_len), MT_OK);
  }
  assert_int_equal(status, MT_NOMEM);
  assert_null(r.node);
  assert_int_equal(mt_memtable_entry_count(table), i);
  allocator.fail_at = 0;
  assert_int_equal(mt_memtable_prepare(table, 16, sizeof(value), &r), MT_OK);
  assert_int_equal(mt_memtable_add_prepared(&r, i + 1, MT_TYPE_VALUE, key, r.key_len, value, r.value_len), MT_OK);
  assert_int_equal(mt_memtable_get(table, key, 16, MT_MAX_SEQUENCE, NULL), MT_OK);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  assert_split_exact(table);
  mt_memtable_unref(table);
  assert_int_equal(allocator.live_blocks, 0);
}

static void budget_test_cancel_gives_memory_back_newest_first(void **state) {
  (void)state;
  mt_memtable_options options = MT_MEMTABLE_OPTIONS_INIT;
  options.arena.block_size = 4096;
  options.checksum_bytes = 4;
  mt_memtable *table = mt_memtable_create(&options);
  assert_non_null(table);
  assert_int_equal(mt_memtable_add(table, 1, MT_TYPE_VALUE, "a", 1, "1", 1), MT_OK);
  /* The newest reservation goes back whole, even when it opened a block. */
  mt_memtable_reservation r[3];
  /* Until the tail cannot hold a node of 10 + 900 bytes (938 at least), a standard one at most towers. */
  while (table_stats_of(table).arena.free_bytes >= 900) {
    assert_int_equal(mt_memtable_prepare(table, 10, 900, &r[0]), MT_OK);
    assert_true(mt_memtable_cancel_prepared(&r[0]));
    assert_int_equal(mt_memtable_add(table, 2 + table_stats_of(table).entries, MT_TYPE_VALUE, "b", 1, "", 0), MT_OK);
  }
  mt_memtable_memory_stats start = table_stats_of(table);
  assert_int_equal(mt_memtable_prepare(table, 10, 900, &r[0]), MT_OK);
  mt_memtable_memory_stats s = table_stats_of(table);
  assert_int_equal(s.arena.blocks, start.arena.blocks + 1);
  assert_true(mt_memtable_cancel_prepared(&r[0]));
  s = table_stats_of(table);
  assert_memory_equal(&s, &start, sizeof(s));
  assert_false(mt_memtable_cancel_prepared(&r[0])); /* holds nothing now */

  /* Only the arena's latest allocation can be undone, once: the others are abandoned and counted. */
  for (int i = 0; i < 3; i++) assert_int_equal(mt_memtable_prepare(table, 10, 100, &r[i]), MT_OK);
  assert_true(mt_memtable_cancel_prepared(&r[2]));
  assert_false(mt_memtable_cancel_prepared(&r[1]));
  assert_false(mt_memtable_cancel_prepared(&r[0]));
  s = table_stats_of(table);
  assert_int_equal(s.abandoned_bytes, r[0].bytes + r[1].bytes);
  assert_int_equal(s.entries, start.entries);
  assert_split_exact(table);

  /* add_prepared: bad arguments keep the reservation; a duplicate consumes it; a freeze refuses it. */
  mt_memtable_reservation d;
  assert_int_equal(mt_memtable_prepare(table, 1, 1, &d), MT_OK);
  assert_int_equal(mt_memtable_add_prepared(&d, MT_MAX_SEQUENCE + 1, MT_TYPE_VALUE, "a", d.key_len, "2", d.value_len), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_add_prepared(&d, 2, (mt_entry_type)7, "a", d.key_len, "2", d.value_len), MT_INVALID_ARGUMENT);
  /* Lengths other than the prepared ones would not fit the node. */
  assert_int_equal(mt_memtable_add_prepared(&d, 2, MT_TYPE_VALUE, "ab", 2, "2", d.value_len), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_add_prepared(&d, 2, MT_TYPE_VALUE, "a", d.key_len, "", 0), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_add_prepared(&d, 2, MT_TYPE_VALUE, NULL, d.key_len, "2", d.value_len), MT_INVALID_ARGUMENT);
  assert_non_null(d.node);
  size_t usage = mt_memtable_approximate_memory_usage(table);
  assert_int_equal(mt_memtable_add_prepared(&d, 1, MT_TYPE_VALUE, "a", d.key_len, "2", d.value_len), MT_EXISTS);
  assert_null(d.node);
  /* A consumed reservation holds nothing: a state error, not an argument error. */
  assert_int_equal(mt_memtable_add_prepared(&d, 2, MT_TYPE_VALUE, "a", d.key_len, "2", d.value_len), MT_INVALID_STATE);
  assert_int_equal(mt_memtable_approximate_memory_usage(table), usage);
  assert_int_equal(mt_memtable_prepare(table, 1, 1, &d), MT_OK);
  assert_int_equal(mt_memtable_freeze(table), MT_OK);
  assert_int_equal(mt_memtable_add_prepared(&d, 2, MT_TYPE_VALUE, "b", d.key_len, "2", d.value_len), MT_FROZEN);
  assert_true(mt_memtable_cancel_prepared(&d));
  assert_int_equal(mt_memtable_prepare(table, 1, 1, &d), MT_FROZEN);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
}

static void budget_test_bad_arguments(void **state) {
  (void)state;
  mt_memtable *table = mt_memtable_create(NULL);
  assert_non_null(table);
  mt_memtable_reservation r;
  assert_int_equal(mt_memtable_prepare(NULL, 1, 1, &r), MT_INVALID_ARGUMENT);
  assert_null(r.node);
  assert_int_equal(mt_memtable_prepare(table, 1, 1, NULL), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_prepare(table, MT_MAX_KEY_LEN + 1, 1, &r), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_prepare(table, 1, MT_MAX_VALUE_LEN, &r), MT_INVALID_ARGUMENT); /* above 4 GiB - 1 */
  assert_int_equal(mt_memtable_add_prepared(NULL, 1, MT_TYPE_VALUE, "", 0, "", 0), MT_INVALID_ARGUMENT);
  assert_false(mt_memtable_cancel_prepared(NULL));
  assert_int_equal(mt_memtable_entry_size(NULL, 1, 1), 0);
  assert_int_equal(mt_memtable_entry_size(table, MT_MAX_KEY_LEN + 1, 1), 0);
  assert_int_equal(mt_memtable_entry_memory_bound(table, MT_MAX_KEY_LEN + 1, 1), 0);
  assert_int_equal(mt_memtable_entry_memory_bound(NULL, 1, 1), 0);
  assert_int_equal(mt_memtable_get_memory_stats(NULL, NULL), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_get_memory_stats(table, NULL), MT_INVALID_ARGUMENT);
  mt_arena_stats a;
  assert_int_equal(mt_arena_get_stats(NULL, &a), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_arena_growth_bound(NULL, 1, 1), 0);
  mt_arena *arena = mt_arena_create(NULL);
  assert_int_equal(mt_arena_get_stats(arena, NULL), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_arena_growth_bound(arena, 1, 3), 0);
  assert_int_equal(mt_arena_growth_bound(arena, (size_t)-1, 1), 0);
  mt_arena_destroy(arena);
  assert_false(mt_memtable_should_flush(NULL));
  mt_memtable_unref(table);
}

/* ---- should_flush ---- */

static void check_flush_before_last_block(size_t block_size, size_t budget, bool concurrent) {
  mt_memtable_options options = MT_MEMTABLE_OPTIONS_INIT;
  options.arena.block_size = block_size;
  options.write_buffer_size = budget;
  options.concurrent_writes = concurrent;
  mt_memtable *table = mt_memtable_create(&options);
  assert_non_null(table);
  char key[32], value[100];
  uint64_t seq = 0;
  while (!mt_memtable_should_flush(table)) {
    seq++;
    snprintf(key, sizeof(key), "key-%012" PRIu64, (seq * 7919) % 1000003);
    fill(value, sizeof(value), seq);
    assert_int_equal(mt_memtable_add(table, seq, MT_TYPE_VALUE, key, 16, value, sizeof(value)), MT_OK);
  }
  mt_memtable_memory_stats s = table_stats_of(table);
  /* Flushed within the budget, with no block it could still have used (the next would cross it), and less
   * than a quarter block (plus padding) of the last one unused. */
  assert_true(s.arena.held_bytes <= budget);
  assert_true(s.arena.held_bytes + s.arena.block_size > budget);
  assert_true(s.arena.free_bytes < s.arena.block_size / 4 + 7);
  /* Blocks are abandoned only when a node does not fit: each tail is below the largest node. */
  size_t node = mt_memtable_entry_size(table, 16, sizeof(value));
  if (!concurrent) {
    assert_true(s.arena.wasted_bytes < s.arena.blocks * node);
  } else {
    /* Concurrent writers: a block's last tail becomes a chunk unless it is below a quarter chunk (a chunk is
     * an eighth of a block, at most 8 KiB), and each chunk's abandoned tail is below a node. */
    size_t chunk = block_size / 8 < 8192 ? block_size / 8 : 8192;
    assert_true(s.arena.wasted_bytes < s.arena.blocks * (chunk / 4 + 8) + (s.arena.used_bytes / (chunk / 4) + 1) * node);
  }
  assert_split_exact(table);
  printf("block %zu, budget %zu%s: flushed at %zu bytes (%" PRIu64 " entries): wasted %zu (%.2f%%), last tail %zu\n",
         block_size, budget, concurrent ? ", concurrent" : "", s.arena.held_bytes, seq, s.arena.wasted_bytes,
         100.0 * (double)s.arena.wasted_bytes / (double)s.arena.held_bytes, s.arena.free_bytes);
  mt_memtable_unref(table);
}

static void budget_test_should_flush_before_last_block_opens(void **state) {
  (void)state;
  check_flush_before_last_block(4096, 256 * 1024, false);
  check_flush_before_last_block(4096, 256 * 1024 + 1000, false);
  check_flush_before_last_block(64 * 1024, 4u << 20, false);
  check_flush_before_last_block(4096, 256 * 1024, true);
  check_flush_before_last_block(64 * 1024, 4u << 20, true);
}

/* ---- concurrent writers ---- */

typedef struct prepared_writer {
  mt_memtable *table;
  unsigned id;
  size_t added;
  size_t refused;
  int unexpected; /* a status add_prepared must never return, or a prepare status besides OK / FULL */
} prepared_writer;

static void *prepared_writer_main(void *arg) {
  prepared_writer *w = arg;
  char key[32], value[64];
  for (size_t i = 0; i < CONCURRENT_OPS; i++) {
    uint64_t seq = (uint64_t)i * 4 + w->id + 1;
    snprintf(key, sizeof(key), "wr%u-%012zu", w->id, i);
    fill(value, sizeof(value), seq);
    mt_memtable_reservation r;
    mt_status status = mt_memtable_prepare(w->table, 16, sizeof(value), &r);
    if (status == MT_FULL) {
      w->refused++;
      break; /* the engine would rotate here */
    }
    if (status != MT_OK) {
      w->unexpected = (int)status;
      break;
    }
    status = mt_memtable_add_prepared(&r, seq, MT_TYPE_VALUE, key, r.key_len, value, r.value_len);
    if (status != MT_OK) {
      w->unexpected = (int)status;
      break;
    }
    w->added++;
    /* Another thread's stats reads while adding (relaxed: checked for sanity only). */
    mt_memtable_memory_stats s;
    if (mt_memtable_get_memory_stats(w->table, &s) != MT_OK || s.arena.used_bytes > s.arena.held_bytes) {
      w->unexpected = -1;
      break;
    }
  }
  return NULL;
}

static void budget_test_concurrent_writers_with_reservations(void **state) {
  (void)state;
  enum { WRITERS = 4 };
  mt_memtable_options options = MT_MEMTABLE_OPTIONS_INIT;
  options.arena.block_size = 4096;
  options.concurrent_writes = true;
  /* Room for about half of what one writer would add (nodes take 100 bytes and more): every writer meets
   * MT_FULL, however the threads are scheduled. */
  options.write_buffer_size = (size_t)CONCURRENT_OPS * 100 / 2;
  mt_memtable *table = mt_memtable_create(&options);
  assert_non_null(table);
  prepared_writer writers[WRITERS];
  for (unsigned w = 0; w < WRITERS; w++) writers[w] = (prepared_writer){table, w, 0, 0, 0};
  thread_team_run(prepared_writer_main, writers, sizeof(writers[0]), WRITERS);
  size_t added = 0;
  for (unsigned w = 0; w < WRITERS; w++) {
    if (writers[w].unexpected != 0) fail_msg("writer %u: unexpected status %d", w, writers[w].unexpected);
    assert_int_equal(writers[w].refused, 1);
    added += writers[w].added;
  }
  /* Every reservation added; every add is there; the budget held up to the blocks the racing writers' last
   * nodes could not give back (each writer at most one). */
  assert_int_equal(mt_memtable_entry_count(table), added);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  assert_true(mt_memtable_approximate_memory_usage(table) <= options.write_buffer_size + WRITERS * 4096);
  char key[32];
  for (unsigned w = 0; w < WRITERS; w++) {
    for (size_t i = 0; i < writers[w].added; i++) {
      snprintf(key, sizeof(key), "wr%u-%012zu", w, i);
      assert_int_equal(mt_memtable_get(table, key, 16, MT_MAX_SEQUENCE, NULL), MT_OK);
    }
  }
  assert_split_exact(table);
  mt_memtable_unref(table);
}

/* A thread per write group (an engine handing each group to whichever thread is free): each thread prepares
 * and adds a small batch, then exits. Every thread's chunk rest goes back to the arena for the next thread, so
 * the table fills its budget as one long-lived writer would: the memory counted as entries but not holding a
 * node is under one chunk per thread running at once, and no prepare is refused before the budget is reached. */
typedef struct batch_writer {
  mt_memtable *table;
  uint64_t first_seq;
  size_t added;
  size_t node_bytes; /* the reservations' bytes: the nodes themselves */
  size_t refused;
  int unexpected;
} batch_writer;

enum { BATCH_ENTRIES = 8, BATCH_KEY_LEN = 16, BATCH_VALUE_LEN = 102 }; /* entries of 128 bytes: no padding */

static void *batch_writer_main(void *arg) {
  batch_writer *w = arg;
  char key[32], value[BATCH_VALUE_LEN];
  for (size_t i = 0; i < BATCH_ENTRIES; i++) {
    uint64_t seq = w->first_seq + i;
    snprintf(key, sizeof(key), "batch-%010" PRIu64, (seq * 7919) % 1000003);
    fill(value, sizeof(value), seq);
    mt_memtable_reservation r;
    mt_status status = mt_memtable_prepare(w->table, BATCH_KEY_LEN, sizeof(value), &r);
    if (status == MT_FULL) {
      w->refused++;
      return NULL;
    }
    if (status == MT_OK) status = mt_memtable_add_prepared(&r, seq, MT_TYPE_VALUE, key, r.key_len, value, r.value_len);
    if (status != MT_OK) {
      w->unexpected = (int)status;
      return NULL;
    }
    w->added++;
    w->node_bytes += r.bytes;
  }
  return NULL;
}

static void budget_test_thread_per_batch_fills_the_budget(void **state) {
  (void)state;
  enum { AT_ONCE = 2 };
  const size_t budget = (size_t)1 << 20;
  mt_memtable_options options = MT_MEMTABLE_OPTIONS_INIT; /* 64 KiB blocks: chunks of 8 KiB */
  options.concurrent_writes = true;
  options.write_buffer_size = budget;
  mt_memtable *table = mt_memtable_create(&options);
  assert_non_null(table);
  const size_t chunk = 8192;
  size_t added = 0, node_bytes = 0, rounds = 0, refused_early = 0;
  uint64_t seq = 1;
  for (bool full = false; !full; rounds++) {
    batch_writer writers[AT_ONCE];
    for (unsigned w = 0; w < AT_ONCE; w++) {
      writers[w] = (batch_writer){table, seq, 0, 0, 0, 0};
      seq += BATCH_ENTRIES;
    }
    thread_team_run(batch_writer_main, writers, sizeof(writers[0]), AT_ONCE);
    for (unsigned w = 0; w < AT_ONCE; w++) {
      if (writers[w].unexpected != 0) fail_msg("round %zu: unexpected status %d", rounds, writers[w].unexpected);
      added += writers[w].added;
      node_bytes += writers[w].node_bytes;
      if (writers[w].refused != 0) full = true;
    }
    mt_memtable_memory_stats s = table_stats_of(table);
    /* Refused only once the table is at its budget: no further standard block would fit. */
    if (full && s.arena.held_bytes + s.arena.block_size <= budget) refused_early++;
  }
  mt_memtable_memory_stats s = table_stats_of(table);
  assert_split_exact(table);
  assert_int_equal(mt_memtable_entry_count(table), added);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  assert_int_equal(refused_early, 0);
  assert_true(s.arena.held_bytes <= budget + AT_ONCE * s.arena.block_size);
  /* Every chunk's rest went back (spare_bytes) and is bounded by the threads that ran at once, not by the
   * threads that ran over the table's life. Nodes need no padding (128-byte entries), so entry_bytes beyond
   * them is exactly that. */
  size_t unused = s.entry_bytes - node_bytes;
  printf("%zu threads (%d at once) added %zu entries: %zu bytes of entries hold no node (%zu spare), %zu wasted, "
         "held %zu of a %zu budget\n",
         rounds * AT_ONCE, AT_ONCE, added, unused, s.arena.spare_bytes, s.arena.wasted_bytes, s.arena.held_bytes,
         budget);
  assert_true(unused < AT_ONCE * chunk);
  assert_true(s.arena.spare_bytes <= unused);
  /* One writer alone would have held about the same: the budget is filled by entries, not stranded chunks. */
  assert_true(node_bytes > s.arena.held_bytes - s.arena.held_bytes / 8);
  mt_memtable_unref(table);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(budget_test_arena_stats_account_every_byte),
      cmocka_unit_test(budget_test_arena_stats_concurrent_chunks),
      cmocka_unit_test(budget_test_entry_size_bounds_every_add),
      cmocka_unit_test(budget_test_version_links_cost_eight_bytes_per_entry),
      cmocka_unit_test(budget_test_entry_size_against_reservations_both_modes),
      cmocka_unit_test(budget_test_prepare_full_before_log_then_rotate),
      cmocka_unit_test(budget_test_prepare_first_entry_may_exceed_budget),
      cmocka_unit_test(budget_test_prepare_capacity_and_allocator_failure),
      cmocka_unit_test(budget_test_cancel_gives_memory_back_newest_first),
      cmocka_unit_test(budget_test_bad_arguments),
      cmocka_unit_test(budget_test_should_flush_before_last_block_opens),
      cmocka_unit_test(budget_test_concurrent_writers_with_reservations),
      cmocka_unit_test(budget_test_thread_per_batch_fills_the_budget),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
