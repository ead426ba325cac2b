/* The point-lookup index (options.point_index): open addressing with linear probing over the XXH3 hash of
 * the user key, in a table of slots that is replaced by one twice as large when it fills.
 *
 * A slot is one 64-bit word: bits 0-47 an address field, bits 48-55 a tag (the top 8 bits of the key's hash,
 * which rules out most other keys without touching their nodes), bits 56-63 a check byte, the XOR of the
 * other seven bytes. 0 is the empty slot (its check is 0). The address field is a node's key pointer (at
 * least 4-aligned: the skiplist puts a key 0, 4, 8 or 12 bytes after its link-aligned tower), or 2 for a
 * slot refused when the table was full; bit 0 is MOVED (below). Any single damaged byte of a slot breaks its
 * check byte, and every slot a reader reads is checked before its address is used: damage is MT_CORRUPTION,
 * never a wild read or a slot taken for another key's. A slot holds the node of its key's newest version;
 * the skiplist keeps every version in order, so a get at an older snapshot lands on the newest and steps
 * forward on level 0 through the key's older versions (read.c).
 *
 * Publication (writers, readers):
 * - A node is linked in the skiplist (its release store) before any slot points at it, and a slot is
 *   written only by compare-and-swap with release on success; readers load slots with acquire. So a reader
 *   that reads a slot sees the node it names whole, and the key's older versions linked before it.
 * - In a table, a slot goes from empty to a key, or to refused, exactly once, and then only from one node of
 *   its key to a newer one (the exchange loops while the node in the slot is older), until it is MOVED.
 *   Nothing is ever removed, so a probe run that passed a slot once passes it again.
 * - Growth: the writer that finds the table at its key limit (0.8 of the slots) and wins `growing` allocates
 *   the next table (header and slots in one allocation) from the arena and installs it in `next` by
 *   compare-and-swap (release), then marks every slot of the old table MOVED by compare-and-swap (the slot
 *   keeps its node; an empty slot becomes MOVED_EMPTY) and publishes each moved node in the next table,
 *   newest seq winning there as anywhere. A MOVED slot never changes again. Last it sets `copied` and moves
 *   `current` (release) past every copied table. Old tables stay in the arena until the table dies, so a
 *   reader holding one keeps reading valid memory. A writer whose own slot (its key's, or the empty one it
 *   would claim) is MOVED publishes in the next table instead (its acquire of the slot shows `next`); other
 *   keys' MOVED slots it passes, as they no longer change. A writer that would claim an empty slot of a
 *   table at its key limit whose successor is installed marks the slot MOVED_EMPTY itself and moves on. So
 *   at any time a key's newest published version is in its slot in the first table where that slot is not
 *   MOVED.
 * - A reader starts at the current table (acquire) and follows the same rule: where its key's slot, or the
 *   empty slot that ends its probe, is MOVED, it looks in the next table too and takes the newer of the two
 *   nodes. An add that returned before the get began is then seen: its writer either wrote an unmoved slot
 *   that the reader reads (or its later MOVED form), or met that slot MOVED and wrote the next table.
 * - While the elected grower allocates, other writers still claim slots up to 0.9 of them; a writer past that
 *   allocates a successor too, and whichever installs one copies (the others give theirs back to the arena,
 *   or leave it counted in the index's bytes when the arena cannot take it back). So a grower held up by the
 *   scheduler delays nobody.
 * - When no memory can be had for a successor (`grow_failed`), a new key past 0.9 of the slots is not
 *   indexed: its writer sets `overflowed` (relaxed) and then turns the empty slot its probe reached into
 *   refused (release), so that no later writer of the same key can index an older version there. A reader
 *   whose probe ends (empty or refused slot) answers MT_NOT_FOUND unless `overflowed` is set, and then
 *   searches the skiplist; so does a reader whose only version came from a MOVED slot. The refused slot's
 *   acquire shows the flag; a reader that misses a flag being set concurrently answers as if before that
 *   add, which a get concurrent with it may; and once a reader has seen the flag it sees it on every later
 *   get (coherence).
 * - A node whose address does not fit the address field (never on x86-64 or AArch64 user space, but C does
 *   not promise it) sets `bypassed`, and from then on every get searches the skiplist.
 */
