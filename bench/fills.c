/* bench/fills.c - fillconcurrent and fillbatch (fills.h).
 *
 * Both add fillrandom's keys (key i, seq i + 1) and are cut into INTERLEAVE_SLICES slices that the
 * implementations take in turn. A wrong table fails the run: after the fill, untimed, every eighth key is looked
 * up and the table scanned in full (when --key_size >= 16 makes the keys distinct).
 */
#define _POSIX_C_SOURCE 200809L

#include "fills.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "console.h"
#include "slices.h"

/* verify_filled_tables looks up every CHECK_STRIDE-th key: the full scan already proves the count and the bytes
 * of every entry, so the gets need only show that keys are found with their values, in a fraction of the time. */
#define CHECK_STRIDE 8u

/* After fillconcurrent or fillbatch, untimed: every CHECK_STRIDE-th key i < N is found with its value's length,
 * and a full scan visits exactly N entries of N * (key + value) bytes (when the keys are distinct); then
 * check_after_fill. A wrong answer ends the run; a failed check_after_fill drops the implementation. */
static void verify_filled_tables(run_group *group, unsigned bench) {
  const uint64_t num = g_options.num;
  const size_t key_size = g_options.key_size;
  char *key = malloc(key_size);
  if (key == NULL) fatal("out of memory");
  char what[64];
  snprintf(what, sizeof what, "%s (check)", bench_names[bench]);
  group_progress_begin(group, what, num);
  uint64_t completed = 0;
  for (size_t r = 0; r < group->count; r++) {
    impl_run *run = &group->runs[r];
    if (!run->active) continue;
    if (keys_are_unique()) {
      void *reader = make_reader(run);
      uint64_t found = 0;
      uint64_t value_bytes = 0;
      const uint64_t lookups = (num + CHECK_STRIDE - 1) / CHECK_STRIDE;
      for (uint64_t i = 0; i < num; i += CHECK_STRIDE) {
        format_key(splitmix64(i), key, key_size);
        size_t value_len = 0;
        int result = run->impl->get(reader, key, key_size, &value_len);
        if (result < 0) fatal("%s %s: read error while checking the table", run->impl->label, bench_names[bench]);
        if (result == 1) {
          found++;
          value_bytes += value_len;
        }
        if ((i & PROGRESS_STRIDE_MASK) == 0) progress_update(completed + i);
      }
      if (found != lookups) wrong_results(run->impl, bench, found, lookups, "keys found after the fill");
      if (value_bytes != lookups * g_options.value_size)
        wrong_results(run->impl, bench, value_bytes, lookups * g_options.value_size, "value bytes after the fill");
      uint64_t bytes = 0;
      uint64_t count = run->impl->scan(reader, false, &bytes);
      run->impl->reader_destroy(reader);
      if (count == UINT64_MAX) fatal("%s %s: iteration error while checking the table", run->impl->label,
                                     bench_names[bench]);
      if (count != num) wrong_results(run->impl, bench, count, num, "entries visited after the fill");
      if (bytes != num * (key_size + g_options.value_size))
        wrong_results(run->impl, bench, bytes, num * (key_size + g_options.value_size), "bytes visited after the fill");
    }
    completed += num;
    if (run->impl->check_after_fill != NULL &&
        run->impl->check_after_fill(run->table, group->error, sizeof group->error) != 0)
      run_fail(run, group->error);
  }
  progress_end();
  free(key);
}

/* Records a fill benchmark's sample for every run still active: N entries in its elapsed time. */
static void record_fill_samples(run_group *group, unsigned bench, unsigned threads) {
  const uint64_t num = g_options.num;
  for (size_t r = 0; r < group->count; r++) {
    impl_run *run = &group->runs[r];
    if (!run->active) continue;
    g_samples[run->index][bench][group->rep] = (sample){true, (double)run->elapsed_ns / NS_PER_SEC, num,
                                                        num * (g_options.key_size + g_options.value_size), num,
                                                        threads, 0.0};
  }
}

#define CACHE_LINE ((size_t)64)

