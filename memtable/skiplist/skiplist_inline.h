/* memtable/skiplist_inline.h - private to the skiplist layer: the node layout, the list's fields and the
 * read-side hot path (follow a link, read a key), inline so that skiplist.c and the memtable's iterators
 * step along the list without a call per step. The memtable uses only the functions below, never the
 * fields; the contract is include/memtable/skiplist.h.
 *
 * Node layout (one arena allocation, aligned for the links):
 *
 *   [link height-1] ... [link 0] [group link: only with same_group, encoded with a check (below)]
 *   [key_size: u32, only with record_key_size]
 *   [key bytes ...]
 *    ^ node pointer
 *
 * A node pointer is its key pointer. The tower is exactly as tall as the node; links sit key_header_size
 * bytes (0, 4, 8 or 12) below the key, so a comparison and a step touch the node's own memory only (the
 * group link is aligned: it starts where the tower ends, and the tower starts link-aligned). The height
 * is not stored: between mt_skiplist_allocate_key and the insert, link 0 holds it (the node is the
 * writer's alone until then); after that, a node's height is the number of levels it is linked on.
 * The key and its size may be unaligned to anything (the comparator reads the key bytewise or by memcpy).
 */
#ifndef MEMTABLE_SKIPLIST_INLINE_H
#define MEMTABLE_SKIPLIST_INLINE_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <memtable/skiplist.h>

#include "memtable/skiplist/thread_stripe.h"

typedef struct skiplist_node skiplist_node; /* never defined: the layout above is addressed by hand */
typedef _Atomic(skiplist_node *) skiplist_link;

#define SKIPLIST_CACHE_LINE 64
#define SKIPLIST_KEY_SIZE_BYTES ((size_t)4)

#if defined(__GNUC__) || defined(__clang__)
#define SKIPLIST_PREFETCH(address) __builtin_prefetch(address)
#else
#define SKIPLIST_PREFETCH(address) ((void)(address))
#endif

struct mt_skiplist {
  /* Read by every search and step; fixed at create except height. */
  mt_skiplist_compare_fn compare;
  void *compare_ctx;
  skiplist_node *head; /* max_height links, no key; its links at levels >= height are NULL */
  mt_arena *arena;
  size_t key_header_size;               /* bytes between link 0 and the key: the group link's and the key size's */
  bool records_key_size;                /* options.record_key_size */
  mt_skiplist_same_group_fn same_group; /* NULL: no group links */
  int max_height;
  bool concurrent; /* concurrent_inserts: many writers, linked by compare-and-swap */
  uint64_t seed;   /* options.seed: mixed into each writer thread's height generator */
  /* Tallest tower linked so far, 1..max_height. Written by the writer only (raised by compare-and-swap with
   * concurrent writers); readers read it relaxed: it publishes no memory, because a reader that sees a new
   * height early finds NULL in head's new links (and drops a level) or the new node itself, whose contents
   * the acquire on that link makes visible. */
  _Atomic int height;

  /* Keys linked: a single writer counts in counts[0]; concurrent writers each in their thread's stripe
   * (thread_stripe.h), so they do not all read-modify-write one line. Read by any thread (the sum). `grouped`
   * counts, the same way, the nodes linked with a group link (lists with same_group): value / (value -
   * grouped) estimates the nodes per group, which the scan walker's group mode sizes its segments by. */
  struct {
    alignas(SKIPLIST_CACHE_LINE) _Atomic size_t value;
    _Atomic size_t grouped;
  } counts[MTI_STRIPES];
  /* Single-writer state, on its own cache line so the writer's stores do not evict the fields above from the
   * readers' caches. Concurrent writers keep theirs per call and per thread instead. */
  alignas(SKIPLIST_CACHE_LINE) uint64_t random_state; /* splitmix64 state for tower heights */
  uint64_t reserve_state;  /* random_state before the latest mt_skiplist_allocate_key: a refused node rewinds it */
  uint64_t grow_threshold; /* a random value below this adds a level: probability 1/branching */
  /* splice[0..max_height) = prev, splice[max_height..2*max_height) = next: after every completed insert,
   * for each level i, prev[i] is the last inserted node or a node before it, next[i] = prev[i]'s link i,
   * and the intervals nest (prev[i+1] <= prev[i], next[i] <= next[i+1]); at levels >= height they are
   * head and NULL. So a key strictly between prev[0] and next[0] lies strictly between prev[i] and next[i]
   * at every level, and can be linked there without a search: ascending inserts cost one comparison. */
  bool splice_is_valid;  /* false after a search that stopped early (equal key): splice partly rewritten */
  bool splice_is_useful; /* the last insert landed right after the one before it: try the splice first */
  skiplist_node *splice[];
};