#include "memtable/point_index.h"

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>

#include "memtable/entry_format.h"

#define SLOT_ADDRESS_MASK ((UINT64_C(1) << 48) - 1)
#define SLOT_BODY_MASK ((UINT64_C(1) << 56) - 1)
#define SLOT_NODE_MASK (SLOT_ADDRESS_MASK & ~UINT64_C(3))
#define SLOT_TAG_SHIFT 48
#define SLOT_CHECK_SHIFT 56
#define SLOT_MOVED UINT64_C(1)
/* The address field of a slot a writer closed when the table was full; no node lives at address 2. */
#define SLOT_REFUSED_ADDRESS UINT64_C(2)
#define SLOTS_PER_LINE (MEMTABLE_CACHE_LINE_BYTES / sizeof(uint64_t))
#define MAX_SLOTS (UINT64_C(1) << 32)
typedef struct index_table {
  /* Read by every get; fixed at create except next and growing, which are set once. */
  alignas(MEMTABLE_CACHE_LINE_BYTES) _Atomic uint64_t *slots;
  uint64_t slot_count;                /* a multiple of SLOTS_PER_LINE, at most MAX_SLOTS */
  uint64_t key_limit;                 /* keys claimed before the table grows: 0.8 of the slots */
  uint64_t claim_limit;               /* keys claimed before new ones are refused while it grows: 0.9 of the slots */
  _Atomic(struct index_table *) next; /* the table this one is copied to, NULL until then */
  _Atomic bool growing;               /* a writer has taken on the growth */
  _Atomic bool grow_failed;           /* a writer found no memory for the successor: nobody tries again */
  _Atomic bool copied;                /* every slot is MOVED and published in next */
  /* Keys claimed here; written by every add of a new key, so on its own line. */
  alignas(MEMTABLE_CACHE_LINE_BYTES) _Atomic uint64_t keys;
} index_table;

struct mti_point_index {
  /* Read by every get; current changes when a growth completes, the flags are only ever set. */
  alignas(MEMTABLE_CACHE_LINE_BYTES) _Atomic(index_table *) current;
  mt_arena *arena; /* where growth allocates; writers only */
  _Atomic bool overflowed;
  _Atomic bool bypassed;
  /* Statistics, written by writers. */
  alignas(MEMTABLE_CACHE_LINE_BYTES) _Atomic size_t bytes; /* every table ever allocated, and this header */
  size_t initial_bytes;                                    /* what create allocated */
  _Atomic uint64_t refused_adds;
};

/* The XOR of the low seven bytes: any single changed byte of a slot changes it, or itself. */
static inline uint64_t check_byte(uint64_t body) {
  body ^= body >> 32;
  body ^= body >> 16;
  body ^= body >> 8;
  return body & 0xff;
}

static inline uint64_t slot_make(uint64_t body) { return body | check_byte(body) << SLOT_CHECK_SHIFT; }

static inline bool slot_intact(uint64_t slot) { return check_byte(slot & SLOT_BODY_MASK) == slot >> SLOT_CHECK_SHIFT; }

static inline uint64_t slot_moved(uint64_t slot) { return slot_make((slot & SLOT_BODY_MASK) | SLOT_MOVED); }

#define SLOT_REFUSED slot_make(SLOT_REFUSED_ADDRESS)
#define SLOT_MOVED_EMPTY slot_make(SLOT_MOVED)

static inline uint64_t slot_tag(uint64_t hash) { return hash >> 56; }

static inline uint64_t slot_tag_of(uint64_t slot) { return (slot >> SLOT_TAG_SHIFT) & 0xff; }

/* The node a slot names, NULL for an empty or refused one. */
static inline const char *slot_node(uint64_t slot) { return (const char *)(uintptr_t)(slot & SLOT_NODE_MASK); }

