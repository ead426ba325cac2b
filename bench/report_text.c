/* bench/report_text.c - the text report for people (report.h): the header before the run, then every
 * benchmark's figures, memory after each fill, the summary table of ratios and the peers' caveats. */
#define _POSIX_C_SOURCE 200809L

#include "report.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "chase.h"
#include "clock.h"
#include "options.h"
#include "report_figures.h"
#include "results.h"
#include "rotate.h"
#include "versions.h"
#include "versions_skip.h"

/* readseq_versions and its two twins: ours only. */
static bool is_versions_bench(unsigned bench) {
  return bench == BENCH_READSEQ_VERSIONS || bench == BENCH_READSEQ_VERSIONS_NOSKIP ||
         bench == BENCH_READSEQ_VERSIONS_SEARCH || bench == BENCH_READVERSIONS_SKIP;
}

/* rotate and rotate_pool: ours only too. */
static bool is_rotate_bench(unsigned bench) { return bench == BENCH_ROTATE || bench == BENCH_ROTATE_POOL; }

void print_text_header(void) {
  char cpu[160];
  cpu_model(cpu, sizeof cpu);
  printf("memtable-bench: num %" PRIu64 ", key %zu B (hex of splitmix64(i)), value %zu B, reads %" PRIu64
         ", readwhilewriting readers %u, seed %" PRIu64 ", repetitions %u (medians, interleaved)\n",
         g_options.num, g_options.key_size, g_options.value_size, g_options.reads, g_options.threads,
         g_options.seed, g_options.repetitions);
  if (selected(BENCH_FILLCONCURRENT) || selected(BENCH_FILLBATCH))
    printf("fillconcurrent writers %u, fillbatch batch size %u\n", g_options.writers, g_options.batch_size);
  if (selected(BENCH_READSEQ_VERSIONS))
    printf("readseq_versions: %u versions per key, max_sequential_skip %u\n", VERSIONS_PER_KEY,
           g_options.max_sequential_skip);
  if (selected(BENCH_ROTATE) || selected(BENCH_ROTATE_POOL))
    printf("rotate: %u rotations per repetition, tables of %zu MiB (write_buffer_size)\n", g_options.rotations,
           g_options.write_buffer_size >> 20);
  printf("machine: %s, %ld online CPUs; build: %s\n", cpu, sysconf(_SC_NPROCESSORS_ONLN), build_kind());
  if (g_options.chase_bytes == 0) {
    printf("dependent-load latency: not measured (--chase_mib=0)\n");
  } else if (g_options.chase_huge_pages) {
    printf("dependent-load latency: %.1f ns with 4 KiB pages, %.1f ns with huge pages advised (pointer chase through "
           "a random cycle over %zu MiB)\n",
           g_dependent_load_ns, g_dependent_load_huge_ns, g_options.chase_bytes >> 20);
  } else {
    printf("dependent-load latency: %.1f ns with 4 KiB pages (pointer chase through a random cycle over %zu MiB)\n",
           g_dependent_load_ns, g_options.chase_bytes >> 20);
  }
  for (size_t i = 0; i < g_impl_count; i++) printf("  %-20s %s\n", g_impls[i].impl->label, g_impls[i].impl->description);
  fflush(stdout);
}

static void format_throughput(char *out, size_t out_len, const figures *f) {
  if (!f->present) {
    snprintf(out, out_len, "n/a");
  } else if (f->ops_per_sec >= 1e6) {
    snprintf(out, out_len, "%.2f Mop/s", f->ops_per_sec / 1e6);
  } else {
    snprintf(out, out_len, "%.0f Kop/s", f->ops_per_sec / 1e3);
  }
}

/* Why an implementation has no figure for a benchmark. */
static const char *why_not_measured(unsigned b, size_t i) {
  const char *why = g_impls[i].skipped_reason;
  if (why[0] == '\0' && b == BENCH_READWHILEWRITING)
    why = "the readers got no CPU time before the writer finished: raise --num";
  if (why[0] == '\0' && is_versions_bench(b)) why = "no memtable user view (ours only)";
  if (why[0] == '\0' && is_rotate_bench(b)) why = "no block pool (ours only)";
  if (why[0] == '\0' && is_oldsnapshot_bench(b)) why = "ours only (the point index's old-snapshot path)";
  return why;
}

