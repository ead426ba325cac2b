/* The user view at a snapshot: each user key once, with its newest visible value. See
 * include/memtable/memtable.h.
 *
 * A concurrent writer may link new versions of any key, or new keys, anywhere while the view moves, so
 * nothing here assumes that one step (or one seek and one step) leaves a key: each pass over a key's
 * versions steps until it meets another user key.
 */
#include <limits.h>

#include "memtable/cursor.h"
#include "memtable/memtable_internal.h"

/* The user view passes over versions it does not return. A step forward follows one link, a step back
 * is a search (the list has no back links); after table->max_sequential_skip steps over one key's hidden
 * versions it searches past the rest instead (RocksDB's max_sequential_skip_in_iterations). Without memory
 * for a long key's lookup key it keeps stepping. While the cursor's scan walker streams in the step's
 * direction a step costs a fraction of a miss and the search several (and it drops the walker), so the view
 * steps on there, but only for STREAMING_SKIP_STEPS steps more: past that it searches, as a key with a long
 * chain of versions would otherwise be walked whole (memtable-bench readversions_skip), and the walker is
 * held (view_searched_past) until the view has again made more steps in a row than it makes between two such
 * searches. */
#define STREAMING_SKIP_STEPS 24u

static inline unsigned saturating_add(unsigned a, unsigned b) { return a > UINT_MAX - b ? UINT_MAX : a + b; }

static inline bool skip_due(const mt_memtable *table, const entry_cursor *cursor, bool forward, unsigned steps) {
  if (table->max_sequential_skip == MT_MEMTABLE_SKIP_NEVER || steps < table->max_sequential_skip) return false;
  if (cursor->readahead == NULL || !mti_readahead_streaming(cursor->readahead, forward)) return true;
  return steps >= saturating_add(table->max_sequential_skip, STREAMING_SKIP_STEPS);
}

/* After a skip search: the walker arms again only after more plain steps in a row than the view makes between
 * two skip searches (at most max_sequential_skip), so on keys that each need one it stays off instead of
 * arming for a few steps and running ahead over versions the next search passes. */
static inline void view_searched_past(const mt_memtable *table, entry_cursor *cursor) {
  if (cursor->readahead != NULL) mti_readahead_hold(cursor->readahead, saturating_add(table->max_sequential_skip, 2));
}

/* From a version of the cursor's user key newer than the snapshot: forward to the key's newest visible
 * version, or past the key when it has none. Returns the load status where the cursor stops. */
static mt_status cursor_forward_to_visible(const mt_memtable *table, entry_cursor *cursor, uint64_t snapshot_seq) {
  mt_slice user_key = cursor->entry.user_key; /* arena bytes: outlive the cursor's moves */
  bool may_seek = true;
  for (unsigned steps = 0;; steps++) {
    mt_status status;
    if (may_seek && skip_due(table, cursor, true, steps)) {
      /* The first entry at or after (key, snapshot) is the answer whatever was linked meanwhile. */
      status = mti_cursor_seek(&table->view, cursor, user_key, snapshot_seq, false);
      view_searched_past(table, cursor);
      if (status != MT_NOMEM) return status;
      may_seek = false;
    }
    status = mti_cursor_step(&table->view, cursor, true);
    if (status != MT_OK || cursor->entry.seq <= snapshot_seq ||
        !mti_cursor_at_user_key(&table->view, cursor, user_key)) {
      return status;
    }
  }
}

/* Forward past the remaining versions of the cursor's user key. With version links, passes of the versions
 * each entry knew of (mti_cursor_step_past_versions) until another key is met: no search. Without, one search
 * at most: after it, steps only, so even a damaged order cannot send the walk round in circles. */
static mt_status cursor_forward_past_user_key(const mt_memtable *table, entry_cursor *cursor) {
  mt_slice user_key = cursor->entry.user_key;
  if (table_has_version_links(&table->view)) {
    for (;;) {
      mt_status status = mti_cursor_step_past_versions(&table->view, cursor);
      if (status != MT_OK || !mti_cursor_at_user_key(&table->view, cursor, user_key)) return status;
    }
  }
  bool may_seek = true;
  for (unsigned steps = 0;; steps++) {
    if (may_seek && skip_due(table, cursor, true, steps)) {
      may_seek = false;
      /* (key, 0) sorts after every version but one with seq 0: land on that or past the key. Even then the
       * steps go on until the key is left (a version may have been linked after the landing meanwhile). */
      mt_status status = mti_cursor_seek(&table->view, cursor, user_key, 0, false);
      view_searched_past(table, cursor);
      if (status != MT_NOMEM && (status != MT_OK || !mti_cursor_at_user_key(&table->view, cursor, user_key)))
        return status;
    }
    mt_status status = mti_cursor_step(&table->view, cursor, true);
    if (status != MT_OK || !mti_cursor_at_user_key(&table->view, cursor, user_key)) return status;
  }
}

