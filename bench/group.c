/* bench/group.c - the tables of a group of benchmarks (group.h): created per implementation, dropped on failure. */
#include "group.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "console.h"

static bench_table_config table_config(const bench_impl *impl, unsigned bloom_bits) {
  bench_table_config config = {0};
  config.num = g_options.num;
  config.key_size = g_options.key_size;
  config.value_size = g_options.value_size;
  config.bloom_bits = is_ours(impl) ? bloom_bits : 0;
  config.checksum_bytes = g_options.checksum_bytes;
  config.skiplist_branching = g_options.skiplist_branching;
  config.seed = g_options.seed;
  config.huge_pages = g_options.huge_pages;
  return config;
}

static void disable_impl(size_t impl_index, const char *why) {
  impl_slot *slot = &g_impls[impl_index];
  if (is_ours(slot->impl)) fatal("memtable: %s", why);
  slot->enabled = false;
  snprintf(slot->skipped_reason, sizeof slot->skipped_reason, "%s", why);
  fprintf(stderr, "memtable-bench: skipping %s for the rest of the run: %s\n", slot->impl->label, why);
}

_Noreturn void wrong_results(const bench_impl *impl, unsigned bench, uint64_t got, uint64_t expected, const char *what) {
  fatal("%s %s: %" PRIu64 " %s, expected %" PRIu64 " - wrong results, figures discarded", impl->label,
        bench_names[bench], got, what, expected);
}

static void run_release(impl_run *run) {
  if (run->reader != NULL) run->impl->reader_destroy(run->reader);
  if (run->table != NULL) run->impl->destroy(run->table);
  run->reader = NULL;
  run->table = NULL;
}

void run_fail(impl_run *run, const char *why) {
  run_release(run);
  run->active = false;
  disable_impl(run->index, why);
}

/* An implementation without the mode's write function sits the group out. */
static bool impl_supports(const bench_impl *impl, write_mode mode) {
  if (mode == WRITE_CONCURRENT) return impl->put_concurrent != NULL;
  if (mode == WRITE_BATCH) return impl->put_batch != NULL;
  return true;
}

static void begin(run_group *group, unsigned rep, bool ours_only, unsigned bloom_bits, write_mode mode,
                  bool point_index) {
  memset(group, 0, sizeof *group);
  group->rep = rep;
  for (size_t i = 0; i < g_impl_count; i++) {
    if (!g_impls[i].enabled || (ours_only && !is_ours(g_impls[i].impl))) continue;
    if (!impl_supports(g_impls[i].impl, mode)) continue;
    impl_run *run = &group->runs[group->count++];
    run->index = i;
    run->impl = g_impls[i].impl;
    run->active = true;
    bench_table_config config = table_config(run->impl, bloom_bits);
    config.concurrent_writes = mode == WRITE_CONCURRENT;
    config.batch_size = mode == WRITE_BATCH ? g_options.batch_size : 0;
    config.point_index = point_index && is_ours(run->impl);
    config.point_index_entries = g_options.point_index_entries;
    run->table = run->impl->create(&config, group->error, sizeof group->error);
    if (run->table == NULL) run_fail(run, group->error);
  }
}

void group_begin_for(run_group *group, unsigned rep, bool ours_only, unsigned bloom_bits, write_mode mode) {
  begin(group, rep, ours_only, bloom_bits, mode, false);
}

void group_begin_point_index(run_group *group, unsigned rep, bool ours_only) {
  begin(group, rep, ours_only, 0, WRITE_PUT, true);
}

void group_begin(run_group *group, unsigned rep, bool ours_only, unsigned bloom_bits) {
  group_begin_for(group, rep, ours_only, bloom_bits, WRITE_PUT);
}

void group_end(run_group *group) {
  for (size_t r = 0; r < group->count; r++) run_release(&group->runs[r]);
}

size_t active_runs(const run_group *group) {
  size_t active = 0;
  for (size_t r = 0; r < group->count; r++) active += group->runs[r].active;
  return active;
}

void group_progress_begin(const run_group *group, const char *what, uint64_t ops_per_run) {
  progress_begin(what, group->rep, ops_per_run * active_runs(group));
}

void *make_reader(const impl_run *run) {
  void *reader = run->impl->reader_create(run->table);
  if (reader == NULL) fatal("%s: reader_create failed (out of memory)", run->impl->label);
  return reader;
}

uint64_t group_readers_begin(run_group *group, bool taking_part[MAX_IMPLS], bool (*include)(const impl_run *run),
                             unsigned order_bench) {
  uint64_t participants = 0;
  for (size_t r = 0; r < group->count; r++) {
    impl_run *run = &group->runs[r];
    if (!run->active || !include(run)) continue;
    taking_part[r] = true;
    participants++;
    run->reader = make_reader(run);
    run->read_rng = rng_for(order_bench, group->rep, 0);
    run->elapsed_ns = 0;
    run->found = 0;
    run->value_bytes = 0;
  }
  return participants;
}

impl_run *group_reader_end(run_group *group, size_t r) {
  impl_run *run = &group->runs[r];
  run->impl->reader_destroy(run->reader);
  run->reader = NULL;
  return run;
}