/* Every benchmark's median figures, each implementation on a line. */
static void print_results(void) {
  printf("\nResults (median of %u):\n", g_options.repetitions);
  for (unsigned b = 0; b < BENCH_COUNT; b++) {
    if (!selected(b)) continue;
    for (size_t i = 0; i < g_impl_count; i++) {
      figures f = figures_for(i, b);
      if (!f.present) {
        const char *why = why_not_measured(b, i);
        printf("%-18s : %-20s n/a%s%s\n", bench_names[b], g_impls[i].impl->label, why[0] ? " - " : "", why);
        continue;
      }
      printf("%-18s : %-20s %10.1f ns/op %12.0f ops/s %9.1f MB/s", bench_names[b], g_impls[i].impl->label,
             f.ns_per_op, f.ops_per_sec, f.mb_per_sec);
      if (b == BENCH_READWHILEWRITING) {
        printf("  (%u reader%s, %.0f%% found, writer %.0f ops/s)", g_options.threads,
               g_options.threads == 1 ? "" : "s", 100.0 * f.found_fraction, f.writer_ops_per_sec);
      } else if (b == BENCH_READMISSING_BLOOM && !is_ours(g_impls[i].impl)) {
        printf("  (no memtable filter: plain readmissing)");
      } else if (b == BENCH_READRANDOM_BATCH) {
        printf("  (batches of %u%s)", read_batch_size(), g_impls[i].impl->get_batch != NULL ? "" : ", got one by one");
      } else if (b == BENCH_FILLCONCURRENT) {
        printf("  (%u writer%s, ns/op per writer)", g_options.writers, g_options.writers == 1 ? "" : "s");
      } else if (b == BENCH_FILLBATCH) {
        printf("  (batches of %u, ops = entries)", g_options.batch_size);
      } else if (is_rotate_bench(b)) {
        const rotate_faults *faults = &g_rotate_faults[b == BENCH_ROTATE_POOL];
        printf("  (%u tables of %zu MiB, ops = entries; %.0f page faults/table)", g_options.rotations,
               g_options.write_buffer_size >> 20,
               faults->tables ? (double)faults->faults / (double)faults->tables : 0.0);
      }
      printf("\n");
    }
  }

}

/* Every table's memory after its fill. */
static void print_memory(void) {
  printf("\nMemory after the fill (payload %zu B/entry):\n", g_options.key_size + g_options.value_size);
  for (unsigned kind = 0; kind < TABLE_KINDS; kind++) {
    for (size_t i = 0; i < g_impl_count; i++) {
      memory_figures m = memory_for(i, kind);
      if (!m.present) continue;
      printf("%-18s : %-20s %10.1f MiB %8.1f B/entry %8.1f B/entry beyond payload", table_names[kind],
             g_impls[i].impl->label, m.bytes / 1048576.0, m.per_entry, m.beyond_payload);
      if (m.index_per_entry > 0) printf(" (point index %.1f B/entry)", m.index_per_entry);
      if (m.has_waste && m.bytes > 0) {
        printf("; wasted %.0f B (%.2f%%), last block's tail %.0f B", m.wasted, 100.0 * m.wasted / m.bytes, m.tail);
      }
      printf("\n");
    }
  }

}

/* The summary table's head. */
static void print_summary_head(void) {
  printf("\nSummary (median throughput; ratio = ours / peer, > 1 means ours is faster or smaller):\n");
  printf("%-24s %-12s", "benchmark", g_impls[0].impl->label);
  for (size_t i = 1; i < g_impl_count; i++) printf(" | %-18s %6s", g_impls[i].impl->label, "ratio");
  printf("\n");
  size_t width = 37 + (g_impl_count - 1) * 30;
  for (size_t c = 0; c < width; c++) putchar('-');
  printf("\n");
}

