/* tests/support/check.h - the seeded check: on failure it names the condition, the seed that reproduces
 * the run and the operation it was in. In a cmocka suite (support/test_util.h included first) the failure
 * is cmocka's fail_msg; in a fuzz target it is a message on stderr and abort(), which libFuzzer records as
 * a crash. Header-only. */
#ifndef MEMTABLE_SUPPORT_CHECK_H
#define MEMTABLE_SUPPORT_CHECK_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef MT_SUPPORT_CMOCKA
#define MT_SUPPORT_FAIL_TEXT(text) fail_msg("%s", text)
#else
#define MT_SUPPORT_FAIL_TEXT(text) (fprintf(stderr, "%s\n", text), abort())
#endif

/* Ends the test (or the fuzz run) with a printf-style message. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 1, 2)))
#endif
static inline void mt_support_fail(const char *format, ...) {
  char text[1024];
  va_list args;
  va_start(args, format);
  vsnprintf(text, sizeof(text), format, args);
  va_end(args);
  MT_SUPPORT_FAIL_TEXT(text);
}

/* `operation` names what the run was doing (a string), and `step` in the _STEP form which one it was (an
 * index), so the failure and its seed lead straight back to the point of failure. */
#define MT_CHECK_SEEDED(condition, seed, operation)                                                      \
  do {                                                                                                   \
    if (!(condition)) {                                                                                  \
      mt_support_fail("%s:%d: %s failed (seed %" PRIu64 ", during %s)", __FILE__, __LINE__, #condition, \
                      (uint64_t)(seed), (operation));                                                    \
    }                                                                                                    \
  } while (0)

#define MT_CHECK_SEEDED_STEP(condition, seed, operation, step)                                                  \
  do {                                                                                                          \
    if (!(condition)) {                                                                                         \
      mt_support_fail("%s:%d: %s failed (seed %" PRIu64 ", during %s, step %" PRIu64 ")", __FILE__, __LINE__, \
                      #condition, (uint64_t)(seed), (operation), (uint64_t)(step));                             \
    }                                                                                                           \
  } while (0)

#endif
