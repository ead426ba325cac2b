/* fuzz/memtable_fuzz.c - libFuzzer target for the memtable, with a reference model as the oracle.
 *
 * The input decodes into a header (checksum bytes, bloom filter, point index, comparator, block size, capacity,
 * write buffer size, an allocator hook that may fail from its k-th call, the skiplist seed, whose top bits
 * also pick the scan walker's shape, the version-skip threshold and version links) and then a sequence of operations: adds
 * (keys from a small space, so versions collide, and a large one; sequence numbers mostly increasing but
 * also repeated, out of order, at and past MT_MAX_SEQUENCE; unknown types and out-of-contract lengths),
 * gets at chosen snapshots, internal and user-view iterators kept alive across adds and unrefs, references
 * taken and dropped, validation, and checksum corruption that must be detected (with the header's
 * any-byte flag, damage to any byte of an entry, checked by damaged_reads). Each operation runs on the
 * table and on a sorted array of (key, seq, type, value), and the first disagreement aborts with a message
 * naming the operation, what the model expected and what the table returned. Beyond the model, every entry
 * an iterator shows must equal mt_entry_encode of its fields with the low checksum bytes of XXH3-64 after
 * it, and the allocator hook must get every block back at the last unref. MEMTABLE_FUZZ_TRACE=1 lists the
 * operations an input decodes to. Every get is also made as part of an mt_memtable_get_batch (the key twice, entries
 * of the model, a bad key) that reads no input, so inputs keep their meaning; damaged tables check batches
 * against single gets.
 *
 * The model (tests/support/model.h) states how it reads the header where the header leaves room. Beyond it:
 * - an iterator step may or may not see entries added since its last seek (the header's "may or may not be
 *   seen"), so a step is checked against the table as it is now and as it was at that seek.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include <memtable/memtable.h>

#include "fuzz_input.h"
#include "support/allocator.h"
#include "support/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ITERS 4
#define MAX_CALLER_REFS 8
#define MAX_LARGE_KEY 48
#define MAX_LONG_KEY 3000
#define MAX_VALUE 20000
#define HOOK_MAX_SIZE ((size_t)64 << 20)

/* Comparators: the table gets them through its options, the model calls them directly. */
typedef enum comparator_kind { COMPARE_DEFAULT, COMPARE_REVERSE, COMPARE_CASEFOLD, COMPARE_BYTEWISE } comparator_kind;

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
    fprintf(stderr, "memtable_fuzz: comparator called with ctx %p, options gave %p\n", ctx,
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

/* One input's run: the table, the model, and the iterators alive on both. */
typedef struct iter_slot {
  mt_memtable_iter *iter; /* NULL: slot free */
  model_entry cursor; /* a copy, pointing at the model's bytes (which never move) */
  bool valid;
  uint64_t positioned_at;
} iter_slot;

typedef struct user_iter_slot {
  mt_memtable_user_iter *iter;
  uint64_t snapshot;
  model_entry cursor;
  bool valid;
  uint64_t positioned_at;
} user_iter_slot;

typedef struct run {
  mt_memtable *table;
  bool freed;      /* every reference dropped */
  int caller_refs; /* references the fuzzer holds itself (the creator's included) */
  model model;
  comparator_kind comparator;
  mt_memtable_options options;
  bool hooked;
  test_allocator allocator;
  uint64_t last_seq;
  uint64_t clock;
  size_t last_usage;
  const char *op; /* the operation running, for messages */
  /* Allocator failures before the call being checked. The arena and the reader allocator (iterators, long
   * lookup keys) share the one hooked allocator, so its failures explain an iterator's MT_NOMEM. */
  uint64_t failures_mark;
  /* The operation's arguments, formatted only if a message needs them. */
  struct {
    enum { DETAIL_NONE, DETAIL_KEY, DETAIL_KEY_AT_SNAPSHOT, DETAIL_STEP } kind;
    const char *key; /* stable for the operation: input bytes, a model entry, a fixed key or key_buffer */
    size_t key_len;
    uint64_t snapshot;
    model_entry from;
  } detail;
  bool stepping;          /* an iterator step: entries added since its seek may be missed */
  bool damage_any_byte;   /* header flag: corrupt may damage any byte of an entry, not only value and checksum */
  /* While corrupt has damaged an entry: which byte of it (entry and checksum bytes) and how, for messages. */
  struct {
    bool active;
    model_entry entry;
    size_t offset, stored_len;
    uint8_t mask;
  } damage;
  iter_slot iters[MAX_ITERS];
  user_iter_slot user_iters[MAX_ITERS];
  char key_buffer[MAX_LONG_KEY];
  char value_buffer[MAX_VALUE];
} run;

static void describe_bytes(char *out, size_t out_size, const char *bytes, size_t len) {
  size_t used = 0, i = 0;
  out[0] = '\0';
  for (; i < len && used + 8 < out_size; i++) {
    unsigned char c = (unsigned char)bytes[i];
    int n = (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') ? snprintf(out + used, out_size - used, "%c", c)
                                                             : snprintf(out + used, out_size - used, "\\x%02x", c);
    used += (size_t)n;
  }
  if (i < len) snprintf(out + used, out_size - used, "...");
}

static void describe_entry(char *out, size_t out_size, const model_entry *e) {
  if (e == NULL) {
    snprintf(out, out_size, "(none)");
    return;
  }
  char key[96], value[64];
  describe_bytes(key, sizeof(key), e->key, e->key_len);
  describe_bytes(value, sizeof(value), e->value, e->value_len);
  snprintf(out, out_size, "\"%s\" (%zu bytes) seq %llu %s value \"%s\" (%zu bytes)", key, e->key_len,
           (unsigned long long)e->seq, e->type == MT_TYPE_VALUE ? "VALUE" : "DELETION", value, e->value_len);
}

static void failf(const run *r, const char *format, ...) {
  va_list args;
  va_start(args, format);
  char detail[320] = "", text[256];
  switch (r->detail.kind) {
    case DETAIL_NONE: break;
    case DETAIL_KEY:
    case DETAIL_KEY_AT_SNAPSHOT:
      describe_bytes(text, sizeof(text), r->detail.key, r->detail.key_len);
      if (r->detail.kind == DETAIL_KEY)
        snprintf(detail, sizeof(detail), " (\"%s\" (%zu bytes))", text, r->detail.key_len);
      else
        snprintf(detail, sizeof(detail), " (\"%s\" (%zu bytes), snapshot %llu)", text, r->detail.key_len,
                 (unsigned long long)r->detail.snapshot);
      break;
    case DETAIL_STEP:
      describe_entry(text, sizeof(text), &r->detail.from);
      snprintf(detail, sizeof(detail), " (from %s)", text);
      break;
  }
  fprintf(stderr, "memtable_fuzz: during %s%s: ", r->op, detail);
  vfprintf(stderr, format, args);
  if (r->damage.active) {
    describe_entry(text, sizeof(text), &r->damage.entry);
    fprintf(stderr, "\n  (with byte %zu of the %zu stored bytes of %s xored with 0x%02x)", r->damage.offset,
            r->damage.stored_len, text, r->damage.mask);
  }
  fprintf(stderr, "\n  (options: checksum_bytes %u, bloom %u bits/key, point index %d for %zu keys, comparator %d, "
                  "block %zu, capacity %zu, allocator %s fail_at %llu%s, readahead %ux%u, skip after %u, version links %d, "
                  "branching %u; model holds %zu entries, op %llu)\n",
          r->options.checksum_bytes, r->options.bloom_bits_per_key, (int)r->options.point_index,
          r->options.point_index_entries, (int)r->comparator,
          r->options.arena.block_size, r->options.arena.capacity, r->hooked ? "hook" : "malloc",
          (unsigned long long)r->allocator.fail_at, r->allocator.fail_after ? "+" : "",
          r->options.scan_readahead_segments, r->options.scan_readahead_segment_nodes,
          r->options.max_sequential_skip, (int)r->options.version_links, r->options.skiplist_branching, r->model.count,
          (unsigned long long)r->clock);
  va_end(args);
  abort();
}

static void set_seek_detail(run *r, const char *key, size_t key_len, bool has_snapshot, uint64_t snapshot) {
  r->detail.kind = has_snapshot ? DETAIL_KEY_AT_SNAPSHOT : DETAIL_KEY;
  r->detail.key = key;
  r->detail.key_len = key_len;
  r->detail.snapshot = snapshot;
}

static void set_step_detail(run *r, const model_entry *from) {
  r->detail.kind = DETAIL_STEP;
  r->detail.from = *from;
}

static bool slice_equals(mt_slice s, const char *bytes, size_t len) {
  return s.len == len && (len == 0 || memcmp(s.data, bytes, len) == 0);
}

static bool table_usable(const run *r) { return !r->freed && r->caller_refs > 0; }

/* The table was just freed by its last unref: the allocator must have everything back. */
static void on_table_freed(run *r) {
  r->freed = true;
  r->table = NULL;
  if (r->hooked && r->allocator.live_blocks != 0)
    failf(r, "the last unref left %zu blocks (%zu bytes) with the allocator", r->allocator.live_blocks,
          r->allocator.live_bytes);
}

static bool any_iterator_alive(const run *r) {
  for (int i = 0; i < MAX_ITERS; i++)
    if (r->iters[i].iter != NULL || r->user_iters[i].iter != NULL) return true;
  return false;
}

/* Checks the stored checksum against an independent XXH3-64 of the entry bytes. */
static void check_checksum_bytes(const run *r, mt_slice entry, mt_slice value) {
  unsigned n = r->options.checksum_bytes;
  if (n == 0) return;
  uint64_t hash = XXH3_64bits(entry.data, entry.len);
  const unsigned char *stored = (const unsigned char *)value.data + value.len;
  for (unsigned i = 0; i < n; i++)
    if (stored[i] != (unsigned char)(hash >> (8 * i)))
      failf(r, "checksum byte %u is 0x%02x, XXH3-64 of the entry gives 0x%02x", i, stored[i],
            (unsigned char)(hash >> (8 * i)));
}

/* The iterator sits on some entry: it must be exactly `expected`, with a consistent raw encoding. */
static bool iter_matches(const mt_memtable_iter *it, const model_entry *expected) {
  if (expected == NULL) return !mt_memtable_iter_valid(it);
  if (!mt_memtable_iter_valid(it)) return false;
  return slice_equals(mt_memtable_iter_user_key(it), expected->key, expected->key_len) &&
         mt_memtable_iter_seq(it) == expected->seq && mt_memtable_iter_type(it) == expected->type &&
         slice_equals(mt_memtable_iter_value(it), expected->value, expected->value_len);
}

static void check_iter_encoding(const run *r, const mt_memtable_iter *it, const model_entry *e) {
  mt_slice raw = mt_memtable_iter_entry(it);
  size_t size = mt_entry_encoded_size(e->key_len, e->value_len);
  if (raw.len != size) failf(r, "raw entry is %zu bytes, mt_entry_encoded_size says %zu", raw.len, size);
  char *encoded = malloc(size == 0 ? 1 : size);
  size_t written = 0;
  mt_status status =
      mt_entry_encode(encoded, size, e->seq, e->type, e->key, e->key_len, e->value, e->value_len, &written);
  if (status != MT_OK || written != size || memcmp(encoded, raw.data, size) != 0)
    failf(r, "raw entry differs from mt_entry_encode of the same fields (%s)", mt_status_str(status));
  free(encoded);
  mt_entry decoded;
  size_t consumed = 0;
  status = mt_entry_decode(raw.data, raw.len, &decoded, &consumed);
  if (status != MT_OK || consumed != raw.len || decoded.seq != e->seq || decoded.type != e->type ||
      !slice_equals(decoded.user_key, e->key, e->key_len) || !slice_equals(decoded.value, e->value, e->value_len))
    failf(r, "mt_entry_decode of the raw entry disagrees (%s)", mt_status_str(status));
  check_checksum_bytes(r, raw, mt_memtable_iter_value(it));
}

/* Compares the iterator to the model's answer now, and failing that to its answer at the iterator's last
 * positioning (a step may miss entries added since). Updates the slot's cursor. */
static void settle_iter(run *r, iter_slot *slot, const model_entry *now, const model_entry *then) {
  mt_memtable_iter *it = slot->iter;
  mt_status status = mt_memtable_iter_status(it);
  if (status == MT_NOMEM && r->allocator.failures != r->failures_mark && !mt_memtable_iter_valid(it)) {
    slot->valid = false; /* a long key's lookup key could not be allocated */
    return;
  }
  if (status != MT_OK) failf(r, "iterator status %s with nothing corrupted", mt_status_str(status));
  const model_entry *got = NULL;
  if (iter_matches(it, now)) got = now;
  else if (iter_matches(it, then)) got = then;
  else {
    char want[256], want_then[256], have[256];
    describe_entry(want, sizeof(want), now);
    describe_entry(want_then, sizeof(want_then), then);
    if (mt_memtable_iter_valid(it)) {
      mt_slice k = mt_memtable_iter_user_key(it), v = mt_memtable_iter_value(it);
      model_entry seen = {(char *)k.data, k.len, mt_memtable_iter_seq(it), mt_memtable_iter_type(it),
                          (char *)v.data, v.len, 0};
      describe_entry(have, sizeof(have), &seen);
    } else {
      snprintf(have, sizeof(have), "(not valid)");
    }
    failf(r, "iterator disagrees with the model\n  expected %s\n%s%s%s  got      %s", want,
          r->stepping ? "  (or, without entries added since its seek, " : "", r->stepping ? want_then : "",
          r->stepping ? ")\n" : "", have);
  }
  slot->valid = got != NULL;
  if (got != NULL) {
    slot->cursor = *got;
    check_iter_encoding(r, it, got);
  }
}

/* Operations. Each one decodes its arguments from the input, runs on the table and the model, and compares. */
static const struct {
  const char *bytes;
  size_t len;
} small_keys[] = {
    /* Prefixes of each other, an embedded NUL, bytes above 0x7f, and case variants that the case-folding
     * comparator treats as one key. */
    {"", 0},    {"a", 1},     {"A", 1},         {"ab", 2},     {"aB", 2}, {"b", 1},  {"ba", 2}, {"k", 1},
    {"k\0", 2}, {"kk", 2},    {"\xff", 1},      {"\xff\xff", 2}, {"m\x80", 2}, {"Zz", 2}, {"zZ", 2}, {"key-000001", 10},
};
#define SMALL_KEY_COUNT (sizeof(small_keys) / sizeof(small_keys[0]))

/* Picks a key: from the small space, an existing entry, fresh input bytes, or a long run of one byte. */
static const char *pick_key(run *r, fuzz_input *in, size_t *len) {
  uint8_t choice = fuzz_u8(in);
  if (choice < 128) {
    size_t i = choice % SMALL_KEY_COUNT;
    *len = small_keys[i].len;
    return small_keys[i].bytes;
  }
  if (choice < 176 && r->model.count > 0) {
    const model_entry *e = r->model.entries[fuzz_below(in, r->model.count)];
    *len = e->key_len;
    return e->key;
  }
  if (choice < 248) {
    const uint8_t *bytes = fuzz_bytes(in, MAX_LARGE_KEY, len);
    return (const char *)bytes;
  }
  size_t long_len = 64 + fuzz_below(in, MAX_LONG_KEY - 64);
  memset(r->key_buffer, 'L' + (choice & 3), long_len);
  *len = long_len;
  return r->key_buffer;
}

static uint64_t pick_snapshot(run *r, fuzz_input *in) {
  uint8_t choice = fuzz_u8(in) % 10;
  switch (choice) {
    case 0: return UINT64_MAX;
    case 1: return MT_MAX_SEQUENCE;
    case 2: return MT_MAX_SEQUENCE + 1;
    case 3: return r->last_seq;
    case 4: case 5: case 6:
      if (r->model.count > 0) {
        uint64_t seq = r->model.entries[fuzz_below(in, r->model.count)]->seq;
        return choice == 6 && seq > 0 ? seq - 1 : seq;
      }
      return r->last_seq;
    case 7: return 0;
    default: return fuzz_u16(in);
  }
}

static void check_counters(run *r) {
  uint64_t entries = mt_memtable_entry_count(r->table), deletions = mt_memtable_deletion_count(r->table);
  if (entries != r->model.count || deletions != r->model.deletions)
    failf(r, "entry/deletion count %llu/%llu, model %zu/%llu", (unsigned long long)entries,
          (unsigned long long)deletions, r->model.count, (unsigned long long)r->model.deletions);
  size_t usage = mt_memtable_approximate_memory_usage(r->table);
  if (usage < r->last_usage) failf(r, "memory usage fell from %zu to %zu", r->last_usage, usage);
  r->last_usage = usage;
  bool flush = mt_memtable_should_flush(r->table);
  mt_memtable_memory_stats memory;
  if (mt_memtable_get_memory_stats(r->table, &memory) != MT_OK) failf(r, "memory stats refused");
  const mt_arena_stats *a = &memory.arena;
  size_t budget = r->options.write_buffer_size;
  if (budget == 0) budget = MT_MEMTABLE_DEFAULT_WRITE_BUFFER_SIZE;
  /* The rule of mt_memtable_should_flush, and the split's identities. */
  bool expected = usage > budget || (usage + a->block_size > budget && a->free_bytes < a->block_size / 4 + 7);
  if (flush != expected)
    failf(r, "should_flush %d with usage %zu, free %zu, block %zu and write_buffer_size %zu", flush, usage,
          a->free_bytes, a->block_size, budget);
  if (a->held_bytes != usage || a->held_bytes != a->header_bytes + a->used_bytes + a->wasted_bytes + a->free_bytes ||
      a->used_bytes != memory.filter_bytes + memory.index_bytes + memory.bookkeeping_bytes + memory.entry_bytes)
    failf(r, "memory split: held %zu used %zu wasted %zu free %zu headers %zu", a->held_bytes, a->used_bytes,
          a->wasted_bytes, a->free_bytes, a->header_bytes);
}

static void check_get(run *r, const char *key, size_t key_len, uint64_t snapshot, bool want_value) {
  const model_entry *e = model_get(&r->model, key, key_len, snapshot);
  mt_status expected = e == NULL ? MT_NOT_FOUND : e->type == MT_TYPE_DELETION ? MT_DELETED : MT_OK;
  mt_slice value = {"untouched", 9};
  const void *key_arg = key_len == 0 && (snapshot & 1) ? NULL : key; /* an empty key may come as NULL */
  uint64_t failures_before = r->allocator.failures;
  mt_status status = mt_memtable_get(r->table, key_arg, key_len, snapshot, want_value ? &value : NULL);
  if (status == MT_NOMEM && r->allocator.failures != failures_before) return; /* a long key's lookup key */
  char key_text[96];
  if (status != expected || (status == MT_OK && want_value && !slice_equals(value, e->value, e->value_len)))
    describe_bytes(key_text, sizeof(key_text), key, key_len);
  if (status != expected)
    failf(r, "get(\"%s\", snapshot %llu): expected %s, got %s", key_text, (unsigned long long)snapshot,
          mt_status_str(expected), mt_status_str(status));
  if (status == MT_OK && want_value && !slice_equals(value, e->value, e->value_len)) {
    char want[64], have[64];
    describe_bytes(want, sizeof(want), e->value, e->value_len);
    describe_bytes(have, sizeof(have), value.data, value.len);
    failf(r, "get(\"%s\", snapshot %llu): value \"%s\" (%zu bytes), expected \"%s\" (%zu bytes)", key_text,
          (unsigned long long)snapshot, have, value.len, want, e->value_len);
  }
}

/* Keys whose lookup key mt_memtable_get_batch (like get) takes from the reader allocator: the mirrored batches
 * below leave them out when the allocator is the hook, so that the hook's call count - which decides where an
 * injected failure falls - is what it was before batches existed, and old inputs mean what they meant. */
#define GET_BATCH_LONG_KEY 247

/* mt_memtable_get_batch over keys at snapshot: every status (and value) as the model says, as check_get
 * checks one get. */
static void check_get_batch(run *r, const mt_slice *keys, size_t count, uint64_t snapshot) {
  enum { MAX_BATCH = 8 };
  mt_status statuses[MAX_BATCH];
  mt_slice values[MAX_BATCH];
  if (count > MAX_BATCH) count = MAX_BATCH;
  for (size_t i = 0; i < count; i++) values[i] = (mt_slice){"untouched", 9};
  uint64_t failures_before = r->allocator.failures;
  mt_status status = mt_memtable_get_batch(r->table, keys, count, snapshot, statuses, values);
  if (status != MT_OK) failf(r, "get_batch(%zu keys): %s", count, mt_status_str(status));
  bool hook_failed = r->allocator.failures != failures_before;
  for (size_t i = 0; i < count; i++) {
    bool invalid = keys[i].data == NULL && keys[i].len != 0;
    const model_entry *e = invalid ? NULL : model_get(&r->model, keys[i].data, keys[i].len, snapshot);
    mt_status expected = invalid ? MT_INVALID_ARGUMENT
                         : e == NULL ? MT_NOT_FOUND
                         : e->type == MT_TYPE_DELETION ? MT_DELETED : MT_OK;
    if (statuses[i] == MT_NOMEM && hook_failed && keys[i].len >= GET_BATCH_LONG_KEY) continue;
    char key_text[96] = "(NULL)";
    if (keys[i].data != NULL) describe_bytes(key_text, sizeof(key_text), keys[i].data, keys[i].len);
    if (statuses[i] != expected)
      failf(r, "get_batch key %zu of %zu (\"%s\", snapshot %llu): expected %s, got %s", i, count, key_text,
            (unsigned long long)snapshot, mt_status_str(expected), mt_status_str(statuses[i]));
    if (expected == MT_OK ? !slice_equals(values[i], e->value, e->value_len) : !slice_equals(values[i], "untouched", 9))
      failf(r, "get_batch key %zu of %zu (\"%s\", snapshot %llu): value %zu bytes, expected %zu", i, count, key_text,
            (unsigned long long)snapshot, values[i].len, expected == MT_OK ? e->value_len : (size_t)9);
  }
}

static void op_add(run *r, fuzz_input *in) {
  r->op = "add";
  uint8_t shape = fuzz_u8(in);
  size_t key_len;
  const char *key = pick_key(r, in, &key_len);
  mt_entry_type type = (shape & 7) == 0 ? MT_TYPE_DELETION : MT_TYPE_VALUE;

  uint64_t seq;
  uint8_t seq_choice = fuzz_u8(in);
  if (seq_choice < 160) seq = r->last_seq + 1 + (seq_choice & 3);
  else if (seq_choice < 192 && r->model.count > 0) {
    const model_entry *e = r->model.entries[fuzz_below(in, r->model.count)];
    seq = e->seq; /* with the same key below: a duplicate */
    if (seq_choice & 1) {
      key = e->key;
      key_len = e->key_len;
    }
  } else if (seq_choice < 240) seq = fuzz_u16(in);
  else if (seq_choice < 248) seq = MT_MAX_SEQUENCE - (seq_choice & 1);
  else seq = (seq_choice & 1) ? UINT64_MAX : MT_MAX_SEQUENCE + 1 + fuzz_u8(in);

  size_t value_len;
  uint8_t value_choice = fuzz_u8(in);
  switch (value_choice % 8) {
    case 0: value_len = 0; break;
    case 1: case 2: case 3: value_len = fuzz_below(in, 33); break;
    case 4: case 5: value_len = fuzz_below(in, 301); break;
    case 6: value_len = fuzz_below(in, 2049); break;
    default: value_len = 1000 + fuzz_below(in, MAX_VALUE - 1000); break;
  }
  for (size_t i = 0; i < value_len; i++) r->value_buffer[i] = (char)(value_choice + i * 7);
  const char *value = value_len == 0 && (shape & 8) ? NULL : r->value_buffer;

  /* Out-of-contract calls: each must be MT_INVALID_ARGUMENT and change nothing. None of these lengths may
   * be read, so the pointers only need to be non-NULL. */
  bool invalid = false;
  const void *key_arg = key_len == 0 && (shape & 16) ? NULL : key;
  size_t key_len_arg = key_len, value_len_arg = value_len;
  int type_arg = (int)type;
  if ((shape & 0xe0) == 0xe0) {
    invalid = true;
    switch (fuzz_u8(in) % 6) {
      case 0: type_arg = 2 + (shape & 0x1f); break;
      case 1: key_arg = NULL, key_len_arg = key_len + 1; break;
      case 2: value = NULL, value_len_arg = value_len + 1; break;
      case 3: key_len_arg = MT_MAX_KEY_LEN + 1 + (shape & 3); break;
      case 4: value_len_arg = MT_MAX_VALUE_LEN + 1 + (shape & 3); break;
      default: key_len_arg = MT_MAX_KEY_LEN - (shape & 3), value_len_arg = 0; break; /* entry above 4 GiB - 1 */
    }
  }
  if (seq > MT_MAX_SEQUENCE) invalid = true;

  uint64_t failures_before = r->allocator.failures;
  mt_status status = mt_memtable_add(r->table, seq, (mt_entry_type)type_arg, key_arg, key_len_arg, value,
                                     value_len_arg);
  bool hook_failed = r->allocator.failures != failures_before;
  const model_entry *existing = invalid ? NULL : model_find(&r->model, key, key_len, seq);
  bool ok;
  if (invalid) ok = status == MT_INVALID_ARGUMENT;
  else if (status == MT_FULL) ok = r->options.arena.capacity != 0;
  else if (status == MT_NOMEM) ok = hook_failed;
  else ok = status == (existing != NULL ? MT_EXISTS : MT_OK);
  char key_text[96];
  if (!ok) describe_bytes(key_text, sizeof(key_text), key, key_len);
  if (!ok)
    failf(r, "add(seq %llu, type %d, \"%s\" (%zu bytes), value %zu bytes): got %s; expected %s%s",
          (unsigned long long)seq, type_arg, key_text, key_len_arg, value_len_arg, mt_status_str(status),
          invalid ? "MT_INVALID_ARGUMENT" : existing != NULL ? "MT_EXISTS" : "MT_OK",
          invalid ? "" : r->options.arena.capacity != 0 ? " or MT_FULL" : hook_failed ? " or MT_NOMEM" : "");
  if (status == MT_OK) {
    model_add(&r->model, seq, type, key, key_len, value, value_len, r->clock);
    /* Only the increasing path advances: one add at MT_MAX_SEQUENCE must not make every later one invalid. */
    if (seq_choice < 160 && seq > r->last_seq) r->last_seq = seq;
  }
  check_counters(r);
  if (status != MT_OK && !invalid) {
    /* A refused add must have left no trace of itself. */
    check_get(r, key, key_len, seq, true);
    check_get(r, key, key_len, UINT64_MAX, true);
  }
}

static void op_get(run *r, fuzz_input *in) {
  r->op = "get";
  size_t key_len;
  const char *key = pick_key(r, in, &key_len);
  uint64_t snapshot = pick_snapshot(r, in);
  check_get(r, key, key_len, snapshot, fuzz_u8(in) != 0);
  /* The same key in a batch, twice, with entries the model picks and a bad key: no input is read for it,
   * so inputs made before get_batch existed decode to the same operations. */
  r->op = "get_batch";
  set_seek_detail(r, key, key_len, true, snapshot);
  mt_slice keys[6];
  size_t count = 0;
  if (!r->hooked || key_len < GET_BATCH_LONG_KEY) {
    keys[count++] = (mt_slice){key, key_len};
    keys[count++] = (mt_slice){key, key_len};
  }
  for (size_t i = 0; i < 3 && r->model.count > 0; i++) {
    const model_entry *e = r->model.entries[(r->clock + 7 * i) % r->model.count];
    if (!r->hooked || e->key_len < GET_BATCH_LONG_KEY) keys[count++] = (mt_slice){e->key, e->key_len};
  }
  keys[count++] = (mt_slice){NULL, 1};
  check_get_batch(r, keys, count, snapshot);
  r->op = "get"; /* the trace names the operation the input chose */
}

static void op_iter_create(run *r, fuzz_input *in) {
  r->op = "iter_create";
  iter_slot *slot = &r->iters[fuzz_below(in, MAX_ITERS)];
  if (slot->iter != NULL) return;
  uint64_t failures_before = r->allocator.failures;
  slot->iter = mt_memtable_iter_create(r->table);
  if (slot->iter == NULL) {
    if (r->allocator.failures == failures_before) failf(r, "iter_create returned NULL with no allocation failure");
    return;
  }
  if (mt_memtable_iter_valid(slot->iter)) failf(r, "a new iterator is valid");
  slot->valid = false;
  slot->positioned_at = r->clock;
}

static void op_iter_destroy(run *r, fuzz_input *in) {
  r->op = "iter_destroy";
  iter_slot *slot = &r->iters[fuzz_below(in, MAX_ITERS)];
  mt_memtable_iter_destroy(slot->iter);
  slot->iter = NULL;
  if (!table_usable(r) && !r->freed && !any_iterator_alive(r)) on_table_freed(r);
}

static void op_iter_move(run *r, fuzz_input *in) {
  r->op = "iter_move (no iterator in the slot)";
  r->failures_mark = r->allocator.failures;
  iter_slot *slot = &r->iters[fuzz_below(in, MAX_ITERS)];
  uint8_t move = fuzz_u8(in);
  if (slot->iter == NULL) return;
  const model *m = &r->model;
  size_t key_len;
  const char *key;
  uint64_t snapshot;
  switch (move % 8) {
    case 0: case 1:
      r->op = "iter_seek";
      key = pick_key(r, in, &key_len);
      snapshot = pick_snapshot(r, in);
      set_seek_detail(r, key, key_len, true, snapshot);
      mt_memtable_iter_seek(slot->iter, key, key_len, snapshot);
      slot->positioned_at = r->clock;
      settle_iter(r, slot, model_seek(m, key, key_len, snapshot, MODEL_EVER), NULL);
      break;
    case 2:
      r->op = "iter_seek_for_prev";
      key = pick_key(r, in, &key_len);
      snapshot = pick_snapshot(r, in);
      set_seek_detail(r, key, key_len, true, snapshot);
      mt_memtable_iter_seek_for_prev(slot->iter, key, key_len, snapshot);
      slot->positioned_at = r->clock;
      settle_iter(r, slot, model_seek_for_prev(m, key, key_len, snapshot, MODEL_EVER), NULL);
      break;
    case 3:
      r->op = "iter_seek_to_first";
      mt_memtable_iter_seek_to_first(slot->iter);
      slot->positioned_at = r->clock;
      settle_iter(r, slot, model_first(m, MODEL_EVER), NULL);
      break;
    case 4:
      r->op = "iter_seek_to_last";
      mt_memtable_iter_seek_to_last(slot->iter);
      slot->positioned_at = r->clock;
      settle_iter(r, slot, model_last(m, MODEL_EVER), NULL);
      break;
    default: {
      /* A run of steps in one direction: long walks are what find broken links. */
      bool forward = move % 8 != 7;
      r->op = forward ? "iter_next" : "iter_prev";
      size_t steps = 1 + (move >> 3);
      for (size_t i = 0; i < steps && slot->valid; i++) {
        model_entry cur = slot->cursor;
        set_step_detail(r, &cur);
        r->stepping = true;
        if (forward) mt_memtable_iter_next(slot->iter);
        else mt_memtable_iter_prev(slot->iter);
        const model_entry *now = forward ? model_next(m, &cur, MODEL_EVER) : model_prev(m, &cur, MODEL_EVER);
        const model_entry *then = forward ? model_next(m, &cur, slot->positioned_at)
                                          : model_prev(m, &cur, slot->positioned_at);
        settle_iter(r, slot, now, then);
      }
      break;
    }
  }
}

static bool user_iter_matches(const mt_memtable_user_iter *it, const model_entry *expected) {
  if (expected == NULL) return !mt_memtable_user_iter_valid(it);
  return mt_memtable_user_iter_valid(it) &&
         slice_equals(mt_memtable_user_iter_key(it), expected->key, expected->key_len) &&
         slice_equals(mt_memtable_user_iter_value(it), expected->value, expected->value_len) &&
         mt_memtable_user_iter_seq(it) == expected->seq;
}

static void settle_user_iter(run *r, user_iter_slot *slot, const model_entry *now, const model_entry *then) {
  mt_memtable_user_iter *it = slot->iter;
  mt_status status = mt_memtable_user_iter_status(it);
  if (status == MT_NOMEM && r->allocator.failures != r->failures_mark && !mt_memtable_user_iter_valid(it)) {
    slot->valid = false;
    return;
  }
  if (status != MT_OK) failf(r, "user iterator status %s with nothing corrupted", mt_status_str(status));
  const model_entry *got = NULL;
  if (user_iter_matches(it, now)) got = now;
  else if (user_iter_matches(it, then)) got = then;
  else {
    char want[256], want_then[256], have[256];
    describe_entry(want, sizeof(want), now);
    describe_entry(want_then, sizeof(want_then), then);
    if (mt_memtable_user_iter_valid(it)) {
      mt_slice k = mt_memtable_user_iter_key(it), v = mt_memtable_user_iter_value(it);
      model_entry seen = {(char *)k.data, k.len, mt_memtable_user_iter_seq(it), MT_TYPE_VALUE,
                          (char *)v.data, v.len, 0};
      describe_entry(have, sizeof(have), &seen);
    } else {
      snprintf(have, sizeof(have), "(not valid)");
    }
    failf(r, "user iterator at snapshot %llu disagrees with the model\n  expected %s\n%s%s%s  got      %s",
          (unsigned long long)slot->snapshot, want, r->stepping ? "  (or, without entries added since its seek, " : "",
          r->stepping ? want_then : "", r->stepping ? ")\n" : "", have);
  }
  slot->valid = got != NULL;
  if (got != NULL) slot->cursor = *got;
}

static void op_user_iter_create(run *r, fuzz_input *in) {
  r->op = "user_iter_create";
  user_iter_slot *slot = &r->user_iters[fuzz_below(in, MAX_ITERS)];
  uint64_t snapshot = pick_snapshot(r, in);
  if (slot->iter != NULL) return;
  uint64_t failures_before = r->allocator.failures;
  slot->iter = mt_memtable_user_iter_create(r->table, snapshot);
  if (slot->iter == NULL) {
    if (r->allocator.failures == failures_before) failf(r, "user_iter_create returned NULL with no allocation failure");
    return;
  }
  if (mt_memtable_user_iter_valid(slot->iter)) failf(r, "a new user iterator is valid");
  slot->snapshot = snapshot;
  slot->valid = false;
  slot->positioned_at = r->clock;
}

static void op_user_iter_destroy(run *r, fuzz_input *in) {
  r->op = "user_iter_destroy";
  user_iter_slot *slot = &r->user_iters[fuzz_below(in, MAX_ITERS)];
  mt_memtable_user_iter_destroy(slot->iter);
  slot->iter = NULL;
  if (!table_usable(r) && !r->freed && !any_iterator_alive(r)) on_table_freed(r);
}

static void op_user_iter_move(run *r, fuzz_input *in) {
  r->op = "user_iter_move (no iterator in the slot)";
  r->failures_mark = r->allocator.failures;
  user_iter_slot *slot = &r->user_iters[fuzz_below(in, MAX_ITERS)];
  uint8_t move = fuzz_u8(in);
  if (slot->iter == NULL) return;
  const model *m = &r->model;
  uint64_t s = slot->snapshot;
  size_t key_len;
  const char *key;
  switch (move % 8) {
    case 0: case 1:
      r->op = "user_iter_seek";
      key = pick_key(r, in, &key_len);
      set_seek_detail(r, key, key_len, false, 0);
      mt_memtable_user_iter_seek(slot->iter, key, key_len);
      slot->positioned_at = r->clock;
      settle_user_iter(r, slot, model_user_find(m, s, MODEL_EVER, key, key_len, USER_AT_OR_AFTER), NULL);
      break;
    case 2:
      r->op = "user_iter_seek_for_prev";
      key = pick_key(r, in, &key_len);
      set_seek_detail(r, key, key_len, false, 0);
      mt_memtable_user_iter_seek_for_prev(slot->iter, key, key_len);
      slot->positioned_at = r->clock;
      settle_user_iter(r, slot, model_user_find(m, s, MODEL_EVER, key, key_len, USER_AT_OR_BEFORE), NULL);
      break;
    case 3:
      r->op = "user_iter_seek_to_first";
      mt_memtable_user_iter_seek_to_first(slot->iter);
      slot->positioned_at = r->clock;
      settle_user_iter(r, slot, model_user_find(m, s, MODEL_EVER, NULL, 0, USER_AT_OR_AFTER), NULL);
      break;
    case 4:
      r->op = "user_iter_seek_to_last";
      mt_memtable_user_iter_seek_to_last(slot->iter);
      slot->positioned_at = r->clock;
      settle_user_iter(r, slot, model_user_find(m, s, MODEL_EVER, NULL, 0, USER_BEFORE), NULL);
      break;
    default: {
      bool forward = move % 8 != 7;
      r->op = forward ? "user_iter_next" : "user_iter_prev";
      size_t steps = 1 + (move >> 3);
      for (size_t i = 0; i < steps && slot->valid; i++) {
        model_entry cur = slot->cursor;
        set_step_detail(r, &cur);
        r->stepping = true;
        model_user_bound bound = forward ? USER_AFTER : USER_BEFORE;
        if (forward) mt_memtable_user_iter_next(slot->iter);
        else mt_memtable_user_iter_prev(slot->iter);
        settle_user_iter(r, slot, model_user_find(m, s, MODEL_EVER, cur.key, cur.key_len, bound),
                         model_user_find(m, s, slot->positioned_at, cur.key, cur.key_len, bound));
      }
      break;
    }
  }
}

static void op_ref(run *r) {
  r->op = "ref";
  if (r->caller_refs >= MAX_CALLER_REFS) return;
  mt_memtable_ref(r->table);
  r->caller_refs++;
}

static void op_unref(run *r) {
  r->op = "unref";
  mt_memtable_unref(r->table);
  r->caller_refs--;
  if (r->caller_refs == 0 && !any_iterator_alive(r)) on_table_freed(r);
}

static void op_validate(run *r) {
  r->op = "validate";
  mt_status status = mt_memtable_validate(r->table);
  if (status != MT_OK) failf(r, "mt_memtable_validate: %s", mt_status_str(status));
}

/* Walks the whole table both ways with a fresh iterator and the whole user view at one snapshot. */
static void op_full_scan(run *r, fuzz_input *in) {
  r->failures_mark = r->allocator.failures;
  r->op = "full_scan seek_to_first";
  uint64_t failures_before = r->allocator.failures;
  iter_slot slot = {mt_memtable_iter_create(r->table), {0}, false, r->clock};
  if (slot.iter == NULL && r->allocator.failures == failures_before)
    failf(r, "iter_create returned NULL with no allocation failure");
  if (slot.iter != NULL) {
    mt_memtable_iter_seek_to_first(slot.iter);
    settle_iter(r, &slot, model_first(&r->model, MODEL_EVER), NULL);
    for (size_t i = 0; slot.valid; i++) {
      model_entry cur = slot.cursor;
      r->op = "full_scan next";
      set_step_detail(r, &cur);
      mt_memtable_iter_next(slot.iter);
      settle_iter(r, &slot, model_next(&r->model, &cur, MODEL_EVER), NULL);
      if (i > r->model.count) failf(r, "forward scan longer than the model");
    }
    r->op = "full_scan seek_to_last";
    r->detail.kind = DETAIL_NONE;
    mt_memtable_iter_seek_to_last(slot.iter);
    settle_iter(r, &slot, model_last(&r->model, MODEL_EVER), NULL);
    while (slot.valid) {
      model_entry cur = slot.cursor;
      r->op = "full_scan prev";
      set_step_detail(r, &cur);
      mt_memtable_iter_prev(slot.iter);
      settle_iter(r, &slot, model_prev(&r->model, &cur, MODEL_EVER), NULL);
    }
    mt_memtable_iter_destroy(slot.iter);
  }
  uint64_t s = pick_snapshot(r, in);
  failures_before = r->allocator.failures;
  user_iter_slot user = {mt_memtable_user_iter_create(r->table, s), s, {0}, false, r->clock};
  if (user.iter == NULL && r->allocator.failures == failures_before)
    failf(r, "user_iter_create returned NULL with no allocation failure");
  if (user.iter == NULL) return;
  r->op = "full_user_scan seek_to_first";
  r->detail.kind = DETAIL_NONE;
  mt_memtable_user_iter_seek_to_first(user.iter);
  settle_user_iter(r, &user, model_user_find(&r->model, s, MODEL_EVER, NULL, 0, USER_AT_OR_AFTER), NULL);
  while (user.valid) {
    model_entry cur = user.cursor;
    r->op = "full_user_scan next";
    set_step_detail(r, &cur);
    mt_memtable_user_iter_next(user.iter);
    settle_user_iter(r, &user, model_user_find(&r->model, s, MODEL_EVER, cur.key, cur.key_len, USER_AFTER), NULL);
  }
  r->op = "full_user_scan seek_to_last";
  r->detail.kind = DETAIL_NONE;
  mt_memtable_user_iter_seek_to_last(user.iter);
  settle_user_iter(r, &user, model_user_find(&r->model, s, MODEL_EVER, NULL, 0, USER_BEFORE), NULL);
  while (user.valid) {
    model_entry cur = user.cursor;
    r->op = "full_user_scan prev";
    set_step_detail(r, &cur);
    mt_memtable_user_iter_prev(user.iter);
    settle_user_iter(r, &user, model_user_find(&r->model, s, MODEL_EVER, cur.key, cur.key_len, USER_BEFORE), NULL);
  }
  mt_memtable_user_iter_destroy(user.iter);
}

/* Reads while one entry is damaged (corrupt with the header's any-byte flag). The promise checked, with
 * checksum_bytes 4 or 8 (`strict`): every get and every iterator position either is exactly the model's
 * answer or reports MT_CORRUPTION (get returns it; an iterator is not valid with that status), in both
 * directions; MT_NOMEM only where a long key's lookup key could not be allocated. With 1 or 2 checksum
 * bytes a damaged entry may pass its check, so there the same reads run for memory safety alone (ASan). */
static bool damaged_read_refused(const run *r, mt_status status, bool valid) {
  return !valid && (status == MT_CORRUPTION || (status == MT_NOMEM && r->allocator.failures != r->failures_mark));
}

static void damaged_get(run *r, const char *key, size_t key_len, uint64_t snapshot, bool strict) {
  r->op = "get with an entry damaged";
  set_seek_detail(r, key, key_len, true, snapshot);
  r->failures_mark = r->allocator.failures;
  mt_slice value = {NULL, 0};
  mt_status status = mt_memtable_get(r->table, key, key_len, snapshot, &value);
  if (!strict || damaged_read_refused(r, status, false)) return;
  const model_entry *e = model_get(&r->model, key, key_len, snapshot);
  mt_status expected = e == NULL ? MT_NOT_FOUND : e->type == MT_TYPE_DELETION ? MT_DELETED : MT_OK;
  if (status != expected)
    failf(r, "got %s, expected %s or MT_CORRUPTION", mt_status_str(status), mt_status_str(expected));
  if (status == MT_OK && !slice_equals(value, e->value, e->value_len)) {
    char want[64], have[64];
    describe_bytes(want, sizeof(want), e->value, e->value_len);
    describe_bytes(have, sizeof(have), value.data, value.len);
    failf(r, "value \"%s\" (%zu bytes), expected \"%s\" (%zu bytes) or MT_CORRUPTION", have, value.len, want,
          e->value_len);
  }
}

/* From the iterator's position (expected: the model's answer there), up to max_steps steps one way. */
static void damaged_iter_walk(run *r, mt_memtable_iter *it, const model_entry *expected, bool forward,
                              size_t max_steps, bool strict) {
  for (size_t step = 0;; step++) {
    mt_status status = mt_memtable_iter_status(it);
    bool valid = mt_memtable_iter_valid(it);
    if (damaged_read_refused(r, status, valid)) return;
    if (strict && (status != MT_OK || !iter_matches(it, expected))) {
      char want[256], have[256];
      describe_entry(want, sizeof(want), expected);
      if (valid) {
        mt_slice k = mt_memtable_iter_user_key(it), v = mt_memtable_iter_value(it);
        model_entry seen = {k.data, k.len, mt_memtable_iter_seq(it), mt_memtable_iter_type(it), v.data, v.len, 0};
        describe_entry(have, sizeof(have), &seen);
      } else {
        snprintf(have, sizeof(have), "(not valid)");
      }
      failf(r, "iterator after %zu steps: status %s\n  expected %s (or not valid with MT_CORRUPTION)\n  got      %s",
            step, mt_status_str(status), want, have);
    }
    if (!valid || step == max_steps) return;
    if (strict) set_step_detail(r, expected);
    r->failures_mark = r->allocator.failures;
    if (forward) mt_memtable_iter_next(it);
    else mt_memtable_iter_prev(it);
    if (strict)
      expected = forward ? model_next(&r->model, expected, MODEL_EVER) : model_prev(&r->model, expected, MODEL_EVER);
  }
}

static void damaged_user_iter_walk(run *r, mt_memtable_user_iter *it, uint64_t snapshot, const model_entry *expected,
                                   bool forward, size_t max_steps, bool strict) {
  for (size_t step = 0;; step++) {
    mt_status status = mt_memtable_user_iter_status(it);
    bool valid = mt_memtable_user_iter_valid(it);
    if (damaged_read_refused(r, status, valid)) return;
    if (strict && (status != MT_OK || !user_iter_matches(it, expected))) {
      char want[256], have[256];
      describe_entry(want, sizeof(want), expected);
      if (valid) {
        mt_slice k = mt_memtable_user_iter_key(it), v = mt_memtable_user_iter_value(it);
        model_entry seen = {k.data, k.len, mt_memtable_user_iter_seq(it), MT_TYPE_VALUE, v.data, v.len, 0};
        describe_entry(have, sizeof(have), &seen);
      } else {
        snprintf(have, sizeof(have), "(not valid)");
      }
      failf(r, "user iterator at snapshot %llu after %zu steps: status %s\n  expected %s (or not valid with "
               "MT_CORRUPTION)\n  got      %s",
            (unsigned long long)snapshot, step, mt_status_str(status), want, have);
    }
    if (!valid || step == max_steps) return;
    if (strict) set_step_detail(r, expected);
    r->failures_mark = r->allocator.failures;
    if (forward) mt_memtable_user_iter_next(it);
    else mt_memtable_user_iter_prev(it);
    if (strict)
      expected = model_user_find(&r->model, snapshot, MODEL_EVER, expected->key, expected->key_len,
                                 forward ? USER_AFTER : USER_BEFORE);
  }
}

/* Every reader over the table with entry e (index pick in the model) damaged. */
/* With an entry damaged, a batch of the damaged entry's key and its neighbours' answers each exactly as a
 * single get does (the same search, the same neighbour check). Short keys only when the allocator is the hook
 * (see GET_BATCH_LONG_KEY): neither the batch nor the singles then call the hook. */
static void damaged_get_batch(run *r, const model_entry *e, size_t pick) {
  const model *m = &r->model;
  r->op = "get_batch with an entry damaged";
  set_seek_detail(r, e->key, e->key_len, true, e->seq);
  mt_slice keys[3];
  size_t count = 0;
  for (size_t i = pick == 0 ? 0 : pick - 1; i <= pick + 1 && i < m->count; i++) {
    if (!r->hooked || m->entries[i]->key_len < GET_BATCH_LONG_KEY)
      keys[count++] = (mt_slice){m->entries[i]->key, m->entries[i]->key_len};
  }
  const uint64_t snapshots[2] = {e->seq, UINT64_MAX};
  for (int s = 0; s < 2; s++) {
    mt_status statuses[3];
    mt_slice values[3];
    uint64_t failures_before = r->allocator.failures;
    if (mt_memtable_get_batch(r->table, keys, count, snapshots[s], statuses, values) != MT_OK)
      failf(r, "get_batch(%zu keys) failed", count);
    if (r->allocator.failures != failures_before) continue; /* a long key's lookup key: not comparable */
    for (size_t i = 0; i < count; i++) {
      mt_slice single = {NULL, 0};
      mt_status expected = mt_memtable_get(r->table, keys[i].data, keys[i].len, snapshots[s], &single);
      if (expected == MT_NOMEM) continue;
      if (statuses[i] != expected || (expected == MT_OK && values[i].data != single.data))
        failf(r, "get_batch key %zu of %zu at snapshot %llu: %s, a single get answers %s", i, count,
              (unsigned long long)snapshots[s], mt_status_str(statuses[i]), mt_status_str(expected));
    }
  }
  r->detail.kind = DETAIL_NONE;
}

static void damaged_reads(run *r, const model_entry *e, size_t pick, bool strict) {
  const model *m = &r->model;
  r->op = "validate with an entry damaged";
  r->detail.kind = DETAIL_NONE;
  mt_status status = mt_memtable_validate(r->table);
  if (strict && status != MT_CORRUPTION) failf(r, "validate: %s, expected MT_CORRUPTION", mt_status_str(status));

  damaged_get(r, e->key, e->key_len, e->seq, strict);
  damaged_get(r, e->key, e->key_len, UINT64_MAX, strict);
  for (size_t i = pick == 0 ? 0 : pick - 1; i <= pick + 1 && i < m->count; i++) {
    if (i == pick) continue;
    damaged_get(r, m->entries[i]->key, m->entries[i]->key_len, m->entries[i]->seq, strict);
    damaged_get(r, m->entries[i]->key, m->entries[i]->key_len, UINT64_MAX, strict);
  }
  damaged_get_batch(r, e, pick);

  /* A damaged link could make a walk circle: no walk is longer than the model. */
  const size_t whole = m->count + 1, few = 3;
  mt_memtable_iter *it = mt_memtable_iter_create(r->table);
  if (it != NULL) {
    r->detail.kind = DETAIL_NONE;
    r->op = "iter_seek_to_first then next with an entry damaged";
    r->failures_mark = r->allocator.failures;
    mt_memtable_iter_seek_to_first(it);
    damaged_iter_walk(r, it, model_first(m, MODEL_EVER), true, whole, strict);
    r->detail.kind = DETAIL_NONE;
    r->op = "iter_seek_to_last then prev with an entry damaged";
    r->failures_mark = r->allocator.failures;
    mt_memtable_iter_seek_to_last(it);
    damaged_iter_walk(r, it, model_last(m, MODEL_EVER), false, whole, strict);
    r->op = "iter_seek to the damaged entry then next";
    set_seek_detail(r, e->key, e->key_len, true, e->seq);
    r->failures_mark = r->allocator.failures;
    mt_memtable_iter_seek(it, e->key, e->key_len, e->seq);
    damaged_iter_walk(r, it, model_seek(m, e->key, e->key_len, e->seq, MODEL_EVER), true, few, strict);
    r->op = "iter_seek_for_prev to the damaged entry then prev";
    set_seek_detail(r, e->key, e->key_len, true, e->seq);
    r->failures_mark = r->allocator.failures;
    mt_memtable_iter_seek_for_prev(it, e->key, e->key_len, e->seq);
    damaged_iter_walk(r, it, model_seek_for_prev(m, e->key, e->key_len, e->seq, MODEL_EVER), false, few, strict);
    mt_memtable_iter_destroy(it);
  }

  const uint64_t snapshots[2] = {UINT64_MAX, e->seq};
  for (int s = 0; s < 2; s++) {
    uint64_t snapshot = snapshots[s];
    mt_memtable_user_iter *user = mt_memtable_user_iter_create(r->table, snapshot);
    if (user == NULL) continue;
    r->detail.kind = DETAIL_NONE;
    r->op = "user_iter_seek_to_first then next with an entry damaged";
    r->failures_mark = r->allocator.failures;
    mt_memtable_user_iter_seek_to_first(user);
    damaged_user_iter_walk(r, user, snapshot, model_user_find(m, snapshot, MODEL_EVER, NULL, 0, USER_AT_OR_AFTER),
                           true, whole, strict);
    r->detail.kind = DETAIL_NONE;
    r->op = "user_iter_seek_to_last then prev with an entry damaged";
    r->failures_mark = r->allocator.failures;
    mt_memtable_user_iter_seek_to_last(user);
    damaged_user_iter_walk(r, user, snapshot, model_user_find(m, snapshot, MODEL_EVER, NULL, 0, USER_BEFORE), false,
                           whole, strict);
    r->op = "user_iter_seek to the damaged entry's key then next";
    set_seek_detail(r, e->key, e->key_len, false, 0);
    r->failures_mark = r->allocator.failures;
    mt_memtable_user_iter_seek(user, e->key, e->key_len);
    damaged_user_iter_walk(r, user, snapshot,
                           model_user_find(m, snapshot, MODEL_EVER, e->key, e->key_len, USER_AT_OR_AFTER), true, few,
                           strict);
    r->op = "user_iter_seek_for_prev to the damaged entry's key then prev";
    set_seek_detail(r, e->key, e->key_len, false, 0);
    r->failures_mark = r->allocator.failures;
    mt_memtable_user_iter_seek_for_prev(user, e->key, e->key_len);
    damaged_user_iter_walk(r, user, snapshot,
                           model_user_find(m, snapshot, MODEL_EVER, e->key, e->key_len, USER_AT_OR_BEFORE), false,
                           few, strict);
    mt_memtable_user_iter_destroy(user);
  }
  r->detail.kind = DETAIL_NONE;
}

/* Damages one byte of a stored entry, looks at the table through its readers, and restores the byte.
 * Without the header's any-byte flag (every input made before it): one bit of the entry's value or checksum
 * flips, and every reader of that entry must report MT_CORRUPTION (unless the flip happens to leave the
 * checksum matching, which the fuzzer computes itself). With the flag, two more input bytes choose any byte
 * of the entry and its checksum (length prefixes, key, sequence and type included) and the bits to flip,
 * and damaged_reads checks the promise for that case. Tables without checksums are never damaged. */
static void op_corrupt(run *r, fuzz_input *in) {
  r->op = "corrupt";
  size_t pick = fuzz_below(in, r->model.count);
  uint8_t where = fuzz_u8(in);
  uint16_t any_offset = 0;
  uint8_t any_mask = 0;
  if (r->damage_any_byte) {
    any_offset = fuzz_u16(in);
    any_mask = fuzz_u8(in);
  }
  if (r->options.checksum_bytes == 0 || r->model.count == 0) return;
  model_entry e = *r->model.entries[pick];
  mt_memtable_iter *it = mt_memtable_iter_create(r->table);
  if (it == NULL) return;
  r->failures_mark = r->allocator.failures;
  mt_memtable_iter_seek(it, e.key, e.key_len, e.seq);
  iter_slot slot = {it, {0}, false, r->clock};
  settle_iter(r, &slot, r->model.entries[pick], NULL);
  if (!slot.valid) { /* the seek's lookup key could not be allocated */
    mt_memtable_iter_destroy(it);
    return;
  }
  mt_slice raw = mt_memtable_iter_entry(it);
  mt_slice value = mt_memtable_iter_value(it);
  /* Arena memory the table handed out; the fuzzer may write it because it restores it before anything else. */
  unsigned char *target;
  if (value.len > 0 && (where & 0x80)) target = (unsigned char *)(uintptr_t)value.data + (where % value.len);
  else target = (unsigned char *)(uintptr_t)value.data + value.len + (where % r->options.checksum_bytes);
  unsigned char mask = (unsigned char)(1u << (where & 7));
  mt_memtable_iter_destroy(it);
  if (r->damage_any_byte) {
    size_t stored_len = raw.len + r->options.checksum_bytes;
    size_t offset = any_offset % stored_len;
    target = (unsigned char *)(uintptr_t)raw.data + offset;
    if (any_mask != 0) mask = any_mask;
    r->damage.active = true;
    r->damage.entry = e;
    r->damage.offset = offset;
    r->damage.stored_len = stored_len;
    r->damage.mask = mask;
    *target ^= mask;
    damaged_reads(r, &e, pick, r->options.checksum_bytes >= 4);
    *target ^= mask;
    r->damage.active = false;
    r->op = "corrupt (restored)";
    check_get(r, e.key, e.key_len, e.seq, true);
    return;
  }

  *target ^= mask;
  uint64_t hash = XXH3_64bits(raw.data, raw.len);
  const unsigned char *stored = (const unsigned char *)value.data + value.len;
  bool still_matches = true;
  for (unsigned i = 0; i < r->options.checksum_bytes; i++)
    if (stored[i] != (unsigned char)(hash >> (8 * i))) still_matches = false;
  if (!still_matches) {
    /* Every reader of the entry must refuse it; MT_NOMEM only when a long key's lookup key failed. */
    r->failures_mark = r->allocator.failures;
    mt_status status = mt_memtable_get(r->table, e.key, e.key_len, e.seq, NULL);
    bool nomem_ok = r->allocator.failures != r->failures_mark;
    if (status != MT_CORRUPTION && !(status == MT_NOMEM && nomem_ok))
      failf(r, "get on a corrupted entry: %s, expected MT_CORRUPTION", mt_status_str(status));
    if (!r->hooked || e.key_len < GET_BATCH_LONG_KEY) { /* see GET_BATCH_LONG_KEY */
      mt_slice batch_key = {e.key, e.key_len};
      if (mt_memtable_get_batch(r->table, &batch_key, 1, e.seq, &status, NULL) != MT_OK ||
          (status != MT_CORRUPTION && !(status == MT_NOMEM && e.key_len >= GET_BATCH_LONG_KEY)))
        failf(r, "get_batch on a corrupted entry: %s, expected MT_CORRUPTION", mt_status_str(status));
    }
    status = mt_memtable_validate(r->table);
    if (status != MT_CORRUPTION) failf(r, "validate with a corrupted entry: %s", mt_status_str(status));
    it = mt_memtable_iter_create(r->table);
    if (it != NULL) {
      r->failures_mark = r->allocator.failures;
      mt_memtable_iter_seek(it, e.key, e.key_len, e.seq);
      status = mt_memtable_iter_status(it);
      nomem_ok = r->allocator.failures != r->failures_mark;
      if (mt_memtable_iter_valid(it) || (status != MT_CORRUPTION && !(status == MT_NOMEM && nomem_ok)))
        failf(r, "iterator landing on a corrupted entry: valid %d, status %s", mt_memtable_iter_valid(it),
              mt_status_str(status));
      mt_memtable_iter_destroy(it);
    }
    mt_memtable_user_iter *user = mt_memtable_user_iter_create(r->table, e.seq);
    if (user != NULL) {
      r->failures_mark = r->allocator.failures;
      mt_memtable_user_iter_seek(user, e.key, e.key_len);
      status = mt_memtable_user_iter_status(user);
      nomem_ok = r->allocator.failures != r->failures_mark;
      if (mt_memtable_user_iter_valid(user) || (status != MT_CORRUPTION && !(status == MT_NOMEM && nomem_ok)))
        failf(r, "user iterator reaching a corrupted entry: valid %d, status %s", mt_memtable_user_iter_valid(user),
              mt_status_str(status));
      mt_memtable_user_iter_destroy(user);
    }
  }
  *target ^= mask;
  check_get(r, e.key, e.key_len, e.seq, true);
}

static void op_null_arguments(run *r) {
  r->op = "null_arguments";
  if (mt_memtable_add(NULL, 1, MT_TYPE_VALUE, "k", 1, "v", 1) != MT_INVALID_ARGUMENT) failf(r, "add(NULL table)");
  if (mt_memtable_get(NULL, "k", 1, 1, NULL) != MT_INVALID_ARGUMENT) failf(r, "get(NULL table)");
  if (mt_memtable_get(r->table, NULL, 1, 1, NULL) != MT_INVALID_ARGUMENT) failf(r, "get(NULL key, length 1)");
  if (mt_memtable_get(r->table, "k", MT_MAX_KEY_LEN + 1, 1, NULL) != MT_INVALID_ARGUMENT)
    failf(r, "get(key_len > MT_MAX_KEY_LEN)");
  mt_slice batch_key = {"k", 1};
  mt_status batch_status = MT_OK;
  if (mt_memtable_get_batch(NULL, &batch_key, 1, 1, &batch_status, NULL) != MT_INVALID_ARGUMENT ||
      mt_memtable_get_batch(r->table, NULL, 1, 1, &batch_status, NULL) != MT_INVALID_ARGUMENT ||
      mt_memtable_get_batch(r->table, &batch_key, 1, 1, NULL, NULL) != MT_INVALID_ARGUMENT ||
      mt_memtable_get_batch(r->table, NULL, 0, 1, NULL, NULL) != MT_OK)
    failf(r, "get_batch with NULL arguments");
  if (mt_memtable_validate(NULL) != MT_INVALID_ARGUMENT) failf(r, "validate(NULL)");
  if (mt_memtable_iter_create(NULL) != NULL || mt_memtable_user_iter_create(NULL, 1) != NULL)
    failf(r, "iterator over a NULL table");
  /* A seek that cannot run leaves the iterator not valid with MT_INVALID_ARGUMENT; the next seek starts over. */
  mt_memtable_iter *it = mt_memtable_iter_create(r->table);
  if (it != NULL) {
    mt_memtable_iter_seek_to_first(it);
    mt_memtable_iter_seek(it, NULL, 1, 1);
    if (mt_memtable_iter_valid(it) || mt_memtable_iter_status(it) != MT_INVALID_ARGUMENT)
      failf(r, "iter_seek(NULL key, length 1)");
    mt_memtable_iter_seek_for_prev(it, "k", MT_MAX_KEY_LEN + 1, 1);
    if (mt_memtable_iter_valid(it) || mt_memtable_iter_status(it) != MT_INVALID_ARGUMENT)
      failf(r, "iter_seek_for_prev(key_len > MT_MAX_KEY_LEN)");
    mt_memtable_iter_seek_to_first(it);
    if (mt_memtable_iter_status(it) != MT_OK || mt_memtable_iter_valid(it) != (r->model.count != 0))
      failf(r, "seek_to_first after a refused seek");
    mt_memtable_iter_destroy(it);
  }
  mt_memtable_user_iter *user = mt_memtable_user_iter_create(r->table, MT_MAX_SEQUENCE);
  if (user != NULL) {
    mt_memtable_user_iter_seek(user, NULL, 1);
    if (mt_memtable_user_iter_valid(user) || mt_memtable_user_iter_status(user) != MT_INVALID_ARGUMENT)
      failf(r, "user_iter_seek(NULL key, length 1)");
    mt_memtable_user_iter_seek_for_prev(user, "k", MT_MAX_KEY_LEN + 1);
    if (mt_memtable_user_iter_valid(user) || mt_memtable_user_iter_status(user) != MT_INVALID_ARGUMENT)
      failf(r, "user_iter_seek_for_prev(key_len > MT_MAX_KEY_LEN)");
    mt_memtable_user_iter_destroy(user);
  }
  mt_memtable_unref(NULL);
  mt_memtable_iter_destroy(NULL);
  mt_memtable_user_iter_destroy(NULL);
  mt_memtable_options options;
  mt_memtable_options_init(&options);
  const mt_memtable_options defaults = MT_MEMTABLE_OPTIONS_INIT;
  /* Field by field: the padding of either copy is unspecified. */
  if (options.compare != defaults.compare || options.compare_ctx != defaults.compare_ctx ||
      options.arena.block_size != defaults.arena.block_size || options.arena.capacity != defaults.arena.capacity ||
      options.arena.allocator.alloc != defaults.arena.allocator.alloc ||
      options.arena.allocator.free != defaults.arena.allocator.free ||
      options.arena.allocator.ctx != defaults.arena.allocator.ctx ||
      options.write_buffer_size != defaults.write_buffer_size ||
      options.bloom_bits_per_key != defaults.bloom_bits_per_key ||
      options.bloom_expected_entries != defaults.bloom_expected_entries ||
      options.bytewise_equal_keys != defaults.bytewise_equal_keys ||
      options.checksum_bytes != defaults.checksum_bytes || options.seed != defaults.seed ||
      options.concurrent_writes != defaults.concurrent_writes || options.point_index != defaults.point_index ||
      options.point_index_entries != defaults.point_index_entries ||
      options.max_sequential_skip != defaults.max_sequential_skip ||
      options.scan_readahead_segments != defaults.scan_readahead_segments ||
      options.scan_readahead_segment_nodes != defaults.scan_readahead_segment_nodes ||
      options.version_links != defaults.version_links || options.version_links ||
      options.skiplist_branching != defaults.skiplist_branching ||
      options.skiplist_branching != MT_MEMTABLE_DEFAULT_SKIPLIST_BRANCHING)
    failf(r, "mt_memtable_options_init differs from the macro");
}

/* Options create must refuse, without leaking through the hook. */
static void check_invalid_options(run *r) {
  r->op = "create_invalid";
  mt_memtable_options options = r->options;
  options.checksum_bytes = 3;
  if (mt_memtable_create(&options) != NULL) failf(r, "create accepted checksum_bytes 3");
  options.checksum_bytes = 16;
  if (mt_memtable_create(&options) != NULL) failf(r, "create accepted checksum_bytes 16");
  options = r->options;
  options.arena.block_size = MT_ARENA_MAX_BLOCK_SIZE + 1;
  if (mt_memtable_create(&options) != NULL) failf(r, "create accepted a block size above the maximum");
  options = r->options;
  options.skiplist_branching = 1;
  if (mt_memtable_create(&options) != NULL) failf(r, "create accepted skiplist_branching 1");
  options.skiplist_branching = MT_MEMTABLE_MAX_SKIPLIST_BRANCHING + 1;
  if (mt_memtable_create(&options) != NULL) failf(r, "create accepted a skiplist_branching above the maximum");
  options = r->options;
  options.arena.allocator.alloc = test_allocator_alloc;
  options.arena.allocator.free = NULL;
  options.arena.allocator.ctx = &r->allocator;
  if (mt_memtable_create(&options) != NULL) failf(r, "create accepted alloc without free");
  if (r->allocator.live_blocks != 0) failf(r, "a refused create leaked allocator memory");
}

static void decode_options(run *r, fuzz_input *in) {
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

static void finish(run *r) {
  if (table_usable(r)) {
    op_validate(r);
    r->op = "final_check";
    check_counters(r);
  }
  for (int i = 0; i < MAX_ITERS; i++) {
    mt_memtable_iter_destroy(r->iters[i].iter);
    r->iters[i].iter = NULL;
    mt_memtable_user_iter_destroy(r->user_iters[i].iter);
    r->user_iters[i].iter = NULL;
  }
  r->op = "final_unref";
  while (r->caller_refs > 0) {
    mt_memtable_unref(r->table);
    r->caller_refs--;
  }
  if (!r->freed) on_table_freed(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* MEMTABLE_FUZZ_TRACE=1 lists the operations an input decodes to (to read a reproducer). */
  static int trace = -1;
  if (trace < 0) trace = getenv("MEMTABLE_FUZZ_TRACE") != NULL;
  fuzz_input in = fuzz_input_make(data, size);
  static run r;
  memset(&r, 0, sizeof(r));
  r.op = "create";
  decode_options(&r, &in);
  bool try_invalid = (fuzz_u8(&in) & 0x0f) == 0;
  if (try_invalid) check_invalid_options(&r);

  r.op = "create";
  uint64_t failures_before = r.allocator.failures;
  r.table = mt_memtable_create(&r.options);
  if (r.table == NULL) {
    if (r.allocator.failures == failures_before && r.options.arena.capacity == 0)
      failf(&r, "create failed with valid options, no capacity and no allocation failure");
    if (r.allocator.live_blocks != 0) failf(&r, "a failed create leaked allocator memory");
    return 0;
  }
  r.caller_refs = 1;
  if (mt_memtable_entry_count(r.table) != 0 || mt_memtable_deletion_count(r.table) != 0)
    failf(&r, "a new table is not empty");
  check_counters(&r);

  while (!fuzz_input_done(&in) && !r.freed) {
    r.clock++;
    r.detail.kind = DETAIL_NONE;
    r.stepping = false;
    uint8_t op = fuzz_u8(&in) % 32;
    if (!table_usable(&r) && !(op >= 14 && op <= 24)) continue; /* only the iterators still hold the table */
    if (op < 10) op_add(&r, &in);
    else if (op < 14) op_get(&r, &in);
    else if (op == 14) {
      if (table_usable(&r)) op_iter_create(&r, &in);
    } else if (op == 15) op_iter_destroy(&r, &in);
    else if (op < 20) op_iter_move(&r, &in);
    else if (op == 20) {
      if (table_usable(&r)) op_user_iter_create(&r, &in);
    } else if (op == 21) op_user_iter_destroy(&r, &in);
    else if (op < 25) op_user_iter_move(&r, &in);
    else if (op == 25) op_ref(&r);
    else if (op == 26) op_unref(&r);
    else if (op == 27) op_validate(&r);
    else if (op == 28) op_corrupt(&r, &in);
    else if (op == 29) op_full_scan(&r, &in);
    else if (op == 30) {
      r.op = "counters";
      check_counters(&r);
    }
    else op_null_arguments(&r);
    if (trace) fprintf(stderr, "op %llu: %s (model %zu entries, caller refs %d)\n", (unsigned long long)r.clock, r.op,
                       r.model.count, r.caller_refs);
  }
  finish(&r);
  model_free(&r.model);
  return 0;
}
