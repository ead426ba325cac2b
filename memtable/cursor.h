/* memtable/cursor.h - private to the memtable layer: the entry cursor (a skiplist position and the entry
 * decoded there) that gets, the internal-key iterator and the user view share, over a table's read-only view
 * (entry_format.h).
 *
 * Reading with checksums: every entry a reader returns or decides by is checked against its recorded size
 * and checksum, and every search also checks the entry on the other side of the gap it lands in (the
 * level-0 predecessor of a forward landing, the successor of a backward one). A damaged key, length or
 * sequence byte can only make an entry sort in the wrong place, and a search that is misled by it ends
 * next to it: so a single damaged entry is reported (MT_CORRUPTION) instead of changing an answer. A version
 * link is followed only when its own check passes and it lands on an older version of the same key
 * (cursor_scan.c).
 */
#ifndef MEMTABLE_CURSOR_H
#define MEMTABLE_CURSOR_H

#include <stdbool.h>

#include <memtable/memtable.h>
#include <memtable/skiplist.h>

#include "memtable/entry_format.h"
#include "memtable/skiplist/skiplist_inline.h"
#include "memtable/skiplist/skiplist_readahead.h"

/* A skiplist position and the entry decoded there. */
typedef struct entry_cursor {
  mt_skiplist_iter position;
  mt_entry entry;
  size_t entry_len; /* the raw entry, checksum excluded */
  /* The iterator's scan walker (cursor_scan.c), or NULL (get, no readahead, no memory for it). Copies of a
   * cursor share it: it keys everything on the node it is asked to step from, so a copy's moves or seeks
   * cost speed (a plain walk until it re-arms), never a wrong step. */
  skiplist_readahead *readahead;
} entry_cursor;

static inline bool mti_cursor_at_user_key(const mti_view *view, const entry_cursor *cursor, mt_slice user_key) {
  return user_keys_equal(view, cursor->entry.user_key.data, cursor->entry.user_key.len, user_key.data, user_key.len);
}

/* The mti_cursor_load of tables with checksums: bounded by the recorded size. Out of line, so that the path
 * without checksums keeps no registers for a call it never makes (the hash dominates here anyway). */
mt_status mti_cursor_load_checked(const mti_view *view, entry_cursor *cursor);

/* The mti_cursor_load of tables without checksums: the entry's own lengths delimit it. */
static inline mt_status mti_cursor_load_self_delimited(entry_cursor *cursor) {
  const char *stored = skiplist_iter_key_inline(&cursor->position);
  if (stored == NULL) return MT_NOT_FOUND;
  return entry_decode_self_delimited(stored, &cursor->entry, &cursor->entry_len) ? MT_OK : MT_CORRUPTION;
}

/* Decodes the entry at the cursor: MT_OK, MT_NOT_FOUND past either end, MT_CORRUPTION for bad bytes
 * (with checksums: anything that fails them; without: a bad type or internal length). */
static inline mt_status mti_cursor_load(const mti_view *view, entry_cursor *cursor) {
  return view->checksum_bytes == 0 ? mti_cursor_load_self_delimited(cursor) : mti_cursor_load_checked(view, cursor);
}

/* One step back and its load; with checksums the entry between the new position and the one left (if a
 * writer linked one there meanwhile, or a damaged entry sorted itself out of the search's way) is checked. */
mt_status mti_cursor_step_back(const mti_view *view, entry_cursor *cursor);

/* A cursor of a get or a check: positioned nowhere, with no scan walker. Every cursor that is not an
 * iterator's (mti_cursor_init) starts here. */
static inline void mti_cursor_init_plain(const mti_view *view, entry_cursor *cursor) {
  mt_skiplist_iter_init(&cursor->position, view->list);
  cursor->readahead = NULL;
}

/* An iterator's cursor: positioned nowhere, with a scan walker from the reader allocator when the table has
 * readahead and the memory is there (without it, steps are plain). mti_cursor_release gives the walker back. */
