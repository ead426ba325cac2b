/* Concurrent-read skiplist: creation, reads and iterators. See include/memtable/skiplist.h for the contract, and
 * memtable/skiplist_inline.h for the node layout and the list's fields.
 *
 * Threading: one writer (serialised by the caller), or with concurrent_inserts any number of writers;
 * readers without locks. Invariants:
 *  - A node's key, key size and own links are written before it becomes reachable, and never change
 *    after, except the links, which only writers change, each by one release store (one writer) or one
 *    release compare-and-swap (several) that makes a fully written node reachable on that level.
 *  - A node is linked bottom up: a reader that finds it on level i finds it on every level below.
 *  - With several writers, a node is linked on level 0 by a compare-and-swap of its predecessor's link from
 *    the successor its search found: it fails if any node was linked in between meanwhile, and the writer
 *    then searches that level again from the same predecessor (nodes are never removed, so the predecessor
 *    still sorts before the key). Two writers of an equal key race on the same link: one wins, the other's
 *    search again finds the key and refuses it (MT_EXISTS) before its node is linked anywhere.
 *  - Every link a reader follows is read with an acquire load, pairing with that release store.
 *  - Nothing is ever unlinked or freed (the arena frees everything at once).
 *
 * Iterator functions called on an iterator that is not valid (or NULL) do nothing: key returns NULL,
 * key_size and height return 0, next and prev leave it not valid.
 */
#include <memtable/skiplist.h>
#include <memtable/skiplist.h>

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>

#include "memtable/skiplist/skiplist_internal.h"

/* The number of levels `target` is linked on, found by a search for its key: every node before it on a
 * level it is linked on sorts before it, so the walk meets it first on its top level. 0 if it is not
 * linked at all (never the case for a node an iterator reached). */
static int linked_height(const mt_skiplist *list, const skiplist_node *target) {
  const char *key = skiplist_node_key(target);
  skiplist_node *node = list->head;
  skiplist_node *known_not_less = NULL;
  for (int level = skiplist_load_height(list) - 1; level >= 0;) {
    skiplist_node *next = skiplist_load_next_acquire(list, node, level);
    if (next == target) return level + 1;
    if (next != NULL && next != known_not_less && skiplist_compare_keys(list, skiplist_node_key(next), key) < 0) {
      node = next;
      continue;
    }
    known_not_less = next;
    level--;
  }
  return 0;
}

void mt_skiplist_options_init(mt_skiplist_options *options) {
  if (options == NULL) return;
  const mt_skiplist_options defaults = MT_SKIPLIST_OPTIONS_INIT;
  *options = defaults;
}

mt_status mt_skiplist_try_create(mt_arena *arena, const mt_skiplist_options *options, mt_skiplist **out) {
  if (out == NULL) return MT_INVALID_ARGUMENT;
  *out = NULL;
  if (arena == NULL || options == NULL || options->compare == NULL) return MT_INVALID_ARGUMENT;
  if (options->max_height < 1 || options->max_height > MT_SKIPLIST_MAX_HEIGHT_LIMIT) return MT_INVALID_ARGUMENT;
  if (options->branching < 2) return MT_INVALID_ARGUMENT;
  /* Many writers allocate nodes at once: only an arena in concurrent mode allows that. */
  if (options->concurrent_inserts && !mt_arena_is_concurrent(arena)) return MT_INVALID_ARGUMENT;
  size_t splice_size = 2 * (size_t)options->max_height * sizeof(skiplist_node *);
  void *memory;
  mt_status status = mt_arena_try_allocate(arena, sizeof(mt_skiplist) + splice_size, alignof(mt_skiplist), &memory);
  if (status != MT_OK) return status;
  mt_skiplist *list = memory;
  list->records_key_size = options->record_key_size;
  list->same_group = options->same_group;
  list->key_header_size = (options->record_key_size ? SKIPLIST_KEY_SIZE_BYTES : 0) +
                          (options->same_group != NULL ? sizeof(skiplist_link) : 0);
  list->max_height = options->max_height; /* before any link is stored: the link helpers assert against it */
  list->concurrent = options->concurrent_inserts;
  list->seed = options->seed;
  skiplist_node *head;
  status =
      mti_skiplist_allocate_node(arena, list->key_header_size, list->records_key_size, options->max_height, 0, &head);
  if (status != MT_OK) return status;
  for (int level = 0; level < options->max_height; level++) {
    /* Not shared yet: handing the list to other threads must synchronise anyway. */
    atomic_init(skiplist_node_links(list, head) - level, NULL);
  }
  list->compare = options->compare;
  list->compare_ctx = options->compare_ctx;
  list->head = head;
  list->arena = arena;
  atomic_init(&list->height, 1);
  for (unsigned i = 0; i < MTI_STRIPES; i++) {
    atomic_init(&list->counts[i].value, 0);
    atomic_init(&list->counts[i].grouped, 0);
  }
  list->random_state = options->seed;
  list->reserve_state = options->seed;
  list->grow_threshold = UINT64_MAX / (uint64_t)options->branching;
  list->splice_is_valid = true;
  list->splice_is_useful = false;
  for (int level = 0; level < options->max_height; level++) {
    list->splice[level] = head;
    list->splice[options->max_height + level] = NULL;
  }
  *out = list;
  return MT_OK;
}

