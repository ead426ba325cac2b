/* The readahead walker: see memtable/skiplist_readahead.h.
 *
 * Memory order: every link followed is read with skiplist_load_next_acquire (pairing with the writer's
 * release that published the node); a segment boundary read on level L is therefore also reachable on
 * level 0 from the boundary before it, since the writer (or writers) linked it there first.
 */
#include "memtable/skiplist/skiplist_readahead.h"
#include "memtable/skiplist/skiplist_internal.h"

#include <assert.h>

/* Consecutive plain steps in one direction before the walker arms itself: a point seek followed by a step
 * or two does not pay for launching the segments. */
#define READAHEAD_STEPS_BEFORE_ARM 3

/* Segments launched when the walker arms; the ring grows to its full size as the caller passes them. */
#define READAHEAD_FIRST_SEGMENTS 2u

/* Segments are cut at the lowest level whose expected gap reaches this fraction of a segment's buffer, so
 * that few segments outgrow it (gaps are geometric: with 512 slots and gaps of 64 about 1 in 3000 does). */
#define READAHEAD_GAP_FRACTION 8

/* Start fetching a node whose address was just learnt: its level-0 link (read by the next step of its
 * segment) and its first key bytes (read by the caller when the node is emitted). */
static inline void prefetch_node(const mt_skiplist *list, const skiplist_node *node) {
  if (node == NULL) return;
  SKIPLIST_PREFETCH(skiplist_node_links(list, node));
  SKIPLIST_PREFETCH(skiplist_node_key(node));
}

/* Emitted nodes remembered, so that a caller that moves back onto one of its last few positions (the user
 * view returns to a key's newest visible version after stepping over older ones) can go on walking. */
#define SKIPLIST_READAHEAD_HISTORY 8

typedef struct readahead_segment {
  const skiplist_node *next;   /* the next node the walk buffers; equal to end once the walk is done */
  const skiplist_node *via;    /* groups: the group's last node, whose link 0 the next step reads; or NULL */
  const skiplist_node *end;    /* first node after the segment (NULL: the list's end) */
  const skiplist_node **nodes; /* segment_nodes slots */
  size_t count;                /* nodes buffered */
  size_t read;                 /* nodes emitted */
  bool walked;                 /* the walk met end */
  bool broken;                 /* the walk met the list's end before end */
  bool last;                   /* no segment follows in the scan's direction */
} readahead_segment;

struct skiplist_readahead {
  const mt_skiplist *list;
  mt_skiplist_compare_fn compare; /* for searches by a node's key: see mti_readahead_init */
  void *compare_ctx;
  unsigned segments;    /* 1..SKIPLIST_READAHEAD_MAX_SEGMENTS */
  size_t segment_nodes; /* buffer slots per segment */
  int level;            /* L: segments start at nodes linked on this level */
  bool armed;
  bool forward;
  bool groups;               /* walking groups (forward only) */
  bool broken_seen;          /* a broken segment was met since the last reset: stay plain */
  unsigned plain_steps;      /* consecutive plain steps in plain_forward's direction (and plain_groups' mode) */
  unsigned steps_before_arm; /* plain steps that arm it: a few, or more while held (mti_readahead_hold) */
  bool plain_forward;
  bool plain_groups;
  /* Backward: the head segment outgrew its buffer, so the caller walks plainly until it reaches this node
   * (the segment's first), after which the next segment (walked meanwhile) is emitted. */
  const skiplist_node *plain_until;
  /* The launch frontier: forward, the end of the last launched segment; backward, its first node. */
  const skiplist_node *frontier;
  bool frontier_done; /* the last launched segment is the scan's last */
  unsigned head;      /* ring of live segments: head .. head + live - 1 (mod segments) */
  unsigned live;
  unsigned live_limit; /* segments kept launched: a few after arming, up to `segments` as the scan goes on */
  /* The emitted sequence's last SKIPLIST_READAHEAD_HISTORY nodes: emitted counts them all, position is
   * the index (in that sequence) of the node to return next. */
  const skiplist_node *history[SKIPLIST_READAHEAD_HISTORY];
  size_t emitted;
  size_t position;
  readahead_segment segment[SKIPLIST_READAHEAD_MAX_SEGMENTS];
};

size_t mti_readahead_bytes(unsigned segments, size_t segment_nodes) {
  /* The buffer follows the walker in the one allocation; the walker's size keeps it pointer-aligned. */
  return sizeof(skiplist_readahead) + (size_t)segments * segment_nodes * sizeof(const skiplist_node *);
}

