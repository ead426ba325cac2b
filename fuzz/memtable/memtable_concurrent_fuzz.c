/* fuzz/memtable/memtable_concurrent_fuzz.c - libFuzzer target for concurrent writers (concurrent_writes), with the
 * reference model as the oracle once the writers have joined.
 *
 * The input decodes into a header (writer count 2-4, checksum bytes, block size, point index; version links from
 * the input's length, as no header bit is free) and a list of adds, each
 * naming the writer thread that makes it: a type, a key from a tiny space (so keys and whole (key, seq)
 * pairs collide across threads), a small seq, a value. The writers start together at a gate and add their
 * own ops in order, each publishing how many it has finished (release); a reader races them. Whatever the
 * interleaving:
 * - during the race, an op whose writer has published it is found by get at its seq: exactly as added if it
 *   returned MT_OK, or as one of the input's ops with that key and seq if it returned MT_EXISTS; any entry a
 *   get finds is byte for byte one of the input's ops (never half-written, never invented);
 * - after the join, each (key, seq) of the input was accepted (MT_OK) exactly once and refused with
 *   MT_EXISTS every other time, and the table is exactly the accepted ops in internal-key order (the model),
 *   with exact counts, sequence range, and a clean validate; every op's key answers get at its seq and at the
 *   newest snapshot as the model does (through the point index when the header turns it on), and the user view
 *   at the newest snapshot and at each op's seq lists exactly the model's keys (with version links, racing
 *   writers add versions out of sequence order, which the links must absorb).
 * MEMTABLE_FUZZ_TRACE=1 lists the ops an input decodes to.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/memtable.h>

#include "fuzz_input.h"
#include "support/model.h"
#include "support/thread_gate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS 256
#define MAX_WRITERS 4
#define MAX_KEY 4
#define MAX_VALUE 24
#define MAX_SEQ 24 /* small, so (key, seq) pairs repeat */

typedef struct fuzz_op {
  mt_entry_type type;
  const char *key; /* into the input, which outlives the run */
  size_t key_len;
  uint64_t seq;
  const char *value;
  size_t value_len;
  unsigned writer;
  mt_status status; /* written by its writer before publishing */
} fuzz_op;

typedef struct run {
  mt_memtable *table;
  fuzz_op ops[MAX_OPS];
  size_t op_count;
  unsigned writers;
  size_t writer_ops[MAX_WRITERS][MAX_OPS]; /* indices into ops, in the writer's order */
  size_t writer_op_count[MAX_WRITERS];
  /* How many of its ops each writer has finished: stored (release) after each add returned, so a reader that
   * acquires n sees those adds and their statuses. */
  _Atomic size_t published[MAX_WRITERS];
  _Atomic bool writers_done;
  thread_gate start; /* writers + reader */
} run;

typedef struct writer_arg {
  run *r;
  unsigned index;
} writer_arg;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 1, 2), noreturn))
#endif
static void fuzz_fail(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs("memtable_concurrent_fuzz: ", stderr);
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
  va_end(args);
  abort();
}

