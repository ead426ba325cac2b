/* The point-lookup index (options.point_index): open addressing with linear probing over the XXH3 hash of
 * the user key. A slot is one 64-bit word: 0 (empty), SLOT_REFUSED, or the top 16 bits of the key's hash
 * (a tag that rules out most other keys without touching their nodes) above the node's address (48 bits).
 * A slot holds the node of its key's newest version; the skiplist keeps every version in order, so a get at
 * an older snapshot lands on the newest and steps forward on level 0 through the key's older versions.
 *
 * Publication (writers, readers):
 * - A node is linked in the skiplist (its release store) before any slot points at it, and a slot is
 *   written only by compare-and-swap with release on success; readers load slots with acquire. So a reader
 *   that reads a slot sees the node it names whole, and the key's older versions linked before it.
 * - A slot goes from empty to a key, or to SLOT_REFUSED, exactly once, and then only from one node of its
 *   key to a newer one (a larger seq: the exchange loops while the node in the slot is older). A reader
 *   sees the old node or the new one, both valid; nothing is ever removed, so a probe run that passed a slot
 *   once passes it again.
 * - Past the load limit a new key is not indexed: its writer sets `overflowed` (relaxed) and then turns the
 *   empty slot its probe reached into SLOT_REFUSED (release), so that no later writer of the same key can
 *   index an older version there. A reader whose probe ends (empty or refused slot) answers MT_NOT_FOUND
 *   unless `overflowed` is set, and then searches the skiplist. The refused slot's acquire shows the flag;
 *   a reader that misses a flag being set concurrently answers as if before that add, which a get
 *   concurrent with it may; and once a reader has seen the flag it sees it on every later get (coherence).
 * - A node whose address does not fit 48 bits (never on x86-64 or AArch64 user space, but C does not promise
 *   it) sets `bypassed`, and from then on every get searches the skiplist.
 */
#include "memtable/point_index.h"

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>

#include "memtable/memtable_internal.h"

#define SLOT_TAG_SHIFT 48
#define SLOT_ADDRESS_MASK ((UINT64_C(1) << SLOT_TAG_SHIFT) - 1)
/* A slot a writer closed when the index was full; no node lives at address 1. */
#define SLOT_REFUSED UINT64_C(1)
#define SLOTS_PER_LINE (MEMTABLE_CACHE_LINE_BYTES / sizeof(uint64_t))
#define MAX_SLOTS (UINT64_C(1) << 32)

struct point_index {
  /* Read by every get; fixed at create except the two flags, which are only ever set. */
  alignas(MEMTABLE_CACHE_LINE_BYTES) _Atomic uint64_t *slots;
  uint64_t slot_count; /* a multiple of SLOTS_PER_LINE, at most MAX_SLOTS */
  uint64_t key_limit;  /* keys indexed before new ones are refused: 0.8 of the slots */
  _Atomic bool overflowed;
  _Atomic bool bypassed;
  /* Keys indexed; written by every add of a new key, so on its own line. */
  alignas(MEMTABLE_CACHE_LINE_BYTES) _Atomic uint64_t keys;
};

uint64_t point_index_slot_count(size_t expected_keys) {
  uint64_t wanted = (uint64_t)expected_keys + (uint64_t)expected_keys / 4 + 1;
  if (wanted > MAX_SLOTS) wanted = MAX_SLOTS;
  return (wanted + SLOTS_PER_LINE - 1) / SLOTS_PER_LINE * SLOTS_PER_LINE;
}

