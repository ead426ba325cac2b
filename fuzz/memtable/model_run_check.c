/* fuzz/memtable/model_run_check.c - the checks of a model run: the table's answers against the model's, and
 * the failure message that names what disagreed. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include <memtable/memtable.h>

#include "model_run.h"

void run_describe_bytes(char *out, size_t out_size, const char *bytes, size_t len) {
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

void run_describe_entry(char *out, size_t out_size, const model_entry *e) {
  if (e == NULL) {
    snprintf(out, out_size, "(none)");
    return;
  }
  char key[96], value[64];
  run_describe_bytes(key, sizeof(key), e->key, e->key_len);
  run_describe_bytes(value, sizeof(value), e->value, e->value_len);
  snprintf(out, out_size, "\"%s\" (%zu bytes) seq %llu %s value \"%s\" (%zu bytes)", key, e->key_len,
           (unsigned long long)e->seq, e->type == MT_TYPE_VALUE ? "VALUE" : "DELETION", value, e->value_len);
}

void run_fail(const run *r, const char *format, ...) {
  va_list args;
  va_start(args, format);
  char detail[320] = "", text[256];
  switch (r->detail.kind) {
    case DETAIL_NONE: break;
    case DETAIL_KEY:
    case DETAIL_KEY_AT_SNAPSHOT:
      run_describe_bytes(text, sizeof(text), r->detail.key, r->detail.key_len);
      if (r->detail.kind == DETAIL_KEY)
        snprintf(detail, sizeof(detail), " (\"%s\" (%zu bytes))", text, r->detail.key_len);
      else
        snprintf(detail, sizeof(detail), " (\"%s\" (%zu bytes), snapshot %llu)", text, r->detail.key_len,
                 (unsigned long long)r->detail.snapshot);
      break;
    case DETAIL_STEP:
      run_describe_entry(text, sizeof(text), &r->detail.from);
      snprintf(detail, sizeof(detail), " (from %s)", text);
      break;
  }
  fprintf(stderr, "%s: during %s%s: ", r->target, r->op, detail);
  vfprintf(stderr, format, args);
  if (r->damage.active) {
    run_describe_entry(text, sizeof(text), &r->damage.entry);
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

void run_set_seek_detail(run *r, const char *key, size_t key_len, bool has_snapshot, uint64_t snapshot) {
  r->detail.kind = has_snapshot ? DETAIL_KEY_AT_SNAPSHOT : DETAIL_KEY;
  r->detail.key = key;
  r->detail.key_len = key_len;
  r->detail.snapshot = snapshot;
}

void run_set_step_detail(run *r, const model_entry *from) {
  r->detail.kind = DETAIL_STEP;
  r->detail.from = *from;
}

/* The table was just freed by its last unref: the allocator must have everything back. */
void run_on_table_freed(run *r) {
  r->freed = true;
  r->table = NULL;
  if (r->hooked && r->allocator.live_blocks != 0)
    run_fail(r, "the last unref left %zu blocks (%zu bytes) with the allocator", r->allocator.live_blocks,
          r->allocator.live_bytes);
}

/* Checks the stored checksum against an independent XXH3-64 of the entry bytes. */
static void check_checksum_bytes(const run *r, mt_slice entry, mt_slice value) {
  unsigned n = r->options.checksum_bytes;
  if (n == 0) return;
  uint64_t hash = XXH3_64bits(entry.data, entry.len);
  const unsigned char *stored = (const unsigned char *)value.data + value.len;
  for (unsigned i = 0; i < n; i++)
    if (stored[i] != (unsigned char)(hash >> (8 * i)))
      run_fail(r, "checksum byte %u is 0x%02x, XXH3-64 of the entry gives 0x%02x", i, stored[i],
            (unsigned char)(hash >> (8 * i)));
}