uint64_t mti_point_index_slot_count(size_t expected_keys) {
  uint64_t wanted = (uint64_t)expected_keys + (uint64_t)expected_keys / 4 + 1;
  if (wanted > MAX_SLOTS) wanted = MAX_SLOTS;
  return (wanted + SLOTS_PER_LINE - 1) / SLOTS_PER_LINE * SLOTS_PER_LINE;
}

static size_t table_bytes(uint64_t slot_count) { return sizeof(index_table) + (size_t)slot_count * sizeof(uint64_t); }

/* The table header and its slots in one allocation, so that a successor a writer lost the race to install
 * can be given back whole (mt_arena_undo_last). */
static mt_status table_create(mt_arena *arena, uint64_t slot_count, index_table **out) {
  if (slot_count > (SIZE_MAX - sizeof(index_table)) / sizeof(uint64_t)) return MT_INVALID_ARGUMENT;
  void *memory;
  mt_status status = mt_arena_try_allocate(arena, table_bytes(slot_count), MEMTABLE_CACHE_LINE_BYTES, &memory);
  if (status != MT_OK) return status;
  index_table *table = memory;
  table->slots = (_Atomic uint64_t *)(void *)(table + 1); /* sizeof(index_table) is whole cache lines */
  for (uint64_t i = 0; i < slot_count; i++) atomic_init(&table->slots[i], 0);
  table->slot_count = slot_count;
  table->key_limit = slot_count - slot_count / 5;
  table->claim_limit = slot_count - slot_count / 10;
  atomic_init(&table->next, NULL);
  atomic_init(&table->growing, false);
  atomic_init(&table->grow_failed, false);
  atomic_init(&table->copied, false);
  atomic_init(&table->keys, 0);
  *out = table;
  return MT_OK;
}

mt_status mti_point_index_create(mt_arena *arena, size_t expected_keys, mti_point_index **out) {
  void *memory;
  mt_status status = mt_arena_try_allocate(arena, sizeof(mti_point_index), MEMTABLE_CACHE_LINE_BYTES, &memory);
  if (status != MT_OK) return status;
  mti_point_index *index = memory;
  index_table *table;
  uint64_t slot_count = mti_point_index_slot_count(expected_keys);
  status = table_create(arena, slot_count, &table);
  if (status != MT_OK) return status; /* the header goes with the arena, which the caller destroys */
  atomic_init(&index->current, table);
  index->arena = arena;
  atomic_init(&index->overflowed, false);
  atomic_init(&index->bypassed, false);
  index->initial_bytes = sizeof(mti_point_index) + table_bytes(slot_count);
  atomic_init(&index->bytes, index->initial_bytes);
  atomic_init(&index->refused_adds, 0);
  *out = index;
  return MT_OK;
}

/* The first slot of the hash's probe run (the low 32 bits, scaled to the slot count without a division). */
static inline uint64_t home_slot(const index_table *table, uint64_t hash) {
  return ((hash & UINT32_MAX) * table->slot_count) >> 32;
}

/* The user key and seq of a node the writers wrote and nobody damaged since: the writer's own reads. */
static inline const char *trusted_user_key(const char *stored, size_t *user_len, uint64_t *seq) {
  uint32_t internal_len = 0;
  const char *key = decode_varint32(stored, stored + VARINT32_MAX_BYTES, &internal_len);
  assert(key != NULL && internal_len >= 8);
  *user_len = (size_t)internal_len - 8;
  *seq = decode_fixed64(key + *user_len) >> 8;
  return key;
}

static inline bool bytes_equal(const char *a, size_t a_len, const char *b, size_t b_len) {
  return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

/* Relaxed load and store when one writer owns the counter, else a read-modify-write; relaxed: a statistic
 * or a limit that only decides whether to index or grow (the slot's exchange decides the rest). */
static inline void count_up(_Atomic uint64_t *counter, bool concurrent) {
  if (concurrent) {
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
  } else {
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1, memory_order_relaxed);
  }
}

