/* block_pool_test: a pool of arena blocks shared by arenas and memtables (memtable/block_pool.h). One
 * thread first: options, reuse of returned blocks, the idle bound, destroy refused while blocks are lent,
 * exhaustion (max_blocks) and allocator failure with the arena and table usable after, reset giving blocks
 * back, memtables rotated through one pool. Then 4 threads rotating tables on one pool, and a
 * concurrent-mode arena on a pool, each with exact final counters.
 *
 * The pool calls its allocator under its own mutex, so the suites' (not thread-safe) test_allocator may back
 * a pool shared by threads; ThreadSanitizer checks that. */
#define _POSIX_C_SOURCE 200809L

#include "support/test_util.h"

#include <memtable/block_pool.h>
#include <memtable/memtable.h>

#include "support/allocator.h"
#include "support/memtable_checks.h"
#include "support/thread_team.h"
#include "support/tsan.h"

#include <stdio.h>

MT_TEST_TSAN_LONG_HISTORY()

#define BLOCK ((size_t)4096)
#define THREADS 4

static mt_block_pool *new_pool(test_allocator *hook, size_t max_idle, size_t max_blocks) {
  mt_block_pool_options options;
  mt_block_pool_options_init(&options);
  options.block_size = BLOCK;
  options.max_idle_blocks = max_idle;
  options.max_blocks = max_blocks;
  options.allocator = test_allocator_hooks(hook);
  mt_block_pool *pool = NULL;
  assert_int_equal(mt_block_pool_try_create(&options, &pool), MT_OK);
  assert_non_null(pool);
  return pool;
}

static mt_block_pool_statistics stats_of(const mt_block_pool *pool) {
  mt_block_pool_statistics stats;
  assert_int_equal(mt_block_pool_get_stats(pool, &stats), MT_OK);
  return stats;
}

static mt_arena *new_pooled_arena(mt_block_pool *pool, bool concurrent) {
  mt_arena_options options;
  mt_arena_options_init(&options);
  options.block_size = 0;
  options.pool = pool;
  options.concurrent = concurrent;
  mt_arena *arena = NULL;
  assert_int_equal(mt_arena_try_create(&options, &arena), MT_OK);
  return arena;
}

/* Quarter-block pieces: three fit a block after its header, a fourth does not (4096 - 16 < 4 * 1024). */
#define PIECE (BLOCK / 4)

/* Allocates pieces until the arena has taken `blocks` pool blocks; the newest then holds one piece. */
static void take_blocks(mt_arena *arena, size_t blocks) {
  while (mt_arena_memory_usage(arena) < blocks * BLOCK) assert_non_null(mt_arena_allocate(arena, PIECE));
  assert_int_equal(mt_arena_memory_usage(arena), blocks * BLOCK);
}

/* After take_blocks: fills the newest block, so the next piece needs another. */
static void top_up(mt_arena *arena) {
  size_t usage = mt_arena_memory_usage(arena);
  for (int i = 0; i < 2; i++) assert_non_null(mt_arena_allocate(arena, PIECE));
  assert_int_equal(mt_arena_memory_usage(arena), usage);
}

