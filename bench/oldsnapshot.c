/* bench/oldsnapshot.c - readhot_oldsnapshot (oldsnapshot.h): an engine holding a long-lived snapshot reads a
 * hot key that writers have overwritten many times since. A get at that snapshot must find the key's old
 * version below all the newer ones; through the point index it lands on the newest, so what it costs past
 * that is the question.
 *
 * The table: the hot key (fillrandom's key 0) with OLDSNAPSHOT_NEWER_VERSIONS + 1 versions, sequence numbers
 * 1, 3, 5, ... (added in sequence order, as one writer adds them), and as many other keys (fillrandom's keys
 * 1.. at the even sequence numbers between), so the hot key's versions lie apart in memory and the skiplist
 * is as tall as a table of that size. --reads gets of the hot key at snapshot 1, each checked to answer the
 * oldest version. readhot_oldsnapshot: the table with options.point_index; readhot_oldsnapshot_noindex: the
 * same table without (the skiplist search lands on the version directly). The two take turns, slice by slice.
 */
#define _POSIX_C_SOURCE 200809L

#include "oldsnapshot.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/memtable.h>

#include "clock.h"
#include "console.h"
#include "group.h"
#include "options.h"
#include "results.h"
#include "slices.h"
#include "workload.h"

enum { TABLES = 2 };
static const unsigned benches[TABLES] = {BENCH_READHOT_OLDSNAPSHOT, BENCH_READHOT_OLDSNAPSHOT_NOINDEX};

/* Built in the first repetition, freed after the last (the fill is untimed). */
static mt_memtable *tables[TABLES];

/* The table, its keys written through `key` (a key_size buffer). */
static mt_memtable *fill_table(bool point_index, char *key) {
  mt_memtable_options options = MT_MEMTABLE_OPTIONS_INIT;
  options.point_index = point_index;
  options.checksum_bytes = g_options.checksum_bytes;
  options.skiplist_branching = g_options.skiplist_branching;
  options.seed = g_options.seed;
  mt_memtable *table = NULL;
  mt_status status = mt_memtable_try_create(&options, &table);
  if (status != MT_OK) fatal("readhot_oldsnapshot: mt_memtable_try_create: %s", mt_status_str(status));
  for (uint64_t i = 0; i <= OLDSNAPSHOT_NEWER_VERSIONS; i++) {
    /* The hot key's version i at seq 2i + 1, then another key at 2i + 2. */
    for (uint64_t k = 0; k < 2; k++) {
      uint64_t hash = splitmix64(k == 0 ? 0 : i + 1);
      format_key(hash, key, g_options.key_size);
      status = mt_memtable_add(table, 2 * i + 1 + k, MT_TYPE_VALUE, key, g_options.key_size, value_for(hash ^ i),
                               g_options.value_size);
      if (status != MT_OK) fatal("readhot_oldsnapshot: mt_memtable_add: %s", mt_status_str(status));
    }
  }
  return table;
}

/* run_oldsnapshot's context: the hot key, and each table's time and gets answered. */
typedef struct oldsnapshot_turns {
  const char *key;
  const char *expected; /* the oldest version's value */
  uint64_t hits;        /* the turn's */
  uint64_t elapsed[TABLES];
  uint64_t found[TABLES];
} oldsnapshot_turns;

static bool table_takes_part(void *context, size_t t) {
  (void)context;
  return tables[t] != NULL;
}

/* One slice's gets of the hot key at snapshot 1; the hits are the gets that answered the oldest version. */
static void oldsnapshot_timed(void *context, const slice_turn *turn) {
  oldsnapshot_turns *hot = context;
  mt_memtable *table = tables[turn->participant];
  const size_t key_size = g_options.key_size;
  const uint64_t count = turn->end - turn->begin;
  uint64_t hits = 0;
  for (uint64_t i = 0; i < count; i++) {
    mt_slice value;
    if (mt_memtable_get(table, hot->key, key_size, 1, &value) == MT_OK && value.len == g_options.value_size &&
        (value.len == 0 || memcmp(value.data, hot->expected, value.len) == 0)) {
      hits++;
    }
  }
  hot->hits = hits;
}

static void oldsnapshot_after(void *context, const slice_turn *turn, uint64_t elapsed_ns) {
  oldsnapshot_turns *hot = context;
  const size_t t = turn->participant;
  const uint64_t count = turn->end - turn->begin;
  hot->elapsed[t] += elapsed_ns;
  if (hot->hits != count) wrong_results(g_impls[0].impl, benches[t], hot->hits, count, "gets of the oldest version");
  hot->found[t] += hot->hits;
  progress_update(turn->slice * TABLES + t + 1);
}

void run_oldsnapshot(unsigned rep) {
  const size_t key_size = g_options.key_size;
  char *key = malloc(key_size);
  if (key == NULL) fatal("out of memory");
  if (rep == 0) {
    progress_begin("readhot_oldsnapshot (fill, untimed)", 0, TABLES);
    for (unsigned t = 0; t < TABLES; t++) {
      if (selected(benches[t])) tables[t] = fill_table(t == 0, key);
      progress_update(t + 1);
    }
    progress_end();
  }
  const uint64_t hash = splitmix64(0);
  format_key(hash, key, key_size);
  oldsnapshot_turns hot = {.key = key, .expected = value_for(hash)};
  progress_begin("readhot_oldsnapshot", rep, INTERLEAVE_SLICES * TABLES);
  static const slice_steps steps = {table_takes_part, NULL, oldsnapshot_timed, oldsnapshot_after};
  for_each_slice(INTERLEAVE_SLICES, g_options.reads, TABLES, &steps, &hot);
  progress_end();
  free(key);
  for (unsigned t = 0; t < TABLES; t++) {
    if (tables[t] == NULL) continue;
    if (rep + 1 == g_options.repetitions) {
      mt_memtable_unref(tables[t]);
      tables[t] = NULL;
    }
    uint64_t bytes = hot.found[t] * (key_size + g_options.value_size);
    g_samples[0][benches[t]][rep] =
        (sample){true, (double)hot.elapsed[t] / NS_PER_SEC, hot.found[t], bytes, hot.found[t], 1, 0.0};
  }
}
