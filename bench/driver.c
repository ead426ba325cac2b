/* bench/driver.c - the benchmarks themselves (driver.h).
 *
 * Every implementation is driven through its bench_impl table with the same keys, values, read order and timed
 * loops. Each timed benchmark is cut into INTERLEAVE_SLICES slices that the implementations take in turn. A read
 * benchmark's results are checked (keys found, value bytes, entries visited; when --key_size >= 16 makes the
 * keys distinct) before its sample is recorded in results.h: a wrong answer ends the run. The tables and their
 * groups are group.c's, the interleaved and timed turns slices.c's; fillconcurrent and fillbatch are fills.c's.
 */
#define _POSIX_C_SOURCE 200809L

#include "driver.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "clock.h"
#include "console.h"
#include "fills.h"
#include "group.h"
#include "oldsnapshot.h"
#include "options.h"
#include "peer.h"
#include "read_batches.h"
#include "results.h"
#include "rotate.h"
#include "slices.h"
#include "versions.h"
#include "versions_skip.h"
#include "workload.h"

/* group_fill's context. */
typedef struct fill_turns {
  group_turns turns;
  bool sequential; /* fillseq's ascending key order, else fillrandom's hash order */
  char *key;
} fill_turns;

/* One run's puts of one slice; a failed put drops the run. */
static void fill_timed(void *context, const slice_turn *turn) {
  fill_turns *fill = context;
  run_group *group = fill->turns.group;
  impl_run *run = group_turn_run(context, turn);
  const bench_impl *impl = run->impl;
  const size_t key_size = g_options.key_size;
  const size_t value_size = g_options.value_size;
  const bool sequential = fill->sequential;
  char *key = fill->key;
  const uint64_t begin = turn->begin;
  const uint64_t end = turn->end;
  for (uint64_t j = begin; j < end; j++) {
    uint64_t hash = sequential ? g_sorted_hashes[j] : splitmix64(j);
    format_key(hash, key, key_size);
    if (impl->put(run->table, j + 1, key, key_size, value_for(hash), value_size, group->error,
                  sizeof group->error) != 0) {
      run_fail(run, group->error);
      break;
    }
    if ((j & PROGRESS_STRIDE_MASK) == 0) progress_update(turn->completed + (j - begin));
  }
}

/* After a fill, each active run's table checked, its fill sample (when timed_bench is a benchmark) and its
 * memory recorded. */
static void record_fill(run_group *group, unsigned timed_bench, unsigned table_kind) {
  const uint64_t num = g_options.num;
  for (size_t r = 0; r < group->count; r++) {
    impl_run *run = &group->runs[r];
    if (!run->active) continue;
    if (run->impl->check_after_fill != NULL &&
        run->impl->check_after_fill(run->table, group->error, sizeof group->error) != 0) {
      run_fail(run, group->error);
      continue;
    }
    if (timed_bench < BENCH_COUNT) {
      g_samples[run->index][timed_bench][group->rep] = (sample){
          true, (double)run->elapsed_ns / NS_PER_SEC, num, num * (g_options.key_size + g_options.value_size), num,
          1, 0.0};
    }
    size_t index_bytes = is_ours(run->impl) ? bench_memtable_point_index_memory(run->table) : 0;
    size_t wasted = 0, tail = 0;
    if (is_ours(run->impl)) bench_memtable_waste(run->table, &wasted, &tail);
    g_memory[run->index][table_kind][group->rep] =
        (memory_sample){true, run->impl->memory_usage(run->table), num, index_bytes, wasted, tail};
  }
}

/* Fills every table, slice by slice in turn; records the fill's time (when timed_bench is a benchmark) and
 * each table's memory afterwards. */
static void group_fill(run_group *group, bool sequential, unsigned timed_bench, unsigned table_kind) {
  const uint64_t num = g_options.num;
  fill_turns fill = {{group, NULL, 0, 0}, sequential, malloc(g_options.key_size)};
  if (fill.key == NULL) fatal("out of memory");
  for (size_t r = 0; r < group->count; r++) group->runs[r].elapsed_ns = 0;
  group_progress_begin(group, timed_bench < BENCH_COUNT ? bench_names[timed_bench] : "fill (untimed)", num);
  static const slice_steps steps = {NULL, NULL, fill_timed, group_turn_record};
  for_each_group_slice(&fill.turns, num, &steps);
  progress_end();
  free(fill.key);
  record_fill(group, timed_bench, table_kind);
}

