/* tests/support/model.h - the reference model of a memtable: every entry added, in a sorted array in
 * internal-key order (user key ascending by the model's comparator, then seq descending, then type
 * descending), answering what the table must answer. Header-only; the oracle of the randomized suite and
 * of the memtable fuzz target.
 *
 * Each entry remembers when it was added (`added_at`, on the caller's clock); the iterator queries take a
 * `cutoff` and see only entries added at or before it (MODEL_EVER: all), which is how a caller checks an
 * iterator step that may or may not see entries added since the iterator's last seek. The model's reading
 * of the memtable's contract, where the header leaves room:
 * - a snapshot above MT_MAX_SEQUENCE behaves as MT_MAX_SEQUENCE for seeks (an internal key cannot hold more);
 * - seek_for_prev(key, s) includes the entry (key, s) whatever its type;
 * - the user view's key is the bytes of the newest visible entry (matters for a case-folding comparator).
 * Entries never move once added (the array holds pointers), so a caller may keep pointers to them. */
#ifndef MEMTABLE_SUPPORT_MODEL_H
#define MEMTABLE_SUPPORT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/memtable.h>

#include "support/check.h"

#define MODEL_EVER UINT64_MAX

/* A user-key order without context (the model calls it directly; a test hands the table its own wrapper). */
typedef int (*model_compare_fn)(const char *a, size_t a_len, const char *b, size_t b_len);

typedef struct model_entry {
  const char *key; /* both point into the entry's own allocation */
  size_t key_len;
  uint64_t seq;
  mt_entry_type type;
  const char *value;
  size_t value_len;
  uint64_t added_at;
} model_entry;

typedef struct model {
  model_entry **entries; /* internal-key order */
  size_t count, capacity;
  uint64_t deletions;
  model_compare_fn compare;
} model;

static inline int model_bytewise(const char *a, size_t a_len, const char *b, size_t b_len) {
  size_t common = a_len < b_len ? a_len : b_len;
  int order = common == 0 ? 0 : memcmp(a, b, common);
  if (order != 0) return order < 0 ? -1 : 1;
  return (a_len > b_len) - (a_len < b_len);
}

/* compare NULL: bytewise, the memtable's default. */
static inline void model_init(model *m, model_compare_fn compare) {
  memset(m, 0, sizeof(*m));
  m->compare = compare != NULL ? compare : model_bytewise;
}

static inline void model_free(model *m) {
  for (size_t i = 0; i < m->count; i++) free(m->entries[i]);
  free(m->entries);
  memset(m, 0, sizeof(*m));
}

static inline bool model_keys_equal(const model *m, const char *a, size_t a_len, const char *b, size_t b_len) {
  return m->compare(a, a_len, b, b_len) == 0;
}

/* Internal-key order of (key, seq, type) against an entry. */
static inline int model_compare_internal(const model *m, const char *key, size_t key_len, uint64_t seq,
                                         mt_entry_type type, const model_entry *e) {
  int c = m->compare(key, key_len, e->key, e->key_len);
  if (c != 0) return c;
  if (seq != e->seq) return seq > e->seq ? -1 : 1;
  if (type != e->type) return type > e->type ? -1 : 1;
  return 0;
}

/* The first index whose entry sorts after (key, seq, type), or at or after it when !strictly. */
static inline size_t model_bound(const model *m, const char *key, size_t key_len, uint64_t seq, mt_entry_type type,
                                 bool strictly) {
  size_t low = 0, high = m->count;
  while (low < high) {
    size_t mid = low + (high - low) / 2;
    int c = model_compare_internal(m, key, key_len, seq, type, m->entries[mid]);
    if (c > 0 || (strictly && c == 0)) low = mid + 1;
    else high = mid;
  }
  return low;
}

static inline uint64_t model_clamp_snapshot(uint64_t snapshot) {
  return snapshot > MT_MAX_SEQUENCE ? MT_MAX_SEQUENCE : snapshot;
}

static inline bool model_in_view(const model_entry *e, uint64_t cutoff) { return e->added_at <= cutoff; }

/* The entry stored for this user key and seq, if any (the table refuses a second one with MT_EXISTS). */
static inline const model_entry *model_find(const model *m, const char *key, size_t key_len, uint64_t seq) {
  size_t i = model_bound(m, key, key_len, seq, MT_TYPE_VALUE, false);
  if (i < m->count && m->entries[i]->seq == seq && model_keys_equal(m, key, key_len, m->entries[i]->key,
                                                                    m->entries[i]->key_len))
    return m->entries[i];
  return NULL;
}

/* Adds the entry; false (and nothing added) when (key, seq) is already there. */
static inline bool model_add(model *m, uint64_t seq, mt_entry_type type, const char *key, size_t key_len,
                             const char *value, size_t value_len, uint64_t added_at) {
  if (model_find(m, key, key_len, seq) != NULL) return false;
  if (m->count == m->capacity) {
    size_t capacity = m->capacity == 0 ? 64 : m->capacity * 2;
    model_entry **entries = realloc(m->entries, capacity * sizeof(*entries));
    if (entries == NULL) mt_support_fail("model: out of memory for %zu entries", capacity);
    m->entries = entries;
    m->capacity = capacity;
  }
  char *block = malloc(sizeof(model_entry) + key_len + value_len + 1);
  if (block == NULL) mt_support_fail("model: out of memory for an entry");
  model_entry *e = (model_entry *)(void *)block;
  char *bytes = block + sizeof(model_entry);
  if (key_len != 0) memcpy(bytes, key, key_len);
  if (value_len != 0) memcpy(bytes + key_len, value, value_len);
  *e = (model_entry){bytes, key_len, seq, type, bytes + key_len, value_len, added_at};
  size_t at = model_bound(m, key, key_len, seq, type, false);
  memmove(&m->entries[at + 1], &m->entries[at], (m->count - at) * sizeof(*m->entries));
  m->entries[at] = e;
  m->count++;
  if (type == MT_TYPE_DELETION) m->deletions++;
  return true;
}

