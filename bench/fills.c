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

/* --writers threads add [begin, end) of the fillrandom keys to the run's table at once; the time runs from
 * the start signal (every thread created and waiting) to the last join. 0, or -1 with a writer's message. */
static int fill_concurrent_slice(impl_run *run, writer_thread *writers, uint64_t begin, uint64_t end, char *error,
                                 size_t error_len) {
  const unsigned count = g_options.writers;
  atomic_uint ready;
  atomic_bool go;
  atomic_init(&ready, 0);
  atomic_init(&go, false);
  for (unsigned t = 0; t < count; t++) {
    writer_thread *writer = &writers[t];
    writer->impl = run->impl;
    writer->table = run->table;
    writer->index = t;
    writer->writers = count;
    writer->begin = begin;
    writer->end = end;
    writer->ready = &ready;
    writer->go = &go;
    writer->failed = false;
    if (pthread_create(&writer->thread, NULL, writer_main, writer) != 0) fatal("pthread_create failed");
  }
  while (atomic_load_explicit(&ready, memory_order_acquire) < count) {
  }
  uint64_t start = now_ns();
  /* release: pairs with the writers' acquire spin; a start signal only. */
  atomic_store_explicit(&go, true, memory_order_release);
  for (unsigned t = 0; t < count; t++) pthread_join(writers[t].thread, NULL);
  run->elapsed_ns += now_ns() - start;
  for (unsigned t = 0; t < count; t++) {
    if (writers[t].failed) {
      snprintf(error, error_len, "writer %u: %s", t, writers[t].error);
      return -1;
    }
  }
  return 0;
}

/* The implementations take the slices in turn, with fresh threads for every slice. */
void group_fill_concurrent(run_group *group) {
  const uint64_t num = g_options.num;
  writer_thread *writers = calloc(g_options.writers, sizeof *writers);
  if (writers == NULL) fatal("out of memory");
  /* Each key buffer on cache lines of its own: the writers format keys into them all the time. */
  const size_t key_buffer_size = (g_options.key_size + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
  for (unsigned t = 0; t < g_options.writers; t++) {
    writers[t].key = aligned_alloc(CACHE_LINE, key_buffer_size);
    if (writers[t].key == NULL) fatal("out of memory");
  }
  for (size_t r = 0; r < group->count; r++) group->runs[r].elapsed_ns = 0;
  group_progress_begin(group, bench_names[BENCH_FILLCONCURRENT], num);
  uint64_t completed = 0;
  for (unsigned slice = 0; slice < INTERLEAVE_SLICES; slice++) {
    const uint64_t begin = num * slice / INTERLEAVE_SLICES;
    const uint64_t end = num * (slice + 1) / INTERLEAVE_SLICES;
    for (size_t r = 0; r < group->count; r++) {
      impl_run *run = &group->runs[r];
      if (!run->active) continue;
      if (fill_concurrent_slice(run, writers, begin, end, group->error, sizeof group->error) != 0)
        run_fail(run, group->error);
      completed += end - begin;
      progress_update(completed);
    }
  }
  progress_end();
  for (unsigned t = 0; t < g_options.writers; t++) free(writers[t].key);
  free(writers);
  verify_filled_tables(group, BENCH_FILLCONCURRENT);
  record_fill_samples(group, BENCH_FILLCONCURRENT, g_options.writers);
}

/* The last batch may be shorter; a slice is a whole number of batches. Formatting the batch's keys is timed, as
 * fillrandom's key formatting is. */
void group_fill_batches(run_group *group) {
  const uint64_t num = g_options.num;
  const size_t key_size = g_options.key_size;
  const size_t batch_size = g_options.batch_size;
  const uint64_t batches = (num + batch_size - 1) / batch_size;
  char *keys = malloc(batch_size * key_size);
  bench_batch_entry *entries = malloc(batch_size * sizeof *entries);
  if (keys == NULL || entries == NULL) fatal("out of memory");
  for (size_t r = 0; r < group->count; r++) group->runs[r].elapsed_ns = 0;
  group_progress_begin(group, bench_names[BENCH_FILLBATCH], num);
  uint64_t completed = 0;
  for (unsigned slice = 0; slice < INTERLEAVE_SLICES; slice++) {
    const uint64_t begin = batches * slice / INTERLEAVE_SLICES;
    const uint64_t end = batches * (slice + 1) / INTERLEAVE_SLICES;
    for (size_t r = 0; r < group->count; r++) {
      impl_run *run = &group->runs[r];
      if (!run->active) continue;
      uint64_t start = now_ns();
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
        if ((b & (PROGRESS_STRIDE_MASK >> 5)) == 0) progress_update(completed + first - begin * batch_size);
      }
      run->elapsed_ns += now_ns() - start;
      const uint64_t slice_end = end * batch_size < num ? end * batch_size : num;
      completed += slice_end - begin * batch_size;
    }
  }
  progress_end();
  free(entries);
  free(keys);
  verify_filled_tables(group, BENCH_FILLBATCH);
  record_fill_samples(group, BENCH_FILLBATCH, 1);
}