/* group_point_reads' context. */
typedef struct point_read_turns {
  group_turns turns;
  unsigned bench;
  bool missing; /* absent keys (readmissing) */
  bool seek;    /* iterator seeks (seekrandom), else gets */
  char *key;
} point_read_turns;

/* One run's reads of one slice, from its own read order; what they found is left in the group_turns. */
static void point_reads_timed(void *context, const slice_turn *turn) {
  point_read_turns *reads = context;
  impl_run *run = group_turn_run(context, turn);
  const bench_impl *impl = run->impl;
  const uint64_t num = g_options.num;
  const size_t key_size = g_options.key_size;
  const bool missing = reads->missing;
  const bool seek = reads->seek;
  char *key = reads->key;
  uint64_t found = 0;
  uint64_t value_bytes = 0;
  const uint64_t begin = turn->begin;
  const uint64_t end = turn->end;
  for (uint64_t i = begin; i < end; i++) {
    uint64_t index = rng_below(&run->read_rng, num) + (missing ? num : 0);
    format_key(splitmix64(index), key, key_size);
    int result;
    if (seek) {
      result = impl->seek(run->reader, key, key_size);
    } else {
      size_t value_len = 0;
      result = impl->get(run->reader, key, key_size, &value_len);
      if (result == 1) value_bytes += value_len;
    }
    if (result < 0) fatal("%s %s: read error", impl->label, bench_names[reads->bench]);
    found += (uint64_t)result;
    if ((i & PROGRESS_STRIDE_MASK) == 0) progress_update(turn->completed + (i - begin));
  }
  reads->turns.found = found;
  reads->turns.value_bytes = value_bytes;
}

/* readrandom, readmissing and readmissing_bloom (missing), seekrandom (seek), for the runs that include()
 * accepts; every run reads the same key sequence. */
static void group_point_reads(run_group *group, unsigned bench, bool missing, bool seek,
                              bool (*include)(const impl_run *run)) {
  const uint64_t reads = g_options.reads;
  const size_t key_size = g_options.key_size;
  bool taking_part[MAX_IMPLS] = {false};
  uint64_t participants = group_readers_begin(group, taking_part, include, bench);
  point_read_turns turns = {{group, taking_part, 0, 0}, bench, missing, seek, malloc(key_size)};
  if (turns.key == NULL) fatal("out of memory");
  progress_begin(bench_names[bench], group->rep, reads * participants);
  static const slice_steps steps = {NULL, NULL, point_reads_timed, group_turn_record};
  for_each_group_slice(&turns.turns, reads, &steps);
  progress_end();
  free(turns.key);
  for (size_t r = 0; r < group->count; r++) {
    if (!taking_part[r]) continue;
    impl_run *run = group_reader_end(group, r);
    if (keys_are_unique()) {
      uint64_t expected = missing ? 0 : reads;
      if (run->found != expected) wrong_results(run->impl, bench, run->found, expected, "keys found");
      if (!seek && !missing && run->value_bytes != reads * g_options.value_size)
        wrong_results(run->impl, bench, run->value_bytes, reads * g_options.value_size, "value bytes");
    }
    uint64_t bytes = seek ? run->found * (key_size + g_options.value_size) : run->found * key_size + run->value_bytes;
    g_samples[run->index][bench][group->rep] =
        (sample){true, (double)run->elapsed_ns / NS_PER_SEC, reads, bytes, run->found, 1, 0.0};
  }
}

/* Whether our fillrandom table already has readmissing_bloom's filter (--bloom_bits gave it one). */
static bool ours_filter_ready(void) { return g_options.bloom_bits == missing_bloom_bits(); }

/* readmissing_bloom on the fillrandom table: the peers (no filter to turn on), and ours when --bloom_bits
 * already gave that table the filter. */
static bool include_filter_ready_run(const impl_run *run) {
  return !is_ours(run->impl) || ours_filter_ready();
}

