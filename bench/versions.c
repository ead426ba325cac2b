/* bench/versions.c - readseq_versions(_noskip) (versions.h): a full user-view scan over keys overwritten and
 * deleted many times, where a view that steps through every version pays a cache miss per hidden entry.
 *
 * The table: N entries, N / 20 user keys (key k is fillrandom's key k) with 20 versions each; version v of key
 * k has sequence number v * K + k + 1 (a key's versions newer as v grows), and the newest version of every odd
 * key is a tombstone. The pairs are added round by round in sequence-number order, each round's keys shuffled
 * (--versions_order=sequence, as an engine's writer adds them), or all (key, version) pairs shuffled
 * (--versions_order=random); either way one key's versions lie far apart in arena memory. The scan is the user view at the latest snapshot from the first key to the end: K / 2
 * (rounded up) visible keys, each with its newest value; the count and the bytes are checked. readseq_versions
 * uses --max_sequential_skip (default 8, the library's), readseq_versions_noskip MT_MEMTABLE_SKIP_NEVER. Ops are the
 * visible keys returned.
 */
#define _POSIX_C_SOURCE 200809L

#include "versions.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <memtable/memtable.h>

#include "clock.h"
#include "console.h"
#include "group.h"
#include "options.h"
#include "results.h"
#include "slices.h"
#include "workload.h"

/* Each repetition scans each table this many times, the tables taking turns. */
#define VERSIONS_SCANS 5u

static uint64_t version_seq(uint64_t key, uint64_t version, uint64_t keys) { return version * keys + key + 1; }

static bool version_is_tombstone(uint64_t key, uint64_t version) {
  return version == VERSIONS_PER_KEY - 1 && key % 2 == 1;
}

void versions_table_options(mt_memtable_options *options, unsigned max_sequential_skip, bool version_links) {
  mt_memtable_options_init(options);
  options->checksum_bytes = g_options.checksum_bytes;
  options->skiplist_branching = g_options.skiplist_branching;
  options->seed = g_options.seed;
  options->max_sequential_skip = max_sequential_skip;
  options->version_links = version_links;
}

/* The readseq_versions table with the given max_sequential_skip; ends the run if it cannot be built. */
static mt_memtable *fill_versions_table(unsigned max_sequential_skip, bool version_links, const uint64_t *order,
                                        uint64_t entries, uint64_t keys) {
  mt_memtable_options options;
  versions_table_options(&options, max_sequential_skip, version_links);
  mt_memtable *table = mt_memtable_create(&options);
  if (table == NULL) fatal("readseq_versions: mt_memtable_create failed");
  const size_t key_size = g_options.key_size;
  char *key = malloc(key_size);
  if (key == NULL) fatal("out of memory");
  for (uint64_t i = 0; i < entries; i++) {
    uint64_t k = order[i] % keys;
    uint64_t v = order[i] / keys;
    uint64_t hash = splitmix64(k);
    format_key(hash, key, key_size);
    bool tombstone = version_is_tombstone(k, v);
    mt_status status = mt_memtable_add(table, version_seq(k, v, keys), tombstone ? MT_TYPE_DELETION : MT_TYPE_VALUE,
                                       key, key_size, tombstone ? NULL : value_for(hash ^ v),
                                       tombstone ? 0 : g_options.value_size);
    if (status != MT_OK) fatal("readseq_versions: mt_memtable_add: %s", mt_status_str(status));
  }
  free(key);
  return table;
}

/* One full scan at the latest snapshot: the visible keys returned, their key and value bytes added to *bytes. */
static uint64_t scan_user_view(mt_memtable_user_iter *iter, uint64_t *bytes) {
  uint64_t count = 0;
  uint64_t total = 0;
  for (mt_memtable_user_iter_seek_to_first(iter); mt_memtable_user_iter_valid(iter);
       mt_memtable_user_iter_next(iter)) {
    total += mt_memtable_user_iter_key(iter).len + mt_memtable_user_iter_value(iter).len;
    count++;
  }
  if (mt_memtable_user_iter_status(iter) != MT_OK) fatal("readseq_versions: the scan failed");
  *bytes += total;
  return count;
}

enum { TABLES = 3 };
static const unsigned benches[TABLES] = {BENCH_READSEQ_VERSIONS, BENCH_READSEQ_VERSIONS_NOSKIP,
                                         BENCH_READSEQ_VERSIONS_SEARCH};
static const bool links[TABLES] = {true, false, false};

/* The tables, built in the first repetition and kept for the others (the same table in every repetition; the
 * fill is untimed and would cost about as much as the whole benchmark's scans otherwise), freed after the last. */
static mt_memtable *tables[TABLES];