/* What a node is published as: its slot value, key and seq. */
typedef struct published {
  uint64_t slot;
  const char *key;
  size_t key_len;
  uint64_t hash;
  uint64_t seq;
} published;

typedef enum publish_outcome {
  PUBLISHED,   /* in the slot, or a newer version was there, or refused */
  MOVED_ON,    /* the slot it needs is MOVED: publish in the next table */
  TABLE_FULL,  /* a new key at the key limit and nobody grows the table yet */
  TABLE_STUCK, /* a new key at the claim limit and the successor not there yet */
} publish_outcome;

static void refuse(mti_point_index *index, bool concurrent) {
  /* Relaxed: see the top of the file; the flag publishes no memory, the refused slot's release does. */
  atomic_store_explicit(&index->overflowed, true, memory_order_relaxed);
  count_up(&index->refused_adds, concurrent);
}

/* One table's part of a publish. may_grow false: the caller is past trying to grow this table. */
static publish_outcome publish_in(mti_point_index *index, index_table *table, const published *p, bool concurrent,
                                  bool may_grow) {
  uint64_t position = home_slot(table, p->hash);
  for (uint64_t probes = 0; probes < table->slot_count; probes++) {
    _Atomic uint64_t *slot = &table->slots[position];
    /* Acquire: another writer's node may be named here, and its key is read below; a MOVED slot shows next. */
    uint64_t current = atomic_load_explicit(slot, memory_order_acquire);
    for (;;) {
      assert(slot_intact(current));
      const char *node = slot_node(current);
      if (node == NULL) {
        /* Empty, refused, or one of those MOVED: the probe ends here. */
        if (current & SLOT_MOVED) return MOVED_ON;
        if (current == SLOT_REFUSED) {
          refuse(index, concurrent);
          return PUBLISHED;
        }
        /* Relaxed: a limit (see count_up). */
        uint64_t keys = atomic_load_explicit(&table->keys, memory_order_relaxed);
        bool full = false;
        if (keys >= table->key_limit) {
          /* Acquire: pairs with the grower's release of next, whose slots are then read. */
          if (atomic_load_explicit(&table->next, memory_order_acquire) != NULL) {
            /* Close the slot to this table, so that a reader of it looks in the next one too. Release:
             * orders nothing of ours, but a MOVED slot must show next to its reader, as the grower's do.
             * Acquire on failure: what another writer put here is read on the next pass. */
            if (atomic_compare_exchange_strong_explicit(slot, &current, SLOT_MOVED_EMPTY, memory_order_release,
                                                        memory_order_acquire)) {
              return MOVED_ON;
            }
            continue;
          }
          /* Relaxed: the flags only steer who allocates; next's release publishes the successor. */
          if (may_grow && !atomic_load_explicit(&table->growing, memory_order_relaxed)) return TABLE_FULL;
          /* Someone grows it (or cannot): claim within the slack; past it, allocate a successor too rather
           * than refuse keys while the grower is held up. */
          full = keys >= table->claim_limit;
          if (full && may_grow && !atomic_load_explicit(&table->grow_failed, memory_order_relaxed)) return TABLE_STUCK;
        }
        if (full) atomic_store_explicit(&index->overflowed, true, memory_order_relaxed); /* before the release */
        /* Release on success: publishes the node (or, refused, the flag) to readers that acquire the slot.
         * Acquire on failure: the winner's node is read on the next pass. */
        if (atomic_compare_exchange_strong_explicit(slot, &current, full ? SLOT_REFUSED : p->slot, memory_order_release,
                                                    memory_order_acquire)) {
          if (full) {
            refuse(index, concurrent);
          } else {
            count_up(&table->keys, concurrent);
          }
          return PUBLISHED;
        }
        continue; /* another writer (or the grower) changed it: look again at what it holds */
      }
      if (slot_tag_of(current) != slot_tag(p->hash)) break;
      size_t other_len;
      uint64_t other_seq;
      const char *other = trusted_user_key(node, &other_len, &other_seq);
      if (!bytes_equal(other, other_len, p->key, p->key_len)) break;
      /* Our key's slot. MOVED: the next table holds its newer versions. */
      if (current & SLOT_MOVED) return MOVED_ON;
      /* The newest seq wins, whatever order the versions were added in. */
      if (other_seq >= p->seq) return PUBLISHED;
      /* Release / acquire as for the claim above. */
      if (atomic_compare_exchange_strong_explicit(slot, &current, p->slot, memory_order_release,
                                                  memory_order_acquire)) {
        return PUBLISHED;
      }
    }
    if (++position == table->slot_count) position = 0;
  }
  /* Every slot holds another key (concurrent writers claimed past the limits): nothing can be claimed again. */
  refuse(index, concurrent);
  return PUBLISHED;
}

