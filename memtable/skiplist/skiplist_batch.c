/* Batched searches: one engine for the memtable's batched adds (mti_skiplist_find_positions: every level's
 * gap) and batched gets (mti_skiplist_seek_batch: the landing and its predecessor). Each search is a small
 * state machine; a step compares the node fetched since the search's previous step, moves right or down, and
 * starts fetching the node it reads next, then the next search takes its step while that line arrives
 * (asynchronous memory access chaining). A walk from the head of a large list is a chain of dependent cache
 * misses; interleaved, the misses of different searches overlap.
 *
 * Each search makes exactly the comparisons and the decisions of its single counterpart in
 * skiplist_internal.h: stopping at an equal node, find_greater_or_equal's; otherwise find_less_than's (down to
 * level 0). So a batch lands where single seeks land, even on a list whose damaged keys sort inconsistently.
 * Links are read with acquire loads, as every reader's are.
 */
#include "memtable/skiplist/skiplist_batch.h"

#include <assert.h>
#include <stdbool.h>

#include "memtable/skiplist/skiplist_inline.h"

/* Searches running at once: enough for a typical batch to have every search's miss in flight together, while
 * the searches' state stays in a few cache lines of stack. */
#define SEARCHES_IN_FLIGHT 16

typedef struct batch_search {
  const char *target;
  size_t index;                    /* into the caller's arrays */
  mti_skiplist_position *position; /* positions[index] when the batch records gaps */
  const skiplist_node *node;       /* the last node known to sort before target (head at first) */
  const skiplist_node *candidate;  /* node's link on this level, being fetched */
  const skiplist_node *known;      /* compared on the level above: not less (and not equal) */
  int level;
} batch_search;

/* The engine is inlined into each of its two callers with the output's shape known, so each gets a search
 * loop of its own without the branches the other needs. */
#if defined(__GNUC__) || defined(__clang__)
#define BATCH_INLINE static inline __attribute__((always_inline))
#else
#define BATCH_INLINE static inline
#endif

/* What the searches of one batch record. */
typedef struct batch_output {
  mti_skiplist_position *positions; /* every level's gap, or NULL */
  mt_skiplist_iter *found;          /* the level-0 landing, or NULL */
  mt_skiplist_iter *predecessors;   /* the level-0 predecessor, or NULL */
  bool stop_at_equal;               /* an equal node ends the walk (find_greater_or_equal) */
  bool merge_drops;                 /* see search_step */
} batch_output;

static inline void search_fetch(const mt_skiplist *list, batch_search *search) {
  search->candidate = skiplist_load_next_acquire(list, search->node, search->level);
  if (search->candidate != NULL) skiplist_prefetch_step(list, search->candidate, search->level);
}

/* One step; returns false when the search has landed (its results stored). */
BATCH_INLINE bool search_step(const mt_skiplist *list, batch_search *search, const batch_output out) {
  const skiplist_node *candidate = search->candidate;
  if (candidate != NULL && candidate != search->known) {
    int order = skiplist_compare_keys(list, skiplist_node_key(candidate), search->target);
    if (order < 0) {
      search->node = candidate;
      search_fetch(list, search);
      return true;
    }
    if (order == 0 && out.stop_at_equal) {
      out.found[search->index].node = candidate;
      return false;
    }
  }
  for (;;) {
    if (out.positions != NULL) {
      search->position->before[search->level] = search->node;
      search->position->after[search->level] = candidate;
    }
    if (search->level == 0) {
      if (out.found != NULL) out.found[search->index].node = candidate;
      if (out.predecessors != NULL) {
        out.predecessors[search->index].node = search->node == list->head ? NULL : search->node;
      }
      return false;
    }
    search->known = candidate;
    search->level--;
    search_fetch(list, search);
    /* A drop whose next candidate is the node just found not less, or the end of the list again, has its
     * comparison known and nothing new to fetch: with merge_drops it drops again in this step instead of
     * waiting a round. The inserts' searches do (memtable-bench fillbatch measures the choice); the seeks'
     * do not (readrandom_batch). */
    if (!out.merge_drops || search->candidate != candidate) return true;
  }
}

BATCH_INLINE void run_searches(const mt_skiplist *list, const char *const *targets, size_t count,
                               const batch_output out) {
  batch_search searches[SEARCHES_IN_FLIGHT];
  size_t started = 0, running = 0;
  for (;;) {
    while (running < SEARCHES_IN_FLIGHT && started < count) {
      batch_search *search = &searches[running++];
      search->index = started;
      search->target = targets[started++];
      search->node = list->head;
      search->known = NULL;
      /* Relaxed, as every search reads the height (see the field). Read per search, like a single seek. */
      search->level = skiplist_load_height(list) - 1;
      assert(search->level >= 0 && search->level < list->max_height);
      if (out.positions != NULL) {
        search->position = &out.positions[search->index];
        search->position->levels = search->level + 1;
      }
      if (search->target == NULL) { /* as mt_skiplist_iter_seek: a NULL target finds nothing */
        running--;
        continue;
      }
      search_fetch(list, search);
    }
    if (running == 0) return;
    for (size_t i = 0; i < running;) {
      if (search_step(list, &searches[i], out)) {
        i++;
      } else {
        searches[i] = searches[--running];
      }
    }
  }
}

void mti_skiplist_find_positions(const mt_skiplist *list, const char *const *targets, size_t count,
                                 mti_skiplist_position *positions) {
  assert(list != NULL && (count == 0 || (targets != NULL && positions != NULL)));
  run_searches(list, targets, count, (batch_output){positions, NULL, NULL, false, true});
}

void mti_skiplist_seek_batch(const mt_skiplist *list, const char *const *targets, size_t count, mt_skiplist_iter *found,
                             mt_skiplist_iter *predecessors) {
  assert(list != NULL && (count == 0 || (targets != NULL && found != NULL)));
  for (size_t i = 0; i < count; i++) {
    found[i].list = list;
    found[i].node = NULL;
    if (predecessors != NULL) {
      predecessors[i].list = list;
      predecessors[i].node = NULL;
    }
  }
  if (predecessors == NULL) {
    run_searches(list, targets, count, (batch_output){NULL, found, NULL, true, false});
  } else {
    run_searches(list, targets, count, (batch_output){NULL, found, predecessors, false, false});
  }
}