static void block_pool_test_options(void **state) {
  (void)state;
  mt_block_pool_options defaults = MT_BLOCK_POOL_OPTIONS_INIT, initialised;
  memset(&initialised, 0xff, sizeof(initialised));
  mt_block_pool_options_init(&initialised);
  assert_memory_equal(&defaults, &initialised, sizeof(defaults));
  mt_block_pool_options_init(NULL);

  mt_block_pool *pool = mt_block_pool_create(NULL);
  assert_non_null(pool);
  assert_int_equal(mt_block_pool_block_size(pool), MT_BLOCK_POOL_DEFAULT_BLOCK_SIZE);
  assert_int_equal(mt_block_pool_block_size(NULL), 0);
  mt_block_pool_statistics stats;
  assert_int_equal(mt_block_pool_get_stats(NULL, &stats), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_block_pool_get_stats(pool, NULL), MT_INVALID_ARGUMENT);

  /* An arena on the pool takes the pool's block size; another explicit size is refused. */
  mt_arena_options arena_options = MT_ARENA_OPTIONS_INIT;
  arena_options.pool = pool;
  mt_arena *arena = (mt_arena *)&arena_options; /* overwritten with NULL on failure */
  arena_options.block_size = 4096;
  assert_int_equal(mt_arena_try_create(&arena_options, &arena), MT_INVALID_ARGUMENT);
  assert_null(arena);
  arena_options.block_size = MT_BLOCK_POOL_DEFAULT_BLOCK_SIZE;
  assert_int_equal(mt_arena_try_create(&arena_options, &arena), MT_OK);
  assert_non_null(mt_arena_allocate(arena, 10));
  assert_int_equal(mt_arena_memory_usage(arena), MT_BLOCK_POOL_DEFAULT_BLOCK_SIZE);
  mt_arena_destroy(arena);
  /* A memtable with a pool and block_size 0 takes the pool's size too (not its own 64 KiB default). */
  mt_memtable_options table_options = MT_MEMTABLE_OPTIONS_INIT;
  table_options.arena.block_size = 0;
  table_options.arena.pool = pool;
  mt_memtable *table = new_table(&table_options);
  put(table, 1, "k", "v");
  assert_int_equal(mt_memtable_approximate_memory_usage(table), MT_BLOCK_POOL_DEFAULT_BLOCK_SIZE);
  mt_memtable_unref(table);
  assert_int_equal(mt_block_pool_destroy(pool), MT_OK);
  assert_int_equal(mt_block_pool_destroy(NULL), MT_OK);

  mt_block_pool_options bad;
  mt_block_pool *out = (mt_block_pool *)&bad;
  assert_int_equal(mt_block_pool_try_create(NULL, NULL), MT_INVALID_ARGUMENT);
  mt_block_pool_options_init(&bad);
  bad.block_size = 255;
  assert_int_equal(mt_block_pool_try_create(&bad, &out), MT_INVALID_ARGUMENT);
  assert_null(out);
  bad.block_size = MT_ARENA_MAX_BLOCK_SIZE + 1;
  assert_int_equal(mt_block_pool_try_create(&bad, &out), MT_INVALID_ARGUMENT);
  mt_block_pool_options_init(&bad);
  bad.allocator.alloc = test_allocator_alloc;
  assert_int_equal(mt_block_pool_try_create(&bad, &out), MT_INVALID_ARGUMENT);
  mt_block_pool_options_init(&bad);
  bad.max_idle_blocks = 2;
  bad.prefill_blocks = 3;
  assert_int_equal(mt_block_pool_try_create(&bad, &out), MT_INVALID_ARGUMENT);
  bad.max_idle_blocks = 8;
  bad.max_blocks = 2;
  assert_int_equal(mt_block_pool_try_create(&bad, &out), MT_INVALID_ARGUMENT);
  assert_null(out);
  assert_string_equal(mt_status_str(MT_BUSY), "MT_BUSY");
  assert_string_equal(mt_status_str(MT_INVALID_STATE), "MT_INVALID_STATE");
}

static void block_pool_test_second_arena_reuses_the_first_ones_blocks(void **state) {
  (void)state;
  test_allocator hook = TEST_ALLOCATOR_INIT;
  mt_block_pool *pool = new_pool(&hook, 16, 0);
  mt_arena *first = new_pooled_arena(pool, false);
  take_blocks(first, 3);
  mt_block_pool_statistics stats = stats_of(pool);
  assert_int_equal(stats.misses, 3);
  assert_int_equal(stats.hits, 0);
  assert_int_equal(stats.lent, 3);
  assert_int_equal(stats.bytes_held, 3 * BLOCK);
  mt_arena_destroy(first);
  stats = stats_of(pool);
  assert_int_equal(stats.lent, 0);
  assert_int_equal(stats.idle, 3);
  assert_int_equal(hook.free_calls, 0);

  size_t calls = hook.calls;
  mt_arena *second = new_pooled_arena(pool, false);
  while (mt_arena_memory_usage(second) < 3 * BLOCK) {
    void *piece = mt_arena_allocate(second, PIECE);
    assert_non_null(piece);
    assert_true(test_allocator_owns(&hook, piece, PIECE)); /* inside one of the first arena's blocks */
  }
  assert_int_equal(hook.calls, calls); /* no new block */
  stats = stats_of(pool);
  assert_int_equal(stats.hits, 3);
  assert_int_equal(stats.misses, 3);
  assert_int_equal(stats.idle, 0);
  assert_int_equal(stats.lent, 3);
  mt_arena_destroy(second);
  assert_int_equal(mt_block_pool_destroy(pool), MT_OK);
  assert_int_equal(hook.live_blocks, 0);
  assert_int_equal(hook.bad_frees, 0);
}

