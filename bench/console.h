/* bench/console.h - what memtable-bench writes to stderr while it runs: progress, and the error that ends it.
 *
 * Called from the main thread only (readwhilewriting's reader threads report through their own fields).
 */
#ifndef MEMTABLE_BENCH_CONSOLE_H
#define MEMTABLE_BENCH_CONSOLE_H

#include <stdint.h>

/* Prints "memtable-bench: <message>" and exits with status 1. */
_Noreturn void fatal(const char *format, ...);

/* Once, before any measurement: whether stderr is a terminal (live percentages) or a log. */
void progress_init(void);
/* A measurement of total operations starts; rep is the repetition, shown as [rep+1/repetitions]. */
void progress_begin(const char *what, unsigned rep, uint64_t total);
/* done of total operations are complete: on a terminal, redraws the percentage at most every tenth of a second. */
void progress_update(uint64_t done);
/* The measurement ended: one line with its label and time. */
void progress_end(void);

#endif
