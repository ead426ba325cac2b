/* bench/report_figures.c - the medians and the machine description both reports print (report_figures.h). */
#define _POSIX_C_SOURCE 200809L

#include "report_figures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "options.h"

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a;
  double y = *(const double *)b;
  return (x > y) - (x < y);
}

double median_of(double *values, unsigned count) {
  qsort(values, count, sizeof *values, compare_doubles);
  return count % 2 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2.0;
}

double sample_ops_per_sec(const sample *s) {
  return s->seconds > 0 ? (double)s->ops / s->seconds : 0.0;
}

figures figures_for(size_t impl, unsigned bench) {
  double ops[MAX_REPETITIONS], ns[MAX_REPETITIONS], mb[MAX_REPETITIONS], found[MAX_REPETITIONS],
      writer[MAX_REPETITIONS];
  figures f = {0};
  for (unsigned rep = 0; rep < g_options.repetitions; rep++) {
    const sample *s = &g_samples[impl][bench][rep];
    if (!s->present || s->ops == 0) continue;
    /* Per-thread latency: elapsed x threads / ops. */
    ops[f.count] = sample_ops_per_sec(s);
    ns[f.count] = s->seconds * NS_PER_SEC * s->threads / (double)s->ops;
    mb[f.count] = s->seconds > 0 ? (double)s->bytes / 1048576.0 / s->seconds : 0.0;
    found[f.count] = (double)s->found / (double)s->ops;
    writer[f.count] = s->writer_seconds > 0 ? (double)g_options.num / s->writer_seconds : 0.0;
    f.count++;
  }
  if (f.count == 0) return f;
  f.present = true;
  f.ops_per_sec = median_of(ops, f.count);
  f.ns_per_op = median_of(ns, f.count);
  f.mb_per_sec = median_of(mb, f.count);
  f.found_fraction = median_of(found, f.count);
  f.writer_ops_per_sec = median_of(writer, f.count);
  return f;
}

double rotate_pool_ratio(void) {
  figures plain = figures_for(0, BENCH_ROTATE);
  figures pooled = figures_for(0, BENCH_ROTATE_POOL);
  return plain.present && pooled.present && plain.ops_per_sec > 0 ? pooled.ops_per_sec / plain.ops_per_sec : 0.0;
}

memory_figures memory_for(size_t impl, unsigned kind) {
  double bytes[MAX_REPETITIONS];
  double index_bytes[MAX_REPETITIONS];
  double wasted[MAX_REPETITIONS];
  double tail[MAX_REPETITIONS];
  unsigned count = 0;
  for (unsigned rep = 0; rep < g_options.repetitions; rep++) {
    const memory_sample *m = &g_memory[impl][kind][rep];
    if (m->present && m->entries > 0) {
      index_bytes[count] = (double)m->index_bytes;
      wasted[count] = (double)m->wasted_bytes;
      tail[count] = (double)m->tail_bytes;
      bytes[count++] = (double)m->bytes;
    }
  }
  memory_figures f = {0};
  if (count == 0) return f;
  f.present = true;
  f.bytes = median_of(bytes, count);
  f.per_entry = f.bytes / (double)g_options.num;
  f.beyond_payload = f.per_entry - (double)(g_options.key_size + g_options.value_size);
  f.index_per_entry = median_of(index_bytes, count) / (double)g_options.num;
  f.has_waste = impl == 0; /* ours (slot 0) reports its arena's split */
  f.wasted = median_of(wasted, count);
  f.tail = median_of(tail, count);
  return f;
}

void cpu_model(char *out, size_t out_len) {
  snprintf(out, out_len, "unknown CPU");
  FILE *cpuinfo = fopen("/proc/cpuinfo", "r");
  if (cpuinfo == NULL) return;
  char line[256];
  while (fgets(line, sizeof line, cpuinfo) != NULL) {
    if (strncmp(line, "model name", 10) == 0) {
      const char *colon = strchr(line, ':');
      if (colon != NULL) {
        colon++;
        while (*colon == ' ') colon++;
        snprintf(out, out_len, "%s", colon);
        out[strcspn(out, "\n")] = '\0';
      }
      break;
    }
  }
  fclose(cpuinfo);
}

const char *build_kind(void) {
#if defined(__OPTIMIZE__) && defined(NDEBUG)
  return "optimised (NDEBUG)";
#elif defined(__OPTIMIZE__)
  return "optimised, assertions on";
#else
  return "NOT optimised: figures are not representative";
#endif
}
