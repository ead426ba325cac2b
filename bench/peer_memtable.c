/* bench/peer_memtable.c - our memtable behind the bench_impl interface (peer.h), driven exactly as the peers.
 *
 * A reader handle holds one iterator that its thread reuses for every seek and scan; gets go to the memtable
 * directly. Every read asks for the newest version (sequence UINT64_MAX). fillconcurrent's table is created with
 * concurrent_writes and its writers call mt_memtable_add directly; fillbatch converts each batch into the
 * table's reusable mt_memtable_batch_entry array for mt_memtable_add_batch.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/memtable.h>

#include "peer.h"

typedef struct ours_table {
  mt_memtable *table;
  uint64_t num;
  mt_memtable_batch_entry *batch; /* batch_size entries, the writer's only */
  size_t batch_size;
} ours_table;

typedef struct ours_reader {
  mt_memtable *table;
  mt_memtable_iter *iter;
} ours_reader;

static void *ours_create(const bench_table_config *config, char *error, size_t error_len) {
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.bloom_bits_per_key = config->bloom_bits;
  options.bloom_expected_entries = (size_t)config->num;
  options.checksum_bytes = config->checksum_bytes;
  options.skiplist_branching = config->skiplist_branching;
  options.seed = config->seed;
  options.concurrent_writes = config->concurrent_writes;
  options.point_index = config->point_index;
  options.point_index_entries = (size_t)(config->point_index_entries != 0 ? config->point_index_entries : config->num);
  options.arena.pages = (mt_arena_pages)config->huge_pages;
  ours_table *ours = malloc(sizeof *ours);
  if (ours == NULL) {
    snprintf(error, error_len, "out of memory");
    return NULL;
  }
  ours->num = config->num;
  ours->batch_size = config->batch_size;
  ours->batch = NULL;
  if (config->batch_size > 0) {
    ours->batch = calloc(config->batch_size, sizeof *ours->batch);
    if (ours->batch == NULL) {
      snprintf(error, error_len, "out of memory");
      free(ours);
      return NULL;
    }
  }
  ours->table = mt_memtable_create(&options);
  if (ours->table == NULL) {
    snprintf(error, error_len, "mt_memtable_create failed (options rejected or out of memory)");
    free(ours->batch);
    free(ours);
    return NULL;
  }
  return ours;
}

static void ours_destroy(void *opaque) {
  ours_table *ours = opaque;
  mt_memtable_unref(ours->table);
  free(ours->batch);
  free(ours);
}

static int ours_put(void *opaque, uint64_t seq, const char *key, size_t key_len, const char *value,
                    size_t value_len, char *error, size_t error_len) {
  mt_status status = mt_memtable_add(((ours_table *)opaque)->table, seq, MT_TYPE_VALUE, key, key_len, value,
                                     value_len);
  if (status == MT_OK) return 0;
  snprintf(error, error_len, "mt_memtable_add: %s", mt_status_str(status));
  return -1;
}

static int ours_put_batch(void *opaque, uint64_t first_seq, const bench_batch_entry *entries, size_t count,
                          char *error, size_t error_len) {
  ours_table *ours = opaque;
  if (count > ours->batch_size) {
    snprintf(error, error_len, "batch of %zu entries, table made for %zu", count, ours->batch_size);
    return -1;
  }
  for (size_t i = 0; i < count; i++) {
    ours->batch[i] = (mt_memtable_batch_entry){MT_TYPE_VALUE, entries[i].key, entries[i].key_len, entries[i].value,
                                               entries[i].value_len};
  }
  size_t applied = 0;
  mt_status status = mt_memtable_add_batch(ours->table, first_seq, ours->batch, count, &applied);
  if (status == MT_OK && applied == count) return 0;
  snprintf(error, error_len, "mt_memtable_add_batch: %s after %zu of %zu entries", mt_status_str(status), applied,
           count);
  return -1;
}

static char pages_summary[512];

const char *bench_memtable_pages_summary(void) { return pages_summary; }

/* Writes what the table's arena got into pages_summary (the writer is done: the report may be read). */
static void record_pages(const mt_memtable *table) {
  mt_arena_pages_report report;
  if (mt_memtable_get_pages_report(table, &report) != MT_OK) return;
  static const char *const requested[] = {"off", "thp", "hugetlb"};
  size_t at = (size_t)snprintf(pages_summary, sizeof pages_summary, "requested %s (blocks of %zu KiB); got",
                               (unsigned)report.requested < 3 ? requested[report.requested] : "?",
                               report.block_size >> 10);
  for (unsigned b = 0; b < MT_ARENA_BACKING_COUNT && at < sizeof pages_summary; b++) {
    if (report.blocks[b] == 0) continue;
    at += (size_t)snprintf(pages_summary + at, sizeof pages_summary - at, " %s %zu blocks (%.0f MiB)",
                           mt_arena_backing_name((mt_arena_backing)b), report.blocks[b],
                           (double)report.bytes[b] / (1 << 20));
  }
  if (report.fallbacks != 0 && at < sizeof pages_summary)
    snprintf(pages_summary + at, sizeof pages_summary - at, "; %zu fell back: %s", report.fallbacks,
             report.fallback_reason);
}

static int ours_check_after_fill(void *opaque, char *error, size_t error_len) {
  ours_table *ours = opaque;
  record_pages(ours->table);
  uint64_t entries = mt_memtable_entry_count(ours->table);
  if (entries == ours->num) return 0;
  snprintf(error, error_len, "entry count %" PRIu64 " after adding %" PRIu64, entries, ours->num);
  return -1;
}

