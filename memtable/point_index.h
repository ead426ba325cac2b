/* memtable/point_index.h - private to the memtable layer: the optional point-lookup index (options.point_index),
 * a hash table from user key to the skiplist node of its newest version, which answers gets without the
 * skiplist search. Threading: publish is called by the writer (or by each concurrent writer) after the node is
 * linked; get by any reader, without locks. The publication protocol is at the top of point_index.c.
 */
#ifndef MEMTABLE_POINT_INDEX_H
#define MEMTABLE_POINT_INDEX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <memtable/arena.h>
#include <memtable/memtable.h>

typedef struct point_index point_index;

/* Slots for expected_keys keys: 1.25 slots a key (the load limit is 0.8), a whole number of cache lines,
 * at least one line and at most 2^32 slots. */
uint64_t point_index_slot_count(size_t expected_keys);

/* Allocates the index (header and slots) from the arena: MT_OK, or the arena's MT_NOMEM / MT_FULL. Writers
 * allocate its larger tables from the same arena as it grows. */
mt_status point_index_create(mt_arena *arena, size_t expected_keys, point_index **out);

/* Points the key's slot at `stored`, the node just linked for (key, seq), unless the slot already holds a
 * newer version. A new key at the load limit grows the index (this writer copies it to a table twice as
 * large); a new key the index cannot take (no memory to grow) is not indexed and marks the index overflowed.
 * hash is user_key_hash (memtable_internal.h) of the key. Writer(s) only, after the skiplist insert returned
 * MT_OK. */
void point_index_publish(point_index *index, const char *stored, uint64_t hash, uint64_t seq, bool concurrent);

/* Answers a get from the index: true with *status MT_OK / MT_DELETED (*found set), MT_NOT_FOUND or
 * MT_CORRUPTION (a damaged slot, or a damaged entry it reads); false when the index cannot tell (the key is
 * not in it and the index overflowed), and the caller must search the skiplist. Any thread. */
bool point_index_get(const point_index *index, const mt_memtable *table, const void *key, size_t key_len,
                     uint64_t hash, uint64_t snapshot_seq, mt_entry *found, mt_status *status);

/* Bytes the index holds (header and the slots of every table it had). Any thread. */
size_t point_index_memory(const point_index *index);
/* The part of point_index_memory that growth allocated after create. Any thread. */
size_t point_index_grown_memory(const point_index *index);
/* Keys the current table holds, and adds the index refused (their keys are answered by the skiplist).
 * Any thread (relaxed: exact once the writers are quiescent). */
void point_index_coverage(const point_index *index, uint64_t *keys, uint64_t *refused_adds);

/* mt_memtable_validate's check of the index: every slot intact and not moved, naming an entry that lies in
 * the table's memory (entry_ok(ctx, stored), the skiplist validation's own check) whose key has the slot's
 * tag; the key counter equal to the slots used; and, walking level 0, each user key's newest version is
 * what the key's probe finds (or, once the index refused keys, nothing). MT_OK or MT_CORRUPTION. Requires
 * the writers to be quiescent and the skiplist to have passed its validation. */
mt_status point_index_validate(const point_index *index, const mt_memtable *table,
                               bool (*entry_ok)(void *ctx, const char *stored), void *ctx);

/* The current table's slots and their count, NULL without an index: for the suites that damage slots
 * (tests/memtable_damage_test.c, tests/memtable_point_index_test.c), which include this header. */
_Atomic uint64_t *point_index_slots_for_testing(const mt_memtable *table, uint64_t *slot_count);

#endif
