/* fuzz/memtable/memtable_damage_fuzz.c - libFuzzer target for corruption detection: the model run of
 * memtable_fuzz (model_run.h: the same input format and checks), in which the damage operation really damages
 * one stored entry, looks at the table through every reader while the damage is in place, and restores it.
 *
 * Without the header's any-byte flag one bit of an entry's value or checksum flips, and every reader of that
 * entry must report MT_CORRUPTION (unless the flip leaves the checksum matching, which the target computes
 * itself with XXH3-64). With the flag, any byte of the entry and its checksum (length prefixes, key, sequence
 * and type included) may be damaged, and with 4 or 8 checksum bytes every get, batch and iterator position must
 * then be the model's answer or MT_CORRUPTION (include/memtable/memtable.h, checksum_bytes; docs/checksums.md).
 * With 1 or 2 checksum bytes the same reads run for memory safety alone (ASan). Tables without checksums are
 * never damaged.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <xxhash.h>

#include <memtable/memtable.h>

#include "model_run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads while one entry is damaged (the header's any-byte flag). The promise checked, with
 * checksum_bytes 4 or 8 (`strict`): every get and every iterator position either is exactly the model's
 * answer or reports MT_CORRUPTION (get returns it; an iterator is not valid with that status), in both
 * directions; MT_NOMEM only where a long key's lookup key could not be allocated. With 1 or 2 checksum
 * bytes a damaged entry may pass its check, so there the same reads run for memory safety alone (ASan). */
static bool damaged_read_refused(const run *r, mt_status status, bool valid) {
  return !valid && (status == MT_CORRUPTION || (status == MT_NOMEM && r->allocator.failures != r->failures_mark));
}

static void damaged_get(run *r, const char *key, size_t key_len, uint64_t snapshot, bool strict) {
  r->op = "get with an entry damaged";
  run_set_seek_detail(r, key, key_len, true, snapshot);
  r->failures_mark = r->allocator.failures;
  mt_slice value = {NULL, 0};
  mt_status status = mt_memtable_get(r->table, key, key_len, snapshot, &value);
  if (!strict || damaged_read_refused(r, status, false)) return;
  const model_entry *e = model_get(&r->model, key, key_len, snapshot);
  mt_status expected = e == NULL ? MT_NOT_FOUND : e->type == MT_TYPE_DELETION ? MT_DELETED : MT_OK;
  if (status != expected)
    run_fail(r, "got %s, expected %s or MT_CORRUPTION", mt_status_str(status), mt_status_str(expected));
  if (status == MT_OK && !run_slice_equals(value, e->value, e->value_len)) {
    char want[64], have[64];
    run_describe_bytes(want, sizeof(want), e->value, e->value_len);
    run_describe_bytes(have, sizeof(have), value.data, value.len);
    run_fail(r, "value \"%s\" (%zu bytes), expected \"%s\" (%zu bytes) or MT_CORRUPTION", have, value.len, want,
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
    if (strict && (status != MT_OK || !run_iter_matches(it, expected))) {
      char want[256], have[256];
      run_describe_entry(want, sizeof(want), expected);
      if (valid) {
        mt_slice k = mt_memtable_iter_user_key(it), v = mt_memtable_iter_value(it);
        model_entry seen = {k.data, k.len, mt_memtable_iter_seq(it), mt_memtable_iter_type(it), v.data, v.len, 0};
        run_describe_entry(have, sizeof(have), &seen);
      } else {
        snprintf(have, sizeof(have), "(not valid)");
      }
      run_fail(r, "iterator after %zu steps: status %s\n  expected %s (or not valid with MT_CORRUPTION)\n  got      %s",
            step, mt_status_str(status), want, have);
    }
    if (!valid || step == max_steps) return;
    if (strict) run_set_step_detail(r, expected);
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
    if (strict && (status != MT_OK || !run_user_iter_matches(it, expected))) {
      char want[256], have[256];
      run_describe_entry(want, sizeof(want), expected);
      if (valid) {
        mt_slice k = mt_memtable_user_iter_key(it), v = mt_memtable_user_iter_value(it);
        model_entry seen = {k.data, k.len, mt_memtable_user_iter_seq(it), MT_TYPE_VALUE, v.data, v.len, 0};
        run_describe_entry(have, sizeof(have), &seen);
      } else {
        snprintf(have, sizeof(have), "(not valid)");
      }
      run_fail(r, "user iterator at snapshot %llu after %zu steps: status %s\n  expected %s (or not valid with "
               "MT_CORRUPTION)\n  got      %s",
            (unsigned long long)snapshot, step, mt_status_str(status), want, have);
    }
    if (!valid || step == max_steps) return;
    if (strict) run_set_step_detail(r, expected);
    r->failures_mark = r->allocator.failures;
    if (forward) mt_memtable_user_iter_next(it);
    else mt_memtable_user_iter_prev(it);
    if (strict)
      expected = model_user_find(&r->model, snapshot, MODEL_EVER, expected->key, expected->key_len,
                                 forward ? USER_AFTER : USER_BEFORE);
  }
}

/* With an entry damaged, a batch of the damaged entry's key and its neighbours' answers each exactly as a
 * single get does (the same search, the same neighbour check). Short keys only when the allocator is the hook
 * (see GET_BATCH_LONG_KEY): neither the batch nor the singles then call the hook. */
static void damaged_get_batch(run *r, const model_entry *e, size_t pick) {
  const model *m = &r->model;
  r->op = "get_batch with an entry damaged";
  run_set_seek_detail(r, e->key, e->key_len, true, e->seq);
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
      run_fail(r, "get_batch(%zu keys) failed", count);
    if (r->allocator.failures != failures_before) continue; /* a long key's lookup key: not comparable */
    for (size_t i = 0; i < count; i++) {
      mt_slice single = {NULL, 0};
      mt_status expected = mt_memtable_get(r->table, keys[i].data, keys[i].len, snapshots[s], &single);
      if (expected == MT_NOMEM) continue;
      if (statuses[i] != expected || (expected == MT_OK && values[i].data != single.data))
        run_fail(r, "get_batch key %zu of %zu at snapshot %llu: %s, a single get answers %s", i, count,
              (unsigned long long)snapshots[s], mt_status_str(statuses[i]), mt_status_str(expected));
    }
  }
  r->detail.kind = DETAIL_NONE;
}

