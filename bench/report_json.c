/* bench/report_json.c - the JSON report for scripts (report.h): one document with the configuration, the
 * machine, the implementations, every figure with each repetition's samples, and memory after each fill.
 * bench/performance_report.py reads it: keys are added, never renamed. */
#define _POSIX_C_SOURCE 200809L

#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <memtable/memtable.h>

#include "chase.h"
#include "options.h"
#include "report_figures.h"
#include "peer.h"
#include "results.h"
#include "rotate.h"

static void json_string(const char *text) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
    if (*p == '"' || *p == '\\') {
      printf("\\%c", *p);
    } else if (*p < 0x20) {
      printf("\\u%04x", *p);
    } else {
      putchar(*p);
    }
  }
  putchar('"');
}

static void json_number(double value) {
  if (isfinite(value)) {
    printf("%.6g", value);
  } else {
    printf("null");
  }
}

/* `, "key": value`. */
static void json_number_field(const char *key, double value) {
  printf(", \"%s\": ", key);
  json_number(value);
}

/* An entry of the results or memory list: `{"what": "name", "implementation": "impl"`, after a comma and a
 * line break unless it is the first. */
static void json_entry_begin(bool *first, const char *what, const char *name, const char *impl) {
  printf("%s    {\"%s\": \"%s\", \"implementation\": ", *first ? "" : ",\n", what, name);
  *first = false;
  json_string(impl);
}

/* "machine": the CPU, its count, the dependent-load probe's figures and the build; null for a figure not
 * measured (--chase_mib=0, or huge pages not asked for). */
static void json_machine(void) {
  char cpu[160];
  cpu_model(cpu, sizeof cpu);
  json_string(cpu);
  printf(", \"online_cpus\": %ld, \"dependent_load_ns\": ", sysconf(_SC_NPROCESSORS_ONLN));
  json_number(g_options.chase_bytes > 0 ? g_dependent_load_ns : NAN);
  json_number_field("dependent_load_huge_pages_ns", g_options.chase_bytes > 0 && g_options.chase_huge_pages ? g_dependent_load_huge_ns : NAN);
  printf(", \"build\": ");
  json_string(build_kind());
}

/* "config": the flags that shape the figures, and the benchmarks run. */
static void json_config(void) {
  printf("\"num\": %" PRIu64 ", \"key_size\": %zu, \"value_size\": %zu, \"reads\": %" PRIu64
         ", \"threads\": %u, \"seed\": %" PRIu64 ", \"repetitions\": %u, \"bloom_bits\": %u, "
         "\"readmissing_bloom_bits\": %u, \"checksum_bytes\": %u, ",
         g_options.num, g_options.key_size, g_options.value_size, g_options.reads, g_options.threads,
         g_options.seed, g_options.repetitions, g_options.bloom_bits,
         missing_bloom_bits(), g_options.checksum_bytes);
  /* Only with the benchmarks they configure, so other runs' documents stay as they were. */
  if (g_options.huge_pages != 0) printf("\"huge_pages\": \"%s\", ", huge_pages_names[g_options.huge_pages]);
  if (g_options.skiplist_branching != 0) printf("\"skiplist_branching\": %u, ", g_options.skiplist_branching);
  if (selected(BENCH_FILLCONCURRENT)) printf("\"writers\": %u, ", g_options.writers);
  if (selected(BENCH_READSEQ_VERSIONS)) printf("\"max_sequential_skip\": %u, ", g_options.max_sequential_skip);
  if (selected(BENCH_FILLBATCH)) printf("\"batch_size\": %u, ", g_options.batch_size);
  if (selected(BENCH_READRANDOM_BATCH)) printf("\"read_batch_size\": %u, ", read_batch_size());
  if (selected(BENCH_ROTATE) || selected(BENCH_ROTATE_POOL) || g_options.duration > 0)
    printf("\"rotations\": %u, \"write_buffer_size\": %zu, \"duration\": %u, ", g_options.rotations,
           g_options.write_buffer_size, g_options.duration);
  printf("\"benchmarks\": [");
  bool first = true;
  for (unsigned b = 0; b < BENCH_COUNT; b++) {
    if (!selected(b)) continue;
    printf("%s\"%s\"", first ? "" : ", ", bench_names[b]);
    first = false;
  }
  printf("]}");
}

