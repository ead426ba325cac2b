/* Inserting into the skiplist: node allocation and give-back, tower heights, the single writer's splice
 * insert, the concurrent writers' compare-and-swap insert, group links, and inserts from a batch's positions.
 * See include/memtable/skiplist.h for the contract and the invariants at the top of skiplist.c.
 */
#include <memtable/skiplist.h>

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>

#include "memtable/skiplist/skiplist_batch.h"
#include "memtable/skiplist/skiplist_internal.h"
#include "memtable/skiplist/thread_stripe.h"

/* Every access to a link goes through the helpers below and the two loads in skiplist_inline.h
 * (skiplist_load_next_acquire, skiplist_load_next_for_prefetch), so the memory order of each is stated
 * once; concurrent writers link by one compare-and-swap per level (link_concurrently). */

/* Release: everything written to `next` (key, key size, its links) happens-before any acquire that reads
 * it. */
static inline void store_next_release(const mt_skiplist *list, skiplist_node *node, int level, skiplist_node *next) {
  assert(level >= 0 && level < list->max_height);
  atomic_store_explicit(skiplist_node_links(list, node) - level, next, memory_order_release);
}

/* Relaxed: only for a node no reader can reach yet; the release that publishes it orders these stores. */
static inline void store_next_relaxed(const mt_skiplist *list, skiplist_node *node, int level, skiplist_node *next) {
  assert(level >= 0 && level < list->max_height);
  atomic_store_explicit(skiplist_node_links(list, node) - level, next, memory_order_relaxed);
}

/* Between allocate_key and the insert, link 0 of a node holds its height (see skiplist_inline.h). Relaxed
 * both ways: the node is unreachable, and only the writer that allocated it reads it back. */
static inline void stash_height(const mt_skiplist *list, skiplist_node *node, int height) {
  atomic_store_explicit(skiplist_node_links(list, node), (skiplist_node *)(uintptr_t)height, memory_order_relaxed);
}

static inline int stashed_height(const mt_skiplist *list, const skiplist_node *node) {
  return (int)(uintptr_t)atomic_load_explicit(skiplist_node_links(list, node), memory_order_relaxed);
}