static void block_pool_test_idle_bound_releases_the_excess(void **state) {
  (void)state;
  test_allocator hook = TEST_ALLOCATOR_INIT;
  mt_block_pool *pool = new_pool(&hook, 2, 0);
  mt_arena *arena = new_pooled_arena(pool, false);
  take_blocks(arena, 5);
  assert_int_equal(hook.live_blocks, 1 + 5); /* the pool's header and its blocks */
  mt_arena_destroy(arena);
  mt_block_pool_statistics stats = stats_of(pool);
  assert_int_equal(stats.released, 3);
  assert_int_equal(stats.idle, 2);
  assert_int_equal(stats.lent, 0);
  assert_int_equal(stats.bytes_held, 2 * BLOCK);
  assert_int_equal(hook.free_calls, 3);
  assert_int_equal(hook.live_blocks, 1 + 2);
  assert_int_equal(mt_block_pool_destroy(pool), MT_OK);
  assert_int_equal(hook.free_calls, 3 + 2 + 1);
  assert_int_equal(hook.live_blocks, 0);
  assert_int_equal(hook.bad_frees, 0);
}

static void block_pool_test_prefill(void **state) {
  (void)state;
  test_allocator hook = TEST_ALLOCATOR_INIT;
  mt_block_pool_options options = MT_BLOCK_POOL_OPTIONS_INIT;
  options.block_size = BLOCK;
  options.prefill_blocks = 4;
  options.allocator = test_allocator_hooks(&hook);
  mt_block_pool *pool = mt_block_pool_create(&options);
  assert_non_null(pool);
  assert_int_equal(hook.live_blocks, 1 + 4);
  mt_block_pool_statistics stats = stats_of(pool);
  assert_int_equal(stats.idle, 4);
  assert_int_equal(stats.misses, 0);
  mt_arena *arena = new_pooled_arena(pool, false);
  take_blocks(arena, 4);
  assert_int_equal(hook.calls, 1 + 4);
  assert_int_equal(stats_of(pool).hits, 4);
  mt_arena_destroy(arena);
  assert_int_equal(mt_block_pool_destroy(pool), MT_OK);
  assert_int_equal(hook.live_blocks, 0);

  /* A failure at any step of creation frees what it took and says MT_NOMEM. */
  for (size_t fail_at = 1; fail_at <= 1 + 4; fail_at++) {
    test_allocator failing = TEST_ALLOCATOR_INIT;
    failing.fail_at = fail_at;
    options.allocator = test_allocator_hooks(&failing);
    mt_block_pool *out = NULL;
    assert_int_equal(mt_block_pool_try_create(&options, &out), MT_NOMEM);
    assert_null(out);
    assert_int_equal(failing.live_blocks, 0);
    assert_int_equal(failing.bad_frees, 0);
  }
}

