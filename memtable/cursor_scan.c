/* Scans through the skiplist's readahead walker (memtable/skiplist_readahead.h): the iterators' cursors step
 * through it, so a scan keeps several cache misses in flight and a backward scan needs no search per step.
 *
 * Checksums: every entry the walker hands over is loaded with cursor_load, so it is checked like any other.
 * A backward step normally also checks the level-0 successor of where its search landed (cursor_step_back),
 * because a damaged key could make the search skip an entry. The walker makes no search between entries:
 * it answers only when its node's level-0 successor is, at that moment, the entry the cursor is leaving
 * (already checked), so nothing can hide in between, and an entry linked there meanwhile is seen as a
 * plain step would see it.
 */
#include "memtable/memtable_internal.h"

/* The walker's buffer, which follows it in the one allocation. */
static size_t walker_buffer_bytes(const mt_memtable *table) {
  return skiplist_readahead_buffer_bytes(table->scan_readahead_segments, table->scan_readahead_segment_nodes);
}

void cursor_init(const mt_memtable *table, entry_cursor *cursor) {
  mt_skiplist_iter_init(&cursor->position, table->list);
  cursor->readahead = NULL;
  if (table->scan_readahead_segments == 0) return;
  skiplist_readahead *walker = memtable_reader_alloc(table, sizeof(*walker) + walker_buffer_bytes(table));
  if (walker == NULL) return; /* documented: the iterator walks plainly */
  /* With checksums a node's key may be damaged, and the walker's searches go by its nodes' keys. */
  mt_skiplist_compare_fn search_compare = table->checksum_bytes != 0 ? memtable_compare_stored_checked : NULL;
  skiplist_readahead_init(walker, table->list, table->scan_readahead_segments, table->scan_readahead_segment_nodes,
                          search_compare, (void *)(uintptr_t)table, walker + 1);
  cursor->readahead = walker;
}

void cursor_release(const mt_memtable *table, entry_cursor *cursor) {
  if (cursor->readahead == NULL) return;
  memtable_reader_free(table, cursor->readahead, sizeof(*cursor->readahead) + walker_buffer_bytes(table));
  cursor->readahead = NULL;
}

void cursor_scan_from(entry_cursor *cursor, bool forward, bool groups) {
  if (cursor->readahead == NULL) return;
  skiplist_readahead_reset(cursor->readahead);
  skiplist_readahead_arm(cursor->readahead, skiplist_iter_key_inline(&cursor->position), forward, groups);
}

/* Moves the cursor to `last`, the version link of its entry, and checks the landing before anything is passed on
 * its word: an entry (with checksums: one that passes them) of the same user key and an older sequence number,
 * so it sorts after the cursor's entry and every entry between them is a hidden version of the key. The link's
 * own check already refuses one damaged byte; this refuses what that check lets through (a link damaged in
 * several bytes that still names an entry). MT_CORRUPTION when the landing fails. */
static mt_status cursor_land_on_version(const mt_memtable *table, entry_cursor *cursor, const char *last) {
  mt_slice user_key = cursor->entry.user_key;
  uint64_t seq = cursor->entry.seq;
  skiplist_iter_set_key(&cursor->position, last);
  mt_status status = cursor_load(table, cursor);
  if (status != MT_OK || cursor->entry.seq >= seq || !cursor_at_user_key(table, cursor, user_key)) return MT_CORRUPTION;
  return MT_OK;
}

mt_status cursor_step_past_versions(const mt_memtable *table, entry_cursor *cursor) {
  const char *current = skiplist_iter_key_inline(&cursor->position);
  if (current == NULL) return MT_NOT_FOUND;
  const char *next;
  if (cursor->readahead != NULL && skiplist_readahead_step_past_group(cursor->readahead, current, &next)) {
    skiplist_iter_set_key(&cursor->position, next);
    return cursor_load(table, cursor);
  }
  const skiplist_node *last;
  if (!skiplist_node_group_link(table->list, skiplist_iter_node(&cursor->position), &last)) return MT_CORRUPTION;
  if (last != NULL) {
    mt_status status = cursor_land_on_version(table, cursor, skiplist_node_key(last));
    if (status != MT_OK) return status;
  }
  skiplist_iter_next_inline(&cursor->position);
  return cursor_load(table, cursor);
}

mt_status cursor_step_scanning(const mt_memtable *table, entry_cursor *cursor, bool forward) {
  const char *next;
  if (skiplist_readahead_step(cursor->readahead, skiplist_iter_key_inline(&cursor->position), forward, &next)) {
    skiplist_iter_set_key(&cursor->position, next);
    return cursor_load(table, cursor);
  }
  if (!forward) return cursor_step_back(table, cursor);
  skiplist_iter_next_inline(&cursor->position);
  return cursor_load(table, cursor);
}
