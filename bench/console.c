/* bench/console.c - progress and fatal errors on stderr (console.h).
 *
 * Every measurement begins and ends here, so under callgrind (bench/count-misses.sh) each one's costs are
 * dumped as a profile of their own, named by its label; outside valgrind the requests cost a few instructions
 * per measurement. */
#define _POSIX_C_SOURCE 200809L

#include "console.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define BENCH_PROFILE_BOUNDARY(label) CALLGRIND_DUMP_STATS_AT(label)
#endif
#endif
#ifndef BENCH_PROFILE_BOUNDARY
#define BENCH_PROFILE_BOUNDARY(label) ((void)(label))
#endif

#include "clock.h"
#include "options.h"

_Noreturn void fatal(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs("memtable-bench: ", stderr);
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
  va_end(args);
  exit(1);
}

/* One line per measurement when it ends, with its time; on a terminal also a live percentage while a
 * measurement past one second runs. */
static struct {
  bool tty;
  char label[128];
  uint64_t total;
  uint64_t start_ns;
  uint64_t last_print_ns;
  bool printed;
} g_progress;

void progress_init(void) { g_progress.tty = isatty(STDERR_FILENO) != 0; }

void progress_begin(const char *what, unsigned rep, uint64_t total) {
  snprintf(g_progress.label, sizeof g_progress.label, "[%u/%u] %s", rep + 1, g_options.repetitions, what);
  g_progress.total = total;
  g_progress.start_ns = now_ns();
  g_progress.last_print_ns = g_progress.start_ns;
  g_progress.printed = false;
  BENCH_PROFILE_BOUNDARY("between measurements");
}

void progress_update(uint64_t done) {
  if (!g_progress.tty) return;
  uint64_t now = now_ns();
  if (now - g_progress.start_ns < UINT64_C(1000000000) || now - g_progress.last_print_ns < UINT64_C(100000000))
    return;
  g_progress.last_print_ns = now;
  g_progress.printed = true;
  double percent = g_progress.total ? 100.0 * (double)done / (double)g_progress.total : 0.0;
  fprintf(stderr, "\r%-60s %3.0f%%", g_progress.label, percent);
  fflush(stderr);
}

void progress_end(void) {
  uint64_t elapsed = now_ns() - g_progress.start_ns;
  BENCH_PROFILE_BOUNDARY(g_progress.label);
  if (g_progress.printed) fprintf(stderr, "\r%-66s\r", "");
  fprintf(stderr, "memtable-bench: %-48s %6.1f s\n", g_progress.label, (double)elapsed / NS_PER_SEC);
  fflush(stderr);
}