static size_t ours_memory_usage(void *opaque) {
  return mt_memtable_approximate_memory_usage(((ours_table *)opaque)->table);
}

size_t bench_memtable_point_index_memory(void *opaque) {
  return mt_memtable_point_index_memory(((ours_table *)opaque)->table);
}

void bench_memtable_waste(void *opaque, size_t *wasted, size_t *tail) {
  mt_memtable_memory_stats stats;
  *wasted = *tail = 0;
  if (mt_memtable_get_memory_stats(((ours_table *)opaque)->table, &stats) != MT_OK) return;
  *wasted = stats.arena.wasted_bytes;
  *tail = stats.arena.free_bytes;
}

static void *ours_reader_create(void *opaque) {
  ours_reader *reader = malloc(sizeof *reader);
  if (reader == NULL) return NULL;
  reader->table = ((ours_table *)opaque)->table;
  reader->iter = mt_memtable_iter_create(reader->table);
  if (reader->iter == NULL) {
    free(reader);
    return NULL;
  }
  return reader;
}

static void ours_reader_destroy(void *opaque) {
  ours_reader *reader = opaque;
  mt_memtable_iter_destroy(reader->iter);
  free(reader);
}

static int ours_get(void *opaque, const char *key, size_t key_len, size_t *value_len) {
  mt_slice value;
  mt_status status = mt_memtable_get(((ours_reader *)opaque)->table, key, key_len, UINT64_MAX, &value);
  if (status == MT_OK) {
    *value_len = value.len;
    return 1;
  }
  return status == MT_NOT_FOUND || status == MT_DELETED ? 0 : -1;
}

/* Up to this many keys per mt_memtable_get_batch call (larger batches are split). */
#define OURS_GET_BATCH_MAX 256

static int ours_get_batch(void *opaque, const char *const *keys, size_t key_len, size_t count, int *results,
                          size_t *value_lens) {
  const mt_memtable *table = ((ours_reader *)opaque)->table;
  for (size_t base = 0; base < count; base += OURS_GET_BATCH_MAX) {
    size_t n = count - base < OURS_GET_BATCH_MAX ? count - base : OURS_GET_BATCH_MAX;
    mt_slice slices[OURS_GET_BATCH_MAX];
    mt_status statuses[OURS_GET_BATCH_MAX];
    mt_slice values[OURS_GET_BATCH_MAX];
    for (size_t k = 0; k < n; k++) slices[k] = (mt_slice){keys[base + k], key_len};
    if (mt_memtable_get_batch(table, slices, n, UINT64_MAX, statuses, values) != MT_OK) return -1;
    for (size_t k = 0; k < n; k++) {
      if (statuses[k] == MT_OK) {
        results[base + k] = 1;
        value_lens[base + k] = values[k].len;
      } else if (statuses[k] == MT_NOT_FOUND || statuses[k] == MT_DELETED) {
        results[base + k] = 0;
      } else {
        return -1;
      }
    }
  }
  return 0;
}

static int ours_seek(void *opaque, const char *key, size_t key_len) {
  mt_memtable_iter *iter = ((ours_reader *)opaque)->iter;
  mt_memtable_iter_seek(iter, key, key_len, UINT64_MAX);
  if (!mt_memtable_iter_valid(iter)) return mt_memtable_iter_status(iter) == MT_OK ? 0 : -1;
  mt_slice found = mt_memtable_iter_user_key(iter);
  return found.len == key_len && memcmp(found.data, key, key_len) == 0;
}

static uint64_t ours_scan(void *opaque, bool reverse, uint64_t *bytes) {
  mt_memtable_iter *iter = ((ours_reader *)opaque)->iter;
  uint64_t count = 0;
  uint64_t total = 0;
  if (reverse) {
    for (mt_memtable_iter_seek_to_last(iter); mt_memtable_iter_valid(iter); mt_memtable_iter_prev(iter)) {
      total += mt_memtable_iter_user_key(iter).len + mt_memtable_iter_value(iter).len;
      count++;
    }
  } else {
    for (mt_memtable_iter_seek_to_first(iter); mt_memtable_iter_valid(iter); mt_memtable_iter_next(iter)) {
      total += mt_memtable_iter_user_key(iter).len + mt_memtable_iter_value(iter).len;
      count++;
    }
  }
  if (mt_memtable_iter_status(iter) != MT_OK) return UINT64_MAX;
  *bytes += total;
  return count;
}

static char ours_description[256];

/* put_concurrent is put itself: with concurrent_writes, mt_memtable_add may be called from any thread. */
static const bench_impl ours_impl = {
    "memtable",         "memtable",          ours_description, NULL,       ours_create,
    ours_destroy,       ours_put,            ours_check_after_fill, ours_memory_usage,
    ours_reader_create, ours_reader_destroy, ours_get,           ours_seek, ours_scan,
    ours_put,           ours_put_batch,      NULL,                  ours_get_batch,
};

const bench_impl *bench_peer_memtable(unsigned bloom_bits, unsigned readmissing_bloom_bits, unsigned checksum_bytes) {
  snprintf(ours_description, sizeof ours_description,
           "this library (version %u): mt_memtable, bloom %u bits/key (readmissing_bloom: %u), checksum %u B",
           mt_version_number(), bloom_bits, readmissing_bloom_bits, checksum_bytes);
  return &ours_impl;
}
