/* memtable/skiplist/skiplist_readahead.h - private to the library: a scan over the skiplist that keeps several cache
 * misses in flight. Used by the memtable's cursors (memtable/cursor_scan.c); not part of the public API.
 *
 * A table's nodes lie in arena memory in insertion order, so a level-0 walk of a table filled in random key
 * order waits on one miss per node: the next address is only known once the current node is loaded. The
 * walker cuts the key range into segments at nodes of a higher level L (each also linked on level 0, since
 * links are made bottom up) and walks `segments` of them at once, one step of each in turn with a prefetch
 * of its next node, buffering node pointers per segment; the head segment is emitted (backward: from its
 * buffer's end) while the others run ahead, and when it is done the next one is launched.
 *
 * A segment's walk stops at its end boundary by pointer identity: nodes are never removed, so a walk from
 * a boundary reaches the next one. A walk that reaches the list's end first (possible only when keys were
 * damaged after their neighbours were linked), or, walking groups, a group link that fails its check, marks
 * the segment broken; the caller then walks plainly (and meets the damage itself).
 * A node linked after its segment was walked is not in the buffer, so every step checks, before it answers,
 * that the buffered node is still the level-0 neighbour of the caller's node (one link, read when it was
 * buffered and normally still cached); when it is not, the walker disarms and the caller steps plainly.
 * Each answer is therefore exactly what a plain step would return at that moment, beside writers too.
 *
 * Groups (lists with group links, see skiplist.h's same_group): a forward walker may walk groups instead,
 * for a caller that passes whole groups (the memtable's user view passing a user key's hidden versions): each
 * segment buffers the first node of each group it meets and jumps to the group's last node (one step to learn
 * it, one to leave it, each prefetched a round ahead). A jump that passes the segment's end ends the segment
 * (the segments after it start inside that group; their nodes that sort inside the group are passed over).
 * An answer is given only when, at that moment, the candidate is the level-0 successor of the caller's group
 * link: exactly where the caller's own pass (its group link, then one step) would land, which may still be in
 * the group when nodes of it were linked after that link (the caller then passes again). Anything else (a node
 * linked there since it was walked, a segment that started inside a group whose nodes know another last)
 * disarms the walker and the caller steps itself.
 *
 * Threading: one walker per reader thread; any number run beside the writers (see skiplist.h).
 */
#ifndef MEMTABLE_SKIPLIST_READAHEAD_H
#define MEMTABLE_SKIPLIST_READAHEAD_H

#include <stdbool.h>
#include <stddef.h>

#include "memtable/skiplist/skiplist_inline.h"

#define SKIPLIST_READAHEAD_MAX_SEGMENTS 64
#define SKIPLIST_READAHEAD_MAX_SEGMENT_NODES 65536
/* Opaque to the layer above: it allocates mti_readahead_bytes and calls the functions below. */
typedef struct skiplist_readahead skiplist_readahead;

/* Bytes a walker of this shape takes, its buffer included (for mti_readahead_init). */
size_t mti_readahead_bytes(unsigned segments, size_t segment_nodes);

/* Sets up a walker over list with `segments` segments of at most segment_nodes nodes each (both >= 1 and
 * within the limits above) in `memory` (mti_readahead_bytes of them, aligned as malloc's; the caller keeps it
 * alive and frees it) and returns it. Starts disarmed. The walker searches by its nodes' own keys, where the list's
 * comparator expects a trusted search key: search_compare (with search_ctx), when not NULL, compares two
 * stored keys instead and must order them as the list's comparator does. */
skiplist_readahead *mti_readahead_init(void *memory, const mt_skiplist *list, unsigned segments, size_t segment_nodes,
                                       mt_skiplist_compare_fn search_compare, void *search_ctx);

/* Forgets the walk (after a seek): the next steps are plain until the caller has made a few in a row. */
void mti_readahead_reset(skiplist_readahead *walker);

/* As reset, and the walker then arms only after `steps` plain steps in a row (at least the usual few) until the
 * next reset: for a caller that just searched past a run it would otherwise have walked (the user view passing
 * a key's hidden versions), so that a walker armed for the few steps before the next such search does not run
 * ahead over nodes the caller will pass by searching again. */
void mti_readahead_hold(skiplist_readahead *walker, unsigned steps);

/* Starts walking from `current` (a node of the list) in the given direction at once; with groups (forward
 * only, a list with group links) walking groups. */
void mti_readahead_arm(skiplist_readahead *walker, const char *current, bool forward, bool groups);

/* True while the walker streams in `forward`'s direction, node by node: steps that way cost a fraction of a
 * cache miss each, and any seek would disarm it. */
bool mti_readahead_streaming(const skiplist_readahead *walker, bool forward);

/* The step from `current` (the caller's node): true and *next = the node after it in the direction (NULL at
 * the list's end), or false when the caller should take the step itself (not armed yet, armed elsewhere,
 * or a segment that could not be used). Counts plain steps and arms itself after a few in one direction. */
bool mti_readahead_step(skiplist_readahead *walker, const char *current, bool forward, const char **next);

/* The pass over current's group as far as current's group link knows it (a list with group links): true and
 * *next = the level-0 successor of that link (of current when it has none; NULL at the list's end), or false
 * when the caller should make that pass itself (its group link, then one step). Arms itself in group mode
 * after a few such passes in a row. */
bool mti_readahead_step_past_group(skiplist_readahead *walker, const char *current, const char **next);

#endif