/* Full scans take milliseconds, so the implementations simply take turns. */
static void group_scans(run_group *group, unsigned bench, bool reverse) {
  progress_begin(bench_names[bench], group->rep, g_options.num * active_runs(group));
  for (size_t r = 0; r < group->count; r++) {
    impl_run *run = &group->runs[r];
    if (!run->active) continue;
    run->reader = make_reader(run);
    uint64_t bytes = 0;
    uint64_t start = now_ns();
    uint64_t count = run->impl->scan(run->reader, reverse, &bytes);
    uint64_t elapsed = now_ns() - start;
    run->impl->reader_destroy(run->reader);
    run->reader = NULL;
    if (count == UINT64_MAX) fatal("%s %s: iteration error", run->impl->label, bench_names[bench]);
    if (keys_are_unique()) {
      if (count != g_options.num) wrong_results(run->impl, bench, count, g_options.num, "entries visited");
      uint64_t expected_bytes = g_options.num * (g_options.key_size + g_options.value_size);
      if (bytes != expected_bytes) wrong_results(run->impl, bench, bytes, expected_bytes, "bytes visited");
    }
    g_samples[run->index][bench][group->rep] = (sample){true, (double)elapsed / NS_PER_SEC, count, bytes, count, 1, 0.0};
  }
  progress_end();
}

/* One readwhilewriting reader; its counters and random state carry over from slice to slice. */
typedef struct reader_thread {
  pthread_t thread;
  const bench_impl *impl;
  void *reader;
  char *key;
  rng read_rng;
  atomic_uint *ready;
  atomic_bool *go;
  atomic_bool *stop;
  uint64_t ops;
  uint64_t found;
  uint64_t bytes;
  uint64_t elapsed_ns;
  bool failed;
} reader_thread;

static void *reader_main(void *arg) {
  reader_thread *self = arg;
  const size_t key_size = g_options.key_size;
  const uint64_t num = g_options.num;
  /* release/acquire pair with the writer's start flag: only a rendezvous, the table publishes its own data. */
  atomic_fetch_add_explicit(self->ready, 1, memory_order_release);
  while (!atomic_load_explicit(self->go, memory_order_acquire)) {
  }
  uint64_t start = now_ns();
  uint64_t ops = 0;
  uint64_t found = 0;
  uint64_t bytes = 0;
  /* relaxed: the stop flag only ends the loop; nothing is read through it. */
  while (!atomic_load_explicit(self->stop, memory_order_relaxed)) {
    format_key(splitmix64(rng_below(&self->read_rng, num)), self->key, key_size);
    size_t value_len = 0;
    int result = self->impl->get(self->reader, self->key, key_size, &value_len);
    if (result < 0) {
      self->failed = true;
      break;
    }
    if (result == 1) {
      found++;
      bytes += key_size + value_len;
    }
    ops++;
  }
  self->elapsed_ns += now_ns() - start;
  self->ops += ops;
  self->found += found;
  self->bytes += bytes;
  return NULL;
}

/* group_read_while_writing's context: each run's readers, and the rendezvous of the current turn. */
typedef struct read_while_writing_turns {
  group_turns turns;
  reader_thread *readers[MAX_IMPLS];
  char *key;
  atomic_uint ready;
  atomic_bool go;
  atomic_bool stop;
  int status; /* the turn's: 0, or -1 if a put failed (message in the group's error) */
} read_while_writing_turns;

/* Untimed: the run's readers started, waiting on the start signal, then released. */
static void read_while_writing_before(void *context, const slice_turn *turn) {
  read_while_writing_turns *rww = context;
  const unsigned threads = g_options.threads;
  reader_thread *readers = rww->readers[turn->participant];
  atomic_init(&rww->ready, 0);
  atomic_init(&rww->go, false);
  atomic_init(&rww->stop, false);
  for (unsigned t = 0; t < threads; t++) {
    readers[t].ready = &rww->ready;
    readers[t].go = &rww->go;
    readers[t].stop = &rww->stop;
    if (pthread_create(&readers[t].thread, NULL, reader_main, &readers[t]) != 0) fatal("pthread_create failed");
  }
  while (atomic_load_explicit(&rww->ready, memory_order_acquire) < threads) {
  }
  /* release: pairs with the readers' acquire spin; a start signal only. */
  atomic_store_explicit(&rww->go, true, memory_order_release);
  rww->status = 0;
}