bool mti_readahead_streaming(const skiplist_readahead *walker, bool forward) {
  return walker->armed && !walker->broken_seen && walker->forward == forward && !walker->groups;
}

skiplist_readahead *mti_readahead_init(void *memory, const mt_skiplist *list, unsigned segments, size_t segment_nodes,
                                       mt_skiplist_compare_fn search_compare, void *search_ctx) {
  skiplist_readahead *walker = memory;
  void *buffer = walker + 1;
  assert(segments >= 1 && segments <= SKIPLIST_READAHEAD_MAX_SEGMENTS);
  assert(segment_nodes >= 1 && segment_nodes <= SKIPLIST_READAHEAD_MAX_SEGMENT_NODES);
  walker->list = list;
  walker->compare = search_compare != NULL ? search_compare : list->compare;
  walker->compare_ctx = search_compare != NULL ? search_ctx : list->compare_ctx;
  walker->segments = segments;
  walker->segment_nodes = segment_nodes;
  const skiplist_node **slots = buffer;
  for (unsigned s = 0; s < segments; s++) walker->segment[s].nodes = slots + (size_t)s * segment_nodes;
  walker->broken_seen = false;
  mti_readahead_reset(walker);
  return walker;
}

void mti_readahead_reset(skiplist_readahead *walker) {
  walker->armed = false;
  walker->groups = false;
  walker->broken_seen = false;
  walker->plain_steps = 0;
  walker->steps_before_arm = READAHEAD_STEPS_BEFORE_ARM;
  walker->plain_forward = true;
  walker->plain_groups = false;
}

void mti_readahead_hold(skiplist_readahead *walker, unsigned steps) {
  mti_readahead_reset(walker);
  if (steps > walker->steps_before_arm) walker->steps_before_arm = steps;
}

/* The lowest level whose expected gap reaches the buffer's fraction, below the list's current height; 0
 * when the list has a single level (nothing to cut at). Walking groups, a segment buffers one node per group,
 * so the gap is counted in groups: nodes per group (estimated from the list's counts) times as many nodes,
 * halved. A segment of only a few groups is too short (a segment ends every few rounds and the ring runs
 * nearly empty); tens of groups keep it full, and longer segments gain nothing more (memtable-bench
 * readseq_versions compares them). */
static int choose_level(const skiplist_readahead *walker, bool groups) {
  const mt_skiplist *list = walker->list;
  /* Relaxed: the height publishes nothing (see the field); a stale one only picks a lower level. */
  int height = skiplist_load_height(list);
  double level_probability = (double)list->grow_threshold / 18446744073709551616.0;
  double target_gap = (double)walker->segment_nodes / READAHEAD_GAP_FRACTION;
  if (groups) {
    size_t linked;
    size_t grouped;
    skiplist_load_counts(list, &linked, &grouped);
    /* Fewer groups than one segment's worth: a walk of them is a few passes, which the walker would only
     * cost a search and its launches (a pass of a few keys with long version chains). */
    if ((double)(linked - grouped) < target_gap) return 0;
    double nodes_per_group = linked > grouped ? (double)linked / (double)(linked - grouped) : 1.0;
    if (nodes_per_group > 2.0) target_gap *= nodes_per_group / 2.0;
  }
  int level = 0;
  double gap = 1.0;
  while (level + 1 < height && level_probability > 0.0 && (level == 0 || gap < target_gap)) {
    gap /= level_probability;
    level++;
  }
  return level;
}

/* The last node linked on `level` whose key sorts before key (a node's own key), or head: the list's search by
 * the walker's comparator. */
static const skiplist_node *find_less_than_on_level(const skiplist_readahead *walker, const char *key, int level) {
  skiplist_node *after;
  return find_less_than_by(walker->list, walker->compare, walker->compare_ctx, key, level, &after);
}

static void segment_start(readahead_segment *segment, const skiplist_node *first, const skiplist_node *end, bool last) {
  /* Everything but the buffer, which the segment keeps. */
  *segment = (readahead_segment){first, NULL, end, segment->nodes, 0, 0, false, false, last};
}

