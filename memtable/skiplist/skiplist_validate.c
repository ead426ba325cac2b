/* mt_skiplist_validate (include/memtable/skiplist.h): the structure checks, apart from the hot paths in
 * skiplist.c. Requires the writer to be quiescent; every link and key it reads is first checked to lie in the
 * arena, and walks are bounded by the list's count, so a damaged list is reported, not followed off the
 * arena or round a cycle. */
#include <memtable/skiplist.h>

#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>

#include "memtable/skiplist/skiplist_internal.h"

static inline uint32_t node_key_size(const skiplist_node *node) {
  return (uint32_t)skiplist_recorded_key_size(skiplist_node_key(node));
}

/* Link `level` of node is aligned and lies inside the arena, so it can be read. */
static bool link_is_readable(const mt_skiplist *list, const skiplist_node *node, int level) {
  const skiplist_link *link = skiplist_node_links(list, node) - level;
  return (uintptr_t)link % alignof(skiplist_link) == 0 && mt_arena_contains(list->arena, link, sizeof(*link)) != 0;
}

/* A node reached on level 0: its link 0 is readable and, when key sizes are recorded, its size and whole key
 * lie inside the arena. (Without recorded sizes only key_ok can say how long a key is.) */
static bool node_is_sound(const mt_skiplist *list, const skiplist_node *node) {
  if (!link_is_readable(list, node, 0)) return false;
  if (list->same_group != NULL &&
      !mt_arena_contains(list->arena, skiplist_node_group_slot(list, node), sizeof(skiplist_link))) {
    return false;
  }
  if (!list->records_key_size) return true;
  const char *key_size = (const char *)node - SKIPLIST_KEY_SIZE_BYTES;
  return mt_arena_contains(list->arena, key_size, SKIPLIST_KEY_SIZE_BYTES) &&
         mt_arena_contains(list->arena, key_size, SKIPLIST_KEY_SIZE_BYTES + node_key_size(node));
}

/* The first node >= key on level 0, found by a search from the head (the levels are already checked). */
static const skiplist_node *find_greater_or_equal_node(const mt_skiplist *list, const char *key) {
  skiplist_node *after;
  (void)find_less_than(list, key, &after);
  return after;
}

/* A group link's target is a node of the list: it lies in the arena (and key_ok accepts it) before anything of
 * it is read, and a search for its key finds exactly it (keys are distinct, so no other node can answer). */
static bool is_listed_node(const mt_skiplist *list, const skiplist_node *node,
                           bool (*key_ok)(void *ctx, const char *key), void *ctx) {
  if (!node_is_sound(list, node)) return false;
  if (key_ok != NULL && !key_ok(ctx, skiplist_node_key(node))) return false;
  return find_greater_or_equal_node(list, skiplist_node_key(node)) == node;
}

/* Every group link passes its check and leads forward on level 0, through nodes of the linking node's group
 * only, to a node of that group, and exactly `grouped` nodes have one (the count the writers keep: a link is
 * written once, when its node is linked). One walk of level 0: a target is proven a listed node of the group
 * sorting after its linking node (a search) only when it differs from the last target proven, which lies
 * ahead of the walk until the walk reaches it (the nodes of a group usually share one target); and while the
 * walk is inside some link's span (up to the furthest target seen), each node must be in the group of the one
 * before it. Groups are runs and same_group is an equivalence (the contract), so that is every node between
 * each linking node and its target. O(count) when targets repeat, O(count log count) at worst. Requires the
 * levels to be checked already (the searches walk them). */