static void block_pool_test_destroy_refused_while_lent(void **state) {
  (void)state;
  test_allocator hook = TEST_ALLOCATOR_INIT;
  mt_block_pool *pool = new_pool(&hook, 4, 0);
  mt_arena *arena = new_pooled_arena(pool, false);
  take_blocks(arena, 2);
  size_t free_calls = hook.free_calls;
  assert_int_equal(mt_block_pool_destroy(pool), MT_BUSY);
  assert_int_equal(hook.free_calls, free_calls); /* nothing freed */
  mt_block_pool_statistics stats = stats_of(pool);
  assert_int_equal(stats.lent, 2);
  /* Still usable: the arena grows and a second arena takes blocks. */
  take_blocks(arena, 3);
  mt_arena *other = new_pooled_arena(pool, false);
  take_blocks(other, 1);
  mt_arena_destroy(arena);
  assert_int_equal(mt_block_pool_destroy(pool), MT_BUSY);
  mt_arena_destroy(other);
  assert_int_equal(mt_block_pool_destroy(pool), MT_OK);
  assert_int_equal(hook.live_blocks, 0);
  assert_int_equal(hook.bad_frees, 0);
}

static void block_pool_test_exhausted_pool_fails_the_arena_allocation(void **state) {
  (void)state;
  test_allocator hook = TEST_ALLOCATOR_INIT;
  mt_block_pool *pool = new_pool(&hook, 4, 3);
  mt_arena *holder = new_pooled_arena(pool, false);
  take_blocks(holder, 1);
  mt_arena *arena = new_pooled_arena(pool, false);
  take_blocks(arena, 2);
  top_up(arena);
  void *out = &out;
  assert_int_equal(mt_arena_try_allocate(arena, PIECE, 1, &out), MT_FULL);
  assert_null(out);
  assert_int_equal(mt_arena_memory_usage(arena), 2 * BLOCK);
  mt_block_pool_statistics stats = stats_of(pool);
  assert_int_equal(stats.failures, 1);
  assert_int_equal(stats.lent, 3);
  /* Unchanged and usable: what still fits the current block is served, and a large request gets its own
   * block from the arena's allocator (malloc), not the pool. */
  assert_non_null(mt_arena_allocate(arena, 16));
  void *large = mt_arena_allocate(arena, 2 * BLOCK);
  assert_non_null(large);
  memset(large, 0x5a, 2 * BLOCK);
  assert_int_equal(stats_of(pool).lent, 3);
  /* Blocks coming back end the exhaustion. */
  mt_arena_destroy(holder);
  assert_int_equal(mt_arena_try_allocate(arena, PIECE, 1, &out), MT_OK);
  assert_non_null(out);
  stats = stats_of(pool);
  assert_int_equal(stats.hits, 1);
  assert_int_equal(stats.lent, 3);
  mt_arena_destroy(arena);
  assert_int_equal(mt_block_pool_destroy(pool), MT_OK);
  assert_int_equal(hook.live_blocks, 0);
}

/* key i of round r, sorted by i; values differ per round so a stale block would show. */
static void key_of(size_t i, char *key) { snprintf(key, 16, "key%08u", (unsigned)(i % 100000000u)); }
static void value_of(size_t round, size_t i, char *value) {
  snprintf(value, 48, "value-%02u-%08u-%016u", (unsigned)(round % 100u), (unsigned)(i % 100000000u), (unsigned)(i * 7 % 100000000u));
}

/* Adds key_of(i), i from `from`, until an add fails or `limit` keys are in; returns how many are in. */
static size_t fill(mt_memtable *table, size_t round, size_t from, size_t limit, mt_status *last) {
  char key[16], value[48];
  size_t i = from;
  *last = MT_OK;
  for (; i < limit; i++) {
    key_of(i, key);
    value_of(round, i, value);
    *last = mt_memtable_add(table, i + 1, MT_TYPE_VALUE, key, strlen(key), value, strlen(value));
    if (*last != MT_OK) break;
  }
  return i;
}

/* Problems with the first `count` keys, by get and by a full iteration (a flush): 0 when every entry is
 * there with its value, in order, and nothing else. No cmocka assert, so threads may call it too. */