/* Back past the remaining versions of the cursor's user key, to the previous key's last entry; steps_taken
 * counts steps already spent on this key. One search at most, as above. */
static mt_status cursor_back_past_user_key(const mt_memtable *table, entry_cursor *cursor, unsigned steps_taken) {
  mt_slice user_key = cursor->entry.user_key;
  bool may_seek = true;
  for (unsigned steps = steps_taken;; steps++) {
    if (may_seek && skip_due(table, cursor, false, steps)) {
      may_seek = false;
      /* The last entry at or before (key, MAX_SEQUENCE): before every version of the key but one with that
       * sequence number (then the steps below pass it). A writer may link entries around the landing
       * meanwhile; those before the key are simply not part of this pass. */
      mt_status status = mti_cursor_seek(&table->view, cursor, user_key, MT_MAX_SEQUENCE, true);
      view_searched_past(table, cursor);
      if (status != MT_NOMEM && (status != MT_OK || !mti_cursor_at_user_key(&table->view, cursor, user_key)))
        return status;
    }
    mt_status status = mti_cursor_step(&table->view, cursor, false);
    if (status != MT_OK || !mti_cursor_at_user_key(&table->view, cursor, user_key)) return status;
  }
}

struct mt_memtable_user_iter {
  mt_memtable *table;
  uint64_t snapshot_seq;
  entry_cursor cursor; /* when valid: the newest visible entry of the current user key */
  bool valid;
  mt_status status;
};

mt_memtable_user_iter *mt_memtable_user_iter_create(mt_memtable *table, uint64_t snapshot_seq) {
  if (table == NULL) return NULL;
  mt_memtable_user_iter *iter = mti_reader_alloc(&table->view, sizeof(*iter));
  if (iter == NULL) return NULL;
  mt_memtable_ref(table);
  iter->table = table;
  iter->snapshot_seq = snapshot_seq > MT_MAX_SEQUENCE ? MT_MAX_SEQUENCE : snapshot_seq;
  mti_cursor_init(&table->view, &iter->cursor);
  iter->valid = false;
  iter->status = MT_OK;
  return iter;
}

void mt_memtable_user_iter_destroy(mt_memtable_user_iter *iter) {
  if (iter == NULL) return;
  mt_memtable *table = iter->table;
  mti_cursor_release(&table->view, &iter->cursor);
  mti_reader_free(&table->view, iter, sizeof(*iter));
  mt_memtable_unref(table);
}

bool mt_memtable_user_iter_valid(const mt_memtable_user_iter *iter) { return iter != NULL && iter->valid; }

/* As in memtable_iter.c: validity tested inline, not through the exported function. */
static inline bool user_iter_is_valid(const mt_memtable_user_iter *iter) { return iter != NULL && iter->valid; }

static void user_iter_stop(mt_memtable_user_iter *iter, mt_status load_status) {
  iter->valid = false;
  if (load_status != MT_OK && load_status != MT_NOT_FOUND) iter->status = load_status;
}

/* Moving forward from a key's first entry (or its first version visible at the snapshot), the first visible
 * version met is the key's newest visible one. */
static void user_iter_find_forward(mt_memtable_user_iter *iter, mt_status load_status) {
  entry_cursor *cursor = &iter->cursor;
  while (load_status == MT_OK) {
    if (cursor->entry.seq > iter->snapshot_seq) {
      load_status = cursor_forward_to_visible(iter->table, cursor, iter->snapshot_seq);
    } else if (cursor->entry.type == MT_TYPE_VALUE) {
      iter->valid = true;
      return;
    } else {
      load_status = cursor_forward_past_user_key(iter->table, cursor);
    }
  }
  user_iter_stop(iter, load_status);
}

/* Moving backward from a key's last entry, the visible version closest to the front is the newest visible
 * one: a few versions are stepped over, remembering the last visible one met; past that, one seek finds
 * it, and when it is not a value the key is passed by cursor_back_past_user_key. */