static void publish_from(mti_point_index *index, index_table *table, const published *p, bool concurrent);

/* Moves every slot of `from` to its successor `to`, then makes the newest complete table current. */
static void copy_table(mti_point_index *index, index_table *from, bool concurrent) {
  /* Acquire: the successor is ours (the caller stored it), or read for its slots. */
  index_table *to = atomic_load_explicit(&from->next, memory_order_acquire);
  for (uint64_t i = 0; i < from->slot_count; i++) {
    _Atomic uint64_t *slot = &from->slots[i];
    /* Acquire: the node named is read to publish it again. */
    uint64_t current = atomic_load_explicit(slot, memory_order_acquire);
    /* Release on success: a reader or writer that sees the slot MOVED sees next. Acquire on failure: the
     * value a writer just put here is what gets moved. */
    while ((current & SLOT_MOVED) == 0 &&
           !atomic_compare_exchange_weak_explicit(slot, &current, current == 0 ? SLOT_MOVED_EMPTY : slot_moved(current),
                                                  memory_order_release, memory_order_acquire)) {
    }
    const char *node = slot_node(current);
    if (node == NULL) continue; /* empty or refused: nothing to carry over */
    published p;
    p.slot = current & ~(SLOT_MOVED | (UINT64_C(0xff) << SLOT_CHECK_SHIFT));
    p.slot = slot_make(p.slot);
    p.key = trusted_user_key(node, &p.key_len, &p.seq);
    p.hash = user_key_hash(p.key, p.key_len);
    publish_from(index, to, &p, concurrent);
  }
  /* Release: a writer that sees the copy done (below) sees next. */
  atomic_store_explicit(&from->copied, true, memory_order_release);
  /* Advance current past every table whose copy is done: copies of successive tables may finish in any
   * order, and whichever finishes last reaches the first table not copied. Acquire on the loads and on
   * failure: the table's flags and next are read; release on success: a reader that loads current sees its
   * slots initialised. */
  index_table *seen = atomic_load_explicit(&index->current, memory_order_acquire);
  while (atomic_load_explicit(&seen->copied, memory_order_acquire)) {
    index_table *successor = atomic_load_explicit(&seen->next, memory_order_acquire);
    if (atomic_compare_exchange_weak_explicit(&index->current, &seen, successor, memory_order_release,
                                              memory_order_acquire)) {
      seen = successor;
    }
  }
}

/* Grows a full table: installs a successor twice as large and copies the table into it. elect: only the
 * writer that wins `growing` allocates (the first at the key limit); otherwise (a writer at the claim limit
 * while the elected one is held up) any writer may, and the one that installs its successor copies. Returns
 * true when the caller should publish again (grown, or another writer grows it), false when no memory could
 * be had for the successor. */
