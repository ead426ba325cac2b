/* memtable/skiplist.h - an ordered set of keys in arena memory, read without locks.
 *
 * Threading: inserts require external synchronization (one writer at a time). Readers need no lock
 * at all and may run while the writer inserts; they require only that the arena is not destroyed.
 * A reader sees every key whose insert returned before the read began, never a half-built node.
 *
 * Keys are opaque byte strings that the caller's comparator understands (it must know each key's
 * length from its bytes, e.g. a length prefix). Each key lives inline with its node: one arena
 * allocation holds the node's tower of links (only as tall as the node) and the key right after it,
 * and nothing else unless asked: with record_key_size, 4 more bytes record the key's allocated size,
 * so a caller can bound its decoding of a key it does not trust and validate can bound each node; with
 * same_group, 8 more bytes link each node to the end of its group of keys (see the option).
 * Nothing is ever freed or removed: the arena frees the whole list at once.
 */
#ifndef MEMTABLE_SKIPLIST_H
#define MEMTABLE_SKIPLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <memtable/arena.h>
#include <memtable/export.h>
#include <memtable/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_skiplist mt_skiplist;

/* Total order over keys: negative, zero or positive as `stored` sorts before, equal to, or after `key`.
 * `stored` is always a key in the list (so a comparator may read what the list keeps beside it, e.g. its
 * recorded size); `key` is the search target or the key being inserted. Called concurrently from readers
 * and the writer, so it must be thread-safe for its ctx. */
typedef int (*mt_skiplist_compare_fn)(void *ctx, const char *stored, const char *key);

/* True when `stored` (a key in the list) and `key` (the key being inserted) belong to one group. A group's
 * keys must sort next to each other (a run of the order): for the memtable, the versions of one user key.
 * Called by writers only, with the comparator's ctx. */
typedef bool (*mt_skiplist_same_group_fn)(void *ctx, const char *stored, const char *key);

#define MT_SKIPLIST_DEFAULT_MAX_HEIGHT 12
#define MT_SKIPLIST_MAX_HEIGHT_LIMIT 32
#define MT_SKIPLIST_DEFAULT_BRANCHING 4

typedef struct mt_skiplist_options {
  mt_skiplist_compare_fn compare; /* required */
  void *compare_ctx;              /* passed to compare as is */
  int max_height;                 /* 1..MT_SKIPLIST_MAX_HEIGHT_LIMIT, default 12 */
  int branching;                  /* >= 2: a node is 1/branching as likely to reach the next level; default 4 */
  uint64_t seed;                  /* seeds the height generator, default 0xdeadbeef; same seed, same heights */
  /* Store each key's size (4 bytes per node) for mt_skiplist_iter_key_size and validate. Default false:
   * nodes are then links and key only, and key size answers 0. */
  bool record_key_size;
  /* Many writers (default false): mt_skiplist_allocate_key, mt_skiplist_insert_allocated and
   * mt_skiplist_insert may be called from any number of threads at once (each node is linked level by level,
   * bottom up, by compare-and-swap). The arena must be in concurrent mode (mt_arena_options.concurrent).
   * Heights then come from a per-thread generator, so seed no longer fixes the layout. An equal key inserted
   * by several threads at once is linked exactly once: the others get MT_EXISTS. */
  bool concurrent_inserts;
  /* Group links (default NULL: none). With same_group, each node records (8 more bytes per node) its group
   * link: the last node of its group that the writer knew of when it linked the node - its level-0
   * successor's group link, or that successor itself, when the successor is in its group; else none. A link
   * carries a 16-bit check of its address, so one damaged byte of it is never followed (readers treat it as no
   * link; validate reports it); a node outside the 48-bit address space gets none. Every
   * node between a node and its group link is in their group, whatever is inserted later (nothing can sort
   * between two keys of a run but a key of the run), so a reader passes a group of any size in about two
   * steps (mt_skiplist_iter_group_last, then next). Inserts cost one same_group call. */
  mt_skiplist_same_group_fn same_group;
} mt_skiplist_options;

