/* bench/report.h - what a run measured, for people (a text report with ratios) or for scripts (--json).
 *
 * Every figure is the median over the repetitions of the samples in results.h; ratios are ours over a peer.
 */
#ifndef MEMTABLE_BENCH_REPORT_H
#define MEMTABLE_BENCH_REPORT_H

/* The configuration, the machine and the implementations, printed before the run so a long run shows them. */
void print_text_header(void);
/* Every benchmark's figures, memory after each fill, the summary table of ratios, and each peer's caveat. */
void print_text_report(double wall_seconds);
/* One JSON document with the same figures and each repetition's samples. */
void print_json_report(double wall_seconds);

#endif