/* The iterator sits on some entry: it must be exactly `expected`, with a consistent raw encoding. */
bool run_iter_matches(const mt_memtable_iter *it, const model_entry *expected) {
  if (expected == NULL) return !mt_memtable_iter_valid(it);
  if (!mt_memtable_iter_valid(it)) return false;
  return run_slice_equals(mt_memtable_iter_user_key(it), expected->key, expected->key_len) &&
         mt_memtable_iter_seq(it) == expected->seq && mt_memtable_iter_type(it) == expected->type &&
         run_slice_equals(mt_memtable_iter_value(it), expected->value, expected->value_len);
}

static void check_iter_encoding(const run *r, const mt_memtable_iter *it, const model_entry *e) {
  mt_slice raw = mt_memtable_iter_entry(it);
  size_t size = mt_entry_encoded_size(e->key_len, e->value_len);
  if (raw.len != size) run_fail(r, "raw entry is %zu bytes, mt_entry_encoded_size says %zu", raw.len, size);
  char *encoded = malloc(size == 0 ? 1 : size);
  size_t written = 0;
  mt_status status =
      mt_entry_encode(encoded, size, e->seq, e->type, e->key, e->key_len, e->value, e->value_len, &written);
  if (status != MT_OK || written != size || memcmp(encoded, raw.data, size) != 0)
    run_fail(r, "raw entry differs from mt_entry_encode of the same fields (%s)", mt_status_str(status));
  free(encoded);
  mt_entry decoded;
  size_t consumed = 0;
  status = mt_entry_decode(raw.data, raw.len, &decoded, &consumed);
  if (status != MT_OK || consumed != raw.len || decoded.seq != e->seq || decoded.type != e->type ||
      !run_slice_equals(decoded.user_key, e->key, e->key_len) || !run_slice_equals(decoded.value, e->value, e->value_len))
    run_fail(r, "mt_entry_decode of the raw entry disagrees (%s)", mt_status_str(status));
  check_checksum_bytes(r, raw, mt_memtable_iter_value(it));
}

void run_settle_iter(run *r, iter_slot *slot, const model_entry *now, const model_entry *then) {
  mt_memtable_iter *it = slot->iter;
  mt_status status = mt_memtable_iter_status(it);
  if (status == MT_NOMEM && r->allocator.failures != r->failures_mark && !mt_memtable_iter_valid(it)) {
    slot->valid = false; /* a long key's lookup key could not be allocated */
    return;
  }
  if (status != MT_OK) run_fail(r, "iterator status %s with nothing corrupted", mt_status_str(status));
  const model_entry *got = NULL;
  if (run_iter_matches(it, now)) got = now;
  else if (run_iter_matches(it, then)) got = then;
  else {
    char want[256], want_then[256], have[256];
    run_describe_entry(want, sizeof(want), now);
    run_describe_entry(want_then, sizeof(want_then), then);
    if (mt_memtable_iter_valid(it)) {
      mt_slice k = mt_memtable_iter_user_key(it), v = mt_memtable_iter_value(it);
      model_entry seen = {(char *)k.data, k.len, mt_memtable_iter_seq(it), mt_memtable_iter_type(it),
                          (char *)v.data, v.len, 0};
      run_describe_entry(have, sizeof(have), &seen);
    } else {
      snprintf(have, sizeof(have), "(not valid)");
    }
    run_fail(r, "iterator disagrees with the model\n  expected %s\n%s%s%s  got      %s", want,
          r->stepping ? "  (or, without entries added since its seek, " : "", r->stepping ? want_then : "",
          r->stepping ? ")\n" : "", have);
  }
  slot->valid = got != NULL;
  if (got != NULL) {
    slot->cursor = *got;
    check_iter_encoding(r, it, got);
  }
}