/* Every reader over the table with entry e (index pick in the model) damaged. */
static void damaged_reads(run *r, const model_entry *e, size_t pick, bool strict) {
  const model *m = &r->model;
  r->op = "validate with an entry damaged";
  r->detail.kind = DETAIL_NONE;
  mt_status status = mt_memtable_validate(r->table);
  if (strict && status != MT_CORRUPTION) run_fail(r, "validate: %s, expected MT_CORRUPTION", mt_status_str(status));

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
    run_set_seek_detail(r, e->key, e->key_len, true, e->seq);
    r->failures_mark = r->allocator.failures;
    mt_memtable_iter_seek(it, e->key, e->key_len, e->seq);
    damaged_iter_walk(r, it, model_seek(m, e->key, e->key_len, e->seq, MODEL_EVER), true, few, strict);
    r->op = "iter_seek_for_prev to the damaged entry then prev";
    run_set_seek_detail(r, e->key, e->key_len, true, e->seq);
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
    run_set_seek_detail(r, e->key, e->key_len, false, 0);
    r->failures_mark = r->allocator.failures;
    mt_memtable_user_iter_seek(user, e->key, e->key_len);
    damaged_user_iter_walk(r, user, snapshot,
                           model_user_find(m, snapshot, MODEL_EVER, e->key, e->key_len, USER_AT_OR_AFTER), true, few,
                           strict);
    r->op = "user_iter_seek_for_prev to the damaged entry's key then prev";
    run_set_seek_detail(r, e->key, e->key_len, false, 0);
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
 * Without the header's any-byte flag: one bit of the entry's value or checksum flips, and every reader of
 * that entry must report MT_CORRUPTION (unless the flip happens to leave the checksum matching, which the
 * target computes itself). With the flag, two more input bytes choose any byte of the entry and its checksum
 * (length prefixes, key, sequence and type included) and the bits to flip, and damaged_reads checks the
 * promise for that case. Tables without checksums are never damaged. */
static void damage_one_entry(run *r, const run_damage_args *args) {
  size_t pick = args->pick;
  uint8_t where = args->where;
  uint16_t any_offset = args->any_offset;
  uint8_t any_mask = args->any_mask;
  if (r->options.checksum_bytes == 0 || r->model.count == 0) return;
  model_entry e = *r->model.entries[pick];
  mt_memtable_iter *it = mt_memtable_iter_create(r->table);
  if (it == NULL) return;
  r->failures_mark = r->allocator.failures;
  mt_memtable_iter_seek(it, e.key, e.key_len, e.seq);
  iter_slot slot = {it, {0}, false, r->clock};
  run_settle_iter(r, &slot, r->model.entries[pick], NULL);
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
    run_check_get(r, e.key, e.key_len, e.seq, true);
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
      run_fail(r, "get on a corrupted entry: %s, expected MT_CORRUPTION", mt_status_str(status));
    if (!r->hooked || e.key_len < GET_BATCH_LONG_KEY) { /* see GET_BATCH_LONG_KEY */
      mt_slice batch_key = {e.key, e.key_len};
      if (mt_memtable_get_batch(r->table, &batch_key, 1, e.seq, &status, NULL) != MT_OK ||
          (status != MT_CORRUPTION && !(status == MT_NOMEM && e.key_len >= GET_BATCH_LONG_KEY)))
        run_fail(r, "get_batch on a corrupted entry: %s, expected MT_CORRUPTION", mt_status_str(status));
    }
    status = mt_memtable_validate(r->table);
    if (status != MT_CORRUPTION) run_fail(r, "validate with a corrupted entry: %s", mt_status_str(status));
    it = mt_memtable_iter_create(r->table);
    if (it != NULL) {
      r->failures_mark = r->allocator.failures;
      mt_memtable_iter_seek(it, e.key, e.key_len, e.seq);
      status = mt_memtable_iter_status(it);
      nomem_ok = r->allocator.failures != r->failures_mark;
      if (mt_memtable_iter_valid(it) || (status != MT_CORRUPTION && !(status == MT_NOMEM && nomem_ok)))
        run_fail(r, "iterator landing on a corrupted entry: valid %d, status %s", mt_memtable_iter_valid(it),
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
        run_fail(r, "user iterator reaching a corrupted entry: valid %d, status %s", mt_memtable_user_iter_valid(user),
              mt_status_str(status));
      mt_memtable_user_iter_destroy(user);
    }
  }
  *target ^= mask;
  run_check_get(r, e.key, e.key_len, e.seq, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return run_input(data, size, "memtable_damage_fuzz", damage_one_entry);
}
