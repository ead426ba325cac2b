/* tests/support/group_list.h - the group-link suites' keys: 16 bytes, a big-endian group then a big-endian
 * member, so a group is a run of the order; a list with same_group on the group; a sorted model of the keys
 * inserted; and check_groups, the full check of a quiescent list's group links against that model.
 * Header-only; include support/test_util.h first (check_groups fails the cmocka test). */
#ifndef MEMTABLE_SUPPORT_GROUP_LIST_H
#define MEMTABLE_SUPPORT_GROUP_LIST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/arena.h>
#include <memtable/skiplist.h>

#include "support/rng.h"

enum { KEY_SIZE = 16 };

typedef struct group_key {
  uint64_t group, member;
} group_key;

static inline void encode_be64(char *out, uint64_t value) {
  for (int i = 0; i < 8; i++) out[i] = (char)(unsigned char)(value >> (56 - 8 * i));
}

static inline uint64_t decode_be64(const char *in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; i++) value = value << 8 | (unsigned char)in[i];
  return value;
}

static inline void encode_key(char out[KEY_SIZE], group_key key) {
  encode_be64(out, key.group);
  encode_be64(out + 8, key.member);
}

static inline group_key decode_key(const char *key) { return (group_key){decode_be64(key), decode_be64(key + 8)}; }

static inline int compare_keys(void *ctx, const char *a, const char *b) {
  (void)ctx;
  return memcmp(a, b, KEY_SIZE);
}

static inline bool same_group(void *ctx, const char *stored, const char *key) {
  (void)ctx;
  return memcmp(stored, key, 8) == 0;
}

static inline int compare_group_keys(const void *a, const void *b) {
  const group_key *x = a, *y = b;
  if (x->group != y->group) return x->group < y->group ? -1 : 1;
  return x->member < y->member ? -1 : x->member > y->member ? 1 : 0;
}

static inline mt_skiplist *create_group_list(mt_arena *arena, bool concurrent) {
  mt_skiplist_options options = MT_SKIPLIST_OPTIONS_INIT;
  options.compare = compare_keys;
  options.same_group = same_group;
  options.concurrent_inserts = concurrent;
  return mt_skiplist_create(arena, &options);
}

static inline mt_status insert_key(mt_skiplist *list, group_key key) {
  char bytes[KEY_SIZE];
  encode_key(bytes, key);
  return mt_skiplist_insert(list, bytes, sizeof(bytes));
}

static inline uint64_t iter_group(const mt_skiplist_iter *iter) { return decode_be64(mt_skiplist_iter_key(iter)); }

/* The model: every key inserted, sorted on demand. */
typedef struct key_model {
  group_key *keys;
  size_t count, capacity;
} key_model;

static inline void key_model_add(key_model *model, group_key key) {
  if (model->count == model->capacity) {
    model->capacity = model->capacity == 0 ? 256 : model->capacity * 2;
    model->keys = realloc(model->keys, model->capacity * sizeof(*model->keys));
    assert_non_null(model->keys);
  }
  model->keys[model->count++] = key;
}

/* What check_groups measured, for cases that know the exact shape to expect. */
typedef struct group_shape {
  size_t groups;
  size_t scan_steps;           /* nexts taken by the group scan, the one that leaves each group included */
  size_t first_jumps_to_end;   /* groups whose first node's jump lands on the group's last node */
} group_shape;

/* The full check of a quiescent list against the model (sorted here): level 0 equals the model; from every
 * node, group_last lands on a node of its group at or after it with only group members between; the group
 * scan meets each model group exactly once, in order; validate is MT_OK. */
static inline group_shape check_groups(const mt_skiplist *list, key_model *model, uint64_t seed) {
  qsort(model->keys, model->count, sizeof(*model->keys), compare_group_keys);
  const char **nodes = calloc(model->count + 1, sizeof(*nodes));
  assert_non_null(nodes);
  mt_skiplist_iter iter;
  mt_skiplist_iter_init(&iter, list);
  size_t count = 0;
  for (mt_skiplist_iter_seek_to_first(&iter); mt_skiplist_iter_valid(&iter); mt_skiplist_iter_next(&iter)) {
    if (count == model->count) fail_msg("list holds more than the model's %zu keys (seed %llu)", model->count, (unsigned long long)seed);
    group_key key = decode_key(mt_skiplist_iter_key(&iter));
    if (compare_group_keys(&key, &model->keys[count]) != 0) {
      fail_msg("key %zu is (%llu, %llu), the model has (%llu, %llu) (seed %llu)", count, (unsigned long long)key.group,
               (unsigned long long)key.member, (unsigned long long)model->keys[count].group,
               (unsigned long long)model->keys[count].member, (unsigned long long)seed);
    }
    nodes[count++] = mt_skiplist_iter_key(&iter);
  }
  assert_int_equal(count, model->count);
  assert_int_equal(mt_skiplist_count(list), model->count);

  group_shape shape = {0, 0, 0};
  size_t group_start = 0;
  for (size_t i = 0; i < count; i++) {
    if (i > 0 && model->keys[i].group != model->keys[i - 1].group) group_start = i;
    mt_skiplist_iter at = {list, nodes[i]};
    mt_skiplist_iter_group_last(&at);
    assert_true(mt_skiplist_iter_valid(&at));
    const char *landing = mt_skiplist_iter_key(&at);
    size_t j = i;
    while (nodes[j] != landing) {
      j++;
      if (j == count || model->keys[j].group != model->keys[i].group) {
        fail_msg("the jump from (%llu, %llu) does not land on a later node of its group (seed %llu)",
                 (unsigned long long)model->keys[i].group, (unsigned long long)model->keys[i].member,
                 (unsigned long long)seed);
      }
    }
    bool group_ends_at_j = j + 1 == count || model->keys[j + 1].group != model->keys[i].group;
    if (i == group_start && group_ends_at_j) shape.first_jumps_to_end++;
  }

  mt_skiplist_iter_seek_to_first(&iter);
  size_t model_index = 0;
  while (mt_skiplist_iter_valid(&iter)) {
    uint64_t group = iter_group(&iter);
    if (model_index == count || model->keys[model_index].group != group) {
      fail_msg("group scan met group %llu where the model has %s (seed %llu)", (unsigned long long)group,
               model_index == count ? "none" : "another", (unsigned long long)seed);
    }
    while (model_index < count && model->keys[model_index].group == group) model_index++;
    shape.groups++;
    do {
      mt_skiplist_iter_group_last(&iter);
      assert_int_equal(iter_group(&iter), group);
      mt_skiplist_iter_next(&iter);
      shape.scan_steps++;
    } while (mt_skiplist_iter_valid(&iter) && iter_group(&iter) == group);
  }
  assert_int_equal(model_index, count);
  assert_int_equal(mt_skiplist_validate(list, NULL, NULL), MT_OK);
  free(nodes);
  return shape;
}

static inline void shuffle(group_key *keys, size_t count, uint64_t *rng) {
  for (size_t i = count; i > 1; i--) {
    size_t j = mt_rng_below(rng, i);
    group_key swap = keys[i - 1];
    keys[i - 1] = keys[j];
    keys[j] = swap;
  }
}

#endif
