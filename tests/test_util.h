/* Shared by the cmocka suites: run the whole group, or only the test named by argv[1] (how ctest runs
 * each test on its own). */
#ifndef MEMTABLE_TEST_UTIL_H
#define MEMTABLE_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define MT_RUN_TESTS(tests, argc, argv)                   \
  ((argc) > 1 ? cmocka_set_test_filter((argv)[1]) : (void)0, \
   cmocka_run_group_tests(tests, NULL, NULL))

#endif