#define MT_SKIPLIST_OPTIONS_INIT \
  {NULL, NULL, MT_SKIPLIST_DEFAULT_MAX_HEIGHT, MT_SKIPLIST_DEFAULT_BRANCHING, 0xdeadbeefu, false, false, NULL}

MT_API void mt_skiplist_options_init(mt_skiplist_options *options);

/* Creates an empty list whose header and nodes live in `arena` (which must outlive every use of the list;
 * destroying the arena frees the list, there is no separate destroy). On MT_OK *out is the list; otherwise
 * *out is NULL and the status says why: MT_INVALID_ARGUMENT (out, arena, options or compare NULL,
 * max_height or branching out of range, concurrent_inserts on an arena not in concurrent mode), or the
 * arena's MT_FULL / MT_NOMEM. */
MT_API mt_status mt_skiplist_try_create(mt_arena *arena, const mt_skiplist_options *options, mt_skiplist **out);

/* As mt_skiplist_try_create, returning the list, or NULL for any failure. */
MT_API mt_skiplist *mt_skiplist_create(mt_arena *arena, const mt_skiplist_options *options);

/* Reserves a node with room for a key of key_size bytes and stores in *key a pointer to those bytes,
 * for the caller to fill and then pass to mt_skiplist_insert_allocated (so the key is written once).
 * Writer only. MT_FULL / MT_NOMEM from the arena, MT_INVALID_ARGUMENT for NULL arguments or a key_size
 * above UINT32_MAX (whether or not sizes are recorded); on failure *key is NULL. A reserved node that is
 * never inserted is simply unused arena space. */
MT_API mt_status mt_skiplist_allocate_key(mt_skiplist *list, size_t key_size, char **key);

/* Links the node whose key buffer `key` came from mt_skiplist_allocate_key on this list, and publishes it
 * to readers. MT_EXISTS when an equal key is already present: nothing changed, and when the node is still
 * the arena's latest allocation it is given back (mt_arena_undo_last), so the arena's memory usage is as
 * before the reservation. MT_INVALID_ARGUMENT for NULL. Writer only. */
MT_API mt_status mt_skiplist_insert_allocated(mt_skiplist *list, char *key);

/* The most bytes mt_skiplist_allocate_key can take from the arena for a key of key_size bytes: a tower of
 * max_height links (the worst case: a node's height is drawn at random, 1 + 1/(branching - 1) links
 * expected), the recorded size (with record_key_size), the key, and the padding the arena may put before the
 * node to align its links (alignof a link - 1 bytes). Never exceeded; met only by a node of max_height
 * placed after an allocation that ends one byte past a link boundary. 0 for NULL or a key_size above
 * UINT32_MAX. Any thread. */
MT_API size_t mt_skiplist_node_size_bound(const mt_skiplist *list, size_t key_size);

/* The bytes the node of `key` (from mt_skiplist_allocate_key with key_size, not yet inserted) took: its
 * drawn tower, the recorded size, the key; not the padding before it. 0 for NULL. Writer only (the thread
 * that allocated it). */
MT_API size_t mt_skiplist_allocated_size(const mt_skiplist *list, const char *key, size_t key_size);

/* Gives back a node reserved by mt_skiplist_allocate_key and never inserted. MT_OK when it was still the
 * arena's latest allocation (with concurrent_inserts: the calling thread's) and went back: the arena is as
 * before the reservation (a block obtained for it freed), and a single writer's height draw is rewound.
 * MT_INVALID_STATE (not the latest) leaves it unused arena space; MT_INVALID_ARGUMENT for NULL. Writer only. */
MT_API mt_status mt_skiplist_release_allocated(mt_skiplist *list, char *key);

/* Copies key_size bytes of key into a new node and inserts it: allocate_key + memcpy + insert_allocated. */
MT_API mt_status mt_skiplist_insert(mt_skiplist *list, const void *key, size_t key_size);

/* True when a key equal to `key` is in the list. Any thread. */
MT_API bool mt_skiplist_contains(const mt_skiplist *list, const char *key);

/* Number of keys inserted (a relaxed read: may lag a concurrent writer). */
MT_API size_t mt_skiplist_count(const mt_skiplist *list);

