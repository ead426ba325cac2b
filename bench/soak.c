/* bench/soak.c - the soak mode (--duration=S, rotate.h): one writer rotates tables on a block pool (fill to
 * --write_buffer_size, flush scan, swap in a fresh table, drop the old one) while --threads readers get random
 * keys from whichever table is current, for S seconds. The main thread samples resident memory
 * (/proc/self/statm) every SOAK_SAMPLE_MS; the samples before the writer's second rotation ends are the
 * warm-up (the pool fills, the allocator settles), and the rest should stay within 10% of their minimum: a
 * pool that recycles blocks holds memory flat.
 *
 * The current table is handed to readers under `lock`: a reader takes a reference there (mt_memtable_ref) and
 * reads without it, so the writer may swap and drop its own reference at any time; the table goes when the
 * last reader lets go.
 */
#define _POSIX_C_SOURCE 200809L

#include "rotate.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "console.h"
#include "options.h"
#include "workload.h"

#define SOAK_SAMPLE_MS 100
/* Gets a reader makes on one reference before it looks for a newer table. */
#define SOAK_READ_BURST 1024

soak_result g_soak;

typedef struct soak_state {
  pthread_mutex_t lock;
  mt_memtable *current; /* under lock; NULL once the writer has finished */
  mt_block_pool *pool;
  /* relaxed: a stop request only ends loops; nothing is read through it. */
  atomic_bool stop;
  /* relaxed: counters the sampler reads as statistics; they publish nothing. */
  _Atomic uint64_t rotations;
  _Atomic uint64_t entries;
} soak_state;

typedef struct soak_reader {
  pthread_t thread;
  soak_state *state;
  rng read_rng;
  uint64_t reads;
  bool failed;
} soak_reader;

static size_t resident_bytes(void) {
  FILE *statm = fopen("/proc/self/statm", "r");
  if (statm == NULL) fatal("soak: cannot open /proc/self/statm");
  unsigned long size_pages = 0, resident_pages = 0;
  int fields = fscanf(statm, "%lu %lu", &size_pages, &resident_pages);
  fclose(statm);
  if (fields != 2) fatal("soak: cannot read /proc/self/statm");
  return (size_t)resident_pages * (size_t)sysconf(_SC_PAGESIZE);
}

static void *soak_writer(void *arg) {
  soak_state *state = arg;
  for (;;) {
    pthread_mutex_lock(&state->lock);
    mt_memtable *table = state->current;
    pthread_mutex_unlock(&state->lock);
    uint64_t entries = rotation_fill(table);
    uint64_t bytes = 0;
    if (rotation_flush_scan(table, &bytes) != entries) fatal("soak: the flush scan missed entries");
    mt_memtable *next = atomic_load_explicit(&state->stop, memory_order_relaxed) ? NULL : rotation_table(state->pool);
    pthread_mutex_lock(&state->lock);
    state->current = next;
    pthread_mutex_unlock(&state->lock);
    mt_memtable_unref(table); /* readers may still hold it */
    atomic_fetch_add_explicit(&state->entries, entries, memory_order_relaxed);
    atomic_fetch_add_explicit(&state->rotations, 1, memory_order_relaxed);
    if (next == NULL) return NULL;
  }
}

static void *soak_reader_main(void *arg) {
  soak_reader *self = arg;
  soak_state *state = self->state;
  const size_t key_size = g_options.key_size;
  char *key = malloc(key_size);
  if (key == NULL) fatal("out of memory");
  for (;;) {
    pthread_mutex_lock(&state->lock);
    mt_memtable *table = state->current;
    if (table != NULL) mt_memtable_ref(table);
    pthread_mutex_unlock(&state->lock);
    if (table == NULL) break;
    /* Keys 0 .. count-1 have been added (or are being added): most gets find their key. */
    uint64_t count = mt_memtable_entry_count(table) + 1;
    for (unsigned i = 0; i < SOAK_READ_BURST; i++) {
      format_key(splitmix64(rng_below(&self->read_rng, count)), key, key_size);
      mt_slice value;
      mt_status status = mt_memtable_get(table, key, key_size, MT_MAX_SEQUENCE, &value);
      if (status != MT_OK && status != MT_NOT_FOUND) self->failed = true;
    }
    self->reads += SOAK_READ_BURST;
    mt_memtable_unref(table);
  }
  free(key);
  return NULL;
}