static bool grow(mti_point_index *index, index_table *table, bool concurrent, bool elect) {
  bool expected = false;
  /* Relaxed: the flag only elects the grower; the successor is published by next's release. */
  if (elect && !atomic_compare_exchange_strong_explicit(&table->growing, &expected, true, memory_order_relaxed,
                                                        memory_order_relaxed)) {
    return true;
  }
  uint64_t slot_count = table->slot_count * 2 <= MAX_SLOTS ? table->slot_count * 2 : MAX_SLOTS;
  index_table *successor = NULL;
  if (slot_count == table->slot_count || table_create(index->arena, slot_count, &successor) != MT_OK) {
    atomic_store_explicit(&table->grow_failed, true, memory_order_relaxed); /* relaxed: as growing */
    return false;
  }
  index_table *installed = NULL;
  /* Release on success: the successor's initialised slots, to whoever acquires next (directly or through a
   * MOVED slot). Relaxed on failure: the caller publishes again and acquires next then. */
  if (!atomic_compare_exchange_strong_explicit(&table->next, &installed, successor, memory_order_release,
                                               memory_order_relaxed)) {
    /* Another writer's successor won. Ours goes back when the arena still can; else it stays, counted. */
    if (mt_arena_undo_last(index->arena, successor) != MT_OK) {
      atomic_fetch_add_explicit(&index->bytes, table_bytes(slot_count), memory_order_relaxed); /* a statistic */
    }
    return true;
  }
  /* Relaxed read-modify-write: a statistic. */
  atomic_fetch_add_explicit(&index->bytes, table_bytes(slot_count), memory_order_relaxed);
  copy_table(index, table, concurrent);
  return true;
}

/* Publishes in `table` or, where its slots are MOVED, in its successors. */
static void publish_from(mti_point_index *index, index_table *table, const published *p, bool concurrent) {
  bool may_grow = true;
  for (;;) {
    publish_outcome outcome = publish_in(index, table, p, concurrent, may_grow);
    if (outcome == PUBLISHED) return;
    if (outcome == MOVED_ON) {
      /* Acquire: the MOVED slot's release showed next; its slots are read. */
      table = atomic_load_explicit(&table->next, memory_order_acquire);
      assert(table != NULL);
      may_grow = true;
      continue;
    }
    /* No memory: claim within the slack, then refuse. */
    may_grow = grow(index, table, concurrent, outcome == TABLE_FULL);
  }
}

void mti_point_index_publish(mti_point_index *index, const char *stored, uint64_t hash, uint64_t seq, bool concurrent) {
  uintptr_t address = (uintptr_t)stored;
  if ((uint64_t)address > SLOT_ADDRESS_MASK || (address & 3) != 0) {
    /* Relaxed: see the top of the file; the flag publishes no memory. */
    atomic_store_explicit(&index->bypassed, true, memory_order_relaxed);
    return;
  }
  published p;
  p.slot = slot_make(slot_tag(hash) << SLOT_TAG_SHIFT | (uint64_t)address);
  uint64_t stored_seq;
  p.key = trusted_user_key(stored, &p.key_len, &stored_seq);
  assert(stored_seq == seq);
  p.hash = hash;
  p.seq = seq;
  /* Acquire: the current table's slots are read. */
  publish_from(index, atomic_load_explicit(&index->current, memory_order_acquire), &p, concurrent);
}

/* What one table's probe found for a key. */
typedef enum probe_result {
  PROBE_FOUND,    /* the key's unmoved slot: the newest published version */
  PROBE_ABSENT,   /* an unmoved empty or refused slot ended the probe, or every slot was another key's */
  PROBE_MOVED_ON, /* the key's slot or the slot that ended the probe is MOVED: the next table may know more */
  PROBE_DAMAGED,  /* a slot or the entry it names failed its checks */
} probe_result;

/* The newest version found so far, over the tables probed. */
typedef struct probe_found {
  const char *node;  /* NULL: none yet */
  mt_entry *entry;   /* node's entry, decoded (the caller's storage) */
  size_t *entry_len;
} probe_found;

/* Probes one table for the key; a node found (MOVED or not) is kept in *found when it is newer than what
 * *found holds already. */
