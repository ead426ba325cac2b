/* tests/support/asan.h - MT_TEST_UNDER_ASAN when the suite is built with AddressSanitizer (gcc or clang), and
 * the poisoning checks the arena suites make: test_is_poisoned (always false without ASan) and
 * MT_TEST_REQUIRE_ASAN(), which ends a test as skipped (cmocka's skip()) in a build without ASan, so a suite
 * runs its checks of behaviour everywhere and those of the shadow memory only where it exists. Include
 * support/test_util.h first. */
#ifndef MEMTABLE_TEST_SUPPORT_ASAN_H
#define MEMTABLE_TEST_SUPPORT_ASAN_H

#include <stdbool.h>
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define MT_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MT_TEST_UNDER_ASAN 1
#endif
#endif

#ifdef MT_TEST_UNDER_ASAN
#include <sanitizer/asan_interface.h>

static inline bool test_is_poisoned(const void *p) { return __asan_address_is_poisoned(p) != 0; }
#define MT_TEST_REQUIRE_ASAN() ((void)0)
#else
static inline bool test_is_poisoned(const void *p) {
  (void)p;
  return false;
}
#define MT_TEST_REQUIRE_ASAN() skip()
#endif

/* Index of the first poisoned byte of [p, p + n), or n when there is none. */
static inline size_t test_first_poisoned(const void *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (test_is_poisoned((const char *)p + i)) return i;
  }
  return n;
}

/* Index of the first addressable byte of [p, p + n), or n when every byte is poisoned. */
static inline size_t test_first_addressable(const void *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (!test_is_poisoned((const char *)p + i)) return i;
  }
  return n;
}

#endif
