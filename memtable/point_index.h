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

#include "memtable/entry_format.h"

typedef struct mti_point_index mti_point_index;

/* Slots for expected_keys keys: 1.25 slots a key (the load limit is 0.8), a whole number of cache lines,
 * at least one line and at most 2^32 slots. */
uint64_t mti_point_index_slot_count(size_t expected_keys);

/* Allocates the index (header and slots) from the arena: MT_OK, or the arena's MT_NOMEM / MT_FULL. Writers
 * allocate its larger tables from the same arena as it grows. */
mt_status mti_point_index_create(mt_arena *arena, size_t expected_keys, mti_point_index **out);

/* Points the key's slot at `stored`, the node just linked for (key, seq), unless the slot already holds a
 * newer version. A new key at the load limit grows the index (this writer copies it to a table twice as
 * large); a new key the index cannot take (no memory to grow) is not indexed and marks the index overflowed.
 * hash is user_key_hash (entry_format.h) of the key. Writer(s) only, after the skiplist insert returned
 * MT_OK. */
void mti_point_index_publish(mti_point_index *index, const char *stored, uint64_t hash, uint64_t seq, bool concurrent);

/* What the index knows of a key. */
typedef enum mti_index_answer {
  MTI_INDEX_FOUND,   /* *node: the key's newest published version (a get steps on from it to its snapshot) */
  MTI_INDEX_ABSENT,  /* no version of the key was added before the lookup began */
  MTI_INDEX_UNKNOWN, /* the index cannot tell (it refused keys): the skiplist answers */
  MTI_INDEX_DAMAGED, /* a slot, or the entry it names, failed its checks: MT_CORRUPTION */
} mti_index_answer;

/* Looks the key up (hash: user_key_hash of it); MTI_INDEX_FOUND sets *node and its decoded (checked) entry.
 * Any thread, without locks. */
mti_index_answer mti_point_index_find(const mti_point_index *index, const mti_view *view, const void *key,
                                      size_t key_len, uint64_t hash, const char **node, mt_entry *entry,
                                      size_t *entry_len);

/* Bytes the index holds (header and the slots of every table it had). Any thread. */
size_t mti_point_index_memory(const mti_point_index *index);
/* The part of mti_point_index_memory that growth allocated after create. Any thread. */
size_t mti_point_index_grown_memory(const mti_point_index *index);
/* Keys the current table holds, and adds the index refused (their keys are answered by the skiplist).
 * Any thread (relaxed: exact once the writers are quiescent). */
void mti_point_index_coverage(const mti_point_index *index, uint64_t *keys, uint64_t *refused_adds);

/* mt_memtable_validate's check of the index: every slot intact and not moved, naming an entry that lies in
 * the arena (entry_ok(ctx, stored), the skiplist validation's own check) whose key has the slot's tag; the key
 * counter equal to the slots used; and, walking level 0, each user key's newest version is what the key's
 * probe finds (or, once the index refused keys, nothing). MT_OK or MT_CORRUPTION. Requires the writers to be
 * quiescent and the skiplist to have passed its validation. */
mt_status mti_point_index_validate(const mti_point_index *index, const mti_view *view, const mt_arena *arena,
                                   bool (*entry_ok)(void *ctx, const char *stored), void *ctx);

/* The current table's slots and their count: for the suites that damage slots, through
 * mti_point_index_slots_for_testing (memtable.c). */
_Atomic uint64_t *mti_point_index_slots(const mti_point_index *index, uint64_t *slot_count);

#endif
