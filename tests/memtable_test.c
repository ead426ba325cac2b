/* memtable_test: LevelDB MemTable semantics, the entry encoding, the user view, bloom filter, checksums,
 * failure paths, reference counting and concurrent readers. */
#include "test_util.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/memtable.h>

static uint64_t next_random(uint64_t *state) {
  uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static size_t random_below(uint64_t *state, size_t bound) { return (size_t)(next_random(state) % bound); }

static mt_memtable *new_table(const mt_memtable_options *options) {
  mt_memtable *table = mt_memtable_create(options);
  assert_non_null(table);
  return table;
}

static void put(mt_memtable *table, uint64_t seq, const char *key, const char *value) {
  assert_int_equal(mt_memtable_add(table, seq, MT_TYPE_VALUE, key, strlen(key), value, strlen(value)), MT_OK);
}

static void del(mt_memtable *table, uint64_t seq, const char *key) {
  assert_int_equal(mt_memtable_add(table, seq, MT_TYPE_DELETION, key, strlen(key), NULL, 0), MT_OK);
}

static void assert_slice(mt_slice slice, const void *data, size_t len) {
  assert_int_equal(slice.len, len);
  if (len != 0) assert_memory_equal(slice.data, data, len);
}

static void assert_slice_str(mt_slice slice, const char *text) { assert_slice(slice, text, strlen(text)); }

static void assert_get(const mt_memtable *table, const char *key, uint64_t snapshot, mt_status expected,
                       const char *expected_value) {
  mt_slice value = {NULL, 0};
  mt_status status = mt_memtable_get(table, key, strlen(key), snapshot, &value);
  if (status != expected) {
    print_error("get(%s, %" PRIu64 ") = %s, expected %s\n", key, snapshot, mt_status_str(status),
                mt_status_str(expected));
  }
  assert_int_equal(status, expected);
  if (expected == MT_OK) assert_slice_str(value, expected_value);
}

static void assert_iter_at(const mt_memtable_iter *iter, const char *key, uint64_t seq, mt_entry_type type,
                           const char *value) {
  assert_true(mt_memtable_iter_valid(iter));
  assert_slice_str(mt_memtable_iter_user_key(iter), key);
  assert_int_equal(mt_memtable_iter_seq(iter), seq);
  assert_int_equal(mt_memtable_iter_type(iter), type);
  assert_slice_str(mt_memtable_iter_value(iter), value);
}

static void assert_user_iter_at(const mt_memtable_user_iter *iter, const char *key, const char *value) {
  assert_true(mt_memtable_user_iter_valid(iter));
  assert_slice_str(mt_memtable_user_iter_key(iter), key);
  assert_slice_str(mt_memtable_user_iter_value(iter), value);
}

/* Counts malloc-backed allocations and can fail the fail_at-th call (1-based; 0: never), or every call
 * from the fail_from-th on. */
typedef struct counting_allocator {
  size_t calls;
  size_t fail_at;
  size_t failures;
  size_t outstanding;
  size_t fail_from;
} counting_allocator;

static void *counting_alloc(void *ctx, size_t size) {
  counting_allocator *allocator = ctx;
  allocator->calls++;
  if (allocator->calls == allocator->fail_at ||
      (allocator->fail_from != 0 && allocator->calls >= allocator->fail_from)) {
    allocator->failures++;
    return NULL;
  }
  void *memory = malloc(size);
  if (memory != NULL) allocator->outstanding++;
  return memory;
}

static void counting_free(void *ctx, void *ptr, size_t size) {
  (void)size;
  counting_allocator *allocator = ctx;
  allocator->outstanding--;
  free(ptr);
}

/* Both the arena's hooks (the writer's) and the reader allocator (iterators, long lookup keys). */
static void use_counting_allocator(mt_memtable_options *options, counting_allocator *allocator) {
  options->arena.allocator.alloc = counting_alloc;
  options->arena.allocator.free = counting_free;
  options->arena.allocator.ctx = allocator;
  options->reader_allocator = options->arena.allocator;
}

static void memtable_test_empty(void **state) {
  (void)state;
  mt_memtable *table = new_table(NULL);
  assert_get(table, "a", MT_MAX_SEQUENCE, MT_NOT_FOUND, NULL);
  assert_get(table, "", UINT64_MAX, MT_NOT_FOUND, NULL);
  assert_int_equal(mt_memtable_entry_count(table), 0);
  assert_int_equal(mt_memtable_deletion_count(table), 0);
  assert_false(mt_memtable_should_flush(table));
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  assert_non_null(iter);
  assert_false(mt_memtable_iter_valid(iter));
  mt_memtable_iter_seek_to_first(iter);
  assert_false(mt_memtable_iter_valid(iter));
  mt_memtable_iter_seek_to_last(iter);
  assert_false(mt_memtable_iter_valid(iter));
  mt_memtable_iter_seek(iter, "a", 1, 5);
  assert_false(mt_memtable_iter_valid(iter));
  assert_int_equal(mt_memtable_iter_status(iter), MT_OK);
  mt_memtable_iter_destroy(iter);
  mt_memtable_user_iter *user = mt_memtable_user_iter_create(table, UINT64_MAX);
  assert_non_null(user);
  mt_memtable_user_iter_seek_to_first(user);
  assert_false(mt_memtable_user_iter_valid(user));
  mt_memtable_user_iter_seek_for_prev(user, "z", 1);
  assert_false(mt_memtable_user_iter_valid(user));
  mt_memtable_user_iter_destroy(user);
  mt_memtable_unref(table);
}

static void memtable_test_overwrite_delete_reput_at_snapshots(void **state) {
  (void)state;
  mt_memtable *table = new_table(NULL);
  put(table, 1, "k", "v1");
  put(table, 2, "k", "v2");
  del(table, 3, "k");
  put(table, 4, "k", "v4");
  put(table, 2, "j", "j2");
  put(table, 5, "l", "l5");
  assert_get(table, "k", 0, MT_NOT_FOUND, NULL);
  assert_get(table, "k", 1, MT_OK, "v1");
  assert_get(table, "k", 2, MT_OK, "v2");
  assert_get(table, "k", 3, MT_DELETED, NULL);
  assert_get(table, "k", 4, MT_OK, "v4");
  assert_get(table, "k", 100, MT_OK, "v4");
  assert_get(table, "k", MT_MAX_SEQUENCE, MT_OK, "v4");
  assert_get(table, "k", UINT64_MAX, MT_OK, "v4");
  assert_get(table, "j", 1, MT_NOT_FOUND, NULL);
  assert_get(table, "j", 2, MT_OK, "j2");
  assert_get(table, "l", 4, MT_NOT_FOUND, NULL);
  assert_get(table, "l", 5, MT_OK, "l5");
  assert_get(table, "kk", UINT64_MAX, MT_NOT_FOUND, NULL);
  assert_get(table, "", UINT64_MAX, MT_NOT_FOUND, NULL);
  /* A deletion shadows older values; a value added after it is visible again. */
  del(table, 6, "l");
  assert_get(table, "l", 6, MT_DELETED, NULL);
  assert_get(table, "l", 5, MT_OK, "l5");
  put(table, 7, "l", "l7");
  assert_get(table, "l", UINT64_MAX, MT_OK, "l7");
  assert_int_equal(mt_memtable_entry_count(table), 8);
  assert_int_equal(mt_memtable_deletion_count(table), 2);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  /* value may be NULL. */
  assert_int_equal(mt_memtable_get(table, "k", 1, UINT64_MAX, NULL), MT_OK);
  mt_memtable_unref(table);
}

static void memtable_test_iteration_order_many_versions(void **state) {
  (void)state;
  mt_memtable *table = new_table(NULL);
  /* 50 versions of "b" in scrambled order, with one neighbour on each side. */
  uint64_t seqs[50];
  for (int i = 0; i < 50; i++) seqs[i] = (uint64_t)i * 3 + 1;
  uint64_t rng = 7;
  for (int i = 49; i > 0; i--) {
    size_t j = random_below(&rng, (size_t)i + 1);
    uint64_t swap = seqs[i];
    seqs[i] = seqs[j];
    seqs[j] = swap;
  }
  char value[32];
  for (int i = 0; i < 50; i++) {
    snprintf(value, sizeof(value), "b@%" PRIu64, seqs[i]);
    if (seqs[i] % 4 == 0) {
      del(table, seqs[i], "b");
    } else {
      put(table, seqs[i], "b", value);
    }
  }
  put(table, 1000, "a", "a");
  put(table, 1, "c", "c");
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  assert_non_null(iter);
  mt_memtable_iter_seek_to_first(iter);
  assert_iter_at(iter, "a", 1000, MT_TYPE_VALUE, "a");
  for (int i = 49; i >= 0; i--) {
    mt_memtable_iter_next(iter);
    uint64_t seq = (uint64_t)i * 3 + 1;
    snprintf(value, sizeof(value), "b@%" PRIu64, seq);
    if (seq % 4 == 0) {
      assert_iter_at(iter, "b", seq, MT_TYPE_DELETION, "");
    } else {
      assert_iter_at(iter, "b", seq, MT_TYPE_VALUE, value);
    }
  }
  mt_memtable_iter_next(iter);
  assert_iter_at(iter, "c", 1, MT_TYPE_VALUE, "c");
  mt_memtable_iter_next(iter);
  assert_false(mt_memtable_iter_valid(iter));
  /* And backwards. */
  mt_memtable_iter_seek_to_last(iter);
  assert_iter_at(iter, "c", 1, MT_TYPE_VALUE, "c");
  for (int i = 0; i < 50; i++) {
    mt_memtable_iter_prev(iter);
    assert_true(mt_memtable_iter_valid(iter));
    assert_int_equal(mt_memtable_iter_seq(iter), (uint64_t)i * 3 + 1);
  }
  mt_memtable_iter_prev(iter);
  assert_iter_at(iter, "a", 1000, MT_TYPE_VALUE, "a");
  mt_memtable_iter_prev(iter);
  assert_false(mt_memtable_iter_valid(iter));
  assert_int_equal(mt_memtable_iter_status(iter), MT_OK);
  /* Reads at each snapshot see the newest version at or below it. */
  for (uint64_t snapshot = 0; snapshot < 160; snapshot++) {
    uint64_t newest = snapshot == 0 ? 0 : ((snapshot - 1) / 3) * 3 + 1;
    if (newest > 148) newest = 148;
    if (snapshot == 0) {
      assert_get(table, "b", snapshot, MT_NOT_FOUND, NULL);
    } else if (newest % 4 == 0) {
      assert_get(table, "b", snapshot, MT_DELETED, NULL);
    } else {
      snprintf(value, sizeof(value), "b@%" PRIu64, newest);
      assert_get(table, "b", snapshot, MT_OK, value);
    }
  }
  mt_memtable_iter_destroy(iter);
  mt_memtable_unref(table);
}

static void memtable_test_seek_and_seek_for_prev(void **state) {
  (void)state;
  mt_memtable *table = new_table(NULL);
  put(table, 5, "k", "k5");
  del(table, 3, "k");
  put(table, 1, "k", "k1");
  put(table, 4, "m", "m4");
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  assert_non_null(iter);
  /* seek: the newest version visible at the snapshot, else the next entry. */
  mt_memtable_iter_seek(iter, "k", 1, 4);
  assert_iter_at(iter, "k", 3, MT_TYPE_DELETION, "");
  mt_memtable_iter_seek(iter, "k", 1, 10);
  assert_iter_at(iter, "k", 5, MT_TYPE_VALUE, "k5");
  mt_memtable_iter_seek(iter, "k", 1, 5);
  assert_iter_at(iter, "k", 5, MT_TYPE_VALUE, "k5");
  mt_memtable_iter_seek(iter, "k", 1, 2);
  assert_iter_at(iter, "k", 1, MT_TYPE_VALUE, "k1");
  mt_memtable_iter_seek(iter, "k", 1, 0);
  assert_iter_at(iter, "m", 4, MT_TYPE_VALUE, "m4");
  mt_memtable_iter_seek(iter, "j", 1, 0);
  assert_iter_at(iter, "k", 5, MT_TYPE_VALUE, "k5");
  mt_memtable_iter_seek(iter, "z", 1, UINT64_MAX);
  assert_false(mt_memtable_iter_valid(iter));
  /* seek_for_prev: the last entry at or before (key, snapshot). */
  mt_memtable_iter_seek_for_prev(iter, "k", 1, 4);
  assert_iter_at(iter, "k", 5, MT_TYPE_VALUE, "k5");
  mt_memtable_iter_seek_for_prev(iter, "k", 1, 3);
  assert_iter_at(iter, "k", 3, MT_TYPE_DELETION, "");
  mt_memtable_iter_seek_for_prev(iter, "k", 1, 0);
  assert_iter_at(iter, "k", 1, MT_TYPE_VALUE, "k1");
  mt_memtable_iter_seek_for_prev(iter, "k", 1, 6);
  assert_false(mt_memtable_iter_valid(iter));
  mt_memtable_iter_seek_for_prev(iter, "l", 1, UINT64_MAX);
  assert_iter_at(iter, "k", 1, MT_TYPE_VALUE, "k1");
  mt_memtable_iter_seek_for_prev(iter, "m", 1, 0);
  assert_iter_at(iter, "m", 4, MT_TYPE_VALUE, "m4");
  mt_memtable_iter_seek_for_prev(iter, "z", 1, 0);
  assert_iter_at(iter, "m", 4, MT_TYPE_VALUE, "m4");
  mt_memtable_iter_seek_for_prev(iter, "a", 1, 0);
  assert_false(mt_memtable_iter_valid(iter));
  /* Moving after a seek. */
  mt_memtable_iter_seek(iter, "k", 1, 4);
  mt_memtable_iter_prev(iter);
  assert_iter_at(iter, "k", 5, MT_TYPE_VALUE, "k5");
  mt_memtable_iter_next(iter);
  mt_memtable_iter_next(iter);
  assert_iter_at(iter, "k", 1, MT_TYPE_VALUE, "k1");
  mt_memtable_iter_destroy(iter);
  mt_memtable_unref(table);
}

static void assert_user_view(mt_memtable *table, uint64_t snapshot, const char *const *expected, size_t count) {
  mt_memtable_user_iter *iter = mt_memtable_user_iter_create(table, snapshot);
  assert_non_null(iter);
  mt_memtable_user_iter_seek_to_first(iter);
  for (size_t i = 0; i < count; i++) {
    assert_user_iter_at(iter, expected[2 * i], expected[2 * i + 1]);
    mt_memtable_user_iter_next(iter);
  }
  assert_false(mt_memtable_user_iter_valid(iter));
  mt_memtable_user_iter_seek_to_last(iter);
  for (size_t i = count; i-- > 0;) {
    assert_user_iter_at(iter, expected[2 * i], expected[2 * i + 1]);
    mt_memtable_user_iter_prev(iter);
  }
  assert_false(mt_memtable_user_iter_valid(iter));
  assert_int_equal(mt_memtable_user_iter_status(iter), MT_OK);
  mt_memtable_user_iter_destroy(iter);
}

static void memtable_test_user_iterator_snapshot_view(void **state) {
  (void)state;
  mt_memtable *table = new_table(NULL);
  put(table, 1, "a", "a1");
  put(table, 2, "b", "b2");
  del(table, 3, "a");
  put(table, 4, "c", "c4");
  put(table, 5, "a", "a5");
  del(table, 6, "c");
  put(table, 7, "b", "b7");
  del(table, 8, "d");
  put(table, 9, "e", "e9");
  del(table, 10, "e");

  assert_user_view(table, 0, NULL, 0);
  const char *const at1[] = {"a", "a1"};
  assert_user_view(table, 1, at1, 1);
  const char *const at3[] = {"b", "b2"};
  assert_user_view(table, 3, at3, 1);
  const char *const at5[] = {"a", "a5", "b", "b2", "c", "c4"};
  assert_user_view(table, 5, at5, 3);
  const char *const at9[] = {"a", "a5", "b", "b7", "e", "e9"};
  assert_user_view(table, 9, at9, 3);
  const char *const latest[] = {"a", "a5", "b", "b7"};
  assert_user_view(table, UINT64_MAX, latest, 2);

  mt_memtable_user_iter *iter = mt_memtable_user_iter_create(table, 5);
  assert_non_null(iter);
  mt_memtable_user_iter_seek(iter, "b", 1);
  assert_user_iter_at(iter, "b", "b2");
  assert_int_equal(mt_memtable_user_iter_seq(iter), 2);
  mt_memtable_user_iter_seek(iter, "bb", 2);
  assert_user_iter_at(iter, "c", "c4");
  mt_memtable_user_iter_seek(iter, "", 0);
  assert_user_iter_at(iter, "a", "a5");
  mt_memtable_user_iter_seek(iter, "d", 1);
  assert_false(mt_memtable_user_iter_valid(iter));
  mt_memtable_user_iter_seek_for_prev(iter, "d", 1);
  assert_user_iter_at(iter, "c", "c4");
  mt_memtable_user_iter_seek_for_prev(iter, "b", 1);
  assert_user_iter_at(iter, "b", "b2");
  mt_memtable_user_iter_seek_for_prev(iter, "a", 1);
  assert_user_iter_at(iter, "a", "a5");
  mt_memtable_user_iter_seek_for_prev(iter, "", 0);
  assert_false(mt_memtable_user_iter_valid(iter));
  /* Direction changes in the middle of the view. */
  mt_memtable_user_iter_seek(iter, "b", 1);
  mt_memtable_user_iter_prev(iter);
  assert_user_iter_at(iter, "a", "a5");
  mt_memtable_user_iter_next(iter);
  assert_user_iter_at(iter, "b", "b2");
  mt_memtable_user_iter_next(iter);
  assert_user_iter_at(iter, "c", "c4");
  mt_memtable_user_iter_prev(iter);
  assert_user_iter_at(iter, "b", "b2");
  mt_memtable_user_iter_destroy(iter);
  mt_memtable_unref(table);
}

typedef struct compare_context {
  uint32_t magic;
  _Atomic size_t calls;
  bool wrong_context_seen;
} compare_context;

#define COMPARE_CONTEXT_MAGIC 0x5eedc0deu

static int bytewise(const char *a, size_t a_len, const char *b, size_t b_len) {
  size_t common = a_len < b_len ? a_len : b_len;
  int order = common == 0 ? 0 : memcmp(a, b, common);
  if (order != 0) return order;
  return (a_len > b_len) - (a_len < b_len);
}

static int reverse_compare(void *ctx, const char *a, size_t a_len, const char *b, size_t b_len) {
  compare_context *context = ctx;
  if (context->magic != COMPARE_CONTEXT_MAGIC) context->wrong_context_seen = true;
  /* Relaxed: a call counter; the test reads it after the calls. */
  atomic_fetch_add_explicit(&context->calls, 1, memory_order_relaxed);
  return bytewise(b, b_len, a, a_len);
}

static void memtable_test_custom_comparator_reverse_with_context(void **state) {
  (void)state;
  compare_context context = {COMPARE_CONTEXT_MAGIC, 0, false};
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.compare = reverse_compare;
  options.compare_ctx = &context;
  mt_memtable *table = new_table(&options);
  put(table, 1, "apple", "1");
  put(table, 2, "cherry", "2");
  put(table, 3, "banana", "3");
  put(table, 4, "apple", "4");
  del(table, 5, "cherry");
  assert_int_equal(mt_memtable_add(table, 4, MT_TYPE_VALUE, "apple", 5, "x", 1), MT_EXISTS);
  assert_get(table, "apple", 3, MT_OK, "1");
  assert_get(table, "apple", 4, MT_OK, "4");
  assert_get(table, "cherry", 5, MT_DELETED, NULL);
  assert_get(table, "cherry", 4, MT_OK, "2");
  assert_get(table, "durian", 9, MT_NOT_FOUND, NULL);
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  assert_non_null(iter);
  mt_memtable_iter_seek_to_first(iter);
  assert_iter_at(iter, "cherry", 5, MT_TYPE_DELETION, "");
  mt_memtable_iter_next(iter);
  assert_iter_at(iter, "cherry", 2, MT_TYPE_VALUE, "2");
  mt_memtable_iter_next(iter);
  assert_iter_at(iter, "banana", 3, MT_TYPE_VALUE, "3");
  mt_memtable_iter_next(iter);
  assert_iter_at(iter, "apple", 4, MT_TYPE_VALUE, "4");
  mt_memtable_iter_next(iter);
  assert_iter_at(iter, "apple", 1, MT_TYPE_VALUE, "1");
  mt_memtable_iter_next(iter);
  assert_false(mt_memtable_iter_valid(iter));
  mt_memtable_iter_seek(iter, "bz", 2, UINT64_MAX);
  assert_iter_at(iter, "banana", 3, MT_TYPE_VALUE, "3");
  mt_memtable_iter_destroy(iter);
  const char *const view[] = {"banana", "3", "apple", "4"};
  assert_user_view(table, UINT64_MAX, view, 2);
  const char *const view4[] = {"cherry", "2", "banana", "3", "apple", "4"};
  assert_user_view(table, 4, view4, 3);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
  assert_false(context.wrong_context_seen);
  assert_true(atomic_load_explicit(&context.calls, memory_order_relaxed) > 0);
}

static void memtable_test_empty_keys_and_values(void **state) {
  (void)state;
  mt_memtable *table = new_table(NULL);
  assert_int_equal(mt_memtable_add(table, 1, MT_TYPE_VALUE, NULL, 0, NULL, 0), MT_OK);
  assert_int_equal(mt_memtable_add(table, 2, MT_TYPE_VALUE, "", 0, "v", 1), MT_OK);
  assert_int_equal(mt_memtable_add(table, 3, MT_TYPE_VALUE, "a", 1, "", 0), MT_OK);
  mt_slice value;
  assert_int_equal(mt_memtable_get(table, NULL, 0, 1, &value), MT_OK);
  assert_int_equal(value.len, 0);
  assert_int_equal(mt_memtable_get(table, "", 0, 2, &value), MT_OK);
  assert_slice_str(value, "v");
  assert_int_equal(mt_memtable_get(table, "a", 1, 3, &value), MT_OK);
  assert_int_equal(value.len, 0);
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  assert_non_null(iter);
  mt_memtable_iter_seek_to_first(iter);
  assert_iter_at(iter, "", 2, MT_TYPE_VALUE, "v");
  mt_memtable_iter_next(iter);
  assert_iter_at(iter, "", 1, MT_TYPE_VALUE, "");
  mt_memtable_iter_next(iter);
  assert_iter_at(iter, "a", 3, MT_TYPE_VALUE, "");
  mt_memtable_iter_seek(iter, NULL, 0, 1);
  assert_iter_at(iter, "", 1, MT_TYPE_VALUE, "");
  mt_memtable_iter_destroy(iter);
  const char *const view[] = {"", "v", "a", ""};
  assert_user_view(table, UINT64_MAX, view, 2);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
}

static void memtable_test_large_values_beyond_block_size(void **state) {
  (void)state;
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.arena.block_size = 4096;
  options.checksum_bytes = 8;
  mt_memtable *table = new_table(&options);
  const size_t sizes[] = {1000, 4096, 100000, 1 << 20};
  char key[16];
  for (size_t i = 0; i < 4; i++) {
    char *value = malloc(sizes[i]);
    assert_non_null(value);
    for (size_t j = 0; j < sizes[i]; j++) value[j] = (char)(j * 31 + i);
    snprintf(key, sizeof(key), "big%zu", i);
    assert_int_equal(mt_memtable_add(table, i + 1, MT_TYPE_VALUE, key, strlen(key), value, sizes[i]), MT_OK);
    put(table, 100 + i, "small", "s");
    free(value);
  }
  for (size_t i = 0; i < 4; i++) {
    snprintf(key, sizeof(key), "big%zu", i);
    mt_slice value;
    assert_int_equal(mt_memtable_get(table, key, strlen(key), UINT64_MAX, &value), MT_OK);
    assert_int_equal(value.len, sizes[i]);
    for (size_t j = 0; j < sizes[i]; j++) assert_int_equal((unsigned char)value.data[j], (unsigned char)(j * 31 + i));
  }
  assert_true(mt_memtable_approximate_memory_usage(table) > (1 << 20) + 100000);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
}

typedef struct encoding_case {
  size_t key_len;
  unsigned char key_prefix[5];
  size_t key_prefix_len;
  uint64_t seq;
  mt_entry_type type;
  unsigned char tag[8];
  size_t value_len;
  unsigned char value_prefix[5];
  size_t value_prefix_len;
} encoding_case;

static void fill_pattern(char *dst, size_t len, unsigned salt) {
  for (size_t i = 0; i < len; i++) dst[i] = (char)('a' + (i * 7 + salt) % 26);
}

static void memtable_test_entry_bytes_match_leveldb(void **state) {
  (void)state;
  /* Hand-built: varint32(key_len + 8), the key, fixed64le(seq << 8 | type), varint32(value_len), value. */
  static const encoding_case cases[] = {
      {0, {0x08}, 1, 0, MT_TYPE_DELETION, {0, 0, 0, 0, 0, 0, 0, 0}, 0, {0x00}, 1},
      {1, {0x09}, 1, 1, MT_TYPE_VALUE, {0x01, 0x01, 0, 0, 0, 0, 0, 0}, 1, {0x01}, 1},
      {3, {0x0b}, 1, 0x0102030405, MT_TYPE_VALUE, {0x01, 0x05, 0x04, 0x03, 0x02, 0x01, 0, 0}, 127, {0x7f}, 1},
      {119, {0x7f}, 1, 2, MT_TYPE_DELETION, {0x00, 0x02, 0, 0, 0, 0, 0, 0}, 128, {0x80, 0x01}, 2},
      {120,
       {0x80, 0x01},
       2,
       MT_MAX_SEQUENCE,
       MT_TYPE_VALUE,
       {0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
       16383,
       {0xff, 0x7f},
       2},
      {16375, {0xff, 0x7f}, 2, 300, MT_TYPE_VALUE, {0x01, 0x2c, 0x01, 0, 0, 0, 0, 0}, 16384, {0x80, 0x80, 0x01}, 3},
      {16376, {0x80, 0x80, 0x01}, 3, 4, MT_TYPE_VALUE, {0x01, 0x04, 0, 0, 0, 0, 0, 0}, 2097151, {0xff, 0xff, 0x7f}, 3},
      {2097143,
       {0xff, 0xff, 0x7f},
       3,
       5,
       MT_TYPE_VALUE,
       {0x01, 0x05, 0, 0, 0, 0, 0, 0},
       2097152,
       {0x80, 0x80, 0x80, 0x01},
       4},
      {2097144, {0x80, 0x80, 0x80, 0x01}, 4, 6, MT_TYPE_DELETION, {0x00, 0x06, 0, 0, 0, 0, 0, 0}, 5, {0x05}, 1},
  };
  const size_t case_count = sizeof(cases) / sizeof(cases[0]);
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.checksum_bytes = 4;
  mt_memtable *table = new_table(&options);
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  assert_non_null(iter);
  for (size_t c = 0; c < case_count; c++) {
    const encoding_case *tc = &cases[c];
    char *key = malloc(tc->key_len + 1);
    char *value = malloc(tc->value_len + 1);
    assert_non_null(key);
    assert_non_null(value);
    fill_pattern(key, tc->key_len, (unsigned)c);
    fill_pattern(value, tc->value_len, (unsigned)c + 13);
    size_t expected_len = tc->key_prefix_len + tc->key_len + 8 + tc->value_prefix_len + tc->value_len;
    char *expected = malloc(expected_len);
    assert_non_null(expected);
    char *p = expected;
    memcpy(p, tc->key_prefix, tc->key_prefix_len);
    p += tc->key_prefix_len;
    memcpy(p, key, tc->key_len);
    p += tc->key_len;
    memcpy(p, tc->tag, 8);
    p += 8;
    memcpy(p, tc->value_prefix, tc->value_prefix_len);
    p += tc->value_prefix_len;
    memcpy(p, value, tc->value_len);

    assert_int_equal(mt_entry_encoded_size(tc->key_len, tc->value_len), expected_len);
    char *encoded = malloc(expected_len);
    assert_non_null(encoded);
    size_t written = 0;
    assert_int_equal(
        mt_entry_encode(encoded, expected_len, tc->seq, tc->type, key, tc->key_len, value, tc->value_len, &written),
        MT_OK);
    assert_int_equal(written, expected_len);
    assert_memory_equal(encoded, expected, expected_len);
    assert_int_equal(
        mt_entry_encode(encoded, expected_len - 1, tc->seq, tc->type, key, tc->key_len, value, tc->value_len, &written),
        MT_INVALID_ARGUMENT);

    mt_entry entry;
    size_t consumed = 0;
    assert_int_equal(mt_entry_decode(expected, expected_len, &entry, &consumed), MT_OK);
    assert_int_equal(consumed, expected_len);
    assert_slice(entry.user_key, key, tc->key_len);
    assert_int_equal(entry.seq, tc->seq);
    assert_int_equal(entry.type, tc->type);
    assert_slice(entry.value, value, tc->value_len);

    /* The stored entry, read back through the iterator, is the same bytes. */
    assert_int_equal(mt_memtable_add(table, tc->seq, tc->type, key, tc->key_len, value, tc->value_len), MT_OK);
    mt_memtable_iter_seek(iter, key, tc->key_len, tc->seq);
    assert_true(mt_memtable_iter_valid(iter));
    assert_slice(mt_memtable_iter_entry(iter), expected, expected_len);
    assert_int_equal(mt_memtable_iter_seq(iter), tc->seq);
    free(encoded);
    free(expected);
    free(key);
    free(value);
  }
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_iter_destroy(iter);
  mt_memtable_unref(table);
}

/* Decodes from an exactly-sized heap copy, so ASan catches a read past the end. */
static mt_status decode_copy(const unsigned char *bytes, size_t len, mt_entry *entry, size_t *consumed) {
  char *copy = malloc(len == 0 ? 1 : len);
  assert_non_null(copy);
  if (len != 0) memcpy(copy, bytes, len);
  mt_status status = mt_entry_decode(len == 0 ? NULL : copy, len, entry, consumed);
  free(copy);
  return status;
}

typedef struct decode_case {
  const char *name;
  unsigned char bytes[24];
  size_t len;
  mt_status expected;
  size_t consumed; /* when MT_OK */
} decode_case;

#define TAG_VALUE_1 0x01, 0x01, 0, 0, 0, 0, 0, 0

static void memtable_test_entry_decode_rejects_malformed(void **state) {
  (void)state;
  static const decode_case cases[] = {
      {"empty", {0}, 0, MT_CORRUPTION, 0},
      {"truncated key length varint", {0x80}, 1, MT_CORRUPTION, 0},
      {"truncated 4-byte varint", {0xff, 0xff, 0xff}, 3, MT_CORRUPTION, 0},
      {"6-byte varint", {0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 6, MT_CORRUPTION, 0},
      {"5th varint byte above 0x0f", {0x88, 0x80, 0x80, 0x80, 0x10, TAG_VALUE_1, 0x00}, 14, MT_CORRUPTION, 0},
      {"internal key of 0 bytes", {0x00, 0x00}, 2, MT_CORRUPTION, 0},
      {"internal key of 7 bytes", {0x07, 1, 2, 3, 4, 5, 6, 7, 0x00}, 9, MT_CORRUPTION, 0},
      {"internal key past the end", {0x0a, 'k', TAG_VALUE_1}, 10, MT_CORRUPTION, 0},
      {"huge internal key", {0xff, 0xff, 0xff, 0xff, 0x0f, 'k', TAG_VALUE_1, 0x00}, 15, MT_CORRUPTION, 0},
      {"tag cut short", {0x09, 'k', 0x01, 0x01, 0, 0, 0, 0, 0}, 9, MT_CORRUPTION, 0},
      {"missing value length", {0x09, 'k', TAG_VALUE_1}, 10, MT_CORRUPTION, 0},
      {"type 2", {0x09, 'k', 0x02, 0x01, 0, 0, 0, 0, 0, 0, 0x00}, 11, MT_CORRUPTION, 0},
      {"type 0xff", {0x09, 'k', 0xff, 0x01, 0, 0, 0, 0, 0, 0, 0x00}, 11, MT_CORRUPTION, 0},
      {"truncated value length varint", {0x09, 'k', TAG_VALUE_1, 0x80}, 11, MT_CORRUPTION, 0},
      {"6-byte value length", {0x09, 'k', TAG_VALUE_1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 16, MT_CORRUPTION, 0},
      {"value length 5th byte > 0x0f", {0x09, 'k', TAG_VALUE_1, 0x81, 0x80, 0x80, 0x80, 0x70}, 15, MT_CORRUPTION, 0},
      {"value past the end", {0x09, 'k', TAG_VALUE_1, 0x03, 'a', 'b'}, 13, MT_CORRUPTION, 0},
      {"huge value", {0x09, 'k', TAG_VALUE_1, 0xff, 0xff, 0xff, 0xff, 0x0f, 'a'}, 16, MT_CORRUPTION, 0},
      {"shortest entry", {0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0x00}, 10, MT_OK, 10},
      {"trailing bytes are not consumed", {0x09, 'k', TAG_VALUE_1, 0x01, 'v', 0xee, 0xee}, 14, MT_OK, 12},
      {"non-minimal varints (as LevelDB)", {0x89, 0x00, 'k', TAG_VALUE_1, 0x81, 0x00, 'v'}, 14, MT_OK, 14},
      {"5-byte non-minimal varint", {0x89, 0x80, 0x80, 0x80, 0x00, 'k', TAG_VALUE_1, 0x00}, 15, MT_OK, 15},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    mt_entry entry;
    size_t consumed = 12345;
    mt_status status = decode_copy(cases[i].bytes, cases[i].len, &entry, &consumed);
    if (status != cases[i].expected) print_error("case '%s': %s\n", cases[i].name, mt_status_str(status));
    assert_int_equal(status, cases[i].expected);
    if (status == MT_OK) {
      assert_int_equal(consumed, cases[i].consumed);
    } else {
      assert_int_equal(consumed, 12345); /* untouched on failure */
    }
  }
  /* Every strict prefix of a valid entry is truncated. */
  const unsigned char whole[] = {0x0b, 'k', 'e', 'y', TAG_VALUE_1, 0x05, 'v', 'a', 'l', 'u', 'e'};
  for (size_t len = 0; len < sizeof(whole); len++) {
    mt_entry entry;
    assert_int_equal(decode_copy(whole, len, &entry, NULL), MT_CORRUPTION);
  }
  mt_entry entry;
  size_t consumed;
  assert_int_equal(mt_entry_decode(whole, sizeof(whole), &entry, &consumed), MT_OK);
  assert_int_equal(consumed, sizeof(whole));
  assert_slice_str(entry.user_key, "key");
  assert_slice_str(entry.value, "value");
  assert_int_equal(entry.seq, 1);
  assert_int_equal(entry.type, MT_TYPE_VALUE);
  /* Bad arguments. */
  assert_int_equal(mt_entry_decode(whole, sizeof(whole), NULL, NULL), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_entry_decode(NULL, 5, &entry, NULL), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_entry_decode(NULL, 0, &entry, NULL), MT_CORRUPTION);
}

static void memtable_test_entry_encode_rejects_bad_arguments(void **state) {
  (void)state;
  char buf[64];
  size_t written = 99;
  assert_int_equal(mt_entry_encode(NULL, 64, 1, MT_TYPE_VALUE, "k", 1, "v", 1, &written), MT_INVALID_ARGUMENT);
  assert_int_equal(written, 0);
  assert_int_equal(mt_entry_encode(buf, 64, MT_MAX_SEQUENCE + 1, MT_TYPE_VALUE, "k", 1, "v", 1, &written),
                   MT_INVALID_ARGUMENT);
  assert_int_equal(mt_entry_encode(buf, 64, 1, (mt_entry_type)2, "k", 1, "v", 1, &written), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_entry_encode(buf, 64, 1, MT_TYPE_VALUE, NULL, 1, "v", 1, &written), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_entry_encode(buf, 64, 1, MT_TYPE_VALUE, "k", 1, NULL, 1, &written), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_entry_encode(buf, 64, 1, MT_TYPE_VALUE, "k", MT_MAX_KEY_LEN + 1, "v", 1, &written),
                   MT_INVALID_ARGUMENT);
  assert_int_equal(mt_entry_encode(buf, 11, 1, MT_TYPE_VALUE, "k", 1, "v", 1, &written), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_entry_encode(buf, 12, 1, MT_TYPE_VALUE, "k", 1, "v", 1, &written), MT_OK);
  assert_int_equal(written, 12);
  assert_int_equal(mt_entry_encode(buf, 12, 1, MT_TYPE_VALUE, "k", 1, "v", 1, NULL), MT_OK);
  assert_int_equal(mt_entry_encoded_size(0, 0), 10);
  assert_int_equal(mt_entry_encoded_size(MT_MAX_KEY_LEN + 1, 0), 0);
  assert_int_equal(mt_entry_encoded_size(MT_MAX_KEY_LEN, 0), 5 + MT_MAX_KEY_LEN + 8 + 1);
#if SIZE_MAX > UINT32_MAX
  assert_int_equal(mt_entry_encoded_size(0, MT_MAX_VALUE_LEN + 1), 0);
  assert_int_equal(mt_entry_encoded_size(0, MT_MAX_VALUE_LEN), 1 + 8 + 5 + MT_MAX_VALUE_LEN);
#endif
}

static void assert_unchanged(mt_memtable *table, uint64_t entries) {
  assert_int_equal(mt_memtable_entry_count(table), entries);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  assert_get(table, "present", UINT64_MAX, MT_OK, "value");
}

static void memtable_test_invalid_arguments(void **state) {
  (void)state;
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  /* create */
  options.checksum_bytes = 3;
  assert_null(mt_memtable_create(&options));
  options.checksum_bytes = 16;
  assert_null(mt_memtable_create(&options));
  mt_memtable_options_init(&options);
  options.arena.block_size = MT_ARENA_MAX_BLOCK_SIZE + 1;
  assert_null(mt_memtable_create(&options));
  mt_memtable_options_init(&options);
  options.arena.allocator.alloc = counting_alloc;
  assert_null(mt_memtable_create(&options));
  mt_memtable_options_init(&options);
  options.bloom_bits_per_key = UINT32_MAX;
  options.bloom_expected_entries = SIZE_MAX / 2;
  assert_null(mt_memtable_create(&options));
  mt_memtable_options_init(&options);
  options.arena.capacity = 64; /* too small for the header */
  assert_null(mt_memtable_create(&options));

  mt_memtable_options_init(&options);
  options.checksum_bytes = 8;
  options.bloom_bits_per_key = 10;
  mt_memtable *table = new_table(&options);
  put(table, 1, "present", "value");
  const char one_byte[1] = {'x'};
  /* add */
  assert_int_equal(mt_memtable_add(NULL, 2, MT_TYPE_VALUE, "k", 1, "v", 1), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_add(table, MT_MAX_SEQUENCE + 1, MT_TYPE_VALUE, "k", 1, "v", 1), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_add(table, UINT64_MAX, MT_TYPE_VALUE, "k", 1, "v", 1), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_add(table, 2, (mt_entry_type)2, "k", 1, "v", 1), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_add(table, 2, (mt_entry_type)255, "k", 1, "v", 1), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_add(table, 2, MT_TYPE_VALUE, NULL, 1, "v", 1), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_add(table, 2, MT_TYPE_VALUE, "k", 1, NULL, 1), MT_INVALID_ARGUMENT);
  /* Lengths beyond the limits, with buffers far shorter than claimed: rejected before any read. */
  assert_int_equal(mt_memtable_add(table, 2, MT_TYPE_VALUE, one_byte, MT_MAX_KEY_LEN + 1, "v", 1), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_add(table, 2, MT_TYPE_VALUE, one_byte, MT_MAX_KEY_LEN, "v", 1), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_add(table, 2, MT_TYPE_VALUE, "k", 1, one_byte, MT_MAX_VALUE_LEN), MT_INVALID_ARGUMENT);
#if SIZE_MAX > UINT32_MAX
  assert_int_equal(mt_memtable_add(table, 2, MT_TYPE_VALUE, "k", 1, one_byte, MT_MAX_VALUE_LEN + 1),
                   MT_INVALID_ARGUMENT);
#endif
  /* The entry (5 + key + 8 + 1 bytes) is 4 GiB - 7: too long only with the 8 checksum bytes. */
  const size_t near_limit_key_len = (size_t)UINT32_MAX - 20;
  assert_int_equal(mt_entry_encoded_size(near_limit_key_len, 0), (size_t)UINT32_MAX - 6);
  assert_int_equal(mt_memtable_add(table, 2, MT_TYPE_VALUE, one_byte, near_limit_key_len, "", 0), MT_INVALID_ARGUMENT);
  assert_unchanged(table, 1);
  /* Duplicates, whatever the type or value. */
  assert_int_equal(mt_memtable_add(table, 1, MT_TYPE_VALUE, "present", 7, "other", 5), MT_EXISTS);
  assert_int_equal(mt_memtable_add(table, 1, MT_TYPE_DELETION, "present", 7, NULL, 0), MT_EXISTS);
  assert_unchanged(table, 1);
  assert_int_equal(mt_memtable_deletion_count(table), 0);
  /* The largest sequence number is fine. */
  assert_int_equal(mt_memtable_add(table, MT_MAX_SEQUENCE, MT_TYPE_VALUE, "max", 3, "m", 1), MT_OK);
  assert_get(table, "max", UINT64_MAX, MT_OK, "m");
  assert_get(table, "max", MT_MAX_SEQUENCE - 1, MT_NOT_FOUND, NULL);

  /* get */
  mt_slice value;
  assert_int_equal(mt_memtable_get(NULL, "k", 1, 1, &value), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_get(table, NULL, 1, 1, &value), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_get(table, one_byte, MT_MAX_KEY_LEN + 1, 1, &value), MT_INVALID_ARGUMENT);

  /* Statistics and lifetime on NULL. */
  assert_int_equal(mt_memtable_entry_count(NULL), 0);
  assert_int_equal(mt_memtable_deletion_count(NULL), 0);
  assert_int_equal(mt_memtable_approximate_memory_usage(NULL), 0);
  assert_false(mt_memtable_should_flush(NULL));
  assert_int_equal(mt_memtable_validate(NULL), MT_INVALID_ARGUMENT);
  mt_memtable_ref(NULL);
  mt_memtable_unref(NULL);
  mt_memtable_options_init(NULL);

  /* Iterators. */
  assert_null(mt_memtable_iter_create(NULL));
  assert_null(mt_memtable_user_iter_create(NULL, 1));
  mt_memtable_iter_destroy(NULL);
  mt_memtable_user_iter_destroy(NULL);
  assert_false(mt_memtable_iter_valid(NULL));
  assert_false(mt_memtable_user_iter_valid(NULL));
  mt_memtable_iter_seek_to_first(NULL);
  mt_memtable_iter_seek_to_last(NULL);
  mt_memtable_iter_seek(NULL, "k", 1, 1);
  mt_memtable_iter_seek_for_prev(NULL, "k", 1, 1);
  mt_memtable_iter_next(NULL);
  mt_memtable_iter_prev(NULL);
  assert_int_equal(mt_memtable_iter_status(NULL), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_iter_user_key(NULL).len, 0);
  assert_int_equal(mt_memtable_iter_value(NULL).len, 0);
  assert_int_equal(mt_memtable_iter_entry(NULL).len, 0);
  assert_int_equal(mt_memtable_iter_seq(NULL), 0);
  mt_memtable_user_iter_seek_to_first(NULL);
  mt_memtable_user_iter_seek_to_last(NULL);
  mt_memtable_user_iter_seek(NULL, "k", 1);
  mt_memtable_user_iter_seek_for_prev(NULL, "k", 1);
  mt_memtable_user_iter_next(NULL);
  mt_memtable_user_iter_prev(NULL);
  assert_int_equal(mt_memtable_user_iter_status(NULL), MT_INVALID_ARGUMENT);
  assert_int_equal(mt_memtable_user_iter_key(NULL).len, 0);
  assert_int_equal(mt_memtable_user_iter_value(NULL).len, 0);
  assert_int_equal(mt_memtable_user_iter_seq(NULL), 0);

  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  assert_non_null(iter);
  /* Moving or reading an iterator that is not valid does nothing. */
  mt_memtable_iter_next(iter);
  mt_memtable_iter_prev(iter);
  assert_false(mt_memtable_iter_valid(iter));
  assert_int_equal(mt_memtable_iter_user_key(iter).len, 0);
  mt_memtable_iter_seek(iter, NULL, 1, 1);
  assert_false(mt_memtable_iter_valid(iter));
  assert_int_equal(mt_memtable_iter_status(iter), MT_INVALID_ARGUMENT);
  mt_memtable_iter_seek_for_prev(iter, one_byte, MT_MAX_KEY_LEN + 1, 1);
  assert_false(mt_memtable_iter_valid(iter));
  assert_int_equal(mt_memtable_iter_status(iter), MT_INVALID_ARGUMENT);
  mt_memtable_iter_seek_to_first(iter);
  assert_iter_at(iter, "max", MT_MAX_SEQUENCE, MT_TYPE_VALUE, "m");
  assert_int_equal(mt_memtable_iter_status(iter), MT_OK);
  mt_memtable_iter_destroy(iter);

  mt_memtable_user_iter *user = mt_memtable_user_iter_create(table, UINT64_MAX);
  assert_non_null(user);
  mt_memtable_user_iter_next(user);
  assert_false(mt_memtable_user_iter_valid(user));
  mt_memtable_user_iter_seek(user, NULL, 3);
  assert_false(mt_memtable_user_iter_valid(user));
  assert_int_equal(mt_memtable_user_iter_status(user), MT_INVALID_ARGUMENT);
  mt_memtable_user_iter_seek_for_prev(user, one_byte, MT_MAX_KEY_LEN + 1);
  assert_int_equal(mt_memtable_user_iter_status(user), MT_INVALID_ARGUMENT);
  mt_memtable_user_iter_seek_to_last(user);
  assert_user_iter_at(user, "present", "value");
  assert_int_equal(mt_memtable_user_iter_status(user), MT_OK);
  mt_memtable_user_iter_destroy(user);

  assert_unchanged(table, 2);
  mt_memtable_unref(table);
}

#define MODEL_KEYS 257
#define MODEL_MAX_KEY 12
#define MODEL_MAX_VALUE 31
#define MODEL_SEQ_RANGE 30000
#define MODEL_OPERATIONS 100000

typedef struct model_version {
  uint64_t seq;
  mt_entry_type type;
  size_t value_len;
  char value[MODEL_MAX_VALUE];
} model_version;

typedef struct model_key {
  char data[MODEL_MAX_KEY];
  size_t len;
  model_version *versions; /* seq descending */
  size_t count;
  size_t capacity;
} model_key;

typedef struct model {
  model_key keys[MODEL_KEYS]; /* distinct, bytewise ascending */
  size_t entries;
} model;

/* An entry of the model: keys[key].versions[version]; key == MODEL_KEYS means past either end. */
typedef struct model_position {
  size_t key;
  size_t version;
} model_position;

static const model_position model_end = {MODEL_KEYS, 0};

static uint64_t model_seed;
static size_t model_operation;

#define MODEL_CHECK(condition)                                                                                      \
  do {                                                                                                              \
    if (!(condition)) {                                                                                             \
      print_error("model mismatch (seed %" PRIu64 ", operation %zu): %s at line %d\n", model_seed, model_operation, \
                  #condition, __LINE__);                                                                            \
      fail();                                                                                                       \
    }                                                                                                               \
  } while (0)

static int model_key_compare(const void *a, const void *b) {
  const model_key *x = a;
  const model_key *y = b;
  return bytewise(x->data, x->len, y->data, y->len);
}

static void random_model_key(uint64_t *rng, char *data, size_t *len) {
  static const char alphabet[] = {0x00, 0x01, 'a', 'b', 'c', 0x7f, (char)0x80, (char)0xfe, (char)0xff};
  *len = random_below(rng, MODEL_MAX_KEY + 1);
  for (size_t i = 0; i < *len; i++) data[i] = alphabet[random_below(rng, sizeof(alphabet))];
}

static void model_init(model *m, uint64_t *rng) {
  memset(m, 0, sizeof(*m));
  for (size_t i = 0; i < MODEL_KEYS; i++) {
    bool duplicate;
    do {
      random_model_key(rng, m->keys[i].data, &m->keys[i].len);
      duplicate = false;
      for (size_t j = 0; j < i && !duplicate; j++) {
        duplicate = bytewise(m->keys[i].data, m->keys[i].len, m->keys[j].data, m->keys[j].len) == 0;
      }
    } while (duplicate);
  }
  qsort(m->keys, MODEL_KEYS, sizeof(model_key), model_key_compare);
}

static void model_free(model *m) {
  for (size_t i = 0; i < MODEL_KEYS; i++) free(m->keys[i].versions);
}

/* First key index whose key is >= probe; *equal when it is the probe. */
static size_t model_lower_bound(const model *m, const char *probe, size_t probe_len, bool *equal) {
  size_t low = 0;
  size_t high = MODEL_KEYS;
  while (low < high) {
    size_t mid = low + (high - low) / 2;
    if (bytewise(m->keys[mid].data, m->keys[mid].len, probe, probe_len) < 0) {
      low = mid + 1;
    } else {
      high = mid;
    }
  }
  *equal = low < MODEL_KEYS && bytewise(m->keys[low].data, m->keys[low].len, probe, probe_len) == 0;
  return low;
}

/* Index of the first version with seq <= snapshot (versions are seq descending), or count. */
static size_t model_first_visible(const model_key *key, uint64_t snapshot) {
  size_t v = 0;
  while (v < key->count && key->versions[v].seq > snapshot) v++;
  return v;
}

/* Returns false if (key, seq) is already present. */
static bool model_add(model *m, size_t k, uint64_t seq, mt_entry_type type, const char *value, size_t value_len) {
  model_key *key = &m->keys[k];
  size_t v = 0;
  while (v < key->count && key->versions[v].seq > seq) v++;
  if (v < key->count && key->versions[v].seq == seq) return false;
  if (key->count == key->capacity) {
    key->capacity = key->capacity == 0 ? 8 : key->capacity * 2;
    key->versions = realloc(key->versions, key->capacity * sizeof(model_version));
    assert_non_null(key->versions);
  }
  memmove(&key->versions[v + 1], &key->versions[v], (key->count - v) * sizeof(model_version));
  key->versions[v].seq = seq;
  key->versions[v].type = type;
  key->versions[v].value_len = value_len;
  if (value_len != 0) memcpy(key->versions[v].value, value, value_len);
  key->count++;
  m->entries++;
  return true;
}

static model_position model_first_from(const model *m, size_t k) {
  for (; k < MODEL_KEYS; k++) {
    if (m->keys[k].count != 0) return (model_position){k, 0};
  }
  return model_end;
}

/* The last entry of the last key before index k. */
static model_position model_last_before(const model *m, size_t k) {
  while (k-- > 0) {
    if (m->keys[k].count != 0) return (model_position){k, m->keys[k].count - 1};
  }
  return model_end;
}

static model_position model_next(const model *m, model_position p) {
  if (p.version + 1 < m->keys[p.key].count) return (model_position){p.key, p.version + 1};
  return model_first_from(m, p.key + 1);
}

static model_position model_prev(const model *m, model_position p) {
  if (p.version > 0) return (model_position){p.key, p.version - 1};
  return model_last_before(m, p.key);
}

static model_position model_seek(const model *m, const char *probe, size_t probe_len, uint64_t snapshot) {
  bool equal;
  size_t k = model_lower_bound(m, probe, probe_len, &equal);
  if (!equal) return model_first_from(m, k);
  size_t v = model_first_visible(&m->keys[k], snapshot);
  if (v < m->keys[k].count) return (model_position){k, v};
  return model_first_from(m, k + 1);
}

static model_position model_seek_for_prev(const model *m, const char *probe, size_t probe_len, uint64_t snapshot) {
  bool equal;
  size_t k = model_lower_bound(m, probe, probe_len, &equal);
  if (!equal) return model_last_before(m, k);
  size_t not_after = 0; /* versions with seq >= snapshot sort at or before (key, snapshot) */
  while (not_after < m->keys[k].count && m->keys[k].versions[not_after].seq >= snapshot) not_after++;
  if (not_after > 0) return (model_position){k, not_after - 1};
  return model_last_before(m, k);
}

/* The user view: the visible value version of key k at the snapshot, or SIZE_MAX. */
static size_t model_user_version(const model *m, size_t k, uint64_t snapshot) {
  size_t v = model_first_visible(&m->keys[k], snapshot);
  if (v == m->keys[k].count || m->keys[k].versions[v].type != MT_TYPE_VALUE) return SIZE_MAX;
  return v;
}

static model_position model_user_first_from(const model *m, size_t k, uint64_t snapshot) {
  for (; k < MODEL_KEYS; k++) {
    size_t v = model_user_version(m, k, snapshot);
    if (v != SIZE_MAX) return (model_position){k, v};
  }
  return model_end;
}

static model_position model_user_last_before(const model *m, size_t k, uint64_t snapshot) {
  while (k-- > 0) {
    size_t v = model_user_version(m, k, snapshot);
    if (v != SIZE_MAX) return (model_position){k, v};
  }
  return model_end;
}

static void check_iter_matches(const model *m, const mt_memtable_iter *iter, model_position p) {
  MODEL_CHECK(mt_memtable_iter_status(iter) == MT_OK);
  MODEL_CHECK(mt_memtable_iter_valid(iter) == (p.key != MODEL_KEYS));
  if (p.key == MODEL_KEYS) return;
  const model_key *key = &m->keys[p.key];
  const model_version *version = &key->versions[p.version];
  mt_slice user_key = mt_memtable_iter_user_key(iter);
  MODEL_CHECK(bytewise(user_key.data, user_key.len, key->data, key->len) == 0);
  MODEL_CHECK(mt_memtable_iter_seq(iter) == version->seq);
  MODEL_CHECK(mt_memtable_iter_type(iter) == version->type);
  mt_slice value = mt_memtable_iter_value(iter);
  MODEL_CHECK(bytewise(value.data, value.len, version->value, version->value_len) == 0);
}

static void check_user_iter_matches(const model *m, const mt_memtable_user_iter *iter, model_position p) {
  MODEL_CHECK(mt_memtable_user_iter_status(iter) == MT_OK);
  MODEL_CHECK(mt_memtable_user_iter_valid(iter) == (p.key != MODEL_KEYS));
  if (p.key == MODEL_KEYS) return;
  const model_key *key = &m->keys[p.key];
  const model_version *version = &key->versions[p.version];
  mt_slice user_key = mt_memtable_user_iter_key(iter);
  MODEL_CHECK(bytewise(user_key.data, user_key.len, key->data, key->len) == 0);
  MODEL_CHECK(mt_memtable_user_iter_seq(iter) == version->seq);
  mt_slice value = mt_memtable_user_iter_value(iter);
  MODEL_CHECK(bytewise(value.data, value.len, version->value, version->value_len) == 0);
}

static uint64_t random_snapshot(uint64_t *rng) {
  size_t choice = random_below(rng, 10);
  if (choice < 2) return UINT64_MAX;
  if (choice < 3) return 0;
  return random_below(rng, MODEL_SEQ_RANGE + 1);
}

/* A probe key: usually a model key, sometimes an arbitrary one (present or not). */
static void random_probe(const model *m, uint64_t *rng, char *data, size_t *len) {
  if (random_below(rng, 100) < 80) {
    const model_key *key = &m->keys[random_below(rng, MODEL_KEYS)];
    memcpy(data, key->data, key->len);
    *len = key->len;
  } else {
    random_model_key(rng, data, len);
  }
}

/* Whole-table checks: both iterators forward and backward (the internal one backward only when asked: every
 * step back is a search). */
static void full_scans_match(const model *m, const mt_memtable *table, mt_memtable_iter *iter, uint64_t *rng,
                             bool internal_backward) {
  mt_memtable_iter_seek_to_first(iter);
  model_position p = model_first_from(m, 0);
  size_t seen = 0;
  while (p.key != MODEL_KEYS) {
    check_iter_matches(m, iter, p);
    seen++;
    mt_memtable_iter_next(iter);
    p = model_next(m, p);
  }
  check_iter_matches(m, iter, p);
  MODEL_CHECK(seen == m->entries);
  MODEL_CHECK(mt_memtable_entry_count(table) == m->entries);
  if (internal_backward) {
    mt_memtable_iter_seek_to_last(iter);
    for (p = model_last_before(m, MODEL_KEYS); p.key != MODEL_KEYS; p = model_prev(m, p)) {
      check_iter_matches(m, iter, p);
      mt_memtable_iter_prev(iter);
    }
    check_iter_matches(m, iter, p);
  }

  uint64_t snapshot = random_snapshot(rng);
  mt_memtable_user_iter *user = mt_memtable_user_iter_create((mt_memtable *)table, snapshot);
  assert_non_null(user);
  mt_memtable_user_iter_seek_to_first(user);
  for (p = model_user_first_from(m, 0, snapshot); p.key != MODEL_KEYS;
       p = model_user_first_from(m, p.key + 1, snapshot)) {
    check_user_iter_matches(m, user, p);
    mt_memtable_user_iter_next(user);
  }
  check_user_iter_matches(m, user, p);
  mt_memtable_user_iter_seek_to_last(user);
  for (p = model_user_last_before(m, MODEL_KEYS, snapshot); p.key != MODEL_KEYS;
       p = model_user_last_before(m, p.key, snapshot)) {
    check_user_iter_matches(m, user, p);
    mt_memtable_user_iter_prev(user);
  }
  check_user_iter_matches(m, user, p);
  mt_memtable_user_iter_destroy(user);
  MODEL_CHECK(mt_memtable_validate(table) == MT_OK);
}

static void memtable_test_randomized_model(void **state) {
  (void)state;
  model_seed = 20240601;
  uint64_t rng = model_seed;
  model *m = malloc(sizeof(model));
  assert_non_null(m);
  model_init(m, &rng);
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.arena.block_size = 8192;
  options.checksum_bytes = 2;
  options.bloom_bits_per_key = 8;
  options.bloom_expected_entries = 2048; /* undersized on purpose: false positives must stay harmless */
  mt_memtable *table = new_table(&options);
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  assert_non_null(iter);
  char probe[MODEL_MAX_KEY];
  size_t probe_len;
  char value[MODEL_MAX_VALUE];
  size_t exists = 0;

  for (model_operation = 0; model_operation < MODEL_OPERATIONS; model_operation++) {
    size_t choice = random_below(&rng, 100);
    if (choice < 35) {
      size_t k = random_below(&rng, MODEL_KEYS);
      uint64_t seq = random_below(&rng, MODEL_SEQ_RANGE + 1);
      mt_entry_type type = random_below(&rng, 4) == 0 ? MT_TYPE_DELETION : MT_TYPE_VALUE;
      size_t value_len = random_below(&rng, MODEL_MAX_VALUE + 1);
      for (size_t i = 0; i < value_len; i++) value[i] = (char)next_random(&rng);
      bool added = model_add(m, k, seq, type, value, value_len);
      mt_status status = mt_memtable_add(table, seq, type, m->keys[k].data, m->keys[k].len, value, value_len);
      MODEL_CHECK(status == (added ? MT_OK : MT_EXISTS));
      if (!added) exists++;
    } else if (choice < 60) {
      random_probe(m, &rng, probe, &probe_len);
      uint64_t snapshot = random_snapshot(&rng);
      mt_slice got = {NULL, 0};
      mt_status status = mt_memtable_get(table, probe, probe_len, snapshot, &got);
      bool equal;
      size_t k = model_lower_bound(m, probe, probe_len, &equal);
      size_t v = equal ? model_first_visible(&m->keys[k], snapshot) : 0;
      if (!equal || v == m->keys[k].count) {
        MODEL_CHECK(status == MT_NOT_FOUND);
      } else if (m->keys[k].versions[v].type == MT_TYPE_DELETION) {
        MODEL_CHECK(status == MT_DELETED);
      } else {
        MODEL_CHECK(status == MT_OK);
        MODEL_CHECK(bytewise(got.data, got.len, m->keys[k].versions[v].value, m->keys[k].versions[v].value_len) == 0);
      }
    } else if (choice < 80) {
      model_position p;
      size_t how = random_below(&rng, 4);
      uint64_t snapshot = random_snapshot(&rng);
      random_probe(m, &rng, probe, &probe_len);
      if (how == 0) {
        mt_memtable_iter_seek(iter, probe, probe_len, snapshot);
        p = model_seek(m, probe, probe_len, snapshot);
      } else if (how == 1) {
        mt_memtable_iter_seek_for_prev(iter, probe, probe_len, snapshot);
        p = model_seek_for_prev(m, probe, probe_len, snapshot);
      } else if (how == 2) {
        mt_memtable_iter_seek_to_first(iter);
        p = model_first_from(m, 0);
      } else {
        mt_memtable_iter_seek_to_last(iter);
        p = model_last_before(m, MODEL_KEYS);
      }
      check_iter_matches(m, iter, p);
      size_t steps = random_below(&rng, 10);
      for (size_t s = 0; s < steps && p.key != MODEL_KEYS; s++) {
        if (random_below(&rng, 2) == 0) {
          mt_memtable_iter_next(iter);
          p = model_next(m, p);
        } else {
          mt_memtable_iter_prev(iter);
          p = model_prev(m, p);
        }
        check_iter_matches(m, iter, p);
      }
    } else {
      uint64_t snapshot = random_snapshot(&rng);
      mt_memtable_user_iter *user = mt_memtable_user_iter_create(table, snapshot);
      assert_non_null(user);
      model_position p;
      size_t how = random_below(&rng, 4);
      random_probe(m, &rng, probe, &probe_len);
      bool equal;
      size_t k = model_lower_bound(m, probe, probe_len, &equal);
      if (how == 0) {
        mt_memtable_user_iter_seek(user, probe, probe_len);
        p = model_user_first_from(m, k, snapshot);
      } else if (how == 1) {
        mt_memtable_user_iter_seek_for_prev(user, probe, probe_len);
        p = model_user_last_before(m, equal ? k + 1 : k, snapshot);
      } else if (how == 2) {
        mt_memtable_user_iter_seek_to_first(user);
        p = model_user_first_from(m, 0, snapshot);
      } else {
        mt_memtable_user_iter_seek_to_last(user);
        p = model_user_last_before(m, MODEL_KEYS, snapshot);
      }
      check_user_iter_matches(m, user, p);
      size_t steps = random_below(&rng, 10);
      for (size_t s = 0; s < steps && p.key != MODEL_KEYS; s++) {
        if (random_below(&rng, 2) == 0) {
          mt_memtable_user_iter_next(user);
          p = model_user_first_from(m, p.key + 1, snapshot);
        } else {
          mt_memtable_user_iter_prev(user);
          p = model_user_last_before(m, p.key, snapshot);
        }
        check_user_iter_matches(m, user, p);
      }
      mt_memtable_user_iter_destroy(user);
    }
    if ((model_operation + 1) % 25000 == 0) full_scans_match(m, table, iter, &rng, false);
  }
  full_scans_match(m, table, iter, &rng, true);
  /* The seed exercises duplicates and both types. */
  assert_true(exists > 0);
  assert_true(mt_memtable_deletion_count(table) > 0);
  mt_memtable_iter_destroy(iter);
  mt_memtable_unref(table);
  model_free(m);
  free(m);
}

#define FAILURE_ENTRIES 40

static size_t failure_value_len(size_t i) { return (i * 97) % 700; }

static void failure_entry(size_t i, char *key, size_t key_size, char *value) {
  snprintf(key, key_size, "key-%04zu", i);
  for (size_t j = 0; j < failure_value_len(i); j++) value[j] = (char)(i + j);
}

static void assert_failure_entries_present(const mt_memtable *table, size_t count) {
  char key[16];
  char value[700];
  for (size_t i = 0; i < count; i++) {
    failure_entry(i, key, sizeof(key), value);
    mt_slice got;
    assert_int_equal(mt_memtable_get(table, key, strlen(key), UINT64_MAX, &got), MT_OK);
    assert_slice(got, value, failure_value_len(i));
  }
  assert_int_equal(mt_memtable_entry_count(table), count);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
}

/* Creates a table, adds FAILURE_ENTRIES entries (retrying one that failed), opens and closes an
 * iterator, and reports how the one injected failure surfaced. */
static void run_with_failing_allocation(counting_allocator *allocator, size_t *create_failures, size_t *add_failures,
                                        size_t *iterator_failures) {
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.arena.block_size = 1024;
  options.checksum_bytes = 4;
  options.bloom_bits_per_key = 10;
  options.bloom_expected_entries = FAILURE_ENTRIES;
  use_counting_allocator(&options, allocator);
  mt_memtable *table = mt_memtable_create(&options);
  if (table == NULL) {
    (*create_failures)++;
    assert_int_equal(allocator->outstanding, 0);
    return;
  }
  char key[16];
  char value[700];
  for (size_t i = 0; i < FAILURE_ENTRIES; i++) {
    failure_entry(i, key, sizeof(key), value);
    mt_status status = mt_memtable_add(table, i + 1, MT_TYPE_VALUE, key, strlen(key), value, failure_value_len(i));
    if (status == MT_NOMEM) {
      (*add_failures)++;
      assert_failure_entries_present(table, i);
      assert_get(table, key, UINT64_MAX, MT_NOT_FOUND, NULL);
      status = mt_memtable_add(table, i + 1, MT_TYPE_VALUE, key, strlen(key), value, failure_value_len(i));
    }
    assert_int_equal(status, MT_OK);
  }
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  if (iter == NULL) {
    (*iterator_failures)++;
  } else {
    mt_memtable_iter_seek_to_first(iter);
    assert_true(mt_memtable_iter_valid(iter));
    mt_memtable_iter_destroy(iter);
  }
  assert_failure_entries_present(table, FAILURE_ENTRIES);
  mt_memtable_unref(table);
  assert_int_equal(allocator->outstanding, 0);
}

static void memtable_test_allocation_failure_at_every_point(void **state) {
  (void)state;
  size_t create_failures = 0, add_failures = 0, iterator_failures = 0;
  counting_allocator clean = {0, 0, 0, 0, 0};
  run_with_failing_allocation(&clean, &create_failures, &add_failures, &iterator_failures);
  size_t total = clean.calls;
  assert_true(total > FAILURE_ENTRIES / 4); /* blocks are small: adds allocate often */
  for (size_t k = 1; k <= total + 2; k++) {
    counting_allocator allocator = {0, k, 0, 0, 0};
    run_with_failing_allocation(&allocator, &create_failures, &add_failures, &iterator_failures);
    /* Every point up to the last allocation failed exactly once, and the failure surfaced. */
    assert_int_equal(allocator.failures, k <= total ? 1 : 0);
  }
  assert_int_equal(create_failures + add_failures + iterator_failures, total);
  assert_true(create_failures >= 2); /* arena header and first block */
  assert_true(add_failures > 0);
  assert_int_equal(iterator_failures, 1);
}

static void memtable_test_long_keys_and_lookup_allocation_failure(void **state) {
  (void)state;
  counting_allocator allocator = {0, 0, 0, 0, 0};
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  use_counting_allocator(&options, &allocator);
  mt_memtable *table = new_table(&options);
  const size_t lengths[] = {200, 255, 300, 5000, 70000};
  char *keys[5];
  for (size_t i = 0; i < 5; i++) {
    keys[i] = malloc(lengths[i]);
    assert_non_null(keys[i]);
    memset(keys[i], 'k', lengths[i]);
    assert_int_equal(mt_memtable_add(table, i + 1, MT_TYPE_VALUE, keys[i], lengths[i], "v", 1), MT_OK);
  }
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  assert_non_null(iter);
  for (size_t i = 0; i < 5; i++) {
    mt_slice value;
    assert_int_equal(mt_memtable_get(table, keys[i], lengths[i], UINT64_MAX, &value), MT_OK);
    assert_int_equal(mt_memtable_get(table, keys[i], lengths[i] - 1, UINT64_MAX, &value), MT_NOT_FOUND);
    mt_memtable_iter_seek(iter, keys[i], lengths[i], UINT64_MAX);
    assert_true(mt_memtable_iter_valid(iter));
    assert_int_equal(mt_memtable_iter_user_key(iter).len, lengths[i]);
    mt_memtable_iter_seek_for_prev(iter, keys[i], lengths[i], 0);
    assert_true(mt_memtable_iter_valid(iter));
    assert_int_equal(mt_memtable_iter_user_key(iter).len, lengths[i]);
  }
  /* The next allocation fails: long lookups report it, short ones need none. */
  allocator.fail_at = allocator.calls + 1;
  mt_slice value;
  assert_int_equal(mt_memtable_get(table, keys[3], lengths[3], UINT64_MAX, &value), MT_NOMEM);
  assert_int_equal(mt_memtable_get(table, keys[0], lengths[0], UINT64_MAX, &value), MT_OK);
  allocator.fail_at = allocator.calls + 1;
  mt_memtable_iter_seek(iter, keys[4], lengths[4], UINT64_MAX);
  assert_false(mt_memtable_iter_valid(iter));
  assert_int_equal(mt_memtable_iter_status(iter), MT_NOMEM);
  mt_memtable_iter_seek(iter, keys[4], lengths[4], UINT64_MAX);
  assert_true(mt_memtable_iter_valid(iter));
  assert_int_equal(mt_memtable_iter_status(iter), MT_OK);
  mt_memtable_user_iter *user = mt_memtable_user_iter_create(table, UINT64_MAX);
  assert_non_null(user);
  allocator.fail_at = allocator.calls + 1;
  mt_memtable_user_iter_seek_for_prev(user, keys[2], lengths[2]);
  assert_false(mt_memtable_user_iter_valid(user));
  assert_int_equal(mt_memtable_user_iter_status(user), MT_NOMEM);
  mt_memtable_user_iter_seek_for_prev(user, keys[2], lengths[2]);
  assert_true(mt_memtable_user_iter_valid(user));
  assert_int_equal(mt_memtable_user_iter_key(user).len, lengths[2]);
  mt_memtable_user_iter_destroy(user);
  mt_memtable_iter_destroy(iter);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
  assert_int_equal(allocator.outstanding, 0);
  for (size_t i = 0; i < 5; i++) free(keys[i]);
}

static void memtable_test_capacity_full(void **state) {
  (void)state;
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.arena.block_size = 4096;
  options.arena.capacity = 32 * 1024;
  options.checksum_bytes = 1;
  mt_memtable *table = new_table(&options);
  char key[16];
  char value[100];
  memset(value, 'v', sizeof(value));
  size_t added = 0;
  mt_status status;
  for (;;) {
    snprintf(key, sizeof(key), "key-%06zu", added);
    status = mt_memtable_add(table, added + 1, MT_TYPE_VALUE, key, strlen(key), value, sizeof(value));
    if (status != MT_OK) break;
    added++;
  }
  assert_int_equal(status, MT_FULL);
  assert_true(added > 100);
  assert_true(mt_memtable_approximate_memory_usage(table) <= options.arena.capacity);
  assert_int_equal(mt_memtable_entry_count(table), added);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  assert_get(table, key, UINT64_MAX, MT_NOT_FOUND, NULL);
  /* A value beyond the capacity is refused too; everything stored is still readable. */
  char *big = calloc(1, 64 * 1024);
  assert_non_null(big);
  assert_int_equal(mt_memtable_add(table, 999999, MT_TYPE_VALUE, "big", 3, big, 64 * 1024), MT_FULL);
  free(big);
  mt_memtable_user_iter *user = mt_memtable_user_iter_create(table, UINT64_MAX);
  assert_non_null(user);
  size_t seen = 0;
  for (mt_memtable_user_iter_seek_to_first(user); mt_memtable_user_iter_valid(user); mt_memtable_user_iter_next(user)) {
    snprintf(key, sizeof(key), "key-%06zu", seen);
    assert_true(mt_memtable_user_iter_valid(user));
    assert_slice_str(mt_memtable_user_iter_key(user), key);
    assert_slice(mt_memtable_user_iter_value(user), value, sizeof(value));
    seen++;
  }
  mt_memtable_user_iter_destroy(user);
  assert_int_equal(seen, added);
  assert_int_equal(mt_memtable_entry_count(table), added);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
}

static void memtable_test_user_iterator_without_memory_for_seeks(void **state) {
  (void)state;
  /* Long keys with many versions: passing over them, the user iterator seeks (with heap lookup keys); when
   * the allocator refuses, stepping gives the same answers. */
  counting_allocator allocator = {0, 0, 0, 0, 0};
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  use_counting_allocator(&options, &allocator);
  mt_memtable *table = new_table(&options);
  enum { KEYS = 6, VERSIONS = 12, KEY_LEN = 300 };
  char keys[KEYS][KEY_LEN];
  char value[16];
  uint64_t seq = 1;
  for (int k = 0; k < KEYS; k++) {
    memset(keys[k], 'a' + k, KEY_LEN);
    for (int v = 0; v < VERSIONS; v++, seq++) {
      /* Key 2's newest version is a deletion; key 4 has only versions newer than the snapshot below. */
      mt_entry_type type = (k == 2 && v == VERSIONS - 1) ? MT_TYPE_DELETION : MT_TYPE_VALUE;
      uint64_t entry_seq = k == 4 ? seq + 1000 : seq;
      snprintf(value, sizeof(value), "%d@%" PRIu64, k, entry_seq);
      assert_int_equal(mt_memtable_add(table, entry_seq, type, keys[k], KEY_LEN, value, strlen(value)), MT_OK);
    }
  }
  uint64_t snapshot = 500;
  for (int pass = 0; pass < 2; pass++) {
    mt_memtable_user_iter *user = mt_memtable_user_iter_create(table, snapshot);
    assert_non_null(user);
    if (pass == 1) allocator.fail_from = allocator.calls + 1;
    mt_memtable_user_iter_seek_to_last(user);
    int expected_keys[] = {5, 3, 1, 0};
    for (int i = 0; i < 4; i++) {
      int k = expected_keys[i];
      assert_true(mt_memtable_user_iter_valid(user));
      assert_slice(mt_memtable_user_iter_key(user), keys[k], KEY_LEN);
      snprintf(value, sizeof(value), "%d@%d", k, (k + 1) * VERSIONS);
      assert_slice_str(mt_memtable_user_iter_value(user), value);
      mt_memtable_user_iter_prev(user);
    }
    assert_false(mt_memtable_user_iter_valid(user));
    assert_int_equal(mt_memtable_user_iter_status(user), MT_OK);
    mt_memtable_user_iter_seek_to_first(user);
    for (int i = 4; i-- > 0;) {
      int k = expected_keys[i];
      assert_true(mt_memtable_user_iter_valid(user));
      assert_slice(mt_memtable_user_iter_key(user), keys[k], KEY_LEN);
      mt_memtable_user_iter_next(user);
    }
    assert_false(mt_memtable_user_iter_valid(user));
    assert_int_equal(mt_memtable_user_iter_status(user), MT_OK);
    allocator.fail_from = 0;
    mt_memtable_user_iter_destroy(user);
  }
  assert_true(allocator.failures > 0);
  mt_memtable_unref(table);
  assert_int_equal(allocator.outstanding, 0);
}

/* Corruption: flip each bit of each stored entry in turn (the entry and its checksum bytes), look at the
 * table through every reader, flip it back. Without checksums the length prefixes are trusted (nothing
 * records an entry's size), so their bits are left alone there: a damaged length may send a read past the
 * entry, which only the checksum configurations promise to catch. */
#define CORRUPTION_ENTRIES 24

typedef struct original_entry {
  char key[24];
  size_t key_len;
  uint64_t seq;
  mt_entry_type type;
  char value[40];
  size_t value_len;
  char *stored;       /* the entry's bytes in the arena */
  size_t stored_len;  /* entry + checksum bytes */
  size_t value_start; /* offset of the value length varint */
  size_t type_offset; /* offset of the tag's type byte */
} original_entry;

static const original_entry *find_original(const original_entry *entries, mt_slice key, uint64_t seq) {
  for (size_t i = 0; i < CORRUPTION_ENTRIES; i++) {
    if (entries[i].seq == seq && bytewise(key.data, key.len, entries[i].key, entries[i].key_len) == 0) {
      return &entries[i];
    }
  }
  return NULL;
}

typedef struct corruption_counts {
  size_t flips;
  size_t caught_by_iteration;
  size_t caught_by_validate;
  size_t caught_by_get;
  size_t damaged_bytes_returned;
} corruption_counts;

/* A full forward scan; true when it ended in MT_CORRUPTION. Counts entries returned that are not exactly an
 * original entry. */
static bool scan_detects(mt_memtable *table, const original_entry *entries, size_t *damaged) {
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  assert_non_null(iter);
  for (mt_memtable_iter_seek_to_first(iter); mt_memtable_iter_valid(iter); mt_memtable_iter_next(iter)) {
    const original_entry *original =
        find_original(entries, mt_memtable_iter_user_key(iter), mt_memtable_iter_seq(iter));
    mt_slice value = mt_memtable_iter_value(iter);
    if (original == NULL || original->type != mt_memtable_iter_type(iter) ||
        bytewise(value.data, value.len, original->value, original->value_len) != 0) {
      (*damaged)++;
    }
    /* Re-decoding the raw slice gives the same entry. */
    mt_slice raw = mt_memtable_iter_entry(iter);
    mt_entry entry;
    size_t consumed;
    assert_int_equal(mt_entry_decode(raw.data, raw.len, &entry, &consumed), MT_OK);
    assert_int_equal(consumed, raw.len);
  }
  bool detected = mt_memtable_iter_status(iter) == MT_CORRUPTION;
  /* Backward too: it must stop as well, never crash. */
  for (mt_memtable_iter_seek_to_last(iter); mt_memtable_iter_valid(iter); mt_memtable_iter_prev(iter)) {
  }
  assert_true(mt_memtable_iter_status(iter) == MT_OK || mt_memtable_iter_status(iter) == MT_CORRUPTION);
  mt_memtable_iter_destroy(iter);
  mt_memtable_user_iter *user = mt_memtable_user_iter_create(table, UINT64_MAX);
  assert_non_null(user);
  for (mt_memtable_user_iter_seek_to_first(user); mt_memtable_user_iter_valid(user); mt_memtable_user_iter_next(user)) {
    if (find_original(entries, mt_memtable_user_iter_key(user), mt_memtable_user_iter_seq(user)) == NULL) (*damaged)++;
  }
  for (mt_memtable_user_iter_seek_to_last(user); mt_memtable_user_iter_valid(user); mt_memtable_user_iter_prev(user)) {
  }
  mt_memtable_user_iter_destroy(user);
  return detected;
}

static void run_corruption(unsigned checksum_bytes, corruption_counts *counts) {
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.checksum_bytes = checksum_bytes;
  mt_memtable *table = new_table(&options);
  original_entry entries[CORRUPTION_ENTRIES];
  uint64_t rng = 99 + checksum_bytes;
  for (size_t i = 0; i < CORRUPTION_ENTRIES; i++) {
    original_entry *e = &entries[i];
    e->key_len = (size_t)snprintf(e->key, sizeof(e->key), "user-key-%03zu%.*s", i, (int)(i % 5), "xxxxx");
    e->seq = i + 1;
    e->type = i % 7 == 3 ? MT_TYPE_DELETION : MT_TYPE_VALUE;
    e->value_len = random_below(&rng, sizeof(e->value) + 1);
    for (size_t j = 0; j < e->value_len; j++) e->value[j] = (char)next_random(&rng);
    assert_int_equal(mt_memtable_add(table, e->seq, e->type, e->key, e->key_len, e->value, e->value_len), MT_OK);
  }
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  assert_non_null(iter);
  for (mt_memtable_iter_seek_to_first(iter); mt_memtable_iter_valid(iter); mt_memtable_iter_next(iter)) {
    original_entry *e =
        (original_entry *)find_original(entries, mt_memtable_iter_user_key(iter), mt_memtable_iter_seq(iter));
    assert_non_null(e);
    mt_slice raw = mt_memtable_iter_entry(iter);
    e->stored = (char *)(uintptr_t)raw.data; /* a test may write where the table only reads */
    e->stored_len = raw.len + checksum_bytes;
    e->value_start = 1 + e->key_len + 8;
    e->type_offset = 1 + e->key_len;
  }
  mt_memtable_iter_destroy(iter);

  for (size_t i = 0; i < CORRUPTION_ENTRIES; i++) {
    const original_entry *e = &entries[i];
    for (size_t byte = 0; byte < e->stored_len; byte++) {
      if (checksum_bytes == 0 && (byte == 0 || byte == e->value_start)) continue; /* the length prefixes */
      for (unsigned bit = 0; bit < 8; bit++) {
        e->stored[byte] ^= (char)(1u << bit);
        counts->flips++;
        size_t damaged = 0;
        bool by_iteration = scan_detects(table, entries, &damaged);
        mt_status validated = mt_memtable_validate(table);
        assert_true(validated == MT_OK || validated == MT_CORRUPTION);
        mt_slice value = {NULL, 0};
        mt_status got = mt_memtable_get(table, e->key, e->key_len, UINT64_MAX, &value);
        if (got == MT_OK && bytewise(value.data, value.len, e->value, e->value_len) != 0) damaged++;
        /* The value length, value and checksum bytes play no part in the order, so get lands on the entry. */
        bool lands = byte >= e->value_start;
        if (lands && checksum_bytes == 8) assert_int_equal(got, MT_CORRUPTION);
        /* A changed value length never fits the entry's recorded size exactly. */
        if (checksum_bytes != 0 && byte == e->value_start) {
          assert_int_equal(got, MT_CORRUPTION);
          assert_true(by_iteration);
          assert_int_equal(validated, MT_CORRUPTION);
        }
        /* An unknown type (any bit but the lowest of the type byte) is refused with or without checksums. */
        if (byte == e->type_offset && bit != 0) {
          assert_int_equal(got, MT_CORRUPTION);
          assert_true(by_iteration);
          assert_int_equal(validated, MT_CORRUPTION);
        }
        /* Every other key reads back unchanged, or its search meets the damage and says so. */
        for (size_t j = 0; j < CORRUPTION_ENTRIES; j++) {
          const original_entry *other = &entries[j];
          if (other == e) continue;
          mt_status status = mt_memtable_get(table, other->key, other->key_len, UINT64_MAX, &value);
          mt_status expected = other->type == MT_TYPE_VALUE ? MT_OK : MT_DELETED;
          if (status == expected) {
            if (status == MT_OK && bytewise(value.data, value.len, other->value, other->value_len) != 0) damaged++;
          } else {
            assert_true(status == MT_CORRUPTION || status == MT_NOT_FOUND);
          }
        }
        if (by_iteration) counts->caught_by_iteration++;
        if (validated == MT_CORRUPTION) counts->caught_by_validate++;
        if (got == MT_CORRUPTION) counts->caught_by_get++;
        counts->damaged_bytes_returned += damaged;
        if (checksum_bytes == 8) {
          assert_true(by_iteration);
          assert_int_equal(validated, MT_CORRUPTION);
          assert_int_equal(damaged, 0);
        }
        e->stored[byte] ^= (char)(1u << bit);
      }
    }
  }
  /* Restored: everything is sound again. */
  size_t damaged = 0;
  assert_false(scan_detects(table, entries, &damaged));
  assert_int_equal(damaged, 0);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
  print_message("checksum %u bytes: %zu flips, caught by iteration %zu, validate %zu, get %zu; damaged returns %zu\n",
                checksum_bytes, counts->flips, counts->caught_by_iteration, counts->caught_by_validate,
                counts->caught_by_get, counts->damaged_bytes_returned);
}

static void memtable_test_corruption_8_byte_checksum_catches_every_flip(void **state) {
  (void)state;
  corruption_counts counts = {0, 0, 0, 0, 0};
  run_corruption(8, &counts);
  assert_int_equal(counts.caught_by_iteration, counts.flips);
  assert_int_equal(counts.caught_by_validate, counts.flips);
  assert_int_equal(counts.damaged_bytes_returned, 0);
}

static void memtable_test_corruption_4_byte_checksum(void **state) {
  (void)state;
  corruption_counts counts = {0, 0, 0, 0, 0};
  run_corruption(4, &counts);
  assert_int_equal(counts.caught_by_iteration, counts.flips);
  assert_int_equal(counts.caught_by_validate, counts.flips);
}

static void memtable_test_corruption_2_byte_checksum(void **state) {
  (void)state;
  corruption_counts counts = {0, 0, 0, 0, 0};
  run_corruption(2, &counts);
  assert_true(counts.caught_by_iteration * 1000 >= counts.flips * 995);
  assert_true(counts.caught_by_validate * 1000 >= counts.flips * 995);
}

static void memtable_test_corruption_1_byte_checksum(void **state) {
  (void)state;
  corruption_counts counts = {0, 0, 0, 0, 0};
  run_corruption(1, &counts);
  assert_true(counts.caught_by_iteration * 100 >= counts.flips * 95);
  assert_true(counts.caught_by_validate * 100 >= counts.flips * 95);
}

static void memtable_test_corruption_without_checksum_stays_in_bounds(void **state) {
  (void)state;
  /* Without checksums damaged keys and values can be returned (the length prefixes are left intact, see
   * run_corruption), but every read stays inside the entry and damage to the type is still caught. */
  corruption_counts counts = {0, 0, 0, 0, 0};
  run_corruption(0, &counts);
  assert_true(counts.caught_by_iteration > 0);
  assert_true(counts.caught_by_validate >= counts.caught_by_iteration);
}

/* Bloom filter. */

static void memtable_test_bloom_has_no_false_negatives(void **state) {
  (void)state;
  const size_t sizes[] = {1, 2, 10, 100, 1000, 10000};
  const unsigned bits_per_key[] = {1, 4, 10, 20};
  char key[32];
  for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
    for (size_t b = 0; b < sizeof(bits_per_key) / sizeof(bits_per_key[0]); b++) {
      for (int undersized = 0; undersized < 2; undersized++) {
        mt_memtable_options options;
        mt_memtable_options_init(&options);
        options.bloom_bits_per_key = bits_per_key[b];
        options.bloom_expected_entries = undersized ? sizes[s] / 10 + 1 : sizes[s];
        mt_memtable *table = new_table(&options);
        for (size_t i = 0; i < sizes[s]; i++) {
          int len = snprintf(key, sizeof(key), "bloom-%zu", i * 7919);
          assert_int_equal(mt_memtable_add(table, i + 1, MT_TYPE_VALUE, key, (size_t)len, "v", 1), MT_OK);
        }
        for (size_t i = 0; i < sizes[s]; i++) {
          int len = snprintf(key, sizeof(key), "bloom-%zu", i * 7919);
          assert_int_equal(mt_memtable_get(table, key, (size_t)len, UINT64_MAX, NULL), MT_OK);
          len = snprintf(key, sizeof(key), "absent-%zu", i);
          assert_int_equal(mt_memtable_get(table, key, (size_t)len, UINT64_MAX, NULL), MT_NOT_FOUND);
        }
        mt_memtable_unref(table);
      }
    }
  }
}

static int counting_bytewise_compare(void *ctx, const char *a, size_t a_len, const char *b, size_t b_len) {
  compare_context *context = ctx;
  /* Relaxed: a call counter read by the same thread. */
  atomic_fetch_add_explicit(&context->calls, 1, memory_order_relaxed);
  return bytewise(a, a_len, b, b_len);
}

static void memtable_test_bloom_answers_absent_keys_without_search(void **state) {
  (void)state;
  compare_context context = {COMPARE_CONTEXT_MAGIC, 0, false};
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.compare = counting_bytewise_compare;
  options.compare_ctx = &context;
  options.bloom_bits_per_key = 10;
  options.bloom_expected_entries = 1000;
  options.bloom_bytewise_equal_keys = true;
  mt_memtable *table = new_table(&options);
  char key[32];
  for (size_t i = 0; i < 1000; i++) {
    int len = snprintf(key, sizeof(key), "present-%zu", i);
    assert_int_equal(mt_memtable_add(table, i + 1, MT_TYPE_VALUE, key, (size_t)len, "v", 1), MT_OK);
  }
  size_t searched = 0;
  for (size_t i = 0; i < 10000; i++) {
    int len = snprintf(key, sizeof(key), "absent-%zu", i);
    size_t before = atomic_load_explicit(&context.calls, memory_order_relaxed);
    assert_int_equal(mt_memtable_get(table, key, (size_t)len, UINT64_MAX, NULL), MT_NOT_FOUND);
    if (atomic_load_explicit(&context.calls, memory_order_relaxed) != before) searched++;
  }
  /* 10 bits per key: about 1% false positives; only those reach the skiplist. */
  print_message("absent keys searched despite the filter: %zu of 10000\n", searched);
  assert_true(searched < 300);
  for (size_t i = 0; i < 1000; i++) {
    int len = snprintf(key, sizeof(key), "present-%zu", i);
    assert_int_equal(mt_memtable_get(table, key, (size_t)len, UINT64_MAX, NULL), MT_OK);
  }
  mt_memtable_unref(table);
}

static int case_insensitive_compare(void *ctx, const char *a, size_t a_len, const char *b, size_t b_len) {
  (void)ctx;
  size_t common = a_len < b_len ? a_len : b_len;
  for (size_t i = 0; i < common; i++) {
    int x = (a[i] >= 'A' && a[i] <= 'Z') ? a[i] + 32 : a[i];
    int y = (b[i] >= 'A' && b[i] <= 'Z') ? b[i] + 32 : b[i];
    if (x != y) return x - y;
  }
  return (a_len > b_len) - (a_len < b_len);
}

static void memtable_test_bloom_ignored_for_custom_comparator(void **state) {
  (void)state;
  /* Comparator-equal keys with different bytes: a filter over bytes would wrongly answer "absent". */
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.compare = case_insensitive_compare;
  options.bloom_bits_per_key = 10;
  mt_memtable *table = new_table(&options);
  put(table, 1, "Hello", "world");
  assert_get(table, "hello", UINT64_MAX, MT_OK, "world");
  assert_get(table, "HELLO", UINT64_MAX, MT_OK, "world");
  assert_int_equal(mt_memtable_add(table, 1, MT_TYPE_VALUE, "hELLo", 5, "x", 1), MT_EXISTS);
  mt_memtable_unref(table);
}

/* Lifetime and statistics. */

static void memtable_test_iterators_keep_the_table_alive(void **state) {
  (void)state;
  counting_allocator allocator = {0, 0, 0, 0, 0};
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.arena.block_size = 1024;
  use_counting_allocator(&options, &allocator);
  mt_memtable *table = new_table(&options);
  char key[16];
  for (size_t i = 0; i < 100; i++) {
    snprintf(key, sizeof(key), "k%03zu", i);
    put(table, i + 1, key, "value");
  }
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  mt_memtable_user_iter *user = mt_memtable_user_iter_create(table, UINT64_MAX);
  assert_non_null(iter);
  assert_non_null(user);
  mt_memtable_ref(table);
  mt_memtable_unref(table);
  mt_memtable_unref(table); /* the creator's reference: only the iterators hold it now */
  assert_true(allocator.outstanding > 2);
  size_t seen = 0;
  for (mt_memtable_iter_seek_to_first(iter); mt_memtable_iter_valid(iter); mt_memtable_iter_next(iter)) seen++;
  assert_int_equal(seen, 100);
  mt_memtable_iter_destroy(iter);
  assert_true(allocator.outstanding > 1);
  seen = 0;
  for (mt_memtable_user_iter_seek_to_last(user); mt_memtable_user_iter_valid(user); mt_memtable_user_iter_prev(user)) {
    assert_slice_str(mt_memtable_user_iter_value(user), "value");
    seen++;
  }
  assert_int_equal(seen, 100);
  mt_memtable_user_iter_destroy(user); /* the last reference: the whole table goes */
  assert_int_equal(allocator.outstanding, 0);
}

static void memtable_test_memory_usage_counts_and_should_flush(void **state) {
  (void)state;
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.arena.block_size = 4096;
  options.write_buffer_size = 64 * 1024;
  options.bloom_bits_per_key = 10;
  mt_memtable *table = new_table(&options);
  size_t usage = mt_memtable_approximate_memory_usage(table);
  assert_true(usage > 0); /* the header and filter live in the arena */
  assert_true(usage < options.write_buffer_size);
  assert_false(mt_memtable_should_flush(table));
  char key[16];
  char value[200];
  memset(value, 'x', sizeof(value));
  uint64_t added = 0, deletions = 0;
  while (!mt_memtable_should_flush(table)) {
    snprintf(key, sizeof(key), "key-%06" PRIu64, added);
    mt_entry_type type = added % 5 == 0 ? MT_TYPE_DELETION : MT_TYPE_VALUE;
    assert_int_equal(mt_memtable_add(table, added + 1, type, key, strlen(key), value, sizeof(value)), MT_OK);
    added++;
    if (type == MT_TYPE_DELETION) deletions++;
    size_t now = mt_memtable_approximate_memory_usage(table);
    assert_true(now >= usage);
    usage = now;
    assert_int_equal(mt_memtable_entry_count(table), added);
    assert_int_equal(mt_memtable_deletion_count(table), deletions);
  }
  assert_true(usage >= options.write_buffer_size);
  assert_true(added * (sizeof(value) + 10) <= usage);
  /* Failed adds change no count. */
  assert_int_equal(mt_memtable_add(table, 1, MT_TYPE_VALUE, "key-000000", 10, "", 0), MT_EXISTS);
  assert_int_equal(mt_memtable_entry_count(table), added);
  assert_int_equal(mt_memtable_deletion_count(table), deletions);
  mt_memtable_unref(table);
  /* The defaults: a 4 MiB budget. */
  table = new_table(NULL);
  assert_false(mt_memtable_should_flush(table));
  mt_memtable_unref(table);
}

/* One writer, two readers. The writer adds put(key i) and, after every 8th key, a deletion of an earlier
 * key, with consecutive sequence numbers, then publishes how many keys it has put (release). A reader that
 * read count p (acquire) knows every add up to put(key p-1) happened before its reads. */
#define CONCURRENT_KEYS 12000

typedef struct concurrent_state {
  mt_memtable *table;
  _Atomic uint64_t published;
  _Atomic bool done;
  _Atomic size_t reader_checks;
} concurrent_state;

static uint64_t put_seq(uint64_t i) { return i + 1 + i / 8; }
/* Key i - 7 is deleted right after key i is put, when i % 8 == 7. */
static bool deleted_at(uint64_t key, uint64_t snapshot) { return key % 8 == 0 && put_seq(key + 7) + 1 <= snapshot; }

static int concurrent_key(char *buf, uint64_t i) { return snprintf(buf, 24, "ckey-%08" PRIu64, i); }
static int concurrent_value(char *buf, uint64_t i) { return snprintf(buf, 32, "value-of-%" PRIu64, i * 31); }

static void *concurrent_writer(void *arg) {
  concurrent_state *state = arg;
  char key[24];
  char value[32];
  for (uint64_t i = 0; i < CONCURRENT_KEYS; i++) {
    int key_len = concurrent_key(key, i);
    int value_len = concurrent_value(value, i);
    mt_status status =
        mt_memtable_add(state->table, put_seq(i), MT_TYPE_VALUE, key, (size_t)key_len, value, (size_t)value_len);
    if (status != MT_OK) abort(); /* cmocka's asserts belong to the main thread */
    if (i % 8 == 7) {
      key_len = concurrent_key(key, i - 7);
      if (mt_memtable_add(state->table, put_seq(i) + 1, MT_TYPE_DELETION, key, (size_t)key_len, NULL, 0) != MT_OK)
        abort();
    }
    /* Release: every add above happens-before a reader's acquire that reads this count. */
    atomic_store_explicit(&state->published, i + 1, memory_order_release);
  }
  /* Release: the final count and all adds are visible to readers that see done. */
  atomic_store_explicit(&state->done, true, memory_order_release);
  return NULL;
}

#define READER_CHECK(condition)                                                           \
  do {                                                                                    \
    if (!(condition)) {                                                                   \
      fprintf(stderr, "concurrent reader: %s failed at line %d\n", #condition, __LINE__); \
      abort();                                                                            \
    }                                                                                     \
  } while (0)

/* The user view at the snapshot of key p-1's put: exactly keys 0..p-1 minus those deleted by then. */
static void reader_check_user_view(concurrent_state *state, uint64_t p, bool backward) {
  uint64_t snapshot = put_seq(p - 1);
  mt_memtable_user_iter *user = mt_memtable_user_iter_create(state->table, snapshot);
  READER_CHECK(user != NULL);
  char key[24];
  char value[32];
  uint64_t expected = backward ? p : 0;
  if (backward) {
    mt_memtable_user_iter_seek_to_last(user);
  } else {
    mt_memtable_user_iter_seek_to_first(user);
  }
  for (;;) {
    /* The next key expected in the view. */
    if (backward) {
      do {
        expected = expected == 0 ? UINT64_MAX : expected - 1;
      } while (expected != UINT64_MAX && deleted_at(expected, snapshot));
    } else {
      while (expected < p && deleted_at(expected, snapshot)) expected++;
    }
    bool more = backward ? expected != UINT64_MAX : expected < p;
    READER_CHECK(mt_memtable_user_iter_valid(user) == more);
    if (!more) break;
    int key_len = concurrent_key(key, expected);
    int value_len = concurrent_value(value, expected);
    mt_slice got = mt_memtable_user_iter_key(user);
    READER_CHECK(got.len == (size_t)key_len && memcmp(got.data, key, got.len) == 0);
    got = mt_memtable_user_iter_value(user);
    READER_CHECK(got.len == (size_t)value_len && memcmp(got.data, value, got.len) == 0);
    if (backward) {
      mt_memtable_user_iter_prev(user);
    } else {
      mt_memtable_user_iter_next(user);
      expected++;
    }
  }
  READER_CHECK(mt_memtable_user_iter_status(user) == MT_OK);
  mt_memtable_user_iter_destroy(user);
}

/* The whole table in internal order: strictly ascending, every entry decodes and carries what the writer
 * wrote, and at least the published puts are there. */
static void reader_check_scan(concurrent_state *state, uint64_t p) {
  mt_memtable_iter *iter = mt_memtable_iter_create(state->table);
  READER_CHECK(iter != NULL);
  char value[32];
  uint64_t puts = 0;
  char previous_key[32];
  size_t previous_len = 0;
  uint64_t previous_seq = 0;
  bool first = true;
  for (mt_memtable_iter_seek_to_first(iter); mt_memtable_iter_valid(iter); mt_memtable_iter_next(iter)) {
    mt_slice key = mt_memtable_iter_user_key(iter);
    uint64_t seq = mt_memtable_iter_seq(iter);
    READER_CHECK(key.len < sizeof(previous_key));
    if (!first) {
      int order = bytewise(previous_key, previous_len, key.data, key.len);
      READER_CHECK(order < 0 || (order == 0 && previous_seq > seq));
    }
    uint64_t index = strtoull(key.data + 5, NULL, 10);
    if (mt_memtable_iter_type(iter) == MT_TYPE_VALUE) {
      READER_CHECK(seq == put_seq(index));
      int value_len = concurrent_value(value, index);
      mt_slice got = mt_memtable_iter_value(iter);
      READER_CHECK(got.len == (size_t)value_len && memcmp(got.data, value, got.len) == 0);
      puts++;
    } else {
      READER_CHECK(index % 8 == 0 && seq == put_seq(index + 7) + 1);
    }
    mt_slice raw = mt_memtable_iter_entry(iter);
    mt_entry entry;
    READER_CHECK(mt_entry_decode(raw.data, raw.len, &entry, NULL) == MT_OK && entry.seq == seq);
    memcpy(previous_key, key.data, key.len);
    previous_len = key.len;
    previous_seq = seq;
    first = false;
  }
  READER_CHECK(mt_memtable_iter_status(iter) == MT_OK);
  READER_CHECK(puts >= p);
  mt_memtable_iter_destroy(iter);
}

static void *concurrent_reader(void *arg) {
  concurrent_state *state = arg;
  uint64_t rng = (uint64_t)(uintptr_t)&rng;
  char key[24];
  char value[32];
  size_t checks = 0;
  for (size_t round = 0;; round++) {
    /* Acquire: pairs with the writer's release of done; afterwards everything is published. */
    bool finished = atomic_load_explicit(&state->done, memory_order_acquire);
    /* Acquire: pairs with the writer's release; every add up to put(key p-1) is visible. */
    uint64_t p = atomic_load_explicit(&state->published, memory_order_acquire);
    if (p > 0) {
      uint64_t i = next_random(&rng) % p;
      int key_len = concurrent_key(key, i);
      int value_len = concurrent_value(value, i);
      mt_slice got;
      READER_CHECK(mt_memtable_get(state->table, key, (size_t)key_len, put_seq(i), &got) == MT_OK);
      READER_CHECK(got.len == (size_t)value_len && memcmp(got.data, value, got.len) == 0);
      READER_CHECK(mt_memtable_get(state->table, key, (size_t)key_len, put_seq(i) - 1, &got) == MT_NOT_FOUND);
      mt_status latest = mt_memtable_get(state->table, key, (size_t)key_len, UINT64_MAX, &got);
      if (i % 8 == 0) {
        READER_CHECK(latest == MT_OK || latest == MT_DELETED);
      } else {
        READER_CHECK(latest == MT_OK);
      }
      if (deleted_at(i, put_seq(p - 1))) READER_CHECK(latest == MT_DELETED);
      key_len = concurrent_key(key, i + CONCURRENT_KEYS); /* never added */
      READER_CHECK(mt_memtable_get(state->table, key, (size_t)key_len, UINT64_MAX, &got) == MT_NOT_FOUND);
      checks++;
      if (round % 256 == 0) {
        reader_check_user_view(state, p, round % 512 == 0);
        reader_check_scan(state, p);
        checks++;
      }
    }
    if (finished) break;
  }
  uint64_t p = atomic_load_explicit(&state->published, memory_order_acquire); /* Acquire: as above. */
  reader_check_user_view(state, p, false);
  reader_check_user_view(state, p, true);
  reader_check_scan(state, p);
  /* Relaxed: a statistic for the main thread, read after join. */
  atomic_fetch_add_explicit(&state->reader_checks, checks, memory_order_relaxed);
  return NULL;
}

static void memtable_test_concurrent_readers(void **state) {
  (void)state;
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.arena.block_size = 4096;
  options.checksum_bytes = 4;
  options.bloom_bits_per_key = 10;
  options.bloom_expected_entries = CONCURRENT_KEYS;
  concurrent_state shared;
  shared.table = new_table(&options);
  atomic_init(&shared.published, 0);
  atomic_init(&shared.done, false);
  atomic_init(&shared.reader_checks, 0);
  pthread_t writer, readers[2];
  assert_int_equal(pthread_create(&readers[0], NULL, concurrent_reader, &shared), 0);
  assert_int_equal(pthread_create(&readers[1], NULL, concurrent_reader, &shared), 0);
  assert_int_equal(pthread_create(&writer, NULL, concurrent_writer, &shared), 0);
  assert_int_equal(pthread_join(writer, NULL), 0);
  assert_int_equal(pthread_join(readers[0], NULL), 0);
  assert_int_equal(pthread_join(readers[1], NULL), 0);
  assert_int_equal(mt_memtable_entry_count(shared.table), CONCURRENT_KEYS + CONCURRENT_KEYS / 8);
  assert_int_equal(mt_memtable_deletion_count(shared.table), CONCURRENT_KEYS / 8);
  assert_int_equal(mt_memtable_validate(shared.table), MT_OK);
  assert_true(atomic_load_explicit(&shared.reader_checks, memory_order_relaxed) > 0);
  mt_memtable_unref(shared.table);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(memtable_test_empty),
      cmocka_unit_test(memtable_test_overwrite_delete_reput_at_snapshots),
      cmocka_unit_test(memtable_test_iteration_order_many_versions),
      cmocka_unit_test(memtable_test_seek_and_seek_for_prev),
      cmocka_unit_test(memtable_test_user_iterator_snapshot_view),
      cmocka_unit_test(memtable_test_custom_comparator_reverse_with_context),
      cmocka_unit_test(memtable_test_empty_keys_and_values),
      cmocka_unit_test(memtable_test_large_values_beyond_block_size),
      cmocka_unit_test(memtable_test_entry_bytes_match_leveldb),
      cmocka_unit_test(memtable_test_entry_decode_rejects_malformed),
      cmocka_unit_test(memtable_test_entry_encode_rejects_bad_arguments),
      cmocka_unit_test(memtable_test_invalid_arguments),
      cmocka_unit_test(memtable_test_randomized_model),
      cmocka_unit_test(memtable_test_allocation_failure_at_every_point),
      cmocka_unit_test(memtable_test_long_keys_and_lookup_allocation_failure),
      cmocka_unit_test(memtable_test_capacity_full),
      cmocka_unit_test(memtable_test_user_iterator_without_memory_for_seeks),
      cmocka_unit_test(memtable_test_corruption_8_byte_checksum_catches_every_flip),
      cmocka_unit_test(memtable_test_corruption_4_byte_checksum),
      cmocka_unit_test(memtable_test_corruption_2_byte_checksum),
      cmocka_unit_test(memtable_test_corruption_1_byte_checksum),
      cmocka_unit_test(memtable_test_corruption_without_checksum_stays_in_bounds),
      cmocka_unit_test(memtable_test_bloom_has_no_false_negatives),
      cmocka_unit_test(memtable_test_bloom_answers_absent_keys_without_search),
      cmocka_unit_test(memtable_test_bloom_ignored_for_custom_comparator),
      cmocka_unit_test(memtable_test_iterators_keep_the_table_alive),
      cmocka_unit_test(memtable_test_memory_usage_counts_and_should_flush),
      cmocka_unit_test(memtable_test_concurrent_readers),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