static size_t table_errors(mt_memtable *table, size_t round, size_t count) {
  char key[16], value[48];
  size_t errors = 0;
  for (size_t i = 0; i < count; i++) {
    key_of(i, key);
    value_of(round, i, value);
    mt_slice found = {NULL, 0};
    if (mt_memtable_get(table, key, strlen(key), MT_MAX_SEQUENCE, &found) != MT_OK || found.len != strlen(value) ||
        memcmp(found.data, value, found.len) != 0)
      errors++;
  }
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  if (iter == NULL) return errors + 1;
  size_t seen = 0;
  for (mt_memtable_iter_seek_to_first(iter); mt_memtable_iter_valid(iter); mt_memtable_iter_next(iter), seen++) {
    if (seen >= count) continue;
    key_of(seen, key);
    value_of(round, seen, value);
    mt_slice user_key = mt_memtable_iter_user_key(iter), stored = mt_memtable_iter_value(iter);
    if (user_key.len != strlen(key) || memcmp(user_key.data, key, user_key.len) != 0 ||
        mt_memtable_iter_seq(iter) != seen + 1 || stored.len != strlen(value) ||
        memcmp(stored.data, value, stored.len) != 0)
      errors++;
  }
  if (mt_memtable_iter_status(iter) != MT_OK) errors++;
  mt_memtable_iter_destroy(iter);
  if (seen != count) errors++;
  if (mt_memtable_validate(table) != MT_OK) errors++;
  return errors;
}

static void check_table(mt_memtable *table, size_t round, size_t count) {
  assert_int_equal(table_errors(table, round, count), 0);
}

static mt_memtable *pooled_table(mt_block_pool *pool, bool concurrent_writes) {
  mt_memtable_options options = MT_MEMTABLE_OPTIONS_INIT;
  options.arena.block_size = 0;
  options.arena.pool = pool;
  options.concurrent_writes = concurrent_writes;
  return new_table(&options);
}

static void block_pool_test_exhausted_pool_leaves_the_memtable_usable(void **state) {
  (void)state;
  test_allocator hook = TEST_ALLOCATOR_INIT;
  mt_block_pool *pool = new_pool(&hook, 64, 12);
  mt_memtable *other = pooled_table(pool, false);
  mt_status last;
  assert_int_equal(fill(other, 0, 0, 100, &last), 100);
  mt_memtable *table = pooled_table(pool, false);
  size_t count = fill(table, 1, 0, SIZE_MAX, &last);
  assert_int_equal(last, MT_FULL);
  assert_true(count > 0);
  assert_int_equal(stats_of(pool).lent, 12);
  assert_true(stats_of(pool).failures >= 1);
  check_table(table, 1, count);
  /* The same add fails the same way and still changes nothing. */
  assert_int_equal(fill(table, 1, count, count + 1, &last), count);
  assert_int_equal(last, MT_FULL);
  assert_int_equal(mt_memtable_entry_count(table), count);
  /* Another table giving its blocks back lets the adds go on. */
  mt_memtable_unref(other);
  size_t more = fill(table, 1, count, SIZE_MAX, &last);
  assert_int_equal(last, MT_FULL);
  assert_true(more > count);
  assert_int_equal(stats_of(pool).lent, 12);
  check_table(table, 1, more);
  mt_memtable_unref(table);
  assert_int_equal(stats_of(pool).lent, 0);
  assert_int_equal(mt_block_pool_destroy(pool), MT_OK);
  assert_int_equal(hook.live_blocks, 0);
}