/* get: the newest entry for key with seq <= snapshot, or NULL. */
static inline const model_entry *model_get(const model *m, const char *key, size_t key_len, uint64_t snapshot) {
  size_t i = model_bound(m, key, key_len, snapshot, MT_TYPE_VALUE, false);
  if (i < m->count && model_keys_equal(m, key, key_len, m->entries[i]->key, m->entries[i]->key_len))
    return m->entries[i];
  return NULL;
}

/* The first (last) entry in view at or after (before) index i, or NULL. */
static inline const model_entry *model_forward_from(const model *m, size_t i, uint64_t cutoff) {
  for (; i < m->count; i++)
    if (model_in_view(m->entries[i], cutoff)) return m->entries[i];
  return NULL;
}

static inline const model_entry *model_backward_before(const model *m, size_t i, uint64_t cutoff) {
  while (i-- > 0)
    if (model_in_view(m->entries[i], cutoff)) return m->entries[i];
  return NULL;
}

/* The internal iterator. */
static inline const model_entry *model_first(const model *m, uint64_t cutoff) {
  return model_forward_from(m, 0, cutoff);
}

static inline const model_entry *model_last(const model *m, uint64_t cutoff) {
  return model_backward_before(m, m->count, cutoff);
}

/* seek: the first entry at or after (key, snapshot). */
static inline const model_entry *model_seek(const model *m, const char *key, size_t key_len, uint64_t snapshot,
                                            uint64_t cutoff) {
  size_t i = model_bound(m, key, key_len, model_clamp_snapshot(snapshot), MT_TYPE_VALUE, false);
  return model_forward_from(m, i, cutoff);
}

/* seek_for_prev: the last entry at or before (key, snapshot), either type at seq == snapshot. */
static inline const model_entry *model_seek_for_prev(const model *m, const char *key, size_t key_len,
                                                     uint64_t snapshot, uint64_t cutoff) {
  size_t i = model_bound(m, key, key_len, model_clamp_snapshot(snapshot), MT_TYPE_DELETION, true);
  return model_backward_before(m, i, cutoff);
}

static inline const model_entry *model_next(const model *m, const model_entry *cur, uint64_t cutoff) {
  return model_forward_from(m, model_bound(m, cur->key, cur->key_len, cur->seq, cur->type, true), cutoff);
}

static inline const model_entry *model_prev(const model *m, const model_entry *cur, uint64_t cutoff) {
  return model_backward_before(m, model_bound(m, cur->key, cur->key_len, cur->seq, cur->type, false), cutoff);
}

/* The user view at a snapshot: for each user key, its newest entry in view with seq <= snapshot, shown when
 * it is a value. */
typedef enum model_user_bound { USER_AT_OR_AFTER, USER_AFTER, USER_AT_OR_BEFORE, USER_BEFORE } model_user_bound;

/* The user key group (comparator-equal keys) starting at index start: its visible value or NULL; *end gets
 * the index after the group. */
static inline const model_entry *model_user_group(const model *m, size_t start, uint64_t snapshot, uint64_t cutoff,
                                                  size_t *end) {
  const model_entry *head = m->entries[start];
  *end = model_bound(m, head->key, head->key_len, 0, MT_TYPE_DELETION, true);
  for (size_t i = model_bound(m, head->key, head->key_len, snapshot, MT_TYPE_VALUE, false); i < *end; i++) {
    const model_entry *e = m->entries[i];
    if (model_in_view(e, cutoff)) return e->type == MT_TYPE_VALUE ? e : NULL;
  }
  return NULL;
}

/* The start index of the group holding index i. */
static inline size_t model_group_start(const model *m, size_t i) {
  const model_entry *e = m->entries[i];
  return model_bound(m, e->key, e->key_len, UINT64_MAX, MT_TYPE_VALUE, false);
}

/* The visible user entry nearest to key in the direction bound says; key NULL means from the first (forward
 * bounds) or the last (backward bounds). */
static inline const model_entry *model_user_find(const model *m, uint64_t snapshot, uint64_t cutoff, const char *key,
                                                 size_t key_len, model_user_bound bound) {
  size_t end;
  if (bound == USER_AT_OR_AFTER || bound == USER_AFTER) {
    size_t start = key == NULL                   ? 0
                   : bound == USER_AT_OR_AFTER ? model_bound(m, key, key_len, UINT64_MAX, MT_TYPE_VALUE, false)
                                               : model_bound(m, key, key_len, 0, MT_TYPE_DELETION, true);
    for (; start < m->count; start = end) {
      const model_entry *visible = model_user_group(m, start, snapshot, cutoff, &end);
      if (visible != NULL) return visible;
    }
    return NULL;
  }
  size_t limit = key == NULL                    ? m->count
                 : bound == USER_AT_OR_BEFORE ? model_bound(m, key, key_len, 0, MT_TYPE_DELETION, true)
                                              : model_bound(m, key, key_len, UINT64_MAX, MT_TYPE_VALUE, false);
  while (limit > 0) {
    size_t start = model_group_start(m, limit - 1);
    const model_entry *visible = model_user_group(m, start, snapshot, cutoff, &end);
    if (visible != NULL) return visible;
    limit = start;
  }
  return NULL;
}

#endif