static bool bytes_equal(const char *a, size_t a_len, const char *b, size_t b_len) {
  return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

static bool entry_is_op(const mt_entry *entry, const fuzz_op *op) {
  return entry->seq == op->seq && entry->type == op->type &&
         bytes_equal(entry->user_key.data, entry->user_key.len, op->key, op->key_len) &&
         bytes_equal(entry->value.data, entry->value.len, op->value, op->value_len);
}

static bool entry_is_some_op(const run *r, const mt_entry *entry) {
  for (size_t i = 0; i < r->op_count; i++)
    if (entry_is_op(entry, &r->ops[i])) return true;
  return false;
}

static void *writer_main(void *arg) {
  writer_arg *self = arg;
  run *r = self->r;
  thread_gate_wait(&r->start);
  for (size_t n = 0; n < r->writer_op_count[self->index]; n++) {
    fuzz_op *op = &r->ops[r->writer_ops[self->index][n]];
    op->status = mt_memtable_add(r->table, op->seq, op->type, op->key, op->key_len, op->value, op->value_len);
    /* Release: the add and op->status happen before any read that acquires n + 1. */
    atomic_store_explicit(&r->published[self->index], n + 1, memory_order_release);
  }
  return NULL;
}

/* One check of op `i` against the table as the reader sees it now. */
static void check_op_during_race(const run *r, size_t i) {
  const fuzz_op *op = &r->ops[i];
  size_t position = 0;
  while (r->writer_ops[op->writer][position] != i) position++;
  bool published = atomic_load_explicit(&r->published[op->writer], memory_order_acquire) > position;
  mt_entry found;
  mt_status status = mt_memtable_get_entry(r->table, op->key, op->key_len, published ? op->seq : MT_MAX_SEQUENCE,
                                           &found);
  if (status != MT_OK && status != MT_DELETED && status != MT_NOT_FOUND)
    fuzz_fail("get of op %zu returned %s during the race", i, mt_status_str(status));
  if (status != MT_NOT_FOUND) {
    if (status != (found.type == MT_TYPE_VALUE ? MT_OK : MT_DELETED))
      fuzz_fail("get of op %zu returned %s for an entry of type %d", i, mt_status_str(status), (int)found.type);
    if (!entry_is_some_op(r, &found))
      fuzz_fail("get of op %zu found seq %llu, an entry no op added", i, (unsigned long long)found.seq);
  }
  if (!published) return;
  if (op->status != MT_OK && op->status != MT_EXISTS)
    fuzz_fail("op %zu (seq %llu) returned %s", i, (unsigned long long)op->seq, mt_status_str(op->status));
  if (status == MT_NOT_FOUND || found.seq != op->seq)
    fuzz_fail("op %zu (seq %llu, %s) was published but get at its seq answers %s", i, (unsigned long long)op->seq,
              mt_status_str(op->status), mt_status_str(status));
  if (op->status == MT_OK && !entry_is_op(&found, op))
    fuzz_fail("op %zu was accepted but get at its seq finds another entry", i);
}

/* The user view at a snapshot, forward then backward, against the model. */
static void check_user_view(const run *r, const model *m, uint64_t snapshot) {
  mt_memtable_user_iter *user = mt_memtable_user_iter_create(r->table, snapshot);
  if (user == NULL) fuzz_fail("user iterator creation failed");
  for (int forward = 1; forward >= 0; forward--) {
    const model_entry *e;
    if (forward) {
      mt_memtable_user_iter_seek_to_first(user);
      e = model_user_find(m, snapshot, MODEL_EVER, NULL, 0, USER_AT_OR_AFTER);
    } else {
      mt_memtable_user_iter_seek_to_last(user);
      e = model_user_find(m, snapshot, MODEL_EVER, NULL, 0, USER_BEFORE);
    }
    for (size_t steps = 0; e != NULL; steps++) {
      if (!mt_memtable_user_iter_valid(user) || steps > m->count)
        fuzz_fail("user view at snapshot %llu (%s): stopped (%s) before the model's key of seq %llu",
                  (unsigned long long)snapshot, forward ? "forward" : "backward",
                  mt_status_str(mt_memtable_user_iter_status(user)), (unsigned long long)e->seq);
      mt_slice key = mt_memtable_user_iter_key(user), value = mt_memtable_user_iter_value(user);
      if (mt_memtable_user_iter_seq(user) != e->seq || !bytes_equal(key.data, key.len, e->key, e->key_len) ||
          !bytes_equal(value.data, value.len, e->value, e->value_len))
        fuzz_fail("user view at snapshot %llu (%s): seq %llu, the model has seq %llu", (unsigned long long)snapshot,
                  forward ? "forward" : "backward", (unsigned long long)mt_memtable_user_iter_seq(user),
                  (unsigned long long)e->seq);
      if (forward) mt_memtable_user_iter_next(user);
      else mt_memtable_user_iter_prev(user);
      e = model_user_find(m, snapshot, MODEL_EVER, e->key, e->key_len, forward ? USER_AFTER : USER_BEFORE);
    }
    if (mt_memtable_user_iter_valid(user) || mt_memtable_user_iter_status(user) != MT_OK)
      fuzz_fail("user view at snapshot %llu (%s): more than the model, or status %s", (unsigned long long)snapshot,
                forward ? "forward" : "backward", mt_status_str(mt_memtable_user_iter_status(user)));
  }
  mt_memtable_user_iter_destroy(user);
}

static void check_after_join(const run *r) {
  model m;
  model_init(&m, NULL);
  for (size_t i = 0; i < r->op_count; i++) {
    const fuzz_op *op = &r->ops[i];
    if (op->status == MT_OK) {
      if (!model_add(&m, op->seq, op->type, op->key, op->key_len, op->value, op->value_len, 0))
        fuzz_fail("op %zu (seq %llu) accepted, but its (key, seq) was accepted before", i, (unsigned long long)op->seq);
    } else if (op->status != MT_EXISTS) {
      fuzz_fail("op %zu returned %s", i, mt_status_str(op->status));
    }
  }
  for (size_t i = 0; i < r->op_count; i++) {
    const fuzz_op *op = &r->ops[i];
    if (op->status == MT_EXISTS && model_find(&m, op->key, op->key_len, op->seq) == NULL)
      fuzz_fail("op %zu refused with MT_EXISTS, but no op with its (key, seq) was accepted", i);
  }
  mt_memtable_iter *iter = mt_memtable_iter_create(r->table);
  if (iter == NULL) fuzz_fail("iterator creation failed");
  mt_memtable_iter_seek_to_first(iter);
  for (size_t i = 0; i < m.count; i++, mt_memtable_iter_next(iter)) {
    const model_entry *e = m.entries[i];
    if (!mt_memtable_iter_valid(iter)) fuzz_fail("entry %zu of %zu missing after the join", i, m.count);
    mt_entry entry = {mt_memtable_iter_user_key(iter), mt_memtable_iter_seq(iter), mt_memtable_iter_type(iter),
                      mt_memtable_iter_value(iter)};
    if (entry.seq != e->seq || entry.type != e->type ||
        !bytes_equal(entry.user_key.data, entry.user_key.len, e->key, e->key_len) ||
        !bytes_equal(entry.value.data, entry.value.len, e->value, e->value_len))
      fuzz_fail("entry %zu is seq %llu, the model has seq %llu", i, (unsigned long long)entry.seq,
                (unsigned long long)e->seq);
  }
  if (mt_memtable_iter_valid(iter)) fuzz_fail("the table holds more than the %zu accepted entries", m.count);
  if (mt_memtable_iter_status(iter) != MT_OK) fuzz_fail("iteration ended with %s", mt_status_str(mt_memtable_iter_status(iter)));
  mt_memtable_iter_destroy(iter);
  if (mt_memtable_entry_count(r->table) != m.count) fuzz_fail("entry count %llu, model %zu",
                                                               (unsigned long long)mt_memtable_entry_count(r->table), m.count);
  if (mt_memtable_deletion_count(r->table) != m.deletions) fuzz_fail("deletion count differs from the model");
  uint64_t smallest = 0, largest = 0;
  mt_status range = mt_memtable_sequence_range(r->table, &smallest, &largest);
  if (m.count == 0) {
    if (range != MT_NOT_FOUND) fuzz_fail("sequence range of an empty table returned %s", mt_status_str(range));
  } else {
    uint64_t model_smallest = UINT64_MAX, model_largest = 0;
    for (size_t i = 0; i < m.count; i++) {
      if (m.entries[i]->seq < model_smallest) model_smallest = m.entries[i]->seq;
      if (m.entries[i]->seq > model_largest) model_largest = m.entries[i]->seq;
    }
    if (range != MT_OK || smallest != model_smallest || largest != model_largest)
      fuzz_fail("sequence range %s [%llu, %llu], model [%llu, %llu]", mt_status_str(range),
                (unsigned long long)smallest, (unsigned long long)largest, (unsigned long long)model_smallest,
                (unsigned long long)model_largest);
  }
  mt_status valid = mt_memtable_validate(r->table);
  if (valid != MT_OK) fuzz_fail("validate returned %s", mt_status_str(valid));
  check_user_view(r, &m, MT_MAX_SEQUENCE);
  for (size_t i = 0; i < r->op_count; i++) check_user_view(r, &m, r->ops[i].seq);
  for (size_t i = 0; i < r->op_count; i++) {
    const fuzz_op *op = &r->ops[i];
    const uint64_t snapshots[2] = {op->seq, MT_MAX_SEQUENCE};
    for (int s = 0; s < 2; s++) {
      const model_entry *e = model_get(&m, op->key, op->key_len, snapshots[s]);
      mt_entry found;
      mt_status status = mt_memtable_get_entry(r->table, op->key, op->key_len, snapshots[s], &found);
      mt_status expected = e == NULL ? MT_NOT_FOUND : e->type == MT_TYPE_DELETION ? MT_DELETED : MT_OK;
      if (status != expected || (e != NULL && found.seq != e->seq))
        fuzz_fail("get of op %zu's key at snapshot %llu after the join: %s seq %llu, the model %s seq %llu", i,
                  (unsigned long long)snapshots[s], mt_status_str(status),
                  (unsigned long long)(status == MT_OK || status == MT_DELETED ? found.seq : 0),
                  mt_status_str(expected), (unsigned long long)(e != NULL ? e->seq : 0));
    }
  }
  model_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const unsigned checksum_choices[4] = {0, 1, 4, 8};
  static const size_t block_choices[4] = {256, 1024, 4096, 0};
  bool trace = getenv("MEMTABLE_FUZZ_TRACE") != NULL;
  fuzz_input in = fuzz_input_make(data, size);
  run *r = calloc(1, sizeof(*r));
  if (r == NULL) return 0;
  uint8_t header = fuzz_u8(&in);
  r->writers = 2 + (unsigned)(header % 3);
  mt_memtable_options options = MT_MEMTABLE_OPTIONS_INIT;
  options.concurrent_writes = true;
  options.arena.concurrent = true;
  options.checksum_bytes = checksum_choices[(header >> 2) & 3];
  options.arena.block_size = block_choices[(header >> 4) & 3];
  /* Bit 6, clear in every input made before the point index: the index on; bit 7 sizes it for 4 keys, so
   * that racing writers fill it and gets fall back to the skiplist. */
  options.point_index = (header & 0x40) != 0;
  options.point_index_entries = (header & 0x80) != 0 ? 4 : 0;
  /* Version links may change no answer; the length's parity picks them without changing any op's meaning. */
  options.version_links = (size & 1) != 0;
  /* The skiplist's shape, likewise from the length: the default (2) or LevelDB's 4. */
  options.skiplist_branching = (size & 2) != 0 ? 4 : 0;
  while (!fuzz_input_done(&in) && r->op_count < MAX_OPS) {
    fuzz_op *op = &r->ops[r->op_count];
    uint8_t control = fuzz_u8(&in);
    op->type = (control & 1) ? MT_TYPE_DELETION : MT_TYPE_VALUE;
    op->writer = (unsigned)((control >> 1) % r->writers);
    op->key = (const char *)fuzz_bytes(&in, MAX_KEY, &op->key_len);
    op->seq = fuzz_below(&in, MAX_SEQ) + 1;
    op->value = (const char *)fuzz_bytes(&in, MAX_VALUE, &op->value_len);
    op->status = MT_INVALID_ARGUMENT;
    r->writer_ops[op->writer][r->writer_op_count[op->writer]++] = r->op_count;
    if (trace)
      fprintf(stderr, "op %zu: writer %u %s key %.*s (%zu) seq %llu value %zu bytes\n", r->op_count, op->writer,
              op->type == MT_TYPE_VALUE ? "put" : "del", (int)op->key_len, op->key, op->key_len,
              (unsigned long long)op->seq, op->value_len);
    r->op_count++;
  }
  if (mt_memtable_try_create(&options, &r->table) != MT_OK) fuzz_fail("table creation failed");
  for (unsigned w = 0; w < MAX_WRITERS; w++) atomic_init(&r->published[w], 0);
  atomic_init(&r->writers_done, false);
  if (!thread_gate_init(&r->start, r->writers + 1)) fuzz_fail("gate creation failed");
  pthread_t threads[MAX_WRITERS];
  writer_arg args[MAX_WRITERS];
  for (unsigned w = 0; w < r->writers; w++) {
    args[w] = (writer_arg){r, w};
    if (pthread_create(&threads[w], NULL, writer_main, &args[w]) != 0) fuzz_fail("pthread_create failed");
  }
  /* This thread is the reader: it starts with the writers and checks ops round-robin until they are done, then
   * once more over every op. */
  thread_gate_wait(&r->start);
  size_t checked = 0;
  bool all_published = false;
  while (!all_published && r->op_count > 0) {
    all_published = true;
    for (unsigned w = 0; w < r->writers; w++)
      if (atomic_load_explicit(&r->published[w], memory_order_acquire) < r->writer_op_count[w]) all_published = false;
    check_op_during_race(r, checked++ % r->op_count);
  }
  for (size_t i = 0; i < r->op_count; i++) check_op_during_race(r, i);
  for (unsigned w = 0; w < r->writers; w++) pthread_join(threads[w], NULL);
  check_after_join(r);
  thread_gate_destroy(&r->start);
  mt_memtable_unref(r->table);
  free(r);
  return 0;
}