static void block_pool_test_allocator_failure_is_nomem(void **state) {
  (void)state;
  test_allocator hook = TEST_ALLOCATOR_INIT;
  mt_block_pool *pool = new_pool(&hook, 8, 0);
  mt_arena *arena = new_pooled_arena(pool, false);
  take_blocks(arena, 2);
  top_up(arena);
  hook.fail_at = hook.calls + 1;
  void *out = &out;
  assert_int_equal(mt_arena_try_allocate(arena, PIECE, 8, &out), MT_NOMEM);
  assert_null(out);
  assert_int_equal(mt_arena_memory_usage(arena), 2 * BLOCK);
  mt_block_pool_statistics stats = stats_of(pool);
  assert_int_equal(stats.failures, 1);
  assert_int_equal(stats.misses, 2);
  assert_int_equal(stats.lent, 2);
  /* The next call succeeds: the arena and pool are unchanged. */
  take_blocks(arena, 3);
  assert_int_equal(stats_of(pool).misses, 3);

  /* The same through a memtable: the add fails with MT_NOMEM and the table keeps every earlier entry. */
  mt_memtable *table = pooled_table(pool, false);
  mt_status last;
  size_t count = fill(table, 0, 0, 50, &last);
  assert_int_equal(count, 50);
  hook.fail_at = hook.calls + 1;
  hook.fail_after = true;
  count = fill(table, 0, 50, SIZE_MAX, &last);
  assert_int_equal(last, MT_NOMEM);
  check_table(table, 0, count);
  hook.fail_at = 0;
  hook.fail_after = false;
  size_t more = fill(table, 0, count, count + 200, &last);
  assert_int_equal(last, MT_OK);
  check_table(table, 0, more);
  mt_memtable_unref(table);
  mt_arena_destroy(arena);
  assert_int_equal(mt_block_pool_destroy(pool), MT_OK);
  assert_int_equal(hook.live_blocks, 0);
  assert_int_equal(hook.bad_frees, 0);
}

static void block_pool_test_reset_returns_blocks(void **state) {
  (void)state;
  test_allocator hook = TEST_ALLOCATOR_INIT;
  mt_block_pool *pool = new_pool(&hook, 8, 0);
  mt_arena *arena = new_pooled_arena(pool, false);
  take_blocks(arena, 4);
  void *large = mt_arena_allocate(arena, 2 * BLOCK); /* its own block, from malloc */
  assert_non_null(large);
  mt_arena_reset(arena);
  assert_int_equal(mt_arena_memory_usage(arena), BLOCK); /* one block kept */
  mt_block_pool_statistics stats = stats_of(pool);
  assert_int_equal(stats.lent, 1);
  assert_int_equal(stats.idle, 3);
  take_blocks(arena, 4);
  stats = stats_of(pool);
  assert_int_equal(stats.hits, 3);
  assert_int_equal(stats.misses, 4);
  /* undo_last of an allocation that took a pool block gives that block back to the pool. */
  top_up(arena);
  void *piece = mt_arena_allocate(arena, PIECE);
  assert_non_null(piece);
  assert_int_equal(stats_of(pool).lent, 5);
  assert_int_equal(mt_arena_undo_last(arena, piece), MT_OK);
  assert_int_equal(stats_of(pool).lent, 4);
  mt_arena_destroy(arena);
  stats = stats_of(pool);
  assert_int_equal(stats.lent, 0);
  assert_int_equal(stats.idle, 5);
  assert_int_equal(mt_block_pool_destroy(pool), MT_OK);
  assert_int_equal(hook.live_blocks, 0);
}

#define ROTATE_KEYS ((size_t)2000)

/* Fills, flush-checks and frees one table; *blocks is the memory it held at its fullest, in blocks.
 * Returns the problems seen (0 expected). No cmocka assert: threads call it. */
static size_t rotate_once(mt_block_pool *pool, size_t round, bool concurrent_writes, size_t *blocks) {
  mt_memtable_options options = MT_MEMTABLE_OPTIONS_INIT;
  options.arena.block_size = 0;
  options.arena.pool = pool;
  options.concurrent_writes = concurrent_writes;
  mt_memtable *table = mt_memtable_create(&options);
  if (table == NULL) return 1;
  mt_status last;
  size_t errors = fill(table, round, 0, ROTATE_KEYS, &last) == ROTATE_KEYS ? 0 : 1;
  *blocks = mt_memtable_approximate_memory_usage(table) / BLOCK;
  errors += table_errors(table, round, ROTATE_KEYS);
  mt_memtable_unref(table);
  return errors;
}