static inline probe_result probe(const index_table *in, const mti_view *view, const char *key, size_t key_len,
                                 uint64_t hash, probe_found *found) {
  uint64_t tag = slot_tag(hash);
  uint64_t position = home_slot(in, hash);
  for (uint64_t probes = 0; probes < in->slot_count; probes++) {
    /* Acquire: pairs with the writer's release exchange, so the node named is whole. */
    uint64_t current = atomic_load_explicit(&in->slots[position], memory_order_acquire);
    if (!slot_intact(current)) return PROBE_DAMAGED;
    const char *node = slot_node(current);
    if (node == NULL) return current & SLOT_MOVED ? PROBE_MOVED_ON : PROBE_ABSENT;
    if (slot_tag_of(current) == tag) {
      /* The first candidate decodes straight into the caller's storage; one met after a found version (in a
       * later table) into its own, to compare. */
      mt_entry other;
      size_t other_len;
      mt_entry *entry = found->node == NULL ? found->entry : &other;
      size_t *entry_len = found->node == NULL ? found->entry_len : &other_len;
      /* Checked when the table has checksums: a damaged node answers MT_CORRUPTION. */
      if (!mti_entry_load(view, node, entry, entry_len)) return PROBE_DAMAGED;
      if (bytes_equal(entry->user_key.data, entry->user_key.len, key, key_len)) {
        if (found->node == NULL) {
          found->node = node;
        } else if (entry->seq > found->entry->seq) {
          found->node = node;
          *found->entry = *entry;
          *found->entry_len = *entry_len;
        }
        return current & SLOT_MOVED ? PROBE_MOVED_ON : PROBE_FOUND;
      }
    }
    if (++position == in->slot_count) position = 0;
  }
  return PROBE_ABSENT;
}

mti_index_answer mti_point_index_find(const mti_point_index *index, const mti_view *view, const void *key,
                                      size_t key_len, uint64_t hash, const char **node, mt_entry *entry,
                                      size_t *entry_len) {
  *node = NULL;
  /* Relaxed: see the top of the file. */
  if (atomic_load_explicit(&index->bypassed, memory_order_relaxed)) return MTI_INDEX_UNKNOWN;
  /* Acquire: pairs with the grower's release, so the table's slots are seen initialised. */
  const index_table *current = atomic_load_explicit(&index->current, memory_order_acquire);
  probe_found found = {NULL, entry, entry_len};
  probe_result result;
  while ((result = probe(current, view, key, key_len, hash, &found)) == PROBE_MOVED_ON) {
    /* Acquire: the MOVED slot's release showed next; its slots are read. */
    current = atomic_load_explicit(&current->next, memory_order_acquire);
    /* Only a damaged slot can claim a move that never started. */
    if (current == NULL) return MTI_INDEX_DAMAGED;
  }
  if (result == PROBE_DAMAGED) return MTI_INDEX_DAMAGED;
  /* Relaxed: see the top of the file (a refused slot's acquire above already showed its writer's flag). An
   * absent key, or a version found only in a table it was moved from, is not vouched for once the index
   * refused a key: the skiplist answers. */
  if (result == PROBE_ABSENT && atomic_load_explicit(&index->overflowed, memory_order_relaxed))
    return MTI_INDEX_UNKNOWN;
  if (found.node == NULL) return MTI_INDEX_ABSENT;
  *node = found.node;
  return MTI_INDEX_FOUND;
}

size_t mti_point_index_memory(const mti_point_index *index) {
  /* Relaxed: a statistic. */
  return atomic_load_explicit(&index->bytes, memory_order_relaxed);
}

size_t mti_point_index_grown_memory(const mti_point_index *index) {
  return mti_point_index_memory(index) - index->initial_bytes;
}

void mti_point_index_coverage(const mti_point_index *index, uint64_t *keys, uint64_t *refused_adds) {
  /* Acquire: the table's fields are read. Relaxed counters: statistics. */
  const index_table *current = atomic_load_explicit(&index->current, memory_order_acquire);
  *keys = atomic_load_explicit(&current->keys, memory_order_relaxed);
  *refused_adds = atomic_load_explicit(&index->refused_adds, memory_order_relaxed);
}

