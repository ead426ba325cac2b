/* fuzz/memtable/model_run_options.c - the header of a model run's input: the table's options and the
 * comparator the table and the model share. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <memtable/memtable.h>

#include "model_run.h"

/* The model's comparators, and the table's over them (which also check the ctx they get). */
static int bytewise(const char *a, size_t a_len, const char *b, size_t b_len) {
  return model_bytewise(a, a_len, b, b_len);
}

static int reverse_bytewise(const char *a, size_t a_len, const char *b, size_t b_len) {
  return -bytewise(a, a_len, b, b_len);
}

static int casefold(const char *a, size_t a_len, const char *b, size_t b_len) {
  size_t common = a_len < b_len ? a_len : b_len;
  for (size_t i = 0; i < common; i++) {
    unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
    if (x >= 'A' && x <= 'Z') x = (unsigned char)(x + ('a' - 'A'));
    if (y >= 'A' && y <= 'Z') y = (unsigned char)(y + ('a' - 'A'));
    if (x != y) return x < y ? -1 : 1;
  }
  return a_len < b_len ? -1 : a_len > b_len ? 1 : 0;
}

/* The ctx every custom comparator must receive. */
static int comparator_ctx_token;

static void check_ctx(void *ctx) {
  if (ctx != &comparator_ctx_token) {
    fprintf(stderr, "model run: comparator called with ctx %p, options gave %p\n", ctx,
            (void *)&comparator_ctx_token);
    abort();
  }
}

static int table_compare_reverse(void *ctx, const char *a, size_t a_len, const char *b, size_t b_len) {
  check_ctx(ctx);
  return -bytewise(a, a_len, b, b_len);
}

static int table_compare_casefold(void *ctx, const char *a, size_t a_len, const char *b, size_t b_len) {
  check_ctx(ctx);
  return casefold(a, a_len, b, b_len);
}

static int table_compare_bytewise(void *ctx, const char *a, size_t a_len, const char *b, size_t b_len) {
  check_ctx(ctx);
  return bytewise(a, a_len, b, b_len);
}

void run_decode_options(run *r, fuzz_input *in) {
  static const unsigned checksum_sizes[8] = {0, 1, 2, 4, 8, 4, 8, 0};
  uint8_t flags = fuzz_u8(in), more = fuzz_u8(in);
  mt_memtable_options *o = &r->options;
  mt_memtable_options_init(o);
  o->checksum_bytes = checksum_sizes[flags & 7];
  r->damage_any_byte = (flags & 0x80) != 0;
  r->comparator = (comparator_kind)((flags >> 4) & 3);
  switch (r->comparator) {
    case COMPARE_REVERSE: o->compare = table_compare_reverse; break;
    case COMPARE_CASEFOLD: o->compare = table_compare_casefold; break;
    case COMPARE_BYTEWISE: o->compare = table_compare_bytewise; break;
    default: break;
  }
  if (o->compare != NULL) o->compare_ctx = &comparator_ctx_token;
  model_init(&r->model, r->comparator == COMPARE_REVERSE    ? reverse_bytewise
                        : r->comparator == COMPARE_CASEFOLD ? casefold
                                                            : bytewise);
  if (flags & 8) {
    o->bloom_bits_per_key = 1 + (unsigned)fuzz_below(in, 20);
    if (more & 0x40) o->bloom_expected_entries = fuzz_u8(in);
    /* Case-folding makes comparator-equal keys differ in bytes: declaring them byte-equal would break the
     * caller's side of the contract. */
    o->bytewise_equal_keys = (flags & 0x40) && r->comparator != COMPARE_CASEFOLD;
  }
  switch (more & 3) {
    case 0: break;
    case 1: r->hooked = true; break;
    default:
      r->hooked = true;
      r->allocator.fail_at = fuzz_u8(in);
      r->allocator.fail_after = (more & 3) == 3;
      break;
  }
  r->allocator.refuse_above = HOOK_MAX_SIZE;
  r->allocator.fail_on_misuse = true;
  if (r->hooked) {
    o->arena.allocator = test_allocator_hooks(&r->allocator);
    o->reader_allocator = test_allocator_hooks(&r->allocator);
  }
  if (more & 4) o->arena.capacity = (size_t)fuzz_u16(in) * 8;
  if (more & 8) o->arena.block_size = fuzz_below(in, 8192);
  if (more & 0x10) o->write_buffer_size = 1 + (size_t)fuzz_u16(in) * 4;
  /* Bits no input before the point index set (the committed corpus has neither): the index on, and with
   * 0x80 a size of 0-255 keys, so that it fills and gets fall back to the skiplist. The table ignores the
   * index where its comparator rule says so, as it does the bloom filter. */
  if (more & 0x20) o->point_index = true;
  if ((more & 0x20) && (more & 0x80)) o->point_index_entries = fuzz_u8(in);
  o->seed = fuzz_u32(in);
  /* The scan walker's shape, the version-skip threshold, version links and the skiplist's branching come from
   * the seed's top bits: none may change an answer, so every input (the committed corpus too) keeps its meaning
   * and only the paths taken vary. Tiny shapes make segments outgrow their buffers all the time; 0 segments turns readahead off. (Links
   * make nodes 8 bytes larger, so a capacity or a failing allocator may refuse a different add: the model
   * follows what the table returns, as for any capacity.) */
  static const unsigned readahead_shapes[8][2] = {{8, 512}, {1, 1}, {2, 2}, {3, 4}, {8, 16}, {64, 8}, {0, 0}, {4, 3}};
  static const unsigned skip_thresholds[4] = {MT_MEMTABLE_DEFAULT_MAX_SEQUENTIAL_SKIP, 1, 2, MT_MEMTABLE_SKIP_NEVER};
  o->scan_readahead_segments = readahead_shapes[(o->seed >> 24) & 7][0];
  o->scan_readahead_segment_nodes = readahead_shapes[(o->seed >> 24) & 7][1];
  o->max_sequential_skip = skip_thresholds[(o->seed >> 28) & 3];
  o->version_links = (o->seed >> 30) & 1;
  /* The skiplist's shape, from bits 27 and 31: the default (2), LevelDB's 4, 3, and the widest accepted. */
  static const unsigned branchings[4] = {0, 4, 3, MT_MEMTABLE_MAX_SKIPLIST_BRANCHING};
  o->skiplist_branching = branchings[((o->seed >> 27) & 1) | ((o->seed >> 30) & 2)];
}