static bool group_links_are_sound(const mt_skiplist *list, size_t grouped, bool (*key_ok)(void *ctx, const char *key),
                                  void *ctx) {
  size_t linking = 0;
  const skiplist_node *proven = NULL; /* the last target proven, while it is ahead of the walk */
  const skiplist_node *reach = NULL;  /* the furthest target of the span the walk is in, or NULL */
  const skiplist_node *previous = NULL;
  for (const skiplist_node *node = skiplist_load_next_acquire(list, list->head, 0); node != NULL;
       node = skiplist_load_next_acquire(list, node, 0)) {
    if (reach != NULL) {
      if (!list->same_group(list->compare_ctx, skiplist_node_key(node), skiplist_node_key(previous))) return false;
      if (node == reach) reach = NULL;
    }
    if (node == proven) proven = NULL;
    const skiplist_node *last;
    if (!skiplist_node_group_link(list, node, &last)) return false;
    if (last != NULL) {
      linking++;
      if (last != proven) {
        if (last == node || !is_listed_node(list, last, key_ok, ctx) ||
            skiplist_compare_keys(list, skiplist_node_key(node), skiplist_node_key(last)) >= 0 ||
            !list->same_group(list->compare_ctx, skiplist_node_key(last), skiplist_node_key(node))) {
          return false;
        }
        proven = last;
      }
      if (reach == NULL || skiplist_compare_keys(list, skiplist_node_key(reach), skiplist_node_key(last)) < 0) {
        reach = last;
      }
    }
    previous = node;
  }
  return reach == NULL && linking == grouped;
}

mt_status mt_skiplist_validate(const mt_skiplist *list, bool (*key_ok)(void *ctx, const char *key), void *ctx) {
  if (list == NULL) return MT_INVALID_ARGUMENT;
  const skiplist_node *head = list->head;
  int height = skiplist_load_height(list);
  if (height < 1 || height > list->max_height) return MT_CORRUPTION;
  for (int level = 0; level < list->max_height; level++) {
    if (!link_is_readable(list, head, level)) return MT_CORRUPTION;
  }
  for (int level = height; level < list->max_height; level++) {
    if (skiplist_load_next_acquire(list, head, level) != NULL) return MT_CORRUPTION;
  }

  /* Level 0: every node sound, accepted by key_ok, strictly ascending, and exactly count of them (which
   * also bounds the walk if a link was corrupted into a cycle). */
  size_t expected;
  size_t grouped;
  skiplist_load_counts(list, &expected, &grouped);
  size_t seen = 0;
  const skiplist_node *previous = NULL;
  for (const skiplist_node *node = skiplist_load_next_acquire(list, head, 0); node != NULL;
       node = skiplist_load_next_acquire(list, node, 0)) {
    if (++seen > expected || !node_is_sound(list, node)) return MT_CORRUPTION;
    if (key_ok != NULL && !key_ok(ctx, skiplist_node_key(node))) return MT_CORRUPTION;
    if (previous != NULL && skiplist_compare_keys(list, skiplist_node_key(previous), skiplist_node_key(node)) >= 0) {
      return MT_CORRUPTION;
    }
    previous = node;
  }
  if (seen != expected) return MT_CORRUPTION;

  /* Each higher level must be an in-order subsequence of the level below (so of level 0, and so strictly
   * ascending without comparing again). With one writer every level below the height is non-empty (its
   * first node raised the height); concurrent writers raise the height before linking, and one refused as a
   * duplicate leaves it raised, so there the top levels may be empty - but never a level below a non-empty
   * one (a node is linked bottom up). Nodes are matched by address against the already-checked level below
   * before anything of them is read, and each link is checked to lie in the arena before it is read. Heights
   * are not stored, so a link that names a node shorter than its level cannot be told from a real one unless
   * what it reads there breaks the rest. */
  bool empty_below = false;
  for (int level = 1; level < height; level++) {
    const skiplist_node *below = skiplist_load_next_acquire(list, head, level - 1);
    const skiplist_node *node = skiplist_load_next_acquire(list, head, level);
    if (node == NULL && !list->concurrent) return MT_CORRUPTION;
    if (node != NULL && empty_below) return MT_CORRUPTION;
    if (node == NULL) empty_below = true;
    for (; node != NULL; node = skiplist_load_next_acquire(list, node, level)) {
      while (below != NULL && below != node) below = skiplist_load_next_acquire(list, below, level - 1);
      if (below == NULL || !link_is_readable(list, node, level)) return MT_CORRUPTION;
      below = skiplist_load_next_acquire(list, below, level - 1);
    }
  }
  bool groups_sound = list->same_group != NULL ? group_links_are_sound(list, grouped, key_ok, ctx) : grouped == 0;
  return groups_sound ? MT_OK : MT_CORRUPTION;
}