/* Launches the segment after the frontier into the ring's tail (which must be free). */
static void launch_segment(skiplist_readahead *walker) {
  assert(walker->live < walker->segments && !walker->frontier_done);
  const mt_skiplist *list = walker->list;
  readahead_segment *segment = &walker->segment[(walker->head + walker->live) % walker->segments];
  walker->live++;
  if (walker->forward) {
    /* The frontier is a boundary: linked on the segment level, so its link there exists. */
    const skiplist_node *first = walker->frontier;
    const skiplist_node *end = skiplist_load_next_acquire(list, first, walker->level);
    prefetch_node(list, end);
    segment_start(segment, first, end, end == NULL);
    walker->frontier = end;
    walker->frontier_done = end == NULL;
    return;
  }
  const skiplist_node *upper = walker->frontier;
  const skiplist_node *before = find_less_than_on_level(walker, skiplist_node_key(upper), walker->level);
  bool at_head = before == list->head;
  const skiplist_node *first = at_head ? skiplist_load_next_acquire(list, list->head, 0) : before;
  prefetch_node(list, first);
  segment_start(segment, first, upper, at_head);
  /* A search that lands on the upper bound itself (only a damaged comparison can) cannot make progress. */
  if (!at_head && first == upper) {
    segment->walked = true;
    segment->broken = true;
  }
  walker->frontier = first;
  walker->frontier_done = at_head;
}

/* Walking groups, the step after a node with a group link: leave the group from its last node (fetched since
 * the last round), unless that passes the segment's end (then the segments after go on from there). */
static inline void segment_leave_group(const skiplist_readahead *walker, readahead_segment *segment) {
  const skiplist_node *last = segment->via;
  segment->via = NULL;
  if (segment->end != NULL &&
      walker->compare(walker->compare_ctx, skiplist_node_key(segment->end), skiplist_node_key(last)) <= 0) {
    segment->walked = true;
    return;
  }
  const skiplist_node *next = skiplist_load_next_acquire(walker->list, last, 0);
  prefetch_node(walker->list, next);
  segment->next = next;
}

/* One step of a segment's walk: buffer its next node and start fetching the one after (walking groups, when
 * the node has a group link: start fetching that link's node, whose link 0 the next round reads). */
static inline void segment_advance(const skiplist_readahead *walker, readahead_segment *segment) {
  const mt_skiplist *list = walker->list;
  if (segment->via != NULL) {
    segment_leave_group(walker, segment);
    return;
  }
  if (segment->walked || segment->count == walker->segment_nodes) return;
  const skiplist_node *node = segment->next;
  if (node == segment->end) {
    segment->walked = true;
    return;
  }
  if (node == NULL) {
    segment->walked = true;
    segment->broken = true;
    return;
  }
  segment->nodes[segment->count++] = node;
  if (walker->groups) {
    const skiplist_node *last;
    if (!skiplist_node_group_link(list, node, &last)) {
      /* A damaged link: the caller's own pass from this node meets it and reports it. */
      segment->walked = true;
      segment->broken = true;
      return;
    }
    if (last != NULL) {
      prefetch_node(list, last);
      segment->via = last;
      return;
    }
  }
  const skiplist_node *next = skiplist_load_next_acquire(list, node, 0);
  prefetch_node(list, next);
  segment->next = next;
}

/* One step of every live segment, so that their misses overlap. */
static void advance_all(skiplist_readahead *walker) {
  for (unsigned i = 0; i < walker->live; i++) {
    segment_advance(walker, &walker->segment[(walker->head + i) % walker->segments]);
  }
}

static void pop_head(skiplist_readahead *walker) {
  assert(walker->live > 0);
  walker->head = (walker->head + 1) % walker->segments;
  walker->live--;
  if (walker->live_limit < walker->segments) {
    walker->live_limit = walker->live_limit * 2 < walker->segments ? walker->live_limit * 2 : walker->segments;
  }
  while (walker->live < walker->live_limit && !walker->frontier_done) launch_segment(walker);
}

typedef enum pull_result { PULL_NODE, PULL_END, PULL_PLAIN, PULL_BROKEN } pull_result;

static pull_result pull_forward(skiplist_readahead *walker, const skiplist_node **out) {
  for (;;) {
    if (walker->live == 0) return PULL_END;
    readahead_segment *segment = &walker->segment[walker->head];
    if (segment->read < segment->count) {
      *out = segment->nodes[segment->read++];
      return PULL_NODE;
    }
    if (segment->walked) {
      if (segment->broken) return PULL_BROKEN;
      if (segment->last) return PULL_END;
      pop_head(walker);
      continue;
    }
    /* Everything buffered was emitted: the head's buffer starts over (a long segment never stalls it). */
    segment->count = 0;
    segment->read = 0;
    advance_all(walker);
  }
}