/* The writer adds one slice of the fill while the readers run. */
static void read_while_writing_timed(void *context, const slice_turn *turn) {
  read_while_writing_turns *rww = context;
  run_group *group = rww->turns.group;
  impl_run *run = group_turn_run(context, turn);
  const bench_impl *impl = run->impl;
  char *key = rww->key;
  const uint64_t begin = turn->begin;
  const uint64_t end = turn->end;
  for (uint64_t j = begin; j < end; j++) {
    uint64_t hash = splitmix64(j);
    format_key(hash, key, g_options.key_size);
    if (impl->put(run->table, j + 1, key, g_options.key_size, value_for(hash), g_options.value_size, group->error,
                  sizeof group->error) != 0) {
      rww->status = -1;
      break;
    }
    if ((j & PROGRESS_STRIDE_MASK) == 0) progress_update(turn->completed + (j - begin));
  }
}

/* Frees run r's readers (their reader handles and keys). */
static void free_readers(read_while_writing_turns *rww, size_t r) {
  impl_run *run = &rww->turns.group->runs[r];
  for (unsigned t = 0; t < g_options.threads; t++) {
    run->impl->reader_destroy(rww->readers[r][t].reader);
    free(rww->readers[r][t].key);
  }
  free(rww->readers[r]);
  rww->readers[r] = NULL;
}

/* The readers stopped and joined; a failed put drops the run. */
static void read_while_writing_after(void *context, const slice_turn *turn, uint64_t elapsed_ns) {
  read_while_writing_turns *rww = context;
  impl_run *run = group_turn_run(context, turn);
  run->elapsed_ns += elapsed_ns;
  /* relaxed: see reader_main. */
  atomic_store_explicit(&rww->stop, true, memory_order_relaxed);
  reader_thread *readers = rww->readers[turn->participant];
  for (unsigned t = 0; t < g_options.threads; t++) pthread_join(readers[t].thread, NULL);
  if (rww->status != 0) {
    free_readers(rww, turn->participant);
    run_fail(run, rww->turns.group->error);
  }
}

/* Each active run's --threads readers, with their reader handles, keys and read orders. */
static void make_readers(read_while_writing_turns *rww) {
  run_group *group = rww->turns.group;
  const unsigned threads = g_options.threads;
  for (size_t r = 0; r < group->count; r++) {
    impl_run *run = &group->runs[r];
    run->elapsed_ns = 0;
    if (!run->active) continue;
    rww->readers[r] = calloc(threads, sizeof *rww->readers[r]);
    if (rww->readers[r] == NULL) fatal("out of memory");
    for (unsigned t = 0; t < threads; t++) {
      reader_thread *reader = &rww->readers[r][t];
      reader->impl = run->impl;
      reader->reader = make_reader(run);
      reader->key = malloc(g_options.key_size);
      if (reader->key == NULL) fatal("out of memory");
      reader->read_rng = rng_for(BENCH_READWHILEWRITING, group->rep, t + 1);
    }
  }
}

/* Records readwhilewriting's sample for each run that kept its readers: their operations and mean time, the
 * writer's time beside them; frees the readers. */
static void record_read_while_writing(read_while_writing_turns *rww) {
  run_group *group = rww->turns.group;
  const unsigned threads = g_options.threads;
  for (size_t r = 0; r < group->count; r++) {
    impl_run *run = &group->runs[r];
    if (rww->readers[r] == NULL) continue;
    sample s = {true, 0.0, 0, 0, 0, threads, (double)run->elapsed_ns / NS_PER_SEC};
    bool failed = false;
    for (unsigned t = 0; t < threads; t++) {
      const reader_thread *reader = &rww->readers[r][t];
      failed |= reader->failed;
      s.ops += reader->ops;
      s.found += reader->found;
      s.bytes += reader->bytes;
      s.seconds += (double)reader->elapsed_ns / NS_PER_SEC / threads;
    }
    free_readers(rww, r);
    if (failed) fatal("%s readwhilewriting: read error", run->impl->label);
    g_samples[run->index][BENCH_READWHILEWRITING][group->rep] = s;
  }
}