static void block_pool_test_memtables_rotate_through_one_pool(void **state) {
  (void)state;
  test_allocator hook = TEST_ALLOCATOR_INIT;
  mt_block_pool *pool = new_pool(&hook, 1024, 0);
  size_t blocks;
  assert_int_equal(rotate_once(pool, 0, false, &blocks), 0);
  assert_true(blocks > 10);
  mt_block_pool_statistics stats = stats_of(pool);
  assert_int_equal(stats.misses, blocks);
  size_t calls = hook.calls;
  for (size_t round = 1; round <= 5; round++) {
    size_t round_blocks;
    assert_int_equal(rotate_once(pool, round, false, &round_blocks), 0);
    assert_int_equal(round_blocks, blocks);
    stats = stats_of(pool);
    assert_int_equal(stats.misses, blocks); /* every later table runs on the first one's blocks */
    assert_int_equal(stats.hits, round * blocks);
    assert_int_equal(stats.lent, 0);
    assert_int_equal(stats.idle, blocks);
  }
  assert_int_equal(hook.calls, calls);
  assert_int_equal(mt_block_pool_destroy(pool), MT_OK);
  assert_int_equal(hook.live_blocks, 0);
}

/* 4 threads each rotate tables (create, fill, check, unref) on one pool. */
typedef struct rotator {
  mt_block_pool *pool;
  size_t rounds;
  bool concurrent_writes;
  size_t errors;            /* problems seen in the tables; asserted 0 after join */
  size_t blocks[8];         /* each round's table size in blocks */
} rotator;

#define CONCURRENT_ROUNDS 6

static void *rotate_thread(void *arg) {
  rotator *self = arg;
  for (size_t round = 0; round < self->rounds; round++)
    self->errors += rotate_once(self->pool, round, self->concurrent_writes, &self->blocks[round]);
  return NULL;
}

static void block_pool_test_four_threads_rotate_on_one_pool(void **state) {
  (void)state;
  test_allocator hook = TEST_ALLOCATOR_INIT;
  /* One table's block count, measured alone. */
  mt_block_pool *probe = new_pool(&hook, 1024, 0);
  size_t blocks;
  assert_int_equal(rotate_once(probe, 0, false, &blocks), 0);
  assert_int_equal(mt_block_pool_destroy(probe), MT_OK);

  /* At most THREADS tables live at once: max_blocks = THREADS * blocks is never exceeded, so no take fails. */
  mt_block_pool *pool = new_pool(&hook, 1024, THREADS * blocks);
  rotator rotators[THREADS];
  for (size_t t = 0; t < THREADS; t++) rotators[t] = (rotator){.pool = pool, .rounds = CONCURRENT_ROUNDS};
  thread_team_run(rotate_thread, rotators, sizeof(rotators[0]), THREADS);
  for (size_t t = 0; t < THREADS; t++) {
    assert_int_equal(rotators[t].errors, 0);
    for (size_t round = 0; round < CONCURRENT_ROUNDS; round++) assert_int_equal(rotators[t].blocks[round], blocks);
  }
  mt_block_pool_statistics stats = stats_of(pool);
  assert_int_equal(stats.hits + stats.misses, THREADS * CONCURRENT_ROUNDS * blocks);
  assert_int_equal(stats.failures, 0);
  assert_int_equal(stats.released, 0);
  assert_int_equal(stats.lent, 0);
  assert_int_equal(stats.idle, stats.misses); /* every block made is kept */
  assert_true(stats.misses >= blocks && stats.misses <= THREADS * blocks);
  assert_int_equal(stats.bytes_held, stats.misses * BLOCK);
  assert_int_equal(mt_block_pool_destroy(pool), MT_OK);
  assert_int_equal(hook.live_blocks, 0);
  assert_int_equal(hook.bad_frees, 0);
}

/* A concurrent-mode arena on a pool: THREADS threads allocate at once; each records its pieces. */
#define PIECES 3000
#define PIECE_BYTES ((size_t)24)

typedef struct piece_writer {
  mt_arena *arena;
  unsigned char tag;
  unsigned char *pieces[PIECES];
  size_t failures;
} piece_writer;