mt_status point_index_create(mt_arena *arena, size_t expected_keys, point_index **out) {
  uint64_t slot_count = point_index_slot_count(expected_keys);
  if (slot_count > SIZE_MAX / sizeof(uint64_t)) return MT_INVALID_ARGUMENT;
  void *memory;
  mt_status status = mt_arena_try_allocate(arena, sizeof(point_index), MEMTABLE_CACHE_LINE_BYTES, &memory);
  if (status != MT_OK) return status;
  point_index *index = memory;
  status = mt_arena_try_allocate(arena, (size_t)slot_count * sizeof(uint64_t), MEMTABLE_CACHE_LINE_BYTES, &memory);
  if (status != MT_OK) return status; /* the header goes with the arena, which the caller destroys */
  index->slots = memory;
  for (uint64_t i = 0; i < slot_count; i++) atomic_init(&index->slots[i], 0);
  index->slot_count = slot_count;
  index->key_limit = slot_count - slot_count / 5;
  atomic_init(&index->overflowed, false);
  atomic_init(&index->bypassed, false);
  atomic_init(&index->keys, 0);
  *out = index;
  return MT_OK;
}

/* The first slot of the hash's probe run (the low 32 bits, scaled to the slot count without a division). */
static inline uint64_t home_slot(const point_index *index, uint64_t hash) {
  return ((hash & UINT32_MAX) * index->slot_count) >> 32;
}

static inline uint64_t slot_tag(uint64_t hash) { return hash >> SLOT_TAG_SHIFT; }

static inline const char *slot_node(uint64_t slot) { return (const char *)(uintptr_t)(slot & SLOT_ADDRESS_MASK); }

/* The user key and seq of a node the writers wrote and nobody damaged since: the writer's own reads. */
static inline const char *trusted_user_key(const char *stored, size_t *user_len, uint64_t *seq) {
  uint32_t internal_len = 0;
  const char *key = decode_varint32(stored, stored + MT_VARINT32_MAX_BYTES, &internal_len);
  assert(key != NULL && internal_len >= 8);
  *user_len = (size_t)internal_len - 8;
  *seq = decode_fixed64(key + *user_len) >> 8;
  return key;
}

