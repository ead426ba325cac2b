/* memtable_test: LevelDB MemTable semantics: add and get at snapshots, the internal and user iterators,
 * custom comparators, the bloom filter, argument checks, references and memory usage. */
#include "support/test_util.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/memtable.h>

#include "support/allocator.h"
#include "support/memtable_checks.h"
#include "support/model.h"
#include "support/rng.h"

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
    size_t j = mt_rng_below(&rng, (size_t)i + 1);
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

static int reverse_compare(void *ctx, const char *a, size_t a_len, const char *b, size_t b_len) {
  compare_context *context = ctx;
  if (context->magic != COMPARE_CONTEXT_MAGIC) context->wrong_context_seen = true;
  /* Relaxed: a call counter; the test reads it after the calls. */
  atomic_fetch_add_explicit(&context->calls, 1, memory_order_relaxed);
  return model_bytewise(b, b_len, a, a_len);
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

/* The default comparator compares user keys eight bytes at a time where it can: keys that differ only past
 * one, two or three words, in the high bit of a byte, in a byte's low bits with the rest of the word equal,
 * or only in length must still sort exactly as memcmp then length sort them, and be found by get and seek. */
#define WORD_KEYS 600
#define WORD_KEY_MAX 40

typedef struct word_key {
  char data[WORD_KEY_MAX];
  size_t len;
} word_key;

static int word_key_compare(const void *a, const void *b) {
  const word_key *x = a;
  const word_key *y = b;
  return model_bytewise(x->data, x->len, y->data, y->len);
}

static void memtable_test_bytewise_order_across_word_boundaries(void **state) {
  (void)state;
  static const char alphabet[] = {0x00, 0x01, 0x02, 0x7f, (char)0x80, (char)0x81, (char)0xfe, (char)0xff};
  uint64_t rng = 0x5eedf00dULL;
  word_key *keys = calloc(WORD_KEYS, sizeof *keys);
  assert_non_null(keys);
  size_t count = 0;
  while (count < WORD_KEYS) {
    /* A shared prefix of 0..39 bytes from one of two bases, then bytes from the alphabet: keys differ at
     * every position of a word and beyond it, and many are prefixes of one another. */
    word_key key;
    size_t base = mt_rng_below(&rng, 2);
    key.len = mt_rng_below(&rng, WORD_KEY_MAX + 1);
    size_t shared = mt_rng_below(&rng, key.len + 1);
    for (size_t i = 0; i < key.len; i++) {
      key.data[i] =
          i < shared ? alphabet[(i * 3 + base) % sizeof alphabet] : alphabet[mt_rng_below(&rng, sizeof alphabet)];
    }
    bool duplicate = false;
    for (size_t j = 0; j < count && !duplicate; j++) duplicate = word_key_compare(&keys[j], &key) == 0;
    if (!duplicate) keys[count++] = key;
  }
  mt_memtable *table = new_table(NULL);
  for (size_t i = 0; i < count; i++) {
    assert_int_equal(mt_memtable_add(table, i + 1, MT_TYPE_VALUE, keys[i].data, keys[i].len, &i, sizeof i), MT_OK);
  }
  for (size_t i = 0; i < count; i++) {
    mt_slice value;
    assert_int_equal(mt_memtable_get(table, keys[i].data, keys[i].len, MT_MAX_SEQUENCE, &value), MT_OK);
    size_t stored;
    assert_int_equal(value.len, sizeof stored);
    memcpy(&stored, value.data, sizeof stored);
    assert_int_equal(stored, i);
  }
  qsort(keys, count, sizeof *keys, word_key_compare);
  mt_memtable_iter *iter = mt_memtable_iter_create(table);
  assert_non_null(iter);
  mt_memtable_iter_seek_to_first(iter);
  for (size_t i = 0; i < count; i++) {
    assert_true(mt_memtable_iter_valid(iter));
    mt_slice user_key = mt_memtable_iter_user_key(iter);
    assert_int_equal(user_key.len, keys[i].len);
    assert_memory_equal(user_key.data, keys[i].data, keys[i].len);
    mt_memtable_iter_next(iter);
  }
  assert_false(mt_memtable_iter_valid(iter));
  for (size_t i = 0; i < count; i++) { /* a seek lands on the key itself, not a neighbour */
    mt_memtable_iter_seek(iter, keys[i].data, keys[i].len, MT_MAX_SEQUENCE);
    assert_true(mt_memtable_iter_valid(iter));
    mt_slice user_key = mt_memtable_iter_user_key(iter);
    assert_int_equal(user_key.len, keys[i].len);
    assert_memory_equal(user_key.data, keys[i].data, keys[i].len);
  }
  mt_memtable_iter_destroy(iter);
  assert_int_equal(mt_memtable_validate(table), MT_OK);
  mt_memtable_unref(table);
  free(keys);
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
  options.skiplist_branching = 1;
  mt_memtable *refused = NULL;
  assert_int_equal(mt_memtable_try_create(&options, &refused), MT_INVALID_ARGUMENT);
  assert_null(refused);
  options.skiplist_branching = MT_MEMTABLE_MAX_SKIPLIST_BRANCHING + 1;
  assert_int_equal(mt_memtable_try_create(&options, &refused), MT_INVALID_ARGUMENT);
  assert_null(refused);
  options.skiplist_branching = 0; /* the default */
  assert_int_equal(mt_memtable_try_create(&options, &refused), MT_OK);
  mt_memtable_unref(refused);
  mt_memtable_options_init(&options);
  options.arena.block_size = MT_ARENA_MAX_BLOCK_SIZE + 1;
  assert_null(mt_memtable_create(&options));
  mt_memtable_options_init(&options);
  options.arena.allocator.alloc = test_allocator_alloc; /* without a free */
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
  return model_bytewise(a, a_len, b, b_len);
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
  options.bytewise_equal_keys = true;
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
  test_allocator allocator = TEST_ALLOCATOR_INIT;
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  options.arena.block_size = 1024;
  options.arena.allocator = test_allocator_hooks(&allocator);
  options.reader_allocator = test_allocator_hooks(&allocator); /* the iterators too */
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
  /* The counts below are the arena's blocks plus the iterators (both drawn from the one test allocator). */
  assert_true(allocator.live_blocks > 2);
  size_t seen = 0;
  for (mt_memtable_iter_seek_to_first(iter); mt_memtable_iter_valid(iter); mt_memtable_iter_next(iter)) seen++;
  assert_int_equal(seen, 100);
  mt_memtable_iter_destroy(iter);
  assert_true(allocator.live_blocks > 1);
  seen = 0;
  for (mt_memtable_user_iter_seek_to_last(user); mt_memtable_user_iter_valid(user); mt_memtable_user_iter_prev(user)) {
    assert_slice_str(mt_memtable_user_iter_value(user), "value");
    seen++;
  }
  assert_int_equal(seen, 100);
  mt_memtable_user_iter_destroy(user); /* the last reference: the whole table goes */
  assert_int_equal(allocator.live_blocks, 0);
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
      cmocka_unit_test(memtable_test_bytewise_order_across_word_boundaries),
      cmocka_unit_test(memtable_test_invalid_arguments),
      cmocka_unit_test(memtable_test_bloom_has_no_false_negatives),
      cmocka_unit_test(memtable_test_bloom_answers_absent_keys_without_search),
      cmocka_unit_test(memtable_test_bloom_ignored_for_custom_comparator),
      cmocka_unit_test(memtable_test_iterators_keep_the_table_alive),
      cmocka_unit_test(memtable_test_memory_usage_counts_and_should_flush),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
