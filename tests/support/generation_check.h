/* tests/support/generation_check.h - LevelDB's and RocksDB's ConcurrentTest check, once for the skiplist's
 * single-writer and concurrent-insert suites: keys pack <k, generation, hash(k, generation)>; a writer of k
 * inserts generation g + 1 of k, then publishes it with a release store; a reader snapshots every k's
 * generation (acquire) before a pass, and must then find every key up to those generations, never go backwards
 * and never read a key whose hash byte does not match. The write steps are the suites' own (they insert
 * differently); the key packing, the read pass and the reader thread are here. Header-only; include
 * support/test_util.h first. */
#ifndef MEMTABLE_SUPPORT_GENERATION_CHECK_H
#define MEMTABLE_SUPPORT_GENERATION_CHECK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <memtable/arena.h>
#include <memtable/skiplist.h>

#include "support/rng.h"
#include "support/thread_team.h"
#include "support/u64_list.h"

enum { GENERATION_MAX_KEYS = 8 }; /* RocksDB's K; LevelDB's is 4 */

static inline uint64_t packed_k(uint64_t key) { return key >> 40; }
static inline uint64_t packed_generation(uint64_t key) { return (key >> 8) & 0xffffffffu; }
static inline uint64_t packed_hash(uint64_t key) { return key & 0xff; }

static inline uint64_t packed_hash_of(uint64_t k, uint64_t generation) {
  return mt_mix64(k * UINT64_C(0x9e3779b97f4a7c15) ^ generation);
}

static inline uint64_t make_packed_key(uint64_t k, uint64_t generation) {
  return (k << 40) | (generation << 8) | (packed_hash_of(k, generation) & 0xff);
}

static inline bool packed_key_is_valid(uint64_t key) {
  return packed_hash(key) == (packed_hash_of(packed_k(key), packed_generation(key)) & 0xff);
}

/* The list under test and the generation of each of its `keys` k's. */
typedef struct generation_check {
  unsigned keys; /* K, at most GENERATION_MAX_KEYS */
  /* Written by k's writer (release) after its insert, read by readers (acquire): a reader that sees
   * generation g of k also sees the insert of every key of k up to g. */
  _Atomic uint32_t generation[GENERATION_MAX_KEYS];
  mt_arena *arena;
  mt_skiplist *list;
} generation_check;

/* Every generation 0, list and arena unset: the suite creates them. */
static inline void generation_check_init(generation_check *check, unsigned keys) {
  check->keys = keys;
  for (unsigned k = 0; k < GENERATION_MAX_KEYS; k++) atomic_init(&check->generation[k], 0);
  check->arena = NULL;
  check->list = NULL;
}

static inline uint64_t generation_random_target(const generation_check *check, leveldb_random *rnd) {
  switch (leveldb_random_next(rnd) % 10) {
    case 0: return make_packed_key(0, 0);
    case 1: return make_packed_key(check->keys, 0); /* past the end */
    default: return make_packed_key(leveldb_random_next(rnd) % check->keys, 0);
  }
}

/* LevelDB's (and RocksDB's) ReadStep: one reader pass. Runs on any thread, so it reports (false, the reason
 * in failure) instead of asserting. */