static inline bool bytes_equal(const char *a, size_t a_len, const char *b, size_t b_len) {
  return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

void point_index_publish(point_index *index, const char *stored, uint64_t hash, uint64_t seq, bool concurrent) {
  uintptr_t address = (uintptr_t)stored;
  if ((uint64_t)address > SLOT_ADDRESS_MASK) {
    /* Relaxed: see the top of the file; the flag publishes no memory. */
    atomic_store_explicit(&index->bypassed, true, memory_order_relaxed);
    return;
  }
  uint64_t wanted = slot_tag(hash) << SLOT_TAG_SHIFT | (uint64_t)address;
  size_t key_len;
  uint64_t stored_seq;
  const char *key = trusted_user_key(stored, &key_len, &stored_seq);
  assert(stored_seq == seq);
  uint64_t position = home_slot(index, hash);
  for (uint64_t probes = 0; probes < index->slot_count; probes++) {
    _Atomic uint64_t *slot = &index->slots[position];
    /* Acquire: another writer's node may be named here, and its key is read below. */
    uint64_t current = atomic_load_explicit(slot, memory_order_acquire);
    for (;;) {
      if (current == SLOT_REFUSED) {
        atomic_store_explicit(&index->overflowed, true, memory_order_relaxed); /* relaxed: as above */
        return;
      }
      if (current == 0) {
        /* Relaxed: a statistic deciding only whether to index; the slot's exchange decides the rest. */
        bool full = atomic_load_explicit(&index->keys, memory_order_relaxed) >= index->key_limit;
        if (full) atomic_store_explicit(&index->overflowed, true, memory_order_relaxed); /* before the release */
        /* Release on success: publishes the node (or, refused, the flag) to readers that acquire the slot.
         * Acquire on failure: the winner's node is read on the next pass. */
        if (atomic_compare_exchange_strong_explicit(slot, &current, full ? SLOT_REFUSED : wanted,
                                                    memory_order_release, memory_order_acquire)) {
          if (full) return;
          if (concurrent) {
            atomic_fetch_add_explicit(&index->keys, 1, memory_order_relaxed); /* relaxed: a statistic */
          } else {
            /* Relaxed load and store: one writer owns the counter. */
            uint64_t keys = atomic_load_explicit(&index->keys, memory_order_relaxed);
            atomic_store_explicit(&index->keys, keys + 1, memory_order_relaxed);
          }
          return;
        }
        continue; /* another writer claimed it: look again at what it holds */
      }
      if ((current >> SLOT_TAG_SHIFT) != slot_tag(hash)) break;
      size_t other_len;
      uint64_t other_seq;
      const char *other = trusted_user_key(slot_node(current), &other_len, &other_seq);
      if (!bytes_equal(other, other_len, key, key_len)) break;
      /* Our key: the newest seq wins, whatever order the versions were added in. */
      if (other_seq >= seq) return;
      /* Release / acquire as for the claim above. */
      if (atomic_compare_exchange_strong_explicit(slot, &current, wanted, memory_order_release,
                                                  memory_order_acquire)) {
        return;
      }
    }
    if (++position == index->slot_count) position = 0;
  }
  /* Every slot holds another key (concurrent writers claimed past the limit): nothing can be claimed again. */
  atomic_store_explicit(&index->overflowed, true, memory_order_relaxed); /* relaxed: as above */
}

/* From the key's newest version at the cursor, the newest at or below the snapshot. */
static mt_status visible_version(const mt_memtable *table, entry_cursor *cursor, mt_slice key, uint64_t snapshot_seq,
                                 mt_entry *found) {
  mt_status status = MT_OK;
  while (cursor->entry.seq > snapshot_seq) {
    status = cursor_step(table, cursor, true);
    if (status != MT_OK) return status; /* MT_NOT_FOUND at the end, or MT_CORRUPTION */
    if (!bytes_equal(cursor->entry.user_key.data, cursor->entry.user_key.len, key.data, key.len)) {
      return MT_NOT_FOUND;
    }
  }
  if (found != NULL) *found = cursor->entry;
  return cursor->entry.type == MT_TYPE_DELETION ? MT_DELETED : MT_OK;
}

bool point_index_get(const point_index *index, const mt_memtable *table, const void *key, size_t key_len,
                     uint64_t hash, uint64_t snapshot_seq, mt_entry *found, mt_status *status) {
  /* Relaxed: see the top of the file. */
  if (atomic_load_explicit(&index->bypassed, memory_order_relaxed)) return false;
  mt_slice target = {key, key_len};
  uint64_t tag = slot_tag(hash);
  uint64_t position = home_slot(index, hash);
  for (uint64_t probes = 0; probes < index->slot_count; probes++) {
    /* Acquire: pairs with the writer's release exchange, so the node named is whole. */
    uint64_t current = atomic_load_explicit(&index->slots[position], memory_order_acquire);
    if (current == 0 || current == SLOT_REFUSED) break;
    if ((current >> SLOT_TAG_SHIFT) == tag) {
      entry_cursor cursor;
      cursor_init_plain(table, &cursor);
      cursor.position.node = slot_node(current);
      /* Checked when the table has checksums: a damaged node answers MT_CORRUPTION. */
      mt_status loaded = cursor_load(table, &cursor);
      if (loaded != MT_OK) {
        *status = MT_CORRUPTION;
        return true;
      }
      if (bytes_equal(cursor.entry.user_key.data, cursor.entry.user_key.len, target.data, target.len)) {
        *status = visible_version(table, &cursor, target, snapshot_seq, found);
        return true;
      }
    }
    if (++position == index->slot_count) position = 0;
  }
  /* Relaxed: see the top of the file (a refused slot's acquire above already showed its writer's flag). */
  if (atomic_load_explicit(&index->overflowed, memory_order_relaxed)) return false;
  *status = MT_NOT_FOUND;
  return true;
}

size_t point_index_memory(const point_index *index) {
  return sizeof(point_index) + (size_t)index->slot_count * sizeof(uint64_t);
}
