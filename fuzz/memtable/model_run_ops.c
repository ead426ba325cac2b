/* fuzz/memtable/model_run_ops.c - the operations of a model run, each decoding its arguments from the input,
 * running on the table and the model and comparing them; and run_input, the loop that decodes an input into
 * them (the format: model_run.h). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/memtable.h>

#include "model_run.h"

/* Keys and snapshots. */
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
  if (!ok) run_describe_bytes(key_text, sizeof(key_text), key, key_len);
  if (!ok)
    run_fail(r, "add(seq %llu, type %d, \"%s\" (%zu bytes), value %zu bytes): got %s; expected %s%s",
          (unsigned long long)seq, type_arg, key_text, key_len_arg, value_len_arg, mt_status_str(status),
          invalid ? "MT_INVALID_ARGUMENT" : existing != NULL ? "MT_EXISTS" : "MT_OK",
          invalid ? "" : r->options.arena.capacity != 0 ? " or MT_FULL" : hook_failed ? " or MT_NOMEM" : "");
  if (status == MT_OK) {
    model_add(&r->model, seq, type, key, key_len, value, value_len, r->clock);
    /* Only the increasing path advances: one add at MT_MAX_SEQUENCE must not make every later one invalid. */
    if (seq_choice < 160 && seq > r->last_seq) r->last_seq = seq;
  }
  run_check_counters(r);
  if (status != MT_OK && !invalid) {
    /* A refused add must have left no trace of itself. */
    run_check_get(r, key, key_len, seq, true);
    run_check_get(r, key, key_len, UINT64_MAX, true);
  }
}

static void op_get(run *r, fuzz_input *in) {
  r->op = "get";
  size_t key_len;
  const char *key = pick_key(r, in, &key_len);
  uint64_t snapshot = pick_snapshot(r, in);
  run_check_get(r, key, key_len, snapshot, fuzz_u8(in) != 0);
  /* The same key in a batch, twice, with entries the model picks and a bad key: no input is read for it,
   * so inputs made before get_batch existed decode to the same operations. */
  r->op = "get_batch";
  run_set_seek_detail(r, key, key_len, true, snapshot);
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
  run_check_get_batch(r, keys, count, snapshot);
  r->op = "get"; /* the trace names the operation the input chose */
}

static void op_iter_create(run *r, fuzz_input *in) {
  r->op = "iter_create";
  iter_slot *slot = &r->iters[fuzz_below(in, MAX_ITERS)];
  if (slot->iter != NULL) return;
  uint64_t failures_before = r->allocator.failures;
  slot->iter = mt_memtable_iter_create(r->table);
  if (slot->iter == NULL) {
    if (r->allocator.failures == failures_before) run_fail(r, "iter_create returned NULL with no allocation failure");
    return;
  }
  if (mt_memtable_iter_valid(slot->iter)) run_fail(r, "a new iterator is valid");
  slot->valid = false;
  slot->positioned_at = r->clock;
}

