/* bench/read_batches.c - readrandom_batch (read_batches.h). */
#define _POSIX_C_SOURCE 200809L

#include "read_batches.h"

#include <stdlib.h>

#include "clock.h"
#include "console.h"

/* One batch through the implementation's get_batch, or key by key when it has none: 0, or -1 on a read
 * error. results[i] is 1 (found, value_lens[i] set) or 0. */
static int get_batch(const impl_run *run, const char *const *keys, size_t key_len, size_t count, int *results,
                     size_t *value_lens) {
  const bench_impl *impl = run->impl;
  if (impl->get_batch != NULL) return impl->get_batch(run->reader, keys, key_len, count, results, value_lens);
  for (size_t k = 0; k < count; k++) {
    results[k] = impl->get(run->reader, keys[k], key_len, &value_lens[k]);
    if (results[k] < 0) return -1;
  }
  return 0;
}

void group_read_batches(run_group *group, bool ours_only) {
  const unsigned bench = BENCH_READRANDOM_BATCH;
  const uint64_t num = g_options.num;
  const uint64_t reads = g_options.reads;
  const size_t key_size = g_options.key_size;
  const size_t batch_size = read_batch_size();
  char *key_bytes = malloc(batch_size * key_size);
  const char **keys = malloc(batch_size * sizeof *keys);
  int *results = malloc(batch_size * sizeof *results);
  size_t *value_lens = malloc(batch_size * sizeof *value_lens);
  if (key_bytes == NULL || keys == NULL || results == NULL || value_lens == NULL) fatal("out of memory");
  for (size_t k = 0; k < batch_size; k++) keys[k] = key_bytes + k * key_size;
  bool taking_part[MAX_IMPLS] = {false};
  uint64_t participants = 0;
  for (size_t r = 0; r < group->count; r++) {
    impl_run *run = &group->runs[r];
    if (!run->active || (ours_only && !is_ours(run->impl))) continue;
    taking_part[r] = true;
    participants++;
    run->reader = make_reader(run);
    /* readrandom's read order: the same gets, batched. */
    run->read_rng = rng_for(BENCH_READRANDOM, group->rep, 0);
    run->elapsed_ns = 0;
    run->found = 0;
    run->value_bytes = 0;
  }
  bool check = keys_are_unique();
  progress_begin(bench_names[bench], group->rep, reads * participants);
  uint64_t completed = 0;
  for (unsigned slice = 0; slice < INTERLEAVE_SLICES; slice++) {
    const uint64_t begin = reads * slice / INTERLEAVE_SLICES;
    const uint64_t end = reads * (slice + 1) / INTERLEAVE_SLICES;
    for (size_t r = 0; r < group->count; r++) {
      if (!taking_part[r]) continue;
      impl_run *run = &group->runs[r];
      uint64_t found = 0;
      uint64_t value_bytes = 0;
      uint64_t start = now_ns();
      for (uint64_t i = begin; i < end;) {
        size_t count = (size_t)(end - i < batch_size ? end - i : batch_size);
        for (size_t k = 0; k < count; k++) {
          format_key(splitmix64(rng_below(&run->read_rng, num)), key_bytes + k * key_size, key_size);
        }
        if (get_batch(run, keys, key_size, count, results, value_lens) != 0)
          fatal("%s %s: read error", run->impl->label, bench_names[bench]);
        for (size_t k = 0; k < count; k++) {
          if (results[k] != 1) continue;
          found++;
          value_bytes += value_lens[k];
          if (check && value_lens[k] != g_options.value_size)
            wrong_results(run->impl, bench, value_lens[k], g_options.value_size, "value bytes of one get");
        }
        if (((i - begin) & ~PROGRESS_STRIDE_MASK) != ((i - begin + count) & ~PROGRESS_STRIDE_MASK))
          progress_update(completed + (i - begin));
        i += count;
      }
      run->elapsed_ns += now_ns() - start;
      run->found += found;
      run->value_bytes += value_bytes;
      completed += end - begin;
    }
  }
  progress_end();
  free(key_bytes);
  free(keys);
  free(results);
  free(value_lens);
  for (size_t r = 0; r < group->count; r++) {
    if (!taking_part[r]) continue;
    impl_run *run = &group->runs[r];
    run->impl->reader_destroy(run->reader);
    run->reader = NULL;
    if (check) {
      if (run->found != reads) wrong_results(run->impl, bench, run->found, reads, "keys found");
      if (run->value_bytes != reads * g_options.value_size)
        wrong_results(run->impl, bench, run->value_bytes, reads * g_options.value_size, "value bytes");
    }
    g_samples[run->index][bench][group->rep] = (sample){
        true, (double)run->elapsed_ns / NS_PER_SEC, reads, run->found * key_size + run->value_bytes, run->found, 1, 0.0};
  }
}