static inline bool generation_read_step(generation_check *check, leveldb_random *rnd, char *failure,
                                        size_t failure_size) {
  uint32_t initial[GENERATION_MAX_KEYS];
  for (unsigned k = 0; k < check->keys; k++) {
    /* Acquire: pairs with the writers' release, so every key up to this generation must be visible. */
    initial[k] = atomic_load_explicit(&check->generation[k], memory_order_acquire);
  }
  uint64_t pos = generation_random_target(check, rnd);
  mt_skiplist_iter iter;
  mt_skiplist_iter_init(&iter, check->list);
  seek_u64(&iter, pos);
  for (;;) {
    uint64_t current;
    if (!mt_skiplist_iter_valid(&iter)) {
      current = make_packed_key(check->keys, 0);
    } else {
      current = iter_u64(&iter);
      if (!packed_key_is_valid(current)) {
        snprintf(failure, failure_size, "invalid key %#llx", (unsigned long long)current);
        return false;
      }
    }
    if (pos > current) {
      snprintf(failure, failure_size, "went backwards: pos %#llx, current %#llx", (unsigned long long)pos,
               (unsigned long long)current);
      return false;
    }
    /* Nothing in [pos, current) may have been present when the pass began (generation 0 never is). */
    while (pos < current) {
      if (packed_k(pos) >= check->keys) {
        snprintf(failure, failure_size, "position %#llx beyond the key space", (unsigned long long)pos);
        return false;
      }
      if (packed_generation(pos) != 0 && packed_generation(pos) <= initial[packed_k(pos)]) {
        snprintf(failure, failure_size, "skipped k=%llu gen=%llu present at start (initial gen %u)",
                 (unsigned long long)packed_k(pos), (unsigned long long)packed_generation(pos),
                 initial[packed_k(pos)]);
        return false;
      }
      if (packed_k(pos) < packed_k(current)) pos = make_packed_key(packed_k(pos) + 1, 0);
      else pos = make_packed_key(packed_k(pos), packed_generation(pos) + 1);
    }
    if (!mt_skiplist_iter_valid(&iter)) return true;
    if (leveldb_random_next(rnd) % 2) {
      mt_skiplist_iter_next(&iter);
      pos = make_packed_key(packed_k(pos), packed_generation(pos) + 1);
    } else {
      uint64_t new_target = generation_random_target(check, rnd);
      if (new_target > pos) {
        pos = new_target;
        seek_u64(&iter, new_target);
      }
    }
  }
}

/* A reader thread running generation_read_step passes until stopped or until one fails. */
typedef struct generation_reader {
  generation_check *check;
  uint32_t seed;
  atomic_bool running; /* set by the reader once started */
  atomic_bool quit;    /* set by generation_reader_stop */
  atomic_bool failed;  /* set by the reader; failure holds the reason */
  char failure[256];
  long passes; /* reader only until joined */
  thread_team team;
} generation_reader;

static inline void *generation_reader_main(void *arg) {
  generation_reader *reader = arg;
  leveldb_random rnd = leveldb_random_make(reader->seed);
  /* Release/acquire on these flags only order the test's own handshake, not the list. */
  atomic_store_explicit(&reader->running, true, memory_order_release);
  while (!atomic_load_explicit(&reader->quit, memory_order_acquire)) {
    if (!generation_read_step(reader->check, &rnd, reader->failure, sizeof(reader->failure))) {
      atomic_store_explicit(&reader->failed, true, memory_order_release);
      break;
    }
    reader->passes++;
  }
  return NULL;
}

/* Starts the reader thread; returns once it runs. */
static inline void generation_reader_start(generation_reader *reader, generation_check *check, uint32_t seed) {
  reader->check = check;
  reader->seed = seed;
  atomic_init(&reader->running, false);
  atomic_init(&reader->quit, false);
  atomic_init(&reader->failed, false);
  reader->failure[0] = '\0';
  reader->passes = 0;
  thread_team_start(&reader->team, generation_reader_main, reader, 0, 1);
  while (!atomic_load_explicit(&reader->running, memory_order_acquire)) sched_yield();
}

/* Whether a pass has failed so far (the reader may still run). */
static inline bool generation_reader_failed(generation_reader *reader) {
  return atomic_load_explicit(&reader->failed, memory_order_acquire);
}

/* Stops and joins the reader; false if a pass failed (reader->failure says why). */
static inline bool generation_reader_stop(generation_reader *reader) {
  atomic_store_explicit(&reader->quit, true, memory_order_release);
  thread_team_join(&reader->team);
  return !generation_reader_failed(reader);
}

#endif