/* "implementations": each one's names, caveats and, when it was dropped, why. */
static void json_implementations(void) {
  for (size_t i = 0; i < g_impl_count; i++) {
    printf("    {\"name\": ");
    json_string(g_impls[i].impl->name);
    printf(", \"label\": ");
    json_string(g_impls[i].impl->label);
    printf(", \"description\": ");
    json_string(g_impls[i].impl->description);
    printf(", \"caveat\": ");
    if (g_impls[i].impl->caveat != NULL) {
      json_string(g_impls[i].impl->caveat);
    } else {
      printf("null");
    }
    if (selected(BENCH_FILLCONCURRENT)) {
      printf(", \"fillconcurrent_caveat\": ");
      if (g_impls[i].impl->concurrent_caveat != NULL) {
        json_string(g_impls[i].impl->concurrent_caveat);
      } else {
        printf("null");
      }
    }
    printf(", \"skipped_reason\": ");
    if (g_impls[i].skipped_reason[0]) {
      json_string(g_impls[i].skipped_reason);
    } else {
      printf("null");
    }
    printf("}%s\n", i + 1 < g_impl_count ? "," : "");
  }
}

/* "results": every measured figure with each repetition's samples. */
static void json_results(void) {
  bool first = true;
  for (unsigned b = 0; b < BENCH_COUNT; b++) {
    if (!selected(b)) continue;
    for (size_t i = 0; i < g_impl_count; i++) {
      figures f = figures_for(i, b);
      if (!f.present) continue;
      json_entry_begin(&first, "benchmark", bench_names[b], g_impls[i].impl->name);
      json_number_field("ops_per_sec", f.ops_per_sec);
      json_number_field("ns_per_op", f.ns_per_op);
      json_number_field("mb_per_sec", f.mb_per_sec);
      json_number_field("found_fraction", f.found_fraction);
      if (b == BENCH_READWHILEWRITING) {
        printf(", \"reader_threads\": %u, \"writer_ops_per_sec\": ", g_options.threads);
        json_number(f.writer_ops_per_sec);
      } else if (b == BENCH_FILLCONCURRENT) {
        printf(", \"writer_threads\": %u", g_options.writers);
      } else if (b == BENCH_FILLBATCH) {
        printf(", \"batch_size\": %u", g_options.batch_size);
      } else if (b == BENCH_READRANDOM_BATCH) {
        printf(", \"batch_size\": %u, \"batched\": %s", read_batch_size(),
               g_impls[i].impl->get_batch != NULL ? "true" : "false");
      }
      if (i > 0) {
        figures ours = figures_for(0, b);
        printf(", \"ours_over_this\": ");
        if (ours.present && f.ops_per_sec > 0) {
          json_number(ours.ops_per_sec / f.ops_per_sec);
        } else {
          printf("null");
        }
      }
      printf(", \"samples\": [");
      bool first_sample = true;
      for (unsigned rep = 0; rep < g_options.repetitions; rep++) {
        const sample *s = &g_samples[i][b][rep];
        if (!s->present) continue;
        printf("%s{\"ops\": %" PRIu64 ", \"seconds\": ", first_sample ? "" : ", ", s->ops);
        json_number(s->seconds);
        printf(", \"found\": %" PRIu64 "}", s->found);
        first_sample = false;
      }
      printf("]}");
    }
  }
}

/* "memory": every table's memory after its fill. */
static void json_memory(void) {
  bool first = true;
  for (unsigned kind = 0; kind < TABLE_KINDS; kind++) {
    for (size_t i = 0; i < g_impl_count; i++) {
      memory_figures m = memory_for(i, kind);
      if (!m.present) continue;
      json_entry_begin(&first, "table", table_names[kind], g_impls[i].impl->name);
      json_number_field("bytes", m.bytes);
      json_number_field("bytes_per_entry", m.per_entry);
      json_number_field("bytes_per_entry_beyond_payload", m.beyond_payload);
      if (m.index_per_entry > 0) {
        json_number_field("point_index_bytes_per_entry", m.index_per_entry);
      }
      if (m.has_waste) {
        json_number_field("wasted_bytes", m.wasted);
        json_number_field("wasted_percent", m.bytes > 0 ? 100.0 * m.wasted / m.bytes : 0.0);
        json_number_field("tail_bytes", m.tail);
      }
      printf("}");
    }
  }
}

void print_json_report(double wall_seconds) {
  printf("{\n  \"tool\": \"memtable-bench\",\n  \"memtable_version\": %u,\n  \"machine\": {\"cpu\": ",
         mt_version_number());
  json_machine();
  printf("},\n  \"config\": {");
  json_config();
  printf(",\n  \"implementations\": [\n");
  json_implementations();
  printf("  ],\n  \"results\": [\n");
  json_results();
  printf("\n  ],\n  \"memory\": [\n");
  json_memory();
  printf("\n  ],\n  \"rotate_pool_over_rotate\": ");
  if (rotate_pool_ratio() > 0) {
    json_number(rotate_pool_ratio());
  } else {
    printf("null");
  }
  printf(",\n  \"soak\": ");
  print_soak_json();
  printf(",\n  \"memtable_pages\": ");
  json_string(bench_memtable_pages_summary());
  printf(",\n  \"wall_seconds\": ");
  json_number(wall_seconds);
  printf("\n}\n");
}
