/* fuzz/fuzz_input.h - reads a fuzzer's input bytes as a stream of small integers and byte strings.
 *
 * An exhausted stream reads as zeros forever, so every target decodes any input (even an empty one) into
 * a well-formed run; targets stop their op loop on fuzz_input_done. Header-only: each target includes it.
 */
#ifndef MEMTABLE_FUZZ_INPUT_H
#define MEMTABLE_FUZZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fuzz_input {
  const uint8_t *data;
  size_t size;
  size_t pos;
} fuzz_input;

static inline fuzz_input fuzz_input_make(const uint8_t *data, size_t size) {
  fuzz_input input = {data, size, 0};
  return input;
}

static inline bool fuzz_input_done(const fuzz_input *input) { return input->pos >= input->size; }

static inline size_t fuzz_input_remaining(const fuzz_input *input) {
  return input->pos >= input->size ? 0 : input->size - input->pos;
}

static inline uint8_t fuzz_u8(fuzz_input *input) {
  if (input->pos >= input->size) return 0;
  return input->data[input->pos++];
}

/* Little-endian, so a short tail still yields small numbers. */
static inline uint64_t fuzz_uint(fuzz_input *input, unsigned bytes) {
  uint64_t value = 0;
  for (unsigned i = 0; i < bytes; i++) value |= (uint64_t)fuzz_u8(input) << (8 * i);
  return value;
}

static inline uint16_t fuzz_u16(fuzz_input *input) { return (uint16_t)fuzz_uint(input, 2); }
static inline uint32_t fuzz_u32(fuzz_input *input) { return (uint32_t)fuzz_uint(input, 4); }
static inline uint64_t fuzz_u64(fuzz_input *input) { return fuzz_uint(input, 8); }
static inline bool fuzz_bool(fuzz_input *input) { return (fuzz_u8(input) & 1) != 0; }

/* A value in [0, bound) from as few bytes as the bound needs (one up to 256); 0 when bound is 0. */
static inline size_t fuzz_below(fuzz_input *input, size_t bound) {
  if (bound == 0) return 0;
  uint64_t raw = bound <= 256 ? fuzz_u8(input) : bound <= 65536 ? fuzz_u16(input) : fuzz_u32(input);
  return (size_t)(raw % bound);
}

/* Up to max_len bytes straight from the input, length first; *len may come out shorter when the input
 * runs dry. The bytes stay owned by the fuzzer. */
static inline const uint8_t *fuzz_bytes(fuzz_input *input, size_t max_len, size_t *len) {
  size_t wanted = fuzz_below(input, max_len + 1);
  size_t available = fuzz_input_remaining(input);
  if (wanted > available) wanted = available;
  const uint8_t *bytes = input->data + input->pos;
  input->pos += wanted;
  *len = wanted;
  return bytes;
}

#endif