/* The summary's throughput rows: ours, then each peer with ours over it. */
static void print_summary_throughput_rows(void) {
  for (unsigned b = 0; b < BENCH_COUNT; b++) {
    if (!selected(b)) continue;
    figures ours = figures_for(0, b);
    char cell[32];
    format_throughput(cell, sizeof cell, &ours);
    printf("%-24s %-12s", bench_names[b], cell);
    for (size_t i = 1; i < g_impl_count; i++) {
      figures peer = figures_for(i, b);
      format_throughput(cell, sizeof cell, &peer);
      if (ours.present && peer.present && peer.ops_per_sec > 0) {
        printf(" | %-18s %5.2fx", cell, ours.ops_per_sec / peer.ops_per_sec);
      } else {
        printf(" | %-18s %6s", cell, "-");
      }
    }
    printf("\n");
  }
}

/* The summary's memory rows: bytes beyond the payload per entry, the peers' over ours. */
static void print_summary_memory_rows(void) {
  for (unsigned kind = 0; kind < TABLE_KINDS; kind++) {
    memory_figures ours = memory_for(0, kind);
    if (!ours.present) continue;
    bool any_peer = false;
    for (size_t i = 1; i < g_impl_count; i++) any_peer |= memory_for(i, kind).present;
    if (!any_peer && g_impl_count > 1) continue;
    char label[64];
    static const char *const short_names[TABLE_KINDS] = {"seq", "random", "+bloom", "+index"};
    snprintf(label, sizeof label, "B/entry>payload %s", short_names[kind]);
    char cell[32];
    snprintf(cell, sizeof cell, "%.1f B", ours.beyond_payload);
    printf("%-24s %-12s", label, cell);
    for (size_t i = 1; i < g_impl_count; i++) {
      memory_figures peer = memory_for(i, kind);
      if (!peer.present) {
        printf(" | %-18s %6s", "n/a", "-");
        continue;
      }
      snprintf(cell, sizeof cell, "%.1f B", peer.beyond_payload);
      if (ours.beyond_payload > 0) {
        printf(" | %-18s %5.2fx", cell, peer.beyond_payload / ours.beyond_payload);
      } else {
        printf(" | %-18s %6s", cell, "-");
      }
    }
    printf("\n");
  }
}

/* Ours against ours: the versions scans, the old-snapshot gets, the pool, the point index's size. */
static void print_ours_ratios(void) {
  figures linked = figures_for(0, BENCH_READSEQ_VERSIONS);
  figures stepping = figures_for(0, BENCH_READSEQ_VERSIONS_NOSKIP);
  figures searching = figures_for(0, BENCH_READSEQ_VERSIONS_SEARCH);
  if (linked.present && stepping.present && stepping.ops_per_sec > 0)
    printf("readseq_versions: %.2fx the same scan stepping through every version (readseq_versions_noskip).\n",
           linked.ops_per_sec / stepping.ops_per_sec);
  if (linked.present && searching.present && searching.ops_per_sec > 0)
    printf("readseq_versions: %.2fx the same scan without version links (readseq_versions_search).\n",
           linked.ops_per_sec / searching.ops_per_sec);
  figures hot_indexed = figures_for(0, BENCH_READHOT_OLDSNAPSHOT);
  figures hot_plain = figures_for(0, BENCH_READHOT_OLDSNAPSHOT_NOINDEX);
  if (hot_indexed.present && hot_plain.present && hot_plain.ns_per_op > 0)
    printf("readhot_oldsnapshot: %.2fx the time of the same get without the point index (readhot_oldsnapshot_noindex).\n",
           hot_indexed.ns_per_op / hot_plain.ns_per_op);
  if (rotate_pool_ratio() > 0)
    printf("rotate_pool: %.2fx rotate (the same rotations, every table's blocks from one block pool).\n",
           rotate_pool_ratio());
  memory_figures indexed = memory_for(0, TABLE_RANDOM_INDEX);
  if (indexed.present && indexed.index_per_entry > 0) {
    char cell[32];
    snprintf(cell, sizeof cell, "%.1f B", indexed.index_per_entry);
    printf("%-24s %-12s\n", "point index B/entry", cell);
  }
}