static inline uint64_t next_random(uint64_t *state) {
  /* splitmix64: any seed (zero included) gives a full-period, well-mixed sequence. */
  uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static int random_height(mt_skiplist *list) {
  int height = 1;
  while (height < list->max_height && next_random(&list->random_state) < list->grow_threshold) height++;
  return height;
}

/* Concurrent writers draw heights from a per-thread generator, started from the address of the thread's own
 * state (distinct per live thread) mixed with the list's seed. */
static _Thread_local uint64_t thread_random_state;
static _Thread_local bool thread_random_started;

static int random_height_concurrent(const mt_skiplist *list) {
  if (!thread_random_started) {
    thread_random_state = (uint64_t)(uintptr_t)&thread_random_state ^ list->seed;
    thread_random_started = true;
  }
  int height = 1;
  while (height < list->max_height && next_random(&thread_random_state) < list->grow_threshold) height++;
  return height;
}

mt_status mti_skiplist_allocate_node(mt_arena *arena, size_t key_header_size, bool records_key_size, int height,
                                     size_t key_size, skiplist_node **out) {
  *out = NULL;
#if SIZE_MAX > UINT32_MAX
  if (key_size > UINT32_MAX) return MT_INVALID_ARGUMENT; /* key sizes are recorded in 32 bits */
#endif
  size_t prefix_size = (size_t)height * sizeof(skiplist_link) + key_header_size;
  if (key_size > SIZE_MAX - prefix_size) return MT_INVALID_ARGUMENT;
  void *memory;
  mt_status status = mt_arena_try_allocate(arena, prefix_size + key_size, alignof(skiplist_link), &memory);
  if (status != MT_OK) return status;
  char *key = (char *)memory + prefix_size;
  if (records_key_size) {
    uint32_t stored_size = (uint32_t)key_size;
    memcpy(key - SKIPLIST_KEY_SIZE_BYTES, &stored_size, sizeof(stored_size));
  }
  *out = node_of_key(key);
  return MT_OK;
}

mt_status mt_skiplist_allocate_key(mt_skiplist *list, size_t key_size, char **key) {
  if (key != NULL) *key = NULL;
  if (list == NULL || key == NULL) return MT_INVALID_ARGUMENT;
  skiplist_node *node;
  int height;
  if (list->concurrent) {
    height = random_height_concurrent(list);
    mt_status status =
        mti_skiplist_allocate_node(list->arena, list->key_header_size, list->records_key_size, height, key_size, &node);
    if (status != MT_OK) return status;
  } else {
    list->reserve_state = list->random_state;
    height = random_height(list);
    mt_status status =
        mti_skiplist_allocate_node(list->arena, list->key_header_size, list->records_key_size, height, key_size, &node);
    if (status != MT_OK) {
      list->random_state = list->reserve_state; /* a failed reservation leaves no trace either */
      return status;
    }
  }
  stash_height(list, node, height);
  *key = (char *)(uintptr_t)skiplist_node_key(node);
  return MT_OK;
}

/* A node refused before it was linked goes back to the arena when it is still the arena's latest allocation
 * (the memtable allocates nothing between reserving and inserting), and its height draw is rewound, so the
 * refusal leaves no trace: the next node gets the memory and the height this one had. Its height is still
 * parked in link 0. */
static bool give_back_node(mt_skiplist *list, skiplist_node *node) {
  size_t tower = (size_t)stashed_height(list, node) * sizeof(skiplist_link);
  /* With concurrent writers the arena takes back the calling thread's own latest allocation; the height
   * generator is the thread's, and is not rewound. */
  if (mt_arena_undo_last(list->arena, (const char *)node - list->key_header_size - tower) != MT_OK) return false;
  if (!list->concurrent) list->random_state = list->reserve_state;
  return true;
}

size_t mt_skiplist_node_size_bound(const mt_skiplist *list, size_t key_size) {
  if (list == NULL || key_size > UINT32_MAX) return 0;
  /* The arena pads a node's start to a link's alignment: at most alignof - 1 bytes. */
  return (size_t)list->max_height * sizeof(skiplist_link) + list->key_header_size + key_size +
         (alignof(skiplist_link) - 1);
}

size_t mt_skiplist_allocated_size(const mt_skiplist *list, const char *key, size_t key_size) {
  if (list == NULL || key == NULL) return 0;
  int height = stashed_height(list, node_of_key(key));
  assert(height >= 1 && height <= list->max_height);
  return (size_t)height * sizeof(skiplist_link) + list->key_header_size + key_size;
}

mt_status mt_skiplist_release_allocated(mt_skiplist *list, char *key) {
  if (list == NULL || key == NULL) return MT_INVALID_ARGUMENT;
  return give_back_node(list, node_of_key(key)) ? MT_OK : MT_INVALID_STATE;
}

/* True when key lies strictly inside the splice's level-0 interval (so inside every level's). */
static inline bool splice_brackets(const mt_skiplist *list, const char *key) {
  skiplist_node *prev = list->splice[0];
  skiplist_node *next = list->splice[list->max_height];
  if (prev != list->head && skiplist_compare_keys(list, skiplist_node_key(prev), key) >= 0) return false;
  return next == NULL || skiplist_compare_keys(list, skiplist_node_key(next), key) > 0;
}

static void link_node(mt_skiplist *list, skiplist_node *node, int height, skiplist_node *const *prev,
                      skiplist_node *const *next);

static inline void counter_increment(_Atomic size_t *counter, bool shared) {
  /* Relaxed: a statistic; it publishes no memory. A stripe may be shared by two concurrent writers, hence
   * their read-modify-write; a single writer is the only one to change its counter: a load and a store. */
  if (shared) {
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
  } else {
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1, memory_order_relaxed);
  }
}