mt_status mti_point_index_validate(const mti_point_index *index, const mti_view *view, const mt_arena *arena,
                                   bool (*entry_ok)(void *ctx, const char *stored), void *ctx) {
  /* Relaxed / acquire: the writers are quiescent (the contract); the orders only match the other readers. */
  if (atomic_load_explicit(&index->bypassed, memory_order_relaxed)) return MT_OK;
  const index_table *current = atomic_load_explicit(&index->current, memory_order_acquire);
  bool overflowed = atomic_load_explicit(&index->overflowed, memory_order_relaxed);
  /* A growth completes inside the add that started it: a quiescent index's current table is whole. */
  if (atomic_load_explicit(&current->next, memory_order_acquire) != NULL) return MT_CORRUPTION;
  /* Every slot on its own: intact, not MOVED, naming an entry that lies in the table's memory and whose key
   * has the slot's tag. */
  uint64_t occupied = 0;
  for (uint64_t i = 0; i < current->slot_count; i++) {
    uint64_t slot = atomic_load_explicit(&current->slots[i], memory_order_acquire);
    if (!slot_intact(slot) || (slot & SLOT_MOVED) != 0) return MT_CORRUPTION;
    const char *node = slot_node(slot);
    if (node == NULL) {
      if (slot != 0 && slot != SLOT_REFUSED) return MT_CORRUPTION;
      if (slot == SLOT_REFUSED && !overflowed) return MT_CORRUPTION;
      continue;
    }
    /* The entry, and the node header before it that a checked load reads. */
    size_t header = skiplist_node_header_bytes(view->list);
    if ((uintptr_t)node < header || !mt_arena_contains(arena, node - header, header + 1) || !entry_ok(ctx, node)) {
      return MT_CORRUPTION;
    }
    mt_entry entry;
    size_t entry_len;
    if (!mti_entry_load(view, node, &entry, &entry_len)) return MT_CORRUPTION;
    if (slot_tag_of(slot) != slot_tag(user_key_hash(entry.user_key.data, entry.user_key.len))) return MT_CORRUPTION;
    occupied++;
  }
  if (occupied != atomic_load_explicit(&current->keys, memory_order_relaxed)) return MT_CORRUPTION;
  /* Every user key's newest version (the first of its run on level 0) is what its probe finds; a key the
   * probe does not find is allowed only once the index refused keys. Keys are distinct, so each match is a
   * distinct slot: all occupied slots matched means each names the newest version of a key of the table. */
  mt_skiplist_iter position;
  mt_skiplist_iter_init(&position, view->list);
  mt_skiplist_iter_seek_to_first(&position);
  mt_slice previous = {NULL, 0};
  bool first = true;
  uint64_t matched = 0;
  for (const char *stored; (stored = skiplist_iter_key_inline(&position)) != NULL;
       skiplist_iter_next_inline(&position)) {
    mt_entry entry;
    size_t entry_len;
    if (!mti_entry_load(view, stored, &entry, &entry_len)) return MT_CORRUPTION;
    mt_slice user_key = entry.user_key;
    if (first || !bytes_equal(previous.data, previous.len, user_key.data, user_key.len)) {
      first = false;
      previous = user_key;
      mt_entry newest;
      size_t newest_len;
      probe_found found = {NULL, &newest, &newest_len};
      probe_result result =
          probe(current, view, user_key.data, user_key.len, user_key_hash(user_key.data, user_key.len), &found);
      if (result == PROBE_DAMAGED || result == PROBE_MOVED_ON) return MT_CORRUPTION;
      if (result == PROBE_FOUND) {
        if (found.node != stored) return MT_CORRUPTION;
        matched++;
      } else if (!overflowed) {
        return MT_CORRUPTION;
      }
    }
  }
  return matched == occupied ? MT_OK : MT_CORRUPTION;
}

_Atomic uint64_t *mti_point_index_slots(const mti_point_index *index, uint64_t *slot_count) {
  /* Acquire: as a reader's. */
  index_table *current = atomic_load_explicit(&index->current, memory_order_acquire);
  *slot_count = current->slot_count;
  return current->slots;
}
