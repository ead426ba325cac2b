/* tests/support/test_util.h - the cmocka side of the shared test support: run the whole group, or only the
 * test named by argv[1] (how ctest runs each test on its own). Include it before the other support headers
 * in a cmocka suite; a fuzz target includes those without it. */
#ifndef MEMTABLE_TEST_UTIL_H
#define MEMTABLE_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* The shared checks (support/check.h) fail a cmocka test rather than abort the process. */
#define MT_SUPPORT_CMOCKA 1

#define MT_RUN_TESTS(tests, argc, argv)                   \
  ((argc) > 1 ? cmocka_set_test_filter((argv)[1]) : (void)0, \
   cmocka_run_group_tests(tests, NULL, NULL))

#endif
