/* memtable/coding.h - private: LevelDB's byte encodings (varint32, fixed64 little-endian) and the entry
 * codec, inline for the memtable's hot paths. entry.c wraps them as the public mt_entry_* functions.
 *
 * Decoders take a bound (an end pointer, or entry_decode_bounded's length) and never read at or past it
 * (except entry_decode_self_delimited, whose bounds are the entry's own lengths); encoders trust their caller
 * to have sized the buffer with the matching *_length function.
 */
#ifndef MEMTABLE_CODING_H
#define MEMTABLE_CODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <memtable/memtable.h>

/* A varint32 never takes more than 5 bytes; the 5th carries only the top 4 bits of the value. */
#define VARINT32_MAX_BYTES 5

static inline size_t varint32_length(uint32_t value) {
  size_t length = 1;
  while (value >= 0x80) {
    value >>= 7;
    length++;
  }
  return length;
}

static inline char *encode_varint32(char *dst, uint32_t value) {
  unsigned char *out = (unsigned char *)dst;
  while (value >= 0x80) {
    *out++ = (unsigned char)(value | 0x80);
    value >>= 7;
  }
  *out++ = (unsigned char)value;
  return (char *)out;
}

/* Returns the byte after the varint, or NULL when it is truncated at `end`, longer than 5 bytes, or its
 * 5th byte holds bits beyond 32. Non-minimal encodings (0x80 0x00) are accepted, as LevelDB does. */
static inline const char *decode_varint32(const char *p, const char *end, uint32_t *value) {
  /* Lengths below 128 (most keys and many values) take one byte: no loop. */
  if (p < end && (unsigned char)*p < 0x80) {
    *value = (unsigned char)*p;
    return p + 1;
  }
  uint32_t result = 0;
  for (unsigned shift = 0; shift <= 28 && p < end; shift += 7) {
    uint32_t byte = (unsigned char)*p++;
    if (shift == 28 && byte > 0x0f) return NULL;
    if (byte < 0x80) {
      *value = result | (byte << shift);
      return p;
    }
    result |= (byte & 0x7f) << shift;
  }
  return NULL;
}

/* Little-endian hosts copy the 8 bytes at once (one load or store, and one access for sanitizers); others
 * assemble them byte by byte. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CODING_LITTLE_ENDIAN 1
#else
#define CODING_LITTLE_ENDIAN 0
#endif

static inline void encode_fixed64(char *dst, uint64_t value) {
#if CODING_LITTLE_ENDIAN
  memcpy(dst, &value, sizeof(value));
#else
  for (int i = 0; i < 8; i++) dst[i] = (char)(unsigned char)(value >> (8 * i));
#endif
}

static inline uint64_t decode_fixed64(const char *src) {
  uint64_t value;
#if CODING_LITTLE_ENDIAN
  memcpy(&value, src, sizeof(value));
#else
  const unsigned char *bytes = (const unsigned char *)src;
  value = 0;
  for (int i = 0; i < 8; i++) value |= (uint64_t)bytes[i] << (8 * i);
#endif
  return value;
}

/* The little-endian low `count` bytes of value (count <= 8). */
static inline void encode_low_bytes(char *dst, uint64_t value, unsigned count) {
  for (unsigned i = 0; i < count; i++) dst[i] = (char)(unsigned char)(value >> (8 * i));
}

static inline uint64_t decode_low_bytes(const char *src, unsigned count) {
  const unsigned char *bytes = (const unsigned char *)src;
  uint64_t value = 0;
  for (unsigned i = 0; i < count; i++) value |= (uint64_t)bytes[i] << (8 * i);
  return value;
}

static inline uint64_t pack_tag(uint64_t seq, mt_entry_type type) { return seq << 8 | (uint64_t)type; }

/* Size of varint32(key_len + 8) | key | tag | varint32(value_len) | value, or 0 when a length does not fit
 * its varint32 or the total does not fit size_t. */
static inline size_t entry_encoded_size(size_t key_len, size_t value_len) {
  if (key_len > MT_MAX_KEY_LEN || value_len > MT_MAX_VALUE_LEN) return 0;
  size_t header = varint32_length((uint32_t)(key_len + 8)) + 8 + varint32_length((uint32_t)value_len);
  if (key_len > SIZE_MAX - header || value_len > SIZE_MAX - header - key_len) return 0;
  return header + key_len + value_len;
}

