/* Batched seeks (mt_skiplist_seek_batch): the read-side analogue of mt_skiplist_find_positions. Each search
 * is a small state machine; a step compares the node fetched since the search's previous step, moves right or
 * down, and starts fetching the node it reads next, then the next search takes its step while that line
 * arrives (asynchronous memory access chaining, "AMAC"). A walk from the head of a million-key list is about
 * a dozen dependent cache misses; interleaved, the misses of different searches overlap.
 *
 * Each search makes exactly the comparisons and the decisions of its single counterpart: without
 * predecessors, find_greater_or_equal's (an equal node ends the walk); with, find_less_than's (the walk goes
 * down to level 0). So a batch lands where single seeks land, even on a list whose damaged keys sort
 * inconsistently. Links are read with acquire loads, as every reader's are (skiplist.c). */
#include <memtable/skiplist.h>

#include <assert.h>
#include <stdbool.h>

#include "memtable/skiplist_inline.h"

/* Searches running at once: enough for a typical MultiGet batch (memtable-bench readrandom_batch uses 16) to
 * have every search's miss in flight together, while the searches' state stays in a few cache lines of stack.
 * memtable-bench readrandom_batch against a build with -DSKIPLIST_SEEKS_IN_FLIGHT=N compares the choices. */
#ifndef SKIPLIST_SEEKS_IN_FLIGHT
#define SKIPLIST_SEEKS_IN_FLIGHT 16
#endif

typedef struct seek_search {
  const char *target;
  size_t index;                 /* into the caller's arrays */
  const skiplist_node *node;    /* the last node known to sort before target (head at first) */
  const skiplist_node *candidate; /* node's link on this level, being fetched */
  const skiplist_node *known;   /* compared already on the level above: not less (and not equal) */
  int level;
} seek_search;

static inline void search_fetch(const mt_skiplist *list, seek_search *search) {
  search->candidate = skiplist_load_next_acquire(list, search->node, search->level);
  if (search->candidate != NULL) skiplist_prefetch_step(list, search->candidate, search->level);
}

/* One step; returns false when the search has landed (its results stored). */
static inline bool search_step(const mt_skiplist *list, seek_search *search, mt_skiplist_iter *found,
                               mt_skiplist_iter *predecessors) {
  const skiplist_node *candidate = search->candidate;
  if (candidate != NULL && candidate != search->known) {
    int order = skiplist_compare_keys(list, skiplist_node_key(candidate), search->target);
    if (order < 0) {
      search->node = candidate;
      search_fetch(list, search);
      return true;
    }
    if (order == 0 && predecessors == NULL) { /* find_greater_or_equal stops at an equal node */
      found[search->index].node = candidate;
      return false;
    }
  }
  if (search->level == 0) {
    found[search->index].node = candidate;
    if (predecessors != NULL) {
      predecessors[search->index].node = search->node == list->head ? NULL : search->node;
    }
    return false;
  }
  /* Drops while the next candidate is the one just found not less, or the end of the list again: its
   * comparison is known and it is already fetched, so the single seek would not compare it either; doing
   * those drops in this step saves a round each (about half the drops with branching 2). */
  for (;;) {
    search->known = candidate;
    search->level--;
    search_fetch(list, search);
    if (search->candidate != candidate || search->level == 0) return true;
  }
}

void mt_skiplist_seek_batch(const mt_skiplist *list, const char *const *targets, size_t count,
                            mt_skiplist_iter *found, mt_skiplist_iter *predecessors) {
  if (list == NULL || (count != 0 && (targets == NULL || found == NULL))) return;
  for (size_t i = 0; i < count; i++) {
    found[i].list = list;
    found[i].node = NULL;
    if (predecessors != NULL) {
      predecessors[i].list = list;
      predecessors[i].node = NULL;
    }
  }
  seek_search searches[SKIPLIST_SEEKS_IN_FLIGHT];
  size_t started = 0, running = 0;
  for (;;) {
    while (running < SKIPLIST_SEEKS_IN_FLIGHT && started < count) {
      seek_search *search = &searches[running++];
      search->index = started;
      search->target = targets[started++];
      search->node = list->head;
      search->known = NULL;
      /* Relaxed, as every search reads the height (see the field). Read per search, like a single seek. */
      search->level = skiplist_load_height(list) - 1;
      assert(search->level >= 0 && search->level < list->max_height);
      if (search->target == NULL) { /* as mt_skiplist_iter_seek: a NULL target finds nothing */
        running--;
        continue;
      }
      search_fetch(list, search);
    }
    if (running == 0) return;
    for (size_t i = 0; i < running;) {
      if (search_step(list, &searches[i], found, predecessors)) {
        i++;
      } else {
        searches[i] = searches[--running];
      }
    }
  }
}