static void user_iter_find_backward(mt_memtable_user_iter *iter, mt_status load_status) {
  const mt_memtable *table = iter->table;
  entry_cursor *cursor = &iter->cursor;
  while (load_status == MT_OK) {
    mt_slice user_key = cursor->entry.user_key;
    entry_cursor newest_visible = *cursor;
    bool found = false;
    bool searched = false;
    for (unsigned steps = 1;; steps++) {
      if (cursor->entry.seq <= iter->snapshot_seq) {
        newest_visible = *cursor;
        found = true;
      }
      load_status = mti_cursor_step(&table->view, cursor, false);
      if (load_status != MT_OK || !mti_cursor_at_user_key(&table->view, cursor, user_key)) break;
      if (!searched && skip_due(table, cursor, false, steps)) {
        searched = true; /* once: after a failed search (MT_NOMEM) it steps on */
        entry_cursor probe = *cursor;
        mt_status status = mti_cursor_seek(&table->view, &probe, user_key, iter->snapshot_seq, false);
        view_searched_past(table, cursor);
        if (status == MT_CORRUPTION) {
          load_status = status;
          break;
        }
        if (status == MT_OK && mti_cursor_at_user_key(&table->view, &probe, user_key)) {
          newest_visible = probe;
          found = true;
          /* The answer: the next prev steps back from it (one search lands before the key's versions). */
          if (probe.entry.type == MT_TYPE_VALUE) break;
        }
        if (status != MT_NOMEM) {
          load_status = cursor_back_past_user_key(table, cursor, steps);
          break;
        }
      }
    }
    if (load_status == MT_CORRUPTION) break;
    if (found && newest_visible.entry.type == MT_TYPE_VALUE) {
      *cursor = newest_visible;
      iter->valid = true;
      return;
    }
  }
  user_iter_stop(iter, load_status);
}

void mt_memtable_user_iter_seek_to_first(mt_memtable_user_iter *iter) {
  if (iter == NULL) return;
  iter->status = MT_OK;
  iter->valid = false;
  mt_skiplist_iter_seek_to_first(&iter->cursor.position);
  mti_cursor_scan_from(&iter->cursor, true, table_has_version_links(&iter->table->view));
  user_iter_find_forward(iter, mti_cursor_load(&iter->table->view, &iter->cursor));
}

void mt_memtable_user_iter_seek_to_last(mt_memtable_user_iter *iter) {
  if (iter == NULL) return;
  iter->status = MT_OK;
  iter->valid = false;
  mt_skiplist_iter_seek_to_last(&iter->cursor.position);
  mti_cursor_scan_from(&iter->cursor, false, false);
  user_iter_find_backward(iter, mti_cursor_load(&iter->table->view, &iter->cursor));
}

void mt_memtable_user_iter_seek(mt_memtable_user_iter *iter, const void *key, size_t key_len) {
  if (iter == NULL) return;
  iter->status = MT_OK;
  iter->valid = false;
  /* (key, snapshot) sorts just before the key's newest visible version. */
  mt_slice target = {key, key_len};
  user_iter_find_forward(iter, mti_cursor_seek(&iter->table->view, &iter->cursor, target, iter->snapshot_seq, false));
}

void mt_memtable_user_iter_seek_for_prev(mt_memtable_user_iter *iter, const void *key, size_t key_len) {
  if (iter == NULL) return;
  iter->status = MT_OK;
  iter->valid = false;
  /* (key, 0) sorts at or after every version of the key: land on its oldest entry. */
  mt_slice target = {key, key_len};
  user_iter_find_backward(iter, mti_cursor_seek(&iter->table->view, &iter->cursor, target, 0, true));
}

void mt_memtable_user_iter_next(mt_memtable_user_iter *iter) {
  if (!user_iter_is_valid(iter)) return;
  iter->valid = false;
  user_iter_find_forward(iter, cursor_forward_past_user_key(iter->table, &iter->cursor));
}

void mt_memtable_user_iter_prev(mt_memtable_user_iter *iter) {
  if (!user_iter_is_valid(iter)) return;
  iter->valid = false;
  user_iter_find_backward(iter, cursor_back_past_user_key(iter->table, &iter->cursor, 0));
}

static const mt_slice empty_slice = {"", 0};

mt_slice mt_memtable_user_iter_key(const mt_memtable_user_iter *iter) {
  return user_iter_is_valid(iter) ? iter->cursor.entry.user_key : empty_slice;
}

mt_slice mt_memtable_user_iter_value(const mt_memtable_user_iter *iter) {
  return user_iter_is_valid(iter) ? iter->cursor.entry.value : empty_slice;
}

uint64_t mt_memtable_user_iter_seq(const mt_memtable_user_iter *iter) {
  return user_iter_is_valid(iter) ? iter->cursor.entry.seq : 0;
}

mt_status mt_memtable_user_iter_status(const mt_memtable_user_iter *iter) {
  return iter == NULL ? MT_INVALID_ARGUMENT : iter->status;
}