/* Counts a node just linked (see mt_skiplist.counts): a single writer in stripe 0, concurrent writers in
 * their thread's stripe. `grouped`: it was linked with a group link. */
static inline void count_linked(mt_skiplist *list, bool grouped) {
  unsigned stripe = list->concurrent ? mti_thread_stripe() : 0;
  counter_increment(&list->counts[stripe].value, list->concurrent);
  if (grouped) counter_increment(&list->counts[stripe].grouped, list->concurrent);
}

/* Writes node's group link for `successor`, its level-0 successor-to-be (NULL: the list's end): that
 * successor's own link when it is in node's group, or the successor itself when it has none; NULL when it is
 * in another group. Returns whether the link is not NULL (the caller counts it in `grouped` once the node is
 * linked). Relaxed: the node is not reachable yet; the release that links it on level 0 publishes the slot
 * with it. (Rewritten by a concurrent writer whose level-0 swap failed, before it tries again.) */
static inline bool set_group_link(const mt_skiplist *list, skiplist_node *node, const skiplist_node *successor) {
  if (list->same_group == NULL) return false;
  const skiplist_node *last = NULL;
  if (successor != NULL && list->same_group(list->compare_ctx, skiplist_node_key(successor), skiplist_node_key(node))) {
    last = skiplist_node_group_last(list, successor);
    if (last == NULL) last = successor;
  }
  uintptr_t encoded = skiplist_group_encode(last);
  atomic_store_explicit(skiplist_node_group_slot(list, node), encoded, memory_order_relaxed);
  return encoded != 0;
}

/* Walks level `level` right from *before (which sorts before key) to the gap key falls in, updating
 * *before and *after; true when the node there equals key. */
static bool find_gap_on_level(const mt_skiplist *list, const char *key, int level, skiplist_node **before,
                              skiplist_node **after) {
  skiplist_node *node = *before;
  for (;;) {
    skiplist_node *next = skiplist_load_next_acquire(list, node, level);
    int order = next == NULL ? 1 : skiplist_compare_keys(list, skiplist_node_key(next), key);
    if (order < 0) {
      node = next;
      continue;
    }
    *before = node;
    *after = next;
    return order == 0;
  }
}

/* Raises the list's height to at least `height` (concurrent writers), so that a search made after this starts
 * high enough to fill every level the node needs. Relaxed both ways: the height publishes no memory (see the
 * field); a failure reloads it. */
static void raise_height_concurrently(mt_skiplist *list, int height) {
  int list_height = skiplist_load_height(list);
  while (height > list_height && !atomic_compare_exchange_weak_explicit(&list->height, &list_height, height,
                                                                        memory_order_relaxed, memory_order_relaxed)) {
  }
}

/* Links node on levels [0, height) by compare-and-swap, bottom up, from the gaps prev/next (each level's
 * prev sorts before the node; a failed swap searches that level again from it). MT_EXISTS (node given back)
 * when an equal key wins the race on level 0. */
static mt_status link_concurrently(mt_skiplist *list, skiplist_node *node, int height, skiplist_node **prev,
                                   skiplist_node **next) {
  const char *key = skiplist_node_key(node);
  bool grouped = false;
  for (int level = 0; level < height; level++) {
    for (;;) {
      /* Relaxed: the node is not reachable on this level yet; the compare-and-swap below publishes it. */
      store_next_relaxed(list, node, level, next[level]);
      if (level == 0) grouped = set_group_link(list, node, next[0]);
      skiplist_node *expected = next[level];
      /* Release on success: the node's key and its links up to this level happen-before any reader that
       * acquires this link. Relaxed on failure: nothing was written, and the level is searched again. */
      if (atomic_compare_exchange_strong_explicit(skiplist_node_links(list, prev[level]) - level, &expected, node,
                                                  memory_order_release, memory_order_relaxed)) {
        break;
      }
      if (find_gap_on_level(list, key, level, &prev[level], &next[level])) {
        /* Only on level 0, before the node is linked anywhere: an equal key won the race. */
        assert(level == 0);
        give_back_node(list, node);
        return MT_EXISTS;
      }
    }
  }
  count_linked(list, grouped);
  return MT_OK;
}

