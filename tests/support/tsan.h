/* tests/support/tsan.h - MT_TEST_UNDER_TSAN when the suite is built with ThreadSanitizer (gcc or clang), so a
 * suite can scale its work down, and MT_TEST_TSAN_LONG_HISTORY() for the suites that need a longer history. */
#ifndef MEMTABLE_TEST_SUPPORT_TSAN_H
#define MEMTABLE_TEST_SUPPORT_TSAN_H

#if defined(__SANITIZE_THREAD__)
#define MT_TEST_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MT_TEST_UNDER_TSAN 1
#endif
#endif

#ifdef MT_TEST_UNDER_TSAN
/* Defines the options the ThreadSanitizer runtime reads at start-up (once per executable). A longer per-thread
 * history lets it restore the stack of a racing access made a while back; without it the report of such a
 * race is dropped, and a test that should catch it would only some of the time. */
#define MT_TEST_TSAN_LONG_HISTORY()                 \
  const char *__tsan_default_options(void);         \
  const char *__tsan_default_options(void) { return "history_size=7"; }
#else
#define MT_TEST_TSAN_LONG_HISTORY()
#endif

#endif