void run_check_counters(run *r) {
  uint64_t entries = mt_memtable_entry_count(r->table), deletions = mt_memtable_deletion_count(r->table);
  if (entries != r->model.count || deletions != r->model.deletions)
    run_fail(r, "entry/deletion count %llu/%llu, model %zu/%llu", (unsigned long long)entries,
          (unsigned long long)deletions, r->model.count, (unsigned long long)r->model.deletions);
  size_t usage = mt_memtable_approximate_memory_usage(r->table);
  if (usage < r->last_usage) run_fail(r, "memory usage fell from %zu to %zu", r->last_usage, usage);
  r->last_usage = usage;
  bool flush = mt_memtable_should_flush(r->table);
  mt_memtable_memory_stats memory;
  if (mt_memtable_get_memory_stats(r->table, &memory) != MT_OK) run_fail(r, "memory stats refused");
  const mt_arena_stats *a = &memory.arena;
  size_t budget = r->options.write_buffer_size;
  if (budget == 0) budget = MT_MEMTABLE_DEFAULT_WRITE_BUFFER_SIZE;
  /* The rule of mt_memtable_should_flush, and the split's identities. */
  bool expected = usage > budget || (usage + a->block_size > budget && a->free_bytes < a->block_size / 4 + 7);
  if (flush != expected)
    run_fail(r, "should_flush %d with usage %zu, free %zu, block %zu and write_buffer_size %zu", flush, usage,
          a->free_bytes, a->block_size, budget);
  if (a->held_bytes != usage || a->held_bytes != a->header_bytes + a->used_bytes + a->wasted_bytes + a->free_bytes ||
      a->used_bytes != memory.filter_bytes + memory.index_bytes + memory.bookkeeping_bytes + memory.entry_bytes)
    run_fail(r, "memory split: held %zu used %zu wasted %zu free %zu headers %zu", a->held_bytes, a->used_bytes,
          a->wasted_bytes, a->free_bytes, a->header_bytes);
}

void run_check_get(run *r, const char *key, size_t key_len, uint64_t snapshot, bool want_value) {
  const model_entry *e = model_get(&r->model, key, key_len, snapshot);
  mt_status expected = e == NULL ? MT_NOT_FOUND : e->type == MT_TYPE_DELETION ? MT_DELETED : MT_OK;
  mt_slice value = {"untouched", 9};
  const void *key_arg = key_len == 0 && (snapshot & 1) ? NULL : key; /* an empty key may come as NULL */
  uint64_t failures_before = r->allocator.failures;
  mt_status status = mt_memtable_get(r->table, key_arg, key_len, snapshot, want_value ? &value : NULL);
  if (status == MT_NOMEM && r->allocator.failures != failures_before) return; /* a long key's lookup key */
  char key_text[96];
  if (status != expected || (status == MT_OK && want_value && !run_slice_equals(value, e->value, e->value_len)))
    run_describe_bytes(key_text, sizeof(key_text), key, key_len);
  if (status != expected)
    run_fail(r, "get(\"%s\", snapshot %llu): expected %s, got %s", key_text, (unsigned long long)snapshot,
          mt_status_str(expected), mt_status_str(status));
  if (status == MT_OK && want_value && !run_slice_equals(value, e->value, e->value_len)) {
    char want[64], have[64];
    run_describe_bytes(want, sizeof(want), e->value, e->value_len);
    run_describe_bytes(have, sizeof(have), value.data, value.len);
    run_fail(r, "get(\"%s\", snapshot %llu): value \"%s\" (%zu bytes), expected \"%s\" (%zu bytes)", key_text,
          (unsigned long long)snapshot, have, value.len, want, e->value_len);
  }
}

/* mt_memtable_get_batch over keys at snapshot: every status (and value) as the model says, as run_check_get
 * checks one get. */