static pull_result pull_backward(skiplist_readahead *walker, const skiplist_node **out) {
  for (;;) {
    if (walker->live == 0) return PULL_END;
    readahead_segment *segment = &walker->segment[walker->head];
    if (segment->walked) {
      if (segment->broken) return PULL_BROKEN;
      if (segment->read < segment->count) {
        *out = segment->nodes[segment->count - 1 - segment->read++];
        return PULL_NODE;
      }
      if (segment->last) return PULL_END;
      pop_head(walker);
      continue;
    }
    if (segment->count == walker->segment_nodes) {
      /* Its last nodes are not buffered: the caller steps back by itself through this segment. */
      walker->plain_until = segment->nodes[0];
      return PULL_PLAIN;
    }
    advance_all(walker);
  }
}

static void history_restart(skiplist_readahead *walker, const skiplist_node *current) {
  walker->history[0] = current;
  walker->emitted = 1;
  walker->position = 1;
}

void mti_readahead_arm(skiplist_readahead *walker, const char *current, bool forward, bool groups) {
  walker->armed = false;
  walker->plain_steps = 0;
  walker->plain_forward = forward;
  walker->plain_groups = groups;
  if (current == NULL || walker->broken_seen) return;
  assert(!groups || (forward && walker->list->same_group != NULL));
  int level = choose_level(walker, groups);
  if (level == 0) return;
  const mt_skiplist *list = walker->list;
  const skiplist_node *node = (const skiplist_node *)(uintptr_t)current;
  walker->level = level;
  walker->forward = forward;
  walker->groups = groups;
  walker->plain_until = NULL;
  walker->head = 0;
  walker->live = 0;
  walker->frontier_done = false;
  history_restart(walker, node);
  if (forward) {
    /* The first segment runs from the node after current (walking groups: from current, whose group it
     * leaves first) to the first boundary after current. */
    const skiplist_node *before = find_less_than_on_level(walker, current, level);
    const skiplist_node *end = skiplist_load_next_acquire(list, before, level);
    if (end == node) end = skiplist_load_next_acquire(list, node, level);
    const skiplist_node *first = groups ? node : skiplist_load_next_acquire(list, node, 0);
    prefetch_node(list, first);
    prefetch_node(list, end);
    segment_start(&walker->segment[0], first, end, end == NULL);
    walker->live = 1;
    walker->frontier = end;
    walker->frontier_done = end == NULL;
  } else {
    walker->frontier = node;
  }
  /* A few segments first, doubling with each one the caller passes: a caller that searches away after a few
   * steps (the user view passing a key's versions) leaves little walked for nothing. */
  walker->live_limit = walker->segments < READAHEAD_FIRST_SEGMENTS ? walker->segments : READAHEAD_FIRST_SEGMENTS;
  while (walker->live < walker->live_limit && !walker->frontier_done) launch_segment(walker);
  walker->armed = true;
}

/* Finds current among the last emitted nodes and makes the one after it the next to return. */
static bool history_locate(skiplist_readahead *walker, const skiplist_node *current) {
  size_t oldest = walker->emitted > SKIPLIST_READAHEAD_HISTORY ? walker->emitted - SKIPLIST_READAHEAD_HISTORY : 0;
  for (size_t index = walker->position; index > oldest; index--) {
    if (walker->history[(index - 1) % SKIPLIST_READAHEAD_HISTORY] == current) {
      walker->position = index;
      return true;
    }
  }
  return false;
}

/* A step the caller takes itself; true when that made steps_before_arm in a row in one direction
 * and the walker armed at current (so this step is the walker's after all). */
static bool plain_step_arms(skiplist_readahead *walker, const char *current, bool forward, bool groups) {
  walker->armed = false;
  if (walker->plain_forward != forward || walker->plain_groups != groups) walker->plain_steps = 0;
  walker->plain_forward = forward;
  walker->plain_groups = groups;
  if (++walker->plain_steps < walker->steps_before_arm) return false;
  mti_readahead_arm(walker, current, forward, groups);
  return walker->armed;
}

/* True when `candidate` (NULL: the list's end) is, at this moment, the level-0 neighbour of `node` in the
 * direction: what a plain step would return. Both links were read when the nodes were buffered, so the
 * lines are normally still cached. A node linked in between since then makes it false. */
static bool still_adjacent(const skiplist_readahead *walker, const skiplist_node *node, const skiplist_node *candidate,
                           bool forward) {
  const mt_skiplist *list = walker->list;
  if (forward) return skiplist_load_next_acquire(list, node, 0) == candidate;
  const skiplist_node *before = candidate != NULL ? candidate : list->head;
  return skiplist_load_next_acquire(list, before, 0) == node;
}

