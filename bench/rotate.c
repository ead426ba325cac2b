/* bench/rotate.c - rotate and rotate_pool (rotate.h): what an engine does with its write buffer, table after
 * table. Each rotation creates a table, fills it with fillrandom's keys and values until
 * mt_memtable_should_flush (--write_buffer_size, default 64 MiB), walks it once in full as a flush would, and
 * drops it. rotate gives each table's arena its blocks from malloc; rotate_pool from one block pool that lives
 * for the whole run, so after the first table the blocks (their pages already faulted in) are reused. The
 * pool's first table is an untimed warm-up: an engine runs in that steady state. The two take turns, rotation
 * by rotation, so load from other processes falls on both alike. Ops are entries added; the timed span is the
 * whole rotation (create, fill, flush scan, unref).
 *
 * The pool's blocks come from mmap, not malloc: otherwise the blocks the pool keeps idle would sit in malloc's
 * heap, and rotate's tables, running in the same process, could not reuse that memory as a process without a
 * pool would; they would fault fresh pages in and make the pool look better than it is. The page faults of
 * each rotation (getrusage) are reported beside the figures.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#define _POSIX_C_SOURCE 200809L

#include "rotate.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "clock.h"
#include "console.h"
#include "group.h"
#include "options.h"
#include "results.h"
#include "slices.h"
#include "workload.h"

mt_memtable *rotation_table(mt_block_pool *pool) {
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.write_buffer_size = g_options.write_buffer_size;
  options.bloom_bits_per_key = g_options.bloom_bits;
  options.checksum_bytes = g_options.checksum_bytes;
  options.skiplist_branching = g_options.skiplist_branching;
  options.seed = g_options.seed;
  if (pool != NULL) {
    options.arena.block_size = 0; /* the pool's */
    options.arena.pool = pool;
  }
  mt_memtable *table = mt_memtable_create(&options);
  if (table == NULL) fatal("rotate: mt_memtable_create failed");
  return table;
}

uint64_t rotation_fill(mt_memtable *table) {
  const size_t key_size = g_options.key_size;
  char *key = malloc(key_size);
  if (key == NULL) fatal("out of memory");
  uint64_t j = 0;
  while (!mt_memtable_should_flush(table)) {
    uint64_t hash = splitmix64(j);
    format_key(hash, key, key_size);
    mt_status status = mt_memtable_add(table, j + 1, MT_TYPE_VALUE, key, key_size, value_for(hash),
                                       g_options.value_size);
    if (status != MT_OK) fatal("rotate: mt_memtable_add: %s", mt_status_str(status));
    j++;
  }
  free(key);
  return j;
}

uint64_t rotation_flush_scan(mt_memtable *table, uint64_t *bytes) {
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  if (iter == NULL) fatal("out of memory");
  uint64_t count = 0;
  uint64_t total = 0;
  for (mt_memtable_iter_seek_to_first(iter); mt_memtable_iter_valid(iter); mt_memtable_iter_next(iter)) {
    total += mt_memtable_iter_user_key(iter).len + mt_memtable_iter_value(iter).len;
    count++;
  }
  if (mt_memtable_iter_status(iter) != MT_OK) fatal("rotate: the flush scan failed");
  mt_memtable_iter_destroy(iter);
  *bytes += total;
  return count;
}

rotate_faults g_rotate_faults[2];

/* The pool's allocator: each block its own mapping, apart from malloc's heap (see the top of this file). */
static void *mapped_alloc(void *ctx, size_t size) {
  (void)ctx;
  void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return memory == MAP_FAILED ? NULL : memory;
}

static void mapped_free(void *ctx, void *ptr, size_t size) {
  (void)ctx;
  munmap(ptr, size);
}

static uint64_t minor_faults(void) {
  struct rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return (uint64_t)usage.ru_minflt;
}

mt_block_pool *rotation_pool(void) {
  mt_block_pool_options options;
  mt_block_pool_options_init(&options);
  options.allocator = (mt_allocator){mapped_alloc, mapped_free, NULL};
  options.block_size = MT_MEMTABLE_DEFAULT_BLOCK_SIZE;
  /* A table holds write_buffer_size bytes (plus at most one block past it): two tables' worth. */
  options.max_idle_blocks = 2 * (g_options.write_buffer_size / options.block_size + 2);
  mt_block_pool *pool = NULL;
  mt_status status = mt_block_pool_try_create(&options, &pool);
  if (status != MT_OK) fatal("rotate: mt_block_pool_try_create: %s", mt_status_str(status));
  return pool;
}

