/* memtable/skiplist/skiplist_internal.h - private to the skiplist folder: LevelDB's searches (inline: every
 * reader and writer path runs one), and what the list's creation takes from the insert code.
 * Every link is read with an acquire load (skiplist_inline.h), pairing with the writers' release stores.
 */
#ifndef MEMTABLE_SKIPLIST_INTERNAL_H
#define MEMTABLE_SKIPLIST_INTERNAL_H

#include <stdbool.h>

#include "memtable/skiplist/skiplist_inline.h"

static inline skiplist_node *node_of_key(const char *key) { return (skiplist_node *)(uintptr_t)key; }

/* While the walk at `node` compares `next`, start fetching both nodes it may visit after that: the one after
 * `next` (if it goes right) and node's link one level down (if it drops), so whichever way the walk goes, its
 * next node is already on its way from memory. */
static inline void prefetch_candidates(const mt_skiplist *list, const skiplist_node *node, const skiplist_node *next,
                                       int level) {
  SKIPLIST_PREFETCH(skiplist_load_next_for_prefetch(list, next, level));
  if (level > 0) SKIPLIST_PREFETCH(skiplist_load_next_for_prefetch(list, node, level - 1));
}

/* Each search remembers the node that ended its walk on the level above: when the same node follows on
 * the level below, its comparison is already known and is skipped. */

/* The first node >= key, or NULL. *equal says whether it equals key; an equal node ends the walk at once.
 * If prev is not NULL, fills prev[i] and next[i] with the nodes around key at each level below the
 * current height (only when the answer is not equal: an equal node leaves them partly written). */
static inline skiplist_node *find_greater_or_equal(const mt_skiplist *list, const char *key, skiplist_node **prev,
                                                   skiplist_node **next_out, bool *equal) {
  skiplist_node *node = list->head;
  skiplist_node *known_greater = NULL;
  int level = skiplist_load_height(list) - 1;
  for (;;) {
    skiplist_node *next = skiplist_load_next_acquire(list, node, level);
    int order = 1;
    if (next != NULL && next != known_greater) {
      prefetch_candidates(list, node, next, level);
      order = skiplist_compare_keys(list, skiplist_node_key(next), key);
    }
    if (order < 0) {
      node = next;
      continue;
    }
    if (order == 0) {
      *equal = true;
      return next;
    }
    if (prev != NULL) {
      prev[level] = node;
      next_out[level] = next;
    }
    if (level == 0) {
      *equal = false;
      return next;
    }
    known_greater = next;
    level--;
  }
}

/* The last node < key on level `bottom` (the walk starts at the top level, or at `bottom` if higher), or head,
 * by compare(ctx, stored, key); *after gets the successor on `bottom` the walk compared (the first node >= key
 * there, or NULL), read once, so a node linked in between since is not mistaken for it. */
static inline skiplist_node *find_less_than_by(const mt_skiplist *list, mt_skiplist_compare_fn compare, void *ctx,
                                               const char *key, int bottom, skiplist_node **after) {
  skiplist_node *node = list->head;
  skiplist_node *known_not_less = NULL;
  int level = skiplist_load_height(list) - 1;
  if (level < bottom) level = bottom;
  for (;;) {
    skiplist_node *next = skiplist_load_next_acquire(list, node, level);
    if (next != NULL && next != known_not_less) {
      prefetch_candidates(list, node, next, level);
      if (compare(ctx, skiplist_node_key(next), key) < 0) {
        node = next;
        continue;
      }
    }
    if (level == bottom) {
      *after = next;
      return node;
    }
    known_not_less = next;
    level--;
  }
}

/* The last node < key, or head; *after gets the level-0 successor the walk compared (find_less_than_by). */
static inline skiplist_node *find_less_than(const mt_skiplist *list, const char *key, skiplist_node **after) {
  return find_less_than_by(list, list->compare, list->compare_ctx, key, 0, after);
}

/* The last node <= key, or head. */
static inline skiplist_node *find_less_or_equal(const mt_skiplist *list, const char *key) {
  skiplist_node *node = list->head;
  skiplist_node *known_greater = NULL;
  int level = skiplist_load_height(list) - 1;
  for (;;) {
    skiplist_node *next = skiplist_load_next_acquire(list, node, level);
    if (next != NULL && next != known_greater) {
      prefetch_candidates(list, node, next, level);
      int order = skiplist_compare_keys(list, skiplist_node_key(next), key);
      if (order == 0) return next;
      if (order < 0) {
        node = next;
        continue;
      }
    }
    if (level == 0) return node;
    known_greater = next;
    level--;
  }
}

/* The last node, or head when empty. */
static inline skiplist_node *find_last(const mt_skiplist *list) {
  skiplist_node *node = list->head;
  int level = skiplist_load_height(list) - 1;
  for (;;) {
    skiplist_node *next = skiplist_load_next_acquire(list, node, level);
    if (next != NULL) {
      node = next;
    } else if (level == 0) {
      return node;
    } else {
      level--;
    }
  }
}

/* A node of `height` links for a key of key_size bytes (skiplist_insert.c); records key_size when the list
 * does. Its links are left unwritten. MT_INVALID_ARGUMENT for a key_size the node cannot record, else the
 * arena's status. */
mt_status mti_skiplist_allocate_node(mt_arena *arena, size_t key_header_size, bool records_key_size, int height,
                                     size_t key_size, skiplist_node **out);

#endif
