/* fuzz/memtable/entry_decode_fuzz.c - libFuzzer target for the public entry codec (mt_entry_decode / mt_entry_encode).
 *
 * mt_entry_decode is the one place the library parses caller-supplied bytes. Each input is used twice:
 * - as raw bytes to decode, compared with an independent reference decoder written here from the format in
 *   memtable.h: the same accept/reject decision, the same fields pointing at the same bytes, and nothing
 *   read outside the input (ASan; the input is an exact-size heap copy). An accepted entry re-encodes with
 *   mt_entry_encode to exactly the bytes it was decoded from when its two varints are canonical. Non-canonical
 *   varints (0x80 0x00 for 0) are accepted, as LevelDB does, so for them the check is that the re-encoding is
 *   shorter and decodes to the same fields. Any shorter prefix of an accepted entry must be rejected.
 * - as (seq, type, key, value) to encode, compared with a reference encoder: the same size, the same bytes or
 *   the same refusal (unknown type, seq above MT_MAX_SEQUENCE, buffer one byte short), and a decode that
 *   gives the fields back.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/memtable.h>

#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what) {
  fprintf(stderr, "entry_decode_fuzz: %s\n", what);
  abort();
}

typedef struct reference_entry {
  size_t key_offset, key_len;
  uint64_t seq;
  unsigned type;
  size_t value_offset, value_len;
  size_t consumed;
  bool canonical; /* both varints minimal */
} reference_entry;

/* A varint32 as LevelDB writes it: 7 bits a byte, low first, at most 5 bytes, the 5th holding the top 4 bits
 * only (a value beyond 32 bits is malformed). Returns the bytes used, 0 when malformed or truncated. */
static size_t reference_varint32(const uint8_t *p, size_t len, uint32_t *value, bool *canonical) {
  uint64_t result = 0;
  for (size_t i = 0; i < 5 && i < len; i++) {
    result |= (uint64_t)(p[i] & 0x7f) << (7 * i);
    if (p[i] & 0x80) continue;
    if (i == 4 && p[i] > 0x0f) return 0;
    *value = (uint32_t)result;
    *canonical = i == 0 || p[i] != 0;
    return i + 1;
  }
  return 0;
}

static bool reference_decode(const uint8_t *data, size_t len, reference_entry *out) {
  uint32_t internal_len, value_len;
  bool key_canonical, value_canonical;
  size_t pos = reference_varint32(data, len, &internal_len, &key_canonical);
  if (pos == 0 || internal_len < 8 || internal_len > len - pos) return false;
  out->key_offset = pos;
  out->key_len = internal_len - 8;
  uint64_t tag = 0;
  for (size_t i = 0; i < 8; i++) tag |= (uint64_t)data[pos + out->key_len + i] << (8 * i);
  if ((tag & 0xff) > 1) return false;
  out->seq = tag >> 8;
  out->type = (unsigned)(tag & 0xff);
  pos += internal_len;
  size_t used = reference_varint32(data + pos, len - pos, &value_len, &value_canonical);
  if (used == 0 || value_len > len - pos - used) return false;
  out->value_offset = pos + used;
  out->value_len = value_len;
  out->consumed = out->value_offset + value_len;
  out->canonical = key_canonical && value_canonical;
  return true;
}

static size_t reference_encode_varint32(uint8_t *out, uint32_t value) {
  size_t n = 0;
  while (value >= 0x80) {
    out[n++] = (uint8_t)(value | 0x80);
    value >>= 7;
  }
  out[n++] = (uint8_t)value;
  return n;
}

static size_t varint32_length(uint32_t value) {
  uint8_t scratch[5];
  return reference_encode_varint32(scratch, value);
}

static bool same_fields(const mt_entry *a, const mt_entry *b) {
  return a->seq == b->seq && a->type == b->type && a->user_key.len == b->user_key.len &&
         a->value.len == b->value.len &&
         (a->user_key.len == 0 || memcmp(a->user_key.data, b->user_key.data, a->user_key.len) == 0) &&
         (a->value.len == 0 || memcmp(a->value.data, b->value.data, a->value.len) == 0);
}

static void check_decode(const uint8_t *data, size_t size) {
  mt_entry entry;
  size_t consumed = SIZE_MAX;
  mt_status status = mt_entry_decode(data, size, &entry, &consumed);
  reference_entry ref;
  bool valid = reference_decode(data, size, &ref);
  if (!valid) {
    if (status != MT_CORRUPTION) fail("decode accepted bytes the reference rejects, or did not say MT_CORRUPTION");
    return;
  }
  if (status != MT_OK) fail("decode rejected a well-formed entry");
  if (consumed != ref.consumed) fail("decode consumed a different length");
  if (entry.user_key.data != (const char *)data + ref.key_offset || entry.user_key.len != ref.key_len)
    fail("decode: user key not where the format puts it");
  if (entry.value.data != (const char *)data + ref.value_offset || entry.value.len != ref.value_len)
    fail("decode: value not where the format puts it");
  if (entry.seq != ref.seq || (unsigned)entry.type != ref.type) fail("decode: seq or type differs");

  if (mt_entry_decode(data, size, &entry, NULL) != MT_OK) fail("decode with consumed NULL failed");
  if (mt_entry_decode(data, size, NULL, &consumed) != MT_INVALID_ARGUMENT) fail("decode into NULL entry");
  /* Every proper prefix is truncated: the entry's last byte is always needed. */
  mt_entry prefix_entry;
  if (mt_entry_decode(data, ref.consumed - 1, &prefix_entry, NULL) != MT_CORRUPTION) fail("decode accepted a prefix");
  if (ref.consumed > 2 && mt_entry_decode(data, ref.consumed / 2, &prefix_entry, NULL) != MT_CORRUPTION)
    fail("decode accepted half an entry");

  size_t encoded_size = mt_entry_encoded_size(entry.user_key.len, entry.value.len);
  if (encoded_size == 0 || encoded_size > ref.consumed) fail("encoded size larger than the decoded entry");
  char *encoded = malloc(encoded_size);
  if (encoded == NULL) abort();
  size_t written = 0;
  status = mt_entry_encode(encoded, encoded_size, entry.seq, entry.type, entry.user_key.data, entry.user_key.len,
                           entry.value.data, entry.value.len, &written);
  if (status != MT_OK || written != encoded_size) fail("re-encoding a decoded entry failed");
  if (ref.canonical && (encoded_size != ref.consumed || memcmp(encoded, data, encoded_size) != 0))
    fail("canonical entry does not round-trip to the same bytes");
  if (!ref.canonical && encoded_size >= ref.consumed) fail("a non-canonical entry re-encoded no shorter");
  mt_entry again;
  if (mt_entry_decode(encoded, encoded_size, &again, &consumed) != MT_OK || consumed != encoded_size ||
      !same_fields(&entry, &again))
    fail("the re-encoded entry decodes differently");
  free(encoded);
}

