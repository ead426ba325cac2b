/* bench/versions_skip.c - readversions_skip (versions_skip.h): does the scan readahead, on by default, let the
 * user view pass a key's hidden versions as max_sequential_skip and version links promise?
 *
 * Two shapes: 8 keys x 20,000 versions and 1,000 keys x 100 versions (fillrandom's keys k, version v of key k
 * with sequence number v * K + k + 1, added round by round in sequence order with each round's keys shuffled,
 * as an engine's writer adds them: one key's versions lie far apart in memory). Every version is a value. For
 * each shape, with version links off and on, a table with the default readahead and one with it off
 * (scan_readahead_segments 0), both with --max_sequential_skip; each case is a whole user-view pass at the
 * latest snapshot, forward (seek_to_first, next) or backward (seek_to_last, prev), made alternately on the two
 * tables. The figure is microseconds per pass, and the ratio readahead on / off. Every pass is checked: K keys, each with its newest
 * value's bytes. The sample recorded for the summary is the passes with readahead on (ops: keys returned).
 */
#define _POSIX_C_SOURCE 200809L

#include "versions_skip.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <memtable/memtable.h>

#include "clock.h"
#include "console.h"
#include "group.h"
#include "options.h"
#include "results.h"
#include "slices.h"
#include "versions.h"
#include "workload.h"

enum { SHAPES = 2, LINKS = 2, DIRECTIONS = 2, READAHEAD = 2 };

static const struct {
  uint64_t keys, versions;
  unsigned passes; /* per case, table and repetition */
} shapes[SHAPES] = {{8, 20000, 200}, {1000, 100, 20}};

static mt_memtable *tables[SHAPES][LINKS][READAHEAD];
/* Microseconds per pass, per repetition. */
static double micros[MAX_REPETITIONS][SHAPES][LINKS][DIRECTIONS][READAHEAD];
static unsigned repetitions_run;

static mt_memtable *fill_table(uint64_t keys, uint64_t versions, bool links, bool readahead, const uint64_t *order) {
  mt_memtable_options options;
  versions_table_options(&options, g_options.max_sequential_skip, links);
  if (!readahead) options.scan_readahead_segments = 0;
  mt_memtable *table = mt_memtable_create(&options);
  if (table == NULL) fatal("readversions_skip: mt_memtable_create failed");
  char *key = malloc(g_options.key_size);
  if (key == NULL) fatal("out of memory");
  for (uint64_t v = 0; v < versions; v++) {
    for (uint64_t i = 0; i < keys; i++) {
      uint64_t k = order[v * keys + i];
      uint64_t hash = splitmix64(k);
      format_key(hash, key, g_options.key_size);
      mt_status status = mt_memtable_add(table, v * keys + k + 1, MT_TYPE_VALUE, key, g_options.key_size,
                                         value_for(hash ^ v), g_options.value_size);
      if (status != MT_OK) fatal("readversions_skip: mt_memtable_add: %s", mt_status_str(status));
    }
  }
  free(key);
  return table;
}

static void build_tables(void) {
  rng shuffle = rng_for(BENCH_READVERSIONS_SKIP, 0, 0);
  for (unsigned s = 0; s < SHAPES; s++) {
    uint64_t keys = shapes[s].keys, versions = shapes[s].versions;
    uint64_t *order = malloc(keys * versions * sizeof *order);
    if (order == NULL) fatal("out of memory");
    for (uint64_t v = 0; v < versions; v++) {
      uint64_t *round = order + v * keys;
      for (uint64_t i = 0; i < keys; i++) round[i] = i;
      for (uint64_t i = keys; i > 1; i--) {
        uint64_t j = rng_below(&shuffle, i);
        uint64_t swap = round[i - 1];
        round[i - 1] = round[j];
        round[j] = swap;
      }
    }
    for (unsigned l = 0; l < LINKS; l++) {
      for (unsigned r = 0; r < READAHEAD; r++) tables[s][l][r] = fill_table(keys, versions, l != 0, r != 0, order);
    }
    free(order);
  }
}

/* One whole pass; returns the keys seen and adds their bytes to *bytes. */
static uint64_t user_view_pass(mt_memtable_user_iter *iter, bool forward, uint64_t *bytes) {
  uint64_t count = 0;
  if (forward) {
    mt_memtable_user_iter_seek_to_first(iter);
  } else {
    mt_memtable_user_iter_seek_to_last(iter);
  }
  while (mt_memtable_user_iter_valid(iter)) {
    *bytes += mt_memtable_user_iter_key(iter).len + mt_memtable_user_iter_value(iter).len;
    count++;
    if (forward) {
      mt_memtable_user_iter_next(iter);
    } else {
      mt_memtable_user_iter_prev(iter);
    }
  }
  if (mt_memtable_user_iter_status(iter) != MT_OK) fatal("readversions_skip: a pass failed");
  return count;
}

/* run_versions_skip's context for one case (shape, links, direction): the two tables' iterators, the current
 * turn's pass, each table's time, and the readahead-on passes' totals. */
typedef struct skip_turns {
  mt_memtable_user_iter *iters[READAHEAD];
  bool forward;
  uint64_t expected; /* the keys a pass returns */
  uint64_t count;    /* the turn's keys and their bytes */
  uint64_t bytes;
  uint64_t elapsed[READAHEAD];
  uint64_t ops;      /* summed over the readahead-on passes */
  uint64_t bytes_on;
} skip_turns;

