/* asan_report_demo: each mode makes one mistake a user's code could make with arena or memtable memory,
 * so that the ctest running it (tests/CMakeLists.txt, AddressSanitizer builds only) can show the report the
 * user's ASan build gives: the test passes when the output names the expected error and the frame of the
 * stale read (stale_read). A mode whose mistake goes unreported prints "NOT REPORTED" and exits 0, which no
 * test accepts.
 *
 *   arena-reset     a pointer kept across mt_arena_reset            use-after-poison
 *   arena-tail      a read one byte past the latest allocation      use-after-poison
 *   arena-undo      a pointer kept across mt_arena_undo_last        use-after-poison
 *   arena-chunk     concurrent mode: a pointer kept across reset    use-after-poison
 *   arena-destroy   a pointer kept across mt_arena_destroy          heap-use-after-free
 *   memtable-tail   a read past the value get returned (the table's newest entry)    use-after-poison
 *   memtable-unref  a value get returned, read after the last unref (a flushed table) heap-use-after-free
 *   memtable-pool   the same with the table's blocks on a block pool (idle there now)  use-after-poison
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include <memtable/arena.h>
#include <memtable/block_pool.h>
#include <memtable/memtable.h>

/* Kept out of line so the report's top frame names it. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static char stale_read(const char *p) {
  return *(const volatile char *)p;
}

static int not_reported(const char *mode) {
  printf("%s: NOT REPORTED\n", mode);
  return 0;
}

static char *must_allocate(mt_arena *arena, size_t bytes) {
  char *p = mt_arena_allocate_aligned(arena, bytes);
  if (p == NULL) {
    fprintf(stderr, "allocation failed\n");
    return NULL;
  }
  memset(p, 1, bytes);
  return p;
}

static int arena_mode(const char *mode) {
  mt_arena_options options;
  mt_arena_options_init(&options);
  options.concurrent = strcmp(mode, "arena-chunk") == 0;
  mt_arena *arena = mt_arena_create(&options);
  if (arena == NULL) return 2;
  char *p = must_allocate(arena, 20);
  if (p == NULL) return 2;
  if (strcmp(mode, "arena-reset") == 0 || strcmp(mode, "arena-chunk") == 0) {
    mt_arena_reset(arena);
    (void)stale_read(p);
  } else if (strcmp(mode, "arena-tail") == 0) {
    (void)stale_read(p + 20);
  } else if (strcmp(mode, "arena-undo") == 0) {
    char *q = must_allocate(arena, 20);
    if (q == NULL || mt_arena_undo_last(arena, q) != MT_OK) return 2;
    (void)stale_read(q);
  } else if (strcmp(mode, "arena-destroy") == 0) {
    mt_arena_destroy(arena);
    (void)stale_read(p);
    return not_reported(mode);
  } else {
    return 2;
  }
  mt_arena_destroy(arena);
  return not_reported(mode);
}

static int memtable_mode(const char *mode) {
  mt_block_pool *pool = NULL;
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  if (strcmp(mode, "memtable-pool") == 0) {
    pool = mt_block_pool_create(NULL);
    if (pool == NULL) return 2;
    options.arena.pool = pool;
    options.arena.block_size = 0; /* the pool's */
  }
  mt_memtable *table = mt_memtable_create(&options);
  if (table == NULL) return 2;
  if (mt_memtable_add(table, 1, MT_TYPE_VALUE, "key", 3, "value", 5) != MT_OK) return 2;
  mt_slice value;
  if (mt_memtable_get(table, "key", 3, 1, &value) != MT_OK || value.len != 5) return 2;
  if (strcmp(mode, "memtable-tail") == 0) {
    (void)stale_read(value.data + value.len);
  } else if (strcmp(mode, "memtable-unref") == 0 || strcmp(mode, "memtable-pool") == 0) {
    mt_memtable_unref(table);
    (void)stale_read(value.data);
    (void)mt_block_pool_destroy(pool);
    return not_reported(mode);
  } else {
    return 2;
  }
  mt_memtable_unref(table);
  return not_reported(mode);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: asan_report_demo <mode> (see the source for the modes)\n");
    return 2;
  }
  if (strncmp(argv[1], "arena-", 6) == 0) return arena_mode(argv[1]);
  if (strncmp(argv[1], "memtable-", 9) == 0) return memtable_mode(argv[1]);
  fprintf(stderr, "unknown mode %s\n", argv[1]);
  return 2;
}