static void check_encode(fuzz_input *in) {
  uint64_t seq = fuzz_u64(in);
  uint8_t shape = fuzz_u8(in);
  if (shape & 1) seq &= MT_MAX_SEQUENCE;
  unsigned type = (shape >> 1) & 3; /* 2 and 3 are unknown */
  size_t key_len, value_len;
  const uint8_t *key = fuzz_bytes(in, 300, &key_len);
  const uint8_t *value = fuzz_bytes(in, 300, &value_len);
  bool valid = seq <= MT_MAX_SEQUENCE && type <= 1;

  size_t expected_size = varint32_length((uint32_t)(key_len + 8)) + key_len + 8 + varint32_length((uint32_t)value_len) +
                         value_len;
  if (mt_entry_encoded_size(key_len, value_len) != expected_size) fail("mt_entry_encoded_size differs from the format");
  uint8_t *expected = malloc(expected_size);
  char *buf = malloc(expected_size);
  if (expected == NULL || buf == NULL) abort();
  size_t pos = reference_encode_varint32(expected, (uint32_t)(key_len + 8));
  if (key_len != 0) memcpy(expected + pos, key, key_len);
  pos += key_len;
  uint64_t tag = seq << 8 | type;
  for (size_t i = 0; i < 8; i++) expected[pos++] = (uint8_t)(tag >> (8 * i));
  pos += reference_encode_varint32(expected + pos, (uint32_t)value_len);
  if (value_len != 0) memcpy(expected + pos, value, value_len);

  /* An empty key or value may come as NULL; a non-NULL one is the input's bytes. */
  const void *key_arg = key_len == 0 && (shape & 0x10) ? NULL : key;
  const void *value_arg = value_len == 0 && (shape & 0x20) ? NULL : value;
  size_t written = 0;
  mt_status status = mt_entry_encode(buf, expected_size, seq, (mt_entry_type)type, key_arg, key_len, value_arg,
                                     value_len, &written);
  if (!valid) {
    if (status != MT_INVALID_ARGUMENT) fail("encode accepted an unknown type or a seq above MT_MAX_SEQUENCE");
  } else {
    if (status != MT_OK || written != expected_size) fail("encode refused a valid entry");
    if (memcmp(buf, expected, expected_size) != 0) fail("encode wrote bytes that differ from the format");
    mt_entry entry;
    size_t consumed;
    if (mt_entry_decode(buf, expected_size, &entry, &consumed) != MT_OK || consumed != expected_size ||
        entry.seq != seq || (unsigned)entry.type != type || entry.user_key.len != key_len ||
        entry.value.len != value_len || (key_len && memcmp(entry.user_key.data, key, key_len) != 0) ||
        (value_len && memcmp(entry.value.data, value, value_len) != 0))
      fail("decode(encode(x)) != x");
    if (mt_entry_encode(buf, expected_size - 1, seq, (mt_entry_type)type, key, key_len, value, value_len, &written) !=
        MT_INVALID_ARGUMENT)
      fail("encode into a buffer one byte short did not fail");
    if (key_len != 0 &&
        mt_entry_encode(buf, expected_size, seq, (mt_entry_type)type, NULL, key_len, value, value_len, &written) !=
            MT_INVALID_ARGUMENT)
      fail("encode accepted a NULL key with a length");
    if (value_len != 0 &&
        mt_entry_encode(buf, expected_size, seq, (mt_entry_type)type, key, key_len, NULL, value_len, &written) !=
            MT_INVALID_ARGUMENT)
      fail("encode accepted a NULL value with a length");
  }
  free(expected);
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_decode(data, size);
  mt_entry entry;
  if (mt_entry_decode("", 0, &entry, NULL) != MT_CORRUPTION) fail("decode of zero bytes is not MT_CORRUPTION");
  if (mt_entry_encoded_size(MT_MAX_KEY_LEN + 1, 0) != 0 || mt_entry_encoded_size(0, MT_MAX_VALUE_LEN + 1) != 0)
    fail("mt_entry_encoded_size accepted a length that does not fit its varint32");
  fuzz_input in = fuzz_input_make(data, size);
  check_encode(&in);
  return 0;
}
