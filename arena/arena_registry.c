/* The live concurrent arenas: see arena/arena_registry.h.
 *
 * A doubly linked list under one mutex: arenas are created and destroyed at the pace of tables, and a lookup
 * happens when a thread that took chunks exits (or evicts an arena from its shards), so neither the lock nor
 * the linear walk is on any allocation path.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* pthread_* under -std=c11 */
#endif
#include "arena/arena_registry.h"

#include <assert.h>
#include <pthread.h>
#include <stddef.h>

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static arena_registry_entry *registry_head; /* under registry_lock */

static void lock_registry(void) {
  int error = pthread_mutex_lock(&registry_lock);
  assert(error == 0); /* a default mutex fails only when misused */
  (void)error;
}

void mti_arena_registry_unlock(void) {
  int error = pthread_mutex_unlock(&registry_lock);
  assert(error == 0);
  (void)error;
}

void mti_arena_registry_add(arena_registry_entry *entry, uint64_t id) {
  lock_registry();
  entry->id = id;
  entry->prev = NULL;
  entry->next = registry_head;
  if (registry_head != NULL) registry_head->prev = entry;
  registry_head = entry;
  mti_arena_registry_unlock();
}

void mti_arena_registry_remove(arena_registry_entry *entry) {
  lock_registry();
  if (entry->prev != NULL) entry->prev->next = entry->next;
  else registry_head = entry->next;
  if (entry->next != NULL) entry->next->prev = entry->prev;
  entry->prev = entry->next = NULL;
  mti_arena_registry_unlock();
}

void mti_arena_registry_renew(arena_registry_entry *entry, uint64_t id) {
  lock_registry();
  entry->id = id;
  mti_arena_registry_unlock();
}

arena_registry_entry *mti_arena_registry_lock_find(uint64_t id) {
  lock_registry();
  for (arena_registry_entry *entry = registry_head; entry != NULL; entry = entry->next) {
    if (entry->id == id) return entry;
  }
  return NULL;
}
