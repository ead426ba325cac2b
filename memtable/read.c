/* The read path: get and get_entry (get_batch: read_batch.c). See include/memtable/memtable.h.
 *
 * A get asks the point index first (when the table has one), then the bloom filter, then searches the
 * skiplist for (key, snapshot): the first entry at or after it is the key's newest visible version, if the key
 * has one.
 */
#include "memtable/cursor.h"
#include "memtable/memtable_internal.h"

/* Older versions a get steps through from the newest the point index names before it searches the skiplist
 * instead (as the user view's max_sequential_skip): a key overwritten many times costs a search at an old
 * snapshot, not a walk. */
#define MAX_VERSION_STEPS 8u

/* The index matches user keys by their bytes (see options.point_index). */
static inline bool bytes_equal(mt_slice a, mt_slice b) {
  return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

/* From the key's newest version, the newest at or below the snapshot: a few steps, then one search. */
bool mti_memtable_indexed_get(const mt_memtable *table, mt_slice key, uint64_t hash, uint64_t snapshot_seq,
                              mt_entry *found, mt_status *status) {
  const mti_view *view = &table->view;
  entry_cursor cursor;
  mti_cursor_init_plain(view, &cursor);
  const char *node;
  switch (mti_point_index_find(table->point_index, view, key.data, key.len, hash, &node, &cursor.entry,
                               &cursor.entry_len)) {
    case MTI_INDEX_UNKNOWN: return false;
    case MTI_INDEX_ABSENT: *status = MT_NOT_FOUND; return true;
    case MTI_INDEX_DAMAGED: *status = MT_CORRUPTION; return true;
    case MTI_INDEX_FOUND: break;
  }
  skiplist_iter_set_key(&cursor.position, node);
  *status = MT_OK;
  for (unsigned steps = 0; *status == MT_OK && cursor.entry.seq > snapshot_seq; steps++) {
    if (steps == MAX_VERSION_STEPS) {
      *status =
          get_answer(view, &cursor, mti_cursor_seek(view, &cursor, key, snapshot_seq, false), key, snapshot_seq, found);
      return true;
    }
    *status = mti_cursor_step(view, &cursor, true);
    /* MT_NOT_FOUND at the end, or MT_CORRUPTION */
    if (*status == MT_OK && !bytes_equal(cursor.entry.user_key, key)) {
      *status = MT_NOT_FOUND;
    }
  }
  if (*status != MT_OK) return true;
  if (found != NULL) *found = cursor.entry;
  *status = cursor.entry.type == MT_TYPE_DELETION ? MT_DELETED : MT_OK;
  return true;
}

mt_status mt_memtable_get_entry(const mt_memtable *table, const void *key, size_t key_len, uint64_t snapshot_seq,
                                mt_entry *found) {
  if (table == NULL || (key == NULL && key_len != 0) || key_len > MT_MAX_KEY_LEN) return MT_INVALID_ARGUMENT;
  if (snapshot_seq > MT_MAX_SEQUENCE) snapshot_seq = MT_MAX_SEQUENCE;
  uint64_t hash = memtable_key_hash(table, key, key_len);
  mt_slice target = {key, key_len};
  mt_status answer;
  if (table->point_index != NULL && mti_memtable_indexed_get(table, target, hash, snapshot_seq, found, &answer))
    return answer;
  if (!mti_bloom_may_contain(&table->bloom, hash)) return MT_NOT_FOUND;

  entry_cursor cursor;
  mti_cursor_init_plain(&table->view, &cursor);
  /* The first entry at or after (key, snapshot): the key's newest visible version if it has one. */
  mt_status status = mti_cursor_seek(&table->view, &cursor, target, snapshot_seq, false);
  return get_answer(&table->view, &cursor, status, target, snapshot_seq, found);
}

mt_status mt_memtable_get(const mt_memtable *table, const void *key, size_t key_len, uint64_t snapshot_seq,
                          mt_slice *value) {
  mt_entry found;
  mt_status status = mt_memtable_get_entry(table, key, key_len, snapshot_seq, &found);
  if (status == MT_OK && value != NULL) *value = found.value;
  return status;
}
