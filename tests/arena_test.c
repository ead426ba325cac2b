#include "test_util.h"
#include <memtable/arena.h>

static void arena_test_empty(void **state) {
  (void)state;
  mt_arena *arena = mt_arena_create(NULL);
  assert_non_null(arena);
  assert_int_equal(mt_arena_memory_usage(arena), 0);
  mt_arena_destroy(arena);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(arena_test_empty),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