/* Checks the structure: level 0 holds exactly count keys in strictly ascending order, every higher level's
 * chain is a non-empty subsequence of the level below, every link read lies inside the arena, and (with
 * record_key_size) so does every key. Without recorded sizes the skiplist cannot bound a key: key_ok, if
 * not NULL, is called on each key (before the key is compared) and should check that the bytes it
 * describes lie in the arena; a false answer stops the walk. With same_group, every group link passes its
 * check and names a later node of its node's group with only that group's nodes between (key_ok is called on
 * each target before it is read), in time linear in the nodes when a group's links share targets (as when its
 * nodes are inserted in order or in reverse), count log count at worst. Returns MT_OK or MT_CORRUPTION. Requires
 * the writer to be quiescent. */
MT_API mt_status mt_skiplist_validate(const mt_skiplist *list, bool (*key_ok)(void *ctx, const char *key),
                                      void *ctx);

/* A cursor over the list. It is a small value the caller owns (stack allocation is fine); its fields are
 * private. Any number of iterators may run concurrently with each other and with the writer. */
typedef struct mt_skiplist_iter {
  const mt_skiplist *list;
  const void *node; /* NULL when not valid */
} mt_skiplist_iter;

/* Positions nowhere (not valid) until a seek. Called on an iterator that is not valid (or NULL), key
 * returns NULL, key_size and height return 0, and next/prev do nothing: never a crash. */
MT_API void mt_skiplist_iter_init(mt_skiplist_iter *iter, const mt_skiplist *list);
MT_API bool mt_skiplist_iter_valid(const mt_skiplist_iter *iter);
/* The current key, valid while the arena lives. Requires valid. */
MT_API const char *mt_skiplist_iter_key(const mt_skiplist_iter *iter);
/* The size the current key was allocated with (key_size of mt_skiplist_allocate_key / insert): lets a
 * caller bound its decoding of the key's bytes without trusting them. 0 when the list was created without
 * record_key_size. Requires valid. */
MT_API size_t mt_skiplist_iter_key_size(const mt_skiplist_iter *iter);
/* The current node's tower height (1..max_height): heights are not stored, so this is a search for the
 * key, O(log n), meant for tests and diagnostics. A node whose insert is still linking its upper levels
 * may answer fewer. Requires valid. */
MT_API int mt_skiplist_iter_height(const mt_skiplist_iter *iter);
/* Moves the iterator to its node's group link (see same_group): the last node of the node's group that the
 * writer knew of when it linked the node; it stays put when the node has none, the list keeps no group
 * links, or the link fails its check (see same_group: the caller then passes the group by stepping, with the
 * same result). One load, no search. Every node it passes is in the group; nodes of the group linked later may lie
 * after the landing, so a caller that wants the first node past the group steps on (and may jump again)
 * until it leaves the group. Does nothing on an iterator that is not valid. */
MT_API void mt_skiplist_iter_group_last(mt_skiplist_iter *iter);
/* Advance / step back. Require valid; stepping past either end leaves the iterator not valid. */
MT_API void mt_skiplist_iter_next(mt_skiplist_iter *iter);
MT_API void mt_skiplist_iter_prev(mt_skiplist_iter *iter);
/* First key >= target. */
MT_API void mt_skiplist_iter_seek(mt_skiplist_iter *iter, const char *target);
/* As seek, and *predecessor (not NULL) is set, by the same search, to the last key < target (not valid when
 * there is none): the two keys around the gap target falls in, for a caller that must check both (the
 * memtable verifies the predecessor's checksum, so a damaged key that sorts wrongly cannot hide). Costs a
 * few more comparisons than seek when target is in the list. */
MT_API void mt_skiplist_iter_seek_with_predecessor(mt_skiplist_iter *iter, const char *target,
                                                   mt_skiplist_iter *predecessor);
/* Last key <= target. */
MT_API void mt_skiplist_iter_seek_for_prev(mt_skiplist_iter *iter, const char *target);
MT_API void mt_skiplist_iter_seek_to_first(mt_skiplist_iter *iter);
MT_API void mt_skiplist_iter_seek_to_last(mt_skiplist_iter *iter);

#ifdef __cplusplus
}
#endif

#endif
