/* entry_codec_test: the memtable entry encoding against LevelDB's bytes, decoding of malformed input, and
 * the encoder's argument checks. */
#include "support/test_util.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/memtable.h>

#include "support/memtable_checks.h"

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

static void entry_codec_test_decode_with_unbounded_length(void **state) {
  (void)state;
  char buf[64];
  size_t written;
  assert_int_equal(mt_entry_encode(buf, sizeof(buf), 7, MT_TYPE_VALUE, "key", 3, "value", 5, &written), MT_OK);
  /* A length the caller cannot have: decoding stays inside the entry's own bytes and forms no pointer
   * beyond them (UBSan: pointer-overflow). */
  mt_entry entry;
  size_t consumed = 0;
  assert_int_equal(mt_entry_decode(buf, SIZE_MAX, &entry, &consumed), MT_OK);
  assert_int_equal(consumed, written);
  assert_int_equal(entry.seq, 7);
  assert_int_equal(entry.value.len, 5);
  assert_int_equal(mt_entry_decode(buf, SIZE_MAX - 3, &entry, &consumed), MT_OK);
  assert_int_equal(consumed, written);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(memtable_test_entry_bytes_match_leveldb),
      cmocka_unit_test(memtable_test_entry_decode_rejects_malformed),
      cmocka_unit_test(memtable_test_entry_encode_rejects_bad_arguments),
      cmocka_unit_test(entry_codec_test_decode_with_unbounded_length),
  };
  return MT_RUN_TESTS(tests, argc, argv);
}