void mti_cursor_init(const mti_view *view, entry_cursor *cursor);
void mti_cursor_release(const mti_view *view, entry_cursor *cursor);

/* Starts the scan walker at the cursor's entry at once (after seek_to_first / seek_to_last): a whole scan
 * is likely; with groups (forward, a table with version links), one that passes whole user keys. */
void mti_cursor_scan_from(entry_cursor *cursor, bool forward, bool groups);

/* True when the table has version links (options.version_links): each entry may link to the last version of
 * its user key known when it was added. */
static inline bool table_has_version_links(const mti_view *view) { return skiplist_has_group_links(view->list); }

/* With version links: forward past the versions of the cursor's user key that its entry knew of, to the entry
 * after them, and loads it: the scan walker's answer (it walks whole keys) or the entry's version link and
 * one step. An entry with no link steps once. A version linked after that landing may follow it (the caller
 * passes again while it meets its key). MT_NOT_FOUND when the cursor was not on an entry; MT_CORRUPTION when the
 * link fails its check or does not land on an older version of the key (cursor_scan.c). */
mt_status mti_cursor_step_past_versions(const mti_view *view, entry_cursor *cursor);

/* mti_cursor_step through the scan walker: the walker's node when it has one (checked by the load like any
 * other; backward, its level-0 successor was the entry just left, so the successor check has nothing to add),
 * else the plain step. */
mt_status mti_cursor_step_scanning(const mti_view *view, entry_cursor *cursor, bool forward);

/* One step in either direction and the load there; MT_NOT_FOUND when the cursor was not on an entry. */
static inline mt_status mti_cursor_step(const mti_view *view, entry_cursor *cursor, bool forward) {
  if (skiplist_iter_key_inline(&cursor->position) == NULL) return MT_NOT_FOUND;
  if (cursor->readahead != NULL) return mti_cursor_step_scanning(view, cursor, forward);
  if (!forward) return mti_cursor_step_back(view, cursor);
  skiplist_iter_next_inline(&cursor->position);
  return mti_cursor_load(view, cursor);
}

/* Positions the cursor on the first entry at or after (user_key, seq) in internal-key order (for_prev:
 * the last at or before it) and loads it (and resets the scan walker: steps are plain again for a while); seq above MT_MAX_SEQUENCE is clamped. MT_INVALID_ARGUMENT (NULL
 * key data with a length, key too long) or MT_NOMEM (a long key's lookup key) leave the cursor unchanged. */
mt_status mti_cursor_seek(const mti_view *view, entry_cursor *cursor, mt_slice user_key, uint64_t seq, bool for_prev);

/* Loads the entry a forward search landed on (cursor->position) as mti_cursor_seek does after its search: with
 * checksums, predecessor (the level-0 node before the landing, not valid: none) must pass its checks too.
 * For searches made elsewhere (mt_memtable_get_batch's interleaved ones). */
mt_status mti_cursor_load_landing(const mti_view *view, entry_cursor *cursor, const mt_skiplist_iter *predecessor);

/* mt_memtable_get_entry's answer from the mti_cursor_seek(user_key, snapshot_seq) that gave `status`. */
static inline mt_status get_answer(const mti_view *view, const entry_cursor *cursor, mt_status status,
                                   mt_slice user_key, uint64_t snapshot_seq, mt_entry *found) {
  if (status != MT_OK) return status;
  const mt_entry *entry = &cursor->entry;
  if (!mti_cursor_at_user_key(view, cursor, user_key)) return MT_NOT_FOUND;
  /* The seek lands at or after (key, snapshot): a newer entry of the same key here means broken order. */
  if (entry->seq > snapshot_seq) return MT_CORRUPTION;
  if (found != NULL) *found = *entry;
  return entry->type == MT_TYPE_DELETION ? MT_DELETED : MT_OK;
}

/* Allocation from the reader allocator (any thread). */
void *mti_reader_alloc(const mti_view *view, size_t size);
void mti_reader_free(const mti_view *view, void *ptr, size_t size);

#endif