/* readwhilewriting: a fresh table per implementation, filled in hash order in slices; during each slice the
 * readers run against it, and the implementations take the slices in turn like every other benchmark. */
static void group_read_while_writing(run_group *group) {
  const uint64_t num = g_options.num;
  read_while_writing_turns rww = {.turns = {group, NULL, 0, 0}};
  make_readers(&rww);
  rww.key = malloc(g_options.key_size);
  if (rww.key == NULL) fatal("out of memory");
  group_progress_begin(group, bench_names[BENCH_READWHILEWRITING], num);
  static const slice_steps steps = {NULL, read_while_writing_before, read_while_writing_timed,
                                    read_while_writing_after};
  for_each_group_slice(&rww.turns, num, &steps);
  progress_end();
  free(rww.key);
  record_read_while_writing(&rww);
}

/* A peer's figure for `to` is its figure for `from` when the peer runs the same operation for both (it has no
 * filter, batched get or index to turn on): the measurement is reused rather than made twice. */
static void reuse_peer_samples(unsigned rep, unsigned from, unsigned to) {
  for (size_t i = 1; i < g_impl_count; i++) g_samples[i][to][rep] = g_samples[i][from][rep];
}

/* fillseq's table: only the fill, timed. */
static void run_fillseq(unsigned rep) {
  run_group group;
  group_begin(&group, rep, false, g_options.bloom_bits);
  group_fill(&group, true, BENCH_FILLSEQ, TABLE_SEQ);
  group_end(&group);
}

static bool needs_random_table(void) {
  return selected(BENCH_FILLRANDOM) || selected(BENCH_READRANDOM) || selected(BENCH_READRANDOM_BATCH) ||
         selected(BENCH_READMISSING) || selected(BENCH_SEEKRANDOM) || selected(BENCH_READMISSING_BLOOM) ||
         selected(BENCH_READSEQ) || selected(BENCH_READREVERSE);
}

/* readmissing_bloom on the fillrandom table: a peer's figure is its readmissing when that ran (no filter to
 * turn on: the measurement is reused rather than made twice); ours only when its filter is already there. */
static void run_missing_bloom_on_random_table(run_group *group, unsigned rep) {
  if (selected(BENCH_READMISSING)) {
    reuse_peer_samples(rep, BENCH_READMISSING, BENCH_READMISSING_BLOOM);
    if (ours_filter_ready()) group_point_reads(group, BENCH_READMISSING_BLOOM, true, false, include_ours);
  } else {
    group_point_reads(group, BENCH_READMISSING_BLOOM, true, false, include_filter_ready_run);
  }
}

/* The fillrandom table and every benchmark that reads it. readseq and readreverse scan it: its entries lie in
 * memory in insertion order, not key order, as a flushed table's do (the fillseq table's scan is
 * memory-sequential and prefetched by hardware). */
static void run_random_table(unsigned rep) {
  run_group group;
  group_begin(&group, rep, false, g_options.bloom_bits);
  group_fill(&group, false, selected(BENCH_FILLRANDOM) ? BENCH_FILLRANDOM : BENCH_COUNT, TABLE_RANDOM);
  if (selected(BENCH_READSEQ)) group_scans(&group, BENCH_READSEQ, false);
  if (selected(BENCH_READREVERSE)) group_scans(&group, BENCH_READREVERSE, true);
  if (selected(BENCH_READRANDOM)) group_point_reads(&group, BENCH_READRANDOM, false, false, include_every_run);
  if (selected(BENCH_READRANDOM_BATCH)) {
    /* A peer's batch is readrandom's gets one by one, in the same order: with readrandom measured, reuse it. */
    group_read_batches(&group, selected(BENCH_READRANDOM));
    if (selected(BENCH_READRANDOM)) reuse_peer_samples(rep, BENCH_READRANDOM, BENCH_READRANDOM_BATCH);
  }
  if (selected(BENCH_READMISSING)) group_point_reads(&group, BENCH_READMISSING, true, false, include_every_run);
  if (selected(BENCH_READMISSING_BLOOM)) run_missing_bloom_on_random_table(&group, rep);
  if (selected(BENCH_SEEKRANDOM)) group_point_reads(&group, BENCH_SEEKRANDOM, false, true, include_every_run);
  group_end(&group);
}

