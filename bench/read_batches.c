/* bench/read_batches.c - readrandom_batch (read_batches.h). */
#define _POSIX_C_SOURCE 200809L

#include "read_batches.h"

#include <stdlib.h>

#include "clock.h"
#include "console.h"
#include "slices.h"

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

/* group_read_batches' context: the batch's keys and the answers. */
typedef struct read_batch_turns {
  group_turns turns;
  size_t batch_size;
  char *key_bytes;
  const char **keys; /* keys[k] = key_bytes + k * key_size */
  int *results;
  size_t *value_lens;
  bool check; /* each get's value length checked (distinct keys) */
} read_batch_turns;

/* One run's gets of one slice, in batches of batch_size (the slice's last may be shorter); what they found is
 * left in the group_turns. */
static void read_batches_timed(void *context, const slice_turn *turn) {
  const unsigned bench = BENCH_READRANDOM_BATCH;
  read_batch_turns *batch = context;
  impl_run *run = group_turn_run(context, turn);
  const uint64_t num = g_options.num;
  const size_t key_size = g_options.key_size;
  const size_t batch_size = batch->batch_size;
  uint64_t found = 0;
  uint64_t value_bytes = 0;
  const uint64_t begin = turn->begin;
  const uint64_t end = turn->end;
  for (uint64_t i = begin; i < end;) {
    size_t count = (size_t)(end - i < batch_size ? end - i : batch_size);
    for (size_t k = 0; k < count; k++) {
      format_key(splitmix64(rng_below(&run->read_rng, num)), batch->key_bytes + k * key_size, key_size);
    }
    if (get_batch(run, batch->keys, key_size, count, batch->results, batch->value_lens) != 0)
      fatal("%s %s: read error", run->impl->label, bench_names[bench]);
    for (size_t k = 0; k < count; k++) {
      if (batch->results[k] != 1) continue;
      found++;
      value_bytes += batch->value_lens[k];
      if (batch->check && batch->value_lens[k] != g_options.value_size)
        wrong_results(run->impl, bench, batch->value_lens[k], g_options.value_size, "value bytes of one get");
    }
    if (((i - begin) & ~PROGRESS_STRIDE_MASK) != ((i - begin + count) & ~PROGRESS_STRIDE_MASK))
      progress_update(turn->completed + (i - begin));
    i += count;
  }
  batch->turns.found = found;
  batch->turns.value_bytes = value_bytes;
}

void group_read_batches(run_group *group, bool ours_only) {
  const unsigned bench = BENCH_READRANDOM_BATCH;
  const uint64_t reads = g_options.reads;
  const size_t key_size = g_options.key_size;
  const size_t batch_size = read_batch_size();
  bool taking_part[MAX_IMPLS] = {false};
  read_batch_turns batch = {{group, taking_part, 0, 0}, batch_size, malloc(batch_size * key_size),
                            malloc(batch_size * sizeof *batch.keys), malloc(batch_size * sizeof *batch.results),
                            malloc(batch_size * sizeof *batch.value_lens), keys_are_unique()};
  if (batch.key_bytes == NULL || batch.keys == NULL || batch.results == NULL || batch.value_lens == NULL)
    fatal("out of memory");
  for (size_t k = 0; k < batch_size; k++) batch.keys[k] = batch.key_bytes + k * key_size;
  /* readrandom's read order: the same gets, batched. */
  uint64_t participants =
      group_readers_begin(group, taking_part, ours_only ? include_ours : include_every_run, BENCH_READRANDOM);
  progress_begin(bench_names[bench], group->rep, reads * participants);
  static const slice_steps steps = {NULL, NULL, read_batches_timed, group_turn_record};
  for_each_group_slice(&batch.turns, reads, &steps);
  progress_end();
  free(batch.key_bytes);
  free(batch.keys);
  free(batch.results);
  free(batch.value_lens);
  for (size_t r = 0; r < group->count; r++) {
    if (!taking_part[r]) continue;
    impl_run *run = group_reader_end(group, r);
    if (batch.check) {
      if (run->found != reads) wrong_results(run->impl, bench, run->found, reads, "keys found");
      if (run->value_bytes != reads * g_options.value_size)
        wrong_results(run->impl, bench, run->value_bytes, reads * g_options.value_size, "value bytes");
    }
    g_samples[run->index][bench][group->rep] = (sample){
        true, (double)run->elapsed_ns / NS_PER_SEC, reads, run->found * key_size + run->value_bytes, run->found, 1, 0.0};
  }
}