mt_skiplist *mt_skiplist_create(mt_arena *arena, const mt_skiplist_options *options) {
  mt_skiplist *list;
  (void)mt_skiplist_try_create(arena, options, &list);
  return list;
}
bool mt_skiplist_contains(const mt_skiplist *list, const char *key) {
  if (list == NULL || key == NULL) return false;
  bool equal;
  (void)find_greater_or_equal(list, key, NULL, NULL, &equal);
  return equal;
}

size_t mt_skiplist_count(const mt_skiplist *list) {
  if (list == NULL) return 0;
  size_t count;
  skiplist_load_counts(list, &count, NULL);
  return count;
}

void mt_skiplist_iter_init(mt_skiplist_iter *iter, const mt_skiplist *list) {
  if (iter == NULL) return;
  iter->list = list;
  iter->node = NULL;
}

bool mt_skiplist_iter_valid(const mt_skiplist_iter *iter) { return iter != NULL && iter->node != NULL; }

/* The public functions below test validity inline rather than call mt_skiplist_iter_valid: an exported
 * function may be interposed in a shared build, so the compiler would not inline the call. */
static inline bool iter_is_valid(const mt_skiplist_iter *iter) { return iter != NULL && iter->node != NULL; }

const char *mt_skiplist_iter_key(const mt_skiplist_iter *iter) {
  return iter_is_valid(iter) ? skiplist_iter_key_inline(iter) : NULL;
}

size_t mt_skiplist_iter_key_size(const mt_skiplist_iter *iter) {
  return iter_is_valid(iter) ? skiplist_iter_key_size_inline(iter) : 0;
}

int mt_skiplist_iter_height(const mt_skiplist_iter *iter) {
  return iter_is_valid(iter) ? linked_height(iter->list, skiplist_iter_node(iter)) : 0;
}

void mt_skiplist_iter_group_last(mt_skiplist_iter *iter) {
  if (!iter_is_valid(iter)) return;
  const skiplist_node *last = skiplist_node_group_last(iter->list, skiplist_iter_node(iter));
  if (last != NULL) iter->node = skiplist_node_key(last);
}

void mt_skiplist_iter_next(mt_skiplist_iter *iter) {
  if (iter_is_valid(iter)) skiplist_iter_next_inline(iter);
}

/* A reader cannot use back links (the writer could not publish them atomically with the forward ones),
 * so stepping back searches for the last node before the current key, as LevelDB does. */
void mt_skiplist_iter_prev(mt_skiplist_iter *iter) {
  if (!iter_is_valid(iter)) return;
  skiplist_node *after;
  skiplist_node *node = find_less_than(iter->list, skiplist_node_key(skiplist_iter_node(iter)), &after);
  iter->node = node == iter->list->head ? NULL : node;
}

void mt_skiplist_iter_seek(mt_skiplist_iter *iter, const char *target) {
  if (iter == NULL) return;
  iter->node = NULL;
  if (iter->list == NULL || target == NULL) return;
  bool equal;
  iter->node = find_greater_or_equal(iter->list, target, NULL, NULL, &equal);
}

void mt_skiplist_iter_seek_with_predecessor(mt_skiplist_iter *iter, const char *target, mt_skiplist_iter *predecessor) {
  if (predecessor != NULL) predecessor->node = NULL;
  if (iter == NULL) return;
  iter->node = NULL;
  if (iter->list == NULL || target == NULL) return;
  skiplist_node *after;
  skiplist_node *node = find_less_than(iter->list, target, &after);
  iter->node = after;
  if (predecessor != NULL) {
    predecessor->list = iter->list;
    predecessor->node = node == iter->list->head ? NULL : node;
  }
}

void mt_skiplist_iter_seek_for_prev(mt_skiplist_iter *iter, const char *target) {
  if (iter == NULL) return;
  iter->node = NULL;
  if (iter->list == NULL || target == NULL) return;
  skiplist_node *node = find_less_or_equal(iter->list, target);
  iter->node = node == iter->list->head ? NULL : node;
}

void mt_skiplist_iter_seek_to_first(mt_skiplist_iter *iter) {
  if (iter == NULL) return;
  iter->node = iter->list == NULL ? NULL : skiplist_load_next_acquire(iter->list, iter->list->head, 0);
}

void mt_skiplist_iter_seek_to_last(mt_skiplist_iter *iter) {
  if (iter == NULL) return;
  iter->node = NULL;
  if (iter->list == NULL) return;
  skiplist_node *node = find_last(iter->list);
  iter->node = node == iter->list->head ? NULL : node;
}
