/* fuzz/memtable/model_run.h - one input's run of the model-checked memtable targets (memtable_fuzz,
 * memtable_damage_fuzz): the table, the reference model, the iterators alive on both, and the checks that
 * compare them.
 *
 * The input decodes into a header (model_run_options.c: checksum bytes, bloom filter, point index, comparator,
 * block size, capacity, write buffer size, an allocator hook that may fail from its k-th call, the skiplist
 * seed, whose top bits also pick the scan walker's shape, the version-skip threshold, version links and the
 * skiplist's branching; then one reserved byte) and then a sequence of operations (model_run_ops.c): adds (keys
 * from a small space, so versions collide, and a large one; sequence numbers mostly increasing but also
 * repeated, out of order, at and past MT_MAX_SEQUENCE; unknown types and out-of-contract lengths), gets at
 * chosen snapshots, internal and user-view iterators kept alive across adds and unrefs, references taken and
 * dropped, validation, and damage to one entry, which only memtable_damage_fuzz carries out (the others read
 * its arguments and go on, so one input means the same operations in every target). Each operation runs on
 * the table and on a sorted array of (key, seq, type, value) (tests/support/model.h), and the first
 * disagreement aborts (run_fail) with a message naming the operation, what the model expected and what the
 * table returned. Beyond the model, every entry an iterator shows must equal mt_entry_encode of its fields
 * with the low checksum bytes of XXH3-64 after it, and the allocator hook must get every block back at the
 * last unref. Every get is also made as part of an mt_memtable_get_batch (the key twice, entries of the model,
 * a bad key) that reads no input, so inputs keep their meaning. MEMTABLE_FUZZ_TRACE=1 lists the operations an
 * input decodes to.
 *
 * The model states how it reads the header where the header leaves room. Beyond it:
 * - an iterator step may or may not see entries added since its last seek (the header's "may or may not be
 *   seen"), so a step is checked against the table as it is now and as it was at that seek.
 */
#ifndef MEMTABLE_FUZZ_MODEL_RUN_H
#define MEMTABLE_FUZZ_MODEL_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <memtable/memtable.h>

#include "fuzz_input.h"
#include "support/allocator.h"
#include "support/model.h"

#define MAX_ITERS 4
#define MAX_CALLER_REFS 8
#define MAX_LARGE_KEY 48
#define MAX_LONG_KEY 3000
#define MAX_VALUE 20000
#define HOOK_MAX_SIZE ((size_t)64 << 20)

/* Keys whose lookup key mt_memtable_get_batch (like get) takes from the reader allocator: the mirrored batches
 * leave them out when the allocator is the hook, so that the hook's call count - which decides where an
 * injected failure falls - is what it was before batches existed, and old inputs mean what they meant. */
#define GET_BATCH_LONG_KEY 247

/* Comparators: the table gets them through its options, the model calls them directly. */
typedef enum comparator_kind { COMPARE_DEFAULT, COMPARE_REVERSE, COMPARE_CASEFOLD, COMPARE_BYTEWISE } comparator_kind;

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
  const char *target; /* the fuzz target's name, for messages */
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

/* The damage operation's arguments, read from the input by every target in the same way. */
typedef struct run_damage_args {
  size_t pick;         /* the model entry to damage */
  uint8_t where;       /* without the any-byte flag: the value or checksum byte and the bit */
  uint16_t any_offset; /* with it: the byte of the stored entry, and the bits to flip (0: the bit of where) */
  uint8_t any_mask;
} run_damage_args;

/* Damages the table as the arguments say, checks its readers and undoes the damage; NULL: no damage. */
typedef void (*run_damage_fn)(run *r, const run_damage_args *args);

/* Runs one input: decodes the header, creates the table and runs the operations until the input ends,
 * then checks and releases everything. target names the fuzz target in messages. Returns 0. */
int run_input(const uint8_t *data, size_t size, const char *target, run_damage_fn damage);

/* The header's options (model_run_options.c): r->options, r->comparator, the model's comparator, the hook. */
void run_decode_options(run *r, fuzz_input *in);

/* Failure messages (model_run_check.c). run_fail prints the target, the operation and its arguments, the
 * damage in force, the options and the model's size, then aborts. */
void run_fail(const run *r, const char *format, ...);
void run_describe_bytes(char *out, size_t out_size, const char *bytes, size_t len);
void run_describe_entry(char *out, size_t out_size, const model_entry *e);
void run_set_seek_detail(run *r, const char *key, size_t key_len, bool has_snapshot, uint64_t snapshot);
void run_set_step_detail(run *r, const model_entry *from);

/* Checks against the model (model_run_check.c); each calls run_fail on a disagreement. */
void run_on_table_freed(run *r);
void run_check_counters(run *r);
void run_check_get(run *r, const char *key, size_t key_len, uint64_t snapshot, bool want_value);
void run_check_get_batch(run *r, const mt_slice *keys, size_t count, uint64_t snapshot);
bool run_iter_matches(const mt_memtable_iter *it, const model_entry *expected);
bool run_user_iter_matches(const mt_memtable_user_iter *it, const model_entry *expected);
/* Compares the iterator to the model's answer now, and failing that to its answer at the iterator's last
 * positioning (a step may miss entries added since). Updates the slot's cursor. */
void run_settle_iter(run *r, iter_slot *slot, const model_entry *now, const model_entry *then);
void run_settle_user_iter(run *r, user_iter_slot *slot, const model_entry *now, const model_entry *then);

static inline bool run_slice_equals(mt_slice s, const char *bytes, size_t len) {
  return s.len == len && (len == 0 || memcmp(s.data, bytes, len) == 0);
}

static inline bool run_table_usable(const run *r) { return !r->freed && r->caller_refs > 0; }

static inline bool run_any_iterator_alive(const run *r) {
  for (int i = 0; i < MAX_ITERS; i++)
    if (r->iters[i].iter != NULL || r->user_iters[i].iter != NULL) return true;
  return false;
}

#endif