static void op_iter_destroy(run *r, fuzz_input *in) {
  r->op = "iter_destroy";
  iter_slot *slot = &r->iters[fuzz_below(in, MAX_ITERS)];
  mt_memtable_iter_destroy(slot->iter);
  slot->iter = NULL;
  if (!run_table_usable(r) && !r->freed && !run_any_iterator_alive(r)) run_on_table_freed(r);
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
      run_set_seek_detail(r, key, key_len, true, snapshot);
      mt_memtable_iter_seek(slot->iter, key, key_len, snapshot);
      slot->positioned_at = r->clock;
      run_settle_iter(r, slot, model_seek(m, key, key_len, snapshot, MODEL_EVER), NULL);
      break;
    case 2:
      r->op = "iter_seek_for_prev";
      key = pick_key(r, in, &key_len);
      snapshot = pick_snapshot(r, in);
      run_set_seek_detail(r, key, key_len, true, snapshot);
      mt_memtable_iter_seek_for_prev(slot->iter, key, key_len, snapshot);
      slot->positioned_at = r->clock;
      run_settle_iter(r, slot, model_seek_for_prev(m, key, key_len, snapshot, MODEL_EVER), NULL);
      break;
    case 3:
      r->op = "iter_seek_to_first";
      mt_memtable_iter_seek_to_first(slot->iter);
      slot->positioned_at = r->clock;
      run_settle_iter(r, slot, model_first(m, MODEL_EVER), NULL);
      break;
    case 4:
      r->op = "iter_seek_to_last";
      mt_memtable_iter_seek_to_last(slot->iter);
      slot->positioned_at = r->clock;
      run_settle_iter(r, slot, model_last(m, MODEL_EVER), NULL);
      break;
    default: {
      /* A run of steps in one direction: long walks are what find broken links. */
      bool forward = move % 8 != 7;
      r->op = forward ? "iter_next" : "iter_prev";
      size_t steps = 1 + (move >> 3);
      for (size_t i = 0; i < steps && slot->valid; i++) {
        model_entry cur = slot->cursor;
        run_set_step_detail(r, &cur);
        r->stepping = true;
        if (forward) mt_memtable_iter_next(slot->iter);
        else mt_memtable_iter_prev(slot->iter);
        const model_entry *now = forward ? model_next(m, &cur, MODEL_EVER) : model_prev(m, &cur, MODEL_EVER);
        const model_entry *then = forward ? model_next(m, &cur, slot->positioned_at)
                                          : model_prev(m, &cur, slot->positioned_at);
        run_settle_iter(r, slot, now, then);
      }
      break;
    }
  }
}

static void op_user_iter_create(run *r, fuzz_input *in) {
  r->op = "user_iter_create";
  user_iter_slot *slot = &r->user_iters[fuzz_below(in, MAX_ITERS)];
  uint64_t snapshot = pick_snapshot(r, in);
  if (slot->iter != NULL) return;
  uint64_t failures_before = r->allocator.failures;
  slot->iter = mt_memtable_user_iter_create(r->table, snapshot);
  if (slot->iter == NULL) {
    if (r->allocator.failures == failures_before) run_fail(r, "user_iter_create returned NULL with no allocation failure");
    return;
  }
  if (mt_memtable_user_iter_valid(slot->iter)) run_fail(r, "a new user iterator is valid");
  slot->snapshot = snapshot;
  slot->valid = false;
  slot->positioned_at = r->clock;
}

