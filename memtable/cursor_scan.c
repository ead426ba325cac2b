/* Scans through the skiplist's readahead walker (memtable/skiplist/skiplist_readahead.h): the iterators' cursors step
 * through it, so a scan keeps several cache misses in flight and a backward scan needs no search per step.
 *
 * Checksums: every entry the walker hands over is loaded with mti_cursor_load, so it is checked like any other.
 * A backward step normally also checks the level-0 successor of where its search landed (mti_cursor_step_back),
 * because a damaged key could make the search skip an entry. The walker makes no search between entries:
 * it answers only when its node's level-0 successor is, at that moment, the entry the cursor is leaving
 * (already checked), so nothing can hide in between, and an entry linked there meanwhile is seen as a
 * plain step would see it.
 */
#include "memtable/cursor.h"

/* The walker's allocation, its buffer included. */
static size_t walker_bytes(const mti_view *view) {
  return mti_readahead_bytes(view->scan_readahead_segments, view->scan_readahead_segment_nodes);
}

void mti_cursor_init(const mti_view *view, entry_cursor *cursor) {
  mt_skiplist_iter_init(&cursor->position, view->list);
  cursor->readahead = NULL;
  if (view->scan_readahead_segments == 0) return;
  void *memory = mti_reader_alloc(view, walker_bytes(view));
  if (memory == NULL) return; /* documented: the iterator walks plainly */
  /* With checksums a node's key may be damaged, and the walker's searches go by its nodes' keys. */
  mt_skiplist_compare_fn search_compare = view->checksum_bytes != 0 ? mti_entry_compare_stored_checked : NULL;
  cursor->readahead = mti_readahead_init(memory, view->list, view->scan_readahead_segments,
                                         view->scan_readahead_segment_nodes, search_compare, (void *)(uintptr_t)view);
}

void mti_cursor_release(const mti_view *view, entry_cursor *cursor) {
  if (cursor->readahead == NULL) return;
  mti_reader_free(view, cursor->readahead, walker_bytes(view));
  cursor->readahead = NULL;
}

void mti_cursor_scan_from(entry_cursor *cursor, bool forward, bool groups) {
  if (cursor->readahead == NULL) return;
  mti_readahead_reset(cursor->readahead);
  mti_readahead_arm(cursor->readahead, skiplist_iter_key_inline(&cursor->position), forward, groups);
}

/* Moves the cursor to `last`, the version link of its entry, and checks the landing before anything is passed on
 * its word: an entry (with checksums: one that passes them) of the same user key and an older sequence number,
 * so it sorts after the cursor's entry and every entry between them is a hidden version of the key. The link's
 * own check already refuses one damaged byte; this refuses what that check lets through (a link damaged in
 * several bytes that still names an entry). MT_CORRUPTION when the landing fails. */
static mt_status cursor_land_on_version(const mti_view *view, entry_cursor *cursor, const char *last) {
  mt_slice user_key = cursor->entry.user_key;
  uint64_t seq = cursor->entry.seq;
  skiplist_iter_set_key(&cursor->position, last);
  mt_status status = mti_cursor_load(view, cursor);
  if (status != MT_OK || cursor->entry.seq >= seq || !mti_cursor_at_user_key(view, cursor, user_key))
    return MT_CORRUPTION;
  return MT_OK;
}

mt_status mti_cursor_step_past_versions(const mti_view *view, entry_cursor *cursor) {
  const char *current = skiplist_iter_key_inline(&cursor->position);
  if (current == NULL) return MT_NOT_FOUND;
  const char *next;
  if (cursor->readahead != NULL && mti_readahead_step_past_group(cursor->readahead, current, &next)) {
    skiplist_iter_set_key(&cursor->position, next);
    return mti_cursor_load(view, cursor);
  }
  const skiplist_node *last;
  if (!skiplist_node_group_link(view->list, skiplist_iter_node(&cursor->position), &last)) return MT_CORRUPTION;
  if (last != NULL) {
    mt_status status = cursor_land_on_version(view, cursor, skiplist_node_key(last));
    if (status != MT_OK) return status;
  }
  skiplist_iter_next_inline(&cursor->position);
  return mti_cursor_load(view, cursor);
}

mt_status mti_cursor_step_scanning(const mti_view *view, entry_cursor *cursor, bool forward) {
  const char *next;
  if (mti_readahead_step(cursor->readahead, skiplist_iter_key_inline(&cursor->position), forward, &next)) {
    skiplist_iter_set_key(&cursor->position, next);
    return mti_cursor_load(view, cursor);
  }
  if (!forward) return mti_cursor_step_back(view, cursor);
  skiplist_iter_next_inline(&cursor->position);
  return mti_cursor_load(view, cursor);
}