/* The list's current height. Relaxed: see the height field. */
static inline int skiplist_load_height(const mt_skiplist *list) {
  return atomic_load_explicit(&list->height, memory_order_relaxed);
}

/* `stored` is always a key in the list (see mt_skiplist_compare_fn); `key` is the search target. */
static inline int skiplist_compare_keys(const mt_skiplist *list, const char *stored, const char *key) {
  return list->compare(list->compare_ctx, stored, key);
}

/* The bytes between a node's link 0 and its key: the group link's and the recorded size's. */
static inline size_t skiplist_node_header_bytes(const mt_skiplist *list) { return list->key_header_size; }

/* True when the list keeps group links (options.same_group). */
static inline bool skiplist_has_group_links(const mt_skiplist *list) { return list->same_group != NULL; }

/* The nodes linked, and of those the ones linked with a group link (see counts; grouped may be NULL when not
 * wanted). Relaxed: statistics, which order nothing; with concurrent writers the two sums may be from slightly
 * different moments. */
static inline void skiplist_load_counts(const mt_skiplist *list, size_t *linked, size_t *grouped) {
  unsigned stripes = list->concurrent ? MTI_STRIPES : 1;
  *linked = 0;
  if (grouped != NULL) *grouped = 0;
  for (unsigned i = 0; i < stripes; i++) {
    *linked += atomic_load_explicit(&list->counts[i].value, memory_order_relaxed);
    if (grouped != NULL) *grouped += atomic_load_explicit(&list->counts[i].grouped, memory_order_relaxed);
  }
}

static inline skiplist_link *skiplist_node_links(const mt_skiplist *list, const skiplist_node *node) {
  /* The tower ends key_header_size bytes before the key; link i is i+1 slots below that. */
  return (skiplist_link *)(uintptr_t)((const char *)node - list->key_header_size) - 1;
}

static inline const char *skiplist_node_key(const skiplist_node *node) { return (const char *)node; }

/* The group link's slot (lists with same_group only): the first bytes of the key header. It holds the link
 * encoded (skiplist_group_encode), not a pointer. */
typedef _Atomic uintptr_t skiplist_group_slot;

static inline skiplist_group_slot *skiplist_node_group_slot(const mt_skiplist *list, const skiplist_node *node) {
  return (skiplist_group_slot *)(uintptr_t)((const char *)node - list->key_header_size);
}

/* A group link is the node's 48-bit address with a 16-bit check above it: the address folded to 16 bits (its
 * three 16-bit pieces XORed). One damaged byte of the slot changes either the address, whose fold then changes
 * in that byte's position, or the check: either way the two disagree, so a reader never follows a link with
 * one damaged byte (nor, at odds of about 2^-16, with more). No link is 0, whose check is 0 too. A node above
 * 2^48 (outside the user address space of x86-64 and AArch64 with 48-bit addresses, or a tagged pointer) gets
 * no link: links only save steps, a node without one is passed by stepping. */
#define SKIPLIST_GROUP_CHECK_BITS 16
/* 48 with 64-bit pointers (with 32-bit ones 16: practically no node gets a link). */
#define SKIPLIST_GROUP_ADDRESS_BITS (sizeof(uintptr_t) * 8 - SKIPLIST_GROUP_CHECK_BITS)

static inline uintptr_t skiplist_group_fold(uintptr_t address) {
  uintptr_t fold = 0;
  for (size_t shift = 0; shift < SKIPLIST_GROUP_ADDRESS_BITS; shift += SKIPLIST_GROUP_CHECK_BITS)
    fold ^= address >> shift;
  return fold & ((1u << SKIPLIST_GROUP_CHECK_BITS) - 1);
}

/* The slot's value for a link to `last` (NULL: none). */
static inline uintptr_t skiplist_group_encode(const skiplist_node *last) {
  uintptr_t address = (uintptr_t)last;
  if (address >> SKIPLIST_GROUP_ADDRESS_BITS != 0) return 0;
  return address | skiplist_group_fold(address) << SKIPLIST_GROUP_ADDRESS_BITS;
}

/* Decodes a slot's value: true and *last = the link (NULL: none), or false (*last NULL) when the check and
 * the address disagree (damaged memory). */
static inline bool skiplist_group_decode(uintptr_t encoded, const skiplist_node **last) {
  uintptr_t address = encoded & (((uintptr_t)1 << SKIPLIST_GROUP_ADDRESS_BITS) - 1);
  *last = NULL;
  if (encoded >> SKIPLIST_GROUP_ADDRESS_BITS != skiplist_group_fold(address)) return false;
  *last = (const skiplist_node *)address;
  return true;
}