static void build_tables(uint64_t keys) {
  const unsigned thresholds[TABLES] = {g_options.max_sequential_skip, MT_MEMTABLE_SKIP_NEVER,
                                       g_options.max_sequential_skip};
  const uint64_t entries = keys * VERSIONS_PER_KEY;
  uint64_t *order = malloc(entries * sizeof *order);
  if (order == NULL) fatal("out of memory");
  for (uint64_t i = 0; i < entries; i++) order[i] = i;
  /* Sequence order: round v adds every key's version v (sequence numbers v * K + 1 .. v * K + K, the keys
   * shuffled within the round); random: every (key, version) pair shuffled. Either way one key's versions lie
   * far apart in arena memory. */
  rng shuffle = rng_for(BENCH_READSEQ_VERSIONS, 0, 0);
  const uint64_t run = g_options.versions_random_order ? entries : keys;
  for (uint64_t start = 0; start < entries; start += run) {
    uint64_t *part = order + start;
    for (uint64_t i = run; i > 1; i--) {
      uint64_t j = rng_below(&shuffle, i);
      uint64_t swap = part[i - 1];
      part[i - 1] = part[j];
      part[j] = swap;
    }
  }
  progress_begin("readseq_versions (fill, untimed)", 0, TABLES * entries);
  for (unsigned t = 0; t < TABLES; t++) {
    if (selected(benches[t])) tables[t] = fill_versions_table(thresholds[t], links[t], order, entries, keys);
    progress_update((t + 1) * entries);
  }
  progress_end();
  free(order);
}

/* run_versions' context: each table's iterator, time and counts, and the current turn's scan. */
typedef struct versions_turns {
  mt_memtable_user_iter *iters[TABLES];
  uint64_t visible; /* the keys a scan must return */
  uint64_t count;   /* the turn's visible keys and their bytes */
  uint64_t scan_bytes;
  uint64_t elapsed[TABLES];
  uint64_t found[TABLES];
  uint64_t bytes[TABLES];
} versions_turns;

static bool table_takes_part(void *context, size_t t) {
  const versions_turns *versions = context;
  return versions->iters[t] != NULL;
}

static void scan_before(void *context, const slice_turn *turn) {
  (void)turn;
  versions_turns *versions = context;
  versions->scan_bytes = 0;
}

static void scan_timed(void *context, const slice_turn *turn) {
  versions_turns *versions = context;
  versions->count = scan_user_view(versions->iters[turn->participant], &versions->scan_bytes);
}

/* The scan checked (when the keys are distinct) and counted. */
static void scan_after(void *context, const slice_turn *turn, uint64_t elapsed_ns) {
  versions_turns *versions = context;
  const size_t t = turn->participant;
  const uint64_t visible = versions->visible;
  versions->elapsed[t] += elapsed_ns;
  if (!keys_are_unique()) {
  } else if (versions->count != visible) {
    wrong_results(g_impls[0].impl, benches[t], versions->count, visible, "visible keys");
  } else if (versions->scan_bytes != visible * (g_options.key_size + g_options.value_size)) {
    wrong_results(g_impls[0].impl, benches[t], versions->scan_bytes,
                  visible * (g_options.key_size + g_options.value_size), "bytes visited");
  }
  versions->found[t] += versions->count;
  versions->bytes[t] += versions->scan_bytes;
  progress_update(turn->slice * TABLES + t + 1);
}

void run_versions(unsigned rep) {
  const uint64_t keys = g_options.num / VERSIONS_PER_KEY;
  if (keys == 0) fatal("readseq_versions: --num must be at least %u", VERSIONS_PER_KEY);
  if (rep == 0) build_tables(keys);
  versions_turns versions = {.visible = (keys + 1) / 2};
  for (unsigned t = 0; t < TABLES; t++) {
    if (tables[t] == NULL) continue;
    versions.iters[t] = mt_memtable_user_iter_create(tables[t], MT_MAX_SEQUENCE);
    if (versions.iters[t] == NULL) fatal("out of memory");
  }
  progress_begin("readseq_versions", rep, VERSIONS_SCANS * TABLES);
  /* Each slice is one scan of every table. */
  static const slice_steps steps = {table_takes_part, scan_before, scan_timed, scan_after};
  for_each_slice(VERSIONS_SCANS, VERSIONS_SCANS, TABLES, &steps, &versions);
  progress_end();
  for (unsigned t = 0; t < TABLES; t++) {
    if (versions.iters[t] == NULL) continue;
    mt_memtable_user_iter_destroy(versions.iters[t]);
    if (rep + 1 == g_options.repetitions) {
      mt_memtable_unref(tables[t]);
      tables[t] = NULL;
    }
    g_samples[0][benches[t]][rep] = (sample){true, (double)versions.elapsed[t] / NS_PER_SEC, versions.found[t],
                                             versions.bytes[t], versions.found[t], 1, 0.0};
  }
}