/* What each peer's figures mean where it has no such feature, and each peer's caveats. */
static void print_peer_notes(void) {
  bool peers_present = g_impl_count > 1;
  if (peers_present && (selected(BENCH_READSEQ_VERSIONS) || selected(BENCH_READSEQ_VERSIONS_NOSKIP) ||
                        selected(BENCH_READSEQ_VERSIONS_SEARCH)))
    printf("readseq_versions: ours only. RocksDB's memtable rep and LevelDB's MemTable have no user view (their "
           "DBIter builds it on top; RocksDB's reseeks after max_sequential_skip_in_iterations = 8 hidden "
           "entries).\n");
  if (peers_present && selected(BENCH_READMISSING_BLOOM))
    printf("readmissing_bloom: ours with a %u bits/key bloom filter; the peers have no memtable filter.\n",
           missing_bloom_bits());
  if (peers_present && selected(BENCH_READRANDOM_BATCH))
    printf("readrandom_batch: batches of %u; a peer without a batched memtable get (RocksDB's rep, LevelDB) "
           "runs its gets one by one%s.\n", read_batch_size(),
           selected(BENCH_READRANDOM) ? ": their readrandom figure" : "");
  if (peers_present && (selected(BENCH_ROTATE) || selected(BENCH_ROTATE_POOL)))
    printf("rotate, rotate_pool: ours only (the peers have no block pool).\n");
  if (peers_present && (selected(BENCH_READRANDOM_INDEX) || selected(BENCH_READMISSING_INDEX)))
    printf("readrandom_index, readmissing_index: ours with the point index (no bloom filter); the peers have no\n"
           "  such index: their figures are their plain readrandom / readmissing%s.\n",
           selected(BENCH_READRANDOM) || selected(BENCH_READMISSING) ? " (the same measurement where those ran)"
                                                                       : ", measured again");
  for (size_t i = 1; i < g_impl_count; i++) {
    if (g_impls[i].impl->caveat != NULL) printf("%s: %s.\n", g_impls[i].impl->label, g_impls[i].impl->caveat);
    if (selected(BENCH_FILLCONCURRENT) && g_impls[i].impl->concurrent_caveat != NULL)
      printf("%s fillconcurrent: %s.\n", g_impls[i].impl->label, g_impls[i].impl->concurrent_caveat);
    if (g_impls[i].skipped_reason[0]) printf("%s skipped: %s\n", g_impls[i].impl->label, g_impls[i].skipped_reason);
  }
}

/* What follows every run: the soak's figures, the arena pages our tables got, the wall time. */
static void print_closing_text(double wall_seconds) {
  print_versions_skip_text();
  print_soak_text();
  if (bench_memtable_pages_summary()[0] != '\0')
    printf("%s arena pages (--huge_pages=%s): %s.\n", g_impls[0].impl->label, huge_pages_names[g_options.huge_pages],
           bench_memtable_pages_summary());
  printf("wall time %.1f s\n", wall_seconds);
}

/* --verbose: every repetition's figure. */
static void print_every_repetition(void) {
  printf("\nEvery repetition:\n");
  for (unsigned b = 0; b < BENCH_COUNT; b++) {
    for (unsigned rep = 0; rep < g_options.repetitions; rep++) {
      for (size_t i = 0; i < g_impl_count; i++) {
        const sample *s = &g_samples[i][b][rep];
        if (!s->present || s->ops == 0) continue;
        printf("  %-18s rep %-2u %-20s %10.1f ns/op %12.0f ops/s\n", bench_names[b], rep + 1,
               g_impls[i].impl->label, s->seconds * NS_PER_SEC * s->threads / (double)s->ops,
               sample_ops_per_sec(s));
      }
    }
  }
}

void print_text_report(double wall_seconds) {
  if (g_options.verbose) print_every_repetition();

  bool any_benchmark = false; /* --duration alone runs only the soak */
  for (unsigned b = 0; b < BENCH_COUNT; b++) any_benchmark |= selected(b);
  if (any_benchmark) {
    print_results();
    print_memory();
    print_summary_head();
    print_summary_throughput_rows();
    print_summary_memory_rows();
    print_ours_ratios();
    print_peer_notes();
  }
  print_closing_text(wall_seconds);
}