/* The concurrent_inserts form of mt_skiplist_insert_allocated: see the invariants at the top. */
static mt_status insert_concurrently(mt_skiplist *list, skiplist_node *node) {
  int height = stashed_height(list, node);
  assert(height >= 1 && height <= list->max_height);
  raise_height_concurrently(list, height);
  skiplist_node *prev[MT_SKIPLIST_MAX_HEIGHT_LIMIT];
  skiplist_node *next[MT_SKIPLIST_MAX_HEIGHT_LIMIT];
  bool equal;
  (void)find_greater_or_equal(list, skiplist_node_key(node), prev, next, &equal);
  if (equal) {
    give_back_node(list, node);
    return MT_EXISTS;
  }
  return link_concurrently(list, node, height, prev, next);
}

mt_status mt_skiplist_insert_allocated(mt_skiplist *list, char *key) {
  if (list == NULL || key == NULL) return MT_INVALID_ARGUMENT;
  skiplist_node *node = node_of_key(key);
  if (list->concurrent) return insert_concurrently(list, node);
  skiplist_node **prev = list->splice;
  skiplist_node **next = list->splice + list->max_height;
  bool use_splice = list->splice_is_valid && list->splice_is_useful && splice_brackets(list, key);
  if (!use_splice) {
    skiplist_node *last_inserted = list->splice_is_valid ? prev[0] : NULL;
    bool equal;
    (void)find_greater_or_equal(list, key, prev, next, &equal);
    if (equal) {
      list->splice_is_valid = false;
      give_back_node(list, node);
      return MT_EXISTS;
    }
    list->splice_is_valid = true;
    list->splice_is_useful = prev[0] == last_inserted;
  }

  /* Read only now: a node inserted twice is found equal to itself above, before its linked link 0 could be
   * mistaken for a height. */
  int height = stashed_height(list, node);
  assert(height >= 1 && height <= list->max_height);
#ifndef NDEBUG
  /* The splice nests and brackets the key on every level the node will be linked on. The comparisons are
   * re-done only after a search: a splice reused without one was just checked by splice_brackets, and the
   * fast path keeps its one comparison per in-order insert (skiplist_test_comparator_context counts). */
  for (int level = 0; level < height; level++) {
    assert(level == 0 || prev[level] == list->head || prev[level - 1] != list->head);
    assert(level == 0 || next[level - 1] != NULL || next[level] == NULL);
    assert(use_splice || prev[level] == list->head ||
           skiplist_compare_keys(list, skiplist_node_key(prev[level]), key) < 0);
    assert(use_splice || next[level] == NULL || skiplist_compare_keys(list, skiplist_node_key(next[level]), key) > 0);
  }
#endif
  if (height > skiplist_load_height(list)) {
    /* prev/next above the old height are already head/NULL (the splice invariant). Relaxed: see the
     * height field; storing it before the node is linked is what LevelDB does and is safe either way. */
    atomic_store_explicit(&list->height, height, memory_order_relaxed);
  }
  link_node(list, node, height, prev, next);
  for (int level = 0; level < height; level++) prev[level] = node;
  return MT_OK;
}

/* Single writer: links node (height levels) between prev[i] and next[i] on each level and counts it. */
static void link_node(mt_skiplist *list, skiplist_node *node, int height, skiplist_node *const *prev,
                      skiplist_node *const *next) {
  for (int level = 0; level < height; level++) store_next_relaxed(list, node, level, next[level]);
  bool grouped = set_group_link(list, node, next[0]);
  /* Bottom up, so a reader that finds the node on level i can also find it on every level below. (Several
   * writers link by compare-and-swap instead: insert_concurrently.) */
  for (int level = 0; level < height; level++) store_next_release(list, prev[level], level, node);
  count_linked(list, grouped);
}