void run_soak(void) {
  soak_state state;
  if (pthread_mutex_init(&state.lock, NULL) != 0) fatal("soak: pthread_mutex_init failed");
  state.pool = rotation_pool();
  state.current = rotation_table(state.pool);
  atomic_init(&state.stop, false);
  atomic_init(&state.rotations, 0);
  atomic_init(&state.entries, 0);
  const unsigned readers = g_options.threads;
  soak_reader *reader = calloc(readers, sizeof *reader);
  if (reader == NULL) fatal("out of memory");
  soak_result result = {0};
  result.present = true;
  result.readers = readers;
  result.rss_min = SIZE_MAX;
  uint64_t start = now_ns();
  pthread_t writer;
  if (pthread_create(&writer, NULL, soak_writer, &state) != 0) fatal("pthread_create failed");
  for (unsigned t = 0; t < readers; t++) {
    reader[t].state = &state;
    reader[t].read_rng = rng_for(BENCH_COUNT, 0, t + 1);
    if (pthread_create(&reader[t].thread, NULL, soak_reader_main, &reader[t]) != 0) fatal("pthread_create failed");
  }
  const uint64_t duration_ns = (uint64_t)g_options.duration * UINT64_C(1000000000);
  progress_begin("soak", 0, g_options.duration);
  for (;;) {
    struct timespec pause = {0, SOAK_SAMPLE_MS * 1000000L};
    nanosleep(&pause, NULL);
    uint64_t elapsed = now_ns() - start;
    size_t rss = resident_bytes();
    if (atomic_load_explicit(&state.rotations, memory_order_relaxed) < 2) {
      result.warmup_seconds = (double)elapsed / NS_PER_SEC;
      if (rss > result.rss_warmup_max) result.rss_warmup_max = rss;
    } else {
      result.samples++;
      if (rss < result.rss_min) result.rss_min = rss;
      if (rss > result.rss_max) result.rss_max = rss;
    }
    progress_update(elapsed / UINT64_C(1000000000));
    if (elapsed >= duration_ns) break;
  }
  atomic_store_explicit(&state.stop, true, memory_order_relaxed);
  pthread_join(writer, NULL); /* the writer finishes its rotation, then publishes NULL */
  for (unsigned t = 0; t < readers; t++) {
    pthread_join(reader[t].thread, NULL);
    if (reader[t].failed) fatal("soak: a get failed");
    result.reads += reader[t].reads;
  }
  progress_end();
  result.seconds = (double)(now_ns() - start) / NS_PER_SEC;
  result.rotations = atomic_load_explicit(&state.rotations, memory_order_relaxed);
  result.entries = atomic_load_explicit(&state.entries, memory_order_relaxed);
  result.rss_final = resident_bytes();
  mt_block_pool_statistics stats;
  if (mt_block_pool_get_stats(state.pool, &stats) != MT_OK || stats.lent != 0) fatal("soak: blocks still lent");
  result.pool_bytes_held = stats.bytes_held;
  mt_status status = mt_block_pool_destroy(state.pool);
  if (status != MT_OK) fatal("soak: mt_block_pool_destroy: %s", mt_status_str(status));
  pthread_mutex_destroy(&state.lock);
  free(reader);
  if (result.samples == 0) result.rss_min = 0;
  result.within_10_percent = result.samples > 0 && (double)result.rss_max <= 1.1 * (double)result.rss_min;
  g_soak = result;
}

void print_soak_text(void) {
  if (!g_soak.present) return;
  const double mib = 1048576.0;
  printf("\nSoak (--duration=%u): %.1f s, 1 writer + %u reader%s, tables of %zu MiB on one block pool\n",
         g_options.duration, g_soak.seconds, g_soak.readers, g_soak.readers == 1 ? "" : "s",
         g_options.write_buffer_size >> 20);
  printf("  writer: %" PRIu64 " rotations, %.0f entries/s; readers: %.0f gets/s\n", g_soak.rotations,
         (double)g_soak.entries / g_soak.seconds, (double)g_soak.reads / g_soak.seconds);
  printf("  resident memory: warm-up %.1f s (until the second rotation ended), peak %.1f MiB during it\n",
         g_soak.warmup_seconds, (double)g_soak.rss_warmup_max / mib);
  if (g_soak.samples == 0) {
    printf("  no samples after the warm-up: raise --duration\n");
    return;
  }
  printf("  after warm-up (%zu samples, every %d ms): min %.1f MiB, max %.1f MiB (+%.1f%%): %s\n", g_soak.samples,
         SOAK_SAMPLE_MS, (double)g_soak.rss_min / mib, (double)g_soak.rss_max / mib,
         100.0 * ((double)g_soak.rss_max / (double)g_soak.rss_min - 1.0),
         g_soak.within_10_percent ? "flat within 10%" : "NOT within 10%");
  printf("  at the end: %.1f MiB resident, the pool holding %.1f MiB idle\n", (double)g_soak.rss_final / mib,
         (double)g_soak.pool_bytes_held / mib);
}

void print_soak_json(void) {
  if (!g_soak.present) {
    printf("null");
    return;
  }
  printf("{\"seconds\": %.3f, \"readers\": %u, \"rotations\": %" PRIu64 ", \"entries\": %" PRIu64
         ", \"reads\": %" PRIu64 ", \"warmup_seconds\": %.3f, \"rss_warmup_max_bytes\": %zu, "
         "\"samples_after_warmup\": %zu, \"rss_min_bytes\": %zu, \"rss_max_bytes\": %zu, \"rss_final_bytes\": %zu, "
         "\"within_10_percent\": %s, \"pool_bytes_held\": %zu}",
         g_soak.seconds, g_soak.readers, g_soak.rotations, g_soak.entries, g_soak.reads, g_soak.warmup_seconds,
         g_soak.rss_warmup_max, g_soak.samples, g_soak.rss_min, g_soak.rss_max, g_soak.rss_final,
         g_soak.within_10_percent ? "true" : "false", g_soak.pool_bytes_held);
}