/* readmissing_bloom on a fillrandom table of ours with the filter, when the fillrandom table has none. */
static void run_bloom_table(unsigned rep) {
  run_group group;
  group_begin(&group, rep, true, missing_bloom_bits());
  group_fill(&group, false, BENCH_COUNT, TABLE_RANDOM_BLOOM);
  group_point_reads(&group, BENCH_READMISSING_BLOOM, true, false, include_ours);
  group_end(&group);
}

/* A fresh table per group for a benchmark that fills it itself (readwhilewriting, fillconcurrent, fillbatch). */
static void run_own_fill(unsigned rep, write_mode mode, void (*benchmark)(run_group *group)) {
  run_group group;
  group_begin_for(&group, rep, false, g_options.bloom_bits, mode);
  benchmark(&group);
  group_end(&group);
}

/* Ours with the point index (no bloom filter). A peer has no index: its figure is its plain readrandom /
 * readmissing, reused when measured above, else measured here on its plain table, interleaved with ours. */
static void run_point_index_table(unsigned rep) {
  run_group group;
  const bool peers_measured = (!selected(BENCH_READRANDOM_INDEX) || selected(BENCH_READRANDOM)) &&
                              (!selected(BENCH_READMISSING_INDEX) || selected(BENCH_READMISSING));
  group_begin_point_index(&group, rep, peers_measured);
  group_fill(&group, false, BENCH_COUNT, TABLE_RANDOM_INDEX);
  if (selected(BENCH_READRANDOM_INDEX))
    group_point_reads(&group, BENCH_READRANDOM_INDEX, false, false, include_every_run);
  if (selected(BENCH_READMISSING_INDEX))
    group_point_reads(&group, BENCH_READMISSING_INDEX, true, false, include_every_run);
  group_end(&group);
  if (peers_measured && selected(BENCH_READRANDOM_INDEX))
    reuse_peer_samples(rep, BENCH_READRANDOM, BENCH_READRANDOM_INDEX);
  if (peers_measured && selected(BENCH_READMISSING_INDEX))
    reuse_peer_samples(rep, BENCH_READMISSING, BENCH_READMISSING_INDEX);
}

/* One repetition: every selected benchmark for every implementation. Benchmarks that read the same kind of
 * table share it (reads never modify a table); every implementation's table is alive at once so that their
 * slices can alternate. */
void run_repetition(unsigned rep) {
  if (selected(BENCH_FILLSEQ)) run_fillseq(rep);
  if (needs_random_table()) run_random_table(rep);
  if (selected(BENCH_READMISSING_BLOOM) && !ours_filter_ready()) run_bloom_table(rep);
  if (selected(BENCH_READWHILEWRITING)) run_own_fill(rep, WRITE_PUT, group_read_while_writing);
  if (selected(BENCH_FILLCONCURRENT)) run_own_fill(rep, WRITE_CONCURRENT, group_fill_concurrent);
  if (selected(BENCH_FILLBATCH)) run_own_fill(rep, WRITE_BATCH, group_fill_batches);
  if (selected(BENCH_READSEQ_VERSIONS) || selected(BENCH_READSEQ_VERSIONS_NOSKIP) ||
      selected(BENCH_READSEQ_VERSIONS_SEARCH))
    run_versions(rep);
  if (selected(BENCH_READRANDOM_INDEX) || selected(BENCH_READMISSING_INDEX)) run_point_index_table(rep);
  if (selected(BENCH_ROTATE) || selected(BENCH_ROTATE_POOL)) run_rotate(rep);
  if (selected(BENCH_READVERSIONS_SKIP)) run_versions_skip(rep);
  if (selected(BENCH_READHOT_OLDSNAPSHOT) || selected(BENCH_READHOT_OLDSNAPSHOT_NOINDEX)) run_oldsnapshot(rep);
}