/* The node's group link: true and *last = the link, or NULL (none, or a list without group links); false (and
 * *last NULL) when the slot fails its check. Relaxed: the slot is written before the node is published and
 * never after, so the acquire that reached the node already makes it visible. */
static inline bool skiplist_node_group_link(const mt_skiplist *list, const skiplist_node *node,
                                            const skiplist_node **last) {
  *last = NULL;
  if (list->same_group == NULL) return true;
  return skiplist_group_decode(atomic_load_explicit(skiplist_node_group_slot(list, node), memory_order_relaxed), last);
}

/* The node's group link, or NULL: none, a list without group links, or a slot that fails its check (a caller
 * that passes the group by stepping then answers the same). */
static inline const skiplist_node *skiplist_node_group_last(const mt_skiplist *list, const skiplist_node *node) {
  const skiplist_node *last;
  return skiplist_node_group_link(list, node, &last) ? last : NULL;
}

/* Acquire: pairs with the writer's release store that linked `next`, so the node it returns has its key,
 * key size and links visible. */
static inline skiplist_node *skiplist_load_next_acquire(const mt_skiplist *list, const skiplist_node *node, int level) {
  return atomic_load_explicit(skiplist_node_links(list, node) - level, memory_order_acquire);
}

/* Relaxed: for a prefetch address only, which is never dereferenced. */
static inline skiplist_node *skiplist_load_next_for_prefetch(const mt_skiplist *list, const skiplist_node *node,
                                                             int level) {
  return atomic_load_explicit(skiplist_node_links(list, node) - level, memory_order_relaxed);
}

/* The step after this one reads three places of the candidate, each maybe on its own cache line: the key's
 * first bytes, the key's end (the comparator reads on while the keys agree), and, when it moves right, the
 * candidate's link on this level, which lies below the key (further below on the upper levels). Fetching
 * only the first would leave the others to miss in turn inside the step, so all three are fetched.
 * SKIPLIST_KEY_TAIL_BYTES reaches past a LevelDB entry with a 16-byte user key (length byte, key, 8-byte tag:
 * 25 bytes); a longer key's later lines are read only when its prefix agrees. Used by the interleaved
 * searches (skiplist_seek_batch.c, mt_skiplist_find_positions), whose next step comes a round later. */
#define SKIPLIST_KEY_TAIL_BYTES 24

static inline void skiplist_prefetch_step(const mt_skiplist *list, const skiplist_node *candidate, int level) {
  SKIPLIST_PREFETCH(candidate);
  SKIPLIST_PREFETCH(skiplist_node_key(candidate) + SKIPLIST_KEY_TAIL_BYTES);
  SKIPLIST_PREFETCH(skiplist_node_links(list, candidate) - level);
}

static inline skiplist_node *skiplist_iter_node(const mt_skiplist_iter *iter) {
  return (skiplist_node *)(uintptr_t)iter->node;
}

/* The iterator's key, or NULL when it is not valid. */
static inline const char *skiplist_iter_key_inline(const mt_skiplist_iter *iter) { return iter->node; }

/* The size recorded for a key stored in a list created with record_key_size (a key the comparator is handed
 * as `stored`, say): no list needed, for a comparator's hot path. */
static inline size_t skiplist_recorded_key_size(const char *stored) {
  uint32_t key_size;
  memcpy(&key_size, stored - SKIPLIST_KEY_SIZE_BYTES, sizeof(key_size));
  return key_size;
}

/* The size recorded for a key stored in the list, or 0 when the list does not record sizes. */
static inline size_t skiplist_stored_key_size(const mt_skiplist *list, const char *stored) {
  return list->records_key_size ? skiplist_recorded_key_size(stored) : 0;
}

/* The key size the node was allocated with, or 0 when the list does not record key sizes. Requires valid. */
static inline size_t skiplist_iter_key_size_inline(const mt_skiplist_iter *iter) {
  return skiplist_stored_key_size(iter->list, iter->node);
}

/* Puts an iterator on a node the walker returned (its key; NULL: not valid). */
static inline void skiplist_iter_set_key(mt_skiplist_iter *iter, const char *key) { iter->node = key; }

/* One step forward. Requires valid. */
static inline void skiplist_iter_next_inline(mt_skiplist_iter *iter) {
  iter->node = skiplist_load_next_acquire(iter->list, skiplist_iter_node(iter), 0);
}

#endif
