/* memtable/point_index.h - private to the memtable layer: the optional point-lookup index (options.point_index),
 * a hash table from user key to the skiplist node of its newest version, which answers gets without the
 * skiplist search. Threading: publish is called by the writer (or by each concurrent writer) after the node is
 * linked; get by any reader, without locks. The publication protocol is at the top of point_index.c.
 */
#ifndef MEMTABLE_POINT_INDEX_H
#define MEMTABLE_POINT_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <memtable/arena.h>
#include <memtable/memtable.h>

typedef struct point_index point_index;

/* Slots for expected_keys keys: 1.25 slots a key (the load limit is 0.8), a whole number of cache lines,
 * at least one line and at most 2^32 slots. */
uint64_t point_index_slot_count(size_t expected_keys);

/* Allocates the index (header and slots) from the arena: MT_OK, or the arena's MT_NOMEM / MT_FULL. */
mt_status point_index_create(mt_arena *arena, size_t expected_keys, point_index **out);

/* Points the key's slot at `stored`, the node just linked for (key, seq), unless the slot already holds a
 * newer version; a new key past the load limit is not indexed and marks the index overflowed. hash is
 * user_key_hash (memtable_internal.h) of the key. Writer(s) only, after the skiplist insert returned MT_OK. */
void point_index_publish(point_index *index, const char *stored, uint64_t hash, uint64_t seq, bool concurrent);

/* Answers a get from the index: true with *status MT_OK / MT_DELETED (*found set), MT_NOT_FOUND or
 * MT_CORRUPTION; false when the index cannot tell (the key is not in it and the index overflowed), and the
 * caller must search the skiplist. Any thread. */
bool point_index_get(const point_index *index, const mt_memtable *table, const void *key, size_t key_len,
                     uint64_t hash, uint64_t snapshot_seq, mt_entry *found, mt_status *status);

/* Bytes the index holds (header and slots). Any thread. */
size_t point_index_memory(const point_index *index);

#endif