static void op_user_iter_destroy(run *r, fuzz_input *in) {
  r->op = "user_iter_destroy";
  user_iter_slot *slot = &r->user_iters[fuzz_below(in, MAX_ITERS)];
  mt_memtable_user_iter_destroy(slot->iter);
  slot->iter = NULL;
  if (!run_table_usable(r) && !r->freed && !run_any_iterator_alive(r)) run_on_table_freed(r);
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
      run_set_seek_detail(r, key, key_len, false, 0);
      mt_memtable_user_iter_seek(slot->iter, key, key_len);
      slot->positioned_at = r->clock;
      run_settle_user_iter(r, slot, model_user_find(m, s, MODEL_EVER, key, key_len, USER_AT_OR_AFTER), NULL);
      break;
    case 2:
      r->op = "user_iter_seek_for_prev";
      key = pick_key(r, in, &key_len);
      run_set_seek_detail(r, key, key_len, false, 0);
      mt_memtable_user_iter_seek_for_prev(slot->iter, key, key_len);
      slot->positioned_at = r->clock;
      run_settle_user_iter(r, slot, model_user_find(m, s, MODEL_EVER, key, key_len, USER_AT_OR_BEFORE), NULL);
      break;
    case 3:
      r->op = "user_iter_seek_to_first";
      mt_memtable_user_iter_seek_to_first(slot->iter);
      slot->positioned_at = r->clock;
      run_settle_user_iter(r, slot, model_user_find(m, s, MODEL_EVER, NULL, 0, USER_AT_OR_AFTER), NULL);
      break;
    case 4:
      r->op = "user_iter_seek_to_last";
      mt_memtable_user_iter_seek_to_last(slot->iter);
      slot->positioned_at = r->clock;
      run_settle_user_iter(r, slot, model_user_find(m, s, MODEL_EVER, NULL, 0, USER_BEFORE), NULL);
      break;
    default: {
      bool forward = move % 8 != 7;
      r->op = forward ? "user_iter_next" : "user_iter_prev";
      size_t steps = 1 + (move >> 3);
      for (size_t i = 0; i < steps && slot->valid; i++) {
        model_entry cur = slot->cursor;
        run_set_step_detail(r, &cur);
        r->stepping = true;
        model_user_bound bound = forward ? USER_AFTER : USER_BEFORE;
        if (forward) mt_memtable_user_iter_next(slot->iter);
        else mt_memtable_user_iter_prev(slot->iter);
        run_settle_user_iter(r, slot, model_user_find(m, s, MODEL_EVER, cur.key, cur.key_len, bound),
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
  if (r->caller_refs == 0 && !run_any_iterator_alive(r)) run_on_table_freed(r);
}

static void op_validate(run *r) {
  r->op = "validate";
  mt_status status = mt_memtable_validate(r->table);
  if (status != MT_OK) run_fail(r, "mt_memtable_validate: %s", mt_status_str(status));
}

/* Walks the whole table both ways with a fresh iterator and the whole user view at one snapshot. */
static void op_full_scan(run *r, fuzz_input *in) {
  r->failures_mark = r->allocator.failures;
  r->op = "full_scan seek_to_first";
  uint64_t failures_before = r->allocator.failures;
  iter_slot slot = {mt_memtable_iter_create(r->table), {0}, false, r->clock};
  if (slot.iter == NULL && r->allocator.failures == failures_before)
    run_fail(r, "iter_create returned NULL with no allocation failure");
  if (slot.iter != NULL) {
    mt_memtable_iter_seek_to_first(slot.iter);
    run_settle_iter(r, &slot, model_first(&r->model, MODEL_EVER), NULL);
    for (size_t i = 0; slot.valid; i++) {
      model_entry cur = slot.cursor;
      r->op = "full_scan next";
      run_set_step_detail(r, &cur);
      mt_memtable_iter_next(slot.iter);
      run_settle_iter(r, &slot, model_next(&r->model, &cur, MODEL_EVER), NULL);
      if (i > r->model.count) run_fail(r, "forward scan longer than the model");
    }
    r->op = "full_scan seek_to_last";
    r->detail.kind = DETAIL_NONE;
    mt_memtable_iter_seek_to_last(slot.iter);
    run_settle_iter(r, &slot, model_last(&r->model, MODEL_EVER), NULL);
    while (slot.valid) {
      model_entry cur = slot.cursor;
      r->op = "full_scan prev";
      run_set_step_detail(r, &cur);
      mt_memtable_iter_prev(slot.iter);
      run_settle_iter(r, &slot, model_prev(&r->model, &cur, MODEL_EVER), NULL);
    }
    mt_memtable_iter_destroy(slot.iter);
  }
  uint64_t s = pick_snapshot(r, in);
  failures_before = r->allocator.failures;
  user_iter_slot user = {mt_memtable_user_iter_create(r->table, s), s, {0}, false, r->clock};
  if (user.iter == NULL && r->allocator.failures == failures_before)
    run_fail(r, "user_iter_create returned NULL with no allocation failure");
  if (user.iter == NULL) return;
  r->op = "full_user_scan seek_to_first";
  r->detail.kind = DETAIL_NONE;
  mt_memtable_user_iter_seek_to_first(user.iter);
  run_settle_user_iter(r, &user, model_user_find(&r->model, s, MODEL_EVER, NULL, 0, USER_AT_OR_AFTER), NULL);
  while (user.valid) {
    model_entry cur = user.cursor;
    r->op = "full_user_scan next";
    run_set_step_detail(r, &cur);
    mt_memtable_user_iter_next(user.iter);
    run_settle_user_iter(r, &user, model_user_find(&r->model, s, MODEL_EVER, cur.key, cur.key_len, USER_AFTER), NULL);
  }
  r->op = "full_user_scan seek_to_last";
  r->detail.kind = DETAIL_NONE;
  mt_memtable_user_iter_seek_to_last(user.iter);
  run_settle_user_iter(r, &user, model_user_find(&r->model, s, MODEL_EVER, NULL, 0, USER_BEFORE), NULL);
  while (user.valid) {
    model_entry cur = user.cursor;
    r->op = "full_user_scan prev";
    run_set_step_detail(r, &cur);
    mt_memtable_user_iter_prev(user.iter);
    run_settle_user_iter(r, &user, model_user_find(&r->model, s, MODEL_EVER, cur.key, cur.key_len, USER_BEFORE), NULL);
  }
  mt_memtable_user_iter_destroy(user.iter);
}

static void finish(run *r) {
  if (run_table_usable(r)) {
    op_validate(r);
    r->op = "final_check";
    run_check_counters(r);
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
  if (!r->freed) run_on_table_freed(r);
}

/* Reads the damage operation's arguments (the same bytes in every target, whatever the table holds) and hands
 * them to the target's damage, if it has one. */
static void op_damage(run *r, fuzz_input *in, run_damage_fn damage) {
  r->op = "corrupt";
  run_damage_args args = {0, 0, 0, 0};
  args.pick = fuzz_below(in, r->model.count);
  args.where = fuzz_u8(in);
  if (r->damage_any_byte) {
    args.any_offset = fuzz_u16(in);
    args.any_mask = fuzz_u8(in);
  }
  if (damage != NULL) damage(r, &args);
  else r->op = "corrupt (not in this target)";
}

int run_input(const uint8_t *data, size_t size, const char *target, run_damage_fn damage) {
  /* MEMTABLE_FUZZ_TRACE=1 lists the operations an input decodes to (to read a reproducer). */
  static int trace = -1;
  if (trace < 0) trace = getenv("MEMTABLE_FUZZ_TRACE") != NULL;
  fuzz_input in = fuzz_input_make(data, size);
  static run r;
  memset(&r, 0, sizeof(r));
  r.target = target;
  r.op = "create";
  run_decode_options(&r, &in);
  (void)fuzz_u8(&in); /* reserved: read, so that the operations after it keep their bytes */

  uint64_t failures_before = r.allocator.failures;
  r.table = mt_memtable_create(&r.options);
  if (r.table == NULL) {
    if (r.allocator.failures == failures_before && r.options.arena.capacity == 0)
      run_fail(&r, "create failed with valid options, no capacity and no allocation failure");
    if (r.allocator.live_blocks != 0) run_fail(&r, "a failed create leaked allocator memory");
    model_free(&r.model);
    return 0;
  }
  r.caller_refs = 1;
  if (mt_memtable_entry_count(r.table) != 0 || mt_memtable_deletion_count(r.table) != 0)
    run_fail(&r, "a new table is not empty");
  run_check_counters(&r);

  while (!fuzz_input_done(&in) && !r.freed) {
    r.clock++;
    r.detail.kind = DETAIL_NONE;
    r.stepping = false;
    uint8_t op = fuzz_u8(&in) % 32;
    if (!run_table_usable(&r) && !(op >= 14 && op <= 24)) continue; /* only the iterators still hold the table */
    if (op < 10) op_add(&r, &in);
    else if (op < 14) op_get(&r, &in);
    else if (op == 14) {
      if (run_table_usable(&r)) op_iter_create(&r, &in);
    } else if (op == 15) op_iter_destroy(&r, &in);
    else if (op < 20) op_iter_move(&r, &in);
    else if (op == 20) {
      if (run_table_usable(&r)) op_user_iter_create(&r, &in);
    } else if (op == 21) op_user_iter_destroy(&r, &in);
    else if (op < 25) op_user_iter_move(&r, &in);
    else if (op == 25) op_ref(&r);
    else if (op == 26) op_unref(&r);
    else if (op == 27) op_validate(&r);
    else if (op == 28) op_damage(&r, &in, damage);
    else if (op == 29) op_full_scan(&r, &in);
    else { /* 30 and 31 */
      r.op = "counters";
      run_check_counters(&r);
    }
    if (trace) fprintf(stderr, "op %llu: %s (model %zu entries, caller refs %d)\n", (unsigned long long)r.clock, r.op,
                       r.model.count, r.caller_refs);
  }
  finish(&r);
  model_free(&r.model);
  return 0;
}