typedef enum position_gaps { GAPS_FOUND, GAPS_EQUAL, GAPS_UNUSABLE } position_gaps;

/* The gaps a key of `height` levels falls in, walked right from a position found earlier: levels the finding
 * search did not reach start from the head. A position's nodes stay on their levels (nothing is unlinked),
 * so each level is only walked past the nodes linked since. GAPS_UNUSABLE for a position of another key. */
static position_gaps gaps_from_position(const mt_skiplist *list, const char *key, int height,
                                        const mti_skiplist_position *position, skiplist_node **prev,
                                        skiplist_node **next) {
  if (position->levels < 1 || position->levels > list->max_height) return GAPS_UNUSABLE;
  for (int level = 0; level < height; level++) {
    prev[level] = level < position->levels ? (skiplist_node *)(uintptr_t)position->before[level] : list->head;
    if (prev[level] == NULL) prev[level] = list->head;
    if (prev[level] != list->head && skiplist_compare_keys(list, skiplist_node_key(prev[level]), key) >= 0)
      return GAPS_UNUSABLE;
    if (find_gap_on_level(list, key, level, &prev[level], &next[level])) {
      /* One writer: level 0 is walked first, and the node found there is on every level it reached. With
       * concurrent writers an equal key may have been linked higher up since level 0 was walked; it is on
       * level 0 too (links are made bottom up), so it equally refuses this one. */
      assert(level == 0 || list->concurrent);
      return GAPS_EQUAL;
    }
  }
  return GAPS_FOUND;
}

mt_status mti_skiplist_insert_allocated_at(mt_skiplist *list, char *key, const mti_skiplist_position *position) {
  if (list == NULL || key == NULL) return MT_INVALID_ARGUMENT;
  if (position == NULL) return mt_skiplist_insert_allocated(list, key);
  skiplist_node *node = node_of_key(key);
  int height = stashed_height(list, node);
  assert(height >= 1 && height <= list->max_height);
  skiplist_node *prev[MT_SKIPLIST_MAX_HEIGHT_LIMIT];
  skiplist_node *next[MT_SKIPLIST_MAX_HEIGHT_LIMIT];
  if (list->concurrent) {
    raise_height_concurrently(list, height);
    position_gaps gaps = gaps_from_position(list, key, height, position, prev, next);
    if (gaps == GAPS_UNUSABLE) return insert_concurrently(list, node);
    if (gaps == GAPS_EQUAL) {
      give_back_node(list, node);
      return MT_EXISTS;
    }
    return link_concurrently(list, node, height, prev, next);
  }
  position_gaps gaps = gaps_from_position(list, key, height, position, prev, next);
  if (gaps == GAPS_UNUSABLE) return mt_skiplist_insert_allocated(list, key);
  if (gaps == GAPS_EQUAL) {
    list->splice_is_valid = false;
    give_back_node(list, node);
    return MT_EXISTS;
  }
  if (height > skiplist_load_height(list)) {
    /* Relaxed: as in mt_skiplist_insert_allocated. */
    atomic_store_explicit(&list->height, height, memory_order_relaxed);
  }
  link_node(list, node, height, prev, next);
  list->splice_is_valid = false; /* the list's own splice no longer brackets the last insert */
  return MT_OK;
}

mt_status mt_skiplist_insert(mt_skiplist *list, const void *key, size_t key_size) {
  if (list == NULL || key == NULL) return MT_INVALID_ARGUMENT;
  char *buffer;
  mt_status status = mt_skiplist_allocate_key(list, key_size, &buffer);
  if (status != MT_OK) return status;
  memcpy(buffer, key, key_size);
  return mt_skiplist_insert_allocated(list, buffer);
}