/* A lookup key: varint32(key_len + 8) | key | fixed64(seq << 8 | type), the prefix an entry with this user key
 * and seq starts with, so it compares like one. Its size, and its encoding into dst (which holds that
 * size; key_len <= MT_MAX_KEY_LEN). The type byte is MT_TYPE_VALUE, LevelDB's kValueTypeForSeek: the
 * memtable's comparator never reads it. */
static inline size_t lookup_key_size(size_t key_len) { return varint32_length((uint32_t)(key_len + 8)) + key_len + 8; }

static inline void lookup_key_encode(char *dst, const void *key, size_t key_len, uint64_t seq) {
  char *p = encode_varint32(dst, (uint32_t)(key_len + 8));
  if (key_len != 0) memcpy(p, key, key_len);
  encode_fixed64(p + key_len, pack_tag(seq, MT_TYPE_VALUE));
}

/* Writes an entry whose arguments the caller has validated into dst, which holds entry_encoded_size bytes;
 * returns the end. */
static inline char *entry_encode_unchecked(char *dst, uint64_t seq, mt_entry_type type, const void *key, size_t key_len,
                                           const void *value, size_t value_len) {
  dst = encode_varint32(dst, (uint32_t)(key_len + 8));
  if (key_len != 0) memcpy(dst, key, key_len);
  dst += key_len;
  encode_fixed64(dst, pack_tag(seq, type));
  dst += 8;
  dst = encode_varint32(dst, (uint32_t)value_len);
  if (value_len != 0) memcpy(dst, value, value_len);
  return dst + value_len;
}

/* Stores the decoded fields of an entry that starts at data; returns the entry's length. */
static inline size_t entry_fill(mt_entry *entry, const char *data, const char *user_key, uint32_t internal_len,
                                uint64_t tag, const char *value, uint32_t value_len) {
  entry->user_key.data = user_key;
  entry->user_key.len = internal_len - 8;
  entry->seq = tag >> 8;
  entry->type = (mt_entry_type)(tag & 0xff);
  entry->value.data = value;
  entry->value.len = value_len;
  return (size_t)(value + value_len - data);
}
/* Decodes one entry from [data, data + len); on success returns true, fills *entry (pointing into data)
 * and *consumed. Lengths are checked against the bytes left before they are used, so corrupted lengths
 * cannot move a read outside the range; no pointer past the bytes the entry occupies is ever formed, so
 * any len is safe, SIZE_MAX included. */
static inline bool entry_decode_bounded(const char *data, size_t len, mt_entry *entry, size_t *consumed) {
  uint32_t internal_len;
  const char *p = decode_varint32(data, data + (len < VARINT32_MAX_BYTES ? len : VARINT32_MAX_BYTES), &internal_len);
  if (p == NULL) return false;
  size_t left = len - (size_t)(p - data);
  if (internal_len < 8 || internal_len > left) return false;
  uint64_t tag = decode_fixed64(p + internal_len - 8);
  if ((tag & 0xff) > MT_TYPE_VALUE) return false;
  const char *user_key = p;
  p += internal_len;
  left -= internal_len;
  uint32_t value_len;
  const char *value = decode_varint32(p, p + (left < VARINT32_MAX_BYTES ? left : VARINT32_MAX_BYTES), &value_len);
  if (value == NULL || value_len > left - (size_t)(value - p)) return false;
  *consumed = entry_fill(entry, data, user_key, internal_len, tag, value, value_len);
  return true;
}

/* Decodes the entry at data trusting its own lengths, for memory whose size is not known: reads the length
 * prefixes (at most 5 bytes each) and the tag they place; the caller reads the key and value the entry
 * describes. Returns false when a varint is malformed, the internal key is shorter than its tag or the
 * type is unknown (so a bad type is never handed out); a damaged length is otherwise believed. */
static inline bool entry_decode_self_delimited(const char *data, mt_entry *entry, size_t *consumed) {
  uint32_t internal_len;
  const char *p = decode_varint32(data, data + VARINT32_MAX_BYTES, &internal_len);
  if (p == NULL || internal_len < 8) return false;
  uint64_t tag = decode_fixed64(p + internal_len - 8);
  if ((tag & 0xff) > MT_TYPE_VALUE) return false;
  const char *user_key = p;
  p += internal_len;
  uint32_t value_len;
  p = decode_varint32(p, p + VARINT32_MAX_BYTES, &value_len);
  if (p == NULL) return false;
  *consumed = entry_fill(entry, data, user_key, internal_len, tag, p, value_len);
  return true;
}

#endif