static void pass_before(void *context, const slice_turn *turn) {
  (void)turn;
  skip_turns *skip = context;
  skip->bytes = 0;
}

static void pass_timed(void *context, const slice_turn *turn) {
  skip_turns *skip = context;
  skip->count = user_view_pass(skip->iters[turn->participant], skip->forward, &skip->bytes);
}

/* The pass checked: every key, with its newest value's bytes. */
static void pass_after(void *context, const slice_turn *turn, uint64_t elapsed_ns) {
  skip_turns *skip = context;
  const size_t r = turn->participant;
  skip->elapsed[r] += elapsed_ns;
  const uint64_t expected = skip->expected;
  if (skip->count != expected) wrong_results(g_impls[0].impl, BENCH_READVERSIONS_SKIP, skip->count, expected, "keys");
  if (skip->bytes != expected * (g_options.key_size + g_options.value_size))
    wrong_results(g_impls[0].impl, BENCH_READVERSIONS_SKIP, skip->bytes,
                  expected * (g_options.key_size + g_options.value_size), "bytes visited");
  if (r == 1) {
    skip->ops += skip->count;
    skip->bytes_on += skip->bytes;
  }
}

/* The passes of one (shape, links) pair of tables, both directions, the two tables alternating pass by pass;
 * adds the readahead-on passes' time, keys and bytes to *seconds_ns, *ops and *bytes_on. */
static void run_case(unsigned rep, unsigned s, unsigned l, unsigned *done, uint64_t *seconds_ns, uint64_t *ops,
                     uint64_t *bytes_on) {
  skip_turns skip = {.expected = shapes[s].keys};
  for (unsigned r = 0; r < READAHEAD; r++) {
    skip.iters[r] = mt_memtable_user_iter_create(tables[s][l][r], MT_MAX_SEQUENCE);
    if (skip.iters[r] == NULL) fatal("out of memory");
  }
  /* Each slice is one pass over both tables. */
  static const slice_steps steps = {NULL, pass_before, pass_timed, pass_after};
  for (unsigned d = 0; d < DIRECTIONS; d++) {
    skip.forward = d == 0;
    skip.elapsed[0] = skip.elapsed[1] = 0;
    for_each_slice(shapes[s].passes, shapes[s].passes, READAHEAD, &steps, &skip);
    for (unsigned r = 0; r < READAHEAD; r++)
      micros[rep][s][l][d][r] = (double)skip.elapsed[r] / 1e3 / shapes[s].passes;
    *seconds_ns += skip.elapsed[1];
    progress_update(++*done);
  }
  *ops += skip.ops;
  *bytes_on += skip.bytes_on;
  for (unsigned r = 0; r < READAHEAD; r++) mt_memtable_user_iter_destroy(skip.iters[r]);
}

void run_versions_skip(unsigned rep) {
  if (rep == 0) build_tables();
  uint64_t seconds_ns = 0, ops = 0, bytes_on = 0;
  progress_begin("readversions_skip", rep, SHAPES * LINKS * DIRECTIONS);
  unsigned done = 0;
  for (unsigned s = 0; s < SHAPES; s++) {
    for (unsigned l = 0; l < LINKS; l++) run_case(rep, s, l, &done, &seconds_ns, &ops, &bytes_on);
  }
  progress_end();
  repetitions_run = rep + 1;
  if (rep + 1 == g_options.repetitions) {
    for (unsigned s = 0; s < SHAPES; s++)
      for (unsigned l = 0; l < LINKS; l++)
        for (unsigned r = 0; r < READAHEAD; r++) {
          mt_memtable_unref(tables[s][l][r]);
          tables[s][l][r] = NULL;
        }
  }
  g_samples[0][BENCH_READVERSIONS_SKIP][rep] =
      (sample){true, (double)seconds_ns / NS_PER_SEC, ops, bytes_on, ops, 1, 0.0};
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median_over_repetitions(unsigned s, unsigned l, unsigned d, unsigned r) {
  double values[MAX_REPETITIONS];
  for (unsigned rep = 0; rep < repetitions_run; rep++) values[rep] = micros[rep][s][l][d][r];
  qsort(values, repetitions_run, sizeof *values, compare_doubles);
  unsigned n = repetitions_run;
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

void print_versions_skip_text(void) {
  if (repetitions_run == 0) return;
  printf("\nreadversions_skip: one user-view pass at the latest snapshot, us (median of %u), readahead on (the "
         "default) / off:\n",
         repetitions_run);
  for (unsigned s = 0; s < SHAPES; s++) {
    for (unsigned l = 0; l < LINKS; l++) {
      for (unsigned d = 0; d < DIRECTIONS; d++) {
        double on = median_over_repetitions(s, l, d, 1), off = median_over_repetitions(s, l, d, 0);
        printf("  %4llu keys x %5llu versions, version links %-3s %-8s: on %10.1f  off %10.1f  on/off %6.2fx\n",
               (unsigned long long)shapes[s].keys, (unsigned long long)shapes[s].versions, l ? "on" : "off",
               d == 0 ? "forward" : "backward", on, off, off > 0 ? on / off : 0.0);
      }
    }
  }
}