void run_check_get_batch(run *r, const mt_slice *keys, size_t count, uint64_t snapshot) {
  enum { MAX_BATCH = 8 };
  mt_status statuses[MAX_BATCH];
  mt_slice values[MAX_BATCH];
  if (count > MAX_BATCH) count = MAX_BATCH;
  for (size_t i = 0; i < count; i++) values[i] = (mt_slice){"untouched", 9};
  uint64_t failures_before = r->allocator.failures;
  mt_status status = mt_memtable_get_batch(r->table, keys, count, snapshot, statuses, values);
  if (status != MT_OK) run_fail(r, "get_batch(%zu keys): %s", count, mt_status_str(status));
  bool hook_failed = r->allocator.failures != failures_before;
  for (size_t i = 0; i < count; i++) {
    bool invalid = keys[i].data == NULL && keys[i].len != 0;
    const model_entry *e = invalid ? NULL : model_get(&r->model, keys[i].data, keys[i].len, snapshot);
    mt_status expected = invalid ? MT_INVALID_ARGUMENT
                         : e == NULL ? MT_NOT_FOUND
                         : e->type == MT_TYPE_DELETION ? MT_DELETED : MT_OK;
    if (statuses[i] == MT_NOMEM && hook_failed && keys[i].len >= GET_BATCH_LONG_KEY) continue;
    char key_text[96] = "(NULL)";
    if (keys[i].data != NULL) run_describe_bytes(key_text, sizeof(key_text), keys[i].data, keys[i].len);
    if (statuses[i] != expected)
      run_fail(r, "get_batch key %zu of %zu (\"%s\", snapshot %llu): expected %s, got %s", i, count, key_text,
            (unsigned long long)snapshot, mt_status_str(expected), mt_status_str(statuses[i]));
    if (expected == MT_OK ? !run_slice_equals(values[i], e->value, e->value_len) : !run_slice_equals(values[i], "untouched", 9))
      run_fail(r, "get_batch key %zu of %zu (\"%s\", snapshot %llu): value %zu bytes, expected %zu", i, count, key_text,
            (unsigned long long)snapshot, values[i].len, expected == MT_OK ? e->value_len : (size_t)9);
  }
}

bool run_user_iter_matches(const mt_memtable_user_iter *it, const model_entry *expected) {
  if (expected == NULL) return !mt_memtable_user_iter_valid(it);
  return mt_memtable_user_iter_valid(it) &&
         run_slice_equals(mt_memtable_user_iter_key(it), expected->key, expected->key_len) &&
         run_slice_equals(mt_memtable_user_iter_value(it), expected->value, expected->value_len) &&
         mt_memtable_user_iter_seq(it) == expected->seq;
}

void run_settle_user_iter(run *r, user_iter_slot *slot, const model_entry *now, const model_entry *then) {
  mt_memtable_user_iter *it = slot->iter;
  mt_status status = mt_memtable_user_iter_status(it);
  if (status == MT_NOMEM && r->allocator.failures != r->failures_mark && !mt_memtable_user_iter_valid(it)) {
    slot->valid = false;
    return;
  }
  if (status != MT_OK) run_fail(r, "user iterator status %s with nothing corrupted", mt_status_str(status));
  const model_entry *got = NULL;
  if (run_user_iter_matches(it, now)) got = now;
  else if (run_user_iter_matches(it, then)) got = then;
  else {
    char want[256], want_then[256], have[256];
    run_describe_entry(want, sizeof(want), now);
    run_describe_entry(want_then, sizeof(want_then), then);
    if (mt_memtable_user_iter_valid(it)) {
      mt_slice k = mt_memtable_user_iter_key(it), v = mt_memtable_user_iter_value(it);
      model_entry seen = {(char *)k.data, k.len, mt_memtable_user_iter_seq(it), MT_TYPE_VALUE,
                          (char *)v.data, v.len, 0};
      run_describe_entry(have, sizeof(have), &seen);
    } else {
      snprintf(have, sizeof(have), "(not valid)");
    }
    run_fail(r, "user iterator at snapshot %llu disagrees with the model\n  expected %s\n%s%s%s  got      %s",
          (unsigned long long)slot->snapshot, want, r->stepping ? "  (or, without entries added since its seek, " : "",
          r->stepping ? want_then : "", r->stepping ? ")\n" : "", have);
  }
  slot->valid = got != NULL;
  if (got != NULL) slot->cursor = *got;
}