/* Stops streaming: the caller steps itself, and the walker re-arms after a few such steps. */
static bool disarm(skiplist_readahead *walker) {
  walker->armed = false;
  walker->plain_steps = 0;
  return false;
}

/* The walker's answer for the step from node, or false (and disarmed) when a node was linked beside it
 * since it was buffered: the caller's plain step then returns that node, exactly as without readahead. */
static bool emit(skiplist_readahead *walker, const skiplist_node *node, const skiplist_node *candidate, bool forward,
                 const char **next) {
  if (!still_adjacent(walker, node, candidate, forward)) return disarm(walker);
  *next = candidate != NULL ? skiplist_node_key(candidate) : NULL;
  return true;
}

/* Armed in this mode at current, arming it if the caller's steps in this mode make that due: false when the
 * caller steps itself. */
static bool ready_at(skiplist_readahead *walker, const skiplist_node *node, bool forward, bool groups) {
  const char *current = skiplist_node_key(node);
  if ((!walker->armed || walker->forward != forward || walker->groups != groups) &&
      !plain_step_arms(walker, current, forward, groups)) {
    return false;
  }
  if (walker->plain_until != NULL) {
    if (node != walker->plain_until) return false;
    walker->plain_until = NULL;
    pop_head(walker);
    history_restart(walker, node);
  }
  if (!history_locate(walker, node)) {
    /* The caller moved elsewhere (a seek it made without a reset, or a copy of its cursor): walk plainly. */
    walker->armed = false;
    walker->plain_steps = 0;
    if (!plain_step_arms(walker, current, forward, groups)) return false;
  }
  return true;
}

/* The next node of the emitted sequence after the history position (NULL at the end: PULL_END): again from
 * the history, or pulled. A broken segment stops the walker for good (until a reset). */
static pull_result next_candidate(skiplist_readahead *walker, bool forward, const skiplist_node **candidate) {
  *candidate = NULL;
  if (walker->position < walker->emitted) {
    *candidate = walker->history[walker->position++ % SKIPLIST_READAHEAD_HISTORY];
    return PULL_NODE;
  }
  pull_result result = forward ? pull_forward(walker, candidate) : pull_backward(walker, candidate);
  if (result == PULL_NODE) {
    walker->history[walker->emitted++ % SKIPLIST_READAHEAD_HISTORY] = *candidate;
    walker->position = walker->emitted;
  } else if (result == PULL_BROKEN) {
    walker->armed = false;
    walker->broken_seen = true;
  }
  return result;
}

bool mti_readahead_step(skiplist_readahead *walker, const char *current, bool forward, const char **next) {
  const skiplist_node *node = (const skiplist_node *)(uintptr_t)current;
  if (!ready_at(walker, node, forward, false)) return false;
  const skiplist_node *candidate;
  pull_result result = next_candidate(walker, forward, &candidate);
  if (result != PULL_NODE && result != PULL_END) return false;
  return emit(walker, node, candidate, forward, next);
}

bool mti_readahead_step_past_group(skiplist_readahead *walker, const char *current, const char **next) {
  const mt_skiplist *list = walker->list;
  const skiplist_node *node = (const skiplist_node *)(uintptr_t)current;
  if (!ready_at(walker, node, true, true)) return false;
  /* `last` is in node's group (the writer's link), and so is every node between them. A link that fails its
   * check is the caller's to report. */
  const skiplist_node *last;
  if (!skiplist_node_group_link(list, node, &last)) return disarm(walker);
  if (last == NULL) last = node;
  for (;;) {
    const skiplist_node *candidate;
    pull_result result = next_candidate(walker, true, &candidate);
    if (result != PULL_NODE && result != PULL_END) return false;
    /* Sorting at or before last (node itself, the starts of segments cut inside the group): in the group. */
    if (candidate != NULL &&
        walker->compare(walker->compare_ctx, skiplist_node_key(candidate), skiplist_node_key(last)) <= 0) {
      continue;
    }
    /* The answer only if it follows last now: exactly where the caller's own pass (last, then one step) lands.
     * That may still be a node of the group (one linked after last, when the group's nodes were not linked
     * newest last); the caller, which reads and checks it, then passes again from there. */
    if (skiplist_load_next_acquire(list, last, 0) != candidate) return disarm(walker);
    *next = candidate != NULL ? skiplist_node_key(candidate) : NULL;
    return true;
  }
}
