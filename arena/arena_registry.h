/* arena/arena_registry.h - private to the arena: the concurrent-mode arenas alive now, found by id. A thread
 * knows the arenas it holds chunks in only by id (arena.c), so this is how its unused chunks can go back to
 * their arenas when it exits, or to no one when an arena is gone.
 *
 * Threading: every function may be called from any thread. The registry's one mutex guards each entry's
 * links and id; it is taken before an arena's own lock, never after (a lookup holds it while the caller works
 * in the arena it found, so that arena cannot be destroyed or reset meanwhile).
 */
#ifndef MEMTABLE_ARENA_REGISTRY_H
#define MEMTABLE_ARENA_REGISTRY_H

#include <stdint.h>

/* Embedded in each concurrent arena; the fields are the registry's (under its mutex). */
typedef struct arena_registry_entry {
  struct arena_registry_entry *prev, *next;
  uint64_t id;
} arena_registry_entry;

/* Enters `entry` under `id` (ids are never reused), before the arena is shared. */
void mti_arena_registry_add(arena_registry_entry *entry, uint64_t id);
/* Takes `entry` out; after it returns, no lookup holds or will find it. */
void mti_arena_registry_remove(arena_registry_entry *entry);
/* Gives `entry` a new id (a reset): a lookup by the old one finds nothing once this returns. */
void mti_arena_registry_renew(arena_registry_entry *entry, uint64_t id);

/* Takes the registry's mutex and returns the entry with this id, or NULL; either way the caller calls
 * mti_arena_registry_unlock when done with it. */
arena_registry_entry *mti_arena_registry_lock_find(uint64_t id);
void mti_arena_registry_unlock(void);

#endif