static const unsigned benches[2] = {BENCH_ROTATE, BENCH_ROTATE_POOL};

/* run_rotate's context: rotate's tables from malloc, rotate_pool's from the pool; the current turn's rotation;
 * each benchmark's time, entries and bytes. */
typedef struct rotate_turns {
  mt_block_pool *pools[2];
  bool warm_up;     /* the pool's untimed first rotation: nothing counted, no progress */
  uint64_t faults;  /* the process's minor faults before the turn */
  uint64_t entries; /* the turn's entries added, visited and their bytes */
  uint64_t visited;
  uint64_t scan_bytes;
  uint64_t elapsed[2];
  uint64_t total_entries[2];
  uint64_t bytes[2];
} rotate_turns;

static bool bench_takes_part(void *context, size_t b) {
  const rotate_turns *rotate = context;
  return rotate->warm_up ? b == 1 : selected(benches[b]);
}

static void rotation_before(void *context, const slice_turn *turn) {
  (void)turn;
  rotate_turns *rotate = context;
  rotate->faults = minor_faults();
}

/* One rotation: a table created, filled, scanned as a flush would, and dropped. */
static void rotation_timed(void *context, const slice_turn *turn) {
  rotate_turns *rotate = context;
  mt_memtable *table = rotation_table(rotate->pools[turn->participant]);
  rotate->entries = rotation_fill(table);
  rotate->scan_bytes = 0;
  rotate->visited = rotation_flush_scan(table, &rotate->scan_bytes);
  mt_memtable_unref(table);
}

/* The rotation's page faults counted and its flush scan checked. */
static void rotation_after(void *context, const slice_turn *turn, uint64_t elapsed_ns) {
  rotate_turns *rotate = context;
  const size_t b = turn->participant;
  const unsigned bench = benches[b];
  rotate->elapsed[b] += elapsed_ns;
  rotate_faults *counted = &g_rotate_faults[bench == BENCH_ROTATE_POOL];
  counted->faults += minor_faults() - rotate->faults;
  counted->tables++;
  if (keys_are_unique()) {
    if (rotate->visited != rotate->entries)
      wrong_results(g_impls[0].impl, bench, rotate->visited, rotate->entries, "entries visited");
    uint64_t expected_bytes = rotate->entries * (g_options.key_size + g_options.value_size);
    if (rotate->scan_bytes != expected_bytes)
      wrong_results(g_impls[0].impl, bench, rotate->scan_bytes, expected_bytes, "bytes visited");
  }
  rotate->bytes[b] += rotate->scan_bytes;
  rotate->total_entries[b] += rotate->entries;
  if (!rotate->warm_up) progress_update(2 * (uint64_t)turn->slice + b + 1);
}

static const slice_steps rotation_steps = {bench_takes_part, rotation_before, rotation_timed, rotation_after};

/* The run's pool: created, and warmed by one untimed rotation, at its first use. */
static mt_block_pool *g_rotation_pool;

static void create_warm_pool(unsigned rep) {
  g_rotation_pool = rotation_pool();
  progress_begin("rotate_pool (warm-up, untimed)", rep, 1);
  rotate_turns warm = {.pools = {NULL, g_rotation_pool}, .warm_up = true};
  for_each_slice(1, 1, 2, &rotation_steps, &warm);
  g_rotate_faults[1] = (rotate_faults){0, 0}; /* the warm-up's are not the steady state's */
  progress_end();
}

void run_rotate(unsigned rep) {
  const unsigned rotations = g_options.rotations;
  if (selected(BENCH_ROTATE_POOL) && g_rotation_pool == NULL) create_warm_pool(rep);
  rotate_turns rotate = {.pools = {NULL, g_rotation_pool}};
  progress_begin("rotate, rotate_pool", rep, 2 * (uint64_t)rotations);
  /* Each slice is one rotation of each benchmark. */
  for_each_slice(rotations, rotations, 2, &rotation_steps, &rotate);
  progress_end();
  for (unsigned b = 0; b < 2; b++) {
    if (!selected(benches[b])) continue;
    g_samples[0][benches[b]][rep] = (sample){true, (double)rotate.elapsed[b] / NS_PER_SEC, rotate.total_entries[b],
                                             rotate.bytes[b], rotate.total_entries[b], 1, 0.0};
  }
  if (g_rotation_pool != NULL && rep + 1 == g_options.repetitions) {
    mt_status status = mt_block_pool_destroy(g_rotation_pool);
    if (status != MT_OK) fatal("rotate: mt_block_pool_destroy: %s", mt_status_str(status));
    g_rotation_pool = NULL;
  }
}
