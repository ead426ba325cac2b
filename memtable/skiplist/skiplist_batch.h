/* memtable/skiplist/skiplist_batch.h - private to the library: the skiplist's batched searches, for the
 * memtable's batched adds and gets. Many searches run interleaved so that their cache misses overlap
 * (skiplist_batch.c); an insert can then start from the gaps its search found.
 */
#ifndef MEMTABLE_SKIPLIST_BATCH_H
#define MEMTABLE_SKIPLIST_BATCH_H

#include <stddef.h>

#include <memtable/skiplist.h>

/* Where a key falls in the list: on each level below `levels`, the last node before it and the one after. */
typedef struct mti_skiplist_position {
  const void *before[MT_SKIPLIST_MAX_HEIGHT_LIMIT];
  const void *after[MT_SKIPLIST_MAX_HEIGHT_LIMIT];
  int levels;
} mti_skiplist_position;

/* positions[i] is where targets[i] falls (a target compares like a key: a lookup key the comparator
 * understands, say). Any thread. */
void mti_skiplist_find_positions(const mt_skiplist *list, const char *const *targets, size_t count,
                                 mti_skiplist_position *positions);

/* found[i] lands where mt_skiplist_iter_seek(targets[i]) would and, when predecessors is not NULL,
 * predecessors[i] where mt_skiplist_iter_seek_with_predecessor would: the same comparisons in the same order,
 * so the same answers, whatever the keys. A NULL target leaves its iterators not valid. found (and
 * predecessors) hold count iterators, initialised here. Any thread. */
void mti_skiplist_seek_batch(const mt_skiplist *list, const char *const *targets, size_t count, mt_skiplist_iter *found,
                             mt_skiplist_iter *predecessors);

/* As mt_skiplist_insert_allocated, starting from a position mti_skiplist_find_positions found for a key that
 * compares equal to this one: each level is walked right from it past whatever was linked since, so no search
 * from the head is needed. A position that does not fit the key is detected and a normal search made (NULL: a
 * normal insert). With concurrent_inserts, positions go stale as other writers link, which the walk right
 * absorbs. Writer only, or any thread with concurrent_inserts. */
mt_status mti_skiplist_insert_allocated_at(mt_skiplist *list, char *key, const mti_skiplist_position *position);

#endif