/* One fillconcurrent writer: within [begin, end), key i for every i = index mod writers (seq i + 1). */
typedef struct writer_thread {
  pthread_t thread;
  const bench_impl *impl;
  void *table;
  unsigned index;
  unsigned writers;
  uint64_t begin;
  uint64_t end;
  char *key;
  atomic_uint *ready;
  atomic_bool *go;
  bool failed;
  char error[256]; /* the failed put's message: shorter than run_group's, so the "writer N: " prefix fits */
} writer_thread;

static void *writer_main(void *arg) {
  writer_thread *self = arg;
  const size_t key_size = g_options.key_size;
  const size_t value_size = g_options.value_size;
  /* The first i >= begin with i mod writers = index. */
  const uint64_t first = self->begin + (self->index + self->writers - self->begin % self->writers) % self->writers;
  /* release/acquire pair with the start flag: only a rendezvous, the table publishes its own data. */
  atomic_fetch_add_explicit(self->ready, 1, memory_order_release);
  while (!atomic_load_explicit(self->go, memory_order_acquire)) {
  }
  for (uint64_t i = first; i < self->end; i += self->writers) {
    uint64_t hash = splitmix64(i);
    format_key(hash, self->key, key_size);
    if (self->impl->put_concurrent(self->table, i + 1, self->key, key_size, value_for(hash), value_size,
                                   self->error, sizeof self->error) != 0) {
      self->failed = true;
      break;
    }
  }
  return NULL;
}

/* group_fill_concurrent's context: the writers, and the rendezvous of the current turn. */
typedef struct concurrent_turns {
  group_turns turns;
  writer_thread *writers;
  atomic_uint ready;
  atomic_bool go;
} concurrent_turns;

/* Untimed: --writers threads created for [begin, end) of the fillrandom keys, each waiting on the start signal. */
static void fill_concurrent_before(void *context, const slice_turn *turn) {
  concurrent_turns *fill = context;
  impl_run *run = group_turn_run(context, turn);
  const unsigned count = g_options.writers;
  atomic_init(&fill->ready, 0);
  atomic_init(&fill->go, false);
  for (unsigned t = 0; t < count; t++) {
    writer_thread *writer = &fill->writers[t];
    writer->impl = run->impl;
    writer->table = run->table;
    writer->index = t;
    writer->writers = count;
    writer->begin = turn->begin;
    writer->end = turn->end;
    writer->ready = &fill->ready;
    writer->go = &fill->go;
    writer->failed = false;
    if (pthread_create(&writer->thread, NULL, writer_main, writer) != 0) fatal("pthread_create failed");
  }
  while (atomic_load_explicit(&fill->ready, memory_order_acquire) < count) {
  }
}

/* From the start signal to the last join. */
static void fill_concurrent_timed(void *context, const slice_turn *turn) {
  (void)turn;
  concurrent_turns *fill = context;
  /* release: pairs with the writers' acquire spin; a start signal only. */
  atomic_store_explicit(&fill->go, true, memory_order_release);
  for (unsigned t = 0; t < g_options.writers; t++) pthread_join(fill->writers[t].thread, NULL);
}

/* A writer's failed put drops the run, with that writer's message. */
static void fill_concurrent_after(void *context, const slice_turn *turn, uint64_t elapsed_ns) {
  concurrent_turns *fill = context;
  run_group *group = fill->turns.group;
  impl_run *run = group_turn_run(context, turn);
  run->elapsed_ns += elapsed_ns;
  for (unsigned t = 0; t < g_options.writers; t++) {
    if (fill->writers[t].failed) {
      snprintf(group->error, sizeof group->error, "writer %u: %s", t, fill->writers[t].error);
      run_fail(run, group->error);
      break;
    }
  }
  progress_update(turn->completed + (turn->end - turn->begin));
}