static void *write_pieces(void *arg) {
  piece_writer *self = arg;
  for (size_t i = 0; i < PIECES; i++) {
    /* Now and then a request above the chunk's small limit, served under the arena's mutex. */
    size_t bytes = i % 50 == 0 ? 300 : PIECE_BYTES;
    self->pieces[i] = mt_arena_allocate(self->arena, bytes);
    if (self->pieces[i] == NULL) self->failures++;
    else memset(self->pieces[i], self->tag, PIECE_BYTES);
  }
  return NULL;
}

static void block_pool_test_concurrent_mode_arena_on_a_pool(void **state) {
  (void)state;
  test_allocator hook = TEST_ALLOCATOR_INIT;
  mt_block_pool *pool = new_pool(&hook, 1024, 0);
  mt_arena *arena = new_pooled_arena(pool, true);
  assert_true(mt_arena_is_concurrent(arena));
  static piece_writer writers[THREADS];
  for (unsigned t = 0; t < THREADS; t++) writers[t] = (piece_writer){.arena = arena, .tag = (unsigned char)(0xa0 + t)};
  thread_team_run(write_pieces, writers, sizeof(writers[0]), THREADS);
  for (unsigned t = 0; t < THREADS; t++) {
    assert_int_equal(writers[t].failures, 0);
    for (size_t i = 0; i < PIECES; i++) {
      const unsigned char *piece = writers[t].pieces[i];
      assert_true(test_allocator_owns(&hook, piece, PIECE_BYTES)); /* every piece lies in a pool block */
      for (size_t b = 0; b < PIECE_BYTES; b++) assert_int_equal(piece[b], writers[t].tag);
    }
  }
  mt_block_pool_statistics stats = stats_of(pool);
  assert_int_equal(stats.lent * BLOCK, mt_arena_memory_usage(arena)); /* every block is a pool block */
  assert_int_equal(stats.misses, stats.lent);
  assert_int_equal(stats.failures, 0);
  size_t lent = stats.lent;
  mt_arena_destroy(arena);
  stats = stats_of(pool);
  assert_int_equal(stats.lent, 0);
  assert_int_equal(stats.idle, lent);

  /* Concurrent writers of a memtable on the pool, 4 threads rotating their own tables at once. */
  rotator rotators[THREADS];
  for (size_t t = 0; t < THREADS; t++) rotators[t] = (rotator){.pool = pool, .rounds = 2, .concurrent_writes = true};
  thread_team_run(rotate_thread, rotators, sizeof(rotators[0]), THREADS);
  for (size_t t = 0; t < THREADS; t++) assert_int_equal(rotators[t].errors, 0);
  stats = stats_of(pool);
  assert_int_equal(stats.lent, 0);
  assert_int_equal(stats.failures, 0);
  assert_int_equal(stats.idle, stats.misses);
  assert_int_equal(mt_block_pool_destroy(pool), MT_OK);
  assert_int_equal(hook.live_blocks, 0);
  assert_int_equal(hook.bad_frees, 0);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(block_pool_test_options),
      cmocka_unit_test(block_pool_test_second_arena_reuses_the_first_ones_blocks),
      cmocka_unit_test(block_pool_test_idle_bound_releases_the_excess),
      cmocka_unit_test(block_pool_test_prefill),
      cmocka_unit_test(block_pool_test_destroy_refused_while_lent),
      cmocka_unit_test(block_pool_test_exhausted_pool_fails_the_arena_allocation),
      cmocka_unit_test(block_pool_test_exhausted_pool_leaves_the_memtable_usable),
      cmocka_unit_test(block_pool_test_allocator_failure_is_nomem),
      cmocka_unit_test(block_pool_test_reset_returns_blocks),
      cmocka_unit_test(block_pool_test_memtables_rotate_through_one_pool),
      cmocka_unit_test(block_pool_test_four_threads_rotate_on_one_pool),
      cmocka_unit_test(block_pool_test_concurrent_mode_arena_on_a_pool),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