/* The implementations take the slices in turn, with fresh threads for every slice. */
void group_fill_concurrent(run_group *group) {
  const uint64_t num = g_options.num;
  concurrent_turns fill = {.turns = {group, NULL, 0, 0}, .writers = calloc(g_options.writers, sizeof *fill.writers)};
  if (fill.writers == NULL) fatal("out of memory");
  /* Each key buffer on cache lines of its own: the writers format keys into them all the time. */
  const size_t key_buffer_size = (g_options.key_size + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
  for (unsigned t = 0; t < g_options.writers; t++) {
    fill.writers[t].key = aligned_alloc(CACHE_LINE, key_buffer_size);
    if (fill.writers[t].key == NULL) fatal("out of memory");
  }
  for (size_t r = 0; r < group->count; r++) group->runs[r].elapsed_ns = 0;
  group_progress_begin(group, bench_names[BENCH_FILLCONCURRENT], num);
  static const slice_steps steps = {NULL, fill_concurrent_before, fill_concurrent_timed, fill_concurrent_after};
  for_each_group_slice(&fill.turns, num, &steps);
  progress_end();
  for (unsigned t = 0; t < g_options.writers; t++) free(fill.writers[t].key);
  free(fill.writers);
  verify_filled_tables(group, BENCH_FILLCONCURRENT);
  record_fill_samples(group, BENCH_FILLCONCURRENT, g_options.writers);
}

/* group_fill_batches' context: the batch's keys and entries, and the entries of the turns before. */
typedef struct batch_turns {
  group_turns turns;
  char *keys;
  bench_batch_entry *entries;
  uint64_t completed_entries;
} batch_turns;

/* One run's batches [begin, end) of one slice; a failed batch drops the run. */
static void fill_batches_timed(void *context, const slice_turn *turn) {
  batch_turns *fill = context;
  run_group *group = fill->turns.group;
  impl_run *run = group_turn_run(context, turn);
  const uint64_t num = g_options.num;
  const size_t key_size = g_options.key_size;
  const size_t batch_size = g_options.batch_size;
  char *keys = fill->keys;
  bench_batch_entry *entries = fill->entries;
  const uint64_t begin = turn->begin;
  const uint64_t end = turn->end;
  for (uint64_t b = begin; b < end; b++) {
    const uint64_t first = b * batch_size;
    const size_t count = (size_t)(num - first < batch_size ? num - first : batch_size);
    for (size_t k = 0; k < count; k++) {
      uint64_t hash = splitmix64(first + k);
      char *key = keys + k * key_size;
      format_key(hash, key, key_size);
      entries[k] = (bench_batch_entry){key, key_size, value_for(hash), g_options.value_size};
    }
    if (run->impl->put_batch(run->table, first + 1, entries, count, group->error, sizeof group->error) != 0) {
      run_fail(run, group->error);
      break;
    }
    if ((b & (PROGRESS_STRIDE_MASK >> 5)) == 0)
      progress_update(fill->completed_entries + first - begin * batch_size);
  }
}

static void fill_batches_after(void *context, const slice_turn *turn, uint64_t elapsed_ns) {
  batch_turns *fill = context;
  group_turn_run(context, turn)->elapsed_ns += elapsed_ns;
  const uint64_t num = g_options.num;
  const uint64_t slice_end = turn->end * g_options.batch_size < num ? turn->end * g_options.batch_size : num;
  fill->completed_entries += slice_end - turn->begin * g_options.batch_size;
}

/* The last batch may be shorter; a slice is a whole number of batches. Formatting the batch's keys is timed, as
 * fillrandom's key formatting is. */
void group_fill_batches(run_group *group) {
  const uint64_t num = g_options.num;
  const size_t batch_size = g_options.batch_size;
  const uint64_t batches = (num + batch_size - 1) / batch_size;
  batch_turns fill = {{group, NULL, 0, 0}, malloc(batch_size * g_options.key_size),
                      malloc(batch_size * sizeof *fill.entries), 0};
  if (fill.keys == NULL || fill.entries == NULL) fatal("out of memory");
  for (size_t r = 0; r < group->count; r++) group->runs[r].elapsed_ns = 0;
  group_progress_begin(group, bench_names[BENCH_FILLBATCH], num);
  static const slice_steps steps = {NULL, NULL, fill_batches_timed, fill_batches_after};
  for_each_group_slice(&fill.turns, batches, &steps);
  progress_end();
  free(fill.entries);
  free(fill.keys);
  verify_filled_tables(group, BENCH_FILLBATCH);
  record_fill_samples(group, BENCH_FILLBATCH, 1);
}
